//! The delivery engine: one lane per target, retries on the clock, dead-letter targets, bounds in
//! count and bytes, a fate for every delivery.
//!
//! Shape (see the module docs of [`super`] for the contract):
//! - `Inner::lanes` maps a target ARN to its [`Lane`]: a queue of ready jobs in submission order,
//!   a timer-ordered map of jobs waiting to be retried, and the FIFO groups that are busy. Each
//!   lane has its own task, so a slow or failing target never delays another's deliveries.
//! - A lane's task starts up to `concurrency_per_target` attempts at once, each carrying up to
//!   [`Target::max_batch`] messages; first attempts start in submission order, and a FIFO
//!   group's next message waits while one of the group's is in flight or waiting to be retried.
//! - A failed attempt is retried by putting the job in the lane's retry map with its due time;
//!   the lane task waits on the [`Clock`] for the earliest one (`sleep_until`), never in line.
//! - A job ends delivered, dead-lettered (handed to its dead-letter target as a new job) or
//!   dropped with a reason; each is counted per target and recorded in the [`Ledger`].
//!
//! **Invariant:** `submitted == delivered + dead_lettered + dropped + pending`, per target and in
//! total. Lane and ledger locks are std mutexes held for a few operations, never across an await.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use dashmap::DashMap;
use futures::stream::FuturesUnordered;
use futures::{FutureExt as _, StreamExt as _};
use serde::Serialize;
use tokio::sync::Notify;
use tracing::debug;

use super::ledger::{Fate, Ledger};
use super::rate_log::RateLimitedLog;
use super::{
    DeadLetter, Delivery, DeliveryError, Exhausted, Failure, FailureKind, Message, Producer, Registry, RetryPolicy,
    Tally, Target, WhenFull,
};
use crate::arn::Arn;
use crate::clock::{BoxFuture, Clock, ClockHold};

/// Bounds and sizes of the engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Deliveries held for one target (queued, in flight or waiting to be retried).
    pub max_pending_per_target: usize,
    /// Bytes of message held for one target.
    pub max_bytes_per_target: usize,
    /// Deliveries held in all.
    pub max_pending_total: usize,
    /// Bytes of message held in all.
    pub max_bytes_total: usize,
    /// Attempts (each a batch) one target may have in flight at once.
    pub concurrency_per_target: usize,
    /// Records the ledger keeps (the oldest leave first).
    pub ledger_capacity: usize,
    /// The retry policy of a delivery to a dead-letter target.
    pub dead_letter_retry: RetryPolicy,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            max_pending_per_target: 100_000,
            max_bytes_per_target: 256 * 1024 * 1024,
            max_pending_total: 1_000_000,
            max_bytes_total: 1024 * 1024 * 1024,
            concurrency_per_target: 4,
            ledger_capacity: 10_000,
            dead_letter_retry: RetryPolicy::exponential(5, 60_000, 100, 5_000),
        }
    }
}

/// Why [`Engine::submit`] did not accept a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// No room (per target or in total). With [`WhenFull::Drop`] the delivery was recorded as
    /// dropped; with [`WhenFull::Reject`] nothing was recorded and the caller reports the failure.
    #[error("the delivery queue is full")]
    Full,
    /// The engine is shutting down.
    #[error("the delivery engine is shutting down")]
    ShuttingDown,
}

#[derive(Debug, Default)]
struct Counters {
    submitted: AtomicU64,
    delivered: AtomicU64,
    dead_lettered: AtomicU64,
    dropped: AtomicU64,
    retried: AtomicU64,
    pending: AtomicUsize,
    bytes: AtomicUsize,
}

impl Counters {
    fn fate(&self, fate: Fate) {
        let c = match fate {
            Fate::Delivered => &self.delivered,
            Fate::DeadLettered => &self.dead_lettered,
            Fate::Dropped => &self.dropped,
            Fate::Pending => return,
        };
        c.fetch_add(1, Ordering::Release);
    }
}

