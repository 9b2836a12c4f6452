//! Kinesis as a delivery [`Target`] (`arn:aws:kinesis:<region>:<account>:stream/<name>`): what
//! EventBridge rules, Pipes and Scheduler deliver to a stream.
//!
//! - Each message becomes one record: the body is the data, `Message::group_id` the partition
//!   key. Producers set it: EventBridge uses the target's `PartitionKeyPath`, or else the event's
//!   `id` (AWS: "If you do not include this parameter, the default is to use the eventId as the
//!   partition key", EventBridge API reference, KinesisParameters). A message without one gets a
//!   random key, so such messages spread over the shards.
//! - A batch (up to 500 messages, as EventBridge's PutRecords carries) is stored under one hold of
//!   the stream's shard table, each record placed and counted as PutRecords would.
//! - Fates: a missing stream is `NotFound`; a shard over its write limits
//!   (`--kinesis-shard-limits`) is `ProvisionedThroughputExceededException`, retryable; a record
//!   Kinesis would refuse (data over 1 MiB, a partition key over 256 characters) is terminal.

use std::sync::Arc;

use bytes::Bytes;
use lb_core::arn::Arn;
use lb_core::deliver::{BoxFuture, DeliveryError, DestinationError, FailureKind, Message, Target};
use lb_core::policy::PolicyRequest;

use crate::errors;
use crate::service::MAX_RECORD_BYTES;
use crate::Kinesis;

/// The most records one delivery batch carries (PutRecords' limit).
pub const MAX_DELIVERY_BATCH: usize = 500;

fn from_aws(e: &lb_core::AwsError) -> DeliveryError {
    let kind = match &*e.code {
        "ResourceNotFoundException" => FailureKind::NotFound,
        "ProvisionedThroughputExceededException" | "LimitExceededException" => FailureKind::Retryable,
        _ => FailureKind::Terminal,
    };
    DeliveryError::new(kind, e.code.to_string(), e.message.to_string())
}

impl Kinesis {
    /// Stores each message as a record of the stream `arn` names; one result per message.
    pub fn deliver_all<'m>(
        &self,
        arn: &Arn,
        msgs: impl ExactSizeIterator<Item = &'m Message>,
    ) -> Vec<Result<(), DeliveryError>> {
        let n = msgs.len();
        let stream = match self.stream_by_arn(arn) {
            Ok(s) => s,
            Err(e) => return vec![Err(from_aws(&e)); n],
        };
        let now = self.now();
        let results = {
            let table = stream.table();
            msgs.map(|m| {
                let key: Arc<str> = match m.group_id.as_deref() {
                    Some(k) => Arc::from(k),
                    None => lb_core::ids::uuid_shared(),
                };
                if key.is_empty() || key.chars().count() > 256 {
                    return Err(from_aws(&errors::constraint(
                        &key,
                        "partitionKey",
                        "Member must have length between 1 and 256",
                    )));
                }
                if m.body.len() > MAX_RECORD_BYTES {
                    return Err(from_aws(&errors::constraint(
                        "java.nio.HeapByteBuffer",
                        "data",
                        "Member must have length less than or equal to 1048576",
                    )));
                }
                let shard = table.shard_for(crate::keys::hash_key(&key));
                let data = Bytes::copy_from_slice(m.body.as_bytes());
                match self
                    .store
                    .append(&stream, shard, key, data, now, self.config.shard_limits)
                {
                    Some(_) => Ok(()),
                    None => Err(from_aws(&errors::throughput_exceeded(
                        &shard.id,
                        &stream.name,
                        &arn.account,
                    ))),
                }
            })
            .collect()
        };
        self.store.enforce_bound(self.config.max_records);
        results
    }
}

