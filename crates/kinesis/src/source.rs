//! Kinesis as a [`StreamSource`]: how pollers in other services (Lambda's event source
//! mappings, Pipes, Firehose) read a stream's shards by ARN without importing this crate.
//!
//! A [`StreamPosition`] is the index of the next record to read in the shard (records are
//! numbered from 1), the same position a shard iterator carries. [`StreamSource::wait`] waits on
//! the shard's `Notify` (woken by every append, by the shard's closing in a reshard, and by the
//! stream's deletion) and on the platform clock's deadline: it never polls.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use lb_core::arn::Arn;
use lb_core::clock::BoxFuture;
use lb_core::stream::{StartingPosition, StreamPosition, StreamRead, StreamRecord, StreamShard, StreamSource};
use lb_core::AwsError;

use crate::errors;
use crate::keys;
use crate::store::{Shard, Stream};
use crate::Kinesis;

/// The most data one [`StreamSource::read`] returns (GetRecords' limit).
const MAX_READ_BYTES: usize = crate::service::MAX_GET_BYTES;

impl Kinesis {
    /// The stream an ARN (`arn:aws:kinesis:<region>:<account>:stream/<name>`) names.
    pub(crate) fn stream_by_arn(&self, arn: &Arn) -> Result<Arc<Stream>, AwsError> {
        let name = arn.resource.strip_prefix("stream/").unwrap_or(&arn.resource);
        self.store
            .get(&arn.region, &arn.account, name)
            .ok_or_else(|| errors::stream_not_found(name, &arn.account))
    }

    fn source_shard(&self, arn: &Arn, shard_id: &str) -> Result<(Arc<Stream>, Arc<Shard>), AwsError> {
        let stream = self.stream_by_arn(arn)?;
        let shard = stream
            .shard(shard_id, self.now())
            .ok_or_else(|| errors::shard_not_found(shard_id, &stream.name, &arn.account))?;
        Ok((stream, shard))
    }

    /// The record index a sequence number of `shard` names, or AWS's InvalidArgumentException.
    fn sequence_index(stream: &Stream, shard: &Shard, seq: &str, account: &str) -> Result<u64, AwsError> {
        match keys::parse_sequence_number(seq) {
            Some((created, n, index)) if created == shard.created_secs && n == shard.index => Ok(index),
            _ => Err(errors::invalid(format!(
                "StartingSequenceNumber {seq} used in GetShardIterator on shard {} in stream {} under account {account} is invalid because it did not come from this stream.",
                shard.id, stream.name
            ))),
        }
    }
}

impl StreamSource for Kinesis {
    fn shards(&self, stream: &Arn) -> Result<Vec<StreamShard>, AwsError> {
        let s = self.stream_by_arn(stream)?;
        Ok(s.listed_shards(self.now())
            .iter()
            .map(|sh| StreamShard {
                shard_id: sh.id.clone(),
                parent_shard_id: sh.parent.clone(),
                adjacent_parent_shard_id: sh.adjacent_parent.clone(),
                closed: sh.closed_millis().is_some(),
            })
            .collect())
    }

    fn position(&self, stream: &Arn, shard_id: &str, at: &StartingPosition) -> Result<StreamPosition, AwsError> {
        let (s, shard) = self.source_shard(stream, shard_id)?;
        let now = self.now();
        let index = match at {
            StartingPosition::AtSequenceNumber(seq) => Self::sequence_index(&s, &shard, seq, &stream.account)?,
            StartingPosition::AfterSequenceNumber(seq) => Self::sequence_index(&s, &shard, seq, &stream.account)? + 1,
            StartingPosition::TrimHorizon | StartingPosition::Latest | StartingPosition::AtTimestamp(_) => {
                let mut log = shard.log();
                self.store.expire(&mut log, s.retention_millis(), now);
                match at {
                    StartingPosition::TrimHorizon => log.first_index(),
                    StartingPosition::AtTimestamp(ts) => {
                        let i = log.records.partition_point(|r| r.arrival_millis < *ts);
                        log.records.get(i).map_or(log.next_index, |r| r.index)
                    }
                    _ => log.next_index,
                }
            }
        };
        Ok(StreamPosition(index))
    }

    fn read(&self, stream: &Arn, shard_id: &str, from: StreamPosition, max: usize) -> Result<StreamRead, AwsError> {
        let (s, shard) = self.source_shard(stream, shard_id)?;
        let read = self
            .store
            .read(&s, &shard, from.0, max.max(1), MAX_READ_BYTES, self.now());
        Ok(StreamRead {
            records: read
                .records
                .iter()
                .map(|r| StreamRecord {
                    sequence_number: shard.sequence_number(r),
                    partition_key: r.partition_key.to_string(),
                    data: r.data.clone(),
                    approximate_arrival_millis: r.arrival_millis,
                })
                .collect(),
            next: StreamPosition(read.next),
            millis_behind_latest: read.millis_behind,
            end_of_shard: read.end_of_shard,
        })
    }

