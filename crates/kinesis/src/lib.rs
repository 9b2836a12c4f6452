//! Kinesis Data Streams: streams of shards, records placed by partition key (MD5 hash key
//! ranges), shard iterators that expire on the clock, retention, tags (AWS JSON 1.1,
//! `X-Amz-Target: Kinesis_20131202.*`).
//!
//! - [`keys`]: hash keys, shard ids, sequence numbers (their layout documented there) and shard
//!   iterators.
//! - [`store`]: streams per region and account, each shard's records behind its own short-held
//!   lock, retention and the process-wide bound on stored records (oldest dropped first, counted).
//! - [`service`]: the operations as plain Rust (validation with AWS's texts included).
//! - [`source`]: the stream as an [`lb_core::stream::StreamSource`], read by other services'
//!   pollers by ARN.
//! - [`target`]: the stream as a delivery `Target` (EventBridge, Pipes, Scheduler → Kinesis).
//! - [`api`]: the wire edge (AWS JSON 1.1), and [`cbor`]: the same operations in CBOR.

pub mod api;
pub mod cbor;
pub mod errors;
pub mod keys;
pub mod service;
pub mod source;
pub mod store;
pub mod target;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use lb_core::Clock;

use crate::store::Store;

/// Limits of the store.
#[derive(Debug, Clone, Copy)]
pub struct KinesisConfig {
    /// Records stored in all streams together; past it the oldest are dropped (counted in
    /// `localbridge_kinesis_records_dropped_total`).
    pub max_records: usize,
    /// How long a new stream stays `CREATING` on the clock before it is `ACTIVE`.
    pub create_delay_millis: u64,
    /// Whether provisioned shards enforce AWS's write limits (1,000 records and 1 MiB per
    /// second each), failing records with `ProvisionedThroughputExceededException`.
    pub shard_limits: bool,
}

impl Default for KinesisConfig {
    fn default() -> Self {
        Self {
            max_records: 1_000_000,
            create_delay_millis: 0,
            shard_limits: false,
        }
    }
}

/// Kinesis Data Streams for every region and account.
pub struct Kinesis {
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: KinesisConfig,
    pub(crate) store: Store,
}

/// Counters of the store, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KinesisStats {
    pub stored: usize,
    pub dropped: u64,
    pub expired: u64,
    pub capacity: usize,
}

impl Kinesis {
    pub fn new(clock: Arc<dyn Clock>, config: KinesisConfig) -> Self {
        Self {
            clock,
            config,
            store: Store::default(),
        }
    }

    pub(crate) fn now(&self) -> u64 {
        self.clock.now_millis()
    }

    pub fn stats(&self) -> KinesisStats {
        let (stored, dropped, expired) = self.store.counters();
        KinesisStats {
            stored,
            dropped,
            expired,
            capacity: self.config.max_records,
        }
    }
}
