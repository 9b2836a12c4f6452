//! Amazon Data Firehose: delivery streams that buffer records and deliver them as objects to the
//! S3 stub (AWS JSON 1.1, `X-Amz-Target: Firehose_20150804.*`).
//!
//! - [`model`]: the S3 destination configuration, validated once (every member honoured or
//!   refused), and its description.
//! - [`prefix`]: object keys as Firehose names them (default and custom prefixes, the suffix).
//! - [`service`]: the operations as plain Rust.
//! - [`deliver`]: each stream's buffer task on the platform clock: flush by size or interval,
//!   Lambda transformation, GZIP, the object written through `lb_core::object::ObjectSink`,
//!   retries of failed writes and the error output.
//! - [`source`]: reading a Kinesis stream (`KinesisStreamAsSource`) through
//!   `lb_core::stream::StreamSource`.
//! - [`target`]: Firehose as a delivery target (EventBridge rules, Scheduler): one message is
//!   one record.
//! - [`api`]: the wire edge.
//!
//! **Invariant:** a record accepted by PutRecord/PutRecordBatch (or read from a source stream)
//! ends in exactly one of: written in an object, dropped by the transformation function
//! (`Dropped`), written to the error output, or dropped after the retention period of failed
//! deliveries with a logged reason; each is counted in the metrics.

pub mod api;
pub mod deliver;
pub mod errors;
pub mod model;
pub mod prefix;
pub mod service;
pub mod source;
pub mod target;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, Weak};

use bytes::Bytes;
use lb_core::invoke::FunctionInvoker;
use lb_core::object::ObjectSink;
use lb_core::stream::StreamSource;
use lb_core::Clock;
use serde_json::Value;
use tokio::sync::Notify;

use crate::model::S3Destination;

/// What Firehose writes to and reads from, handed over by the binary.
#[derive(Clone, Default)]
pub struct FirehoseDeps {
    pub objects: Option<Arc<dyn ObjectSink>>,
    pub functions: Option<Arc<dyn FunctionInvoker>>,
    pub streams: Option<Arc<dyn StreamSource>>,
    /// Where records Firehose gives up on are recorded: the delivery engine's ledger.
    pub engine: Option<lb_core::deliver::Engine>,
}

#[derive(Debug, Clone, Copy)]
pub struct FirehoseConfig {
    /// How long a new delivery stream stays `CREATING` on the clock.
    pub create_delay_millis: u64,
    /// The most bytes one stream buffers (records waiting for delivery, or for a failing
    /// bucket to come back); past it PutRecord answers `ServiceUnavailableException`.
    pub max_buffered_bytes: usize,
    /// How long failed S3 writes are retried before their records are dropped (AWS: a Direct
    /// PUT stream keeps records 24 hours, and retries S3 delivery until then).
    pub retention_millis: u64,
    /// Delivery streams per region and account (AWS's default quota: 5,000 per region).
    pub max_streams: usize,
}

impl Default for FirehoseConfig {
    fn default() -> Self {
        Self {
            create_delay_millis: 0,
            max_buffered_bytes: 256 * 1024 * 1024,
            retention_millis: 24 * 3600 * 1000,
            max_streams: 5000,
        }
    }
}

/// Where a stream's records come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    DirectPut,
    Kinesis {
        stream_arn: String,
        role_arn: String,
        /// When the stream starts reading (`DeliveryStartTimestamp`), epoch milliseconds.
        start_millis: u64,
    },
}

/// What a record carries from a Kinesis source (the transformation event's
/// `kinesisRecordMetadata`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KinesisMeta {
    pub shard_id: Arc<str>,
    pub partition_key: String,
    pub sequence_number: String,
}

/// One buffered record.
#[derive(Debug, Clone)]
pub struct Record {
    pub data: Bytes,
    /// When Firehose received it (epoch milliseconds on the clock).
    pub arrival_millis: u64,
    pub kinesis: Option<KinesisMeta>,
}

#[derive(Debug, Default)]
pub struct Buffer {
    pub records: std::collections::VecDeque<Record>,
    pub bytes: usize,
}

/// The configuration that UpdateDestination changes.
#[derive(Debug, Clone)]
pub struct StreamConfig {
    pub destination: Arc<S3Destination>,
    pub version: u64,
    pub last_update_millis: Option<u64>,
}

pub struct DeliveryStream {
    pub name: String,
    pub arn: String,
    pub region: String,
    pub account: String,
    pub source: Source,
    pub created_millis: u64,
    pub active_at_millis: u64,
    /// `DeliveryStreamEncryptionConfigurationInput` (server-side encryption of the stream).
    pub encryption: Option<Value>,
    config: Mutex<StreamConfig>,
    tags: Mutex<BTreeMap<String, String>>,
    buffer: Mutex<Buffer>,
    /// Wakes the buffer task: a first record, a full buffer, a deletion.
    wake: Notify,
    deleted: AtomicBool,
    /// The source reader's task, stopped on deletion.
    reader: Mutex<Option<tokio::task::AbortHandle>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves its value consistent before anything can panic.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl DeliveryStream {
    pub fn config(&self) -> StreamConfig {
        lock(&self.config).clone()
    }

    pub fn is_deleted(&self) -> bool {
        self.deleted.load(Ordering::Acquire)
    }

    pub fn buffered_bytes(&self) -> usize {
        lock(&self.buffer).bytes
    }
}

/// Counters, for metrics.
#[derive(Debug, Default)]
pub struct Stats {
    pub records_in: AtomicU64,
    pub bytes_in: AtomicU64,
    pub objects: AtomicU64,
    pub object_bytes: AtomicU64,
    pub records_delivered: AtomicU64,
    pub write_failures: AtomicU64,
    pub records_expired: AtomicU64,
    pub records_transform_dropped: AtomicU64,
    pub records_processing_failed: AtomicU64,
    pub invocation_failures: AtomicU64,
}

type Key = (String, String, String);

/// Firehose for every region and account.
pub struct Firehose {
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) deps: FirehoseDeps,
    pub(crate) config: FirehoseConfig,
    /// (region, account, name) -> stream. Held for a lookup or an insert, never across an await.
    streams: RwLock<BTreeMap<Key, Arc<DeliveryStream>>>,
    pub(crate) stats: Stats,
    me: Weak<Firehose>,
}

impl Firehose {
    pub fn new(clock: Arc<dyn Clock>, deps: FirehoseDeps, config: FirehoseConfig) -> Arc<Self> {
        Arc::new_cyclic(|me| Self {
            clock,
            deps,
            config,
            streams: RwLock::default(),
            stats: Stats::default(),
            me: me.clone(),
        })
    }

    pub(crate) fn now(&self) -> u64 {
        self.clock.now_millis()
    }

    pub(crate) fn stream(&self, region: &str, account: &str, name: &str) -> Option<Arc<DeliveryStream>> {
        self.streams
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(region.to_owned(), account.to_owned(), name.to_owned()))
            .cloned()
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Bytes buffered in all streams now.
    pub fn buffered_bytes(&self) -> usize {
        self.streams
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .map(|s| s.buffered_bytes())
            .sum()
    }
}

pub(crate) fn counter(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}
