//! The one HTTP port, built from a table of services ([`lb_protocol::ServiceTable`]).
//!
//! Every request is classified once (X-Amz-Target, SigV4 credential scope, query `Action`, rest
//! paths, else the fallback service, S3), given a [`RequestContext`] (region and account from the
//! credential, source IP, request id, trace header), its body read incrementally under the
//! service's limit and a global budget of bytes in flight, and handed to its service as an
//! [`ApiRequest`] — query parameters already parsed, headers moved, never cloned.
//!
//! The server is hyper's HTTP/1.1 connection directly (no filter chain): a request target that
//! is not a path (authority form `CONNECT host:22`, `*`) is answered 400, a handler that panics
//! is answered 500, and idle or slow header reads time out.
//!
//! **Invariant:** the gateway holds no lock and no service logic; it routes and renders.

pub mod body;
pub mod chunked;
pub mod classify;
mod clock_wait;
mod internal;
pub mod metrics;
pub mod render;
pub mod s3;
pub mod s3edge;
pub mod sigv4;

use std::borrow::Cow;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::FutureExt as _;
use http::request::Parts;
use http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use lb_core::deliver::Engine;
use lb_core::{AwsError, Clock, RequestContext};
use lb_protocol::{ApiRequest, Params, Protocol, Route, Service, ServiceSpec, ServiceTable, Signals, UnservedSpec};
use tracing::{debug, warn};

use crate::body::{BodyBudget, BodyError, Held};
use crate::metrics::Metrics;

pub use crate::s3::{S3Api, MAX_OBJECT_SIZE, MAX_S3_BODY};

/// The largest request body read before classification (an unsigned form whose `Action` decides
/// the service) and for localbridge's own endpoints.
pub const MAX_API_BODY: usize = 16 * 1024 * 1024;

/// Limits of the HTTP server.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// How long a connection may take to send a request's headers, counted from when the server
    /// starts waiting for them (an idle keep-alive connection is closed after it too).
    pub header_read_timeout: Duration,
    /// Bytes of request bodies held in memory at once, across all requests.
    pub max_body_in_flight: usize,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(20),
            max_body_in_flight: 8 * 1024 * 1024 * 1024,
        }
    }
}

/// Everything the gateway routes to.
pub struct Gateway {
    table: ServiceTable,
    fallback: Arc<dyn Service>,
    engine: Engine,
    clock: Arc<dyn Clock>,
    started: Instant,
    metrics: Metrics,
    budget: BodyBudget,
    config: GatewayConfig,
    clock_waits: Arc<clock_wait::Sessions>,
}

/// Builds a [`Gateway`]: one `.service(...)` line per service.
pub struct GatewayBuilder {
    services: Vec<Arc<dyn Service>>,
    fallback: Option<Arc<dyn Service>>,
    engine: Engine,
    clock: Arc<dyn Clock>,
    config: GatewayConfig,
    started: Instant,
}

impl GatewayBuilder {
    /// Registers a service.
    pub fn service(mut self, service: impl Service) -> Self {
        self.services.push(Arc::new(service));
        self
    }

    /// The service that owns every request nobody else claims (S3).
    pub fn fallback(mut self, service: impl Service) -> Self {
        self.fallback = Some(Arc::new(service));
        self
    }

    pub fn config(mut self, config: GatewayConfig) -> Self {
        self.config = config;
        self
    }

    /// When the process started (for the health endpoint's uptime).
    pub fn started(mut self, started: Instant) -> Self {
        self.started = started;
        self
    }

    pub fn build(self) -> Gateway {
        let fallback = self.fallback.unwrap_or_else(|| Arc::new(NoFallback));
        let table = ServiceTable::new(self.services, fallback.spec().signing_name);
        Gateway {
            table,
            fallback,
            engine: self.engine,
            clock: self.clock,
            started: self.started,
            metrics: Metrics::default(),
            budget: BodyBudget::new(self.config.max_body_in_flight),
            config: self.config,
            clock_waits: Arc::default(),
        }
    }
}

