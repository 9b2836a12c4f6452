//! Unit tests: hash key ranges, sequence numbers, iterators, and the operations on a manual clock.

use std::sync::Arc;

use base64::Engine as _;
use lb_core::ManualClock;
use serde_json::{json, Value};

use crate::keys::{self, Iterator};
use crate::service::*;
use crate::{Kinesis, KinesisConfig};

const R: &str = "us-east-1";
const A: &str = "000000000000";
const T0: u64 = 1_800_000_000_000;

fn kinesis(config: KinesisConfig) -> (Kinesis, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(T0));
    (Kinesis::new(clock.clone(), config), clock)
}

fn from<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).unwrap()
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn ranges_split_the_key_space_evenly() {
    assert_eq!(keys::ranges(1), vec![(0, u128::MAX)]);
    let two = keys::ranges(2);
    assert_eq!(two[0], (0, (1u128 << 127) - 1));
    assert_eq!(two[1], (1u128 << 127, u128::MAX));
    for n in [3u32, 4, 7, 500] {
        let r = keys::ranges(n);
        assert_eq!(r.len(), n as usize);
        assert_eq!(r[0].0, 0);
        assert_eq!(r[r.len() - 1].1, u128::MAX);
        assert!(r.windows(2).all(|w| w[0].1 + 1 == w[1].0));
    }
}

#[test]
fn hash_key_is_md5_big_endian() {
    // md5("a") = 0cc175b9c0f1b6a831c399e269772661
    assert_eq!(keys::hash_key("a"), 0x0cc175b9c0f1b6a831c399e269772661);
}

#[test]
fn sequence_numbers_round_trip_and_order() {
    let a = keys::sequence_number(1_800_000_000, 3, 1, T0);
    let b = keys::sequence_number(1_800_000_000, 3, 2, T0);
    assert_eq!(a.len(), 56);
    assert!(a < b);
    assert_eq!(keys::parse_sequence_number(&b), Some((1_800_000_000, 3, 2)));
    assert_eq!(keys::parse_sequence_number("123"), None);
    for (c, sh, i, t) in [
        (0, 0, 0, 0),
        (1_800_000_000, 7, 42, T0),
        (u64::MAX, u32::MAX, u64::MAX, u64::MAX),
    ] {
        assert_eq!(
            keys::sequence_number(c, sh, i, t),
            format!(
                "49{:010}{:06}{:020}{:018}",
                c % 10_000_000_000,
                sh % 1_000_000,
                i,
                t % 1_000_000_000_000_000_000
            )
        );
    }
}

#[test]
fn iterators_round_trip() {
    let it = Iterator {
        stream: "a|b".into(),
        stream_created_millis: T0,
        shard: 2,
        position: 9,
        issued_millis: T0 + 5,
    };
    assert_eq!(Iterator::decode(&it.encode()), Some(it));
    assert_eq!(Iterator::decode("bm9wZQ=="), None);
}

#[test]
fn java_dates_read_like_aws() {
    // 2020-03-04T01:02:40Z, from an ExpiredIteratorException quoted by an SDK user.
    assert_eq!(
        crate::errors::java_date(1_583_283_760_000),
        "Wed Mar 04 01:02:40 UTC 2020"
    );
}

fn put(k: &Kinesis, stream: &str, key: &str, data: &str) -> Value {
    k.put_record(
        R,
        A,
        from(json!({"StreamName": stream, "PartitionKey": key, "Data": b64(data)})),
    )
    .unwrap()
}

fn iterator(k: &Kinesis, stream: &str, shard: &str, kind: &str) -> String {
    let v = k
        .get_shard_iterator(
            R,
            A,
            &from(json!({"StreamName": stream, "ShardId": shard, "ShardIteratorType": kind})),
        )
        .unwrap();
    v["ShardIterator"].as_str().unwrap().to_owned()
}

fn get(k: &Kinesis, it: &str) -> Result<Value, lb_core::AwsError> {
    k.get_records(R, A, &from(json!({"ShardIterator": it})))
}

