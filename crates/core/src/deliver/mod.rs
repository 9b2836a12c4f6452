//! ARN-addressed delivery: the one path every producer (S3 notifications now; EventBridge targets,
//! SNS subscriptions, Lambda asynchronous invocations next) uses to reach a target service.
//!
//! - A service that can receive messages implements [`Target`] and is registered in the
//!   [`Registry`] under its ARN namespace (`sqs`, `sns`, `lambda`, ...). The binary fills the
//!   registry; services never import each other.
//! - A producer hands a [`Delivery`] (target ARN, shared payload, retry policy, dead-letter target,
//!   what to do when full) to the [`Engine`] and returns at once: delivery is asynchronous, after
//!   the API call that caused it.
//! - The engine keeps one lane per target: a slow or failing target never delays another's
//!   deliveries. Retries wait on the [`Clock`](crate::Clock), never in line. Every delivery ends
//!   in exactly one [`Fate`] — delivered, dead-lettered or dropped with a reason — recorded in the
//!   [`Ledger`] and counted per target.

mod engine;
mod ledger;
mod rate_log;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use dashmap::DashMap;

use crate::arn::Arn;
use crate::policy::PolicyRequest;

pub use crate::clock::BoxFuture;
pub use engine::{Engine, EngineConfig, EngineStats, ShutdownReport, SubmitError, TargetStats};
pub use ledger::{Attempt, Fate, Ledger, LedgerQuery, LedgerRecord, Outcome, Timestamp};

/// A message attribute in the SQS/SNS sense.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageAttribute {
    /// `String`, `Number`, `Binary`, or a custom type such as `String.Array`.
    pub data_type: String,
    pub string_value: Option<String>,
    pub binary_value: Option<Vec<u8>>,
}

impl MessageAttribute {
    pub fn string(value: impl Into<String>) -> Self {
        Self {
            data_type: "String".to_owned(),
            string_value: Some(value.into()),
            binary_value: None,
        }
    }

    pub fn number(value: impl ToString) -> Self {
        Self {
            data_type: "Number".to_owned(),
            string_value: Some(value.to_string()),
            binary_value: None,
        }
    }
}

/// What a producer hands to a target. Shared (`Arc`) between attempts and subscribers.
///
/// The texts are shared strings: the producer builds an event's body once and the journal, the
/// dead-letter copy and the target's store all keep the same bytes; a copy is a reference count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub body: Arc<str>,
    pub attributes: BTreeMap<String, MessageAttribute>,
    /// FIFO targets: the message group; stream targets (Kinesis): the partition key. The engine
    /// keeps a group's messages in order.
    pub group_id: Option<String>,
    /// FIFO targets: explicit deduplication id.
    pub dedup_id: Option<String>,
    /// The ARN of the resource that produced the message (`aws:SourceArn`).
    pub source_arn: Option<Arc<str>>,
    /// The account that owns the producing resource (`aws:SourceAccount`).
    pub source_account: Option<Arc<str>>,
    /// The service principal that sends on the producer's behalf (`s3.amazonaws.com`), checked
    /// against the target's resource policy at delivery.
    pub principal: Option<Arc<str>>,
    /// An `X-Amzn-Trace-Id` to carry on (SQS's `AWSTraceHeader` system attribute).
    pub trace_header: Option<Arc<str>>,
    /// SNS: the subject.
    pub subject: Option<String>,
}

impl Default for Message {
    fn default() -> Self {
        Self::new("")
    }
}

impl Message {
    pub fn new(body: impl Into<Arc<str>>) -> Self {
        Self {
            body: body.into(),
            attributes: BTreeMap::new(),
            group_id: None,
            dedup_id: None,
            source_arn: None,
            source_account: None,
            principal: None,
            trace_header: None,
            subject: None,
        }
    }

    /// Bytes the engine accounts for this message in its bounds.
    pub fn size(&self) -> usize {
        let attrs: usize = self
            .attributes
            .iter()
            .map(|(k, v)| {
                k.len()
                    + v.data_type.len()
                    + v.string_value.as_ref().map_or(0, String::len)
                    + v.binary_value.as_ref().map_or(0, Vec::len)
            })
            .sum();
        self.body.len() + attrs + 64
    }
}

/// Why a delivery attempt failed, as the target reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// The target does not exist (deleted queue, unknown function).
    NotFound,
    /// The target's resource policy does not let the producer's principal deliver.
    AccessDenied,
    /// Worth trying again later (throttled, temporarily unavailable, timed out).
    Retryable,
    /// Will never succeed (message too large, rejected by the target).
    Terminal,
}

