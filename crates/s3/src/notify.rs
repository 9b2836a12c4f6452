//! Bucket notification configuration and S3 event records.
//!
//! The object side of the stub calls [`Notifier::emit`] on every write path; the notifier decides
//! which configurations match (event type + key filter), builds the event record exactly as AWS
//! does, and hands one message per destination to `lb_core`'s dispatcher. It never calls another
//! service directly, and `emit` returns before anything is delivered.
//!
//! Layout:
//! - [`config`]: PutBucketNotificationConfiguration validation (event names, ARNs, filter rules,
//!   overlaps, destination policies) and the compiled, stored form.
//! - [`record`]: the S3 event record (`{"Records":[...]}`), the `s3:TestEvent` message, key
//!   encoding, sequencers and the principal ids localbridge derives.
//! - [`eventbridge`]: the `aws.s3` events sent to the default event bus when the bucket has an
//!   `EventBridgeConfiguration`.
//! - [`error`]: [`NotificationError`], the error with AWS's extra `<Error>` elements
//!   (`ArgumentName`, `ArgumentValue`, `ArgumentName1`, ...).
//!
//! **Invariant:** a rejected configuration leaves the stored one untouched: everything is
//! validated before anything is stored or sent.

pub mod config;
pub mod error;
pub mod eventbridge;
pub mod record;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use lb_core::deliver::{Dispatcher, Message, Registry};
use lb_core::{Arn, Clock, RequestContext};
use s3s::dto::NotificationConfiguration;
use s3s::S3Result;
use serde::Serialize;
use tracing::{debug, warn};

pub use config::BucketNotifications;
pub use error::NotificationError;
pub use record::{encode_key, host_id, owner_principal_id, user_principal_id};

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

/// Counters of what [`Notifier::emit`] did with each event: every event is either matched by at
/// least one destination (and its messages submitted to the dispatcher, which counts from there)
/// or filtered out.
#[derive(Debug, Default)]
struct Stats {
    events: AtomicU64,
    filtered: AtomicU64,
    messages: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct NotifierStats {
    /// Events handed to `emit`.
    pub events: u64,
    /// Events that matched no configuration (and no EventBridge delivery): filtered out.
    pub filtered: u64,
    /// Messages submitted to the dispatcher (one per matching destination, plus EventBridge).
    pub messages: u64,
}

pub struct Notifier {
    deps: NotifierDeps,
    /// Bucket name -> its validated configuration. A std `RwLock` (not tokio's): it is held only
    /// to clone or swap an `Arc`, never across an await, and `emit` (the hot path) only reads.
    buckets: RwLock<HashMap<String, Arc<BucketNotifications>>>,
    stats: Stats,
}

impl Notifier {
    pub fn new(deps: NotifierDeps) -> Self {
        Self {
            deps,
            buckets: RwLock::new(HashMap::new()),
            stats: Stats::default(),
        }
    }

    /// PutBucketNotificationConfiguration: validates everything first (a rejected configuration
    /// leaves the old one in place), then stores it and sends `s3:TestEvent` to each queue/topic.
    ///
    /// The error is AWS's code and message; the extra elements AWS puts in the error document
    /// (`ArgumentName`, `ArgumentValue`, numbered ones for destinations) are only available
    /// through [`Notifier::put_configuration_detailed`] (s3s 0.14's `S3Error` cannot carry them;
    /// the [`NotificationError`] is attached as the `S3Error`'s source).
    pub fn put_configuration(
        &self,
        bucket: &str,
        bucket_region: &str,
        config: NotificationConfiguration,
        skip_destination_validation: bool,
        ctx: &RequestContext,
    ) -> S3Result<()> {
        self.put_configuration_detailed(bucket, bucket_region, config, skip_destination_validation, ctx)
            .map_err(Into::into)
    }

    /// [`Notifier::put_configuration`] with the full AWS error (including its extra elements).
    pub fn put_configuration_detailed(
        &self,
        bucket: &str,
        bucket_region: &str,
        config: NotificationConfiguration,
        skip_destination_validation: bool,
        ctx: &RequestContext,
    ) -> Result<(), NotificationError> {
        let compiled = BucketNotifications::compile(bucket_region, &ctx.account, config)?;
        if !skip_destination_validation {
            compiled.validate_destinations(&self.deps.registry, bucket, &ctx.account)?;
        }
        let compiled = Arc::new(compiled);
        {
            let mut buckets = self.buckets.write().unwrap_or_else(PoisonError::into_inner);
            if compiled.is_empty() {
                buckets.remove(bucket);
            } else {
                buckets.insert(bucket.to_owned(), Arc::clone(&compiled));
            }
        }
        // The test message is how S3 validates SQS and SNS destinations; skipping validation
        // skips it too.
        if !skip_destination_validation {
            let body = record::test_event(bucket, self.deps.clock.now_millis(), &ctx.request_id);
            for arn in compiled.test_event_destinations() {
                self.submit(arn.clone(), body.clone(), bucket);
            }
        }
        debug!(
            bucket,
            configurations = compiled.rules().len(),
            "notification configuration stored"
        );
        Ok(())
    }

    /// GetBucketNotificationConfiguration: the stored configuration (empty if none).
    pub fn get_configuration(&self, bucket: &str) -> NotificationConfiguration {
        self.bucket(bucket)
            .map(|b| b.configuration().clone())
            .unwrap_or_default()
    }

    /// Forget a deleted bucket's configuration.
    pub fn remove_bucket(&self, bucket: &str) {
        self.buckets
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(bucket);
    }

    /// Emit `event` to every matching destination. Never blocks, never fails the caller.
    pub fn emit(&self, event: ObjectEvent) {
        self.stats.events.fetch_add(1, Ordering::Relaxed);
        let name = event.event_name.strip_prefix("s3:").unwrap_or(event.event_name);
        let Some(shape) = record::EventShape::of(name) else {
            warn!(event_name = name, bucket = %event.bucket, reason = "not an S3 event type", "event dropped");
            self.stats.filtered.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let Some(bucket) = self.bucket(&event.bucket) else {
            self.stats.filtered.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let sequencer = shape.sequencer.then(record::Sequencer::next);
        let mut sent = 0u64;
        for rule in bucket.rules().iter().filter(|r| r.matches(name, &event.key)) {
            let body = record::records_body(&event, name, &shape, &bucket, &rule.id, sequencer);
            self.submit(rule.arn.clone(), body, &event.bucket);
            sent += 1;
        }
        if bucket.event_bridge() {
            if let Some(ev) = eventbridge::event(&event, name, &bucket, sequencer) {
                self.submit(eventbridge::default_bus(&bucket), ev, &event.bucket);
                sent += 1;
            }
        }
        if sent == 0 {
            self.stats.filtered.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// What `emit` has done so far.
    pub fn stats(&self) -> NotifierStats {
        NotifierStats {
            events: self.stats.events.load(Ordering::Relaxed),
            filtered: self.stats.filtered.load(Ordering::Relaxed),
            messages: self.stats.messages.load(Ordering::Relaxed),
        }
    }

    fn bucket(&self, bucket: &str) -> Option<Arc<BucketNotifications>> {
        // Clone the Arc out so the read guard ends here.
        self.buckets
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(bucket)
            .cloned()
    }

    fn submit(&self, target: Arn, body: String, bucket: &str) {
        self.stats.messages.fetch_add(1, Ordering::Relaxed);
        let message = Message {
            body,
            source_arn: Some(record::bucket_arn(bucket)),
            ..Message::default()
        };
        self.deps.dispatcher.submit(target, message);
    }
}
