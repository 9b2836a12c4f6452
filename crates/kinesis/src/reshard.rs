//! Resharding: SplitShard, MergeShards, UpdateShardCount (UNIFORM_SCALING), and ListShards'
//! `ShardFilter`.
//!
//! - A reshard takes effect at once, in one hold of the stream's shard table (see `store`): the
//!   parents close (their `EndingSequenceNumber` set, their waiting readers woken), the children
//!   open with the next shard numbers, `ParentShardId` / `AdjacentParentShardId` naming their
//!   parents. The stream then reports `UPDATING` for the configured delay on the clock
//!   (`KinesisConfig::create_delay_millis`, 0 by default) and refuses further reshards until it
//!   is `ACTIVE` again. (On AWS the new shards appear when the stream turns ACTIVE; reads and
//!   writes continue throughout on both.)
//! - A closed shard keeps its records and is listed until its records have expired (the
//!   retention period after it closed); GetRecords reads it to its end, then returns no
//!   `NextShardIterator` and the `ChildShards`.
//! - UpdateShardCount splits each open shard at the new even boundaries inside it, then merges
//!   the pieces of each new range, so short-lived shards appear in between, as AWS documents, and
//!   every shard has at most two parents.
//!
//! Texts: "Could not find shard ...", "... not ACTIVE, instead in state ...", the SplitShard
//! hash key and MergeShards adjacency texts and the UpdateShardCount double/half texts are as the
//! kinesalite emulator words them (recorded from AWS); "... has already been merged or split ..."
//! and the On-Demand refusal as moto words them. The text for more than ten scalings a day is
//! ours (unverified).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use lb_core::AwsError;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::errors::{self, constraint, invalid, missing};
use crate::service::{StreamRef, MAX_SHARDS};
use crate::store::{Shard, Stream, StreamMode};
use crate::Kinesis;

