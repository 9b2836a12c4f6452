//! The one HTTP port. Every request is classified once (see [`classify`]), given a
//! [`RequestContext`] (region and access key from the SigV4 credential scope, source IP, request
//! id), and handed to its service's wire-protocol layer. Services never see the socket; the
//! gateway never sees service state.
//!
//! **Invariant:** the gateway holds no lock and no service logic; it routes and renders.

pub mod chunked;
pub mod classify;
pub mod render;
pub mod s3edge;
pub mod sigv4;

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};
use futures::{Stream, StreamExt};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use lb_core::deliver::Dispatcher;
use lb_core::{AwsError, RequestContext};
use tracing::{debug, warn};
use warp::Filter;

use crate::classify::{Protocol, Service};

/// The largest object a single PUT (or part) may carry: 5 GiB.
pub const MAX_OBJECT_SIZE: usize = 5 * 1024 * 1024 * 1024;
/// The largest request body accepted for S3 (a 5 GiB single PUT plus aws-chunked framing).
pub const MAX_S3_BODY: usize = 5 * 1024 * 1024 * 1024 + 64 * 1024 * 1024;
/// The largest request body accepted for the other services (their own limits are far lower).
pub const MAX_API_BODY: usize = 16 * 1024 * 1024;

/// Everything the gateway routes to.
pub struct Gateway {
    pub s3: s3s::service::S3Service,
    pub sqs: Arc<lb_sqs::Sqs>,
    pub dispatcher: Dispatcher,
    pub started: Instant,
}

/// Serves `gateway` on `listener` until `shutdown` resolves, then drains in-flight requests.
pub async fn serve<F>(listener: tokio::net::TcpListener, gateway: Arc<Gateway>, shutdown: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    let route = warp::any()
        .and(warp::method())
        .and(warp::path::full())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::headers_cloned())
        .and(warp::addr::remote())
        .and(warp::body::stream())
        .then(
            move |method, path: warp::path::FullPath, query, headers, remote, body| {
                let gateway = Arc::clone(&gateway);
                async move {
                    let req = Incoming {
                        method,
                        path: path.as_str().to_owned(),
                        query,
                        headers,
                        remote,
                    };
                    let resp = handle(&gateway, req, body).await;
                    let (parts, body) = resp.into_parts();
                    warp::reply::Response::from_parts(parts, body.into())
                }
            },
        );
    warp::serve(route).incoming(listener).graceful(shutdown).run().await;
}

struct Incoming {
    method: Method,
    path: String,
    query: String,
    headers: HeaderMap,
    remote: Option<SocketAddr>,
}

type Response = http::Response<Bytes>;

async fn handle<S, B>(gw: &Gateway, mut req: Incoming, body: S) -> Response
where
    S: Stream<Item = Result<B, warp::Error>> + Send,
    B: Buf,
{
    let credential = sigv4::request_credential(&req.headers, &req.query);
    let region = credential
        .as_ref()
        .map(|c| c.region.as_str())
        .filter(|r| !r.is_empty())
        .unwrap_or(lb_core::DEFAULT_REGION);
    let mut ctx = RequestContext::new(region);
    ctx.access_key = credential.as_ref().map(|c| c.access_key.clone());
    ctx.source_ip = req.remote.map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |a| a.ip());

    // The form `Action` is only needed when neither X-Amz-Target nor a credential scope decides.
    let needs_action = req.headers.get("x-amz-target").is_none() && credential.is_none();
    let is_form = req
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let query_action = needs_action
        .then(|| query_param(req.query.as_bytes(), "Action"))
        .flatten();

    // Bodies are read before classification only when an unsigned form might carry `Action`.
    let mut body = Some(body);
    let mut early_body = None;
    if needs_action && query_action.is_none() && is_form && req.method == Method::POST {
        match collect(body.take(), &req.headers, MAX_API_BODY).await {
            Ok(b) => early_body = Some(b),
            Err(e) => return body_error(&Service::Sqs, &e),
        }
    }
    let action = query_action.or_else(|| early_body.as_ref().and_then(|b| query_param(b, "Action")));
    let service = classify::classify(&req.path, &req.headers, credential.as_ref(), action.as_deref());
    debug!(method = %req.method, path = %req.path, ?service, region = %ctx.region, "request");

    if service == Service::S3 && s3_declared_size(&req.headers).is_some_and(|n| n > MAX_OBJECT_SIZE) {
        return body_error(&service, &BodyError::TooLarge);
    }
    let limit = if service == Service::S3 {
        MAX_S3_BODY
    } else {
        MAX_API_BODY
    };
    let bytes = match early_body {
        Some(b) => b,
        None => match collect(body.take(), &req.headers, limit).await {
            Ok(b) => b,
            Err(e) => return body_error(&service, &e),
        },
    };

    match service {
        Service::Internal => internal(gw, &req),
        Service::Sqs => {
            let query = std::mem::take(&mut req.query);
            let http_req = match build_request(req, &query, bytes) {
                Ok(r) => r,
                Err(e) => return json_error_response(&e),
            };
            lb_sqs::api::handle(&gw.sqs, &ctx, http_req).await
        }
        Service::S3 => s3(gw, req, ctx, bytes).await,
        Service::Unsupported { service, protocol } => {
            let err = AwsError::new(
                "NotImplemented",
                501,
                format!("localbridge does not implement the {service} service yet"),
            );
            warn!(service, "request for an unsupported service");
            match protocol {
                Protocol::Json | Protocol::RestJson => json_error_response(&err),
                Protocol::Query => xml_response(err.status, render::query_error_xml(&err, &ctx.request_id)),
            }
        }
    }
}

