//! The one source of wall-clock time. Services take an `Arc<dyn Clock>` so tests can drive
//! visibility timeouts, delays, retention and retries without sleeping.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_millis(&self) -> u64;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

/// A clock that moves only when told to.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    pub fn new(start_millis: u64) -> Self {
        Self(AtomicU64::new(start_millis))
    }

    pub fn advance(&self, millis: u64) {
        self.0.fetch_add(millis, Ordering::SeqCst);
    }

    pub fn set(&self, millis: u64) {
        self.0.store(millis, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_millis(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_millis() {
        assert_eq!(iso8601_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601_millis(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    }

    #[test]
    fn manual_clock_moves_when_told() {
        let c = ManualClock::new(10);
        c.advance(5);
        assert_eq!(c.now_millis(), 15);
    }
}
