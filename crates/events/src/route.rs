//! The data plane: each bus's enabled rules compiled into one [`Machine`], and each rule's
//! targets compiled for delivery (input, retry policy, dead-letter queue), so routing an event
//! is one match and one [`Delivery`] per matched target.
//!
//! A bus's [`Router`] changes incrementally (a rule added, replaced or removed touches only its
//! own patterns) behind a `RwLock`: routing takes the read lock for the match only, never across
//! an `.await`.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use lb_core::arn::Arn;
use lb_core::deliver::{
    DeadLetter, Delivery, Exhausted, Failure, FailureKind, Message, MessageAttribute, Producer, RetryPolicy, Tally,
    WhenFull,
};
use lb_rules::compiled::Machine;
use lb_rules::pattern::Pattern;
use lb_rules::transform::{InputPath, InputTransformer, TransformContext};
use serde_json::Value;

use crate::connections::HttpParameters;

/// The service principal EventBridge delivers as; target resource policies must allow it.
pub const PRINCIPAL: &str = "events.amazonaws.com";

/// The attribute an API-destination delivery carries its target's `HttpParameters` in (JSON),
/// read back by the events target itself; never seen by another service.
pub(crate) const HTTP_PARAMETERS_ATTRIBUTE: &str = "lb.events.http-parameters";

/// RetryPolicy defaults (EventBridge User Guide, "Event retry policy"): 24 hours, 185 retries.
pub const DEFAULT_MAX_RETRY_ATTEMPTS: u32 = 185;
pub const DEFAULT_MAX_EVENT_AGE_SECONDS: u64 = 86_400;

/// The back-off of EventBridge's retries: exponential with jitter from one second, at most five
/// minutes between two attempts (AWS does not publish its schedule).
const BASE_BACKOFF_MILLIS: u64 = 1_000;
const MAX_BACKOFF_MILLIS: u64 = 300_000;

/// What a target receives.
#[derive(Debug, Clone)]
pub(crate) enum TargetInput {
    /// The matched event.
    Event,
    /// `Input`: constant JSON text.
    Constant(Arc<str>),
    /// `InputPath`: part of the event.
    Path(InputPath),
    /// `InputTransformer`.
    Transformer(InputTransformer),
}

/// A target compiled for delivery.
#[derive(Debug)]
pub(crate) struct RouteTarget {
    pub id: Arc<str>,
    pub arn: Arc<Arn>,
    pub arn_text: Arc<str>,
    pub input: TargetInput,
    pub retry: RetryPolicy,
    pub dead_letter: Option<Arc<Arn>>,
    /// `SqsParameters.MessageGroupId`.
    pub group_id: Option<String>,
    /// The target is a FIFO queue: the event id is the deduplication id.
    pub fifo: bool,
    pub http: Option<HttpParameters>,
    /// Kinesis targets: `KinesisParameters.PartitionKeyPath`; without it the event id is the
    /// partition key (EventBridge API Reference, "KinesisParameters").
    pub partition_key: Option<InputPath>,
}

impl RouteTarget {
    pub fn retry_policy(max_attempts: Option<u32>, max_age_seconds: Option<u64>) -> RetryPolicy {
        let retries = max_attempts.unwrap_or(DEFAULT_MAX_RETRY_ATTEMPTS);
        let age = max_age_seconds.unwrap_or(DEFAULT_MAX_EVENT_AGE_SECONDS);
        RetryPolicy::exponential(retries + 1, age * 1000, BASE_BACKOFF_MILLIS, MAX_BACKOFF_MILLIS)
    }
}

/// A rule's outcome counters under AWS's metric names (see [`RuleCounters::snapshot`]).
#[derive(Debug, Default)]
pub(crate) struct RuleCounters {
    pub matched: AtomicU64,
    /// Deliveries the engine refused for want of room (`ThrottledRules`).
    pub throttled: AtomicU64,
    /// Targets whose input could not be built (an InputTransformer whose output is not JSON).
    pub input_failures: AtomicU64,
    pub tally: Arc<Tally>,
}

