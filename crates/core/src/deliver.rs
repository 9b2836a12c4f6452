//! ARN-addressed delivery. Every service that can receive events (SQS now; SNS, Lambda, Kinesis,
//! Firehose later) implements [`Target`] and is registered under its ARN service namespace. A
//! producer (S3 notifications, later EventBridge and SNS) never calls another service directly: it
//! hands a [`Message`] to the [`Dispatcher`], which delivers it asynchronously, after the API call
//! that caused it has returned.
//!
//! Every submitted message ends in exactly one of: delivered, or dropped with a logged reason.
//! [`DeliveryStats`] counts both, so tests and the health endpoint can prove nothing was lost.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use serde::Serialize;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::arn::Arn;
use crate::policy::PolicyRequest;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A message attribute in the SQS/SNS sense.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageAttribute {
    /// `String`, `Number`, `Binary`, or a custom type such as `String.Array`.
    pub data_type: String,
    pub string_value: Option<String>,
    pub binary_value: Option<Vec<u8>>,
}

/// What a producer hands to a target.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    pub body: String,
    pub attributes: BTreeMap<String, MessageAttribute>,
    /// FIFO targets: the message group.
    pub group_id: Option<String>,
    /// FIFO targets: explicit deduplication id.
    pub dedup_id: Option<String>,
    /// The ARN of the resource that produced the message (`aws:SourceArn`).
    pub source_arn: Option<String>,
}

