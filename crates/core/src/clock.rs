//! The one source of time. Services take an `Arc<dyn Clock>`: they read the time from it and wait
//! on it ([`Clock::sleep_until`]), so a test (or a user with `serve --clock manual`) can drive
//! visibility timeouts, delays, retention, long-poll deadlines and retries without sleeping.
//!
//! Three clocks:
//! - [`SystemClock`]: wall-clock time; waits are tokio timers re-checked against the wall clock
//!   (a laptop that slept, or an NTP step, does not make a deadline fire early).
//! - [`TokioClock`]: wall-clock time at creation plus tokio's monotonic time since. Under
//!   `#[tokio::test(start_paused = true)]` tokio advances time by itself whenever every task is
//!   idle, so a 24-hour retry policy runs in milliseconds, in order, with no race. Rust tests use it.
//! - [`ManualClock`]: moves only when told to. [`ManualClock::advance`] jumps and wakes everything
//!   due; [`ManualClock::step`] moves from one due deadline to the next, letting each waiter run
//!   before the next fires (the `POST /_localbridge/clock` semantics: everything due fires, in order).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A boxed, sendable future (the clock's waits and the delivery interface's results).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How a clock moves: with the wall clock, or only when told to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClockMode {
    System,
    Manual,
}

pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_millis(&self) -> u64;

    /// Completes once [`Clock::now_millis`] has reached `deadline_millis` (at once if it has).
    fn sleep_until(&self, deadline_millis: u64) -> BoxFuture<'static, ()>;

    /// Like [`Clock::sleep_until`], but on a manual clock the wait, once fired, keeps the
    /// clock's [`ManualClock::step`] from moving on until the returned [`ClockHold`] is dropped:
    /// a task that drops it only after it has started its next wait is stepped through every
    /// deadline in order, however long its step takes.
    fn sleep_until_held(&self, deadline_millis: u64) -> BoxFuture<'static, ClockHold> {
        let sleep = self.sleep_until(deadline_millis);
        Box::pin(async move {
            sleep.await;
            ClockHold(None)
        })
    }

    /// On a manual clock, keeps [`ManualClock::step`] from starting or moving on until the
    /// returned [`ClockHold`] is dropped. Taken by whoever hands a clock-driven task new work (a
    /// schedule created) just before waking it; the task drops it once it has started its next
    /// wait, so a step that follows at once still stops at the new deadline.
    fn hold(&self) -> ClockHold {
        ClockHold(None)
    }

    fn mode(&self) -> ClockMode {
        ClockMode::System
    }

    /// The manual clock behind this one, for the endpoint that moves it.
    fn as_manual(&self) -> Option<&ManualClock> {
        None
    }
}

fn system_now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Keeps a manual clock's step at the current deadline while alive (see
/// [`Clock::sleep_until_held`]). Does nothing on the other clocks.
#[must_use]
#[derive(Debug)]
pub struct ClockHold(Option<Arc<AtomicU64>>);

impl Drop for ClockHold {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            c.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Wall-clock time.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> u64 {
        system_now_millis()
    }

    fn sleep_until(&self, deadline_millis: u64) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            loop {
                let now = system_now_millis();
                if now >= deadline_millis {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(deadline_millis - now)).await;
            }
        })
    }
}

/// Wall-clock time when created, then tokio's time (paused and auto-advanced in tests).
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    base_millis: u64,
    base: tokio::time::Instant,
}

impl TokioClock {
    /// A clock reading `start_millis` now. Call inside the runtime whose time it follows.
    pub fn new(start_millis: u64) -> Self {
        Self {
            base_millis: start_millis,
            base: tokio::time::Instant::now(),
        }
    }

    /// A clock starting at the current wall-clock time.
    pub fn starting_now() -> Self {
        Self::new(system_now_millis())
    }

    fn instant_of(&self, deadline_millis: u64) -> tokio::time::Instant {
        self.base + Duration::from_millis(deadline_millis.saturating_sub(self.base_millis))
    }
}

impl Clock for TokioClock {
    fn now_millis(&self) -> u64 {
        let elapsed = u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.base_millis.saturating_add(elapsed)
    }

    fn sleep_until(&self, deadline_millis: u64) -> BoxFuture<'static, ()> {
        let at = self.instant_of(deadline_millis);
        Box::pin(tokio::time::sleep_until(at))
    }
}

