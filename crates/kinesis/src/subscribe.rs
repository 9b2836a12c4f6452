//! SubscribeToShard: records pushed to a registered consumer as an AWS event stream
//! (`application/vnd.amazon.eventstream`).
//!
//! - The response is a sequence of event stream messages: first `initial-response` (an empty JSON
//!   object, which botocore requires), then `SubscribeToShardEvent`s whose JSON payloads carry
//!   `Records`, `ContinuationSequenceNumber`, `MillisBehindLatest` and, at the end of a closed
//!   shard, `ChildShards`. Each message: a prelude (total length, headers length, CRC32 of the
//!   two), string headers (`:event-type`, `:content-type`, `:message-type`), the payload, and a
//!   CRC32 of the whole message.
//! - **Approximation:** the gateway answers with whole bodies, so a subscription here is short:
//!   it answers as soon as the shard has records at the starting position (one event holding them),
//!   or when the shard closes, or after [`SUBSCRIPTION_WINDOW_MILLIS`] on the clock (one empty
//!   event), and then ends. On AWS a subscription pushes events for up to 5 minutes; clients renew
//!   it with `ContinuationSequenceNumber` (AFTER_SEQUENCE_NUMBER) either way.

use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use http::Response;
use lb_core::arn::Arn;
use lb_core::stream::{StartingPosition, StreamSource};
use lb_core::{AwsError, RequestContext};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::consumers::ConsumerInput;
use crate::errors::{self, constraint, invalid, missing};
use crate::Kinesis;

/// How long a subscription with nothing to send waits (on the clock) before its empty event.
pub const SUBSCRIPTION_WINDOW_MILLIS: u64 = 5_000;
/// The most records one event carries.
const MAX_EVENT_RECORDS: usize = 10_000;

