//! Event source mappings for Kinesis streams (Lambda Developer Guide, "Using Lambda with Kinesis",
//! "Configuring partial batch response with Kinesis", "Retain discarded batch records for a Kinesis
//! Data Streams event source"). Records are read through `lb_core::stream::StreamSource`.
//!
//! - **One poller per shard.** A mapping's coordinator lists the stream's shards and starts a
//!   poller for each shard it may read: a shard without parents at once, a child only once every
//!   parent has been read to its end (resharding keeps a key's records in order). Shards present
//!   when the mapping starts read from its `StartingPosition`; shards created later from their
//!   trim horizon.
//! - **Batches.** A poller reads up to `BatchSize` records (waiting up to
//!   `MaximumBatchingWindowInSeconds` on the clock for more), drops those no `FilterCriteria`
//!   pattern matches, and invokes the function synchronously with `{"Records": [...]}` in AWS's
//!   record shape. With `ParallelizationFactor` N it reads up to N batches at once and runs them
//!   concurrently, each batch holding the records of a subset of partition keys: a key's records
//!   stay in order. The shard's checkpoint moves past a read only when every record in it has
//!   its fate.
//! - **Errors.** A function error retries the batch (back-off on the clock) until
//!   `MaximumRetryAttempts` retries or `MaximumRecordAgeInSeconds` (both -1, infinite, by
//!   default); `BisectBatchOnFunctionError` splits a failing batch in two instead, which does not
//!   count as a retry. With `ReportBatchItemFailures` the records before the lowest reported
//!   sequence number are done and the rest are retried (a malformed report fails the batch). When
//!   a function cannot be invoked at all the batch waits and is tried again without counting.
//! - **Discarded batches** go to `DestinationConfig.OnFailure` (an SQS queue or SNS topic) as
//!   AWS's invocation record with `KinesisBatchInfo`, through the delivery engine, so their fate
//!   is in the ledger.

use std::collections::{BTreeSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError};

use base64::Engine as _;
use bytes::Bytes;
use lb_core::arn::Arn;
use lb_core::deliver::{Delivery, Message, Producer, RetryPolicy, WhenFull};
use lb_core::stream::{StartingPosition, StreamPosition, StreamRecord, StreamSource};
use lb_core::AwsError;
use lb_rules::pattern::Pattern;
use serde_json::{json, Value};

use super::esm::{Mapping, MappingHandle, MappingInput};
use super::{invalid, validation, Lambda};
use crate::runtime::Outcome;

/// The first wait before a failed batch is tried again; doubled for each further retry.
const RETRY_BASE_MILLIS: u64 = 1_000;
/// The longest wait between two tries of a batch.
const RETRY_MAX_MILLIS: u64 = 30_000;
/// How long a poller waits on an idle shard before it looks at its mapping again.
const IDLE_WAIT_MILLIS: u64 = 60_000;
/// How often the coordinator lists the stream's shards when nothing else wakes it.
const RESCAN_MILLIS: u64 = 30_000;

/// The settings only stream sources have.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StreamSettings {
    /// `TRIM_HORIZON`, `LATEST` or `AT_TIMESTAMP`.
    pub starting_position: String,
    /// `StartingPositionTimestamp`, epoch milliseconds.
    pub starting_timestamp_millis: Option<u64>,
    pub parallelization: u32,
    /// Seconds, or -1 (no limit).
    pub max_record_age: i64,
    /// Retries, or -1 (no limit).
    pub max_retries: i64,
    pub bisect: bool,
    pub on_failure: Option<String>,
}

