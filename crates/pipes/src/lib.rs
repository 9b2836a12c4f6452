//! Amazon EventBridge Pipes (rest-json, signing name `pipes`, botocore model `pipes/2015-10-07`).
//!
//! A pipe reads a source (an SQS queue through `lb_core::source::QueueSource`, a Kinesis stream
//! through `lb_core::stream::StreamSource`), keeps the records its `FilterCriteria` match, hands
//! them to an optional Lambda enrichment (`lb_core::invoke::FunctionInvoker`), shapes them with
//! `InputTemplate`s and delivers them to its target (through the delivery `Registry`, or the
//! `FunctionInvoker` for a synchronous Lambda target). Each batch's outcome decides what the
//! source is told: SQS messages are deleted only once delivered (failed ones come back after the
//! queue's visibility timeout); a Kinesis shard's checkpoint moves only past delivered, filtered
//! or dead-lettered records.
//!
//! - `service.rs`: the operations (CreatePipe ... ListTagsForResource), the pipes per region and
//!   account, their states (CREATING → RUNNING/STOPPED, STARTING, STOPPING, UPDATING, DELETING,
//!   moved on the platform clock).
//! - `spec.rs`: a pipe's parameters, validated and compiled once (botocore's constraints).
//! - `runner.rs`: one task per pipe polling its source while it runs; `kinesis.rs` its shard
//!   readers; `process.rs` one batch through filter, enrichment, template and target;
//!   `template.rs` InputTemplate rendering with the reserved `aws.pipes.*` variables.
//! - `api.rs`: the wire edge.
//!
//! **IAM is not enforced**: the pipe's `RoleArn` is required and validated, never evaluated.

pub mod api;
mod kinesis;
mod process;
mod runner;
mod service;
mod spec;
mod template;

#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use lb_core::deliver::Registry;
use lb_core::invoke::FunctionInvoker;
use lb_core::logs::LogSink;
use lb_core::source::QueueSource;
use lb_core::stream::StreamSource;
use lb_core::{AwsError, Clock};

pub use service::{ListInput, Pipes};
pub use spec::PipeInput;

/// Settings of the service.
#[derive(Debug, Clone)]
pub struct PipesConfig {
    /// How long a state change (CREATING, STARTING, STOPPING, UPDATING, DELETING) takes on the
    /// platform clock.
    pub transition_millis: u64,
}

impl Default for PipesConfig {
    fn default() -> Self {
        Self {
            transition_millis: 1_000,
        }
    }
}

/// The services a pipe reaches, wired by the binary (each optional: a pipe whose source or
/// target service is missing is refused at creation, or fails at delivery, visibly).
#[derive(Clone, Default)]
pub struct PipesDeps {
    pub registry: Option<Arc<Registry>>,
    pub queues: Option<Arc<dyn QueueSource>>,
    pub streams: Option<Arc<dyn StreamSource>>,
    pub invoker: Option<Arc<dyn FunctionInvoker>>,
    pub logs: Option<Arc<dyn LogSink>>,
    /// Where the records a pipe gives up on (dead-lettered or discarded) are recorded: the
    /// delivery engine's ledger, beside every other delivery's fate.
    pub engine: Option<lb_core::deliver::Engine>,
}

/// A field of a `ValidationException`'s `fieldList`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub name: String,
    pub message: String,
}

/// An error of the Pipes API: AWS's code, status and message, and the members some error shapes
/// add (`fieldList` for ValidationException, `resourceId`/`resourceType` for ConflictException).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipesError {
    pub aws: AwsError,
    pub field_list: Vec<FieldError>,
    pub resource: Option<(String, &'static str)>,
}

impl From<AwsError> for PipesError {
    fn from(aws: AwsError) -> Self {
        Self {
            aws,
            field_list: Vec::new(),
            resource: None,
        }
    }
}

impl PipesError {
    /// `ValidationException` for one member (`1 validation error detected: ...`).
    pub fn field(name: &str, value: Option<&str>, constraint: &str) -> Self {
        let message = match value {
            Some(v) => format!("Value '{v}' at '{name}' failed to satisfy constraint: {constraint}"),
            None => format!("Value at '{name}' failed to satisfy constraint: {constraint}"),
        };
        Self {
            aws: AwsError::new(
                "ValidationException",
                400,
                format!("1 validation error detected: {message}"),
            ),
            field_list: vec![FieldError {
                name: name.to_owned(),
                message,
            }],
            resource: None,
        }
    }

    /// `ValidationException` with a free message (the member named in `fieldList`).
    pub fn invalid(name: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            aws: AwsError::new("ValidationException", 400, message.clone()),
            field_list: vec![FieldError {
                name: name.to_owned(),
                message,
            }],
            resource: None,
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        AwsError::new("NotFoundException", 404, message).into()
    }

    pub fn conflict(message: impl Into<String>, resource_id: &str) -> Self {
        Self {
            aws: AwsError::new("ConflictException", 409, message),
            field_list: Vec::new(),
            resource: Some((resource_id.to_owned(), "pipe")),
        }
    }
}

/// The service's counters (`/_localbridge/metrics`).
#[derive(Debug, Default)]
pub struct PipeCounters {
    /// Records read from sources.
    pub received: AtomicU64,
    /// Records no filter matched (deleted or checkpointed without delivery).
    pub filtered: AtomicU64,
    /// Events the target accepted.
    pub delivered: AtomicU64,
    /// Source records whose batch (or item) failed and will come back (SQS) or be retried (Kinesis).
    pub failed: AtomicU64,
    /// Batches handed through the pipe.
    pub batches: AtomicU64,
    /// Enrichment invocations that failed (function error or Invoke error).
    pub enrichment_failures: AtomicU64,
    /// Kinesis records sent to the pipe's dead-letter queue after their retries.
    pub dead_lettered: AtomicU64,
    /// Kinesis records dropped after their retries with no dead-letter queue (or it refused them).
    pub discarded: AtomicU64,
}

impl PipeCounters {
    pub(crate) fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }
}

impl Shared {
    /// Counts `n` in the service's counter and the pipe's own.
    pub(crate) fn count(&self, spec: &spec::Spec, which: fn(&PipeCounters) -> &AtomicU64, n: usize) {
        if n > 0 {
            PipeCounters::add(which(&self.counters), n);
            PipeCounters::add(which(&spec.counters), n);
        }
    }
}

/// Shared by the service and its runner tasks.
pub(crate) struct Shared {
    pub clock: Arc<dyn Clock>,
    pub deps: PipesDeps,
    pub config: PipesConfig,
    pub counters: PipeCounters,
}
