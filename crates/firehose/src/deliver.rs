//! Each stream's buffer task, on the platform clock.
//!
//! The buffer is delivered when it holds `SizeInMBs` or when `IntervalInSeconds` have passed
//! since its oldest record arrived, whichever comes first (`Clock::sleep_until`, so a manual
//! clock moves it). An object holds at most `SizeInMBs`: records past the size stay for the
//! next object. Records are concatenated as sent (Firehose adds no delimiter).
//!
//! Delivering a batch: the Lambda processor (if any) transforms it; the records it returns `Ok`
//! become one object (GZIP-compressed if configured) under the evaluated Prefix; records it
//! reports `ProcessingFailed`, and records of invocations that failed after
//! `NumberOfRetries` retries, are written as AWS's error documents under the ErrorOutputPrefix
//! (`processing-failed`). A failed S3 write (the bucket is missing, ...) is retried on the
//! clock with back-off, blocking the stream's later deliveries as AWS's do, until the oldest
//! record is older than the retention period (24 hours); then its records are dropped with a
//! logged reason and counted (`localbridge_firehose_records_expired_total`), as AWS drops
//! records it could not deliver within their retention.
//!
//! The task ends when the stream is deleted, after delivering what is buffered.

use std::io::Write as _;
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use lb_core::object::ObjectPut;
use serde_json::{json, Value};
use tracing::{debug, warn};

use crate::model::{Compression, Processor, S3Destination};
use crate::prefix::suffix;
use crate::{counter, lock, DeliveryStream, Firehose, Record, Source};

/// The principal Firehose writes objects as.
pub const PRINCIPAL: &str = "firehose.amazonaws.com";
/// Back-off of failed S3 writes: 1 s, doubled, at most 60 s.
const FIRST_BACKOFF_MILLIS: u64 = 1_000;
const MAX_BACKOFF_MILLIS: u64 = 60_000;
/// The error-output-type of transformation failures.
const PROCESSING_FAILED: &str = "processing-failed";

pub(crate) async fn run(fh: Arc<Firehose>, s: Arc<DeliveryStream>) {
    loop {
        let notified = s.wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let cfg = s.config();
        let dest = Arc::clone(&cfg.destination);
        let now = fh.now();
        let deleted = s.is_deleted();
        let (batch, due) = {
            let mut b = lock(&s.buffer);
            match b.records.front().map(|r| r.arrival_millis) {
                None if deleted => return,
                None => (None, None),
                Some(oldest) => {
                    let due = oldest.saturating_add(dest.interval_millis());
                    if deleted || b.bytes >= dest.size_bytes() || now >= due {
                        (Some(take(&mut b, dest.size_bytes())), None)
                    } else {
                        (None, Some(due))
                    }
                }
            }
        };
        if let Some(batch) = batch {
            fh.deliver(&s, &dest, cfg.version, batch).await;
            continue;
        }
        match due {
            Some(due) => {
                tokio::select! {
                    () = fh.clock.sleep_until(due) => {}
                    () = &mut notified => {}
                }
            }
            None => notified.await,
        }
    }
}

/// The oldest records, up to `max` bytes (at least one).
fn take(b: &mut crate::Buffer, max: usize) -> Vec<Record> {
    let mut out = Vec::new();
    let mut bytes = 0;
    while let Some(r) = b.records.front() {
        if !out.is_empty() && bytes + r.data.len() > max {
            break;
        }
        bytes += r.data.len();
        if let Some(r) = b.records.pop_front() {
            out.push(r);
        }
    }
    b.bytes -= bytes;
    out
}

