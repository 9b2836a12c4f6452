//! The plain input and output types of SQS's operations. Both wire protocols parse into these and
//! render from them; the service logic sees nothing else.

use std::collections::BTreeMap;
use std::sync::Arc;

use lb_core::AwsError;

use crate::errors;
use crate::queue::MessageData;

/// A message attribute value (user attributes and the `AWSTraceHeader` system attribute).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageAttributeValue {
    /// `String`, `Number`, `Binary`, optionally with a custom label (`Number.int`).
    pub data_type: String,
    pub string_value: Option<String>,
    pub binary_value: Option<Vec<u8>>,
    /// Reserved by AWS ("not implemented"); a request carrying them is rejected.
    pub string_list_values: Vec<String>,
    /// Reserved by AWS ("not implemented"); a request carrying them is rejected.
    pub binary_list_values: Vec<Vec<u8>>,
}

impl MessageAttributeValue {
    pub fn string(data_type: &str, value: &str) -> Self {
        Self {
            data_type: data_type.to_owned(),
            string_value: Some(value.to_owned()),
            ..Self::default()
        }
    }

    pub fn binary(data_type: &str, value: Vec<u8>) -> Self {
        Self {
            data_type: data_type.to_owned(),
            binary_value: Some(value),
            ..Self::default()
        }
    }
}

/// Message attributes by name; a `BTreeMap` because the attribute MD5 is computed in name order.
pub type MessageAttributes = BTreeMap<String, MessageAttributeValue>;

/// A queue as a request names it: by queue URL (`http://host/{account}/{name}`) or, as AWS also
/// accepts, by its bare name. `account` is empty for a bare name: the caller's account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRef {
    pub account: String,
    pub name: String,
}

impl QueueRef {
    pub fn new(account: &str, name: &str) -> Self {
        Self {
            account: account.to_owned(),
            name: name.to_owned(),
        }
    }

    /// Takes the account and queue name from the last two path segments of `url`, whatever its
    /// host (`http://localhost:4566/000000000000/q`, `https://sqs.eu-west-1.amazonaws.com/1/q`, or
    /// the bare path `/000000000000/q`); a bare queue name (`q`) names a queue of the caller's
    /// account. The region is the request's (its signature's), never the URL host's: every
    /// region is served on the one endpoint.
    pub fn from_url(url: &str) -> Result<Self, AwsError> {
        let (path, had_host) = match url.find("://") {
            Some(i) => {
                let rest = &url[i + 3..];
                (rest.find('/').map_or("", |j| &rest[j..]), true)
            }
            None => (url, false),
        };
        let path = path.split(['?', '#']).next().unwrap_or_default();
        let mut segments = path.split('/').filter(|s| !s.is_empty()).rev();
        match (segments.next(), segments.next()) {
            (Some(name), Some(account)) => Ok(Self::new(account, name)),
            (Some(name), None) if !had_host && !path.contains('/') && plausible_queue_name(name) => {
                Ok(Self::new("", name))
            }
            _ => Err(errors::invalid_address(url)),
        }
    }

    /// The account this reference names, the caller's for a bare queue name.
    pub fn account_or<'a>(&'a self, caller: &'a str) -> &'a str {
        if self.account.is_empty() {
            caller
        } else {
            &self.account
        }
    }
}

/// Whether a bare `QueueUrl` can be a queue name (anything else is an invalid address).
fn plausible_queue_name(name: &str) -> bool {
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    !base.is_empty()
        && name.len() <= 80
        && base
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
}