impl Message {
    pub fn new(body: impl Into<String>) -> Self {
        Self {
            body: body.into(),
            ..Self::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// The target does not exist (deleted queue, unknown function).
    #[error("target not found: {0}")]
    NotFound(String),
    /// Worth trying again later (throttled, temporarily unavailable).
    #[error("retryable: {0}")]
    Retryable(String),
    /// Will never succeed (message too large, rejected by the target).
    #[error("terminal: {0}")]
    Terminal(String),
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
    /// Delivers `msg` to the resource `arn` (whose service namespace routed it here).
    fn deliver<'a>(&'a self, arn: &'a Arn, msg: Message) -> BoxFuture<'a, Result<(), DeliveryError>>;

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

/// Counters of every message the dispatcher has seen. `submitted == delivered + dropped + in flight`.
#[derive(Debug, Default)]
pub struct DeliveryStats {
    pub submitted: AtomicU64,
    pub delivered: AtomicU64,
    pub retried: AtomicU64,
    pub dropped: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DeliveryStatsSnapshot {
    pub submitted: u64,
    pub delivered: u64,
    pub retried: u64,
    pub dropped: u64,
}

impl DeliveryStats {
    pub fn snapshot(&self) -> DeliveryStatsSnapshot {
        DeliveryStatsSnapshot {
            submitted: self.submitted.load(Ordering::Relaxed),
            delivered: self.delivered.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }
}

struct Envelope {
    target: Arn,
    message: Message,
}

/// How many delivery attempts a retryable failure gets, and the first back-off.
const MAX_ATTEMPTS: u32 = 5;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The bound of the dispatcher's queue; past it, submissions are dropped with a logged reason.
pub const DISPATCH_QUEUE_BOUND: usize = 65_536;

/// Asynchronous, ordered, at-least-once delivery through the [`Registry`].
#[derive(Clone)]
pub struct Dispatcher {
    tx: mpsc::Sender<Envelope>,
    stats: Arc<DeliveryStats>,
}

impl Dispatcher {
    /// Starts the delivery task on the current tokio runtime.
    pub fn spawn(registry: Arc<Registry>) -> Self {
        let (tx, rx) = mpsc::channel(DISPATCH_QUEUE_BOUND);
        let stats = Arc::new(DeliveryStats::default());
        tokio::spawn(run(rx, registry, Arc::clone(&stats)));
        Self { tx, stats }
    }

    /// Queues `message` for `target` and returns at once.
    pub fn submit(&self, target: Arn, message: Message) {
        self.stats.submitted.fetch_add(1, Ordering::Relaxed);
        if let Err(err) = self.tx.try_send(Envelope { target, message }) {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            let reason = match err {
                mpsc::error::TrySendError::Full(_) => "dispatch queue full",
                mpsc::error::TrySendError::Closed(_) => "dispatcher stopped",
            };
            warn!(reason, "delivery dropped");
        }
    }

    pub fn stats(&self) -> DeliveryStatsSnapshot {
        self.stats.snapshot()
    }
}

async fn run(mut rx: mpsc::Receiver<Envelope>, registry: Arc<Registry>, stats: Arc<DeliveryStats>) {
    while let Some(env) = rx.recv().await {
        deliver_with_retries(&registry, &stats, env).await;
    }
}

async fn deliver_with_retries(registry: &Registry, stats: &DeliveryStats, env: Envelope) {
    let Envelope { target, message } = env;
    let Some(service) = registry.target(&target) else {
        stats.dropped.fetch_add(1, Ordering::Relaxed);
        warn!(target_arn = %target, reason = "no service handles this ARN", "delivery dropped");
        return;
    };
    let mut backoff = FIRST_BACKOFF;
    for attempt in 1..=MAX_ATTEMPTS {
        match service.deliver(&target, message.clone()).await {
            Ok(()) => {
                stats.delivered.fetch_add(1, Ordering::Relaxed);
                debug!(target_arn = %target, attempt, "delivered");
                return;
            }
            Err(DeliveryError::Retryable(reason)) if attempt < MAX_ATTEMPTS => {
                stats.retried.fetch_add(1, Ordering::Relaxed);
                debug!(target_arn = %target, attempt, %reason, "delivery failed, will retry");
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
            Err(err) => {
                stats.dropped.fetch_add(1, Ordering::Relaxed);
                warn!(target_arn = %target, attempt, reason = %err, "delivery dropped");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Recorder {
        got: Mutex<Vec<(String, String)>>,
        fail_first: AtomicU64,
    }

    impl Target for Recorder {
        fn deliver<'a>(&'a self, arn: &'a Arn, msg: Message) -> BoxFuture<'a, Result<(), DeliveryError>> {
            Box::pin(async move {
                if self.fail_first.load(Ordering::SeqCst) > 0 {
                    self.fail_first.fetch_sub(1, Ordering::SeqCst);
                    return Err(DeliveryError::Retryable("busy".into()));
                }
                if arn.resource == "gone" {
                    return Err(DeliveryError::NotFound(arn.to_string()));
                }
                self.got.lock().unwrap().push((arn.to_string(), msg.body));
                Ok(())
            })
        }

        fn authorize(&self, _arn: &Arn, _req: &PolicyRequest<'_>) -> Result<(), DestinationError> {
            Ok(())
        }
    }

    async fn settle(d: &Dispatcher) {
        for _ in 0..1000 {
            let s = d.stats();
            if s.delivered + s.dropped == s.submitted {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("dispatcher did not settle: {:?}", d.stats());
    }

    #[tokio::test(start_paused = true)]
    async fn delivers_in_order_retries_and_accounts_for_everything() {
        let registry = Arc::new(Registry::new());
        let rec = Arc::new(Recorder::default());
        rec.fail_first.store(2, Ordering::SeqCst);
        registry.register("sqs", rec.clone());
        let d = Dispatcher::spawn(Arc::clone(&registry));
        let q: Arn = "arn:aws:sqs:us-east-1:000000000000:q".parse().unwrap();
        d.submit(q.clone(), Message::new("1"));
        d.submit(q.clone(), Message::new("2"));
        d.submit(
            "arn:aws:sqs:us-east-1:000000000000:gone".parse().unwrap(),
            Message::new("x"),
        );
        d.submit(
            "arn:aws:sns:us-east-1:000000000000:t".parse().unwrap(),
            Message::new("y"),
        );
        settle(&d).await;
        let got = rec.got.lock().unwrap().clone();
        assert_eq!(got.iter().map(|(_, b)| b.as_str()).collect::<Vec<_>>(), ["1", "2"]);
        assert_eq!(
            d.stats(),
            DeliveryStatsSnapshot {
                submitted: 4,
                delivered: 2,
                retried: 2,
                dropped: 2
            }
        );
    }
}
