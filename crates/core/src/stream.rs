//! Streams as event sources: how pollers (Lambda's Kinesis event source mappings, Pipes, Firehose
//! reading a Kinesis stream) read a stream's shards without importing the service that owns it.
//! The binary hands an `Arc<dyn StreamSource>` (Kinesis) to the services that poll.
//!
//! A reader keeps its own position per shard (a checkpoint); the source only answers reads. The
//! shard list changes with resharding: a closed shard keeps its records until retention, and its
//! children (`parent_shard_id` / `adjacent_parent_shard_id`) are read only once every parent has
//! been read to its end, as AWS's consumers do.

use bytes::Bytes;

use crate::arn::Arn;
use crate::clock::BoxFuture;
use crate::AwsError;

/// One shard of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamShard {
    pub shard_id: String,
    pub parent_shard_id: Option<String>,
    pub adjacent_parent_shard_id: Option<String>,
    /// A closed shard (split or merged) takes no more records.
    pub closed: bool,
}

/// A record as a poller receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRecord {
    pub sequence_number: String,
    pub partition_key: String,
    pub data: Bytes,
    /// `ApproximateArrivalTimestamp`, epoch milliseconds on the platform clock.
    pub approximate_arrival_millis: u64,
}

/// Where a reader starts in a shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartingPosition {
    TrimHorizon,
    Latest,
    /// The first record that arrived at or after this time (epoch milliseconds).
    AtTimestamp(u64),
    AtSequenceNumber(String),
    AfterSequenceNumber(String),
}

/// An opaque position in one shard: the next record a reader will get. Positions only grow; a
/// position behind the shard's trim horizon reads from the oldest record still stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamPosition(pub u64);

/// One read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRead {
    pub records: Vec<StreamRecord>,
    /// Where the next read starts.
    pub next: StreamPosition,
    /// How far the last record returned is behind the shard's newest (AWS's `MillisBehindLatest`).
    pub millis_behind_latest: u64,
    /// The shard is closed and this read reached its last record: the reader moves on to the
    /// shard's children.
    pub end_of_shard: bool,
}

/// A stream service, read by pollers.
pub trait StreamSource: Send + Sync + 'static {
    /// The stream's shards, open and closed (closed ones until their records expire), parents
    /// before children; AWS's `ResourceNotFoundException` when the stream does not exist.
    fn shards(&self, stream: &Arn) -> Result<Vec<StreamShard>, AwsError>;

    /// The position `at` names in `shard_id`.
    fn position(&self, stream: &Arn, shard_id: &str, at: &StartingPosition) -> Result<StreamPosition, AwsError>;

    /// Up to `max` records from `from`, oldest first.
    fn read(&self, stream: &Arn, shard_id: &str, from: StreamPosition, max: usize) -> Result<StreamRead, AwsError>;

    /// Resolves when `shard_id` has a record at or after `from`, when it closes, when the stream
    /// is deleted, or when the platform clock reaches `deadline_millis`, whichever comes first.
    /// Costs nothing while it waits (no polling).
    fn wait<'a>(
        &'a self,
        stream: &'a Arn,
        shard_id: &'a str,
        from: StreamPosition,
        deadline_millis: u64,
    ) -> BoxFuture<'a, ()>;
}