/// Totals over every target. `submitted == delivered + deadLettered + dropped + pending`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EngineStats {
    pub submitted: u64,
    pub delivered: u64,
    pub dead_lettered: u64,
    pub dropped: u64,
    pub pending: u64,
    /// Attempts that failed and were scheduled again.
    pub retried: u64,
    /// Deliveries refused at the door ([`WhenFull::Reject`]); not counted as submitted.
    pub rejected: u64,
}

/// One target's counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetStats {
    pub target: String,
    pub submitted: u64,
    pub delivered: u64,
    pub dead_lettered: u64,
    pub dropped: u64,
    pub pending: u64,
    pub retried: u64,
}

/// What [`Engine::shutdown`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ShutdownReport {
    /// Deliveries pending at the start that reached a fate before the deadline.
    pub drained: u64,
    /// Deliveries still pending at the deadline, recorded as dropped.
    pub left: u64,
}

/// A delivery inside its lane. The target ARN is not kept: the lane is the target (and dropping
/// the ARN's strings happens on the producer's thread, not the lane's).
struct Job {
    ledger_id: u64,
    message: Arc<Message>,
    producer: Producer,
    event_id: Option<Arc<str>>,
    retry: RetryPolicy,
    dead_letter: Option<DeadLetter>,
    tally: Option<Arc<Tally>>,
    /// Attempts made so far.
    attempts: u32,
    submitted_at: u64,
    size: usize,
}

#[derive(Default)]
struct LaneState {
    ready: VecDeque<Job>,
    /// Jobs waiting for a retry, by (due time, sequence).
    retry: BTreeMap<(u64, u64), Job>,
    retry_seq: u64,
    /// FIFO groups with a message in flight or waiting for a retry: their next message waits.
    busy_groups: HashMap<String, usize>,
}

struct Lane {
    target: Arc<Arn>,
    /// The target ARN as text, shared by every ledger record of this lane.
    key: Arc<str>,
    state: Mutex<LaneState>,
    wake: Notify,
    counters: Counters,
}

impl Lane {
    fn lock(&self) -> MutexGuard<'_, LaneState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// How far into the ready queue a lane looks past messages of busy FIFO groups.
const GROUP_SCAN: usize = 256;

impl LaneState {
    /// Takes up to `max` jobs that may be attempted now: due retries first, then ready jobs in
    /// order, skipping those whose FIFO group is busy.
    fn take(&mut self, now: u64, max: usize) -> Vec<Job> {
        let mut out = Vec::new();
        while out.len() < max {
            let Some(entry) = self.retry.first_entry() else { break };
            if entry.key().0 > now {
                break;
            }
            // The group stays busy: it was counted when the job first went out.
            out.push(entry.remove());
        }
        // Groups this batch has taken from: their later messages may join it (in order); a
        // group busy before this batch waits.
        let mut taken: Vec<String> = Vec::new();
        let mut i = 0;
        while out.len() < max && i < self.ready.len().min(GROUP_SCAN) {
            let group = self.ready[i].message.group_id.as_deref();
            if group.is_some_and(|g| self.busy_groups.contains_key(g) && !taken.iter().any(|t| t == g)) {
                i += 1;
                continue;
            }
            let Some(job) = self.ready.remove(i) else { break };
            if let Some(g) = job.message.group_id.clone() {
                *self.busy_groups.entry(g.clone()).or_insert(0) += 1;
                if !taken.contains(&g) {
                    taken.push(g);
                }
            }
            out.push(job);
        }
        out
    }

    fn next_due(&self) -> Option<u64> {
        self.retry.keys().next().map(|(due, _)| *due)
    }

