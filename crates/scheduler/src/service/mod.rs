//! The Scheduler service as plain Rust: schedule groups and schedules per region and account,
//! the one timer that fires them, and the counters.
//!
//! - `groups.rs`: CreateScheduleGroup ... ListScheduleGroups, tags.
//! - `schedules.rs`: CreateSchedule ... ListSchedules; validation with botocore's constraints;
//!   each schedule compiled once (its expression, target plan, retry policy, dead-letter queue).
//! - `runner.rs`: the timing task — one ordered map of next fire times for every schedule,
//!   one task waiting on the platform clock for the earliest, woken when a schedule changes —
//!   and the firing: one delivery per invocation, handed to the delivery engine.
//!
//! **Invariant:** one mutex over the state and the timer map, held for map operations only,
//! never across an await; deliveries are built and submitted after it is released.

mod groups;
mod runner;
mod schedules;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use lb_core::arn::Arn;
use lb_core::deliver::{Engine, RetryPolicy, Tally};
use lb_core::{AwsError, Clock, RequestContext};
use serde_json::Value;
use tokio::sync::Notify;

use crate::expression::Compiled;
use crate::invoke::Plan;
use crate::model::{FlexibleTimeWindow, TargetSpec};
use crate::target::Executions;

pub use runner::{LatencyHistogram, LATENESS_BOUNDS_MILLIS};

/// The group every account has.
pub const DEFAULT_GROUP: &str = "default";

/// Limits.
#[derive(Debug, Clone, Copy)]
pub struct SchedulerConfig {
    /// Schedules held in all (AWS's default quota is 1,000,000 per account and region).
    pub max_schedules: usize,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            max_schedules: 1_000_000,
        }
    }
}

/// What identifies a schedule.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ScheduleKey {
    pub region: String,
    pub account: String,
    pub group: String,
    pub name: String,
}

/// A schedule as accepted, compiled once.
#[derive(Debug)]
pub(crate) struct Spec {
    pub key: Arc<ScheduleKey>,
    pub arn: Arc<str>,
    pub expression: String,
    pub timezone: Option<String>,
    pub compiled: Compiled,
    pub start: Option<u64>,
    pub end: Option<u64>,
    pub description: Option<String>,
    pub enabled: bool,
    pub kms_key_arn: Option<String>,
    /// As GetSchedule returns it (the retry policy's defaults filled in).
    pub target: TargetSpec,
    pub plan: Arc<Plan>,
    /// The delivery lane of a target known when the schedule is compiled.
    pub lane: Option<Arc<Arn>>,
    pub retry: RetryPolicy,
    pub dead_letter: Option<Arc<Arn>>,
    pub flexible: FlexibleTimeWindow,
    /// The flexible window in milliseconds (0: `OFF`).
    pub window_millis: u64,
    pub delete_after_completion: bool,
    pub action_after_completion: String,
    pub created: u64,
    pub modified: u64,
    /// Where a `rate()` expression's periods start.
    pub anchor: u64,
}

/// A schedule in its group: its spec and its place in the timer.
#[derive(Debug)]
pub(crate) struct Entry {
    pub spec: Arc<Spec>,
    /// The key of its next firing in [`State::timer`].
    pub timer: Option<(u64, u64)>,
    /// A one-time schedule that has fired (it does not fire again unless its expression changes).
    pub fired: bool,
    /// The scheduled time of its latest firing (never fired again for it).
    pub last: Option<u64>,
}

#[derive(Debug)]
pub(crate) struct Group {
    pub arn: String,
    pub created: u64,
    pub modified: u64,
    /// In the order they were first set.
    pub tags: Vec<(String, String)>,
    pub schedules: BTreeMap<String, Entry>,
}

#[derive(Debug, Default)]
pub(crate) struct Account {
    pub groups: BTreeMap<String, Group>,
}

/// One pending firing.
#[derive(Debug, Clone)]
pub(crate) struct TimerEntry {
    pub key: Arc<ScheduleKey>,
    /// The time the schedule is for (the context attribute `scheduled-time`).
    pub scheduled: u64,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub accounts: HashMap<(String, String), Account>,
    /// (due, sequence) → firing; the earliest first.
    pub timer: BTreeMap<(u64, u64), TimerEntry>,
    pub timer_seq: u64,
    pub schedules: usize,
}

/// Counters for `/_localbridge/metrics`.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub fired: AtomicU64,
    pub throttled: AtomicU64,
    pub deleted_after_completion: AtomicU64,
}

/// A replayed answer to a request carrying a `ClientToken` seen before.
#[derive(Debug)]
struct TokenRecord {
    fingerprint: String,
    answer: Value,
}

