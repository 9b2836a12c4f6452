//! The timing task and the firing of schedules.
//!
//! One task for every schedule: the state's timer map holds each enabled schedule's next firing
//! by (due time, sequence); the task waits on the platform clock for the earliest
//! ([`lb_core::Clock::sleep_until_held`]), or for a change to the schedules ([`Scheduler::wake`]).
//! When firings are due it takes them in order (a bounded batch per lock), puts each schedule's
//! following firing in the map (or deletes a completed schedule whose `ActionAfterCompletion` is
//! `DELETE`), releases the lock, and submits one delivery per firing to the engine. 10,000
//! schedules firing each minute cost one map operation and one delivery each, and no task each.
//!
//! On a manual clock the wait holds the clock's step until the task has fired what was due and
//! started its next wait, so `POST /_localbridge/clock` fires every schedule due in the window,
//! at its own time, in order.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use lb_core::clock::{BoxFuture, ClockHold};
use lb_core::deliver::{DeadLetter, Delivery, Exhausted, Failure, Message, MessageAttribute, Producer, WhenFull};

use super::schedules::{insert_timer, lane_arn};
use super::{Scheduler, Spec, State};
use crate::invoke::{render, seconds_text, Context};
use crate::target::Execution;

/// Firings taken per lock acquisition.
const BATCH: usize = 1024;
/// How often in-flight executions past their age are swept (clock time).
const SWEEP_MILLIS: u64 = 60_000;

/// One firing taken from the timer.
struct Firing {
    spec: Arc<Spec>,
    scheduled: u64,
    due: u64,
}

pub(crate) async fn run(weak: Weak<Scheduler>) {
    let mut hold: Option<ClockHold> = None;
    let mut next_sweep = 0u64;
    loop {
        let Some(s) = weak.upgrade() else { return };
        // The task keeps the Notify, not the scheduler: dropping the scheduler ends the task.
        let wake = Arc::clone(&s.wake);
        let notified = wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let now = s.clock.now_millis();
        if now >= next_sweep {
            s.executions.sweep(now);
            next_sweep = now + SWEEP_MILLIS;
        }
        let (firings, next) = s.take_due(now);
        if !firings.is_empty() {
            s.fire(firings, now);
            drop(s);
            // Others run between batches; the hold (if any) stays until the next wait starts.
            tokio::task::yield_now().await;
            continue;
        }
        let sleep: BoxFuture<'static, ClockHold> = match next {
            Some(due) => s.clock.sleep_until_held(due),
            None => Box::pin(std::future::pending()),
        };
        // The wait is registered: a step may go on.
        drop(s.woken.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take());
        drop(s);
        drop(hold.take());
        tokio::select! {
            h = sleep => hold = Some(h),
            () = &mut notified => {}
        }
    }
}

impl Scheduler {
    /// Tells the timing task the schedules changed, holding a manual clock's step until it has
    /// started its next wait.
    pub(crate) fn wake_runner(&self) {
        *self.woken.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(self.clock.hold());
        self.wake.notify_one();
    }

    /// Takes the firings due at `now` (up to a batch), placing each schedule's next one.
    /// Returns them and the earliest firing left.
    fn take_due(&self, now: u64) -> (Vec<Firing>, Option<u64>) {
        let mut st = self.state();
        let mut out = Vec::new();
        while out.len() < BATCH {
            let Some(first) = st.timer.first_entry() else { break };
            if first.key().0 > now {
                break;
            }
            let ((due, seq), te) = first.remove_entry();
            let State { accounts, .. } = &mut *st;
            let Some(group) = accounts
                .get_mut(&(te.key.region.clone(), te.key.account.clone()))
                .and_then(|a| a.groups.get_mut(&te.key.group))
            else {
                continue;
            };
            let Some(entry) = group.schedules.get_mut(&te.key.name) else {
                continue;
            };
            if entry.timer != Some((due, seq)) {
                continue;
            }
            entry.timer = None;
            entry.last = Some(te.scheduled);
            let spec = Arc::clone(&entry.spec);
            let following = if spec.compiled.one_time() {
                entry.fired = true;
                None
            } else {
                spec.compiled
                    .next_after(te.scheduled, spec.anchor)
                    .filter(|t| spec.end.is_none_or(|e| *t <= e))
            };
            match following {
                Some(t) => insert_timer(&mut st, &spec, t),
                None if spec.delete_after_completion => {
                    // After the last invocation (a one-time schedule's only one, a recurring
                    // schedule's last before its EndDate).
                    group.schedules.remove(&te.key.name);
                    st.schedules -= 1;
                    self.counters.deleted_after_completion.fetch_add(1, Ordering::Relaxed);
                }
                None => {}
            }
            out.push(Firing {
                spec,
                scheduled: te.scheduled,
                due,
            });
        }
        let next = st.timer.first_key_value().map(|(k, _)| k.0);
        (out, next)
    }