/// UpdateShardCount: at most this many scalings per stream in a rolling day.
pub const MAX_SCALINGS_PER_DAY: usize = 10;
const DAY_MILLIS: u64 = 86_400_000;

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct SplitShardInput {
    #[serde(flatten)]
    pub stream: StreamRef,
    pub shard_to_split: Option<String>,
    pub new_starting_hash_key: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct MergeShardsInput {
    #[serde(flatten)]
    pub stream: StreamRef,
    pub shard_to_merge: Option<String>,
    pub adjacent_shard_to_merge: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct UpdateShardCountInput {
    #[serde(flatten)]
    pub stream: StreamRef,
    pub target_shard_count: Option<i64>,
    pub scaling_type: Option<String>,
}

/// ListShards' `ShardFilter`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ShardFilter {
    #[serde(rename = "Type")]
    pub kind: Option<String>,
    pub shard_id: Option<String>,
    /// Epoch seconds.
    pub timestamp: Option<f64>,
}

fn could_not_find(shard: &str, s: &Stream) -> AwsError {
    AwsError::new(
        "ResourceNotFoundException",
        400,
        format!(
            "Could not find shard {shard} in stream {} under account {}.",
            s.name, s.account
        ),
    )
}

fn already_closed(shard: &Shard, s: &Stream) -> AwsError {
    invalid(format!(
        "Shard {} in stream {} under account {} has already been merged or split, and thus is not eligible for merging or splitting.",
        shard.id, s.name, s.account
    ))
}

fn not_active(s: &Stream, status: &str) -> AwsError {
    AwsError::new(
        "ResourceInUseException",
        400,
        format!(
            "Stream {} under account {} not ACTIVE, instead in state {status}",
            s.name, s.account
        ),
    )
}

fn on_demand(s: &Stream) -> AwsError {
    AwsError::new(
        "ValidationException",
        400,
        format!(
            "Request is invalid. Stream {} under account {} is in On-Demand mode.",
            s.name, s.account
        ),
    )
}

fn shard_limit(s: &Stream, region: &str, open: usize, added: usize) -> AwsError {
    errors::limit_exceeded(format!(
        "This request would exceed the shard limit for the account {} in {region}. Current shard count for the account: {open}. Limit: {MAX_SHARDS}. Number of additional shards that would have resulted from this request: {added}. Refer to the AWS Service Limits page (https://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for current limits and how to request higher limits.",
        s.account
    ))
}

impl Kinesis {
    /// The stream, provisioned and ACTIVE, ready for a reshard.
    fn reshardable(&self, region: &str, account: &str, r: &StreamRef) -> Result<Arc<Stream>, AwsError> {
        let s = self.stream(region, account, r)?;
        if s.mode == StreamMode::OnDemand {
            return Err(on_demand(&s));
        }
        Ok(s)
    }

    fn check_active(&self, s: &Stream) -> Result<(), AwsError> {
        match s.status(self.now()) {
            "ACTIVE" => Ok(()),
            other => Err(not_active(s, other)),
        }
    }

    /// The stream reports UPDATING for the configured delay.
    fn start_update(&self, s: &Stream, now: u64) {
        s.updating_until_millis
            .store(now.saturating_add(self.config.create_delay_millis), Ordering::Relaxed);
    }

    /// An open shard of `s` by id, under the table's write lock.
    fn open_shard(s: &Stream, table: &crate::store::ShardTable, id: &str, now: u64) -> Result<Arc<Shard>, AwsError> {
        let shard = table
            .get(id)
            .filter(|sh| s.listed(sh, now))
            .cloned()
            .ok_or_else(|| could_not_find(id, s))?;
        if !table.open.iter().any(|o| o.index == shard.index) {
            return Err(already_closed(&shard, s));
        }
        Ok(shard)
    }

    pub fn split_shard(&self, region: &str, account: &str, i: &SplitShardInput) -> Result<(), AwsError> {
        let shard_id = i.shard_to_split.as_deref().ok_or_else(|| missing("shardToSplit"))?;
        let key = i
            .new_starting_hash_key
            .as_deref()
            .ok_or_else(|| missing("newStartingHashKey"))?;
        let hash = key
            .parse::<u128>()
            .ok()
            .filter(|_| key == "0" || !key.starts_with('0'))
            .ok_or_else(|| {
                constraint(
                    key,
                    "newStartingHashKey",
                    "Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})",
                )
            })?;
        let s = self.reshardable(region, account, &i.stream)?;
        let now = self.now();
        let mut table = s.table_mut();
        let shard = Self::open_shard(&s, &table, shard_id, now)?;
        if table.open.len() + 1 > MAX_SHARDS as usize {
            return Err(shard_limit(&s, region, table.open.len(), 1));
        }
        if hash <= shard.start_hash.saturating_add(1) || hash >= shard.end_hash {
            return Err(invalid(format!(
                "NewStartingHashKey {key} used in SplitShard() on shard {} in stream {} under account {account} is not both greater than one plus the shard's StartingHashKey {} and less than the shard's EndingHashKey {}.",
                shard.id, s.name, shard.start_hash, shard.end_hash
            )));
        }
        self.check_active(&s)?;
        table.split(shard.index, hash, now);
        drop(table);
        self.start_update(&s, now);
        Ok(())
    }

    pub fn merge_shards(&self, region: &str, account: &str, i: &MergeShardsInput) -> Result<(), AwsError> {
        let a = i.shard_to_merge.as_deref().ok_or_else(|| missing("shardToMerge"))?;
        let b = i
            .adjacent_shard_to_merge
            .as_deref()
            .ok_or_else(|| missing("adjacentShardToMerge"))?;
        let s = self.reshardable(region, account, &i.stream)?;
        let now = self.now();
        let mut table = s.table_mut();
        let first = Self::open_shard(&s, &table, a, now)?;
        let second = Self::open_shard(&s, &table, b, now)?;
        let adjacent = first.end_hash.checked_add(1) == Some(second.start_hash)
            || second.end_hash.checked_add(1) == Some(first.start_hash);
        if !adjacent {
            return Err(invalid(format!(
                "Shards {} and {} in stream {} under account {account} are not an adjacent pair of shards eligible for merging",
                first.id, second.id, s.name
            )));
        }
        self.check_active(&s)?;
        table.merge(first.index, second.index, now);
        drop(table);
        self.start_update(&s, now);
        Ok(())
    }

    pub fn update_shard_count(
        &self,
        region: &str,
        account: &str,
        i: &UpdateShardCountInput,
    ) -> Result<Value, AwsError> {
        let target = i.target_shard_count.ok_or_else(|| missing("targetShardCount"))?;
        if target < 1 {
            return Err(constraint(
                &target.to_string(),
                "targetShardCount",
                "Member must have value greater than or equal to 1",
            ));
        }
        match i.scaling_type.as_deref() {
            None => return Err(missing("scalingType")),
            Some("UNIFORM_SCALING") => {}
            Some(other) => {
                return Err(constraint(
                    other,
                    "scalingType",
                    "Member must satisfy enum value set: [UNIFORM_SCALING]",
                ))
            }
        }
        let s = self.reshardable(region, account, &i.stream)?;
        self.check_active(&s)?;
        let now = self.now();
        let mut table = s.table_mut();
        let open = table.open.len();
        let counts = format!("Current open shard count: {open}, Target shard count: {target}");
        if target > i64::from(MAX_SHARDS) {
            return Err(errors::limit_exceeded(format!(
                "Target shard count or number of open shards cannot be greater than {MAX_SHARDS}. {counts}"
            )));
        }
        if target > 2 * open as i64 {
            return Err(errors::limit_exceeded(format!(
                "UpdateShardCount cannot scale up over double your current open shard count. {counts}"
            )));
        }
        if (target as f64) < open as f64 / 2.0 {
            return Err(errors::limit_exceeded(format!(
                "UpdateShardCount cannot scale down below half your current open shard count. {counts}"
            )));
        }
        {
            let mut done = s.scalings.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            while done.front().is_some_and(|&t| t.saturating_add(DAY_MILLIS) <= now) {
                done.pop_front();
            }
            if done.len() >= MAX_SCALINGS_PER_DAY {
                return Err(errors::limit_exceeded(format!(
                    "UpdateShardCount on stream {} under account {account} exceeds the limit of {MAX_SCALINGS_PER_DAY} scaling operations per rolling 24-hour period.",
                    s.name
                )));
            }
            done.push_back(now);
        }
        let target = u32::try_from(target).unwrap_or(MAX_SHARDS);
        let already = table.open.len() == target as usize
            && table
                .open
                .iter()
                .zip(crate::keys::ranges(target))
                .all(|(sh, (a, b))| sh.start_hash == a && sh.end_hash == b);
        if !already {
            table.rescale(&crate::keys::ranges(target), now);
        }
        drop(table);
        self.start_update(&s, now);
        Ok(json!({
            "StreamName": s.name,
            "StreamARN": s.arn,
            "CurrentShardCount": open,
            "TargetShardCount": target,
        }))
    }

    /// The shards ListShards returns for `filter` (all listed ones without one).
    pub(crate) fn filter_shards(&self, s: &Stream, filter: Option<&ShardFilter>) -> Result<Vec<Arc<Shard>>, AwsError> {
        let now = self.now();
        let shards = s.listed_shards(now);
        let Some(f) = filter else { return Ok(shards) };
        let kind = f.kind.as_deref().ok_or_else(|| missing("shardFilter.type"))?;
        let trim_horizon = now.saturating_sub(s.retention_millis()).max(s.created_millis);
        let ts = || -> Result<u64, AwsError> {
            let t = f
                .timestamp
                .ok_or_else(|| invalid(format!("Timestamp must be specified for ShardFilter type {kind}.")))?;
            Ok(if t <= 0.0 { 0 } else { (t * 1000.0) as u64 })
        };
        let open_at = |sh: &Shard, t: u64| sh.created_millis <= t && sh.closed_millis().is_none_or(|c| c > t);
        Ok(match kind {
            "FROM_TRIM_HORIZON" => shards,
            "AT_LATEST" => shards.into_iter().filter(|sh| sh.closed_millis().is_none()).collect(),
            "AT_TRIM_HORIZON" => shards.into_iter().filter(|sh| open_at(sh, trim_horizon)).collect(),
            "AT_TIMESTAMP" => {
                let t = ts()?.max(s.created_millis);
                shards.into_iter().filter(|sh| open_at(sh, t)).collect()
            }
            "FROM_TIMESTAMP" => {
                let t = ts()?.max(trim_horizon);
                shards
                    .into_iter()
                    .filter(|sh| sh.closed_millis().is_none_or(|c| c >= t))
                    .collect()
            }
            "AFTER_SHARD_ID" => {
                let after = f
                    .shard_id
                    .as_deref()
                    .ok_or_else(|| invalid("ShardId must be specified for ShardFilter type AFTER_SHARD_ID."))?;
                shards.into_iter().filter(|sh| sh.id.as_str() > after).collect()
            }
            other => {
                return Err(constraint(
                    other,
                    "shardFilter.type",
                    "Member must satisfy enum value set: [AFTER_SHARD_ID, AT_TRIM_HORIZON, FROM_TRIM_HORIZON, AT_LATEST, AT_TIMESTAMP, FROM_TIMESTAMP]",
                ))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use base64::Engine as _;
    use lb_core::arn::Arn;
    use lb_core::stream::{StartingPosition, StreamSource};
    use lb_core::{Clock, ManualClock, TokioClock};
    use serde_json::{json, Value};

    use crate::{Kinesis, KinesisConfig};

    const R: &str = "us-east-1";
    const A: &str = "000000000000";
    const T0: u64 = 1_800_000_000_000;

    fn from<T: serde::de::DeserializeOwned>(v: Value) -> T {
        serde_json::from_value(v).unwrap()
    }

    fn setup(shards: u32, delay: u64) -> (Kinesis, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(T0));
        let k = Kinesis::new(
            clock.clone(),
            KinesisConfig {
                create_delay_millis: delay,
                ..KinesisConfig::default()
            },
        );
        k.create_stream(R, A, from(json!({"StreamName": "s", "ShardCount": shards})))
            .unwrap();
        clock.advance(delay);
        (k, clock)
    }

    fn list(k: &Kinesis, filter: Option<Value>) -> Vec<Value> {
        let mut req = json!({"StreamName": "s"});
        if let Some(f) = filter {
            req["ShardFilter"] = f;
        }
        let v = k.list_shards(R, A, &from(req)).unwrap();
        v["Shards"].as_array().unwrap().clone()
    }

    fn put(k: &Kinesis, key: &str, data: &str) -> String {
        let v = k
            .put_record(
                R,
                A,
                from(json!({"StreamName": "s", "PartitionKey": key,
                    "Data": base64::engine::general_purpose::STANDARD.encode(data)})),
            )
            .unwrap();
        v["ShardId"].as_str().unwrap().to_owned()
    }

    fn read_all(k: &Kinesis, shard: &str) -> (Vec<String>, Value) {
        let it = k
            .get_shard_iterator(
                R,
                A,
                &from(json!({"StreamName": "s", "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"})),
            )
            .unwrap();
        let v = k
            .get_records(R, A, &from(json!({"ShardIterator": it["ShardIterator"]})))
            .unwrap();
        let data = v["Records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                String::from_utf8(
                    base64::engine::general_purpose::STANDARD
                        .decode(r["Data"].as_str().unwrap())
                        .unwrap(),
                )
                .unwrap()
            })
            .collect();
        (data, v)
    }

    fn open_ranges(k: &Kinesis) -> Vec<(u128, u128)> {
        list(k, Some(json!({"Type": "AT_LATEST"})))
            .iter()
            .map(|s| {
                (
                    s["HashKeyRange"]["StartingHashKey"].as_str().unwrap().parse().unwrap(),
                    s["HashKeyRange"]["EndingHashKey"].as_str().unwrap().parse().unwrap(),
                )
            })
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect()
    }

    #[test]
    fn split_closes_the_parent_and_children_take_its_range() {
        let (k, clock) = setup(1, 0);
        let before = put(&k, "a", "before");
        assert_eq!(before, "shardId-000000000000");
        clock.advance(1000);
        let mid = (1u128 << 127).to_string();
        k.split_shard(
            R,
            A,
            &from(json!({"StreamName": "s", "ShardToSplit": "shardId-000000000000", "NewStartingHashKey": mid})),
        )
        .unwrap();
        let shards = list(&k, None);
        assert_eq!(shards.len(), 3);
        assert!(shards[0]["SequenceNumberRange"]["EndingSequenceNumber"].is_string());
        assert_eq!(shards[1]["ShardId"], "shardId-000000000001");
        assert_eq!(shards[1]["ParentShardId"], "shardId-000000000000");
        assert_eq!(shards[1]["HashKeyRange"]["StartingHashKey"], "0");
        assert_eq!(
            shards[1]["HashKeyRange"]["EndingHashKey"],
            ((1u128 << 127) - 1).to_string()
        );
        assert_eq!(shards[2]["HashKeyRange"]["StartingHashKey"], mid);
        assert_eq!(shards[2]["HashKeyRange"]["EndingHashKey"], u128::MAX.to_string());
        assert!(shards[2].get("AdjacentParentShardId").is_none());
        assert!(shards[2]["SequenceNumberRange"].get("EndingSequenceNumber").is_none());
        // New records go to the children; the parent's stay readable, then its end.
        let after = put(&k, "a", "after");
        assert_ne!(after, before);
        let (data, v) = read_all(&k, &before);
        assert_eq!(data, ["before"]);
        assert!(v.get("NextShardIterator").is_none());
        assert_eq!(
            v["ChildShards"],
            json!([
                {"ShardId": "shardId-000000000001", "ParentShards": ["shardId-000000000000"],
                 "HashKeyRange": shards[1]["HashKeyRange"]},
                {"ShardId": "shardId-000000000002", "ParentShards": ["shardId-000000000000"],
                 "HashKeyRange": shards[2]["HashKeyRange"]},
            ])
        );
        let (data, v) = read_all(&k, &after);
        assert_eq!(data, ["after"]);
        assert!(v["NextShardIterator"].is_string());
        // The closed parent is listed until its records expire (24 hours after it closed).
        assert_eq!(list(&k, Some(json!({"Type": "AT_LATEST"}))).len(), 2);
        assert_eq!(list(&k, Some(json!({"Type": "AT_TRIM_HORIZON"}))).len(), 1);
        clock.advance(24 * 3_600_000);
        assert_eq!(list(&k, None).len(), 2);
    }

    #[test]
    fn split_and_merge_refuse_what_aws_refuses() {
        let (k, _) = setup(3, 0);
        let err = |v: Value, merge: bool| {
            let e = if merge {
                k.merge_shards(R, A, &from(v)).unwrap_err()
            } else {
                k.split_shard(R, A, &from(v)).unwrap_err()
            };
            (e.code.to_string(), e.message)
        };
        let (code, msg) = err(
            json!({"StreamName": "s", "ShardToSplit": "shardId-000000000000", "NewStartingHashKey": "1"}),
            false,
        );
        assert_eq!(code, "InvalidArgumentException");
        let end = crate::keys::ranges(3)[0].1;
        assert_eq!(
            msg,
            format!("NewStartingHashKey 1 used in SplitShard() on shard shardId-000000000000 in stream s under account 000000000000 is not both greater than one plus the shard's StartingHashKey 0 and less than the shard's EndingHashKey {end}.")
        );
        let (code, msg) = err(
            json!({"StreamName": "s", "ShardToSplit": "shardId-000000000009", "NewStartingHashKey": "100"}),
            false,
        );
        assert_eq!(code, "ResourceNotFoundException");
        assert_eq!(
            msg,
            "Could not find shard shardId-000000000009 in stream s under account 000000000000."
        );
        let (code, msg) = err(
            json!({"StreamName": "s", "ShardToMerge": "shardId-000000000000", "AdjacentShardToMerge": "shardId-000000000002"}),
            true,
        );
        assert_eq!(code, "InvalidArgumentException");
        assert_eq!(msg, "Shards shardId-000000000000 and shardId-000000000002 in stream s under account 000000000000 are not an adjacent pair of shards eligible for merging");
        // Merge 1 with 0 (either order is adjacent): lineage, then the parents are closed.
        k.merge_shards(
            R,
            A,
            &from(json!({"StreamName": "s", "ShardToMerge": "shardId-000000000001", "AdjacentShardToMerge": "shardId-000000000000"})),
        )
        .unwrap();
        let shards = list(&k, None);
        let child = &shards[3];
        assert_eq!(child["ShardId"], "shardId-000000000003");
        assert_eq!(child["ParentShardId"], "shardId-000000000001");
        assert_eq!(child["AdjacentParentShardId"], "shardId-000000000000");
        assert_eq!(child["HashKeyRange"]["StartingHashKey"], "0");
        assert_eq!(
            child["HashKeyRange"]["EndingHashKey"],
            shards[1]["HashKeyRange"]["EndingHashKey"]
        );
        let (code, msg) = err(
            json!({"StreamName": "s", "ShardToSplit": "shardId-000000000000", "NewStartingHashKey": "100"}),
            false,
        );
        assert_eq!(code, "InvalidArgumentException");
        assert_eq!(msg, "Shard shardId-000000000000 in stream s under account 000000000000 has already been merged or split, and thus is not eligible for merging or splitting.");
        // On-demand streams are not resharded.
        k.create_stream(
            R,
            A,
            from(json!({"StreamName": "od", "StreamModeDetails": {"StreamMode": "ON_DEMAND"}})),
        )
        .unwrap();
        let e = k
            .update_shard_count(
                R,
                A,
                &from(json!({"StreamName": "od", "TargetShardCount": 5, "ScalingType": "UNIFORM_SCALING"})),
            )
            .unwrap_err();
        assert_eq!(e.code, "ValidationException");
        assert_eq!(
            e.message,
            "Request is invalid. Stream od under account 000000000000 is in On-Demand mode."
        );
    }

    #[test]
    fn updating_lasts_the_delay_and_refuses_another_reshard() {
        let (k, clock) = setup(2, 500);
        let summary = |k: &Kinesis| {
            k.describe_stream_summary(R, A, &from(json!({"StreamName": "s"})))
                .unwrap()["StreamDescriptionSummary"]
                .clone()
        };
        assert_eq!(summary(&k)["StreamStatus"], "ACTIVE");
        let out = k
            .update_shard_count(
                R,
                A,
                &from(json!({"StreamName": "s", "TargetShardCount": 4, "ScalingType": "UNIFORM_SCALING"})),
            )
            .unwrap();
        assert_eq!(
            out,
            json!({"StreamName": "s", "StreamARN": "arn:aws:kinesis:us-east-1:000000000000:stream/s",
                   "CurrentShardCount": 2, "TargetShardCount": 4})
        );
        assert_eq!(summary(&k)["StreamStatus"], "UPDATING");
        assert_eq!(summary(&k)["OpenShardCount"], 4);
        let e = k
            .merge_shards(
                R,
                A,
                &from(json!({"StreamName": "s", "ShardToMerge": "shardId-000000000002", "AdjacentShardToMerge": "shardId-000000000003"})),
            )
            .unwrap_err();
        assert_eq!(e.code, "ResourceInUseException");
        assert_eq!(
            e.message,
            "Stream s under account 000000000000 not ACTIVE, instead in state UPDATING"
        );
        clock.advance(500);
        assert_eq!(summary(&k)["StreamStatus"], "ACTIVE");
    }

    #[test]
    fn uniform_scaling_reaches_even_ranges_with_at_most_two_parents() {
        for (from_n, to_n) in [
            (1u32, 2u32),
            (2, 4),
            (4, 2),
            (2, 3),
            (3, 5),
            (5, 3),
            (4, 7),
            (7, 4),
            (3, 3),
        ] {
            let (k, clock) = setup(from_n, 0);
            for i in 0..50 {
                put(&k, &format!("key{i}"), &format!("{i}"));
            }
            clock.advance(10);
            k.update_shard_count(
                R,
                A,
                &from(json!({"StreamName": "s", "TargetShardCount": to_n, "ScalingType": "UNIFORM_SCALING"})),
            )
            .unwrap();
            assert_eq!(open_ranges(&k), crate::keys::ranges(to_n), "{from_n} -> {to_n}");
            // Every record is still readable from the shards it was written to.
            let total: usize = list(&k, None)
                .iter()
                .map(|s| read_all(&k, s["ShardId"].as_str().unwrap()).0.len())
                .sum();
            assert_eq!(total, 50, "{from_n} -> {to_n}");
            // Lineage: each child's parents cover exactly its range.
            let shards = list(&k, None);
            let by_id = |id: &Value| shards.iter().find(|s| s["ShardId"] == *id).unwrap().clone();
            for s in &shards {
                let Some(p) = s.get("ParentShardId") else { continue };
                let mut parents = vec![by_id(p)];
                if let Some(a) = s.get("AdjacentParentShardId") {
                    parents.push(by_id(a));
                }
                let key = |v: &Value, f: &str| v["HashKeyRange"][f].as_str().unwrap().parse::<u128>().unwrap();
                let lo = parents.iter().map(|p| key(p, "StartingHashKey")).min().unwrap();
                let hi = parents.iter().map(|p| key(p, "EndingHashKey")).max().unwrap();
                assert!(parents
                    .iter()
                    .all(|p| p["SequenceNumberRange"]["EndingSequenceNumber"].is_string()));
                if parents.len() == 2 {
                    assert_eq!((lo, hi), (key(s, "StartingHashKey"), key(s, "EndingHashKey")));
                } else {
                    assert!(lo <= key(s, "StartingHashKey") && key(s, "EndingHashKey") <= hi);
                }
            }
        }
    }

    #[test]
    fn update_shard_count_limits() {
        let (k, _) = setup(4, 0);
        let update = |n: i64| {
            k.update_shard_count(
                R,
                A,
                &from(json!({"StreamName": "s", "TargetShardCount": n, "ScalingType": "UNIFORM_SCALING"})),
            )
        };
        let e = update(9).unwrap_err();
        assert_eq!(e.code, "LimitExceededException");
        assert_eq!(e.message, "UpdateShardCount cannot scale up over double your current open shard count. Current open shard count: 4, Target shard count: 9");
        let e = update(1).unwrap_err();
        assert_eq!(e.message, "UpdateShardCount cannot scale down below half your current open shard count. Current open shard count: 4, Target shard count: 1");
        let e = k
            .update_shard_count(
                R,
                A,
                &from(json!({"StreamName": "s", "TargetShardCount": 2, "ScalingType": "OTHER"})),
            )
            .unwrap_err();
        assert_eq!(e.code, "ValidationException");
        for n in [2, 4, 2, 4, 2, 4, 2, 4, 2, 4] {
            update(n).unwrap();
        }
        assert_eq!(update(2).unwrap_err().code, "LimitExceededException");
    }

    #[test]
    fn list_shards_filters() {
        let (k, clock) = setup(2, 0);
        clock.advance(10_000);
        let t_split = clock.now_millis();
        k.split_shard(
            R,
            A,
            &from(json!({"StreamName": "s", "ShardToSplit": "shardId-000000000000",
                         "NewStartingHashKey": (1u128 << 126).to_string()})),
        )
        .unwrap();
        clock.advance(10_000);
        let ids = |f: Value| -> Vec<String> {
            list(&k, Some(f))
                .iter()
                .map(|s| s["ShardId"].as_str().unwrap().to_owned())
                .collect()
        };
        let all = [
            "shardId-000000000000",
            "shardId-000000000001",
            "shardId-000000000002",
            "shardId-000000000003",
        ];
        assert_eq!(ids(json!({"Type": "FROM_TRIM_HORIZON"})), all);
        assert_eq!(ids(json!({"Type": "AT_TRIM_HORIZON"})), all[..2]);
        assert_eq!(ids(json!({"Type": "AT_LATEST"})), all[1..]);
        assert_eq!(
            ids(json!({"Type": "AFTER_SHARD_ID", "ShardId": "shardId-000000000001"})),
            all[2..]
        );
        let before = (t_split - 5_000) as f64 / 1000.0;
        let after = (t_split + 5_000) as f64 / 1000.0;
        assert_eq!(ids(json!({"Type": "AT_TIMESTAMP", "Timestamp": before})), all[..2]);
        assert_eq!(ids(json!({"Type": "AT_TIMESTAMP", "Timestamp": after})), all[1..]);
        assert_eq!(ids(json!({"Type": "FROM_TIMESTAMP", "Timestamp": before})), all);
        assert_eq!(ids(json!({"Type": "FROM_TIMESTAMP", "Timestamp": after})), all[1..]);
        // Paging keeps the filter.
        let v = k
            .list_shards(
                R,
                A,
                &from(json!({"StreamName": "s", "MaxResults": 1, "ShardFilter": {"Type": "AT_LATEST"}})),
            )
            .unwrap();
        assert_eq!(v["Shards"][0]["ShardId"], "shardId-000000000001");
        let v = k
            .list_shards(R, A, &from(json!({"NextToken": v["NextToken"], "MaxResults": 5})))
            .unwrap();
        let rest: Vec<_> = v["Shards"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["ShardId"].clone())
            .collect();
        assert_eq!(rest, [json!("shardId-000000000002"), json!("shardId-000000000003")]);
    }

    fn arn() -> Arn {
        format!("arn:aws:kinesis:{R}:{A}:stream/s").parse().unwrap()
    }

    #[test]
    fn stream_source_reads_a_closed_shard_to_its_end() {
        let (k, _) = setup(1, 0);
        put(&k, "a", "one");
        put(&k, "a", "two");
        k.split_shard(
            R,
            A,
            &from(json!({"StreamName": "s", "ShardToSplit": "shardId-000000000000", "NewStartingHashKey": "1000"})),
        )
        .unwrap();
        let shards = k.shards(&arn()).unwrap();
        assert_eq!(shards.len(), 3);
        assert!(shards[0].closed);
        assert_eq!(shards[1].parent_shard_id.as_deref(), Some("shardId-000000000000"));
        assert_eq!(shards[2].adjacent_parent_shard_id, None);
        let p = k
            .position(&arn(), "shardId-000000000000", &StartingPosition::TrimHorizon)
            .unwrap();
        let first = k.read(&arn(), "shardId-000000000000", p, 1).unwrap();
        assert_eq!(first.records.len(), 1);
        assert!(!first.end_of_shard);
        let last = k.read(&arn(), "shardId-000000000000", first.next, 10).unwrap();
        assert_eq!(last.records.len(), 1);
        assert!(last.end_of_shard);
    }

    #[tokio::test(start_paused = true)]
    async fn wait_is_woken_when_the_shard_closes() {
        let clock: Arc<dyn Clock> = Arc::new(TokioClock::new(T0));
        let k = Arc::new(Kinesis::new(Arc::clone(&clock), KinesisConfig::default()));
        k.create_stream(R, A, from(json!({"StreamName": "s", "ShardCount": 1})))
            .unwrap();
        let from_pos = k
            .position(&arn(), "shardId-000000000000", &StartingPosition::Latest)
            .unwrap();
        let waiter = {
            let k = Arc::clone(&k);
            tokio::spawn(async move { k.wait(&arn(), "shardId-000000000000", from_pos, T0 + 60_000).await })
        };
        tokio::task::yield_now().await;
        tokio::task::yield_now().await;
        let before = clock.now_millis();
        k.split_shard(
            R,
            A,
            &from(json!({"StreamName": "s", "ShardToSplit": "shardId-000000000000", "NewStartingHashKey": "1000"})),
        )
        .unwrap();
        waiter.await.unwrap();
        assert_eq!(clock.now_millis(), before);
        let read = k.read(&arn(), "shardId-000000000000", from_pos, 10).unwrap();
        assert!(read.records.is_empty() && read.end_of_shard);
    }
}