    fn release_group(&mut self, group: Option<&str>) {
        if let Some(g) = group {
            if let Some(n) = self.busy_groups.get_mut(g) {
                *n -= 1;
                if *n == 0 {
                    self.busy_groups.remove(g);
                }
            }
        }
    }
}

struct Inner {
    registry: Arc<Registry>,
    clock: Arc<dyn Clock>,
    config: EngineConfig,
    lanes: DashMap<Arc<Arn>, Arc<Lane>>,
    ledger: Ledger,
    totals: Counters,
    rejected: AtomicU64,
    closing: AtomicBool,
    /// Signalled whenever a delivery reaches its fate while the engine is closing.
    settled: Notify,
    drop_log: RateLimitedLog,
}

/// Asynchronous, at-least-once delivery through the [`Registry`]. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl Engine {
    /// An engine over `registry`, on `clock`. Lanes are spawned on the current tokio runtime as
    /// targets are first used, so `submit` must be called inside one.
    pub fn new(registry: Arc<Registry>, clock: Arc<dyn Clock>, config: EngineConfig) -> Self {
        let ledger = Ledger::new(config.ledger_capacity);
        Self {
            inner: Arc::new(Inner {
                registry,
                clock,
                config,
                lanes: DashMap::new(),
                ledger,
                totals: Counters::default(),
                rejected: AtomicU64::new(0),
                closing: AtomicBool::new(false),
                settled: Notify::new(),
                drop_log: RateLimitedLog::default(),
            }),
        }
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    pub fn registry(&self) -> &Arc<Registry> {
        &self.inner.registry
    }

    /// Accepts `delivery` and returns its ledger id at once; the delivery happens on the
    /// target's lane. When there is no room, [`WhenFull`] decides (see [`SubmitError::Full`]).
    pub fn submit(&self, delivery: Delivery) -> Result<u64, SubmitError> {
        self.inner.enqueue(delivery, None)
    }

    /// Totals, summed over the targets' counters (the delivery path touches only its lane's).
    pub fn stats(&self) -> EngineStats {
        let mut s = EngineStats {
            submitted: 0,
            delivered: 0,
            dead_lettered: 0,
            dropped: 0,
            pending: 0,
            retried: 0,
            rejected: self.inner.rejected.load(Ordering::Relaxed),
        };
        for lane in &self.inner.lanes {
            let c = &lane.value().counters;
            // Read the fates before `submitted`, so a concurrent delivery never makes the sum
            // exceed it; `pending` is derived, so the invariant holds in every snapshot.
            let delivered = c.delivered.load(Ordering::Acquire);
            let dead_lettered = c.dead_lettered.load(Ordering::Acquire);
            let dropped = c.dropped.load(Ordering::Acquire);
            let submitted = c.submitted.load(Ordering::Acquire);
            s.submitted += submitted;
            s.delivered += delivered;
            s.dead_lettered += dead_lettered;
            s.dropped += dropped;
            s.pending += submitted.saturating_sub(delivered + dead_lettered + dropped);
            s.retried += c.retried.load(Ordering::Relaxed);
        }
        s
    }

    /// Counters of every target the engine has delivered to, sorted by ARN.
    pub fn target_stats(&self) -> Vec<TargetStats> {
        let mut out: Vec<TargetStats> = self
            .inner
            .lanes
            .iter()
            .map(|e| {
                let c = &e.value().counters;
                TargetStats {
                    target: e.value().key.to_string(),
                    submitted: c.submitted.load(Ordering::Relaxed),
                    delivered: c.delivered.load(Ordering::Relaxed),
                    dead_lettered: c.dead_lettered.load(Ordering::Relaxed),
                    dropped: c.dropped.load(Ordering::Relaxed),
                    pending: c.pending.load(Ordering::Relaxed) as u64,
                    retried: c.retried.load(Ordering::Relaxed),
                }
            })
            .collect();
        out.sort_by(|a, b| a.target.cmp(&b.target));
        out
    }

    pub fn ledger(&self) -> &Ledger {
        &self.inner.ledger
    }

    /// Stops accepting deliveries, waits up to `grace` (real time) for the pending ones to reach
    /// their fate, then records what is left as dropped.
    pub async fn shutdown(&self, grace: Duration) -> ShutdownReport {
        let inner = &self.inner;
        inner.closing.store(true, Ordering::SeqCst);
        let start = inner.totals.pending.load(Ordering::SeqCst) as u64;
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            let settled = inner.settled.notified();
            if inner.totals.pending.load(Ordering::SeqCst) == 0 {
                break;
            }
            tokio::select! {
                () = settled => {}
                () = tokio::time::sleep_until(deadline) => break,
            }
        }
        let mut left = 0u64;
        let lanes: Vec<Arc<Lane>> = inner.lanes.iter().map(|e| Arc::clone(e.value())).collect();
        for lane in lanes {
            let jobs: Vec<Job> = {
                let mut st = lane.lock();
                let mut jobs: Vec<Job> = st.ready.drain(..).collect();
                jobs.extend(std::mem::take(&mut st.retry).into_values());
                jobs
            };
            for job in jobs {
                left += 1;
                inner.settle(
                    &lane,
                    job,
                    Fate::Dropped,
                    Some("shutdown: not delivered before the deadline".into()),
                    None,
                );
            }
        }
        // Attempts still in flight finish on their own and record their real fate.
        ShutdownReport {
            drained: start.saturating_sub(left + inner.totals.pending.load(Ordering::SeqCst) as u64),
            left,
        }
    }
}