impl StreamSettings {
    /// CreateEventSourceMapping's stream settings, with AWS's defaults.
    pub(crate) fn create(input: &MappingInput) -> Result<Self, AwsError> {
        let position = input.starting_position.clone().ok_or_else(|| {
            invalid("1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: Member must not be null.")
        })?;
        if !["TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"].contains(&position.as_str()) {
            return Err(validation(
                &position,
                "startingPosition",
                "Member must satisfy enum value set: [LATEST, AT_TIMESTAMP, TRIM_HORIZON]",
            ));
        }
        let timestamp = input.starting_position_timestamp;
        if position == "AT_TIMESTAMP" && timestamp.is_none() {
            return Err(invalid("Need to specify a timestamp"));
        }
        if position != "AT_TIMESTAMP" && timestamp.is_some() {
            return Err(invalid(
                "StartingPositionTimestamp is only valid with the AT_TIMESTAMP starting position.",
            ));
        }
        let base = Self {
            starting_position: position,
            starting_timestamp_millis: timestamp.map(|t| (t.max(0.0) * 1000.0) as u64),
            parallelization: 1,
            max_record_age: -1,
            max_retries: -1,
            bisect: false,
            on_failure: None,
        };
        base.update(input)
    }

    /// The settings with UpdateEventSourceMapping's changes applied (the starting position
    /// cannot change), validated.
    pub(crate) fn update(&self, input: &MappingInput) -> Result<Self, AwsError> {
        if input.on_success {
            return Err(invalid(
                "Unsupported DestinationConfig parameter for given event source mapping type.",
            ));
        }
        if let Some(w) = input.tumbling_window_seconds {
            if !(0..=900).contains(&w) {
                return Err(validation(
                    &w.to_string(),
                    "tumblingWindowInSeconds",
                    if w < 0 {
                        "Member must have value greater than or equal to 0"
                    } else {
                        "Member must have value less than or equal to 900"
                    },
                ));
            }
            if w > 0 {
                // Refused rather than accepted and ignored: windows carry state between calls.
                return Err(invalid(
                    "localbridge does not implement tumbling windows: TumblingWindowInSeconds must be 0.",
                ));
            }
        }
        let next = Self {
            starting_position: self.starting_position.clone(),
            starting_timestamp_millis: self.starting_timestamp_millis,
            parallelization: match input.parallelization_factor {
                Some(p) if !(1..=10).contains(&p) => {
                    return Err(validation(
                        &p.to_string(),
                        "parallelizationFactor",
                        if p < 1 {
                            "Member must have value greater than or equal to 1"
                        } else {
                            "Member must have value less than or equal to 10"
                        },
                    ))
                }
                Some(p) => p as u32,
                None => self.parallelization,
            },
            max_record_age: match input.maximum_record_age_seconds {
                Some(a) if a > 604_800 => {
                    return Err(validation(
                        &a.to_string(),
                        "maximumRecordAgeInSeconds",
                        "Member must have value less than or equal to 604800",
                    ))
                }
                Some(a) if a < -1 => {
                    return Err(validation(
                        &a.to_string(),
                        "maximumRecordAgeInSeconds",
                        "Member must have value greater than or equal to -1",
                    ))
                }
                Some(a) if a != -1 && a < 60 => {
                    return Err(invalid(
                        "MaximumRecordAgeInSeconds must be -1 or between 60 and 604800.",
                    ))
                }
                Some(a) => a,
                None => self.max_record_age,
            },
            max_retries: match input.maximum_retry_attempts {
                Some(r) if r > 10_000 => {
                    return Err(validation(
                        &r.to_string(),
                        "maximumRetryAttempts",
                        "Member must have value less than or equal to 10000",
                    ))
                }
                Some(r) if r < -1 => {
                    return Err(validation(
                        &r.to_string(),
                        "maximumRetryAttempts",
                        "Member must have value greater than or equal to -1",
                    ))
                }
                Some(r) => r,
                None => self.max_retries,
            },
            bisect: input.bisect_batch_on_function_error.unwrap_or(self.bisect),
            on_failure: match &input.on_failure {
                Some(d) => d.clone(),
                None => self.on_failure.clone(),
            },
        };
        if let Some(dest) = &next.on_failure {
            let arn: Arn = dest
                .parse()
                .map_err(|_| invalid(format!("The destination ARN {dest} is invalid.")))?;
            match arn.service.as_str() {
                "sqs" | "sns" => {}
                "s3" => {
                    return Err(invalid(
                        "localbridge sends discarded Kinesis batch records to SQS queues and SNS topics; S3 bucket destinations are not supported.",
                    ))
                }
                _ => return Err(invalid(format!("The destination ARN {dest} is invalid."))),
            }
        }
        Ok(next)
    }