/// AWS's per-rule metrics, as numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct RuleMetrics {
    pub matched_events: u64,
    pub invocations: u64,
    pub failed_invocations: u64,
    pub invocations_sent_to_dlq: u64,
    pub retry_invocation_attempts: u64,
    pub throttled_rules: u64,
}

impl RuleMetrics {
    /// MatchedEvents, Invocations, FailedInvocations, InvocationsSentToDlq,
    /// RetryInvocationAttempts, ThrottledRules, in that order.
    pub fn values(&self) -> [u64; 6] {
        [
            self.matched_events,
            self.invocations,
            self.failed_invocations,
            self.invocations_sent_to_dlq,
            self.retry_invocation_attempts,
            self.throttled_rules,
        ]
    }
}

impl RuleCounters {
    /// `Invocations` counts every invocation that ended (delivered, dead-lettered or dropped);
    /// `FailedInvocations` those that failed for good without reaching a dead-letter queue
    /// (EventBridge counts those in `InvocationsSentToDLQ` instead).
    pub fn snapshot(&self) -> RuleMetrics {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let t = &self.tally;
        let failed = get(&t.dropped) + get(&self.input_failures);
        RuleMetrics {
            matched_events: get(&self.matched),
            invocations: get(&t.delivered) + get(&t.dead_lettered) + failed,
            failed_invocations: failed,
            invocations_sent_to_dlq: get(&t.dead_lettered),
            retry_invocation_attempts: get(&t.retried),
            throttled_rules: get(&self.throttled),
        }
    }
}

/// An enabled rule with an event pattern, as routing sees it.
#[derive(Debug)]
pub(crate) struct RouteRule {
    pub name: Arc<str>,
    pub arn: Arc<str>,
    pub pattern: Pattern,
    pub targets: Vec<Arc<RouteTarget>>,
    pub counters: Arc<RuleCounters>,
}

/// One bus's enabled rules.
#[derive(Default)]
pub(crate) struct Router {
    machine: Machine<u32>,
    slots: Vec<Option<Arc<RouteRule>>>,
    free: Vec<u32>,
    by_name: HashMap<Arc<str>, u32>,
}

impl Router {
    /// Adds or replaces the rule of that name.
    pub fn upsert(&mut self, rule: RouteRule) {
        self.remove(&rule.name);
        let key = match self.free.pop() {
            Some(k) => k,
            None => {
                self.slots.push(None);
                (self.slots.len() - 1) as u32
            }
        };
        self.machine.add(key, &rule.pattern);
        self.by_name.insert(Arc::clone(&rule.name), key);
        self.slots[key as usize] = Some(Arc::new(rule));
    }

    pub fn remove(&mut self, name: &str) {
        if let Some(key) = self.by_name.remove(name) {
            self.machine.remove(&key);
            self.slots[key as usize] = None;
            self.free.push(key);
        }
    }

    /// The keys of the rules `event` (raw JSON text) matches, into `keys` (see
    /// [`Router::rule`]). `Err` when the event is not JSON the matcher can read (never the case
    /// for events EventBridge built itself).
    pub fn matching(&self, event: &[u8], keys: &mut Vec<u32>) -> Result<(), String> {
        keys.clear();
        if self.by_name.is_empty() {
            return Ok(());
        }
        self.machine.matches_into(event, keys).map_err(|e| e.to_string())
    }

    pub fn rule(&self, key: u32) -> Option<&Arc<RouteRule>> {
        self.slots.get(key as usize)?.as_ref()
    }

    /// Every rule, in name order.
    pub fn rules(&self) -> Vec<Arc<RouteRule>> {
        let mut out: Vec<_> = self.slots.iter().flatten().cloned().collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }
}

/// A bus as the data plane sees it: its identity, its rules and its resource policy.
pub(crate) struct BusHandle {
    pub arn: Arc<str>,
    pub region: String,
    pub account: String,
    router: RwLock<Router>,
    policy: RwLock<Option<Arc<Value>>>,
    /// The service's scheduled rules, on the bus that may have them (the `default` bus).
    pub schedules: Option<Arc<crate::schedule::Schedules>>,
}

