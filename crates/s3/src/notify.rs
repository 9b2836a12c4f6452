//! Bucket notification configuration and S3 event records.
//!
//! The object side of the stub calls [`Notifier::emit`] on every write path; the notifier decides
//! which configurations match (event type + key filter), builds the event record exactly as AWS
//! does, and submits one delivery per destination to `lb_core`'s delivery engine. It never calls
//! another service directly, and `emit` returns before anything is delivered.
//!
//! Each delivery names its producer (the bucket's ARN and the configuration's Id; none for the
//! EventBridge delivery and for `s3:TestEvent`), carries the event's request id, the caller's
//! `X-Amzn-Trace-Id` and S3's service principal (checked against the destination's policy at
//! delivery), is retried by [`RetryPolicy::s3_notifications`], and is dropped and counted when the
//! engine is full: AWS cannot fail the S3 call that caused an event.
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

use lb_core::deliver::{Delivery, Engine, Message, Producer, Registry, RetryPolicy, WhenFull};
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
    /// What restore events add (`ObjectRestore:*`); `None` for every other event.
    pub restore: Option<RestoreInfo>,
    /// What lifecycle transition, Intelligent-Tiering and replication events add.
    pub extra: Option<EventData>,
}

/// The data S3's own events carry beside the object (`lifecycleEventData`,
/// `intelligentTieringEventData`, `replicationEventData`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventData {
    /// `LifecycleTransition`: the storage class the object moved to.
    Transition { storage_class: String },
    /// `IntelligentTiering`: the access tier the object moved to.
    AccessTier { tier: String },
    /// `Replication:*`.
    Replication(ReplicationData),
}

/// `replicationEventData` (User Guide, "Receiving replication failure events").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicationData {
    pub rule_id: String,
    /// The destination bucket's ARN.
    pub destination_bucket: String,
    /// `OBJECT_PUT` (or `DELETE_MARKER_PUT`).
    pub operation: &'static str,
    /// When the write that is replicated was made (epoch ms).
    pub request_time: u64,
    /// `Replication:OperationFailedReplication` only (`DstBucketNotFound`, ...).
    pub failure_reason: Option<&'static str>,
}

/// Whether an event is S3's own doing (lifecycle, tiering, replication, lost objects), not a
/// request's: its record names `s3.amazonaws.com` as principal and source.
pub fn by_s3(name: &str) -> bool {
    name.starts_with("Lifecycle")
        || name.starts_with("Replication:")
        || name == "IntelligentTiering"
        || name == "ReducedRedundancyLostObject"
}

/// The archive side of an `ObjectRestore:*` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreInfo {
    /// The archived object's storage class (`GLACIER`, `DEEP_ARCHIVE`).
    pub storage_class: String,
    /// When the restored copy expires (epoch ms); known once the restore completed.
    pub expires_at: Option<u64>,
}

/// The service principal S3 delivers as (what destination policies name).
pub const S3_PRINCIPAL: &str = "s3.amazonaws.com";

pub struct NotifierDeps {
    pub registry: Arc<Registry>,
    pub engine: Engine,
    pub clock: Arc<dyn Clock>,
}

/// Counters of what [`Notifier::emit`] did with each event: every event is either matched by at
/// least one destination (and its messages submitted to the engine, which counts from there)
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
    /// Messages submitted to the engine (one per matching destination, plus EventBridge).
    pub messages: u64,
}

pub struct Notifier {
    deps: NotifierDeps,
    /// Bucket name -> its validated configuration. A std `RwLock` (not tokio's): it is held only
    /// to clone or swap an `Arc`, never across an await, and `emit` (the hot path) only reads.
    buckets: RwLock<HashMap<String, Arc<BucketNotifications>>>,
    stats: Stats,
}

/// The subject of S3's messages to SNS topics (S3 User Guide, "Event message structure":
/// notifications published to SNS carry the subject "Amazon S3 Notification").
pub const S3_SUBJECT: &str = "Amazon S3 Notification";

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
            let message = Arc::new(self.message(body, bucket, &ctx.account, ctx.trace_header.clone()));
            for arn in compiled.test_event_destinations() {
                self.submit(arn.clone(), Arc::clone(&message), bucket, None, &ctx.request_id);
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
        let owner = bucket.owner_account();
        let trace = &event.ctx.trace_header;
        let request_id = &event.ctx.request_id;
        for rule in bucket.rules().iter().filter(|r| r.matches(name, &event.key)) {
            let body = record::records_body(&event, name, &shape, &bucket, &rule.id, sequencer);
            let message = Arc::new(self.message(body, &event.bucket, owner, trace.clone()));
            self.submit(rule.arn.clone(), message, &event.bucket, Some(&rule.id), request_id);
            sent += 1;
        }
        if bucket.event_bridge() {
            if let Some(ev) = eventbridge::event(&event, name, &bucket, sequencer) {
                let message = Arc::new(self.message(ev, &event.bucket, owner, trace.clone()));
                self.submit(
                    eventbridge::default_bus(&bucket),
                    message,
                    &event.bucket,
                    None,
                    request_id,
                );
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

    /// What S3 sends: the body, and who sends it (checked by the destination's policy).
    fn message(&self, body: String, bucket: &str, owner: &str, trace_header: Option<String>) -> Message {
        Message {
            source_arn: Some(record::bucket_arn(bucket).into()),
            source_account: Some(owner.into()),
            principal: Some(S3_PRINCIPAL.into()),
            trace_header: trace_header.map(Into::into),
            // What S3 publishes to a topic carries this subject (SNS ignores it for queues).
            subject: Some(S3_SUBJECT.to_owned()),
            ..Message::new(body)
        }
    }

    /// Hands one message to the engine. Never fails the caller: a full engine drops the delivery
    /// and counts and records it (S3 cannot fail the request that caused the event).
    fn submit(&self, target: Arn, message: Arc<Message>, bucket: &str, config_id: Option<&str>, request_id: &str) {
        self.stats.messages.fetch_add(1, Ordering::Relaxed);
        let producer = Producer::new(record::bucket_arn(bucket), config_id.map(str::to_owned));
        let mut delivery = Delivery::new(target, message, producer);
        delivery.event_id = Some(request_id.into());
        delivery.retry = RetryPolicy::s3_notifications();
        delivery.when_full = WhenFull::Drop;
        if let Err(e) = self.deps.engine.submit(delivery) {
            // With `WhenFull::Drop` the engine has already counted and recorded the drop.
            debug!(bucket, error = %e, "notification not accepted by the delivery engine");
        }
    }

    /// The engine notifications are submitted to (for diagnostics and tests).
    pub fn engine(&self) -> &Engine {
        &self.deps.engine
    }
}
