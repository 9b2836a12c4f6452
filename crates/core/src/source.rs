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