/// The URL of a queue as the caller addressed the service.
///
/// Queues are per region and account, and so are their URLs, as on AWS
/// (`https://sqs.eu-west-1.amazonaws.com/123456789012/q`). Decision: in `us-east-1` (the default
/// region) the URL is `{endpoint}/{account}/{name}`, the caller's own endpoint unchanged, so
/// every existing script keeps working; in any other region the host gains AWS's
/// `sqs.{region}.` prefix: `http://sqs.eu-west-1.localhost:4566/{account}/{name}`. An IP-literal
/// host cannot take a prefix, so it becomes `localhost` (the same loopback address: `*.localhost`
/// resolves to loopback per RFC 6761 in curl, browsers and systemd-resolved); a named host keeps
/// its name (`sqs.eu-west-1.localhost.localstack.cloud:4566`, the form other emulators use). The
/// path stays `/{account}/{name}`, which the gateway recognises as a queue path, and every
/// operation takes the queue from the path and the region from the request's signature, so
/// clients that send to their configured endpoint (every current SDK and the CLI) and clients
/// that send to the queue URL both reach this server.
pub fn queue_url(endpoint: &str, region: &str, account: &str, name: &str) -> String {
    if region == lb_core::DEFAULT_REGION {
        return format!("{endpoint}/{account}/{name}");
    }
    let (scheme, host) = endpoint.split_once("://").unwrap_or(("http", endpoint));
    let (hostname, port) = split_port(host);
    // Already a regional host (`sqs.{region}.x`): take the base after it.
    let base = hostname
        .strip_prefix("sqs.")
        .and_then(|rest| rest.split_once('.'))
        .filter(|(r, _)| r.split('-').count() >= 3)
        .map_or(hostname, |(_, base)| base);
    let base = if base.parse::<std::net::IpAddr>().is_ok() || base.starts_with('[') || base.is_empty() {
        "localhost"
    } else {
        base
    };
    format!("{scheme}://sqs.{region}.{base}{port}/{account}/{name}")
}

