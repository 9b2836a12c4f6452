//! `KinesisStreamAsSource`: the stream's shards read through `lb_core::stream::StreamSource`
//! from the delivery stream's creation time (`DeliveryStartTimestamp`), every record appended
//! to the buffer with its `kinesisRecordMetadata`. A shard's children are read once the shard
//! has been read to its end. The reader waits on the source (no polling) and looks at the shard
//! list again every few seconds of the clock, for resharding. A full buffer pauses reading (the
//! records stay in the stream). It stops when the delivery stream is deleted; errors of the
//! source (the stream was deleted) are retried on the clock, as AWS retries them indefinitely.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use futures::future::select_all;
use lb_core::stream::{StartingPosition, StreamPosition, StreamShard};
use lb_core::Arn;
use tracing::warn;

use crate::{DeliveryStream, Firehose, KinesisMeta, Record, Source};

/// Records per read.
const READ_MAX: usize = 1_000;
/// How often (clock milliseconds) the shard list is read again while the reader waits.
const RELIST_MILLIS: u64 = 5_000;

pub(crate) async fn run(fh: Arc<Firehose>, s: Arc<DeliveryStream>) {
    let Source::Kinesis {
        stream_arn,
        start_millis,
        ..
    } = &s.source
    else {
        return;
    };
    let Some(source) = fh.deps.streams.clone() else { return };
    let Ok(arn) = stream_arn.parse::<Arn>() else { return };
    // Shard id -> next position; finished shards.
    let mut positions: BTreeMap<String, StreamPosition> = BTreeMap::new();
    let mut finished: BTreeSet<String> = BTreeSet::new();
    let mut backoff_until = 0u64;
    while !s.is_deleted() {
        let now = fh.now();
        if now < backoff_until {
            fh.clock.sleep_until(backoff_until).await;
            continue;
        }
        let shards = match source.shards(&arn) {
            Ok(shards) => shards,
            Err(e) => {
                warn!(stream = %s.arn, source = %stream_arn, code = %e.code, message = %e.message, "firehose source read failed, retrying");
                backoff_until = now + RELIST_MILLIS;
                continue;
            }
        };
        let readable: Vec<&StreamShard> = shards
            .iter()
            .filter(|sh| !finished.contains(&sh.shard_id))
            .filter(|sh| {
                [&sh.parent_shard_id, &sh.adjacent_parent_shard_id]
                    .into_iter()
                    .flatten()
                    .all(|p| finished.contains(p) || !shards.iter().any(|x| &x.shard_id == p))
            })
            .collect();
        let mut got_any = false;
        for sh in &readable {
            let from = match positions.get(&sh.shard_id) {
                Some(p) => *p,
                None => {
                    // A child shard is read from its start; the first shards from the delivery
                    // stream's start time.
                    let at = if sh.parent_shard_id.is_some()
                        && positions.keys().any(|k| Some(k) == sh.parent_shard_id.as_ref())
                    {
                        StartingPosition::TrimHorizon
                    } else {
                        StartingPosition::AtTimestamp(*start_millis)
                    };
                    match source.position(&arn, &sh.shard_id, &at) {
                        Ok(p) => p,
                        Err(_) => continue,
                    }
                }
            };
            if s.buffered_bytes() >= fh.config.max_buffered_bytes {
                break;
            }
            let read = match source.read(&arn, &sh.shard_id, from, READ_MAX) {
                Ok(r) => r,
                Err(_) => continue,
            };
            positions.insert(sh.shard_id.clone(), read.next);
            if read.end_of_shard {
                finished.insert(sh.shard_id.clone());
            }
            if read.records.is_empty() {
                continue;
            }
            got_any = true;
            let shard_id: Arc<str> = Arc::from(sh.shard_id.as_str());
            let records = read
                .records
                .into_iter()
                .map(|r| Record {
                    data: r.data,
                    arrival_millis: r.approximate_arrival_millis,
                    kinesis: Some(KinesisMeta {
                        shard_id: Arc::clone(&shard_id),
                        partition_key: r.partition_key,
                        sequence_number: r.sequence_number,
                    }),
                })
                .collect();
            // The buffer bound was checked above; a source's records are never refused.
            fh.append_unbounded(&s, records);
        }
        if got_any {
            continue;
        }
        if s.buffered_bytes() >= fh.config.max_buffered_bytes {
            fh.clock.sleep_until(fh.now() + 1_000).await;
            continue;
        }
        // Nothing new: wait for any readable shard to get a record, or the re-list deadline.
        let deadline = fh.now() + RELIST_MILLIS;
        let waits: Vec<_> = readable
            .iter()
            .filter_map(|sh| positions.get(&sh.shard_id).map(|p| (sh.shard_id.clone(), *p)))
            .collect();
        if waits.is_empty() {
            fh.clock.sleep_until(deadline).await;
            continue;
        }
        let futures: Vec<_> = waits
            .iter()
            .map(|(id, p)| source.wait(&arn, id, *p, deadline))
            .collect();
        let _ = select_all(futures).await;
    }
}

impl Firehose {
    pub(crate) fn append_unbounded(&self, s: &DeliveryStream, records: Vec<Record>) {
        let bytes: usize = records.iter().map(|r| r.data.len()).sum();
        let n = records.len() as u64;
        let wake = {
            let mut b = crate::lock(&s.buffer);
            let was_empty = b.records.is_empty();
            b.bytes += bytes;
            b.records.extend(records);
            let size = crate::lock(&s.config).destination.size_bytes();
            was_empty || b.bytes >= size
        };
        crate::counter(&self.stats.records_in, n);
        crate::counter(&self.stats.bytes_in, bytes as u64);
        if wake {
            s.wake.notify_one();
        }
    }
}