/// A failed attempt: the kind (which decides retry) and AWS's error code and message (which go
/// into the ledger and dead-letter attributes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct DeliveryError {
    pub kind: FailureKind,
    pub code: String,
    pub message: String,
}

impl DeliveryError {
    pub fn new(kind: FailureKind, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            kind,
            code: code.into(),
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(FailureKind::NotFound, "ResourceNotFound", message)
    }

    pub fn access_denied(message: impl Into<String>) -> Self {
        Self::new(FailureKind::AccessDenied, "AccessDenied", message)
    }

    pub fn retryable(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(FailureKind::Retryable, code, message)
    }

    pub fn terminal(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(FailureKind::Terminal, code, message)
    }
}

/// Why a destination failed validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DestinationError {
    #[error("destination does not exist")]
    NotFound,
    #[error("destination policy does not allow the principal")]
    AccessDenied,
}

/// A service that can receive messages addressed by ARN.
pub trait Target: Send + Sync + 'static {
    /// Delivers `msg` to the resource `arn` (whose service namespace routed it here). The
    /// target checks its resource policy against `msg.principal` / `msg.source_arn` here too:
    /// a policy changed after a notification was configured still applies.
    fn deliver<'a>(&'a self, arn: &'a Arn, msg: &'a Message) -> BoxFuture<'a, Result<(), DeliveryError>>;

    /// Delivers several messages to one resource; one result per message, in order. Targets that
    /// take batches (SQS) override it; the default delivers one by one.
    fn deliver_batch<'a>(
        &'a self,
        arn: &'a Arn,
        msgs: &'a [Arc<Message>],
    ) -> BoxFuture<'a, Vec<Result<(), DeliveryError>>> {
        Box::pin(async move {
            let mut out = Vec::with_capacity(msgs.len());
            for m in msgs {
                out.push(self.deliver(arn, m).await);
            }
            out
        })
    }

    /// How many messages one [`Target::deliver_batch`] call may carry to `arn`.
    fn max_batch(&self, _arn: &Arn) -> usize {
        1
    }

    /// Checks that `arn` exists and that its resource policy lets the request's principal perform
    /// the request's action. Used to validate notification destinations when they are configured.
    fn authorize(&self, arn: &Arn, req: &PolicyRequest<'_>) -> Result<(), DestinationError>;
}

/// Maps ARN service namespaces (`sqs`, `sns`, `lambda`, ...) to the service that owns them.
/// The binary fills it at start-up; services only read it.
#[derive(Default)]
pub struct Registry {
    services: DashMap<String, Arc<dyn Target>>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn register(&self, service: &str, target: Arc<dyn Target>) {
        self.services.insert(service.to_owned(), target);
    }

    pub fn target(&self, arn: &Arn) -> Option<Arc<dyn Target>> {
        // Clone the Arc out so no shard lock outlives this call.
        self.services.get(&arn.service).map(|t| Arc::clone(t.value()))
    }

    pub fn authorize(&self, arn: &Arn, req: &PolicyRequest<'_>) -> Result<(), DestinationError> {
        match self.target(arn) {
            Some(t) => t.authorize(arn, req),
            None => Err(DestinationError::NotFound),
        }
    }
}

/// Who produced a delivery: the resource (bucket, rule, topic, function) and, where one exists,
/// the configuration or target id within it.
///
/// Shared strings: the ledger keeps a copy per delivery, and a copy is a reference count.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Producer {
    pub arn: Arc<str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Arc<str>>,
}

impl Producer {
    pub fn new(arn: impl Into<Arc<str>>, id: Option<String>) -> Self {
        Self {
            arn: arn.into(),
            id: id.map(Into::into),
        }
    }
}

/// How often and for how long a failed delivery is retried. Only [`FailureKind::Retryable`]
/// failures are retried; the others end the delivery at once (dead-letter or drop).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = no retries).
    pub max_attempts: u32,
    /// A delivery older than this (from submission) is not tried again.
    pub max_age_millis: u64,
    /// The wait before the first retry; doubled for each further one.
    pub base_backoff_millis: u64,
    /// The longest wait between two attempts.
    pub max_backoff_millis: u64,
    /// Randomize each wait between half and all of its value (AWS's "exponential back-off
    /// with jitter"), so retries of many deliveries do not land at once.
    pub jitter: bool,
}

impl RetryPolicy {
    /// One attempt, no retries.
    pub const fn none() -> Self {
        Self {
            max_attempts: 1,
            max_age_millis: u64::MAX,
            base_backoff_millis: 0,
            max_backoff_millis: 0,
            jitter: false,
        }
    }