/// `host:port` → (`host`, `:port`); IPv6 literals keep their brackets.
fn split_port(host: &str) -> (&str, &str) {
    match host.rfind(':') {
        Some(i) if !host[i..].contains(']') && (host.starts_with('[') || !host[..i].contains(':')) => {
            (&host[..i], &host[i..])
        }
        _ => (host, ""),
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateQueueInput {
    pub queue_name: String,
    /// In request order (the first attribute that differs names the conflict).
    pub attributes: Vec<(String, String)>,
    pub tags: Vec<(String, String)>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GetQueueUrlInput {
    pub queue_name: String,
    pub queue_owner_account: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQueuesInput {
    pub queue_name_prefix: Option<String>,
    pub next_token: Option<String>,
    pub max_results: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQueuesOutput {
    pub queue_urls: Vec<String>,
    pub next_token: Option<String>,
}

/// One message to send (SendMessage, or one entry of SendMessageBatch).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendMessageEntry {
    pub body: Option<String>,
    pub delay_seconds: Option<i64>,
    pub attributes: MessageAttributes,
    /// `AWSTraceHeader` is the only one AWS accepts.
    pub system_attributes: MessageAttributes,
    pub deduplication_id: Option<String>,
    pub group_id: Option<String>,
}

impl SendMessageEntry {
    pub fn new(body: impl Into<String>) -> Self {
        Self {
            body: Some(body.into()),
            ..Self::default()
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendMessageOutput {
    pub message_id: String,
    pub md5_of_message_body: String,
    pub md5_of_message_attributes: Option<String>,
    pub md5_of_message_system_attributes: Option<String>,
    pub sequence_number: Option<String>,
}

/// One entry of a batch request: the caller's `Id` and the entry itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchEntry<T> {
    pub id: String,
    pub entry: T,
}

/// A failed batch entry (`BatchResultErrorEntry`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchResultError {
    pub id: String,
    pub sender_fault: bool,
    pub code: String,
    pub message: String,
}

impl BatchResultError {
    pub fn new(id: &str, err: &AwsError) -> Self {
        Self {
            id: id.to_owned(),
            sender_fault: err.sender_fault,
            code: err.code.to_string(),
            message: err.message.clone(),
        }
    }
}

/// The result of a batch operation: successes (with their entry `Id`) and failures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchOutput<T> {
    pub successful: Vec<(String, T)>,
    pub failed: Vec<BatchResultError>,
}

impl<T> Default for BatchOutput<T> {
    fn default() -> Self {
        Self {
            successful: Vec::new(),
            failed: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceiveMessageInput {
    pub max_number_of_messages: Option<i64>,
    pub visibility_timeout: Option<i64>,
    pub wait_time_seconds: Option<i64>,
    /// `AttributeNames` and `MessageSystemAttributeNames` together.
    pub attribute_names: Vec<String>,
    pub message_attribute_names: Vec<String>,
    pub receive_request_attempt_id: Option<String>,
}

/// A received message. The body and other immutable parts are shared with the stored message.
#[derive(Debug, Clone)]
pub struct ReceivedMessage {
    pub(crate) data: Arc<MessageData>,
    pub(crate) md5_of_body: String,
    pub receipt_handle: String,
    /// The requested system attributes, in a fixed order.
    pub attributes: Vec<(&'static str, String)>,
    /// The requested message attributes, in name order.
    pub message_attributes: Vec<(String, MessageAttributeValue)>,
    pub md5_of_message_attributes: Option<String>,
}

impl ReceivedMessage {
    pub fn message_id(&self) -> &str {
        self.data.message_id.as_str()
    }

    pub fn body(&self) -> &str {
        &self.data.body
    }

    pub fn md5_of_body(&self) -> &str {
        &self.md5_of_body
    }

    /// The value of a returned system attribute (`ApproximateReceiveCount`, ...).
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeVisibilityEntry {
    pub receipt_handle: String,
    pub visibility_timeout: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StartMessageMoveTaskInput {
    pub source_arn: String,
    pub destination_arn: Option<String>,
    pub max_number_of_messages_per_second: Option<i64>,
}

/// One entry of ListMessageMoveTasks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageMoveTaskInfo {
    /// Only while the task is RUNNING, as AWS shows it.
    pub task_handle: Option<String>,
    pub status: &'static str,
    pub source_arn: String,
    pub destination_arn: Option<String>,
    pub max_number_of_messages_per_second: Option<i64>,
    pub approximate_number_of_messages_moved: i64,
    pub approximate_number_of_messages_to_move: Option<i64>,
    pub failure_reason: Option<String>,
    /// Epoch milliseconds.
    pub started_timestamp: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddPermissionInput {
    pub label: String,
    pub account_ids: Vec<String>,
    pub actions: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_urls_parse_from_any_host() {
        for url in [
            "http://localhost:4566/000000000000/uploads",
            "https://sqs.eu-west-1.amazonaws.com/000000000000/uploads",
            "http://sqs.us-east-1.localhost.localstack.cloud:4566/000000000000/uploads/",
            "/000000000000/uploads",
            "000000000000/uploads?x=1",
        ] {
            assert_eq!(
                QueueRef::from_url(url).unwrap(),
                QueueRef::new("000000000000", "uploads"),
                "{url}"
            );
        }
        assert_eq!(QueueRef::from_url("uploads").unwrap(), QueueRef::new("", "uploads"));
        assert_eq!(QueueRef::new("", "q").account_or("123456789012"), "123456789012");
        assert_eq!(QueueRef::from_url("f.fifo").unwrap(), QueueRef::new("", "f.fifo"));
        for bad in [
            "",
            "not a url",
            "http://localhost:4566/uploads",
            "http://localhost:4566",
        ] {
            let err = QueueRef::from_url(bad).unwrap_err();
            assert_eq!(err.code, errors::INVALID_ADDRESS, "{bad}");
        }
    }

    #[test]
    fn queue_urls_show_the_region() {
        let url = |ep, region| queue_url(ep, region, "000000000000", "q");
        assert_eq!(
            url("http://localhost:4566", "us-east-1"),
            "http://localhost:4566/000000000000/q"
        );
        assert_eq!(
            url("http://127.0.0.1:4566", "us-east-1"),
            "http://127.0.0.1:4566/000000000000/q"
        );
        assert_eq!(
            url("http://127.0.0.1:4566", "eu-west-1"),
            "http://sqs.eu-west-1.localhost:4566/000000000000/q"
        );
        assert_eq!(
            url("http://localhost.localstack.cloud:4566", "eu-west-1"),
            "http://sqs.eu-west-1.localhost.localstack.cloud:4566/000000000000/q"
        );
        assert_eq!(
            url("http://sqs.us-west-2.localhost:4566", "eu-west-1"),
            "http://sqs.eu-west-1.localhost:4566/000000000000/q"
        );
        assert_eq!(
            url("http://[::1]:4566", "eu-west-1"),
            "http://sqs.eu-west-1.localhost:4566/000000000000/q"
        );
        assert_eq!(
            url("http://myhost", "ap-south-1"),
            "http://sqs.ap-south-1.myhost/000000000000/q"
        );
        for u in [
            url("http://127.0.0.1:4566", "eu-west-1"),
            url("http://127.0.0.1:4566", "us-east-1"),
        ] {
            assert_eq!(QueueRef::from_url(&u).unwrap(), QueueRef::new("000000000000", "q"));
        }
    }
}
