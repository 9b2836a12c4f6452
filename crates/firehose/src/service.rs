//! The operations as plain Rust: inputs as botocore's `firehose` model names them, outputs as
//! JSON values in the model's shapes (timestamps in epoch seconds, JSON 1.1's default).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine as _;
use bytes::Bytes;
use lb_core::{Arn, AwsError};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::Notify;

use crate::errors::{self, check_name, constraint, invalid, missing, not_found, range, unsupported};
use crate::model::{S3Destination, S3DestinationIn};
use crate::{counter, lock, Buffer, DeliveryStream, Firehose, Record, Source, StreamConfig};

/// The largest record (`Record.Data`: 1,000 KiB).
pub const MAX_RECORD_BYTES: usize = 1_024_000;
/// PutRecordBatch: 500 records, 4 MiB in all.
pub const MAX_BATCH_RECORDS: usize = 500;
pub const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;
/// The one destination a stream has.
pub const DESTINATION_ID: &str = "destinationId-000000000001";
const MAX_TAGS: usize = 50;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TagIn {
    #[serde(rename = "Key")]
    pub key: Option<String>,
    #[serde(rename = "Value")]
    pub value: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct KinesisSourceIn {
    #[serde(rename = "KinesisStreamARN")]
    pub stream_arn: Option<String>,
    #[serde(rename = "RoleARN")]
    pub role_arn: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CreateInput {
    #[serde(rename = "DeliveryStreamName")]
    pub name: Option<String>,
    #[serde(rename = "DeliveryStreamType")]
    pub kind: Option<String>,
    #[serde(rename = "DirectPutSourceConfiguration")]
    pub direct_put: Option<Value>,
    #[serde(rename = "KinesisStreamSourceConfiguration")]
    pub kinesis: Option<KinesisSourceIn>,
    #[serde(rename = "DeliveryStreamEncryptionConfigurationInput")]
    pub encryption: Option<Value>,
    #[serde(rename = "S3DestinationConfiguration")]
    pub s3: Option<S3DestinationIn>,
    #[serde(rename = "ExtendedS3DestinationConfiguration")]
    pub extended_s3: Option<S3DestinationIn>,
    #[serde(rename = "Tags")]
    pub tags: Option<Vec<TagIn>>,
    /// Other destinations and sources: refused.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NameInput {
    #[serde(rename = "DeliveryStreamName")]
    pub name: Option<String>,
    #[serde(rename = "AllowForceDelete")]
    pub allow_force_delete: Option<bool>,
    #[serde(rename = "Limit")]
    pub limit: Option<i64>,
    #[serde(rename = "ExclusiveStartDestinationId")]
    pub exclusive_start_destination_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ListInput {
    #[serde(rename = "Limit")]
    pub limit: Option<i64>,
    #[serde(rename = "DeliveryStreamType")]
    pub kind: Option<String>,
    #[serde(rename = "ExclusiveStartDeliveryStreamName")]
    pub exclusive_start: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RecordIn {
    #[serde(rename = "Data")]
    pub data: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PutRecordInput {
    #[serde(rename = "DeliveryStreamName")]
    pub name: Option<String>,
    #[serde(rename = "Record")]
    pub record: Option<RecordIn>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PutRecordBatchInput {
    #[serde(rename = "DeliveryStreamName")]
    pub name: Option<String>,
    #[serde(rename = "Records")]
    pub records: Option<Vec<RecordIn>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TagsInput {
    #[serde(rename = "DeliveryStreamName")]
    pub name: Option<String>,
    #[serde(rename = "Tags")]
    pub tags: Option<Vec<TagIn>>,
    #[serde(rename = "TagKeys")]
    pub tag_keys: Option<Vec<String>>,
    #[serde(rename = "ExclusiveStartTagKey")]
    pub exclusive_start_tag_key: Option<String>,
    #[serde(rename = "Limit")]
    pub limit: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct UpdateInput {
    #[serde(rename = "DeliveryStreamName")]
    pub name: Option<String>,
    #[serde(rename = "CurrentDeliveryStreamVersionId")]
    pub current_version: Option<String>,
    #[serde(rename = "DestinationId")]
    pub destination_id: Option<String>,
    #[serde(rename = "S3DestinationUpdate")]
    pub s3: Option<S3DestinationIn>,
    #[serde(rename = "ExtendedS3DestinationUpdate")]
    pub extended_s3: Option<S3DestinationIn>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

fn secs(millis: u64) -> Value {
    json!(millis as f64 / 1000.0)
}

fn name_of(name: Option<&String>) -> Result<&str, AwsError> {
    let name = name.ok_or_else(|| missing("deliveryStreamName"))?;
    check_name(name, "deliveryStreamName")?;
    Ok(name)
}

fn check_tags(tags: &[TagIn]) -> Result<Vec<(String, String)>, AwsError> {
    let mut out = Vec::with_capacity(tags.len());
    for t in tags {
        let key = t.key.clone().ok_or_else(|| missing("tags.member.key"))?;
        let value = t.value.clone().unwrap_or_default();
        if key.is_empty() || key.chars().count() > 128 {
            return Err(constraint(
                &key,
                "tags.member.key",
                "Member must have length less than or equal to 128",
            ));
        }
        if key.starts_with("aws:") {
            return Err(invalid("Tag keys cannot start with the reserved prefix aws:"));
        }
        if value.chars().count() > 256 {
            return Err(constraint(
                &value,
                "tags.member.value",
                "Member must have length less than or equal to 256",
            ));
        }
        out.push((key, value));
    }
    Ok(out)
}

fn kind_str(source: &Source) -> &'static str {
    match source {
        Source::DirectPut => "DirectPut",
        Source::Kinesis { .. } => "KinesisStreamAsSource",
    }
}

/// Record ids: 56 digits, unique and increasing, the form Firehose's record ids have.
pub fn record_id(now_millis: u64) -> String {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    format!(
        "{:020}{:020}{:016}",
        now_millis,
        seq,
        lb_core::ids::random_u64() % 10_000_000_000_000_000
    )
}

fn decode_data(data: Option<&String>, member: &str) -> Result<Bytes, AwsError> {
    let data = data.ok_or_else(|| missing(member))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|_| AwsError::new("SerializationException", 400, format!("{member} is not valid base64")))?;
    if bytes.len() > MAX_RECORD_BYTES {
        return Err(constraint(
            "java.nio.HeapByteBuffer",
            member,
            "Member must have length less than or equal to 1024000",
        ));
    }
    Ok(Bytes::from(bytes))
}

impl Firehose {
    fn get(&self, region: &str, account: &str, name: &str) -> Result<Arc<DeliveryStream>, AwsError> {
        self.stream(region, account, name)
            .ok_or_else(|| not_found(name, account))
    }

    pub fn create_delivery_stream(&self, region: &str, account: &str, input: CreateInput) -> Result<Value, AwsError> {
        let name = name_of(input.name.as_ref())?.to_owned();
        if let Some(k) = input.other.iter().find(|(_, v)| !v.is_null()).map(|(k, _)| k) {
            return Err(if k.ends_with("DestinationConfiguration") {
                unsupported(&format!("{k} (the S3 destinations are supported)"))
            } else {
                unsupported(k)
            });
        }
        let now = self.now();
        let source = match input.kind.as_deref() {
            None | Some("DirectPut") => {
                if input.kinesis.is_some() {
                    return Err(invalid(
                        "KinesisStreamSourceConfiguration is only valid with DeliveryStreamType KinesisStreamAsSource",
                    ));
                }
                Source::DirectPut
            }
            Some("KinesisStreamAsSource") => {
                let k = input.kinesis.as_ref().ok_or_else(|| {
                    invalid(
                        "KinesisStreamSourceConfiguration is required when DeliveryStreamType is KinesisStreamAsSource",
                    )
                })?;
                let stream_arn = k
                    .stream_arn
                    .clone()
                    .ok_or_else(|| missing("kinesisStreamSourceConfiguration.kinesisStreamARN"))?;
                let role_arn = k
                    .role_arn
                    .clone()
                    .ok_or_else(|| missing("kinesisStreamSourceConfiguration.roleARN"))?;
                let arn = stream_arn
                    .parse::<Arn>()
                    .ok()
                    .filter(|a| a.service == "kinesis" && a.resource.starts_with("stream/"))
                    .ok_or_else(|| {
                        constraint(
                            &stream_arn,
                            "kinesisStreamSourceConfiguration.kinesisStreamARN",
                            "Member must satisfy regular expression pattern: arn:.*:kinesis:[a-zA-Z0-9\\-]+:\\d{12}:stream/[a-zA-Z0-9_.-]+",
                        )
                    })?;
                let Some(streams) = &self.deps.streams else {
                    return Err(unsupported("KinesisStreamAsSource (no Kinesis service is wired)"));
                };
                streams.shards(&arn).map_err(|e| invalid(e.message))?;
                if input.encryption.is_some() {
                    return Err(invalid(
                        "Server-side encryption is not supported for DeliveryStreamType KinesisStreamAsSource",
                    ));
                }
                Source::Kinesis {
                    stream_arn,
                    role_arn,
                    start_millis: now,
                }
            }
            Some(t @ ("MSKAsSource" | "DatabaseAsSource")) => {
                return Err(unsupported(&format!("DeliveryStreamType {t}")))
            }
            Some(t) => return Err(constraint(
                t,
                "deliveryStreamType",
                "Member must satisfy enum value set: [DirectPut, KinesisStreamAsSource, MSKAsSource, DatabaseAsSource]",
            )),
        };
        if let Some(e) = &input.encryption {
            match e.get("KeyType").and_then(Value::as_str) {
                Some("AWS_OWNED_CMK") => {}
                Some("CUSTOMER_MANAGED_CMK") if e.get("KeyARN").and_then(Value::as_str).is_some() => {}
                Some("CUSTOMER_MANAGED_CMK") => {
                    return Err(invalid("KeyARN is required when KeyType is CUSTOMER_MANAGED_CMK"))
                }
                Some(t) => {
                    return Err(constraint(
                        t,
                        "deliveryStreamEncryptionConfigurationInput.keyType",
                        "Member must satisfy enum value set: [AWS_OWNED_CMK, CUSTOMER_MANAGED_CMK]",
                    ))
                }
                None => return Err(missing("deliveryStreamEncryptionConfigurationInput.keyType")),
            }
        }
        let destination =
            match (input.s3, input.extended_s3) {
                (Some(_), Some(_)) => return Err(invalid(
                    "Only one of S3DestinationConfiguration and ExtendedS3DestinationConfiguration may be specified",
                )),
                (Some(d), None) => S3Destination::build(d, false, "s3DestinationConfiguration")?,
                (None, Some(d)) => S3Destination::build(d, true, "extendedS3DestinationConfiguration")?,
                (None, None) => return Err(invalid("A destination configuration must be specified")),
            };
        if destination.lambda().is_some() && self.deps.functions.is_none() {
            return Err(unsupported("Lambda processors (no Lambda service is wired)"));
        }
        let tags = match &input.tags {
            Some(t) if t.is_empty() || t.len() > MAX_TAGS => {
                return Err(constraint(
                    "[]",
                    "tags",
                    "Member must have length less than or equal to 50",
                ))
            }
            Some(t) => check_tags(t)?,
            None => Vec::new(),
        };
        let arn = format!("arn:aws:firehose:{region}:{account}:deliverystream/{name}");
        let stream = Arc::new(DeliveryStream {
            name: name.clone(),
            arn: arn.clone(),
            region: region.to_owned(),
            account: account.to_owned(),
            source,
            created_millis: now,
            active_at_millis: now + self.config.create_delay_millis,
            encryption: input.encryption.clone(),
            config: Mutex::new(StreamConfig {
                destination: Arc::new(destination),
                version: 1,
                last_update_millis: None,
            }),
            tags: Mutex::new(tags.into_iter().collect()),
            buffer: Mutex::new(Buffer::default()),
            wake: Notify::new(),
            deleted: std::sync::atomic::AtomicBool::new(false),
            reader: Mutex::new(None),
        });
        {
            let mut all = self.streams.write().unwrap_or_else(PoisonError::into_inner);
            let key = (region.to_owned(), account.to_owned(), name.clone());
            if all.contains_key(&key) {
                return Err(errors::in_use(&name, account));
            }
            let here = all.keys().filter(|(r, a, _)| r == region && a == account).count();
            if here >= self.config.max_streams {
                return Err(errors::limit_exceeded(format!(
                    "You have already consumed your limit of {} Firehose streams in this account and region",
                    self.config.max_streams
                )));
            }
            all.insert(key, Arc::clone(&stream));
        }
        self.start(&stream);
        Ok(json!({ "DeliveryStreamARN": arn }))
    }

    /// Starts the stream's buffer task and, for a Kinesis source, its reader.
    fn start(&self, stream: &Arc<DeliveryStream>) {
        let Some(me) = self.me.upgrade() else { return };
        tokio::spawn(crate::deliver::run(Arc::clone(&me), Arc::clone(stream)));
        if let Source::Kinesis { .. } = &stream.source {
            let task = tokio::spawn(crate::source::run(me, Arc::clone(stream)));
            *lock(&stream.reader) = Some(task.abort_handle());
        }
    }

    pub fn describe_delivery_stream(&self, region: &str, account: &str, input: &NameInput) -> Result<Value, AwsError> {
        let name = name_of(input.name.as_ref())?;
        range(input.limit, "limit", 1, 10_000)?;
        let s = self.get(region, account, name)?;
        let cfg = s.config();
        let now = self.now();
        let mut d = serde_json::Map::new();
        d.insert("DeliveryStreamName".into(), json!(s.name));
        d.insert("DeliveryStreamARN".into(), json!(s.arn));
        d.insert(
            "DeliveryStreamStatus".into(),
            json!(if now >= s.active_at_millis {
                "ACTIVE"
            } else {
                "CREATING"
            }),
        );
        d.insert(
            "DeliveryStreamEncryptionConfiguration".into(),
            match &s.encryption {
                Some(e) => {
                    let mut v = json!({ "KeyType": e.get("KeyType"), "Status": "ENABLED" });
                    if let Some(k) = e.get("KeyARN") {
                        v["KeyARN"] = k.clone();
                    }
                    v
                }
                None => json!({ "Status": "DISABLED" }),
            },
        );
        d.insert("DeliveryStreamType".into(), json!(kind_str(&s.source)));
        d.insert("VersionId".into(), json!(cfg.version.to_string()));
        d.insert("CreateTimestamp".into(), secs(s.created_millis));
        if let Some(t) = cfg.last_update_millis {
            d.insert("LastUpdateTimestamp".into(), secs(t));
        }
        if let Source::Kinesis {
            stream_arn,
            role_arn,
            start_millis,
        } = &s.source
        {
            d.insert(
                "Source".into(),
                json!({ "KinesisStreamSourceDescription": {
                    "KinesisStreamARN": stream_arn,
                    "RoleARN": role_arn,
                    "DeliveryStartTimestamp": secs(*start_millis),
                }}),
            );
        }
        let skip = input.exclusive_start_destination_id.as_deref() == Some(DESTINATION_ID);
        let destinations = if skip {
            Vec::new()
        } else {
            vec![cfg.destination.description(DESTINATION_ID)]
        };
        d.insert("Destinations".into(), Value::Array(destinations));
        d.insert("HasMoreDestinations".into(), json!(false));
        Ok(json!({ "DeliveryStreamDescription": Value::Object(d) }))
    }

    pub fn list_delivery_streams(&self, region: &str, account: &str, input: &ListInput) -> Result<Value, AwsError> {
        range(input.limit, "limit", 1, 10_000)?;
        let limit = input.limit.unwrap_or(10) as usize;
        if let Some(k) = &input.kind {
            if !matches!(
                k.as_str(),
                "DirectPut" | "KinesisStreamAsSource" | "MSKAsSource" | "DatabaseAsSource"
            ) {
                return Err(constraint(
                    k,
                    "deliveryStreamType",
                    "Member must satisfy enum value set: [DirectPut, KinesisStreamAsSource, MSKAsSource, DatabaseAsSource]",
                ));
            }
        }
        let names: Vec<String> = {
            let all = self.streams.read().unwrap_or_else(PoisonError::into_inner);
            all.iter()
                .filter(|((r, a, _), _)| r == region && a == account)
                .filter(|(_, s)| input.kind.as_deref().is_none_or(|k| k == kind_str(&s.source)))
                .filter(|((_, _, n), _)| input.exclusive_start.as_ref().is_none_or(|x| n > x))
                .map(|((_, _, n), _)| n.clone())
                .collect()
        };
        let more = names.len() > limit;
        Ok(json!({
            "DeliveryStreamNames": names.into_iter().take(limit).collect::<Vec<_>>(),
            "HasMoreDeliveryStreams": more,
        }))
    }

    pub fn delete_delivery_stream(&self, region: &str, account: &str, input: &NameInput) -> Result<Value, AwsError> {
        let name = name_of(input.name.as_ref())?;
        let removed = self.streams.write().unwrap_or_else(PoisonError::into_inner).remove(&(
            region.to_owned(),
            account.to_owned(),
            name.to_owned(),
        ));
        let s = removed.ok_or_else(|| not_found(name, account))?;
        s.deleted.store(true, Ordering::Release);
        // The buffer task delivers what is buffered, then ends.
        s.wake.notify_one();
        if let Some(reader) = lock(&s.reader).take() {
            reader.abort();
        }
        Ok(json!({}))
    }

    /// Appends records to `s`'s buffer; `Err` (nothing appended) when the buffer is full.
    pub(crate) fn append(&self, s: &DeliveryStream, records: Vec<Record>) -> Result<(), AwsError> {
        let bytes: usize = records.iter().map(|r| r.data.len()).sum();
        let n = records.len() as u64;
        let wake = {
            let mut b = lock(&s.buffer);
            if b.bytes + bytes > self.config.max_buffered_bytes && !b.records.is_empty() {
                return Err(AwsError::new("ServiceUnavailableException", 400, "Slow down."));
            }
            let was_empty = b.records.is_empty();
            b.bytes += bytes;
            b.records.extend(records);
            // Lock order: buffer, then config (nothing takes them the other way round).
            let size = lock(&s.config).destination.size_bytes();
            was_empty || b.bytes >= size
        };
        counter(&self.stats.records_in, n);
        counter(&self.stats.bytes_in, bytes as u64);
        if wake {
            s.wake.notify_one();
        }
        Ok(())
    }

    fn direct_put_stream(
        &self,
        region: &str,
        account: &str,
        name: Option<&String>,
    ) -> Result<Arc<DeliveryStream>, AwsError> {
        let name = name_of(name)?;
        let s = self.get(region, account, name)?;
        if !matches!(s.source, Source::DirectPut) {
            // AWS's text, as SDK users report it.
            return Err(invalid(
                "This operation is not permitted on KinesisStreamAsSource delivery stream type.",
            ));
        }
        Ok(s)
    }

    pub fn put_record(&self, region: &str, account: &str, input: &PutRecordInput) -> Result<Value, AwsError> {
        let s = self.direct_put_stream(region, account, input.name.as_ref())?;
        let record = input.record.as_ref().ok_or_else(|| missing("record"))?;
        let data = decode_data(record.data.as_ref(), "record.data")?;
        let now = self.now();
        self.append(
            &s,
            vec![Record {
                data,
                arrival_millis: now,
                kinesis: None,
            }],
        )?;
        Ok(json!({ "RecordId": record_id(now), "Encrypted": s.encryption.is_some() }))
    }

    pub fn put_record_batch(
        &self,
        region: &str,
        account: &str,
        input: &PutRecordBatchInput,
    ) -> Result<Value, AwsError> {
        let s = self.direct_put_stream(region, account, input.name.as_ref())?;
        let records = input.records.as_ref().ok_or_else(|| missing("records"))?;
        if records.is_empty() {
            return Err(constraint(
                "[]",
                "records",
                "Member must have length greater than or equal to 1",
            ));
        }
        if records.len() > MAX_BATCH_RECORDS {
            return Err(constraint(
                &format!("[{} records]", records.len()),
                "records",
                "Member must have length less than or equal to 500",
            ));
        }
        let mut decoded = Vec::with_capacity(records.len());
        for (i, r) in records.iter().enumerate() {
            decoded.push(decode_data(r.data.as_ref(), &format!("records.{}.member.data", i + 1))?);
        }
        let total: usize = decoded.iter().map(Bytes::len).sum();
        if total > MAX_BATCH_BYTES {
            // Wording not verified against AWS.
            return Err(invalid(format!(
                "The total size of the records in the batch ({total} bytes) exceeds the 4 MiB limit of PutRecordBatch."
            )));
        }
        let now = self.now();
        // Records are added one by one so that a full buffer fails only the records past it.
        let mut responses = Vec::with_capacity(decoded.len());
        let mut failed = 0u32;
        for data in decoded {
            let r = Record {
                data,
                arrival_millis: now,
                kinesis: None,
            };
            match self.append(&s, vec![r]) {
                Ok(()) => responses.push(json!({ "RecordId": record_id(now) })),
                Err(e) => {
                    failed += 1;
                    responses.push(json!({ "ErrorCode": e.code, "ErrorMessage": e.message }));
                }
            }
        }
        Ok(json!({
            "FailedPutCount": failed,
            "Encrypted": s.encryption.is_some(),
            "RequestResponses": responses,
        }))
    }

    pub fn tag_delivery_stream(&self, region: &str, account: &str, input: &TagsInput) -> Result<Value, AwsError> {
        let name = name_of(input.name.as_ref())?;
        let tags = input.tags.as_ref().ok_or_else(|| missing("tags"))?;
        if tags.is_empty() || tags.len() > MAX_TAGS {
            return Err(constraint(
                "[]",
                "tags",
                "Member must have length less than or equal to 50",
            ));
        }
        let tags = check_tags(tags)?;
        let s = self.get(region, account, name)?;
        let mut current = lock(&s.tags);
        let mut next = current.clone();
        next.extend(tags);
        if next.len() > MAX_TAGS {
            return Err(errors::limit_exceeded(format!(
                "A Firehose stream cannot have more than {MAX_TAGS} tags."
            )));
        }
        *current = next;
        Ok(json!({}))
    }

    pub fn untag_delivery_stream(&self, region: &str, account: &str, input: &TagsInput) -> Result<Value, AwsError> {
        let name = name_of(input.name.as_ref())?;
        let keys = input.tag_keys.as_ref().ok_or_else(|| missing("tagKeys"))?;
        if keys.is_empty() || keys.len() > MAX_TAGS {
            return Err(constraint(
                "[]",
                "tagKeys",
                "Member must have length less than or equal to 50",
            ));
        }
        let s = self.get(region, account, name)?;
        let mut current = lock(&s.tags);
        for k in keys {
            current.remove(k);
        }
        Ok(json!({}))
    }

    pub fn list_tags(&self, region: &str, account: &str, input: &TagsInput) -> Result<Value, AwsError> {
        let name = name_of(input.name.as_ref())?;
        range(input.limit, "limit", 1, 50)?;
        let limit = input.limit.unwrap_or(50) as usize;
        let s = self.get(region, account, name)?;
        let tags: Vec<(String, String)> = lock(&s.tags)
            .iter()
            .filter(|(k, _)| input.exclusive_start_tag_key.as_ref().is_none_or(|x| *k > x))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let more = tags.len() > limit;
        Ok(json!({
            "Tags": tags.into_iter().take(limit).map(|(k, v)| json!({ "Key": k, "Value": v })).collect::<Vec<_>>(),
            "HasMoreTags": more,
        }))
    }

    pub fn update_destination(&self, region: &str, account: &str, input: UpdateInput) -> Result<Value, AwsError> {
        let name = name_of(input.name.as_ref())?.to_owned();
        let current = input
            .current_version
            .clone()
            .ok_or_else(|| missing("currentDeliveryStreamVersionId"))?;
        let id = input.destination_id.clone().ok_or_else(|| missing("destinationId"))?;
        if let Some(k) = input.other.iter().find(|(_, v)| !v.is_null()).map(|(k, _)| k) {
            return Err(unsupported(k));
        }
        let s = self.get(region, account, &name)?;
        if id != DESTINATION_ID {
            return Err(invalid(format!(
                "Destination {id} not found in Firehose stream {name}."
            )));
        }
        let mut cfg = lock(&s.config);
        if current != cfg.version.to_string() {
            // Wording not verified against AWS.
            return Err(AwsError::new(
                "ConcurrentModificationException",
                400,
                format!(
                    "Cannot update Firehose stream {name} because the current version id {} does not match the specified version id {current}.",
                    cfg.version
                ),
            ));
        }
        let old = &cfg.destination;
        let destination = match (input.s3, input.extended_s3) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "Only one of S3DestinationUpdate and ExtendedS3DestinationUpdate may be specified",
                ))
            }
            (Some(u), None) => S3Destination::build(old.input.clone().merged(u), old.extended, "s3DestinationUpdate")?,
            (None, Some(u)) => S3Destination::build(old.input.clone().merged(u), true, "extendedS3DestinationUpdate")?,
            (None, None) => return Err(invalid("A destination update must be specified")),
        };
        if destination.lambda().is_some() && self.deps.functions.is_none() {
            return Err(unsupported("Lambda processors (no Lambda service is wired)"));
        }
        cfg.destination = Arc::new(destination);
        cfg.version += 1;
        cfg.last_update_millis = Some(self.now());
        drop(cfg);
        // New buffering hints may make the buffer due now.
        s.wake.notify_one();
        Ok(json!({}))
    }
}