impl Inner {
    fn lane(self: &Arc<Self>, target: &Arc<Arn>) -> Arc<Lane> {
        if let Some(l) = self.lanes.get(&**target) {
            return Arc::clone(l.value());
        }
        let entry = self.lanes.entry(Arc::clone(target)).or_insert_with(|| {
            let lane = Arc::new(Lane {
                target: Arc::clone(target),
                key: target.to_string().into(),
                state: Mutex::new(LaneState::default()),
                wake: Notify::new(),
                counters: Counters::default(),
            });
            tokio::spawn(run_lane(Arc::downgrade(self), Arc::clone(&lane)));
            lane
        });
        Arc::clone(entry.value())
    }

    fn enqueue(self: &Arc<Self>, delivery: Delivery, dead_letter_of: Option<u64>) -> Result<u64, SubmitError> {
        let now = self.clock.now_millis();
        let size = delivery.message.size();
        let lane = self.lane(&delivery.target);
        let refusal = if self.closing.load(Ordering::SeqCst) {
            Some((SubmitError::ShuttingDown, "the delivery engine is shutting down"))
        } else if lane.counters.pending.load(Ordering::Relaxed) >= self.config.max_pending_per_target
            || lane.counters.bytes.load(Ordering::Relaxed) + size > self.config.max_bytes_per_target
        {
            Some((SubmitError::Full, "the target's delivery queue is full"))
        } else if self.totals.pending.load(Ordering::Relaxed) >= self.config.max_pending_total
            || self.totals.bytes.load(Ordering::Relaxed) + size > self.config.max_bytes_total
        {
            Some((SubmitError::Full, "the delivery engine is full"))
        } else {
            None
        };
        if refusal.is_some() && delivery.when_full == WhenFull::Reject {
            self.rejected.fetch_add(1, Ordering::Relaxed);
            return Err(refusal.map_or(SubmitError::Full, |(err, _)| err));
        }
        let ledger_id = self.ledger.open(
            &delivery.producer,
            &lane.key,
            delivery.event_id.as_ref(),
            now,
            dead_letter_of,
        );
        if let Some((err, reason)) = refusal {
            lane.counters.dropped.fetch_add(1, Ordering::Release);
            lane.counters.submitted.fetch_add(1, Ordering::Release);
            self.ledger
                .settle(ledger_id, Fate::Dropped, Some(reason.to_owned()), None);
            self.drop_log.drop_warning(now, &lane.key, reason);
            return Err(err);
        }
        for c in [&self.totals, &lane.counters] {
            c.pending.fetch_add(1, Ordering::Relaxed);
            c.bytes.fetch_add(size, Ordering::Relaxed);
        }
        lane.counters.submitted.fetch_add(1, Ordering::Release);
        let Delivery {
            target,
            message,
            producer,
            event_id,
            retry,
            dead_letter,
            when_full: _,
            tally,
        } = delivery;
        let job = Job {
            ledger_id,
            message,
            producer,
            event_id,
            retry,
            dead_letter,
            tally,
            attempts: 0,
            submitted_at: now,
            size,
        };
        lane.lock().ready.push_back(job);
        drop(target);
        lane.wake.notify_one();
        Ok(ledger_id)
    }