/// Without a fallback, unclaimed requests are answered `NotImplemented`.
struct NoFallback;

const NO_FALLBACK: ServiceSpec = ServiceSpec {
    rest: Some(Protocol::RestXml),
    ..ServiceSpec::new("none")
};

impl Service for NoFallback {
    fn spec(&self) -> &ServiceSpec {
        &NO_FALLBACK
    }

    fn handle(&self, req: ApiRequest) -> lb_core::clock::BoxFuture<'_, Response<Bytes>> {
        let resp = NO_FALLBACK.error_response(
            Protocol::RestXml,
            &AwsError::new("NotImplemented", 501, "no service claims this request"),
            &req.ctx.request_id,
        );
        Box::pin(std::future::ready(resp))
    }
}

impl Gateway {
    pub fn builder(engine: Engine, clock: Arc<dyn Clock>) -> GatewayBuilder {
        GatewayBuilder {
            services: Vec::new(),
            fallback: None,
            engine,
            clock,
            config: GatewayConfig::default(),
            started: Instant::now(),
        }
    }

    /// The names of the services served (registered ones, then the fallback).
    pub fn service_names(&self) -> Vec<&'static str> {
        let mut names: Vec<_> = self.table.services().iter().map(|s| s.spec().name).collect();
        names.push(self.fallback.spec().name);
        names
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Answers one request (the whole gateway, without the socket).
    pub async fn call<B>(&self, remote: Option<SocketAddr>, req: Request<B>) -> Response<Bytes>
    where
        B: http_body::Body<Data = Bytes>,
        B::Error: std::fmt::Display,
    {
        let started = Instant::now();
        let _in_flight = self.metrics.start();
        let (parts, body) = req.into_parts();
        let method = parts.method.clone();
        let (resp, service, operation) = match AssertUnwindSafe(self.route(remote, parts, body)).catch_unwind().await {
            Ok(r) => r,
            Err(_) => {
                warn!(%method, "request handler panicked");
                (
                    plain_json(500, "InternalFailure", "the request handler failed"),
                    "gateway",
                    "panic",
                )
            }
        };
        let status = resp.status().as_u16();
        self.metrics.record(service, operation, status, started.elapsed());
        // 501 is the deliberate answer for services not served yet; other 5xx are failures.
        if status >= 500 && status != 501 {
            warn!(%method, service, operation, status, "request failed");
        } else {
            debug!(%method, service, operation, status, "request");
        }
        resp
    }

    async fn route<B>(
        &self,
        remote: Option<SocketAddr>,
        parts: Parts,
        body: B,
    ) -> (Response<Bytes>, &'static str, &'static str)
    where
        B: http_body::Body<Data = Bytes>,
        B::Error: std::fmt::Display,
    {
        let path = parts.uri.path();
        if !path.starts_with('/') {
            // Authority form (`CONNECT host:port`, `GET host:port`) or `*`: not a resource here.
            debug!(method = %parts.method, target = %parts.uri, "request target is not a path");
            return (
                plain_json(
                    400,
                    "BadRequest",
                    "the request target must be a path (origin or absolute form)",
                ),
                "gateway",
                "bad-target",
            );
        }
        let query = parts.uri.query();
        let credential = sigv4::request_credential(&parts.headers, query.unwrap_or(""));
        let ctx = context(&parts, remote, credential.as_ref());
        let target = header(&parts, &X_AMZ_TARGET);
        let signing_name = credential.as_ref().map(|c| &*c.service).filter(|s| !s.is_empty());

        // The `Action` decides only unsigned requests without X-Amz-Target; a form body is read
        // for it before classification.
        let mut params: Option<Params> = None;
        let mut body = Early::Unread(body);
        if target.is_none() && signing_name.is_none() && self.table.wants_action() {
            if parts.method == Method::POST && is_form(&parts) {
                match body.read(&parts, MAX_API_BODY, &self.budget).await {
                    Ok((b, held)) => {
                        params = Some(Params::parse(query, &b));
                        body = Early::Read(Some((b, held)));
                    }
                    Err(e) => {
                        // A form POST without a target or scope is a query-protocol request.
                        let svc = self.table.services().iter().find(|s| s.spec().query);
                        let resp = match svc {
                            Some(s) => s.error_response(Protocol::Query, &body_error(&e, false), &ctx.request_id),
                            None => plain_json(400, "BadRequest", "unreadable request body"),
                        };
                        return (resp, svc.map_or("gateway", |s| s.spec().name), "unknown");
                    }
                }
            } else if query.is_some_and(|q| q.contains("Action=")) {
                params = Some(Params::parse(query, &[]));
            }
        }
        let signals = Signals {
            path: parts.uri.path(),
            target,
            signing_name,
            action: params.as_ref().and_then(Params::action),
        };
        let route = self.table.classify(&signals);
        drop(credential);
        self.dispatch(parts, ctx, route, params, body).await
    }