    /// The stream fields of GetEventSourceMapping's answer.
    pub(crate) fn describe(&self, out: &mut Value) {
        out["StartingPosition"] = json!(self.starting_position);
        if let Some(t) = self.starting_timestamp_millis {
            out["StartingPositionTimestamp"] = json!(t as f64 / 1000.0);
        }
        out["ParallelizationFactor"] = json!(self.parallelization);
        out["MaximumRecordAgeInSeconds"] = json!(self.max_record_age);
        out["MaximumRetryAttempts"] = json!(self.max_retries);
        out["BisectBatchOnFunctionError"] = json!(self.bisect);
        out["TumblingWindowInSeconds"] = json!(0);
        out["DestinationConfig"] = match &self.on_failure {
            Some(d) => json!({ "OnFailure": { "Destination": d } }),
            None => json!({ "OnFailure": {} }),
        };
    }
}

/// Counters over every Kinesis mapping, in `/_localbridge/metrics`: each record read ends
/// processed, filtered out, or discarded (to the OnFailure destination when there is one).
#[derive(Debug, Default)]
pub(crate) struct StreamCounters {
    /// Records in batches the function processed (once per record, retries not counted again).
    pub processed: AtomicU64,
    /// Records no FilterCriteria pattern matched.
    pub filtered: AtomicU64,
    /// Records discarded after the retries or the record age ran out.
    pub discarded: AtomicU64,
    /// Invocations that failed (function errors, timeouts, malformed or partial reports).
    pub failed_invocations: AtomicU64,
}

/// What a shard's poller needs of its mapping for one round, read under the mapping's lock.
#[derive(Clone)]
struct Snapshot {
    deleted: bool,
    enabled: bool,
    batch: usize,
    window_millis: u64,
    filters: Vec<Pattern>,
    partial: bool,
    settings: StreamSettings,
    function_arn: String,
    key: (String, String, String),
    qualifier: Option<String>,
    region: String,
    mapping_arn: String,
}

fn snapshot(m: &Mapping) -> Snapshot {
    let function_arn = Lambda::function_arn(&m.region, &m.account, &m.function_name);
    Snapshot {
        deleted: m.deleted,
        enabled: m.enabled,
        batch: m.batch_size.max(1) as usize,
        window_millis: u64::from(m.window_seconds) * 1000,
        filters: m.filters.iter().map(|(_, p)| p.clone()).collect(),
        partial: m.response_types.iter().any(|t| t == "ReportBatchItemFailures"),
        settings: m.stream.clone().unwrap_or(StreamSettings {
            starting_position: "LATEST".to_owned(),
            starting_timestamp_millis: None,
            parallelization: 1,
            max_record_age: -1,
            max_retries: -1,
            bisect: false,
            on_failure: None,
        }),
        function_arn: match &m.qualifier {
            Some(q) => format!("{function_arn}:{q}"),
            None => function_arn,
        },
        key: (m.region.clone(), m.account.clone(), m.function_name.clone()),
        qualifier: m.qualifier.clone(),
        region: m.region.clone(),
        mapping_arn: format!(
            "arn:aws:lambda:{}:{}:event-source-mapping:{}",
            m.region, m.account, m.uuid
        ),
    }
}

fn read_snapshot(handle: &MappingHandle) -> Snapshot {
    snapshot(&handle.mapping.lock().unwrap_or_else(PoisonError::into_inner))
}

fn set_result(handle: &MappingHandle, result: &str) {
    let mut m = handle.mapping.lock().unwrap_or_else(PoisonError::into_inner);
    if m.last_result != result {
        m.last_result = result.to_owned();
    }
}

/// The record AWS gives a function for one Kinesis record.
fn record(r: &StreamRecord, shard_id: &str, stream_arn: &str, region: &str, role: &str) -> Value {
    json!({
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": r.partition_key,
            "sequenceNumber": r.sequence_number,
            "data": base64::engine::general_purpose::STANDARD.encode(&r.data),
            "approximateArrivalTimestamp": r.approximate_arrival_millis as f64 / 1000.0,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": format!("{shard_id}:{}", r.sequence_number),
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": role,
        "awsRegion": region,
        "eventSourceARN": stream_arn,
    })
}