    /// Records `job`'s fate and releases what it held.
    fn settle(&self, lane: &Lane, job: Job, fate: Fate, reason: Option<String>, dead_letter_target: Option<String>) {
        self.ledger
            .settle(job.ledger_id, fate, reason.clone(), dead_letter_target);
        self.count_fate(lane, &job, fate, reason);
    }

    /// Counts `job`'s fate (already in the ledger) and releases what it held.
    fn count_fate(&self, lane: &Lane, job: &Job, fate: Fate, reason: Option<String>) {
        for c in [&self.totals, &lane.counters] {
            c.pending.fetch_sub(1, Ordering::Relaxed);
            c.bytes.fetch_sub(job.size, Ordering::Relaxed);
        }
        lane.counters.fate(fate);
        if let Some(t) = &job.tally {
            match fate {
                Fate::DeadLettered => t.dead_lettered.fetch_add(1, Ordering::Relaxed),
                Fate::Dropped => t.dropped.fetch_add(1, Ordering::Relaxed),
                Fate::Delivered => t.delivered.fetch_add(1, Ordering::Relaxed),
                Fate::Pending => 0,
            };
        }
        if fate == Fate::Dropped {
            self.drop_log.drop_warning(
                self.clock.now_millis(),
                &lane.key,
                reason.as_deref().unwrap_or("dropped"),
            );
        } else {
            debug!(target_arn = %lane.target, ledger_id = job.ledger_id, fate = fate.as_str(), attempts = job.attempts, "delivery settled");
        }
        if self.closing.load(Ordering::Relaxed) {
            self.settled.notify_waiters();
        }
    }

    /// What to do with the results of one attempt. Successes (the common case) are recorded
    /// together: one ledger lock and one update of each counter per attempt, not per message.
    fn finish(self: &Arc<Self>, lane: &Lane, jobs: Vec<Job>, results: Vec<Result<(), DeliveryError>>) {
        let now = self.clock.now_millis();
        let mut results = results.into_iter();
        let mut delivered: Vec<u64> = Vec::with_capacity(jobs.len());
        let mut delivered_bytes = 0usize;
        let mut groups_done: Vec<String> = Vec::new();
        for mut job in jobs {
            job.attempts += 1;
            let result = results.next().unwrap_or_else(|| {
                Err(DeliveryError::terminal(
                    "InternalFailure",
                    "the target returned fewer results than messages",
                ))
            });
            match result {
                Ok(()) => {
                    if let Some(t) = &job.tally {
                        t.delivered.fetch_add(1, Ordering::Relaxed);
                    }
                    delivered.push(job.ledger_id);
                    delivered_bytes += job.size;
                    if let Some(g) = &job.message.group_id {
                        groups_done.push(g.clone());
                    }
                    debug!(target_arn = %lane.target, ledger_id = job.ledger_id, attempts = job.attempts, "delivered");
                }
                Err(err) => {
                    self.ledger
                        .attempt(job.ledger_id, now, outcome(err.kind), Some(err.to_string()), None);
                    let group = job.message.group_id.clone();
                    match self.retry_at(&job, &err, now) {
                        Ok(due) => {
                            lane.counters.retried.fetch_add(1, Ordering::Relaxed);
                            if let Some(t) = &job.tally {
                                t.retried.fetch_add(1, Ordering::Relaxed);
                            }
                            debug!(target_arn = %lane.target, ledger_id = job.ledger_id, attempt = job.attempts, due, error = %err, "delivery failed, will retry");
                            let mut st = lane.lock();
                            let seq = st.retry_seq;
                            st.retry_seq += 1;
                            st.retry.insert((due, seq), job);
                            drop(st);
                            lane.wake.notify_one();
                        }
                        Err(exhausted) => {
                            lane.lock().release_group(group.as_deref());
                            self.fail(lane, job, &err, exhausted);
                        }
                    }
                }
            }
        }
        if delivered.is_empty() {
            return;
        }
        self.ledger.delivered(&delivered, now);
        if !groups_done.is_empty() {
            let mut st = lane.lock();
            for g in &groups_done {
                st.release_group(Some(g));
            }
        }
        let n = delivered.len();
        for c in [&self.totals, &lane.counters] {
            c.pending.fetch_sub(n, Ordering::Relaxed);
            c.bytes.fetch_sub(delivered_bytes, Ordering::Relaxed);
        }
        lane.counters.delivered.fetch_add(n as u64, Ordering::Release);
        if self.closing.load(Ordering::Relaxed) {
            self.settled.notify_waiters();
        }
    }

