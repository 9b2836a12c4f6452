//! The operations as plain Rust: inputs as botocore's `kinesis` model names them, outputs as
//! JSON values in the model's shapes. Timestamps are epoch seconds (JSON 1.1's default).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use lb_core::AwsError;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::errors::{self, constraint, invalid, missing};
use crate::keys::{self, Iterator};
use crate::store::{Shard, Stream, StreamMode};
use crate::Kinesis;

/// Shard iterators are valid this long after they are issued.
pub const ITERATOR_TTL_MILLIS: u64 = 300_000;
/// The shards of a new on-demand stream.
pub const ON_DEMAND_SHARDS: u32 = 4;
/// The most shards one stream may have here (AWS's default account shard quota, 500 in the
/// largest regions; a per-account quota there, a per-stream bound here).
pub const MAX_SHARDS: u32 = 500;
/// The largest record (`MaxRecordSizeInKiB` defaults to 1024).
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;
/// The most data one GetRecords call returns.
pub const MAX_GET_BYTES: usize = 10 * 1024 * 1024;
const MIN_RETENTION: u32 = 24;
const MAX_RETENTION: u32 = 8760;

/// How a request names its stream (`StreamName` or `StreamARN`).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct StreamRef {
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct StreamModeDetails {
    pub stream_mode: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct CreateStreamInput {
    pub stream_name: Option<String>,
    pub shard_count: Option<i64>,
    pub stream_mode_details: Option<StreamModeDetails>,
    pub tags: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DescribeStreamInput {
    #[serde(flatten)]
    pub stream: StreamRef,
    pub limit: Option<i64>,
    pub exclusive_start_shard_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ListStreamsInput {
    pub limit: Option<i64>,
    pub exclusive_start_stream_name: Option<String>,
    pub next_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ListShardsInput {
    #[serde(flatten)]
    pub stream: StreamRef,
    pub next_token: Option<String>,
    pub exclusive_start_shard_id: Option<String>,
    pub max_results: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct PutRecordsEntry {
    pub data: Option<String>,
    pub explicit_hash_key: Option<String>,
    pub partition_key: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct PutRecordInput {
    #[serde(flatten)]
    pub stream: StreamRef,
    #[serde(flatten)]
    pub entry: PutRecordsEntry,
    pub sequence_number_for_ordering: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct PutRecordsInput {
    #[serde(flatten)]
    pub stream: StreamRef,
    pub records: Option<Vec<PutRecordsEntry>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct GetShardIteratorInput {
    #[serde(flatten)]
    pub stream: StreamRef,
    pub shard_id: Option<String>,
    pub shard_iterator_type: Option<String>,
    pub starting_sequence_number: Option<String>,
    /// Epoch seconds.
    pub timestamp: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct GetRecordsInput {
    pub shard_iterator: Option<String>,
    pub limit: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct TagsInput {
    #[serde(flatten)]
    pub stream: StreamRef,
    pub tags: Option<BTreeMap<String, String>>,
    pub tag_keys: Option<Vec<String>>,
    pub exclusive_start_tag_key: Option<String>,
    pub limit: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct RetentionInput {
    #[serde(flatten)]
    pub stream: StreamRef,
    pub retention_period_hours: Option<i64>,
}

fn secs(millis: u64) -> Value {
    json!(millis as f64 / 1000.0)
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn check_name(name: &str, member: &str) -> Result<(), AwsError> {
    if name.is_empty() || name.len() > 128 {
        return Err(constraint(
            name,
            member,
            "Member must have length less than or equal to 128",
        ));
    }
    if !valid_name(name) {
        return Err(constraint(
            name,
            member,
            "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
        ));
    }
    Ok(())
}

fn check_range(v: Option<i64>, member: &str, min: i64, max: i64) -> Result<(), AwsError> {
    match v {
        Some(v) if v < min => Err(constraint(
            &v.to_string(),
            member,
            &format!("Member must have value greater than or equal to {min}"),
        )),
        Some(v) if v > max => Err(constraint(
            &v.to_string(),
            member,
            &format!("Member must have value less than or equal to {max}"),
        )),
        _ => Ok(()),
    }
}

fn hash_range_json(s: &Shard) -> Value {
    json!({
        "StartingHashKey": s.start_hash.to_string(),
        "EndingHashKey": s.end_hash.to_string(),
    })
}

fn shard_json(s: &Shard) -> Value {
    let mut range = json!({ "StartingSequenceNumber": s.starting_sequence_number() });
    if let Some(end) = s.ending_sequence_number() {
        range["EndingSequenceNumber"] = json!(end);
    }
    let mut out = json!({
        "ShardId": s.id,
        "HashKeyRange": hash_range_json(s),
        "SequenceNumberRange": range,
    });
    if let Some(p) = &s.parent {
        out["ParentShardId"] = json!(p);
    }
    if let Some(p) = &s.adjacent_parent {
        out["AdjacentParentShardId"] = json!(p);
    }
    out
}

/// GetRecords' `ChildShards` at the end of a closed shard.
fn child_shards_json(children: &[Arc<Shard>]) -> Value {
    children
        .iter()
        .map(|c| {
            json!({
                "ShardId": c.id,
                "ParentShards": c.parent.iter().chain(c.adjacent_parent.iter()).collect::<Vec<_>>(),
                "HashKeyRange": hash_range_json(c),
            })
        })
        .collect()
}

fn mode_json(s: &Stream) -> Value {
    json!({ "StreamMode": s.mode.as_str() })
}

impl Kinesis {
    /// The stream a request names (by name or ARN).
    pub fn stream(&self, region: &str, account: &str, r: &StreamRef) -> Result<Arc<Stream>, AwsError> {
        let name = match (&r.stream_name, &r.stream_arn) {
            (Some(n), _) => {
                check_name(n, "streamName")?;
                n.clone()
            }
            (None, Some(arn)) => match arn.rsplit_once(":stream/") {
                Some((_, n)) if valid_name(n) => n.to_owned(),
                _ => {
                    return Err(constraint(
                        arn,
                        "streamARN",
                        "Member must satisfy regular expression pattern: arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+",
                    ))
                }
            },
            (None, None) => return Err(invalid("Either StreamName or StreamARN should be provided.")),
        };
        self.store
            .get(region, account, &name)
            .ok_or_else(|| errors::stream_not_found(&name, account))
    }

    pub fn create_stream(&self, region: &str, account: &str, i: CreateStreamInput) -> Result<(), AwsError> {
        let name = i.stream_name.ok_or_else(|| missing("streamName"))?;
        check_name(&name, "streamName")?;
        check_range(i.shard_count, "shardCount", 1, i64::MAX)?;
        let mode = match i.stream_mode_details.and_then(|d| d.stream_mode).as_deref() {
            None | Some("PROVISIONED") => StreamMode::Provisioned,
            Some("ON_DEMAND") => StreamMode::OnDemand,
            Some(other) => {
                return Err(constraint(
                    other,
                    "streamModeDetails.streamMode",
                    "Member must satisfy enum value set: [PROVISIONED, ON_DEMAND]",
                ))
            }
        };
        let shards = match (mode, i.shard_count) {
            (StreamMode::OnDemand, Some(_)) => {
                return Err(invalid("ShardCount is not allowed for ON_DEMAND stream mode."))
            }
            (StreamMode::OnDemand, None) => ON_DEMAND_SHARDS,
            (StreamMode::Provisioned, None) => ON_DEMAND_SHARDS,
            (StreamMode::Provisioned, Some(n)) => u32::try_from(n).unwrap_or(u32::MAX),
        };
        if shards > MAX_SHARDS {
            return Err(errors::limit_exceeded(format!(
                "This request would exceed the shard limit for the account {account} in {region}. Current shard count for the account: 0. Limit: {MAX_SHARDS}. Number of additional shards that would have resulted from this request: {shards}. Refer to the AWS Service Limits page (https://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for current limits and how to request higher limits."
            )));
        }
        let stream = Stream::new(
            region,
            account,
            &name,
            mode,
            shards,
            self.now(),
            self.config.create_delay_millis,
        );
        if let Some(tags) = i.tags {
            *stream.tags() = tags;
        }
        if !self.store.insert(region, stream) {
            return Err(errors::stream_exists(&name, account));
        }
        Ok(())
    }

    pub fn delete_stream(&self, region: &str, account: &str, r: &StreamRef) -> Result<(), AwsError> {
        let s = self.stream(region, account, r)?;
        self.store.remove(region, account, &s.name);
        Ok(())
    }

    pub fn describe_stream(&self, region: &str, account: &str, i: &DescribeStreamInput) -> Result<Value, AwsError> {
        check_range(i.limit, "limit", 1, 10_000)?;
        let s = self.stream(region, account, &i.stream)?;
        let limit = usize::try_from(i.limit.unwrap_or(100)).unwrap_or(100);
        let after = i.exclusive_start_shard_id.as_deref();
        let now = self.now();
        let shards: Vec<Arc<Shard>> = s
            .listed_shards(now)
            .into_iter()
            .filter(|sh| after.is_none_or(|a| sh.id.as_str() > a))
            .collect();
        let more = shards.len() > limit;
        Ok(json!({ "StreamDescription": {
            "StreamName": s.name,
            "StreamARN": s.arn,
            "StreamStatus": s.status(now),
            "StreamModeDetails": mode_json(&s),
            "Shards": shards.iter().take(limit).map(|sh| shard_json(sh)).collect::<Vec<_>>(),
            "HasMoreShards": more,
            "RetentionPeriodHours": s.retention_hours.load(Ordering::Relaxed),
            "StreamCreationTimestamp": secs(s.created_millis),
            "EnhancedMonitoring": [{ "ShardLevelMetrics": [] }],
            "EncryptionType": "NONE",
        }}))
    }

    pub fn describe_stream_summary(&self, region: &str, account: &str, r: &StreamRef) -> Result<Value, AwsError> {
        let s = self.stream(region, account, r)?;
        Ok(json!({ "StreamDescriptionSummary": {
            "StreamName": s.name,
            "StreamARN": s.arn,
            "StreamStatus": s.status(self.now()),
            "StreamModeDetails": mode_json(&s),
            "RetentionPeriodHours": s.retention_hours.load(Ordering::Relaxed),
            "StreamCreationTimestamp": secs(s.created_millis),
            "EnhancedMonitoring": [{ "ShardLevelMetrics": [] }],
            "EncryptionType": "NONE",
            "OpenShardCount": s.open_shard_count(),
            "ConsumerCount": 0,
        }}))
    }

    pub fn list_streams(&self, region: &str, account: &str, i: &ListStreamsInput) -> Result<Value, AwsError> {
        check_range(i.limit, "limit", 1, 10_000)?;
        let limit = usize::try_from(i.limit.unwrap_or(100)).unwrap_or(100);
        let after = match &i.next_token {
            Some(t) => Some(decode_token(t)?),
            None => i.exclusive_start_stream_name.clone(),
        };
        let all: Vec<_> = self
            .store
            .list(region, account)
            .into_iter()
            .filter(|s| after.as_deref().is_none_or(|a| s.name.as_str() > a))
            .collect();
        let more = all.len() > limit;
        let page = &all[..all.len().min(limit)];
        let now = self.now();
        let mut out = json!({
            "StreamNames": page.iter().map(|s| s.name.clone()).collect::<Vec<_>>(),
            "HasMoreStreams": more,
            "StreamSummaries": page.iter().map(|s| json!({
                "StreamName": s.name,
                "StreamARN": s.arn,
                "StreamStatus": s.status(now),
                "StreamModeDetails": mode_json(s),
                "StreamCreationTimestamp": secs(s.created_millis),
            })).collect::<Vec<_>>(),
        });
        if more {
            if let Some(last) = page.last() {
                out["NextToken"] = json!(encode_token(&last.name));
            }
        }
        Ok(out)
    }

    pub fn list_shards(&self, region: &str, account: &str, i: &ListShardsInput) -> Result<Value, AwsError> {
        check_range(i.max_results, "maxResults", 1, 10_000)?;
        let (stream, after) = match &i.next_token {
            Some(t) => {
                if i.stream.stream_name.is_some() || i.stream.stream_arn.is_some() {
                    return Err(invalid("NextToken and StreamName cannot be provided together."));
                }
                let raw = decode_token(t)?;
                let (name, shard) = raw
                    .split_once('|')
                    .ok_or_else(|| invalid(format!("Invalid ListShards token: {t}")))?;
                let r = StreamRef {
                    stream_name: Some(name.to_owned()),
                    stream_arn: None,
                };
                (self.stream(region, account, &r)?, Some(shard.to_owned()))
            }
            None => (
                self.stream(region, account, &i.stream)?,
                i.exclusive_start_shard_id.clone(),
            ),
        };
        let limit = usize::try_from(i.max_results.unwrap_or(1000).min(1000)).unwrap_or(1000);
        let shards: Vec<Arc<Shard>> = stream
            .listed_shards(self.now())
            .into_iter()
            .filter(|sh| after.as_deref().is_none_or(|a| sh.id.as_str() > a))
            .collect();
        let page = &shards[..shards.len().min(limit)];
        let mut out = json!({ "Shards": page.iter().map(|sh| shard_json(sh)).collect::<Vec<_>>() });
        if shards.len() > limit {
            if let Some(last) = page.last() {
                out["NextToken"] = json!(encode_token(&format!("{}|{}", stream.name, last.id)));
            }
        }
        Ok(out)
    }

    /// Validates one entry, returns its hash key, partition key and data.
    fn entry(e: PutRecordsEntry, prefix: &str) -> Result<(u128, Arc<str>, Bytes), AwsError> {
        let data = e.data.ok_or_else(|| missing(&format!("{prefix}data")))?;
        let data = base64::engine::general_purpose::STANDARD
            .decode(data.as_bytes())
            .map_err(|_| AwsError::new("SerializationException", 400, "Data is not valid base64"))?;
        if data.len() > MAX_RECORD_BYTES {
            return Err(constraint(
                "java.nio.HeapByteBuffer",
                &format!("{prefix}data"),
                "Member must have length less than or equal to 1048576",
            ));
        }
        let pk = e
            .partition_key
            .ok_or_else(|| missing(&format!("{prefix}partitionKey")))?;
        if pk.is_empty() || pk.chars().count() > 256 {
            return Err(constraint(
                &pk,
                &format!("{prefix}partitionKey"),
                "Member must have length between 1 and 256",
            ));
        }
        let hash = match e.explicit_hash_key {
            Some(h) => h
                .parse::<u128>()
                .ok()
                .filter(|_| h == "0" || !h.starts_with('0'))
                .ok_or_else(|| {
                    invalid(format!(
                        "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was {h}"
                    ))
                })?,
            None => keys::hash_key(&pk),
        };
        Ok((hash, Arc::from(pk), Bytes::from(data)))
    }

    pub fn put_record(&self, region: &str, account: &str, i: PutRecordInput) -> Result<Value, AwsError> {
        let s = self.stream(region, account, &i.stream)?;
        let (hash, pk, data) = Self::entry(i.entry, "")?;
        let out = {
            let table = s.table();
            let shard = table.shard_for(hash);
            let r = self
                .store
                .append(&s, shard, pk, data, self.now(), self.config.shard_limits)
                .ok_or_else(|| errors::throughput_exceeded(&shard.id, &s.name, account))?;
            json!({
                "ShardId": shard.id,
                "SequenceNumber": shard.sequence_number(&r),
                "EncryptionType": "NONE",
            })
        };
        self.store.enforce_bound(self.config.max_records);
        Ok(out)
    }

    pub fn put_records(&self, region: &str, account: &str, i: PutRecordsInput) -> Result<Value, AwsError> {
        let records = i.records.ok_or_else(|| missing("records"))?;
        if records.is_empty() || records.len() > 500 {
            let c = if records.is_empty() {
                "Member must have length greater than or equal to 1"
            } else {
                "Member must have length less than or equal to 500"
            };
            return Err(constraint(&format!("{} records", records.len()), "records", c));
        }
        let s = self.stream(region, account, &i.stream)?;
        let entries = records
            .into_iter()
            .enumerate()
            .map(|(n, e)| Self::entry(e, &format!("records.{}.member.", n + 1)))
            .collect::<Result<Vec<_>, _>>()?;
        let now = self.now();
        let mut failed = 0;
        let table = s.table();
        let results: Vec<Value> = entries
            .into_iter()
            .map(|(hash, pk, data)| {
                let shard = table.shard_for(hash);
                match self.store.append(&s, shard, pk, data, now, self.config.shard_limits) {
                    Some(r) => json!({ "ShardId": shard.id, "SequenceNumber": shard.sequence_number(&r) }),
                    None => {
                        failed += 1;
                        json!({
                            "ErrorCode": "ProvisionedThroughputExceededException",
                            "ErrorMessage": errors::throughput_exceeded_message(&shard.id, &s.name, account),
                        })
                    }
                }
            })
            .collect();
        drop(table);
        self.store.enforce_bound(self.config.max_records);
        Ok(json!({ "FailedRecordCount": failed, "Records": results, "EncryptionType": "NONE" }))
    }

    pub fn get_shard_iterator(
        &self,
        region: &str,
        account: &str,
        i: &GetShardIteratorInput,
    ) -> Result<Value, AwsError> {
        let shard_id = i.shard_id.as_deref().ok_or_else(|| missing("shardId"))?;
        let kind = i
            .shard_iterator_type
            .as_deref()
            .ok_or_else(|| missing("shardIteratorType"))?;
        let s = self.stream(region, account, &i.stream)?;
        let now = self.now();
        let shard = s
            .shard(shard_id, now)
            .ok_or_else(|| errors::shard_not_found(shard_id, &s.name, account))?;
        // AWS's texts, as SDK users quote them (boto/boto3#1478, akkadotnet/Alpakka#160,
        // amazon-kinesis-connectors#8).
        let seq_index = |what: &str| -> Result<u64, AwsError> {
            let seq = i.starting_sequence_number.as_deref().ok_or_else(|| {
                invalid(format!(
                    "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified {what} and no StartingSequenceNumber."
                ))
            })?;
            match keys::parse_sequence_number(seq) {
                Some((created, n, index)) if created == shard.created_secs && n == shard.index => Ok(index),
                Some((created, n, _)) if s.table().all.get(n as usize).is_some_and(|o| o.created_secs == created) => {
                    Err(invalid(format!(
                        "Invalid StartingSequenceNumber. It encodes {}, while it was used in a call to a shard with {}",
                        keys::shard_id(n),
                        shard.id
                    )))
                }
                _ => Err(invalid(format!(
                    "StartingSequenceNumber {seq} used in GetShardIterator on shard {} in stream {} under account {account} is invalid because it did not come from this stream.",
                    shard.id, s.name
                ))),
            }
        };
        let position = {
            let mut log = shard.log();
            self.store.expire(&mut log, s.retention_millis(), now);
            match kind {
                "TRIM_HORIZON" => log.first_index(),
                "LATEST" => log.next_index,
                "AT_SEQUENCE_NUMBER" => {
                    drop(log);
                    seq_index(kind)?
                }
                "AFTER_SEQUENCE_NUMBER" => {
                    drop(log);
                    seq_index(kind)? + 1
                }
                "AT_TIMESTAMP" => {
                    let ts = i.timestamp.ok_or_else(|| {
                        invalid("Timestamp must be specified for shardIteratorType AT_TIMESTAMP.")
                    })?;
                    let ts = if ts <= 0.0 { 0 } else { (ts * 1000.0) as u64 };
                    let at = log.records.partition_point(|r| r.arrival_millis < ts);
                    log.records.get(at).map_or(log.next_index, |r| r.index)
                }
                other => {
                    return Err(constraint(
                        other,
                        "shardIteratorType",
                        "Member must satisfy enum value set: [AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, TRIM_HORIZON, LATEST, AT_TIMESTAMP]",
                    ))
                }
            }
        };
        let it = Iterator {
            stream: s.name.clone(),
            stream_created_millis: s.created_millis,
            shard: shard.index,
            position,
            issued_millis: now,
        };
        Ok(json!({ "ShardIterator": it.encode() }))
    }

    pub fn get_records(&self, region: &str, account: &str, i: &GetRecordsInput) -> Result<Value, AwsError> {
        let raw = i.shard_iterator.as_deref().ok_or_else(|| missing("shardIterator"))?;
        check_range(i.limit, "limit", 1, 10_000)?;
        let it = Iterator::decode(raw).ok_or_else(|| invalid(format!("Invalid ShardIterator: {raw}")))?;
        let now = self.now();
        let s = self
            .store
            .get(region, account, &it.stream)
            .filter(|s| s.created_millis == it.stream_created_millis)
            .ok_or_else(|| errors::stream_not_found(&it.stream, account))?;
        let shard = s
            .table()
            .all
            .get(it.shard as usize)
            .cloned()
            .ok_or_else(|| errors::shard_not_found(&keys::shard_id(it.shard), &s.name, account))?;
        if now.saturating_sub(it.issued_millis) > ITERATOR_TTL_MILLIS {
            return Err(errors::iterator_expired(it.issued_millis, now, ITERATOR_TTL_MILLIS));
        }
        let limit = usize::try_from(i.limit.unwrap_or(10_000)).unwrap_or(10_000);
        let read = self.store.read(&s, &shard, it.position, limit, MAX_GET_BYTES, now);
        let (batch, next, behind) = (read.records, read.next, read.millis_behind);
        let records: Vec<Value> = batch
            .iter()
            .map(|r| {
                json!({
                    "SequenceNumber": shard.sequence_number(r),
                    "ApproximateArrivalTimestamp": secs(r.arrival_millis),
                    "Data": base64::engine::general_purpose::STANDARD.encode(&r.data),
                    "PartitionKey": &*r.partition_key,
                })
            })
            .collect();
        if read.end_of_shard {
            // A closed shard read to its end: no next iterator, and the shards that follow it.
            return Ok(json!({
                "Records": records,
                "MillisBehindLatest": behind,
                "ChildShards": child_shards_json(&s.children(&shard.id)),
            }));
        }
        let next_it = Iterator {
            position: next,
            issued_millis: now,
            ..it
        };
        Ok(json!({
            "Records": records,
            "NextShardIterator": next_it.encode(),
            "MillisBehindLatest": behind,
        }))
    }

    pub fn add_tags(&self, region: &str, account: &str, i: TagsInput) -> Result<(), AwsError> {
        let tags = i.tags.ok_or_else(|| missing("tags"))?;
        if tags.is_empty() {
            return Err(constraint(
                "{}",
                "tags",
                "Member must have length greater than or equal to 1",
            ));
        }
        let s = self.stream(region, account, &i.stream)?;
        let mut current = s.tags();
        let added = tags.keys().filter(|k| !current.contains_key(*k)).count();
        if current.len() + added > 50 {
            return Err(errors::limit_exceeded(format!(
                "Failed to add tags to stream {} under account {account} because a given stream cannot have more than 50 tags.",
                s.name
            )));
        }
        current.extend(tags);
        Ok(())
    }

    pub fn remove_tags(&self, region: &str, account: &str, i: TagsInput) -> Result<(), AwsError> {
        let keys = i.tag_keys.ok_or_else(|| missing("tagKeys"))?;
        let s = self.stream(region, account, &i.stream)?;
        let mut current = s.tags();
        for k in keys {
            current.remove(&k);
        }
        Ok(())
    }

    pub fn list_tags(&self, region: &str, account: &str, i: &TagsInput) -> Result<Value, AwsError> {
        check_range(i.limit, "limit", 1, 50)?;
        let s = self.stream(region, account, &i.stream)?;
        let limit = usize::try_from(i.limit.unwrap_or(50)).unwrap_or(50);
        let current = s.tags();
        let after = i.exclusive_start_tag_key.as_deref();
        let all: Vec<_> = current
            .iter()
            .filter(|(k, _)| after.is_none_or(|a| k.as_str() > a))
            .collect();
        Ok(json!({
            "Tags": all.iter().take(limit).map(|(k, v)| json!({"Key": k, "Value": v})).collect::<Vec<_>>(),
            "HasMoreTags": all.len() > limit,
        }))
    }

    pub fn change_retention(
        &self,
        region: &str,
        account: &str,
        i: &RetentionInput,
        increase: bool,
    ) -> Result<(), AwsError> {
        let hours = i
            .retention_period_hours
            .ok_or_else(|| missing("retentionPeriodHours"))?;
        let s = self.stream(region, account, &i.stream)?;
        if hours < i64::from(MIN_RETENTION) {
            return Err(invalid(format!(
                "Minimum allowed retention period is {MIN_RETENTION} hours. Requested retention period ({hours} hours) is too short."
            )));
        }
        if hours > i64::from(MAX_RETENTION) {
            return Err(invalid(format!(
                "Maximum allowed retention period is {MAX_RETENTION} hours. Requested retention period ({hours} hours) is too long."
            )));
        }
        let current = i64::from(s.retention_hours.load(Ordering::Relaxed));
        if increase && hours < current {
            return Err(invalid(format!(
                "Requested retention period ({hours} hours) for stream {} can not be shorter than existing retention period ({current} hours). Use DecreaseRetentionPeriod API.",
                s.name
            )));
        }
        if !increase && hours > current {
            return Err(invalid(format!(
                "Requested retention period ({hours} hours) for stream {} can not be longer than existing retention period ({current} hours). Use IncreaseRetentionPeriod API.",
                s.name
            )));
        }
        s.retention_hours.store(hours as u32, Ordering::Relaxed);
        Ok(())
    }
}

fn encode_token(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn decode_token(t: &str) -> Result<String, AwsError> {
    base64::engine::general_purpose::STANDARD
        .decode(t)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| invalid(format!("Invalid NextToken: {t}")))
}