    async fn dispatch<B>(
        &self,
        parts: Parts,
        ctx: RequestContext,
        route: Route,
        params: Option<Params>,
        body: Early<B>,
    ) -> (Response<Bytes>, &'static str, &'static str)
    where
        B: http_body::Body<Data = Bytes>,
        B::Error: std::fmt::Display,
    {
        let (svc, protocol, operation) = match route {
            Route::Internal => {
                let (bytes, _held) = match body.read(&parts, MAX_API_BODY, &self.budget).await {
                    Ok(b) => b,
                    Err(_) => {
                        return (
                            plain_json(413, "RequestEntityTooLarge", "request body too large"),
                            "internal",
                            "unknown",
                        )
                    }
                };
                let (resp, op) = internal::handle(self, &parts, &bytes).await;
                return (resp, "internal", op);
            }
            Route::Unserved { name, protocol } => {
                debug!(service = %name, "request for a service not served");
                return (
                    UnservedSpec::not_implemented(&name, protocol, &ctx.request_id),
                    "unserved",
                    "NotImplemented",
                );
            }
            Route::Service {
                index,
                protocol,
                operation,
            } => match self.table.get(index) {
                Some(s) => (Arc::clone(s), protocol, operation),
                None => (Arc::clone(&self.fallback), Protocol::RestXml, Cow::Borrowed("")),
            },
            Route::Fallback => (
                Arc::clone(&self.fallback),
                self.fallback.spec().rest.unwrap_or(Protocol::RestXml),
                Cow::Borrowed(method_name(&parts.method)),
            ),
        };
        let spec = svc.spec();
        let op_label = match &operation {
            Cow::Borrowed(op) if !op.is_empty() => *op,
            _ => "unknown",
        };
        if let Some(resp) = svc.check_head(&parts) {
            return (resp, spec.name, op_label);
        }
        let (bytes, _held) = match body.read(&parts, spec.max_body, &self.budget).await {
            Ok(b) => b,
            Err(e) => {
                let err = body_error(&e, spec.rest == Some(Protocol::RestXml));
                return (svc.error_response(protocol, &err, &ctx.request_id), spec.name, op_label);
            }
        };
        let params = match protocol {
            Protocol::Query => Some(params.unwrap_or_else(|| Params::parse(parts.uri.query(), &bytes))),
            _ => None,
        };
        let req = ApiRequest {
            service: spec.name,
            protocol,
            operation,
            parts,
            body: bytes,
            params,
            ctx,
        };
        (svc.handle(req).await, spec.name, op_label)
    }
}

/// A body read before classification, or still to be read.
enum Early<B> {
    Read(Option<(Bytes, Held)>),
    Unread(B),
}

impl<B> Early<B>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::fmt::Display,
{
    async fn read(self, parts: &Parts, limit: usize, budget: &BodyBudget) -> Result<(Bytes, Held), BodyError> {
        match self {
            Early::Read(Some((b, held))) if b.len() <= limit => Ok((b, held)),
            Early::Read(Some(_)) => Err(BodyError::TooLarge),
            Early::Read(None) => Ok((Bytes::new(), Held::default())),
            Early::Unread(body) => body::read(body, content_length(parts), limit, budget).await,
        }
    }
}