impl BusHandle {
    pub fn new(arn: &str, region: &str, account: &str) -> Self {
        Self {
            arn: arn.into(),
            region: region.to_owned(),
            account: account.to_owned(),
            router: RwLock::new(Router::default()),
            policy: RwLock::new(None),
            schedules: None,
        }
    }

    pub fn router(&self) -> RwLockReadGuard<'_, Router> {
        self.router.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn router_mut(&self) -> RwLockWriteGuard<'_, Router> {
        self.router.write().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn policy(&self) -> Option<Arc<Value>> {
        self.policy.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub fn set_policy(&self, policy: Option<Value>) {
        *self.policy.write().unwrap_or_else(PoisonError::into_inner) = policy.map(Arc::new);
    }
}

/// An event being routed: its text, and its parsed form once some target needs it.
///
/// The strings are shared: every delivery, dead-letter copy and the journal keep these, so an
/// event's text and id exist once however many targets it reaches.
pub(crate) struct RoutedEvent<'a> {
    pub id: Arc<str>,
    pub text: Arc<str>,
    /// The account that sent the event (`aws:SourceAccount` of its deliveries).
    pub account: Arc<str>,
    pub ingestion_time: &'a str,
    pub trace_header: Option<Arc<str>>,
    /// A replay's `Destination.FilterArns`: the only rules the event may reach.
    pub only_rules: Option<&'a [String]>,
    parsed: Option<Value>,
}

impl<'a> RoutedEvent<'a> {
    pub fn new(id: Arc<str>, text: Arc<str>, account: Arc<str>, ingestion_time: &'a str) -> Self {
        Self {
            id,
            text,
            account,
            ingestion_time,
            trace_header: None,
            only_rules: None,
            parsed: None,
        }
    }

    fn parsed(&mut self) -> &Value {
        self.parsed
            .get_or_insert_with(|| serde_json::from_str(&self.text).unwrap_or(Value::Null))
    }
}

/// [`PRINCIPAL`], shared.
fn principal() -> Arc<str> {
    static SHARED: std::sync::LazyLock<Arc<str>> = std::sync::LazyLock::new(|| Arc::from(PRINCIPAL));
    Arc::clone(&SHARED)
}

/// The error codes EventBridge writes to a dead-letter message's `ERROR_CODE` (EventBridge User
/// Guide, "Using dead-letter queues"), by failure kind.
pub fn dlq_error_code(kind: FailureKind, code: &str) -> &'static str {
    match kind {
        FailureKind::NotFound => "NO_RESOURCE",
        FailureKind::AccessDenied => "NO_PERMISSIONS",
        FailureKind::Retryable if code.contains("Throttl") => "THROTTLING",
        FailureKind::Retryable if code.contains("Timeout") => "TIMEOUT",
        FailureKind::Retryable => "ERROR_FROM_TARGET",
        FailureKind::Terminal if code == "InvalidJson" => "INVALID_JSON",
        FailureKind::Terminal => "ERROR_FROM_TARGET",
    }
}

