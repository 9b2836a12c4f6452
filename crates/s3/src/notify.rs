//! Bucket notification configuration and S3 event records.
//!
//! The object side of the stub calls [`Notifier::emit`] on every write path; the notifier decides
//! which configurations match (event type + key filter), builds the event record exactly as AWS
//! does, and hands one message per destination to `lb_core`'s dispatcher. It never calls another
//! service directly, and `emit` returns before anything is delivered.
//!
//! INTERFACE SKELETON: the bodies are being written; the signatures are the contract.

use std::sync::Arc;

use lb_core::deliver::{Dispatcher, Registry};
use lb_core::{Clock, RequestContext};
use s3s::dto::NotificationConfiguration;
use s3s::S3Result;

/// One object-level event, as the object side knows it.
#[derive(Debug, Clone)]
pub struct ObjectEvent {
    /// AWS's event name without the `s3:` prefix, e.g. `ObjectCreated:Put`,
    /// `ObjectRemoved:DeleteMarkerCreated`, `ObjectTagging:Put`.
    pub event_name: &'static str,
    pub bucket: String,
    /// The key as stored (not encoded).
    pub key: String,
    /// Object size; `None` for removals (AWS omits size and eTag on ObjectRemoved events).
    pub size: Option<u64>,
    /// ETag without quotes.
    pub etag: Option<String>,
    /// Version id on versioning-enabled (or suspended: "null") buckets, else `None`.
    pub version_id: Option<String>,
    /// Event time, epoch milliseconds.
    pub time_millis: u64,
    /// The request that caused the event (region, source IP, request id, principal).
    pub ctx: RequestContext,
}

pub struct NotifierDeps {
    pub registry: Arc<Registry>,
    pub dispatcher: Dispatcher,
    pub clock: Arc<dyn Clock>,
}

pub struct Notifier {
    #[allow(dead_code)]
    deps: NotifierDeps,
}

impl Notifier {
    pub fn new(deps: NotifierDeps) -> Self {
        Self { deps }
    }

    /// PutBucketNotificationConfiguration: validates everything first (a rejected configuration
    /// leaves the old one in place), then stores it and sends `s3:TestEvent` to each queue/topic.
    pub fn put_configuration(
        &self,
        _bucket: &str,
        _bucket_region: &str,
        _config: NotificationConfiguration,
        _skip_destination_validation: bool,
        _ctx: &RequestContext,
    ) -> S3Result<()> {
        Err(s3s::s3_error!(NotImplemented))
    }

    /// GetBucketNotificationConfiguration: the stored configuration (empty if none).
    pub fn get_configuration(&self, _bucket: &str) -> NotificationConfiguration {
        NotificationConfiguration::default()
    }

    /// Forget a deleted bucket's configuration.
    pub fn remove_bucket(&self, _bucket: &str) {}

    /// Emit `event` to every matching destination. Never blocks, never fails the caller.
    pub fn emit(&self, _event: ObjectEvent) {}
}
