//! A Kinesis stream source (User Guide, "Amazon Kinesis stream as a source"): a reader per open
//! shard (a child shard only once its parents have been read to their end), each keeping its
//! checkpoint in the pipe's handle so a stopped pipe resumes where it stopped. A batch that
//! fails is retried on the clock (back-off from 1 s, doubling, up to 60 s) — only its failed
//! records; with `OnPartialBatchItemFailure: AUTOMATIC_BISECT` they are split in halves first —
//! until it succeeds, `MaximumRetryAttempts` is reached or a record is older than
//! `MaximumRecordAgeInSeconds`; then its records go to `DeadLetterConfig` (an SQS queue or SNS
//! topic) or are discarded, counted, and the shard moves on. The shard's order holds: the next
//! batch waits for this one.
//!
//! `ParallelizationFactor` is accepted and stored; batches of a shard run one at a time here
//! (the order per partition key, which is what a factor above 1 keeps, holds either way).

use std::collections::VecDeque;
use std::sync::{Arc, PoisonError};

use lb_core::deliver::{Fate, Message, Outcome, Producer};
use lb_core::stream::{StreamPosition, StreamRecord, StreamSource};
use serde_json::{json, Value};

use crate::process::SourceItem;
use crate::service::PipeHandle;
use crate::spec::{KinesisSource, SourceKind, Spec};
use crate::Shared;

/// A shard read to its end (closed, every record done).
const ENDED: StreamPosition = StreamPosition(u64::MAX);

/// The record a pipe sees for one Kinesis record (User Guide, example event: flat, not nested
/// under `kinesis` as Lambda's are).
pub(crate) fn record(r: &StreamRecord, shard_id: &str, spec: &Spec) -> Value {
    use base64::Engine as _;
    json!({
        "kinesisSchemaVersion": "1.0",
        "partitionKey": r.partition_key,
        "sequenceNumber": r.sequence_number,
        "data": base64::engine::general_purpose::STANDARD.encode(&r.data),
        "approximateArrivalTimestamp": r.approximate_arrival_millis as f64 / 1000.0,
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": format!("{shard_id}:{}", r.sequence_number),
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": spec.stored.role_arn,
        "awsRegion": spec.region,
        "eventSourceARN": spec.stored.source,
    })
}

/// Reads the stream until the pipe changes (then returns, and the runner looks again).
pub(crate) async fn run(
    shared: &Arc<Shared>,
    handle: &Arc<PipeHandle>,
    spec: &Arc<Spec>,
    rx: &mut tokio::sync::watch::Receiver<u64>,
) {
    let Some(streams) = shared.deps.streams.clone() else {
        let _ = rx.changed().await;
        return;
    };
    let SourceKind::Kinesis(params) = &spec.source else {
        return;
    };
    loop {
        let shards = match streams.shards(&spec.source_arn) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(pipe = %spec.arn, error = %e.message, "the pipe could not list its stream's shards");
                let due = shared.clock.now_millis() + 10_000;
                tokio::select! {
                    () = shared.clock.sleep_until(due) => {}
                    _ = rx.changed() => {}
                }
                return;
            }
        };
        let ended = |id: &Option<String>, cps: &std::collections::BTreeMap<String, StreamPosition>| {
            id.as_ref()
                .is_none_or(|p| cps.get(p) == Some(&ENDED) || !shards.iter().any(|s| &s.shard_id == p))
        };
        let readable: Vec<String> = {
            let cps = handle.checkpoints.lock().unwrap_or_else(PoisonError::into_inner);
            shards
                .iter()
                .filter(|s| cps.get(&s.shard_id) != Some(&ENDED))
                .filter(|s| ended(&s.parent_shard_id, &cps) && ended(&s.adjacent_parent_shard_id, &cps))
                .map(|s| s.shard_id.clone())
                .collect()
        };
        let mut readers = tokio::task::JoinSet::new();
        for shard in readable {
            readers.spawn(read_shard(
                Arc::clone(shared),
                Arc::clone(handle),
                Arc::clone(spec),
                params.clone(),
                Arc::clone(&streams),
                shard,
            ));
        }
        tokio::select! {
            // A shard ended (resharding): look at the shard list again. The other readers stop
            // (dropping the set aborts them); their checkpoints are where they resume.
            Some(ended) = readers.join_next() => {
                if !matches!(ended, Ok(true)) {
                    // A reader stopped on an error: wait a little on the clock before looking again.
                    let due = shared.clock.now_millis() + 1_000;
                    tokio::select! {
                        () = shared.clock.sleep_until(due) => {}
                        _ = rx.changed() => return,
                    }
                }
            }
            _ = rx.changed() => return,
            // No readers: nothing to do until the pipe changes.
            () = std::future::pending::<()>(), if readers.is_empty() => {}
        }
    }
}

fn checkpoint(handle: &PipeHandle, shard: &str, at: StreamPosition) {
    handle
        .checkpoints
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(shard.to_owned(), at);
}