    /// Exponential back-off with jitter.
    pub const fn exponential(
        max_attempts: u32,
        max_age_millis: u64,
        base_backoff_millis: u64,
        max_backoff_millis: u64,
    ) -> Self {
        Self {
            max_attempts,
            max_age_millis,
            base_backoff_millis,
            max_backoff_millis,
            jitter: true,
        }
    }

    /// What S3 does for event notifications to a destination that is temporarily unavailable:
    /// a few retries over a short time (AWS does not document the schedule; failures that are not
    /// retryable are dropped, as S3 drops them).
    pub const fn s3_notifications() -> Self {
        Self::exponential(5, 60_000, 100, 5_000)
    }

    /// The wait before attempt `attempt + 1`, after `attempt` attempts have failed (`random` is a
    /// uniform random value, used when `jitter` is set).
    pub fn backoff_millis(&self, attempt: u32, random: u64) -> u64 {
        let shift = attempt.saturating_sub(1).min(62);
        let full = self
            .base_backoff_millis
            .saturating_mul(1u64 << shift)
            .min(self.max_backoff_millis);
        if self.jitter && full > 1 {
            let half = full / 2;
            half + random % (full - half + 1)
        } else {
            full
        }
    }
}

/// Why a delivery stopped being retried (EventBridge's `EXHAUSTED_RETRY_CONDITION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Exhausted {
    /// The failure is not one that is retried.
    NotRetryable,
    /// `max_attempts` reached.
    MaximumRetryAttempts,
    /// `max_age_millis` reached.
    MaximumEventAgeInSeconds,
}

/// What the dead-letter attribute builder is told about a delivery that ended in failure.
#[derive(Debug, Clone)]
pub struct Failure<'a> {
    pub target: &'a Arn,
    pub error: &'a DeliveryError,
    /// Attempts made (1 = the first attempt failed and was not retried).
    pub attempts: u32,
    pub exhausted: Exhausted,
}

/// Builds the dead-letter message's attributes (each producer defines its own: EventBridge's
/// `RULE_ARN`, `TARGET_ARN`, `ERROR_CODE`, ...; SNS's; Lambda's).
pub type DeadLetterAttributes = Arc<dyn Fn(&Failure<'_>) -> BTreeMap<String, MessageAttribute> + Send + Sync>;

/// Where a delivery goes when it cannot be delivered.
#[derive(Clone)]
pub struct DeadLetter {
    pub target: Arc<Arn>,
    pub attributes: DeadLetterAttributes,
    /// What the dead-letter target receives, when it is not the delivered message itself
    /// (EventBridge dead-letters the original event, not the target's transformed input). The
    /// attributes are added to it.
    pub message: Option<Arc<Message>>,
}

impl std::fmt::Debug for DeadLetter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadLetter")
            .field("target", &self.target.to_string())
            .finish()
    }
}

/// What the engine does with a delivery it has no room for. The producer chooses: where AWS lets
/// the caller see a failure (PutEvents failed entries, throttling), reject at the API; where it
/// cannot (S3 notifications), drop, count and record it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenFull {
    Reject,
    Drop,
}

/// A producer's own counters of its deliveries' outcomes (EventBridge counts per rule), bumped
/// by the engine next to its per-target counters. Share one across the deliveries to count
/// together.
#[derive(Debug, Default)]
pub struct Tally {
    /// Attempts that succeeded, one per delivery.
    pub delivered: AtomicU64,
    /// Deliveries that failed for good and went to their dead-letter target.
    pub dead_lettered: AtomicU64,
    /// Deliveries that failed for good and were dropped (no dead-letter target, or it refused).
    pub dropped: AtomicU64,
    /// Failed attempts scheduled again.
    pub retried: AtomicU64,
}

impl Tally {
    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// One message for one target, as a producer submits it.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Shared: a producer keeps its targets' ARNs and hands out a reference count per delivery.
    pub target: Arc<Arn>,
    pub message: Arc<Message>,
    pub producer: Producer,
    /// The producer's id of the event this delivery carries (an S3 request id, an EventBridge
    /// event id), shown in the ledger.
    pub event_id: Option<Arc<str>>,
    pub retry: RetryPolicy,
    pub dead_letter: Option<DeadLetter>,
    pub when_full: WhenFull,
    /// The producer's counters for this delivery's outcome, if it keeps any.
    pub tally: Option<Arc<Tally>>,
}

impl Delivery {
    /// A delivery with no retries, no dead-letter target, dropped when full.
    pub fn new(target: impl Into<Arc<Arn>>, message: Arc<Message>, producer: Producer) -> Self {
        Self {
            target: target.into(),
            message,
            producer,
            event_id: None,
            retry: RetryPolicy::none(),
            dead_letter: None,
            when_full: WhenFull::Drop,
            tally: None,
        }
    }
}

#[cfg(test)]
mod tests;
