//! Queues as event sources: how Lambda's event source mappings (and Pipes, later) read a queue
//! without importing the service that owns it. The binary hands an `Arc<dyn QueueSource>` (SQS)
//! to the services that poll.

use std::collections::BTreeMap;

use crate::arn::Arn;
use crate::clock::BoxFuture;
use crate::deliver::MessageAttribute;
use crate::AwsError;

/// A message as a poller receives it (all system and message attributes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceMessage {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    pub md5_of_body: String,
    /// System attributes (`ApproximateReceiveCount`, `SentTimestamp`, `SenderId`,
    /// `ApproximateFirstReceiveTimestamp`, and for FIFO queues `SequenceNumber`,
    /// `MessageGroupId`, `MessageDeduplicationId`), values as strings.
    pub attributes: BTreeMap<String, String>,
    pub message_attributes: BTreeMap<String, MessageAttribute>,
    pub md5_of_message_attributes: Option<String>,
}

impl SourceMessage {
    /// The record AWS hands a consumer for this message: Lambda's SQS event and a Pipe's SQS
    /// source event share it (`messageId`, `receiptHandle`, `body`, `attributes`,
    /// `messageAttributes`, `md5OfBody`, `eventSource: "aws:sqs"`, `eventSourceARN`,
    /// `awsRegion`, and `md5OfMessageAttributes` when there are message attributes).
    pub fn event_record(&self, source_arn: &str, region: &str) -> serde_json::Value {
        use base64::Engine as _;
        use serde_json::{json, Map, Value};
        let m = self;
        let attributes: Map<String, Value> = m.attributes.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        let message_attributes: Map<String, Value> = m
            .message_attributes
            .iter()
            .map(|(k, v)| {
                let mut a = json!({ "stringListValues": [], "binaryListValues": [], "dataType": v.data_type });
                if let Some(s) = &v.string_value {
                    a["stringValue"] = json!(s);
                }
                if let Some(b) = &v.binary_value {
                    a["binaryValue"] = json!(base64::engine::general_purpose::STANDARD.encode(b));
                }
                (k.clone(), a)
            })
            .collect();
        let mut r = json!({
            "messageId": m.message_id,
            "receiptHandle": m.receipt_handle,
            "body": m.body,
            "attributes": attributes,
            "messageAttributes": message_attributes,
            "md5OfBody": m.md5_of_body,
            "eventSource": "aws:sqs",
            "eventSourceARN": source_arn,
            "awsRegion": region,
        });
        if let Some(md5) = &m.md5_of_message_attributes {
            r["md5OfMessageAttributes"] = json!(md5);
        }
        r
    }
}

/// What a poller needs to know of a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueInfo {
    pub fifo: bool,
    pub visibility_timeout_seconds: u32,
}

/// A queue service, read by pollers.
pub trait QueueSource: Send + Sync + 'static {
    /// The queue, or AWS's error when it does not exist.
    fn describe(&self, queue: &Arn) -> Result<QueueInfo, AwsError>;

    /// Receives up to `max` (1–10) messages, waiting up to `wait_seconds` on the clock for the
    /// first one.
    fn receive<'a>(
        &'a self,
        queue: &'a Arn,
        max: usize,
        wait_seconds: u32,
    ) -> BoxFuture<'a, Result<Vec<SourceMessage>, AwsError>>;

    /// Deletes received messages by receipt handle (unknown handles are ignored).
    fn delete(&self, queue: &Arn, receipt_handles: &[String]) -> Result<(), AwsError>;
}