async fn s3(gw: &Gateway, req: Incoming, ctx: RequestContext, body: Bytes) -> Response {
    let request_id = lb_core::ids::s3_request_id();
    let host_id = lb_core::ids::s3_host_id();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let query = match s3edge::strip_presigned(&req.query, now, &request_id, &host_id) {
        Ok(q) => q,
        Err(r) => return xml_response(r.status, r.body),
    };
    let mut req = req;
    let body = match s3edge::normalize(&mut req.headers, body, &request_id, &host_id) {
        Ok(b) => b,
        Err(r) => return xml_response(r.status, r.body),
    };
    let http_req = match build_request(req, &query, s3s::Body::from(body)) {
        Ok(mut r) => {
            r.extensions_mut().insert(ctx);
            r
        }
        Err(e) => {
            return xml_response(
                400,
                render::s3_error_xml("InvalidURI", &e.message, &[], &request_id, &host_id),
            )
        }
    };
    match gw.s3.call(http_req).await {
        Ok(resp) => {
            let (mut parts, mut body) = resp.into_parts();
            match body.store_all_limited(usize::MAX).await {
                Ok(bytes) => {
                    // Only error documents need finishing; a success body (an object) is never scanned.
                    let bytes = if parts.status.is_client_error() || parts.status.is_server_error() {
                        lb_s3::finish_response(&mut parts, bytes)
                    } else {
                        parts.headers.remove(lb_s3::error::FIELDS_HEADER);
                        bytes
                    };
                    http::Response::from_parts(parts, bytes)
                }
                Err(e) => {
                    warn!(error = %e, "S3 response body failed");
                    xml_response(
                        500,
                        render::s3_error_xml(
                            "InternalError",
                            "We encountered an internal error. Please try again.",
                            &[],
                            &request_id,
                            &host_id,
                        ),
                    )
                }
            }
        }
        Err(e) => {
            warn!(error = ?e, "S3 request failed");
            xml_response(
                500,
                render::s3_error_xml(
                    "InternalError",
                    "We encountered an internal error. Please try again.",
                    &[],
                    &request_id,
                    &host_id,
                ),
            )
        }
    }
}

fn internal(gw: &Gateway, req: &Incoming) -> Response {
    let path = req.path.trim_start_matches(classify::INTERNAL_PREFIX);
    match (req.method.clone(), path) {
        (Method::GET | Method::HEAD, "health") => {
            let body = serde_json::json!({
                "status": "running",
                "version": env!("CARGO_PKG_VERSION"),
                "uptime_seconds": gw.started.elapsed().as_secs_f64(),
                "services": {"s3": "running", "sqs": "running"},
                "delivery": gw.dispatcher.stats(),
            });
            json_response(200, body.to_string())
        }
        _ => json_response(
            404,
            serde_json::json!({"message": "no such localbridge endpoint"}).to_string(),
        ),
    }
}

/// Why a request body could not be read.
#[derive(Debug)]
enum BodyError {
    TooLarge,
    Read,
}