/// A waiter on the manual clock: its deadline and whether it has fired.
struct Waiter {
    waker: Option<Waker>,
    fired: bool,
}

#[derive(Default)]
struct Waiters {
    /// (deadline, sequence) -> waiter; ordered, so due waiters are a prefix.
    by_deadline: BTreeMap<(u64, u64), Waiter>,
    next_seq: u64,
}

/// A clock that moves only when told to.
#[derive(Default)]
pub struct ManualClock {
    now: AtomicU64,
    waiters: Arc<Mutex<Waiters>>,
    /// Waits fired whose tasks have not yet finished with them: not yet polled, or holding the
    /// step through a [`ClockHold`] (see [`ManualClock::step`]).
    unobserved: Arc<AtomicU64>,
    /// Waits ever registered (a step settles once this stops moving).
    registrations: AtomicU64,
}

impl std::fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManualClock")
            .field("now", &self.now.load(Ordering::SeqCst))
            .field("waiting", &self.waiting())
            .finish()
    }
}

impl ManualClock {
    pub fn new(start_millis: u64) -> Self {
        Self {
            now: AtomicU64::new(start_millis),
            ..Self::default()
        }
    }

    /// Jumps forward by `millis` and wakes every waiter now due, earliest first. Waiters run
    /// after the jump, so a follow-up wait they start is measured from the new time; use
    /// [`ManualClock::step`] to let each due waiter run at its own deadline.
    pub fn advance(&self, millis: u64) {
        let now = self.now.fetch_add(millis, Ordering::SeqCst).saturating_add(millis);
        self.fire_until(now);
    }

    /// Sets the time (never backwards) and wakes every waiter now due.
    pub fn set(&self, millis: u64) {
        let now = self.now.fetch_max(millis, Ordering::SeqCst).max(millis);
        self.fire_until(now);
    }

    /// Moves forward by `millis` one due deadline at a time (after letting woken tasks start their
    /// waits): the clock stops at each deadline,
    /// wakes its waiters and lets them run (and start new waits, which fire in turn if they fall
    /// inside the window) before moving on. Returns the new time.
    pub async fn step(&self, millis: u64) -> u64 {
        // First let tasks already woken (a scheduler told of a new schedule, a lane given a new
        // delivery) start their waits, so a deadline due inside the step is not missed because
        // its task had not run yet when the request to move the clock arrived.
        self.settle().await;
        let target = self.now_millis().saturating_add(millis);
        loop {
            let next = self.next_deadline().filter(|d| *d <= target);
            let Some(deadline) = next else {
                self.set(target);
                self.settle().await;
                return self.now_millis();
            };
            self.set(deadline);
            self.settle().await;
        }
    }

    /// How many waits are pending.
    pub fn waiting(&self) -> usize {
        self.lock().by_deadline.values().filter(|w| !w.fired).count()
    }

    fn next_deadline(&self) -> Option<u64> {
        self.lock()
            .by_deadline
            .iter()
            .find(|(_, w)| !w.fired)
            .map(|((deadline, _), _)| *deadline)
    }