async fn read_shard(
    shared: Arc<Shared>,
    handle: Arc<PipeHandle>,
    spec: Arc<Spec>,
    params: KinesisSource,
    streams: Arc<dyn StreamSource>,
    shard: String,
) -> bool {
    let stream = &spec.source_arn;
    let start = handle
        .checkpoints
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&shard)
        .copied();
    let mut at = match start {
        Some(p) => p,
        None => match streams.position(stream, &shard, &params.starting_position) {
            Ok(p) => {
                checkpoint(&handle, &shard, p);
                p
            }
            Err(e) => {
                tracing::warn!(pipe = %spec.arn, shard = %shard, error = %e.message, "the pipe could not position its shard reader");
                return false;
            }
        },
    };
    loop {
        // ParallelizationFactor: up to N batches of the shard at once, so up to N batch sizes read.
        let want = params.batch_size * params.parallelization.max(1) as usize;
        let read = match streams.read(stream, &shard, at, want) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(pipe = %spec.arn, shard = %shard, error = %e.message, "the pipe could not read its shard");
                return false;
            }
        };
        let mut records = read.records;
        let mut next = read.next;
        let mut end = read.end_of_shard;
        if records.is_empty() {
            if end {
                checkpoint(&handle, &shard, ENDED);
                return true;
            }
            let deadline = shared.clock.now_millis() + 300_000;
            streams.wait(stream, &shard, at, deadline).await;
            continue;
        }
        // The batching window: wait for more records up to the batch size.
        if params.window_seconds > 0 {
            let deadline = shared.clock.now_millis() + u64::from(params.window_seconds) * 1000;
            while records.len() < want && !end && shared.clock.now_millis() < deadline {
                streams.wait(stream, &shard, next, deadline).await;
                match streams.read(stream, &shard, next, want - records.len()) {
                    Ok(more) => {
                        records.extend(more.records);
                        next = more.next;
                        end = more.end_of_shard;
                    }
                    Err(_) => break,
                }
            }
        }
        deliver_in_lanes(&shared, &spec, &params, &shard, records).await;
        at = next;
        checkpoint(&handle, &shard, if end { ENDED } else { at });
        if end {
            return true;
        }
    }
}

/// Which of `n` concurrent batches a partition key's records go to (FNV-1a: stable, so a key's
/// records always share a batch and keep their order).
pub(crate) fn lane(partition_key: &str, n: usize) -> usize {
    let hash = partition_key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    usize::try_from(hash % n.max(1) as u64).unwrap_or(0)
}

/// Runs what one read took: with a ParallelizationFactor of N, the records are split by
/// partition key into N lanes that run at once, each in batches of BatchSize, in order. Every
/// lane runs to its end (delivered, filtered, dead-lettered or discarded) before the shard's
/// checkpoint moves past the read.
async fn deliver_in_lanes(
    shared: &Shared,
    spec: &Spec,
    params: &KinesisSource,
    shard: &str,
    records: Vec<StreamRecord>,
) {
    let n = params.parallelization.max(1) as usize;
    let mut lanes: Vec<Vec<StreamRecord>> = vec![Vec::new(); n];
    for r in records {
        let i = lane(&r.partition_key, n);
        lanes[i].push(r);
    }
    let runs = lanes.into_iter().filter(|l| !l.is_empty()).map(|records| async move {
        for batch in records.chunks(params.batch_size.max(1)) {
            deliver(shared, spec, params, shard, batch.to_vec()).await;
        }
    });
    futures::future::join_all(runs).await;
}

/// Runs one batch until every record is delivered, filtered, dead-lettered or discarded.
async fn deliver(shared: &Shared, spec: &Spec, params: &KinesisSource, shard: &str, records: Vec<StreamRecord>) {
    let mut queue: VecDeque<(Vec<StreamRecord>, u32)> = VecDeque::from([(records, 0)]);
    while let Some((batch, retries)) = queue.pop_front() {
        let now = shared.clock.now_millis();
        // Records older than MaximumRecordAgeInSeconds are not sent again.
        let (expired, batch): (Vec<StreamRecord>, Vec<StreamRecord>) = batch.into_iter().partition(|r| {
            retries > 0
                && params
                    .max_record_age_seconds
                    .is_some_and(|age| now.saturating_sub(r.approximate_arrival_millis) > age * 1000)
        });
        if !expired.is_empty() {
            dead_letter(shared, spec, params, shard, &expired, retries, "RecordAgeExceeded").await;
        }
        if batch.is_empty() {
            continue;
        }
        let items: Vec<SourceItem> = batch
            .iter()
            .map(|r| SourceItem {
                id: r.sequence_number.clone(),
                record: record(r, shard, spec),
            })
            .collect();
        let done = shared.process(spec, &items).await;
        let failed: Vec<StreamRecord> = batch
            .into_iter()
            .zip(done)
            .filter(|(_, d)| !*d)
            .map(|(r, _)| r)
            .collect();
        if failed.is_empty() {
            continue;
        }
        if params.max_retries.is_some_and(|max| retries >= max) {
            dead_letter(shared, spec, params, shard, &failed, retries, "RetryAttemptsExhausted").await;
            continue;
        }
        let backoff = (1_000u64 << retries.min(6)).min(60_000);
        shared.clock.sleep_until(now + backoff).await;
        if params.bisect && failed.len() > 1 {
            let mut first = failed;
            let second = first.split_off(first.len() / 2);
            queue.push_front((second, retries + 1));
            queue.push_front((first, retries + 1));
        } else {
            queue.push_front((failed, retries + 1));
        }
    }
}