    fn wait<'a>(
        &'a self,
        stream: &'a Arn,
        shard_id: &'a str,
        from: StreamPosition,
        deadline_millis: u64,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let Ok((s, shard)) = self.source_shard(stream, shard_id) else {
                return;
            };
            let deadline = self.clock.sleep_until(deadline_millis);
            tokio::pin!(deadline);
            loop {
                // Registered before the check, so an append between the check and the wait
                // still wakes it.
                let notified = shard.notify.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                let ready = s.deleted.load(Ordering::SeqCst) || {
                    let log = shard.log();
                    log.closed_millis.is_some() || log.next_index > from.0
                };
                if ready || self.now() >= deadline_millis {
                    return;
                }
                tokio::select! {
                    () = &mut notified => {}
                    () = &mut deadline => return,
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use base64::Engine as _;
    use lb_core::arn::Arn;
    use lb_core::stream::{StartingPosition, StreamPosition, StreamSource};
    use lb_core::{Clock, ManualClock, TokioClock};
    use serde_json::json;

    use crate::{Kinesis, KinesisConfig};

    const R: &str = "us-east-1";
    const A: &str = "000000000000";
    const T0: u64 = 1_800_000_000_000;

    fn arn(name: &str) -> Arn {
        format!("arn:aws:kinesis:{R}:{A}:stream/{name}").parse().unwrap()
    }

    fn create(k: &Kinesis, name: &str, shards: u32) {
        k.create_stream(
            R,
            A,
            serde_json::from_value(json!({"StreamName": name, "ShardCount": shards})).unwrap(),
        )
        .unwrap();
    }

    /// Puts one record; returns its shard and sequence number.
    fn put(k: &Kinesis, name: &str, key: &str, data: &str) -> (String, String) {
        let v = k
            .put_record(
                R,
                A,
                serde_json::from_value(json!({
                    "StreamName": name,
                    "PartitionKey": key,
                    "Data": base64::engine::general_purpose::STANDARD.encode(data),
                }))
                .unwrap(),
            )
            .unwrap();
        (
            v["ShardId"].as_str().unwrap().to_owned(),
            v["SequenceNumber"].as_str().unwrap().to_owned(),
        )
    }

    fn manual() -> (Arc<Kinesis>, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(T0));
        (Arc::new(Kinesis::new(clock.clone(), KinesisConfig::default())), clock)
    }

    #[test]
    fn records_across_shards_read_in_order_per_shard() {
        let (k, _) = manual();
        create(&k, "s", 4);
        let mut sent: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for i in 0..40 {
            let (shard, _) = put(&k, "s", &format!("key-{}", i % 7), &format!("r{i}"));
            sent.entry(shard).or_default().push(format!("r{i}"));
        }
        let shards = k.shards(&arn("s")).unwrap();
        assert_eq!(shards.len(), 4);
        assert!(sent.len() > 1, "7 keys over 4 shards");
        for sh in shards {
            assert!(!sh.closed && sh.parent_shard_id.is_none());
            let from = k
                .position(&arn("s"), &sh.shard_id, &StartingPosition::TrimHorizon)
                .unwrap();
            let read = k.read(&arn("s"), &sh.shard_id, from, 1000).unwrap();
            let got: Vec<String> = read
                .records
                .iter()
                .map(|r| String::from_utf8(r.data.to_vec()).unwrap())
                .collect();
            assert_eq!(got, sent.get(&sh.shard_id).cloned().unwrap_or_default());
            assert!(!read.end_of_shard);
            assert_eq!(read.millis_behind_latest, 0);
            // Read again from where it ended: nothing new.
            let again = k.read(&arn("s"), &sh.shard_id, read.next, 1000).unwrap();
            assert!(again.records.is_empty());
            assert_eq!(again.next, read.next);
        }
        // Max is honoured and the next position continues the read.
        let (shard, _) = put(&k, "s", "key-0", "x");
        let from = k.position(&arn("s"), &shard, &StartingPosition::TrimHorizon).unwrap();
        let first = k.read(&arn("s"), &shard, from, 1).unwrap();
        assert_eq!(first.records.len(), 1);
        let rest = k.read(&arn("s"), &shard, first.next, 1000).unwrap();
        assert_eq!(rest.records.len(), sent[&shard].len());
    }

    #[test]
    fn all_five_starting_positions() {
        let (k, clock) = manual();
        create(&k, "s", 1);
        let shard = "shardId-000000000000";
        let (_, s1) = put(&k, "s", "a", "one");
        clock.advance(1000);
        let (_, s2) = put(&k, "s", "a", "two");
        let (_, _s3) = put(&k, "s", "a", "three");
        let a = arn("s");
        let data = |p: StreamPosition| -> Vec<String> {
            k.read(&a, shard, p, 100)
                .unwrap()
                .records
                .iter()
                .map(|r| String::from_utf8(r.data.to_vec()).unwrap())
                .collect()
        };
        let trim = k.position(&a, shard, &StartingPosition::TrimHorizon).unwrap();
        assert_eq!(data(trim), ["one", "two", "three"]);
        let latest = k.position(&a, shard, &StartingPosition::Latest).unwrap();
        assert!(data(latest).is_empty());
        let at = k
            .position(&a, shard, &StartingPosition::AtSequenceNumber(s2.clone()))
            .unwrap();
        assert_eq!(data(at), ["two", "three"]);
        let after = k
            .position(&a, shard, &StartingPosition::AfterSequenceNumber(s1.clone()))
            .unwrap();
        assert_eq!(data(after), ["two", "three"]);
        let ts = k.position(&a, shard, &StartingPosition::AtTimestamp(T0 + 500)).unwrap();
        assert_eq!(data(ts), ["two", "three"]);
        let ts0 = k.position(&a, shard, &StartingPosition::AtTimestamp(0)).unwrap();
        assert_eq!(data(ts0), ["one", "two", "three"]);
        let future = k
            .position(&a, shard, &StartingPosition::AtTimestamp(T0 + 10_000))
            .unwrap();
        assert_eq!(future, latest);
        // The record's fields.
        let r = &k.read(&a, shard, trim, 1).unwrap().records[0];
        assert_eq!(
            (r.sequence_number.as_str(), r.partition_key.as_str()),
            (s1.as_str(), "a")
        );
        assert_eq!(r.approximate_arrival_millis, T0);
        // A sequence number from elsewhere, an unknown shard, an unknown stream.
        let e = k
            .position(&a, shard, &StartingPosition::AtSequenceNumber("123".into()))
            .unwrap_err();
        assert_eq!(e.code, "InvalidArgumentException");
        let e = k
            .position(&a, "shardId-000000000009", &StartingPosition::TrimHorizon)
            .unwrap_err();
        assert_eq!(e.code, "ResourceNotFoundException");
        let e = k.shards(&arn("nope")).unwrap_err();
        assert_eq!(e.code, "ResourceNotFoundException");
        assert_eq!(e.message, "Stream nope under account 000000000000 not found.");
    }

    #[test]
    fn retention_moves_the_trim_horizon() {
        let (k, clock) = manual();
        create(&k, "s", 1);
        let shard = "shardId-000000000000";
        put(&k, "s", "a", "old");
        let start = k.position(&arn("s"), shard, &StartingPosition::TrimHorizon).unwrap();
        clock.advance(23 * 3_600_000);
        put(&k, "s", "a", "new");
        clock.advance(3_600_000);
        let read = k.read(&arn("s"), shard, start, 10).unwrap();
        assert_eq!(read.records.len(), 1);
        assert_eq!(&read.records[0].data[..], b"new");
    }

    #[tokio::test(start_paused = true)]
    async fn wait_is_woken_by_a_put() {
        let clock: Arc<dyn Clock> = Arc::new(TokioClock::new(T0));
        let k = Arc::new(Kinesis::new(Arc::clone(&clock), KinesisConfig::default()));
        create(&k, "s", 1);
        let shard = "shardId-000000000000";
        let from = k.position(&arn("s"), shard, &StartingPosition::Latest).unwrap();
        let waiter = {
            let k = Arc::clone(&k);
            tokio::spawn(async move {
                k.wait(&arn("s"), "shardId-000000000000", from, T0 + 60_000).await;
            })
        };
        // Let the waiter register, then put without any time passing.
        tokio::task::yield_now().await;
        tokio::task::yield_now().await;
        let before = clock.now_millis();
        put(&k, "s", "a", "hello");
        waiter.await.unwrap();
        assert_eq!(clock.now_millis(), before, "woken by the put, not the deadline");
        let read = k.read(&arn("s"), shard, from, 10).unwrap();
        assert_eq!(&read.records[0].data[..], b"hello");
        // A record already there: no wait at all.
        k.wait(&arn("s"), shard, from, T0 + 60_000).await;
        assert_eq!(clock.now_millis(), before);
    }

    #[tokio::test(start_paused = true)]
    async fn wait_ends_at_the_clock_deadline() {
        let clock: Arc<dyn Clock> = Arc::new(TokioClock::new(T0));
        let k = Arc::new(Kinesis::new(Arc::clone(&clock), KinesisConfig::default()));
        create(&k, "s", 1);
        let shard = "shardId-000000000000";
        let from = k.position(&arn("s"), shard, &StartingPosition::Latest).unwrap();
        k.wait(&arn("s"), shard, from, T0 + 5_000).await;
        assert_eq!(clock.now_millis(), T0 + 5_000);
        assert!(k.read(&arn("s"), shard, from, 10).unwrap().records.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn wait_ends_when_the_stream_is_deleted() {
        let clock: Arc<dyn Clock> = Arc::new(TokioClock::new(T0));
        let k = Arc::new(Kinesis::new(Arc::clone(&clock), KinesisConfig::default()));
        create(&k, "s", 1);
        let from = StreamPosition(1);
        let waiter = {
            let k = Arc::clone(&k);
            tokio::spawn(async move { k.wait(&arn("s"), "shardId-000000000000", from, T0 + 60_000).await })
        };
        tokio::task::yield_now().await;
        tokio::task::yield_now().await;
        let before = clock.now_millis();
        k.delete_stream(R, A, &serde_json::from_value(json!({"StreamName": "s"})).unwrap())
            .unwrap();
        waiter.await.unwrap();
        assert_eq!(clock.now_millis(), before);
    }
}