pub const CONTENT_TYPE: &str = "application/vnd.amazon.eventstream";

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct SubscribeStartingPosition {
    #[serde(rename = "Type")]
    pub kind: Option<String>,
    pub sequence_number: Option<String>,
    /// Epoch seconds.
    pub timestamp: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct SubscribeToShardInput {
    #[serde(rename = "ConsumerARN")]
    pub consumer_arn: Option<String>,
    pub shard_id: Option<String>,
    pub starting_position: Option<SubscribeStartingPosition>,
    pub dry_run: Option<bool>,
}

/// CRC-32 (IEEE 802.3, reflected, as zlib computes it).
fn crc32(data: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, slot) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            }
            *slot = c;
        }
        t
    });
    let mut crc = !0u32;
    for &b in data {
        crc = table[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

/// One event stream message with string headers.
pub fn message(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::new();
    for (name, value) in headers {
        h.push(name.len() as u8);
        h.extend_from_slice(name.as_bytes());
        h.push(7); // string
        h.extend_from_slice(&(value.len() as u16).to_be_bytes());
        h.extend_from_slice(value.as_bytes());
    }
    let total = 12 + h.len() + payload.len() + 4;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(h.len() as u32).to_be_bytes());
    let prelude_crc = crc32(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(payload);
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

fn event(kind: &str, payload: &Value) -> Vec<u8> {
    message(
        &[
            (":event-type", kind),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        &serde_json::to_vec(payload).unwrap_or_default(),
    )
}

/// "Consumer <name> with creation timestamp <secs> under stream: <stream> , account <account> is
/// not in ACTIVE status." (AWS's text as awslabs/kinesis-hot-shard-advisor#37 quotes it.)
fn consumer_not_active(name: &str, created_secs: u64, stream: &str, account: &str) -> AwsError {
    AwsError::new(
        "ResourceInUseException",
        400,
        format!(
            "Consumer {name} with creation timestamp {created_secs} under stream: {stream} , account {account} is not in ACTIVE status."
        ),
    )
}

impl Kinesis {
    /// Validates a subscription; returns the stream ARN, the shard and where to start.
    fn subscription(
        &self,
        ctx: &RequestContext,
        i: &SubscribeToShardInput,
    ) -> Result<(Arn, String, StartingPosition), AwsError> {
        let consumer_arn = i.consumer_arn.as_deref().ok_or_else(|| missing("consumerARN"))?;
        let shard_id = i.shard_id.as_deref().ok_or_else(|| missing("shardId"))?;
        let start = i
            .starting_position
            .as_ref()
            .ok_or_else(|| missing("startingPosition"))?;
        let kind = start.kind.as_deref().ok_or_else(|| missing("startingPosition.type"))?;
        let (stream, consumer) = self.consumer(
            &ctx.region,
            &ctx.account,
            &ConsumerInput {
                consumer_arn: Some(consumer_arn.to_owned()),
                ..ConsumerInput::default()
            },
        )?;
        if consumer.status(self.now()) != "ACTIVE" {
            return Err(consumer_not_active(
                &consumer.name,
                consumer.created_millis / 1000,
                &stream.name,
                &ctx.account,
            ));
        }
        let seq = || {
            start.sequence_number.clone().ok_or_else(|| {
                invalid(format!(
                    "SequenceNumber must be specified for StartingPosition type {kind}."
                ))
            })
        };
        let position = match kind {
            "TRIM_HORIZON" => StartingPosition::TrimHorizon,
            "LATEST" => StartingPosition::Latest,
            "AT_SEQUENCE_NUMBER" => StartingPosition::AtSequenceNumber(seq()?),
            "AFTER_SEQUENCE_NUMBER" => StartingPosition::AfterSequenceNumber(seq()?),
            "AT_TIMESTAMP" => {
                let t = start.timestamp.ok_or_else(|| {
                    invalid("Timestamp must be specified for StartingPosition type AT_TIMESTAMP.")
                })?;
                StartingPosition::AtTimestamp(if t <= 0.0 { 0 } else { (t * 1000.0) as u64 })
            }
            other => {
                return Err(constraint(
                    other,
                    "startingPosition.type",
                    "Member must satisfy enum value set: [AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, TRIM_HORIZON, LATEST, AT_TIMESTAMP]",
                ))
            }
        };
        let arn: Arn = stream
            .arn
            .parse()
            .map_err(|_| errors::stream_not_found(&stream.name, &ctx.account))?;
        if stream.shard(shard_id, self.now()).is_none() {
            return Err(errors::shard_not_found(shard_id, &stream.name, &ctx.account));
        }
        Ok((arn, shard_id.to_owned(), position))
    }

    /// Answers SubscribeToShard: the event stream, or AWS's error before it starts.
    pub async fn subscribe_to_shard(
        self: Arc<Self>,
        ctx: RequestContext,
        body: Bytes,
    ) -> Result<Response<Bytes>, AwsError> {
        let i: SubscribeToShardInput = lb_protocol::json::decode(&body)
            .map_err(|e| AwsError::new("SerializationException", 400, e.to_string()))?;
        let (arn, shard_id, start) = self.subscription(&ctx, &i)?;
        let from = self.position(&arn, &shard_id, &start)?;
        crate::service::dry_run(i.dry_run)?;
        let deadline = self.now().saturating_add(SUBSCRIPTION_WINDOW_MILLIS);
        self.wait(&arn, &shard_id, from, deadline).await;
        let read = self.read(&arn, &shard_id, from, MAX_EVENT_RECORDS)?;
        // Where the next subscription continues (AFTER_SEQUENCE_NUMBER): the last record read, or
        // the one before the position.
        let continuation = match read.records.last() {
            Some(r) => r.sequence_number.clone(),
            None => self.sequence_before(&arn, &shard_id, read.next.0)?,
        };
        let records: Vec<Value> = read
            .records
            .iter()
            .map(|r| {
                json!({
                    "SequenceNumber": r.sequence_number,
                    "ApproximateArrivalTimestamp": r.approximate_arrival_millis as f64 / 1000.0,
                    "Data": base64::engine::general_purpose::STANDARD.encode(&r.data),
                    "PartitionKey": r.partition_key,
                })
            })
            .collect();
        let mut payload = json!({
            "Records": records,
            "ContinuationSequenceNumber": continuation,
            "MillisBehindLatest": read.millis_behind_latest,
        });
        if read.end_of_shard {
            payload["ChildShards"] = self.child_shards_of(&arn, &shard_id);
        }
        let mut out = event("initial-response", &json!({}));
        out.extend(event("SubscribeToShardEvent", &payload));
        Ok(lb_protocol::respond(
            200,
            CONTENT_TYPE,
            Bytes::from(out),
            &ctx.request_id,
        ))
    }

    /// The sequence number just before record `index` of a shard (its starting sequence number
    /// when there is none).
    fn sequence_before(&self, arn: &Arn, shard_id: &str, index: u64) -> Result<String, AwsError> {
        let stream = self.stream_by_arn(arn)?;
        let shard = stream
            .shard(shard_id, self.now())
            .ok_or_else(|| errors::shard_not_found(shard_id, &stream.name, &arn.account))?;
        let prev = index.saturating_sub(1);
        let arrival = {
            let log = shard.log();
            let at = log.offset(prev);
            log.records
                .get(at)
                .filter(|r| r.index == prev)
                .map(|r| r.arrival_millis)
        };
        Ok(match arrival {
            Some(t) => crate::keys::sequence_number(shard.created_secs, shard.index, prev, t),
            None if prev == 0 => shard.starting_sequence_number(),
            None => crate::keys::sequence_number(shard.created_secs, shard.index, prev, 0),
        })
    }

    fn child_shards_of(&self, arn: &Arn, shard_id: &str) -> Value {
        let Ok(stream) = self.stream_by_arn(arn) else {
            return json!([]);
        };
        crate::service::child_shards_json(&stream.children(shard_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_is_zlib_s() {
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn messages_have_aws_s_framing() {
        let m = message(&[(":event-type", "initial-response")], b"{}");
        let total = u32::from_be_bytes(m[0..4].try_into().unwrap()) as usize;
        let headers = u32::from_be_bytes(m[4..8].try_into().unwrap()) as usize;
        assert_eq!(total, m.len());
        assert_eq!(headers, 1 + 11 + 1 + 2 + 16);
        assert_eq!(u32::from_be_bytes(m[8..12].try_into().unwrap()), crc32(&m[..8]));
        assert_eq!(&m[12 + headers..total - 4], b"{}");
        assert_eq!(
            u32::from_be_bytes(m[total - 4..].try_into().unwrap()),
            crc32(&m[..total - 4])
        );
    }
}
