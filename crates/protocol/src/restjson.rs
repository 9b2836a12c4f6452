//! rest-json (Lambda, Scheduler, Pipes): the operation in the method and path, input in the path,
//! query string, headers and a JSON body; errors name their shape in the `x-amzn-errortype`
//! header, with the members (at least `message`) in the JSON body.

use bytes::Bytes;
use http::{HeaderValue, Response};

/// The content type of rest-json bodies.
pub const CONTENT_TYPE: &str = "application/json";
/// The header naming a rest-json error's shape.
pub const ERROR_TYPE_HEADER: &str = "x-amzn-errortype";

/// A success response with an already-encoded JSON body.
pub fn response(status: u16, body: Vec<u8>, request_id: &str) -> Response<Bytes> {
    crate::respond(status, CONTENT_TYPE, Bytes::from(body), request_id)
}

/// An error: `x-amzn-errortype: <type>` and `{"message": ...}`.
pub fn error_response(status: u16, type_name: &str, message: &str, request_id: &str) -> Response<Bytes> {
    let body = serde_json::to_vec(&serde_json::json!({ "message": message })).unwrap_or_else(|_| b"{}".to_vec());
    let mut resp = crate::respond(status, CONTENT_TYPE, Bytes::from(body), request_id);
    if let Ok(v) = HeaderValue::from_str(type_name) {
        resp.headers_mut().insert(ERROR_TYPE_HEADER, v);
    }
    resp
}

/// A path segment, percent-decoded (names and ARNs in rest paths are percent-encoded).
pub fn path_segment(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// The query string's parameters, decoded, in order (a repeated name repeats).
pub fn query_params(uri: &http::Uri) -> Vec<(String, String)> {
    uri.query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

/// The first value of query parameter `name`.
pub fn query_param(q: &[(String, String)], name: &str) -> Option<String> {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_envelope() {
        let r = error_response(404, "ResourceNotFoundException", "Function not found", "rid");
        assert_eq!(r.status(), 404);
        assert_eq!(r.headers()[ERROR_TYPE_HEADER], "ResourceNotFoundException");
        assert_eq!(r.headers()["content-type"], CONTENT_TYPE);
        assert_eq!(r.body().as_ref(), br#"{"message":"Function not found"}"#);
    }

    #[test]
    fn paths_and_queries_decode() {
        assert_eq!(path_segment("arn%3Aaws%3Apipes"), "arn:aws:pipes");
        let uri: http::Uri = "/v1/pipes?NamePrefix=a%20b&Limit=2&Limit=3".parse().unwrap();
        let q = query_params(&uri);
        assert_eq!(query_param(&q, "NamePrefix").as_deref(), Some("a b"));
        assert_eq!(query_param(&q, "Limit").as_deref(), Some("2"));
        assert_eq!(query_param(&q, "Missing"), None);
    }
}