/// Sends a failed batch's description to the dead-letter queue or topic (modelled on Lambda's
/// Kinesis on-failure record: the batch's shard, sequence range and arrival times; the records
/// themselves stay in the stream until retention), or counts it discarded.
async fn dead_letter(
    shared: &Shared,
    spec: &Spec,
    params: &KinesisSource,
    shard: &str,
    records: &[StreamRecord],
    retries: u32,
    condition: &str,
) {
    let (Some(first), Some(last)) = (records.first(), records.last()) else {
        return;
    };
    let what = format!(
        "{condition}: {} records of {shard}, {} to {}",
        records.len(),
        first.sequence_number,
        last.sequence_number
    );
    let Some(dlq) = &params.dead_letter else {
        shared.count(spec, |c| &c.discarded, records.len());
        ledger(
            shared,
            spec,
            shard,
            first,
            retries,
            Fate::Dropped,
            format!("{what}; no dead-letter queue"),
            None,
        );
        tracing::warn!(pipe = %spec.arn, shard = %shard, records = records.len(), condition, "failed records discarded (no dead-letter queue)");
        return;
    };
    let now = shared.clock.now_millis();
    let body = json!({
        "requestContext": {
            "requestId": lb_core::ids::uuid(),
            "pipeArn": spec.arn,
            "condition": condition,
            "approximateInvokeCount": retries + 1,
        },
        "version": "1.0",
        "timestamp": lb_core::clock::iso8601_millis(now),
        "KinesisBatchInfo": {
            "shardId": shard,
            "startSequenceNumber": first.sequence_number,
            "endSequenceNumber": last.sequence_number,
            "approximateArrivalOfFirstRecord": lb_core::clock::iso8601_millis(first.approximate_arrival_millis),
            "approximateArrivalOfLastRecord": lb_core::clock::iso8601_millis(last.approximate_arrival_millis),
            "batchSize": records.len(),
            "streamArn": spec.stored.source,
        },
    });
    let mut m = Message::new(body.to_string());
    m.source_arn = Some(Arc::from(spec.arn.as_str()));
    m.source_account = Some(Arc::from(spec.account.as_str()));
    let target = shared.deps.registry.as_ref().and_then(|r| r.target(dlq));
    let result = match target {
        Some(t) => t.deliver(dlq, &m).await,
        None => Err(lb_core::deliver::DeliveryError::not_found("no such dead-letter target")),
    };
    match result {
        Ok(()) => {
            shared.count(spec, |c| &c.dead_lettered, records.len());
            ledger(
                shared,
                spec,
                shard,
                first,
                retries,
                Fate::DeadLettered,
                what,
                Some(dlq.to_string()),
            );
        }
        Err(e) => {
            shared.count(spec, |c| &c.discarded, records.len());
            ledger(
                shared,
                spec,
                shard,
                first,
                retries,
                Fate::Dropped,
                format!("{what}; the dead-letter queue {dlq} refused them: {e}"),
                None,
            );
            tracing::warn!(pipe = %spec.arn, dead_letter = %dlq, error = %e, "the dead-letter queue refused the failed batch; its records are discarded");
        }
    }
}

/// Records records given up on in the delivery ledger (producer: the pipe and the shard; target:
/// the pipe's target), so `/_localbridge/ledger` shows them beside every other fate.
#[allow(clippy::too_many_arguments)]
fn ledger(
    shared: &Shared,
    spec: &Spec,
    shard: &str,
    first: &StreamRecord,
    retries: u32,
    fate: Fate,
    reason: String,
    dead_letter_target: Option<String>,
) {
    let Some(engine) = &shared.deps.engine else {
        return;
    };
    let producer = Producer::new(spec.arn.as_str(), Some(shard.to_owned()));
    let target: Arc<str> = Arc::from(spec.target_arn.to_string());
    engine.ledger().record(&Outcome {
        producer: &producer,
        target: &target,
        submitted_at: first.approximate_arrival_millis,
        attempts: retries + 1,
        ended_at: shared.clock.now_millis(),
        error: None,
        fate,
        reason: Some(reason),
        dead_letter_target,
    });
}
