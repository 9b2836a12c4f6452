//! The wire edge (work in progress).

use bytes::Bytes;
use lb_core::RequestContext;

use crate::Sqs;

/// Handles one SQS request (AWS JSON 1.0 or query protocol).
pub async fn handle(_sqs: &Sqs, ctx: &RequestContext, _req: http::Request<Bytes>) -> http::Response<Bytes> {
    let mut resp = http::Response::new(Bytes::from_static(
        b"{\"__type\":\"com.amazon.coral.service#UnknownOperationException\"}",
    ));
    *resp.status_mut() = http::StatusCode::BAD_REQUEST;
    if let Ok(v) = http::HeaderValue::from_str(&ctx.request_id) {
        resp.headers_mut().insert("x-amzn-requestid", v);
    }
    resp
}