    /// When to try `job` again, or why not.
    fn retry_at(&self, job: &Job, err: &DeliveryError, now: u64) -> Result<u64, Exhausted> {
        let policy = &job.retry;
        if err.kind != FailureKind::Retryable {
            return Err(Exhausted::NotRetryable);
        }
        if job.attempts >= policy.max_attempts {
            return Err(Exhausted::MaximumRetryAttempts);
        }
        let due = now.saturating_add(policy.backoff_millis(job.attempts, crate::ids::random_u64()));
        if due.saturating_sub(job.submitted_at) > policy.max_age_millis {
            return Err(Exhausted::MaximumEventAgeInSeconds);
        }
        Ok(due)
    }

    /// A delivery that will not succeed: to its dead-letter target if it has one, else dropped.
    fn fail(self: &Arc<Self>, lane: &Lane, job: Job, err: &DeliveryError, exhausted: Exhausted) {
        let why = match exhausted {
            Exhausted::NotRetryable => format!("{err} (not retried)"),
            Exhausted::MaximumRetryAttempts => format!("{err} (after {} attempts)", job.attempts),
            Exhausted::MaximumEventAgeInSeconds => {
                format!("{err} (maximum event age reached after {} attempts)", job.attempts)
            }
        };
        let Some(dl) = job.dead_letter.clone() else {
            self.settle(lane, job, Fate::Dropped, Some(why), None);
            return;
        };
        let failure = Failure {
            target: &lane.target,
            error: err,
            attempts: job.attempts,
            exhausted,
        };
        let mut message: Message = Message::clone(dl.message.as_ref().unwrap_or(&job.message));
        message.attributes.extend((dl.attributes)(&failure));
        let dead = Delivery {
            target: Arc::clone(&dl.target),
            message: Arc::new(message),
            producer: job.producer.clone(),
            event_id: job.event_id.clone(),
            retry: self.config.dead_letter_retry,
            dead_letter: None,
            when_full: WhenFull::Drop,
            tally: None,
        };
        match self.enqueue(dead, Some(job.ledger_id)) {
            Ok(_) => {
                let to = dl.target.to_string();
                self.settle(lane, job, Fate::DeadLettered, Some(why), Some(to));
            }
            Err(e) => {
                let reason = format!("{why}; the dead-letter target {} refused it: {e}", dl.target);
                self.settle(lane, job, Fate::Dropped, Some(reason), None);
            }
        }
    }
}

