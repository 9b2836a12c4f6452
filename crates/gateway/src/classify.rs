//! Which service a request is for. Decided once per request, from (in order): the gateway's own
//! path prefix, `X-Amz-Target`, the SigV4 credential scope, the form/query `Action`, and finally
//! S3, which owns everything nobody else claims.

use http::HeaderMap;

use crate::sigv4::Credential;

/// The wire protocol a request speaks, so an error can be rendered in its envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// AWS JSON 1.0 / 1.1 (`X-Amz-Target`).
    Json,
    /// AWS query (form `Action=`), XML responses.
    Query,
    /// REST with JSON bodies (Lambda).
    RestJson,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Service {
    /// `/_localbridge/...`: health and introspection.
    Internal,
    S3,
    Sqs,
    /// A service localbridge does not serve (yet): answered with an error in its protocol.
    Unsupported {
        service: String,
        protocol: Protocol,
    },
}

/// The prefix under which localbridge serves its own endpoints.
pub const INTERNAL_PREFIX: &str = "/_localbridge/";

const TARGET_PREFIXES: &[(&str, &str)] = &[
    ("AmazonSQS.", "sqs"),
    ("AWSEvents.", "events"),
    ("Kinesis_20131202.", "kinesis"),
    ("Firehose_20150804.", "firehose"),
    ("Logs_20140328.", "logs"),
    ("AWSLambda.", "lambda"),
    ("DynamoDB_20120810.", "dynamodb"),
];

/// Classifies a request. `form_action` is the `Action` of a form body or query string, if any.
pub fn classify(
    path: &str,
    headers: &HeaderMap,
    credential: Option<&Credential>,
    form_action: Option<&str>,
) -> Service {
    if path.starts_with(INTERNAL_PREFIX) {
        return Service::Internal;
    }
    if let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        let service = TARGET_PREFIXES
            .iter()
            .find(|(prefix, _)| target.starts_with(prefix))
            .map_or_else(
                || target.split('.').next().unwrap_or(target).to_owned(),
                |(_, s)| (*s).to_owned(),
            );
        return by_name(&service, Protocol::Json);
    }
    let scope = credential.map(|c| c.service.as_str()).filter(|s| !s.is_empty());
    match scope {
        Some("s3") => return Service::S3,
        Some(service) => {
            let protocol = if service == "lambda" {
                Protocol::RestJson
            } else {
                Protocol::Query
            };
            return by_name(service, protocol);
        }
        None => {}
    }
    if form_action.is_some() && (is_queue_path(path) || path == "/") {
        // Unsigned query-protocol request: only SQS takes those on this port today.
        return Service::Sqs;
    }
    if path.starts_with("/2015-03-31/functions") {
        return by_name("lambda", Protocol::RestJson);
    }
    Service::S3
}

fn by_name(service: &str, protocol: Protocol) -> Service {
    match service {
        "sqs" => Service::Sqs,
        "s3" => Service::S3,
        other => Service::Unsupported {
            service: other.to_owned(),
            protocol,
        },
    }
}

/// `/<12-digit account>/<queue name>`, the path of an SQS queue URL.
pub fn is_queue_path(path: &str) -> bool {
    let mut parts = path.trim_start_matches('/').split('/');
    matches!(
        (parts.next(), parts.next(), parts.next()),
        (Some(account), Some(name), None)
            if account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) && !name.is_empty()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn cred(service: &str) -> Credential {
        Credential {
            service: service.into(),
            ..Credential::default()
        }
    }

    #[test]
    fn target_header_wins() {
        let mut h = HeaderMap::new();
        h.insert("x-amz-target", HeaderValue::from_static("AmazonSQS.SendMessage"));
        assert_eq!(classify("/", &h, Some(&cred("s3")), None), Service::Sqs);
        h.insert("x-amz-target", HeaderValue::from_static("AWSEvents.PutEvents"));
        assert_eq!(
            classify("/", &h, None, None),
            Service::Unsupported {
                service: "events".into(),
                protocol: Protocol::Json
            }
        );
    }

    #[test]
    fn scope_then_action_then_s3() {
        let h = HeaderMap::new();
        assert_eq!(classify("/", &h, Some(&cred("sqs")), Some("ListQueues")), Service::Sqs);
        assert_eq!(classify("/photos/a.jpg", &h, Some(&cred("s3")), None), Service::S3);
        assert_eq!(
            classify("/", &h, Some(&cred("sns")), Some("Publish")),
            Service::Unsupported {
                service: "sns".into(),
                protocol: Protocol::Query
            }
        );
        assert_eq!(classify("/000000000000/q", &h, None, Some("SendMessage")), Service::Sqs);
        assert_eq!(classify("/photos", &h, None, None), Service::S3);
        assert_eq!(classify("/_localbridge/health", &h, None, None), Service::Internal);
    }

    #[test]
    fn queue_paths() {
        assert!(is_queue_path("/000000000000/uploads"));
        assert!(!is_queue_path("/photos/key"));
        assert!(!is_queue_path("/000000000000/q/extra"));
    }
}
