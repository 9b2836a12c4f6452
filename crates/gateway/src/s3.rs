//! S3 as the gateway's fallback service: the S3 edge (presigned-URL expiry, signatures stripped,
//! aws-chunked bodies decoded; see [`crate::s3edge`]) in front of `s3s`, which does the REST-XML
//! protocol, and errors in S3's own document with S3's request and host ids.

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, Response};
use lb_core::clock::BoxFuture;
use lb_core::AwsError;
use lb_protocol::{ApiRequest, Protocol, Service, ServiceSpec};
use std::sync::Arc;
use tracing::warn;

use crate::{render, s3edge};

/// The largest object a single PUT (or part) may carry: 5 GiB.
pub const MAX_OBJECT_SIZE: usize = 5 * 1024 * 1024 * 1024;
/// The largest request body accepted for S3 (a 5 GiB single PUT plus aws-chunked framing).
pub const MAX_S3_BODY: usize = 5 * 1024 * 1024 * 1024 + 64 * 1024 * 1024;

pub const SPEC: ServiceSpec = ServiceSpec {
    rest: Some(Protocol::RestXml),
    max_body: MAX_S3_BODY,
    ..ServiceSpec::new("s3")
};

/// The S3 stub behind its edge.
pub struct S3Api {
    s3: s3s::service::S3Service,
    clock: Arc<dyn lb_core::Clock>,
    admin: Option<lb_s3::Admin>,
}

impl S3Api {
    pub fn new(s3: s3s::service::S3Service, clock: Arc<dyn lb_core::Clock>) -> Self {
        Self { s3, clock, admin: None }
    }

    /// Serves `POST /_localbridge/s3/lose-object` with the stub's [`lb_s3::Admin`].
    #[must_use]
    pub fn with_admin(mut self, admin: lb_s3::Admin) -> Self {
        self.admin = Some(admin);
        self
    }
}

/// `POST /_localbridge/s3/lose-object {"bucket", "key", "versionId"?}`.
fn lose_object(admin: &lb_s3::Admin, body: &Bytes) -> Response<Bytes> {
    #[derive(serde::Deserialize)]
    struct Lose {
        bucket: String,
        key: String,
        #[serde(rename = "versionId")]
        version_id: Option<String>,
    }
    let lose: Lose = match serde_json::from_slice(body) {
        Ok(l) => l,
        Err(e) => {
            return crate::plain_json(
                400,
                "BadRequest",
                &format!("expected a JSON body {{\"bucket\", \"key\", \"versionId\"?}}: {e}"),
            )
        }
    };
    match admin.lose_object(&lose.bucket, &lose.key, lose.version_id.as_deref()) {
        Ok(request_id) => crate::json_response(
            200,
            serde_json::json!({ "lost": true, "requestId": request_id }).to_string(),
        ),
        Err((status, code, message)) => crate::plain_json(status, code, &message),
    }
}

/// The object size an S3 upload declares: the decoded length of an aws-chunked body, else its
/// Content-Length.
fn declared_size(headers: &HeaderMap) -> Option<usize> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
    };
    get("x-amz-decoded-content-length").or_else(|| get(http::header::CONTENT_LENGTH.as_str()))
}

fn xml(status: u16, body: String) -> Response<Bytes> {
    let mut resp = Response::new(Bytes::from(body));
    *resp.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/xml"),
    );
    resp
}

fn internal_error() -> Response<Bytes> {
    xml(
        500,
        render::s3_error_xml(
            "InternalError",
            "We encountered an internal error. Please try again.",
            &[],
            &lb_core::ids::s3_request_id(),
            &lb_core::ids::s3_host_id(),
        ),
    )
}

impl Service for S3Api {
    fn spec(&self) -> &ServiceSpec {
        &SPEC
    }

    fn admin_post(&self, path: &str, body: &Bytes) -> Option<Response<Bytes>> {
        match (path, &self.admin) {
            ("s3/lose-object", Some(admin)) => Some(lose_object(admin, body)),
            _ => None,
        }
    }

    fn check_head(&self, parts: &Parts) -> Option<Response<Bytes>> {
        // S3 answers an object over 5 GiB with 400 EntityTooLarge before reading it.
        declared_size(&parts.headers)
            .is_some_and(|n| n > MAX_OBJECT_SIZE)
            .then(|| {
                self.error_response(
                    Protocol::RestXml,
                    &AwsError::new(
                        "EntityTooLarge",
                        400,
                        "Your proposed upload exceeds the maximum allowed size",
                    ),
                    "",
                )
            })
    }

    fn error_response(&self, _protocol: Protocol, err: &AwsError, _request_id: &str) -> Response<Bytes> {
        xml(
            err.status,
            render::s3_error_xml(
                &err.code,
                &err.message,
                &[],
                &lb_core::ids::s3_request_id(),
                &lb_core::ids::s3_host_id(),
            ),
        )
    }

    fn handle(&self, req: ApiRequest) -> BoxFuture<'_, Response<Bytes>> {
        Box::pin(async move {
            let request_id = lb_core::ids::s3_request_id();
            let host_id = lb_core::ids::s3_host_id();
            let now = self.clock.now_millis() / 1000;
            let ApiRequest {
                mut parts, body, ctx, ..
            } = req;
            let raw_query = parts.uri.query().unwrap_or("");
            if !raw_query.is_empty() {
                let query = match s3edge::strip_presigned(raw_query, now, &request_id, &host_id) {
                    Ok(q) => q,
                    Err(r) => return xml(r.status, r.body),
                };
                if query != raw_query {
                    let pq = if query.is_empty() {
                        parts.uri.path().to_owned()
                    } else {
                        format!("{}?{query}", parts.uri.path())
                    };
                    let rebuilt = http::uri::PathAndQuery::try_from(pq)
                        .map_err(|e| e.to_string())
                        .and_then(|pq| {
                            let mut uri = std::mem::take(&mut parts.uri).into_parts();
                            uri.path_and_query = Some(pq);
                            http::Uri::from_parts(uri).map_err(|e| e.to_string())
                        });
                    match rebuilt {
                        Ok(u) => parts.uri = u,
                        Err(e) => {
                            return xml(
                                400,
                                render::s3_error_xml(
                                    "InvalidURI",
                                    &format!("Couldn't parse the specified URI: {e}"),
                                    &[],
                                    &request_id,
                                    &host_id,
                                ),
                            )
                        }
                    }
                }
            }
            let body = match s3edge::normalize(&mut parts.headers, body, &request_id, &host_id) {
                Ok(b) => b,
                Err(r) => return xml(r.status, r.body),
            };
            parts.extensions.insert(ctx);
            let http_req = http::Request::from_parts(parts, s3s::Body::from(body));
            match self.s3.call(http_req).await {
                Ok(resp) => {
                    let (mut parts, mut body) = resp.into_parts();
                    match body.store_all_limited(usize::MAX).await {
                        Ok(bytes) => {
                            // Only error documents need finishing; a success body (an object) is
                            // never scanned.
                            let bytes = if parts.status.is_client_error() || parts.status.is_server_error() {
                                lb_s3::finish_response(&mut parts, bytes)
                            } else {
                                lb_s3::error::finish_success(&mut parts);
                                bytes
                            };
                            Response::from_parts(parts, bytes)
                        }
                        Err(e) => {
                            warn!(error = %e, "S3 response body failed");
                            internal_error()
                        }
                    }
                }
                Err(e) => {
                    warn!(error = ?e, "S3 request failed");
                    internal_error()
                }
            }
        })
    }
}