/// A record as filter patterns see it (Lambda Developer Guide, "Using event filtering with a
/// Kinesis event source": Kinesis mappings filter on the `data` key only): the data as JSON when it
/// parses, else as text.
fn filter_view(r: &StreamRecord) -> Value {
    let data = serde_json::from_slice::<Value>(&r.data)
        .ok()
        .unwrap_or_else(|| json!(String::from_utf8_lossy(&r.data)));
    json!({ "data": data })
}

/// What a `ReportBatchItemFailures` response says: `Ok(None)` all succeeded, `Ok(Some(i))` the
/// records from index `i` on must be retried, `Err(())` the report is malformed (the whole batch
/// failed).
fn reported_failure(body: &[u8], batch: &[StreamRecord]) -> Result<Option<usize>, ()> {
    let v: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        // An empty or null response is a complete success.
        Err(_) if body.iter().all(u8::is_ascii_whitespace) => return Ok(None),
        Err(_) => return Err(()),
    };
    let list = match v.get("batchItemFailures") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(()),
    };
    let mut lowest: Option<usize> = None;
    for item in list {
        let id = item.get("itemIdentifier").and_then(Value::as_str).ok_or(())?;
        let idx = batch.iter().position(|r| r.sequence_number == id).ok_or(())?;
        lowest = Some(lowest.map_or(idx, |l: usize| l.min(idx)));
    }
    Ok(lowest)
}

/// One batch on its way through retries and bisection.
struct Pending {
    records: Vec<StreamRecord>,
    retries: i64,
    invokes: u32,
    /// The last failed invocation's `X-Amz-Function-Error` (None: no invocation, or a partial
    /// failure report).
    function_error: Option<String>,
}

/// Why a batch was discarded (the invocation record's `requestContext.condition`).
#[derive(Clone, Copy)]
enum Condition {
    RetryAttemptsExhausted,
    RecordAgeExceeded,
}

impl Condition {
    fn as_str(self) -> &'static str {
        match self {
            Condition::RetryAttemptsExhausted => "RetryAttemptsExhausted",
            Condition::RecordAgeExceeded => "RecordAgeExceeded",
        }
    }
}

/// What one shard poller is about.
struct ShardJob {
    handle: Arc<MappingHandle>,
    stream: Arn,
    stream_arn: String,
    shard_id: String,
    source: Arc<dyn StreamSource>,
}

impl Lambda {
    /// Kinesis mappings' records processed, filtered out and discarded, and failed invocations.
    pub fn stream_mapping_counts(&self) -> [u64; 4] {
        let c = &self.stream_counters;
        [
            c.processed.load(Ordering::Relaxed),
            c.filtered.load(Ordering::Relaxed),
            c.discarded.load(Ordering::Relaxed),
            c.failed_invocations.load(Ordering::Relaxed),
        ]
    }

    fn streams(&self) -> Result<&Arc<dyn StreamSource>, AwsError> {
        self.streams
            .as_ref()
            .ok_or_else(|| invalid("localbridge has no stream service to poll"))
    }

    /// Validates a Kinesis mapping (stream settings were validated when they were built).
    pub(crate) fn check_stream_mapping(&self, m: &Mapping, arn: &Arn) -> Result<(), AwsError> {
        if m.batch_size < 1 || m.batch_size > 10_000 {
            return Err(validation(
                &m.batch_size.to_string(),
                "batchSize",
                if m.batch_size < 1 {
                    "Member must have value greater than or equal to 1"
                } else {
                    "Member must have value less than or equal to 10000"
                },
            ));
        }
        if m.window_seconds > 300 {
            return Err(validation(
                &m.window_seconds.to_string(),
                "maximumBatchingWindowInSeconds",
                "Member must have value less than or equal to 300",
            ));
        }
        if let Some(t) = m.response_types.iter().find(|t| *t != "ReportBatchItemFailures") {
            return Err(validation(
                t,
                "functionResponseTypes",
                "Member must satisfy enum value set: [ReportBatchItemFailures]",
            ));
        }
        if m.max_concurrency.is_some() {
            return Err(invalid(
                "Unsupported ScalingConfig parameter for given event source mapping type.",
            ));
        }
        self.streams()?.shards(arn).map_err(|_| {
            invalid(format!(
                "Cannot access stream {}. Please ensure the role can perform the GetRecords, GetShardIterator, DescribeStream, and ListShards Actions on your stream.",
                m.source_arn
            ))
        })?;
        Ok(())
    }

