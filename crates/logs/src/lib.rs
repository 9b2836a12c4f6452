//! CloudWatch Logs: log groups, log streams and their events, retention on the clock, filter
//! patterns, resource policies and tags (AWS JSON 1.1, `X-Amz-Target: Logs_20140328.*`).
//!
//! - [`store`]: groups per region and account, streams, events ordered by (timestamp, sequence),
//!   and the process-wide bound on stored events (the oldest ingested leave first, counted).
//! - [`service`]: the operations as plain Rust (validation with AWS's texts included).
//! - [`pattern`]: the filter pattern language (terms, JSON and space-delimited patterns).
//! - [`target`]: the `logs` delivery target (EventBridge rules' CloudWatch Logs targets) and the
//!   [`lb_core::logs::LogSink`] other services write through (Lambda).
//! - [`api`]: the wire edge.
//!
//! Retention is applied on the clock: an event older than its group's retention (by its
//! timestamp) is gone from every read the moment the clock passes it, and removed from memory on
//! the group's next read or write.

pub mod api;
pub mod errors;
pub mod pattern;
pub mod service;
pub mod store;
pub mod target;

#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex, MutexGuard};

use lb_core::Clock;

use crate::store::Store;

/// Limits of the store.
#[derive(Debug, Clone, Copy)]
pub struct LogsConfig {
    /// Events stored in all groups together; past it the oldest ingested events are dropped
    /// (counted in `localbridge_logs_events_dropped_total`).
    pub max_events: usize,
}

impl Default for LogsConfig {
    fn default() -> Self {
        Self { max_events: 1_000_000 }
    }
}

/// CloudWatch Logs for every region and account.
pub struct Logs {
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: LogsConfig,
    /// One lock over the store: every operation is a few map lookups and a bounded copy; the
    /// lock is never held across an await.
    store: Mutex<Store>,
}

/// Counters of the store, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogsStats {
    pub stored: usize,
    pub dropped: u64,
    pub expired: u64,
    pub capacity: usize,
}

impl Logs {
    pub fn new(clock: Arc<dyn Clock>, config: LogsConfig) -> Self {
        Self {
            clock,
            config,
            store: Mutex::new(Store::default()),
        }
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        // Every critical section leaves the store consistent before anything can panic.
        self.store.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn now(&self) -> u64 {
        self.clock.now_millis()
    }

    pub fn stats(&self) -> LogsStats {
        let s = self.store();
        LogsStats {
            stored: s.live,
            dropped: s.dropped,
            expired: s.expired,
            capacity: self.config.max_events,
        }
    }
}