fn gzip(data: &[u8]) -> Bytes {
    let mut e = flate2::write::GzEncoder::new(Vec::with_capacity(data.len() / 4 + 64), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = e.write_all(data);
    Bytes::from(e.finish().unwrap_or_default())
}

/// A record the transformation failed, as AWS writes it to the error output.
struct Failed {
    record: Record,
    attempts: u32,
    code: String,
    message: String,
    ended_millis: u64,
    lambda_arn: String,
}

impl Failed {
    fn document(&self) -> Value {
        json!({
            "attemptsMade": self.attempts,
            "arrivalTimestamp": self.record.arrival_millis,
            "errorCode": self.code,
            "errorMessage": self.message,
            "attemptEndingTimestamp": self.ended_millis,
            "rawData": base64::engine::general_purpose::STANDARD.encode(&self.record.data),
            "lambdaArn": self.lambda_arn,
        })
    }
}

impl Firehose {
    async fn deliver(&self, s: &DeliveryStream, dest: &S3Destination, version: u64, batch: Vec<Record>) {
        let oldest = batch.first().map_or_else(|| self.now(), |r| r.arrival_millis);
        let mut records = batch;
        let mut failed = Vec::new();
        for p in &dest.processors {
            match p {
                Processor::Lambda {
                    function,
                    function_text,
                    retries,
                    buffer_bytes,
                } => {
                    let (ok, bad) = self
                        .transform(s, function, function_text, *retries, *buffer_bytes, records)
                        .await;
                    records = ok;
                    failed.extend(bad);
                }
                Processor::AppendDelimiter(d) => {
                    for r in &mut records {
                        let mut v = Vec::with_capacity(r.data.len() + d.len());
                        v.extend_from_slice(&r.data);
                        v.extend_from_slice(d);
                        r.data = Bytes::from(v);
                    }
                }
            }
        }
        if !records.is_empty() {
            let n = records.len() as u64;
            let mut body = Vec::with_capacity(records.iter().map(|r| r.data.len()).sum());
            for r in &records {
                body.extend_from_slice(&r.data);
            }
            let key = format!(
                "{}{}",
                dest.layout.prefix.eval(oldest, ""),
                suffix(&s.name, version, oldest, dest.extension())
            );
            if self.write(s, dest, key, Bytes::from(body), oldest, n).await {
                counter(&self.stats.records_delivered, n);
            }
        }
        if !failed.is_empty() {
            let n = failed.len() as u64;
            counter(&self.stats.records_processing_failed, n);
            let mut body = Vec::new();
            for f in &failed {
                body.extend_from_slice(f.document().to_string().as_bytes());
                body.push(b'\n');
            }
            let key = format!(
                "{}{}",
                dest.layout.error_prefix.eval(oldest, PROCESSING_FAILED),
                suffix(&s.name, version, oldest, dest.extension())
            );
            self.write(s, dest, key, Bytes::from(body), oldest, n).await;
        }
    }

    /// Writes one object, retrying on the clock; `false` when its records were dropped.
    async fn write(
        &self,
        s: &DeliveryStream,
        dest: &S3Destination,
        key: String,
        body: Bytes,
        oldest: u64,
        records: u64,
    ) -> bool {
        let body = match dest.compression {
            Compression::Gzip => gzip(&body),
            Compression::Uncompressed => body,
        };
        let put = ObjectPut {
            bucket: dest.bucket.clone(),
            key,
            body,
            content_type: None,
            content_encoding: None,
            metadata: Default::default(),
            principal: Arc::from(PRINCIPAL),
            account: Arc::from(s.account.as_str()),
        };
        let Some(sink) = &self.deps.objects else {
            warn!(stream = %s.arn, records, reason = "no S3 service is wired", "firehose records dropped");
            counter(&self.stats.records_expired, records);
            self.record_dropped(
                s,
                dest,
                oldest,
                0,
                None,
                format!("{records} records dropped: no S3 service is wired"),
            );
            return false;
        };
        let mut backoff = FIRST_BACKOFF_MILLIS;
        let mut attempt = 1u32;
        loop {
            match sink.put_object(put.clone()).await {
                Ok(stored) => {
                    debug!(stream = %s.arn, bucket = %dest.bucket.resource, key = %put.key, etag = %stored.etag, records, "firehose object delivered");
                    counter(&self.stats.objects, 1);
                    counter(&self.stats.object_bytes, put.body.len() as u64);
                    return true;
                }
                Err(e) => {
                    counter(&self.stats.write_failures, 1);
                    let now = self.now();
                    let expired = now >= oldest.saturating_add(self.config.retention_millis);
                    if expired || s.is_deleted() {
                        warn!(
                            stream = %s.arn, bucket = %dest.bucket.resource, key = %put.key, records, attempt,
                            code = %e.code, message = %e.message,
                            reason = if expired { "retention period of failed deliveries passed" } else { "stream deleted" },
                            "firehose records dropped"
                        );
                        counter(&self.stats.records_expired, records);
                        let why = if expired {
                            "the retention period of failed deliveries passed"
                        } else {
                            "the stream was deleted"
                        };
                        self.record_dropped(
                            s,
                            dest,
                            oldest,
                            attempt,
                            Some(format!("{}: {}", e.code, e.message)),
                            format!("{records} records for {} dropped: {why}", put.key),
                        );
                        return false;
                    }
                    warn!(
                        stream = %s.arn, bucket = %dest.bucket.resource, key = %put.key, records, attempt,
                        code = %e.code, message = %e.message, retry_in_ms = backoff,
                        "firehose S3 delivery failed, retrying"
                    );
                    self.clock.sleep_until(now + backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF_MILLIS);
                    attempt += 1;
                }
            }
        }
    }

    /// Records records given up on in the delivery ledger (producer: the delivery stream; target:
    /// its bucket), so `/_localbridge/ledger` shows them beside every other fate.
    fn record_dropped(
        &self,
        s: &DeliveryStream,
        dest: &S3Destination,
        oldest: u64,
        attempts: u32,
        error: Option<String>,
        reason: String,
    ) {
        let Some(engine) = &self.deps.engine else {
            return;
        };
        let producer = lb_core::deliver::Producer::new(s.arn.as_str(), None);
        let target: Arc<str> = Arc::from(dest.bucket.to_string());
        engine.ledger().record(&lb_core::deliver::Outcome {
            producer: &producer,
            target: &target,
            submitted_at: oldest,
            attempts,
            ended_at: self.now(),
            error,
            fate: lb_core::deliver::Fate::Dropped,
            reason: Some(reason),
            dead_letter_target: None,
        });
    }

    /// Runs the Lambda processor over `records` in invocations of at most `buffer_bytes`:
    /// (records to deliver, records that failed).
    async fn transform(
        &self,
        s: &DeliveryStream,
        function: &lb_core::Arn,
        function_text: &str,
        retries: u32,
        buffer_bytes: usize,
        records: Vec<Record>,
    ) -> (Vec<Record>, Vec<Failed>) {
        let mut ok = Vec::with_capacity(records.len());
        let mut failed = Vec::new();
        let mut chunk: Vec<Record> = Vec::new();
        let mut chunk_bytes = 0;
        let mut chunks = Vec::new();
        for r in records {
            if !chunk.is_empty() && chunk_bytes + r.data.len() > buffer_bytes {
                chunks.push(std::mem::take(&mut chunk));
                chunk_bytes = 0;
            }
            chunk_bytes += r.data.len();
            chunk.push(r);
        }
        if !chunk.is_empty() {
            chunks.push(chunk);
        }
        for chunk in chunks {
            let (o, f) = self.invoke(s, function, function_text, retries, chunk).await;
            ok.extend(o);
            failed.extend(f);
        }
        (ok, failed)
    }

    async fn invoke(
        &self,
        s: &DeliveryStream,
        function: &lb_core::Arn,
        function_text: &str,
        retries: u32,
        chunk: Vec<Record>,
    ) -> (Vec<Record>, Vec<Failed>) {
        let b64 = base64::engine::general_purpose::STANDARD;
        let ids: Vec<String> = chunk
            .iter()
            .map(|r| crate::service::record_id(r.arrival_millis))
            .collect();
        let records: Vec<Value> = chunk
            .iter()
            .zip(&ids)
            .map(|(r, id)| {
                let mut v = json!({
                    "recordId": id,
                    "approximateArrivalTimestamp": r.arrival_millis,
                    "data": b64.encode(&r.data),
                });
                if let Some(k) = &r.kinesis {
                    v["kinesisRecordMetadata"] = json!({
                        "shardId": &*k.shard_id,
                        "partitionKey": k.partition_key,
                        "approximateArrivalTimestamp": r.arrival_millis,
                        "sequenceNumber": k.sequence_number,
                        "subsequenceNumber": 0,
                    });
                }
                v
            })
            .collect();
        let mut event = json!({
            "invocationId": lb_core::ids::uuid(),
            "deliveryStreamArn": s.arn,
            "region": s.region,
            "records": records,
        });
        if let Source::Kinesis { stream_arn, .. } = &s.source {
            event["sourceKinesisStreamArn"] = json!(stream_arn);
        }
        let payload = Bytes::from(event.to_string());
        let Some(invoker) = &self.deps.functions else {
            return (
                Vec::new(),
                self.all_failed(
                    chunk,
                    0,
                    "Lambda.FunctionError",
                    "No Lambda service is wired",
                    function_text,
                ),
            );
        };
        let mut attempts = 0;
        let mut last = (String::new(), String::new());
        while attempts <= retries {
            attempts += 1;
            match invoker.invoke_function(function, payload.clone()).await {
                Ok(r) if r.function_error.is_none() => match parse_response(&r.payload) {
                    Ok(results) => return self.apply(chunk, &ids, results, attempts, function_text),
                    Err(m) => last = ("Lambda.JsonProcessingException".to_owned(), m),
                },
                Ok(r) => {
                    last = (
                        "Lambda.FunctionError".to_owned(),
                        format!(
                            "The Lambda function was successfully invoked but it returned an error result. {}",
                            String::from_utf8_lossy(&r.payload)
                        ),
                    );
                }
                Err(e) => last = (format!("Lambda.{}", e.code), e.message),
            }
            counter(&self.stats.invocation_failures, 1);
            warn!(stream = %s.arn, function = function_text, attempt = attempts, code = %last.0, message = %last.1, "firehose transformation invocation failed");
        }
        (
            Vec::new(),
            self.all_failed(chunk, attempts, &last.0, &last.1, function_text),
        )
    }

    fn all_failed(&self, chunk: Vec<Record>, attempts: u32, code: &str, message: &str, lambda: &str) -> Vec<Failed> {
        let now = self.now();
        chunk
            .into_iter()
            .map(|record| Failed {
                record,
                attempts,
                code: code.to_owned(),
                message: message.to_owned(),
                ended_millis: now,
                lambda_arn: lambda.to_owned(),
            })
            .collect()
    }

    fn apply(
        &self,
        chunk: Vec<Record>,
        ids: &[String],
        results: Vec<(String, String, Option<String>)>,
        attempts: u32,
        lambda: &str,
    ) -> (Vec<Record>, Vec<Failed>) {
        let now = self.now();
        let mut by_id: std::collections::HashMap<&str, (&str, Option<&str>)> = std::collections::HashMap::new();
        for (id, result, data) in &results {
            by_id.insert(id.as_str(), (result.as_str(), data.as_deref()));
        }
        let mut ok = Vec::new();
        let mut failed = Vec::new();
        let mut fail = |record: Record, code: &str, message: &str| {
            failed.push(Failed {
                record,
                attempts,
                code: code.to_owned(),
                message: message.to_owned(),
                ended_millis: now,
                lambda_arn: lambda.to_owned(),
            });
        };
        for (record, id) in chunk.into_iter().zip(ids) {
            match by_id.get(id.as_str()) {
                None => fail(
                    record,
                    "Lambda.MissingRecordId",
                    "One or more record Ids were not returned. Ensure that the Lambda function returns all received record Ids.",
                ),
                Some(("Ok", data)) => {
                    match data.map(|d| base64::engine::general_purpose::STANDARD.decode(d)) {
                        Some(Ok(bytes)) => ok.push(Record {
                            data: Bytes::from(bytes),
                            ..record
                        }),
                        _ => fail(
                            record,
                            "Lambda.InvalidData",
                            "The data returned by the Lambda function is not valid base64.",
                        ),
                    }
                }
                Some(("Dropped", _)) => counter(&self.stats.records_transform_dropped, 1),
                Some(("ProcessingFailed", _)) => fail(
                    record,
                    "Lambda.ProcessingFailedStatus",
                    "ProcessingFailed status set for record",
                ),
                Some((other, _)) => fail(
                    record,
                    "Lambda.InvalidResult",
                    &format!("Invalid result {other} returned by the Lambda function; expected Ok, Dropped or ProcessingFailed"),
                ),
            }
        }
        (ok, failed)
    }
}

/// `{"records": [{"recordId", "result", "data"}]}`.
fn parse_response(payload: &[u8]) -> Result<Vec<(String, String, Option<String>)>, String> {
    let v: Value =
        serde_json::from_slice(payload).map_err(|e| format!("The Lambda function response is not valid JSON: {e}"))?;
    let records = v
        .get("records")
        .and_then(Value::as_array)
        .ok_or("The Lambda function response has no records array")?;
    Ok(records
        .iter()
        .map(|r| {
            (
                r.get("recordId").and_then(Value::as_str).unwrap_or_default().to_owned(),
                r.get("result").and_then(Value::as_str).unwrap_or_default().to_owned(),
                r.get("data").and_then(Value::as_str).map(str::to_owned),
            )
        })
        .collect())
}