impl Target for Kinesis {
    fn deliver<'a>(&'a self, arn: &'a Arn, msg: &'a Message) -> BoxFuture<'a, Result<(), DeliveryError>> {
        let result = self.deliver_all(arn, std::iter::once(msg)).pop().unwrap_or_else(|| {
            Err(DeliveryError::terminal(
                "InternalFailure",
                "the delivery produced no result",
            ))
        });
        Box::pin(std::future::ready(result))
    }

    fn deliver_batch<'a>(
        &'a self,
        arn: &'a Arn,
        msgs: &'a [Arc<Message>],
    ) -> BoxFuture<'a, Vec<Result<(), DeliveryError>>> {
        let mut out = Vec::with_capacity(msgs.len());
        for chunk in msgs.chunks(MAX_DELIVERY_BATCH) {
            out.extend(self.deliver_all(arn, chunk.iter().map(|m| &**m)));
        }
        Box::pin(std::future::ready(out))
    }

    fn max_batch(&self, _arn: &Arn) -> usize {
        MAX_DELIVERY_BATCH
    }

    /// The stream must exist (Kinesis is reached through the rule's role, not a resource policy).
    fn authorize(&self, arn: &Arn, _req: &PolicyRequest<'_>) -> Result<(), DestinationError> {
        self.stream_by_arn(arn)
            .map(|_| ())
            .map_err(|_| DestinationError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use lb_core::arn::Arn;
    use lb_core::deliver::{FailureKind, Message, Target};
    use lb_core::policy::PolicyRequest;
    use lb_core::stream::{StartingPosition, StreamSource};
    use lb_core::ManualClock;
    use serde_json::json;

    use crate::{Kinesis, KinesisConfig};

    fn arn(name: &str) -> Arn {
        format!("arn:aws:kinesis:us-east-1:000000000000:stream/{name}")
            .parse()
            .unwrap()
    }

    fn kinesis(limits: bool) -> Kinesis {
        let k = Kinesis::new(
            Arc::new(ManualClock::new(1_800_000_000_000)),
            KinesisConfig {
                shard_limits: limits,
                ..KinesisConfig::default()
            },
        );
        k.create_stream(
            "us-east-1",
            "000000000000",
            serde_json::from_value(json!({"StreamName": "s", "ShardCount": 2})).unwrap(),
        )
        .unwrap();
        k
    }

    fn msg(body: &str, key: Option<&str>) -> Arc<Message> {
        let mut m = Message::new(body);
        m.group_id = key.map(str::to_owned);
        Arc::new(m)
    }

    /// Every record of the stream, per shard: (partition key, data).
    fn stored(k: &Kinesis) -> Vec<Vec<(String, String)>> {
        k.shards(&arn("s"))
            .unwrap()
            .iter()
            .map(|sh| {
                let p = k
                    .position(&arn("s"), &sh.shard_id, &StartingPosition::TrimHorizon)
                    .unwrap();
                k.read(&arn("s"), &sh.shard_id, p, 10_000)
                    .unwrap()
                    .records
                    .into_iter()
                    .map(|r| (r.partition_key, String::from_utf8(r.data.to_vec()).unwrap()))
                    .collect()
            })
            .collect()
    }

    #[tokio::test]
    async fn messages_become_records_keyed_by_group_id() {
        let k = kinesis(false);
        k.deliver(&arn("s"), &msg("{\"a\":1}", Some("k1"))).await.unwrap();
        let batch: Vec<_> = (0..600)
            .map(|i| msg(&format!("m{i}"), Some(&format!("key{}", i % 5))))
            .collect();
        assert_eq!(k.max_batch(&arn("s")), 500);
        let results = k.deliver_batch(&arn("s"), &batch).await;
        assert_eq!(results.len(), 600);
        assert!(results.iter().all(Result::is_ok));
        let shards = stored(&k);
        let all: Vec<_> = shards.iter().flatten().collect();
        assert_eq!(all.len(), 601);
        assert!(all.contains(&&("k1".to_owned(), "{\"a\":1}".to_owned())));
        // One key's records stay in order in one shard.
        for key in ["key0", "key3"] {
            let holders: Vec<_> = shards.iter().filter(|s| s.iter().any(|(k, _)| k == key)).collect();
            assert_eq!(holders.len(), 1);
            let seq: Vec<usize> = holders[0]
                .iter()
                .filter(|(k, _)| k == key)
                .map(|(_, d)| d[1..].parse().unwrap())
                .collect();
            assert!(seq.windows(2).all(|w| w[0] < w[1]));
            assert_eq!(seq.len(), 120);
        }
        // Without a group id: a random key each.
        k.deliver(&arn("s"), &msg("x", None)).await.unwrap();
        k.deliver(&arn("s"), &msg("y", None)).await.unwrap();
        let keys: Vec<_> = stored(&k)
            .into_iter()
            .flatten()
            .filter(|(_, d)| d == "x" || d == "y")
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys.len(), 2);
        assert_ne!(keys[0], keys[1]);
        assert_eq!(keys[0].len(), 36);
    }

    #[tokio::test]
    async fn failures_have_their_kinds() {
        let k = kinesis(true);
        let e = k.deliver(&arn("missing"), &msg("x", Some("k"))).await.unwrap_err();
        assert_eq!(e.kind, FailureKind::NotFound);
        assert_eq!(e.code, "ResourceNotFoundException");
        let e = k.deliver(&arn("s"), &msg("x", Some(""))).await.unwrap_err();
        assert_eq!(e.kind, FailureKind::Terminal);
        let big = "x".repeat(1024 * 1024 + 1);
        let e = k.deliver(&arn("s"), &msg(&big, Some("k"))).await.unwrap_err();
        assert_eq!(e.kind, FailureKind::Terminal);
        // One key, one shard: the 1,001st record of the second is throttled.
        let batch: Vec<_> = (0..1001).map(|i| msg(&format!("m{i}"), Some("same"))).collect();
        let results = k.deliver_batch(&arn("s"), &batch).await;
        assert!(results[..1000].iter().all(Result::is_ok));
        let e = results[1000].clone().unwrap_err();
        assert_eq!(e.kind, FailureKind::Retryable);
        assert_eq!(e.code, "ProvisionedThroughputExceededException");
        assert!(e.message.starts_with("Rate exceeded for shard shardId-"));
    }

    #[test]
    fn authorize_needs_the_stream() {
        let k = kinesis(false);
        let req = PolicyRequest {
            principal_service: "events.amazonaws.com",
            action: "kinesis:PutRecord",
            resource: "arn:aws:kinesis:us-east-1:000000000000:stream/s",
            source_arn: None,
            source_account: None,
        };
        assert!(k.authorize(&arn("s"), &req).is_ok());
        assert!(k.authorize(&arn("other"), &req).is_err());
    }
}