    /// Starts one invocation per firing: a delivery on the target's lane.
    fn fire(&self, firings: Vec<Firing>, now: u64) {
        for f in firings {
            self.counters.fired.fetch_add(1, Ordering::Relaxed);
            self.lateness.record(now.saturating_sub(f.due));
            self.invoke(&f.spec, f.scheduled, now);
        }
    }

    /// One invocation of `spec` for `scheduled`.
    pub(crate) fn invoke(&self, spec: &Arc<Spec>, scheduled: u64, now: u64) {
        let execution_id = format!("{:016x}", lb_core::ids::random_u64());
        let scheduled_text = seconds_text(scheduled);
        let key = &spec.key;
        let first = spec.target.input.as_deref().map(|i| {
            render(
                i,
                &Context {
                    schedule_arn: &spec.arn,
                    scheduled_time: &scheduled_text,
                    execution_id: &execution_id,
                    attempt: 1,
                    region: &key.region,
                    account: &key.account,
                    now_millis: now,
                },
            )
        });
        let target_arn = spec.target.arn.clone().unwrap_or_default();
        // A universal target's lane is its resolved resource (a queue, a function), when the
        // Input names one; else the universal ARN.
        let (lane, group_id) = match &spec.lane {
            Some(l) => (Arc::clone(l), None),
            None => {
                let ctx = Context {
                    schedule_arn: &spec.arn,
                    scheduled_time: &scheduled_text,
                    execution_id: &execution_id,
                    attempt: 1,
                    region: &key.region,
                    account: &key.account,
                    now_millis: now,
                };
                match spec.plan.messages(first.as_deref(), &ctx) {
                    Ok(out) if !out.is_empty() => (lane_arn(key, &out[0].0.to_string()), out[0].1.group_id.clone()),
                    _ => (lane_arn(key, &target_arn), None),
                }
            }
        };
        let group_id = group_id.or_else(|| match &*spec.plan {
            crate::invoke::Plan::Templated {
                kind: crate::invoke::Templated::Sqs { group_id },
                ..
            } => group_id.clone(),
            _ => None,
        });
        let exec = Execution {
            schedule_arn: Arc::clone(&spec.arn),
            region: key.region.clone(),
            account: key.account.clone(),
            plan: Arc::clone(&spec.plan),
            input: spec.target.input.clone(),
            scheduled_text: scheduled_text.clone(),
            execution_id: execution_id.clone(),
            attempts: std::sync::atomic::AtomicU32::new(0),
            max_attempts: spec.retry.max_attempts,
            expires: now
                .saturating_add(spec.retry.max_age_millis)
                .saturating_add(SWEEP_MILLIS * 10),
        };
        let id = self.executions.insert(exec);
        let mut message = Message::new(id.to_string());
        message.group_id = group_id;
        let dead_letter = spec.dead_letter.as_ref().map(|dl| DeadLetter {
            target: Arc::clone(dl),
            attributes: dead_letter_attributes(
                execution_id.clone(),
                scheduled_text.clone(),
                spec.arn.to_string(),
                target_arn.clone(),
            ),
            message: Some(Arc::new(Message::new(first.clone().unwrap_or_else(|| "{}".to_owned())))),
        });
        let delivery = Delivery {
            target: lane,
            message: Arc::new(message),
            producer: Producer::new(Arc::clone(&spec.arn), None),
            event_id: Some(execution_id.into()),
            retry: spec.retry,
            dead_letter,
            when_full: WhenFull::Reject,
            tally: Some(Arc::clone(&self.tally)),
        };
        if let Err(e) = self.engine.submit(delivery) {
            self.executions.remove(id);
            self.counters.throttled.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(schedule_arn = %spec.arn, error = %e, "invocation not started: the delivery engine had no room");
        }
    }
}