/// A body error as an AWS error (S3's codes when `s3`).
fn body_error(err: &BodyError, s3: bool) -> AwsError {
    match (err, s3) {
        (BodyError::TooLarge, true) => AwsError::new(
            "EntityTooLarge",
            400,
            "Your proposed upload exceeds the maximum allowed size",
        ),
        (BodyError::TooLarge, false) => AwsError::new("RequestEntityTooLarge", 413, "Request entity too large"),
        (BodyError::Read, _) => AwsError::new("IncompleteBody", 400, "The request body terminated unexpectedly"),
        (BodyError::Busy, true) => AwsError::new("SlowDown", 503, "Please reduce your request rate."),
        (BodyError::Busy, false) => AwsError::new(
            "ServiceUnavailable",
            503,
            "The server is reading too many request bodies at once; retry.",
        ),
    }
}

fn method_name(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::POST => "POST",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "OTHER",
    }
}

/// Header names the gateway reads on every request, parsed once (a lookup by `&str` parses the
/// name each time).
const X_AMZ_TARGET: HeaderName = HeaderName::from_static("x-amz-target");
const X_AMZN_TRACE_ID: HeaderName = HeaderName::from_static("x-amzn-trace-id");

fn header<'a>(parts: &'a Parts, name: &HeaderName) -> Option<&'a str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok())
}

fn content_length(parts: &Parts) -> Option<usize> {
    header(parts, &http::header::CONTENT_LENGTH).and_then(|v| v.parse().ok())
}

fn is_form(parts: &Parts) -> bool {
    header(parts, &http::header::CONTENT_TYPE).is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

/// The request's context: region from the credential scope, the account from a 12-digit access
/// key, source IP, request id, trace header.
fn context(parts: &Parts, remote: Option<SocketAddr>, credential: Option<&sigv4::Credential<'_>>) -> RequestContext {
    let region = credential
        .map(|c| &*c.region)
        .filter(|r| !r.is_empty())
        .unwrap_or(lb_core::DEFAULT_REGION);
    let mut ctx = RequestContext::new(region);
    if let Some(c) = credential {
        if c.access_key.len() == 12 && c.access_key.bytes().all(|b| b.is_ascii_digit()) {
            ctx.account.clear();
            ctx.account.push_str(&c.access_key);
        }
        ctx.access_key = Some(c.access_key.clone().into_owned());
    }
    ctx.source_ip = remote.map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |a| a.ip());
    ctx.trace_header = header(parts, &X_AMZN_TRACE_ID).map(str::to_owned);
    ctx
}

/// `{"__type": code, "message": ...}` as `application/json` (gateway-level answers).
fn plain_json(status: u16, code: &str, message: &str) -> Response<Bytes> {
    json_response(
        status,
        serde_json::json!({"__type": code, "message": message}).to_string(),
    )
}

fn json_response(status: u16, body: String) -> Response<Bytes> {
    let mut resp = Response::new(Bytes::from(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut()
        .insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// Serves `gateway` on `listener` until `shutdown` resolves, then stops accepting and waits for
/// in-flight connections to finish their current request (the caller bounds that wait).
pub async fn serve<F>(listener: tokio::net::TcpListener, gateway: Arc<Gateway>, shutdown: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(gateway.config.header_read_timeout)
        .keep_alive(true);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment rather than spin.
                    debug!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let gw = Arc::clone(&gateway);
        let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
            let gw = Arc::clone(&gw);
            async move {
                let resp = gw.call(Some(remote), req).await;
                Ok::<_, Infallible>(resp.map(Full::new))
            }
        });
        let conn = builder.serve_connection(TokioIo::new(stream), svc);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

#[cfg(test)]
mod tests;