    /// Waits until every fired waiter has been polled and no new wait has been registered for
    /// two rounds of a millisecond, so the tasks it resumed have finished their step (a delivery
    /// attempt, a receive) and started their next wait. A task that takes longer than that sees
    /// its next deadline fire late (at the end of the step), never not at all.
    async fn settle(&self) {
        // Fired waits not yet polled, or held (see `sleep_until_held`): wait for them, up to a
        // bound (a holder that itself waits on this clock would otherwise stop the step).
        for round in 0..1_000 {
            if self.unobserved.load(Ordering::SeqCst) == 0 {
                break;
            }
            if round < 64 {
                tokio::task::yield_now().await;
            } else {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        // Tasks resumed by plain waits: until no new wait has been registered for a few rounds.
        let mut stable = 0;
        for _ in 0..200 {
            let before = self.registrations.load(Ordering::SeqCst);
            for _ in 0..16 {
                tokio::task::yield_now().await;
            }
            let quiet =
                before == self.registrations.load(Ordering::SeqCst) && self.unobserved.load(Ordering::SeqCst) == 0;
            stable = if quiet { stable + 1 } else { 0 };
            if stable == 3 {
                break;
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Waiters> {
        self.waiters.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn fire_until(&self, now: u64) {
        let mut wakers = Vec::new();
        {
            let mut w = self.lock();
            for (_, waiter) in w.by_deadline.range_mut(..=(now, u64::MAX)) {
                if !waiter.fired {
                    waiter.fired = true;
                    self.unobserved.fetch_add(1, Ordering::SeqCst);
                    wakers.extend(waiter.waker.take());
                }
            }
        }
        // Wake outside the lock, earliest deadline first.
        for waker in wakers {
            waker.wake();
        }
    }
}

impl ManualClock {
    /// Registers a wait (eagerly, so a step sees it at once).
    fn sleep(&self, deadline_millis: u64) -> ManualSleep {
        self.registrations.fetch_add(1, Ordering::SeqCst);
        let key = {
            let mut w = self.lock();
            let seq = w.next_seq;
            w.next_seq += 1;
            w.by_deadline.insert(
                (deadline_millis, seq),
                Waiter {
                    waker: None,
                    fired: false,
                },
            );
            (deadline_millis, seq)
        };
        // Due already, or the clock moved between reading it and the insert.
        if self.now_millis() >= deadline_millis {
            self.fire_until(self.now_millis());
        }
        ManualSleep {
            key,
            waiters: Arc::clone(&self.waiters),
            unobserved: Arc::clone(&self.unobserved),
            done: false,
        }
    }
}

impl Clock for ManualClock {
    fn now_millis(&self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }

    fn sleep_until(&self, deadline_millis: u64) -> BoxFuture<'static, ()> {
        let sleep = self.sleep(deadline_millis);
        Box::pin(async move {
            drop(sleep.await);
        })
    }

    fn sleep_until_held(&self, deadline_millis: u64) -> BoxFuture<'static, ClockHold> {
        Box::pin(self.sleep(deadline_millis))
    }

    fn hold(&self) -> ClockHold {
        self.unobserved.fetch_add(1, Ordering::SeqCst);
        ClockHold(Some(Arc::clone(&self.unobserved)))
    }

    fn mode(&self) -> ClockMode {
        ClockMode::Manual
    }

    fn as_manual(&self) -> Option<&ManualClock> {
        Some(self)
    }
}

/// A wait on the manual clock. Dropping it unregisters it.
struct ManualSleep {
    key: (u64, u64),
    waiters: Arc<Mutex<Waiters>>,
    unobserved: Arc<AtomicU64>,
    done: bool,
}

impl Future for ManualSleep {
    /// Holds the step until dropped: the fired count is released by the hold, not here.
    type Output = ClockHold;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<ClockHold> {
        if self.done {
            return Poll::Ready(ClockHold(None));
        }
        let mut w = self.waiters.lock().unwrap_or_else(PoisonError::into_inner);
        let poll = match w.by_deadline.get_mut(&self.key) {
            Some(waiter) if waiter.fired => {
                w.by_deadline.remove(&self.key);
                Poll::Ready(ClockHold(Some(Arc::clone(&self.unobserved))))
            }
            Some(waiter) => {
                waiter.waker = Some(cx.waker().clone());
                Poll::Pending
            }
            // Only this future removes its entry; nothing to release.
            None => Poll::Ready(ClockHold(None)),
        };
        drop(w);
        if poll.is_ready() {
            self.done = true;
        }
        poll
    }
}

impl Drop for ManualSleep {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut w = self.waiters.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(waiter) = w.by_deadline.remove(&self.key) {
            if waiter.fired {
                self.unobserved.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }
}

/// Formats epoch milliseconds as ISO 8601 with millisecond precision in UTC
/// (`2026-11-22T04:16:31.123Z`), the form S3 event records and many AWS APIs use.
pub fn iso8601_millis(millis: u64) -> String {
    let secs = i64::try_from(millis / 1000).unwrap_or(i64::MAX);
    let ms = millis % 1000;
    let t = time::OffsetDateTime::from_unix_timestamp(secs).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        ms
    )
}

/// RFC 3339 in UTC with second precision (`2026-11-22T04:16:31Z`), when the milliseconds are
/// zero, else with milliseconds.
pub fn rfc3339(millis: u64) -> String {
    let s = iso8601_millis(millis);
    if millis.is_multiple_of(1000) {
        s.replace(".000Z", "Z")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn formats_millis() {
        assert_eq!(iso8601_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601_millis(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(rfc3339(1_700_000_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn manual_clock_moves_when_told() {
        let c = ManualClock::new(10);
        c.advance(5);
        assert_eq!(c.now_millis(), 15);
        c.set(12);
        assert_eq!(c.now_millis(), 15, "never backwards");
    }

    #[tokio::test]
    async fn manual_sleep_fires_on_advance_and_unregisters_on_drop() {
        let c = Arc::new(ManualClock::new(1_000));
        let ready = c.sleep_until(500);
        ready.await;
        let mut s = c.sleep_until(2_000);
        assert!(futures_poll(&mut s).is_pending());
        assert_eq!(c.waiting(), 1);
        c.advance(999);
        assert!(futures_poll(&mut s).is_pending());
        c.advance(1);
        s.await;
        assert_eq!(c.waiting(), 0);
        let dropped = c.sleep_until(5_000);
        assert_eq!(c.waiting(), 1);
        drop(dropped);
        assert_eq!(c.waiting(), 0);
        assert_eq!(c.unobserved.load(Ordering::SeqCst), 0);
    }

    fn futures_poll(f: &mut BoxFuture<'static, ()>) -> Poll<()> {
        let waker = Waker::noop();
        f.as_mut().poll(&mut Context::from_waker(waker))
    }

    /// `step` stops at each deadline in order, and a wait started by a woken task fires in the
    /// same step when its deadline falls inside the window.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn step_fires_chained_waits_in_order() {
        let c = Arc::new(ManualClock::new(0));
        let fired = Arc::new(Mutex::new(Vec::new()));
        let count = Arc::new(AtomicUsize::new(0));
        {
            let (c, fired, count) = (Arc::clone(&c), Arc::clone(&fired), Arc::clone(&count));
            tokio::spawn(async move {
                let mut due = 1_000;
                for _ in 0..185 {
                    c.sleep_until(due).await;
                    fired.lock().unwrap().push(c.now_millis());
                    count.fetch_add(1, Ordering::SeqCst);
                    due += 400;
                }
            });
        }
        while c.waiting() == 0 {
            tokio::task::yield_now().await;
        }
        let now = c.step(86_400_000).await;
        assert_eq!(now, 86_400_000);
        assert_eq!(count.load(Ordering::SeqCst), 185);
        let got = fired.lock().unwrap().clone();
        // Each wait fires at its own deadline, unless the task that starts the next one is
        // descheduled for longer than the settle window (a loaded machine): then late, in order.
        for (i, at) in got.iter().enumerate() {
            assert!(*at >= 1_000 + 400 * i as u64, "{got:?}");
        }
        assert!(got.windows(2).all(|w| w[0] <= w[1]), "{got:?}");
        let on_time = got
            .iter()
            .enumerate()
            .filter(|(i, at)| **at == 1_000 + 400 * *i as u64)
            .count();
        assert!(on_time > 100, "{on_time} of 185 on time: {got:?}");
    }

    /// A task told of new work just before the clock is moved (a schedule created, then the
    /// clock advanced) starts its wait before the step begins, so it fires at its own deadline.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn step_lets_a_just_woken_task_start_its_wait_first() {
        let c = Arc::new(ManualClock::new(0));
        let wake = Arc::new(tokio::sync::Notify::new());
        let fired = Arc::new(Mutex::new(None));
        {
            let (c, wake, fired) = (Arc::clone(&c), Arc::clone(&wake), Arc::clone(&fired));
            tokio::spawn(async move {
                wake.notified().await;
                c.sleep_until(c.now_millis() + 1_000).await;
                *fired.lock().unwrap() = Some(c.now_millis());
            });
        }
        tokio::task::yield_now().await;
        let hold = Arc::new(Mutex::new(Some(c.hold())));
        {
            // The woken task lets the hold go once its wait is registered.
            let (c, hold) = (Arc::clone(&c), Arc::clone(&hold));
            tokio::spawn(async move {
                while c.waiting() == 0 {
                    tokio::task::yield_now().await;
                }
                hold.lock().unwrap().take();
            });
        }
        wake.notify_one();
        c.step(3_600_000).await;
        assert_eq!(*fired.lock().unwrap(), Some(1_000));
    }

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_follows_paused_time() {
        let c = TokioClock::new(1_000_000);
        c.sleep_until(1_000_000 + 86_400_000).await;
        assert!(c.now_millis() >= 1_000_000 + 86_400_000);
    }
}