/// The dead-letter message attributes (`RULE_ARN`, `TARGET_ARN`, `ERROR_CODE`,
/// `ERROR_MESSAGE`, `EXHAUSTED_RETRY_CONDITION` when a retry limit ended the delivery,
/// `RETRY_ATTEMPTS`).
fn dead_letter_attributes(rule_arn: Arc<str>, target_arn: Arc<str>) -> lb_core::deliver::DeadLetterAttributes {
    Arc::new(move |f: &Failure<'_>| {
        let mut a = BTreeMap::new();
        a.insert("RULE_ARN".to_owned(), MessageAttribute::string(&*rule_arn));
        a.insert("TARGET_ARN".to_owned(), MessageAttribute::string(&*target_arn));
        a.insert(
            "ERROR_CODE".to_owned(),
            MessageAttribute::string(dlq_error_code(f.error.kind, &f.error.code)),
        );
        a.insert(
            "ERROR_MESSAGE".to_owned(),
            MessageAttribute::string(f.error.message.clone()),
        );
        let condition = match f.exhausted {
            Exhausted::NotRetryable => None,
            Exhausted::MaximumRetryAttempts => Some("MaximumRetryAttempts"),
            Exhausted::MaximumEventAgeInSeconds => Some("MaximumEventAgeInSeconds"),
        };
        if let Some(c) = condition {
            a.insert("EXHAUSTED_RETRY_CONDITION".to_owned(), MessageAttribute::string(c));
        }
        a.insert(
            "RETRY_ATTEMPTS".to_owned(),
            MessageAttribute::number(f.attempts.saturating_sub(1)),
        );
        a
    })
}

/// The delivery of `event` to one target of `rule`; `Err` with the reason when the target's
/// input cannot be built.
pub(crate) fn delivery(event: &mut RoutedEvent<'_>, rule: &RouteRule, t: &RouteTarget) -> Result<Delivery, String> {
    delivery_for(event, &rule.name, &rule.arn, &rule.counters, t)
}

/// [`delivery`] for a rule given by its parts (a scheduled rule has no pattern to route by).
pub(crate) fn delivery_for(
    event: &mut RoutedEvent<'_>,
    rule_name: &Arc<str>,
    rule_arn: &Arc<str>,
    counters: &RuleCounters,
    t: &RouteTarget,
) -> Result<Delivery, String> {
    let body: Arc<str> = match &t.input {
        TargetInput::Event => Arc::clone(&event.text),
        TargetInput::Constant(text) => Arc::clone(text),
        TargetInput::Path(path) => path.apply(event.parsed()).to_string().into(),
        TargetInput::Transformer(tr) => {
            let ctx = TransformContext {
                rule_arn,
                rule_name,
                ingestion_time: event.ingestion_time,
            };
            tr.apply(event.parsed(), &ctx).map_err(|e| e.to_string())?.into()
        }
    };
    let group_id = if t.arn.service == "kinesis" {
        // The partition key travels as the message group. A path that selects nothing falls
        // back to the event id.
        let selected = t.partition_key.as_ref().map(|p| p.apply(event.parsed()));
        Some(match selected {
            Some(Value::String(s)) => s,
            Some(Value::Null) | None => event.id.to_string(),
            Some(other) => other.to_string(),
        })
    } else {
        t.group_id.clone()
    };
    let sent = |body: Arc<str>| Message {
        source_arn: Some(Arc::clone(rule_arn)),
        source_account: Some(Arc::clone(&event.account)),
        principal: Some(principal()),
        trace_header: event.trace_header.clone(),
        ..Message::new(body)
    };
    let mut message = Message {
        group_id,
        dedup_id: t.fifo.then(|| event.id.to_string()),
        ..sent(body)
    };
    if let Some(http) = &t.http {
        if let Ok(json) = serde_json::to_string(http) {
            message
                .attributes
                .insert(HTTP_PARAMETERS_ATTRIBUTE.to_owned(), MessageAttribute::string(json));
        }
    }
    let dead_letter = t.dead_letter.as_ref().map(|arn| DeadLetter {
        target: Arc::clone(arn),
        attributes: dead_letter_attributes(Arc::clone(rule_arn), Arc::clone(&t.arn_text)),
        message: Some(Arc::new(sent(Arc::clone(&event.text)))),
    });
    Ok(Delivery {
        target: Arc::clone(&t.arn),
        message: Arc::new(message),
        producer: Producer {
            arn: Arc::clone(rule_arn),
            id: Some(Arc::clone(&t.id)),
        },
        event_id: Some(Arc::clone(&event.id)),
        retry: t.retry,
        dead_letter,
        when_full: WhenFull::Reject,
        tally: Some(Arc::clone(&counters.tally)),
    })
}