/// Collects a request body, refusing more than `limit` bytes (checked against Content-Length
/// first, so an oversized upload is refused before it is read).
async fn collect<S, B>(body: Option<S>, headers: &HeaderMap, limit: usize) -> Result<Bytes, BodyError>
where
    S: Stream<Item = Result<B, warp::Error>> + Send,
    B: Buf,
{
    let declared = header_usize(headers, http::header::CONTENT_LENGTH.as_str());
    if declared.is_some_and(|n| n > limit) {
        return Err(BodyError::TooLarge);
    }
    let Some(body) = body else { return Ok(Bytes::new()) };
    let mut body = std::pin::pin!(body);
    let mut first: Option<Bytes> = None;
    let mut buf: Option<BytesMut> = None;
    while let Some(chunk) = body.next().await {
        let mut chunk = chunk.map_err(|e| {
            debug!(error = %e, "request body read failed");
            BodyError::Read
        })?;
        let chunk = chunk.copy_to_bytes(chunk.remaining());
        let len = first.as_ref().map_or(0, Bytes::len) + buf.as_ref().map_or(0, BytesMut::len) + chunk.len();
        if len > limit {
            return Err(BodyError::TooLarge);
        }
        match (&mut first, &mut buf) {
            (None, None) => first = Some(chunk),
            (Some(f), None) => {
                let mut b = BytesMut::with_capacity(declared.unwrap_or(f.len() + chunk.len()));
                b.extend_from_slice(f);
                b.extend_from_slice(&chunk);
                first = None;
                buf = Some(b);
            }
            (_, Some(b)) => b.extend_from_slice(&chunk),
        }
    }
    Ok(match (first, buf) {
        (_, Some(b)) => b.freeze(),
        (Some(f), None) => f,
        (None, None) => Bytes::new(),
    })
}

/// The object size an S3 upload declares: the decoded length of an aws-chunked body, else its
/// Content-Length.
fn s3_declared_size(headers: &HeaderMap) -> Option<usize> {
    header_usize(headers, "x-amz-decoded-content-length")
        .or_else(|| header_usize(headers, http::header::CONTENT_LENGTH.as_str()))
}

fn header_usize(headers: &HeaderMap, name: &str) -> Option<usize> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// A body error in the envelope of the service the request was for.
fn body_error(service: &Service, err: &BodyError) -> Response {
    let (status, code, message) = match (service, err) {
        // S3 answers an object over 5 GiB with 400 EntityTooLarge.
        (Service::S3, BodyError::TooLarge) => (
            400,
            "EntityTooLarge",
            "Your proposed upload exceeds the maximum allowed size",
        ),
        (_, BodyError::TooLarge) => (413, "RequestEntityTooLarge", "Request entity too large"),
        (_, BodyError::Read) => (400, "IncompleteBody", "The request body terminated unexpectedly"),
    };
    match service {
        Service::S3 => xml_response(
            status,
            render::s3_error_xml(
                code,
                message,
                &[],
                &lb_core::ids::s3_request_id(),
                &lb_core::ids::s3_host_id(),
            ),
        ),
        Service::Unsupported {
            protocol: Protocol::Query,
            ..
        } => xml_response(
            status,
            render::query_error_xml(&AwsError::new(code, status, message), &lb_core::ids::request_id()),
        ),
        _ => json_error_response(&AwsError::new(code, status, message)),
    }
}

fn build_request<B>(req: Incoming, query: &str, body: B) -> Result<http::Request<B>, AwsError> {
    let uri = if query.is_empty() {
        req.path
    } else {
        format!("{}?{}", req.path, query)
    };
    let mut builder = http::Request::builder().method(req.method).uri(uri);
    if let Some(h) = builder.headers_mut() {
        *h = req.headers;
    }
    builder
        .body(body)
        .map_err(|e| AwsError::new("InvalidURI", 400, format!("Couldn't parse the specified URI: {e}")))
}

fn query_param(raw: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(raw)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn json_error_response(err: &AwsError) -> Response {
    let mut resp = json_response(err.status, render::json_error(err));
    resp.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/x-amz-json-1.1"));
    resp
}

fn json_response(status: u16, body: String) -> Response {
    let mut resp = http::Response::new(Bytes::from(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    resp
}

fn xml_response(status: u16, body: String) -> Response {
    let mut resp = http::Response::new(Bytes::from(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/xml"));
    resp
}
