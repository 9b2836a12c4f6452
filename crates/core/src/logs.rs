//! The interface through which services write CloudWatch Logs events without importing the logs
//! service (Lambda's START / END / REPORT lines and its handlers' output). The binary hands an
//! `Arc<dyn LogSink>` (the logs service) to the services that write.

/// One log event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    /// Milliseconds since the epoch (the event's own time).
    pub timestamp_millis: u64,
    pub message: String,
}

/// Where services write log events.
pub trait LogSink: Send + Sync + 'static {
    /// Appends `events` to the stream `stream` of the log group `group` in `region` and
    /// `account`, creating the group and the stream if they are missing (as Lambda does). Never
    /// fails the caller and never blocks on I/O: events the store cannot take (over its bound,
    /// invalid) are dropped and counted by the sink.
    fn append(&self, region: &str, account: &str, group: &str, stream: &str, events: Vec<LogEvent>);
}