/// The dead-letter message's attributes, as the Scheduler User Guide shows them
/// (configuring-schedule-dlq.html): `ERROR_CODE`, `ERROR_MESSAGE`, `EXECUTION_ID`,
/// `EXHAUSTED_RETRY_CONDITION` (only when a retry limit ended the delivery),
/// `IS_PAYLOAD_TRUNCATED`, `RETRY_ATTEMPTS`, `SCHEDULED_TIME`, `SCHEDULE_ARN`, `TARGET_ARN`.
fn dead_letter_attributes(
    execution_id: String,
    scheduled: String,
    schedule_arn: String,
    target_arn: String,
) -> lb_core::deliver::DeadLetterAttributes {
    Arc::new(move |f: &Failure<'_>| {
        let mut a = std::collections::BTreeMap::new();
        a.insert("ERROR_CODE".to_owned(), MessageAttribute::string(f.error.code.clone()));
        a.insert(
            "ERROR_MESSAGE".to_owned(),
            MessageAttribute::string(f.error.message.clone()),
        );
        a.insert(
            "EXECUTION_ID".to_owned(),
            MessageAttribute::string(execution_id.clone()),
        );
        match f.exhausted {
            Exhausted::MaximumRetryAttempts => {
                a.insert(
                    "EXHAUSTED_RETRY_CONDITION".to_owned(),
                    MessageAttribute::string("MaximumRetryAttempts"),
                );
            }
            Exhausted::MaximumEventAgeInSeconds => {
                a.insert(
                    "EXHAUSTED_RETRY_CONDITION".to_owned(),
                    MessageAttribute::string("MaximumEventAgeInSeconds"),
                );
            }
            Exhausted::NotRetryable => {}
        }
        a.insert("IS_PAYLOAD_TRUNCATED".to_owned(), MessageAttribute::string("false"));
        a.insert(
            "RETRY_ATTEMPTS".to_owned(),
            MessageAttribute::string(f.attempts.saturating_sub(1).to_string()),
        );
        a.insert("SCHEDULED_TIME".to_owned(), MessageAttribute::string(scheduled.clone()));
        a.insert(
            "SCHEDULE_ARN".to_owned(),
            MessageAttribute::string(schedule_arn.clone()),
        );
        a.insert("TARGET_ARN".to_owned(), MessageAttribute::string(target_arn.clone()));
        a
    })
}

/// Bucket bounds of the lateness histogram, in milliseconds.
pub const LATENESS_BOUNDS_MILLIS: &[u64] = &[0, 1, 5, 10, 50, 100, 500, 1_000, 5_000, 10_000, 60_000];

/// A histogram of firing lateness: the clock when a firing was taken minus its due time.
#[derive(Debug)]
pub struct LatencyHistogram {
    buckets: Vec<AtomicU64>,
    sum_millis: AtomicU64,
    count: AtomicU64,
    max_millis: AtomicU64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self {
            buckets: (0..=LATENESS_BOUNDS_MILLIS.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_millis: AtomicU64::new(0),
            count: AtomicU64::new(0),
            max_millis: AtomicU64::new(0),
        }
    }
}

impl LatencyHistogram {
    pub fn record(&self, millis: u64) {
        let i = LATENESS_BOUNDS_MILLIS
            .iter()
            .position(|b| millis <= *b)
            .unwrap_or(LATENESS_BOUNDS_MILLIS.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum_millis.fetch_add(millis, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.max_millis.fetch_max(millis, Ordering::Relaxed);
    }

    /// Cumulative counts per bound (the last one is every sample), the sum, the count, the max.
    pub fn snapshot(&self) -> (Vec<(Option<u64>, u64)>, u64, u64, u64) {
        let mut acc = 0;
        let mut out = Vec::with_capacity(self.buckets.len());
        for (i, b) in self.buckets.iter().enumerate() {
            acc += b.load(Ordering::Relaxed);
            out.push((LATENESS_BOUNDS_MILLIS.get(i).copied(), acc));
        }
        (
            out,
            self.sum_millis.load(Ordering::Relaxed),
            self.count.load(Ordering::Relaxed),
            self.max_millis.load(Ordering::Relaxed),
        )
    }
}
