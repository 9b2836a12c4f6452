//! Rate-limited warnings: a flood of drops logs one line per interval with how many it stands
//! for, never one line each.

use std::sync::atomic::{AtomicU64, Ordering};

use tracing::warn;

const INTERVAL_MILLIS: u64 = 5_000;

#[derive(Debug, Default)]
pub(crate) struct RateLimitedLog {
    /// When the last line was written (clock millis + 1; 0 = never).
    last: AtomicU64,
    /// Occurrences since the last line.
    suppressed: AtomicU64,
}

impl RateLimitedLog {
    /// Logs `reason` for `target` unless a line was written less than five seconds ago; then it
    /// is counted and reported with the next line.
    pub(crate) fn drop_warning(&self, now: u64, target: &str, reason: &str) {
        let last = self.last.load(Ordering::Relaxed);
        let due = last == 0 || now.saturating_sub(last - 1) >= INTERVAL_MILLIS;
        if due
            && self
                .last
                .compare_exchange(last, now + 1, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let suppressed = self.suppressed.swap(0, Ordering::Relaxed);
            warn!(target_arn = target, reason, suppressed, "delivery dropped");
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
        }
    }
}