/// `ClientToken`s remembered, oldest first out past the bound.
#[derive(Debug, Default)]
struct Tokens {
    map: HashMap<(String, String, &'static str, String), TokenRecord>,
    order: VecDeque<(String, String, &'static str, String)>,
}

/// How many client tokens are remembered.
const MAX_TOKENS: usize = 10_000;

/// EventBridge Scheduler for every region and account.
pub struct Scheduler {
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) engine: Engine,
    pub(crate) config: SchedulerConfig,
    state: Mutex<State>,
    tokens: Mutex<Tokens>,
    /// Wakes the timing task when the earliest firing may have changed.
    pub(crate) wake: Arc<Notify>,
    /// Held from a change until the timing task waits again (a manual clock's step waits for
    /// it, so a clock moved right after CreateSchedule stops at the new schedule's firing).
    pub(crate) woken: Mutex<Option<lb_core::clock::ClockHold>>,
    pub(crate) executions: Executions,
    pub(crate) tally: Arc<Tally>,
    pub(crate) counters: Counters,
    pub(crate) lateness: LatencyHistogram,
}

impl Scheduler {
    /// A scheduler delivering through `engine`, its timing task spawned on the current runtime
    /// (it ends when the scheduler is dropped). Register it in the engine's registry under
    /// `scheduler` ([`Scheduler::NAMESPACE`]): its invocations reach their targets through it.
    pub fn new(clock: Arc<dyn Clock>, engine: Engine, config: SchedulerConfig) -> Arc<Self> {
        let s = Arc::new(Self {
            clock,
            engine,
            config,
            state: Mutex::new(State::default()),
            tokens: Mutex::new(Tokens::default()),
            wake: Arc::new(Notify::new()),
            woken: Mutex::new(None),
            executions: Executions::default(),
            tally: Arc::new(Tally::default()),
            counters: Counters::default(),
            lateness: LatencyHistogram::default(),
        });
        tokio::spawn(runner::run(Arc::downgrade(&s)));
        s
    }

    /// The ARN namespace the scheduler's invocations are delivered under.
    pub const NAMESPACE: &'static str = "scheduler";

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        // Every critical section leaves the state consistent before anything can panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn now(&self) -> u64 {
        self.clock.now_millis()
    }

    /// Runs `f` once per `ClientToken`: a request repeating an earlier one's token and
    /// parameters gets the earlier answer (AWS's idempotency); other requests run.
    pub(crate) fn idempotent(
        &self,
        ctx: &RequestContext,
        op: &'static str,
        token: Option<&str>,
        fingerprint: &str,
        f: impl FnOnce() -> Result<Value, AwsError>,
    ) -> Result<Value, AwsError> {
        let Some(token) = token else { return f() };
        let key = (ctx.region.clone(), ctx.account.clone(), op, token.to_owned());
        {
            let tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(r) = tokens.map.get(&key) {
                if r.fingerprint == fingerprint {
                    return Ok(r.answer.clone());
                }
            }
        }
        let answer = f()?;
        let mut tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        if tokens.map.len() >= MAX_TOKENS {
            if let Some(old) = tokens.order.pop_front() {
                tokens.map.remove(&old);
            }
        }
        let record = TokenRecord {
            fingerprint: fingerprint.to_owned(),
            answer: answer.clone(),
        };
        if tokens.map.insert(key.clone(), record).is_none() {
            tokens.order.push_back(key);
        }
        Ok(answer)
    }

    /// Counters for metrics.
    pub fn stats(&self) -> SchedulerStats {
        let (schedules, pending) = {
            let st = self.state();
            (st.schedules, st.timer.len())
        };
        SchedulerStats {
            schedules,
            pending_firings: pending,
            fired: self.counters.fired.load(Ordering::Relaxed),
            throttled: self.counters.throttled.load(Ordering::Relaxed),
            deleted_after_completion: self.counters.deleted_after_completion.load(Ordering::Relaxed),
            delivered: Tally::get(&self.tally.delivered),
            dead_lettered: Tally::get(&self.tally.dead_lettered),
            dropped: Tally::get(&self.tally.dropped),
            retried: Tally::get(&self.tally.retried),
            executions: self.executions.len(),
        }
    }

    /// The histogram of firing lateness (the clock at firing minus the time due).
    pub fn lateness(&self) -> &LatencyHistogram {
        &self.lateness
    }
}

/// The scheduler's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchedulerStats {
    pub schedules: usize,
    pub pending_firings: usize,
    /// Invocations started (one per firing).
    pub fired: u64,
    /// Invocations the delivery engine had no room for.
    pub throttled: u64,
    /// Schedules deleted after their last invocation (`ActionAfterCompletion: DELETE`).
    pub deleted_after_completion: u64,
    pub delivered: u64,
    pub dead_lettered: u64,
    pub dropped: u64,
    pub retried: u64,
    /// Invocations in flight (delivering or waiting for a retry).
    pub executions: usize,
}

/// Epoch milliseconds as rest-json's timestamp (epoch seconds, fractional).
pub(crate) fn timestamp(millis: u64) -> Value {
    #[allow(clippy::cast_precision_loss)]
    let secs = millis as f64 / 1000.0;
    serde_json::Number::from_f64(secs).map_or(Value::Null, Value::Number)
}
