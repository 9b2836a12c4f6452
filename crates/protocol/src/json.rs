//! AWS JSON 1.0 and 1.1: the operation in `X-Amz-Target: <Prefix>.<Operation>`, input and output
//! as JSON objects (botocore protocol `json`), errors as `{"__type": ..., "message": ...}`.
//! Services that are `awsQueryCompatible` (SQS) also carry the query-protocol code in the
//! `x-amzn-query-error: <Code>;Sender|Receiver` header, which SDKs map back to the old codes.

use bytes::Bytes;
use http::{HeaderValue, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Which AWS JSON protocol a service speaks (only the content type differs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JsonVersion {
    V1_0,
    V1_1,
}

impl JsonVersion {
    pub fn content_type(self) -> &'static str {
        match self {
            JsonVersion::V1_0 => "application/x-amz-json-1.0",
            JsonVersion::V1_1 => "application/x-amz-json-1.1",
        }
    }
}

/// Decodes an operation's input. An empty (or all-whitespace) body is the empty input, as the
/// SDKs send no body for operations without members.
pub fn decode<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, serde_json::Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
}

/// Decodes an operation's input; a body that is not the input's JSON is AWS's
/// `SerializationException` (400).
pub fn input<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, lb_core::AwsError> {
    decode(body).map_err(|e| lb_core::AwsError::new("SerializationException", 400, e.to_string()))
}

/// An [`AwsError`](lb_core::AwsError) in the JSON envelope (no query-compatible header).
pub fn aws_error_response(version: JsonVersion, e: &lb_core::AwsError, request_id: &str) -> Response<Bytes> {
    error_response(
        version,
        &JsonError {
            status: e.status,
            type_name: &e.code,
            message: &e.message,
            query_error: None,
        },
        request_id,
    )
}

/// A success response with an already-encoded body.
pub fn response(version: JsonVersion, body: Vec<u8>, request_id: &str) -> Response<Bytes> {
    crate::respond(200, version.content_type(), Bytes::from(body), request_id)
}

/// Encodes `output` as a success response (500 `InternalFailure` if it cannot be encoded).
pub fn ok<T: Serialize>(version: JsonVersion, output: &T, request_id: &str) -> Response<Bytes> {
    match serde_json::to_vec(output) {
        Ok(body) => response(version, body, request_id),
        Err(e) => error_response(
            version,
            &JsonError {
                status: 500,
                type_name: "InternalFailure",
                message: &format!("could not encode the response: {e}"),
                query_error: None,
            },
            request_id,
        ),
    }
}

/// One JSON-protocol error.
#[derive(Debug, Clone, Copy)]
pub struct JsonError<'a> {
    pub status: u16,
    /// `__type`: the error shape, optionally namespaced (`com.amazonaws.sqs#QueueDoesNotExist`).
    pub type_name: &'a str,
    pub message: &'a str,
    /// For `awsQueryCompatible` services: the query code and whether the sender is at fault.
    pub query_error: Option<(&'a str, bool)>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    #[serde(rename = "__type")]
    type_name: &'a str,
    message: &'a str,
}

/// `{"__type": ..., "message": ...}`.
pub fn error_body(type_name: &str, message: &str) -> Vec<u8> {
    serde_json::to_vec(&ErrorBody { type_name, message }).unwrap_or_else(|_| b"{}".to_vec())
}

/// An error response in the JSON envelope.
pub fn error_response(version: JsonVersion, err: &JsonError<'_>, request_id: &str) -> Response<Bytes> {
    let body = error_body(err.type_name, err.message);
    let mut resp = crate::respond(err.status, version.content_type(), Bytes::from(body), request_id);
    if let Some((code, sender)) = err.query_error {
        let fault = if sender { "Sender" } else { "Receiver" };
        if let Ok(v) = HeaderValue::from_str(&format!("{code};{fault}")) {
            resp.headers_mut().insert(crate::QUERY_ERROR_HEADER, v);
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Default, Debug, PartialEq)]
    #[serde(default, rename_all = "PascalCase")]
    struct In {
        queue_url: Option<String>,
    }

    #[test]
    fn decodes_empty_and_present_bodies() {
        assert_eq!(decode::<In>(b"  ").unwrap(), In::default());
        assert_eq!(
            decode::<In>(br#"{"QueueUrl":"u"}"#).unwrap().queue_url.as_deref(),
            Some("u")
        );
        assert!(decode::<In>(b"{").is_err());
    }

    #[test]
    fn error_envelopes() {
        let r = error_response(
            JsonVersion::V1_0,
            &JsonError {
                status: 400,
                type_name: "com.amazonaws.sqs#QueueDoesNotExist",
                message: "The specified queue does not exist.",
                query_error: Some(("AWS.SimpleQueueService.NonExistentQueue", true)),
            },
            "rid",
        );
        assert_eq!(r.status(), 400);
        assert_eq!(r.headers()["content-type"], "application/x-amz-json-1.0");
        assert_eq!(r.headers()["x-amzn-requestid"], "rid");
        assert_eq!(
            r.headers()["x-amzn-query-error"],
            "AWS.SimpleQueueService.NonExistentQueue;Sender"
        );
        assert_eq!(
            r.body().as_ref(),
            br#"{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}"#
        );
        let r = error_response(
            JsonVersion::V1_1,
            &JsonError {
                status: 501,
                type_name: "NotImplemented",
                message: "x",
                query_error: None,
            },
            "r",
        );
        assert_eq!(r.headers()["content-type"], "application/x-amz-json-1.1");
        assert!(r.headers().get("x-amzn-query-error").is_none());
        let ok = ok(JsonVersion::V1_1, &serde_json::json!({"A": 1}), "r");
        assert_eq!((ok.status().as_u16(), ok.body().as_ref()), (200, &br#"{"A":1}"#[..]));
    }
}