#[test]
fn records_flow_and_iterators_expire() {
    let (k, clock) = kinesis(KinesisConfig::default());
    k.create_stream(R, A, from(json!({"StreamName": "s", "ShardCount": 1})))
        .unwrap();
    let it = iterator(&k, "s", "shardId-000000000000", "LATEST");
    put(&k, "s", "k", "one");
    clock.advance(1000);
    put(&k, "s", "k", "two");
    let page = get(&k, &it).unwrap();
    let data: Vec<_> = page["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Data"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(data, vec![b64("one"), b64("two")]);
    assert_eq!(page["MillisBehindLatest"], 0);
    let next = page["NextShardIterator"].as_str().unwrap().to_owned();
    clock.advance(ITERATOR_TTL_MILLIS + 1);
    let e = get(&k, &next).unwrap_err();
    assert_eq!(e.code, "ExpiredIteratorException");
}

#[test]
fn errors_in_aws_words() {
    let (k, _) = kinesis(KinesisConfig::default());
    let e = k
        .describe_stream_summary(
            R,
            A,
            &StreamRef {
                stream_name: Some("x".into()),
                stream_arn: None,
            },
        )
        .unwrap_err();
    assert_eq!(
        (e.code.as_ref(), e.message.as_str()),
        (
            "ResourceNotFoundException",
            "Stream x under account 000000000000 not found."
        )
    );
    let e = k
        .create_stream(R, A, from(json!({"StreamName": "bad name", "ShardCount": 1})))
        .unwrap_err();
    assert_eq!(e.code, "ValidationException");
    let e = k
        .create_stream(R, A, from(json!({"StreamName": "s", "ShardCount": 0})))
        .unwrap_err();
    assert_eq!(
        e.message,
        "1 validation error detected: Value '0' at 'shardCount' failed to satisfy constraint: Member must have value greater than or equal to 1"
    );
}

#[test]
fn bound_drops_the_oldest_over_all_streams() {
    let (k, clock) = kinesis(KinesisConfig {
        max_records: 3,
        ..KinesisConfig::default()
    });
    for s in ["a", "b"] {
        k.create_stream(R, A, from(json!({"StreamName": s, "ShardCount": 1})))
            .unwrap();
    }
    put(&k, "a", "k", "a1");
    clock.advance(1);
    put(&k, "b", "k", "b1");
    clock.advance(1);
    put(&k, "a", "k", "a2");
    clock.advance(1);
    put(&k, "b", "k", "b2");
    let stats = k.stats();
    assert_eq!((stats.stored, stats.dropped), (3, 1));
    let page = get(&k, &iterator(&k, "a", "shardId-000000000000", "TRIM_HORIZON")).unwrap();
    assert_eq!(page["Records"].as_array().unwrap().len(), 1);
    assert_eq!(page["Records"][0]["Data"], b64("a2"));
}

#[test]
fn shard_limits_fail_records_past_a_second_s_budget() {
    let (k, clock) = kinesis(KinesisConfig {
        shard_limits: true,
        ..KinesisConfig::default()
    });
    k.create_stream(R, A, from(json!({"StreamName": "s", "ShardCount": 1})))
        .unwrap();
    let batch = |n: usize| -> PutRecordsInput {
        from(json!({
            "StreamName": "s",
            "Records": (0..n).map(|i| json!({"PartitionKey": i.to_string(), "Data": b64("x")})).collect::<Vec<_>>(),
        }))
    };
    assert_eq!(k.put_records(R, A, batch(500)).unwrap()["FailedRecordCount"], 0);
    let out = k.put_records(R, A, batch(500)).unwrap();
    assert_eq!(out["FailedRecordCount"], 0);
    let out = k.put_records(R, A, batch(2)).unwrap();
    assert_eq!(out["FailedRecordCount"], 2);
    assert_eq!(out["Records"][0]["ErrorCode"], "ProvisionedThroughputExceededException");
    assert_eq!(
        out["Records"][0]["ErrorMessage"],
        "Rate exceeded for shard shardId-000000000000 in stream s under account 000000000000."
    );
    let e = k
        .put_record(
            R,
            A,
            from(json!({"StreamName": "s", "PartitionKey": "k", "Data": b64("x")})),
        )
        .unwrap_err();
    assert_eq!(e.code, "ProvisionedThroughputExceededException");
    clock.advance(1000);
    assert_eq!(k.put_records(R, A, batch(2)).unwrap()["FailedRecordCount"], 0);
}

#[test]
fn streams_are_creating_until_the_delay_passes_on_the_clock() {
    let (k, clock) = kinesis(KinesisConfig {
        create_delay_millis: 500,
        ..KinesisConfig::default()
    });
    k.create_stream(R, A, from(json!({"StreamName": "s", "ShardCount": 2})))
        .unwrap();
    let status = |k: &Kinesis| {
        k.describe_stream(R, A, &from(json!({"StreamName": "s"}))).unwrap()["StreamDescription"]["StreamStatus"].clone()
    };
    assert_eq!(status(&k), "CREATING");
    clock.advance(500);
    assert_eq!(status(&k), "ACTIVE");
    let e = k
        .create_stream(R, A, from(json!({"StreamName": "s", "ShardCount": 1})))
        .unwrap_err();
    assert_eq!(e.code, "ResourceInUseException");
    assert_eq!(e.message, "Stream s under account 000000000000 already exists.");
}

#[test]
fn sequence_numbers_from_another_shard_or_stream_are_refused() {
    let (k, _) = kinesis(KinesisConfig::default());
    k.create_stream(R, A, from(json!({"StreamName": "s", "ShardCount": 2})))
        .unwrap();
    let seq = k
        .put_record(
            R,
            A,
            from(json!({"StreamName": "s", "PartitionKey": "k", "ExplicitHashKey": "0", "Data": b64("x")})),
        )
        .unwrap()["SequenceNumber"]
        .as_str()
        .unwrap()
        .to_owned();
    let at = |shard: &str| {
        k.get_shard_iterator(
            R,
            A,
            &from(json!({"StreamName": "s", "ShardId": shard, "ShardIteratorType": "AT_SEQUENCE_NUMBER", "StartingSequenceNumber": seq})),
        )
    };
    assert!(at("shardId-000000000000").is_ok());
    let e = at("shardId-000000000001").unwrap_err();
    assert_eq!(
        e.message,
        "Invalid StartingSequenceNumber. It encodes shardId-000000000000, while it was used in a call to a shard with shardId-000000000001"
    );
}

#[test]
fn cbor_speaks_bytes_and_millisecond_timestamps() {
    use ciborium::value::Value as Cbor;
    let (k, _) = kinesis(KinesisConfig::default());
    let ctx = lb_core::RequestContext::default();
    let call = |op: &str, v: Cbor| {
        let mut body = Vec::new();
        ciborium::ser::into_writer(&v, &mut body).unwrap();
        let resp = crate::api::handle_cbor(&k, &ctx, op, &body);
        assert_eq!(resp.headers()["content-type"], crate::cbor::CONTENT_TYPE);
        let out: Cbor = ciborium::de::from_reader(resp.body().as_ref()).unwrap();
        (resp.status().as_u16(), out)
    };
    let text = |s: &str| Cbor::Text(s.into());
    let map = |pairs: Vec<(&str, Cbor)>| Cbor::Map(pairs.into_iter().map(|(k, v)| (text(k), v)).collect());
    let get = |v: &Cbor, key: &str| -> Cbor {
        match v {
            Cbor::Map(m) => m.iter().find(|(k, _)| *k == text(key)).map(|(_, v)| v.clone()).unwrap(),
            _ => panic!("not a map: {v:?}"),
        }
    };
    let (status, _) = call(
        "CreateStream",
        map(vec![("StreamName", text("s")), ("ShardCount", Cbor::Integer(1.into()))]),
    );
    assert_eq!(status, 200);
    let (_, put) = call(
        "PutRecord",
        map(vec![
            ("StreamName", text("s")),
            ("PartitionKey", text("k")),
            ("Data", Cbor::Bytes(b"\x00\xffhello".to_vec())),
        ]),
    );
    assert_eq!(get(&put, "ShardId"), text("shardId-000000000000"));
    // AT_TIMESTAMP with tag 1 over epoch milliseconds.
    let (_, it) = call(
        "GetShardIterator",
        map(vec![
            ("StreamName", text("s")),
            ("ShardId", text("shardId-000000000000")),
            ("ShardIteratorType", text("AT_TIMESTAMP")),
            ("Timestamp", Cbor::Tag(1, Box::new(Cbor::Integer((T0 as i64).into())))),
        ]),
    );
    let (_, page) = call("GetRecords", map(vec![("ShardIterator", get(&it, "ShardIterator"))]));
    let Cbor::Array(records) = get(&page, "Records") else {
        panic!()
    };
    assert_eq!(records.len(), 1);
    assert_eq!(get(&records[0], "Data"), Cbor::Bytes(b"\x00\xffhello".to_vec()));
    assert_eq!(
        get(&records[0], "ApproximateArrivalTimestamp"),
        Cbor::Tag(1, Box::new(Cbor::Integer((T0 as i64).into())))
    );
    let (status, err) = call("DescribeStreamSummary", map(vec![("StreamName", text("nope"))]));
    assert_eq!(status, 400);
    assert_eq!(get(&err, "__type"), text("ResourceNotFoundException"));
}
