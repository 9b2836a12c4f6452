//! The AWS wire protocols, once, and the service table the gateway is built from.
//!
//! - [`json`]: AWS JSON 1.0 / 1.1 (`X-Amz-Target`), with the `awsQueryCompatible` error header.
//! - [`query`]: the query protocol: parameters parsed once with the model's flattenings, the
//!   `<XResponse><XResult>` and `<ErrorResponse>` envelopes.
//! - [`restjson`]: rest-json bodies and `x-amzn-errortype` errors.
//! - [`xml`]: the one XML writer and escaper.
//! - [`service`]: [`ServiceSpec`] (what identifies a service's requests), the [`Service`] trait
//!   a service's wire edge implements, [`ApiRequest`] (the classification plus the request,
//!   parsed once) and [`ServiceTable::classify`].
//!
//! Shapes are declared once, as serde types beside each service's operations (see the README's
//! "Wire protocols" section for why not generated from botocore's models).

pub mod json;
pub mod query;
pub mod restjson;
pub mod service;
pub mod xml;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Response, StatusCode};

pub use json::JsonVersion;
pub use query::Params;
pub use service::{ApiRequest, Protocol, Route, Service, ServiceSpec, ServiceTable, Signals, UnservedSpec};
pub use xml::XmlWriter;

/// The request-id header of the JSON and query protocols.
pub const REQUEST_ID_HEADER: &str = "x-amzn-requestid";
/// [`REQUEST_ID_HEADER`] as a header name (inserting by `&str` parses the name every time).
const REQUEST_ID: HeaderName = HeaderName::from_static(REQUEST_ID_HEADER);
/// The header carrying the query code of an `awsQueryCompatible` service's JSON error.
pub const QUERY_ERROR_HEADER: &str = "x-amzn-query-error";

/// A response with a status, a content type and the request id header.
pub fn respond(status: u16, content_type: &'static str, body: Bytes, request_id: &str) -> Response<Bytes> {
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = resp.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert(REQUEST_ID, v);
    }
    resp
}