fn outcome(kind: FailureKind) -> &'static str {
    match kind {
        FailureKind::NotFound => "not-found",
        FailureKind::AccessDenied => "access-denied",
        FailureKind::Retryable => "retryable",
        FailureKind::Terminal => "terminal",
    }
}

type AttemptFuture = BoxFuture<'static, (Vec<Job>, Vec<Result<(), DeliveryError>>)>;

/// One attempt at delivering `jobs` to `arn` through `target` (None: no service owns the ARN).
fn attempt(target: Option<Arc<dyn Target>>, arn: Arc<Arn>, jobs: Vec<Job>) -> AttemptFuture {
    Box::pin(async move {
        let n = jobs.len();
        let results = match target {
            None => vec![Err(DeliveryError::not_found(format!("no service handles {arn}"))); n],
            Some(t) => {
                let msgs: Vec<Arc<Message>> = jobs.iter().map(|j| Arc::clone(&j.message)).collect();
                let fut = if n == 1 {
                    let t = Arc::clone(&t);
                    let arn = Arc::clone(&arn);
                    let m = Arc::clone(&msgs[0]);
                    async move { vec![t.deliver(&arn, &m).await] }.boxed()
                } else {
                    let t = Arc::clone(&t);
                    let arn = Arc::clone(&arn);
                    async move { t.deliver_batch(&arn, &msgs).await }.boxed()
                };
                // A target that panics fails its attempt; it never takes the lane down.
                match AssertUnwindSafe(fut).catch_unwind().await {
                    Ok(r) => r,
                    Err(_) => vec![Err(DeliveryError::retryable("InternalFailure", "the target panicked")); n],
                }
            }
        };
        (jobs, results)
    })
}

/// A lane's task: starts attempts while there is work and room, waits for results, new work or
/// the next retry's due time. Ends when the engine is dropped.
async fn run_lane(engine: Weak<Inner>, lane: Arc<Lane>) {
    let mut in_flight: FuturesUnordered<AttemptFuture> = FuturesUnordered::new();
    // Held from a retry timer firing until this lane has acted on it and waits again, so a
    // manual clock's step moves through retries one deadline at a time.
    let mut hold: Option<ClockHold> = None;
    let mut busy_rounds = 0u32;
    loop {
        let Some(inner) = engine.upgrade() else { return };
        let now = inner.clock.now_millis();
        let target = inner.registry.target(&lane.target);
        let max_batch = target.as_ref().map_or(1, |t| t.max_batch(&lane.target).max(1));
        while in_flight.len() < inner.config.concurrency_per_target.max(1) {
            let jobs = lane.lock().take(now, max_batch);
            if jobs.is_empty() {
                break;
            }
            in_flight.push(attempt(target.clone(), Arc::clone(&lane.target), jobs));
        }
        let next_due = lane.lock().next_due();
        // Registered now (before the hold is released), awaited below.
        let due: BoxFuture<'static, ClockHold> = match next_due {
            Some(d) => inner.clock.sleep_until_held(d),
            None => Box::pin(std::future::pending()),
        };
        drop(inner);
        if in_flight.is_empty() {
            drop(hold.take());
        }
        let notified = lane.wake.notified();
        tokio::select! {
            Some((jobs, results)) = in_flight.next(), if !in_flight.is_empty() => {
                if let Some(inner) = engine.upgrade() {
                    inner.finish(&lane, jobs, results);
                }
                // A lane that never waits (a target failing fast, a deep queue) gives the
                // worker back now and then, so other lanes and requests run beside it.
                busy_rounds += 1;
                if busy_rounds.is_multiple_of(32) {
                    tokio::task::yield_now().await;
                }
            }
            // No yield here to let a burst gather: measured under load (PutEvents from 16
            // connections) a yielding lane fell behind its producers until the engine was full.
            () = notified => {}
            h = due => hold = Some(h),
        }
    }
}