    /// Where a new mapping starts in each shard the stream has now, taken when the mapping is
    /// created (records put after CreateEventSourceMapping returns are read, with `LATEST` too).
    pub(crate) fn initial_positions(&self, m: &Mapping) -> Vec<(String, StreamPosition)> {
        let (Ok(source), Ok(stream), Some(s)) = (self.streams(), m.source_arn.parse::<Arn>(), m.stream.as_ref()) else {
            return Vec::new();
        };
        let at = match (s.starting_position.as_str(), s.starting_timestamp_millis) {
            ("TRIM_HORIZON", _) => StartingPosition::TrimHorizon,
            ("AT_TIMESTAMP", Some(t)) => StartingPosition::AtTimestamp(t),
            _ => StartingPosition::Latest,
        };
        source
            .shards(&stream)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|shard| {
                let p = source.position(&stream, &shard.shard_id, &at).ok()?;
                Some((shard.shard_id, p))
            })
            .collect()
    }

    /// The coordinator of one Kinesis mapping, until it is deleted: starts a poller per readable
    /// shard and children once their parents are done. Shards in `initial` start there; shards
    /// created later (children of a reshard) at their trim horizon.
    pub(crate) async fn poll_stream(
        self: Arc<Self>,
        handle: Arc<MappingHandle>,
        initial: Vec<(String, StreamPosition)>,
    ) {
        let Ok(source) = self.streams().cloned() else { return };
        let stream_arn = handle
            .mapping
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .source_arn
            .clone();
        let Ok(stream) = stream_arn.parse::<Arn>() else { return };
        let initial: std::collections::HashMap<String, StreamPosition> = initial.into_iter().collect();
        let mut started: BTreeSet<String> = BTreeSet::new();
        let mut finished: BTreeSet<String> = BTreeSet::new();
        let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        loop {
            let changed = handle.changed.notified();
            if handle.mapping.lock().unwrap_or_else(PoisonError::into_inner).deleted {
                return;
            }
            match source.shards(&stream) {
                Ok(shards) => {
                    let known: BTreeSet<String> = shards.iter().map(|s| s.shard_id.clone()).collect();
                    for shard in &shards {
                        if started.contains(&shard.shard_id) {
                            continue;
                        }
                        let parent_done =
                            |p: &Option<String>| p.as_ref().is_none_or(|p| finished.contains(p) || !known.contains(p));
                        if !parent_done(&shard.parent_shard_id) || !parent_done(&shard.adjacent_parent_shard_id) {
                            continue;
                        }
                        let at = initial.get(&shard.shard_id).copied();
                        started.insert(shard.shard_id.clone());
                        let job = ShardJob {
                            handle: Arc::clone(&handle),
                            stream: stream.clone(),
                            stream_arn: stream_arn.clone(),
                            shard_id: shard.shard_id.clone(),
                            source: Arc::clone(&source),
                        };
                        let me = Arc::clone(&self);
                        let tx = done_tx.clone();
                        tokio::spawn(async move {
                            let shard = job.shard_id.clone();
                            if me.poll_shard(job, at).await {
                                let _ = tx.send(shard);
                            }
                        });
                    }
                }
                Err(e) => {
                    tracing::warn!(stream = %stream_arn, error = %e.message, "event source mapping could not list the stream's shards");
                }
            }
            let rescan = self.clock.now_millis() + RESCAN_MILLIS;
            tokio::select! {
                Some(shard) = done_rx.recv() => { finished.insert(shard); }
                () = changed => {}
                () = self.clock.sleep_until(rescan) => {}
            }
            while let Ok(shard) = done_rx.try_recv() {
                finished.insert(shard);
            }
        }
    }

    /// The poller of one shard. Returns true when the shard was read to its end (its children
    /// may start), false when the mapping was deleted or the stream is gone.
    async fn poll_shard(&self, job: ShardJob, at: Option<StreamPosition>) -> bool {
        let mut position: Option<StreamPosition> = at;
        loop {
            let changed = job.handle.changed.notified();
            let snap = read_snapshot(&job.handle);
            if snap.deleted {
                return false;
            }
            if !snap.enabled {
                changed.await;
                continue;
            }
            let from = match position {
                Some(p) => p,
                None => match job
                    .source
                    .position(&job.stream, &job.shard_id, &StartingPosition::TrimHorizon)
                {
                    Ok(p) => {
                        position = Some(p);
                        p
                    }
                    Err(e) => {
                        tracing::warn!(stream = %job.stream_arn, shard = %job.shard_id, error = %e.message, "event source mapping could not position in the shard");
                        return false;
                    }
                },
            };
            let max = snap.batch * snap.settings.parallelization as usize;
            let mut read = match job.source.read(&job.stream, &job.shard_id, from, max) {
                Ok(r) => r,
                Err(e) => {
                    if e.code == "ResourceNotFoundException" {
                        return false;
                    }
                    tracing::warn!(stream = %job.stream_arn, shard = %job.shard_id, error = %e.message, "event source mapping could not read the shard");
                    let due = self.clock.now_millis() + 10_000;
                    tokio::select! {
                        () = self.clock.sleep_until(due) => {}
                        () = changed => {}
                    }
                    continue;
                }
            };
            if read.records.is_empty() {
                if read.end_of_shard {
                    return true;
                }
                let deadline = self.clock.now_millis() + IDLE_WAIT_MILLIS;
                tokio::select! {
                    () = job.source.wait(&job.stream, &job.shard_id, read.next, deadline) => {}
                    () = changed => {}
                }
                continue;
            }
            // The batching window: gather more until the batch is full or the window ends.
            if snap.window_millis > 0 {
                let deadline = self.clock.now_millis() + snap.window_millis;
                while read.records.len() < max && !read.end_of_shard && self.clock.now_millis() < deadline {
                    job.source.wait(&job.stream, &job.shard_id, read.next, deadline).await;
                    match job
                        .source
                        .read(&job.stream, &job.shard_id, read.next, max - read.records.len())
                    {
                        Ok(more) => {
                            read.records.extend(more.records);
                            read.next = more.next;
                            read.end_of_shard = more.end_of_shard;
                        }
                        Err(_) => break,
                    }
                }
            }
            let records: Vec<StreamRecord> = if snap.filters.is_empty() {
                read.records
            } else {
                // Filtered out: never sent, and checkpointed past.
                let all = read.records.len();
                let kept: Vec<StreamRecord> = read
                    .records
                    .into_iter()
                    .filter(|r| {
                        let view = filter_view(r);
                        snap.filters.iter().any(|p| p.matches(&view))
                    })
                    .collect();
                self.stream_counters
                    .filtered
                    .fetch_add((all - kept.len()) as u64, Ordering::Relaxed);
                kept
            };
            // Records of a partition key always go to the same lane, so their order holds.
            let lanes = snap.settings.parallelization.max(1) as usize;
            let mut by_lane: Vec<Vec<StreamRecord>> = vec![Vec::new(); lanes];
            for r in records {
                let lane = if lanes == 1 {
                    0
                } else {
                    let mut h = std::collections::hash_map::DefaultHasher::new();
                    r.partition_key.hash(&mut h);
                    (h.finish() % lanes as u64) as usize
                };
                by_lane[lane].push(r);
            }
            let work = by_lane
                .into_iter()
                .filter(|l| !l.is_empty())
                .map(|lane| self.run_lane(&job, lane));
            futures::future::join_all(work).await;
            position = Some(read.next);
            if read.end_of_shard {
                // Read once more: the next read confirms the end with no records.
                continue;
            }
        }
    }

    /// Runs one lane's records, a batch at a time, until each has its fate.
    async fn run_lane(&self, job: &ShardJob, records: Vec<StreamRecord>) {
        let batch = read_snapshot(&job.handle).batch;
        let mut rest = records;
        while !rest.is_empty() {
            let tail = rest.split_off(batch.min(rest.len()));
            let head = std::mem::replace(&mut rest, tail);
            if !self.run_batch(job, head).await {
                return;
            }
        }
    }

    /// Runs one batch through retries, bisection and discarding. False when the mapping was
    /// deleted on the way.
    async fn run_batch(&self, job: &ShardJob, records: Vec<StreamRecord>) -> bool {
        let mut queue: VecDeque<Pending> = VecDeque::new();
        queue.push_back(Pending {
            records,
            retries: 0,
            invokes: 0,
            function_error: None,
        });
        while let Some(mut p) = queue.pop_front() {
            loop {
                let changed = job.handle.changed.notified();
                let snap = read_snapshot(&job.handle);
                if snap.deleted {
                    return false;
                }
                // Records older than MaximumRecordAgeInSeconds are discarded, not sent.
                if snap.settings.max_record_age >= 0 {
                    let limit = snap.settings.max_record_age as u64 * 1000;
                    let now = self.clock.now_millis();
                    let expired = p
                        .records
                        .iter()
                        .take_while(|r| now.saturating_sub(r.approximate_arrival_millis) > limit)
                        .count();
                    if expired > 0 {
                        let old: Vec<StreamRecord> = p.records.drain(..expired).collect();
                        self.discard(job, &snap, &old, Condition::RecordAgeExceeded, &p);
                        if p.records.is_empty() {
                            break;
                        }
                    }
                }
                let Some(role_and_fn) = self.function_for(&snap) else {
                    // The function is gone: wait and try again, without counting.
                    set_result(&job.handle, "PROBLEM: Function not found");
                    self.wait_retry(1, changed).await;
                    continue;
                };
                let (function, role) = role_and_fn;
                let payload = Bytes::from(
                    json!({
                        "Records": p.records.iter().map(|r| record(r, &job.shard_id, &job.stream_arn, &snap.region, &role)).collect::<Vec<_>>()
                    })
                    .to_string(),
                );
                let outcome = self
                    .invoke_internal(
                        &function,
                        snap.qualifier.as_deref(),
                        lb_core::ids::uuid(),
                        payload,
                        None,
                    )
                    .await;
                let failed_from: usize = match outcome {
                    None => {
                        set_result(&job.handle, "PROBLEM: Function not found");
                        self.wait_retry(1, job.handle.changed.notified()).await;
                        continue;
                    }
                    Some(Outcome::Response(body)) => {
                        p.invokes += 1;
                        if !snap.partial {
                            set_result(&job.handle, "OK");
                            self.stream_counters
                                .processed
                                .fetch_add(p.records.len() as u64, Ordering::Relaxed);
                            break;
                        }
                        match reported_failure(&body, &p.records) {
                            Ok(None) => {
                                set_result(&job.handle, "OK");
                                self.stream_counters
                                    .processed
                                    .fetch_add(p.records.len() as u64, Ordering::Relaxed);
                                break;
                            }
                            Ok(Some(i)) => {
                                p.function_error = None;
                                self.stream_counters.processed.fetch_add(i as u64, Ordering::Relaxed);
                                i
                            }
                            Err(()) => {
                                p.function_error = None;
                                0
                            }
                        }
                    }
                    Some(_) => {
                        // A raised error, a timeout or a crash: Lambda reports all as Unhandled.
                        p.invokes += 1;
                        p.function_error = Some("Unhandled".to_owned());
                        0
                    }
                };
                set_result(&job.handle, "PROBLEM: Function call failed");
                self.stream_counters.failed_invocations.fetch_add(1, Ordering::Relaxed);
                // The records before the first failure are done.
                if failed_from > 0 {
                    p.records.drain(..failed_from);
                    if snap.settings.bisect {
                        // Bisected at the reported record: the rest is tried again, uncounted.
                        continue;
                    }
                }
                if snap.settings.bisect && p.records.len() > 1 {
                    let second = p.records.split_off(p.records.len() / 2);
                    queue.push_front(Pending {
                        records: second,
                        retries: p.retries,
                        invokes: p.invokes,
                        function_error: p.function_error.clone(),
                    });
                    queue.push_front(Pending {
                        records: std::mem::take(&mut p.records),
                        retries: p.retries,
                        invokes: p.invokes,
                        function_error: p.function_error.clone(),
                    });
                    break;
                }
                p.retries += 1;
                if snap.settings.max_retries >= 0 && p.retries > snap.settings.max_retries {
                    let all = std::mem::take(&mut p.records);
                    self.discard(job, &snap, &all, Condition::RetryAttemptsExhausted, &p);
                    break;
                }
                self.wait_retry(p.retries as u32, job.handle.changed.notified()).await;
            }
        }
        true
    }

    /// The function to invoke and its execution role.
    fn function_for(&self, snap: &Snapshot) -> Option<(Arc<std::sync::Mutex<super::Function>>, String)> {
        let f = self.functions().get(&snap.key).cloned()?;
        let role = f.lock().unwrap_or_else(PoisonError::into_inner).config.role.clone();
        Some((f, role))
    }

    /// Waits before retry `n` on the clock (or until the mapping changes).
    async fn wait_retry(&self, n: u32, changed: tokio::sync::futures::Notified<'_>) {
        let wait = RETRY_BASE_MILLIS
            .saturating_mul(1u64 << n.saturating_sub(1).min(20))
            .min(RETRY_MAX_MILLIS);
        let due = self.clock.now_millis() + wait;
        tokio::select! {
            () = self.clock.sleep_until(due) => {}
            () = changed => {}
        }
    }

    /// Sends the invocation record of a discarded batch to the mapping's OnFailure destination.
    fn discard(&self, job: &ShardJob, snap: &Snapshot, records: &[StreamRecord], condition: Condition, p: &Pending) {
        let (Some(first), Some(last)) = (records.first(), records.last()) else {
            return;
        };
        self.stream_counters
            .discarded
            .fetch_add(records.len() as u64, Ordering::Relaxed);
        tracing::warn!(
            mapping = %snap.mapping_arn,
            shard = %job.shard_id,
            first = %first.sequence_number,
            last = %last.sequence_number,
            condition = condition.as_str(),
            "event source mapping discarded a batch"
        );
        let Some(dest) = &snap.settings.on_failure else { return };
        let now = self.clock.now_millis();
        let request_id = lb_core::ids::uuid();
        let executed = match snap.qualifier.as_deref() {
            Some(q) if q.chars().all(|c| c.is_ascii_digit()) => q.to_owned(),
            _ => "$LATEST".to_owned(),
        };
        let mut doc = json!({
            "requestContext": {
                "requestId": request_id,
                "functionArn": snap.function_arn,
                "condition": condition.as_str(),
                "approximateInvokeCount": p.invokes,
            },
            "version": "1.0",
            "timestamp": lb_core::clock::iso8601_millis(now),
            "KinesisBatchInfo": {
                "shardId": job.shard_id,
                "startSequenceNumber": first.sequence_number,
                "endSequenceNumber": last.sequence_number,
                "approximateArrivalOfFirstRecord": lb_core::clock::iso8601_millis(first.approximate_arrival_millis),
                "approximateArrivalOfLastRecord": lb_core::clock::iso8601_millis(last.approximate_arrival_millis),
                "batchSize": records.len(),
                "streamArn": job.stream_arn,
            },
        });
        if p.invokes > 0 {
            let mut response = json!({ "statusCode": 200, "executedVersion": executed });
            if let Some(e) = &p.function_error {
                response["functionError"] = json!(e);
            }
            doc["responseContext"] = response;
        }
        let Some(engine) = &self.engine else {
            tracing::warn!(destination = %dest, "no delivery engine: the destination is not reached");
            return;
        };
        let Ok(target) = dest.parse::<Arn>() else { return };
        let mut message = Message::new(doc.to_string());
        message.source_arn = Some(snap.function_arn.as_str().into());
        let mut d = Delivery::new(
            target,
            Arc::new(message),
            Producer::new(snap.mapping_arn.as_str(), None),
        );
        d.event_id = Some(request_id.into());
        d.retry = RetryPolicy::exponential(5, 60_000, 100, 5_000);
        d.when_full = WhenFull::Drop;
        let _ = engine.submit(d);
    }
}

#[cfg(test)]
mod tests;
