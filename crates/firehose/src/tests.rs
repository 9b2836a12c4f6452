//! Buffering, naming and transformation on a paused Tokio clock, with fakes for S3 and Lambda.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use lb_core::clock::BoxFuture;
use lb_core::deliver::{Engine, EngineConfig, Fate, LedgerQuery, Registry};
use lb_core::invoke::{FunctionInvoker, FunctionResult};
use lb_core::object::{ObjectPut, ObjectSink, ObjectStored};
use lb_core::{Arn, AwsError, Clock, TokioClock};
use serde_json::{json, Value};

use crate::service::{CreateInput, PutRecordBatchInput, PutRecordInput, RecordIn};
use crate::{Firehose, FirehoseConfig, FirehoseDeps};

/// 2026-03-01T07:08:09Z
const START: u64 = 1_772_348_889_000;

#[derive(Default)]
struct Bucket {
    objects: Mutex<Vec<ObjectPut>>,
    /// Writes fail while this is set.
    failing: Mutex<bool>,
}

impl ObjectSink for Bucket {
    fn put_object(&self, object: ObjectPut) -> BoxFuture<'_, Result<ObjectStored, AwsError>> {
        let r = if *self.failing.lock().unwrap() {
            Err(AwsError::new(
                "NoSuchBucket",
                404,
                "The specified bucket does not exist",
            ))
        } else {
            self.objects.lock().unwrap().push(object);
            Ok(ObjectStored {
                etag: "e".into(),
                version_id: None,
            })
        };
        Box::pin(async move { r })
    }
}

/// Upper-cases records, drops "drop…", fails "fail…".
struct Upper;

impl FunctionInvoker for Upper {
    fn invoke_function<'a>(&'a self, _f: &'a Arn, payload: Bytes) -> BoxFuture<'a, Result<FunctionResult, AwsError>> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let event: Value = serde_json::from_slice(&payload).unwrap();
        let records: Vec<Value> = event["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let data = b64.decode(r["data"].as_str().unwrap()).unwrap();
                let result = if data.starts_with(b"drop") {
                    "Dropped"
                } else if data.starts_with(b"fail") {
                    "ProcessingFailed"
                } else {
                    "Ok"
                };
                json!({ "recordId": r["recordId"], "result": result, "data": b64.encode(data.to_ascii_uppercase()) })
            })
            .collect();
        let payload = Bytes::from(json!({ "records": records }).to_string());
        Box::pin(async move {
            Ok(FunctionResult {
                payload,
                function_error: None,
                executed_version: "$LATEST".into(),
            })
        })
    }
}

fn setup() -> (Arc<Firehose>, Arc<Bucket>) {
    let (fh, bucket, _) = setup_with_engine();
    (fh, bucket)
}

fn setup_with_engine() -> (Arc<Firehose>, Arc<Bucket>, Engine) {
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::new(START));
    let bucket = Arc::new(Bucket::default());
    let engine = Engine::new(Arc::new(Registry::new()), Arc::clone(&clock), EngineConfig::default());
    let fh = Firehose::new(
        clock,
        FirehoseDeps {
            objects: Some(bucket.clone()),
            functions: Some(Arc::new(Upper)),
            streams: None,
            engine: Some(engine.clone()),
        },
        FirehoseConfig::default(),
    );
    (fh, bucket, engine)
}

fn create(fh: &Firehose, name: &str, dest: Value) {
    let mut d = json!({ "RoleARN": "arn:aws:iam::000000000000:role/r", "BucketARN": "arn:aws:s3:::bkt" });
    d.as_object_mut().unwrap().extend(dest.as_object().unwrap().clone());
    let input: CreateInput =
        serde_json::from_value(json!({ "DeliveryStreamName": name, "ExtendedS3DestinationConfiguration": d })).unwrap();
    fh.create_delivery_stream("us-east-1", "000000000000", input).unwrap();
}

fn put(fh: &Firehose, name: &str, data: &[u8]) {
    fh.put_record(
        "us-east-1",
        "000000000000",
        &PutRecordInput {
            name: Some(name.into()),
            record: Some(RecordIn {
                data: Some(base64::engine::general_purpose::STANDARD.encode(data)),
            }),
        },
    )
    .unwrap();
}

async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

fn keys(b: &Bucket) -> Vec<String> {
    b.objects.lock().unwrap().iter().map(|o| o.key.clone()).collect()
}

#[tokio::test(start_paused = true)]
async fn interval_flush_names_the_object_by_the_oldest_record() {
    let (fh, bucket) = setup();
    create(&fh, "s", json!({ "BufferingHints": { "IntervalInSeconds": 60 } }));
    put(&fh, "s", b"a");
    tokio::time::sleep(Duration::from_secs(30)).await;
    put(&fh, "s", b"b");
    tokio::time::sleep(Duration::from_millis(29_999)).await;
    settle().await;
    assert!(keys(&bucket).is_empty());
    tokio::time::sleep(Duration::from_millis(1)).await;
    settle().await;
    let objects = bucket.objects.lock().unwrap().clone();
    assert_eq!(objects.len(), 1);
    assert!(
        objects[0].key.starts_with("2026/03/01/07/s-1-2026-03-01-07-08-09-"),
        "{}",
        objects[0].key
    );
    assert_eq!(&objects[0].body[..], b"ab");
    assert_eq!(&*objects[0].principal, "firehose.amazonaws.com");
    assert_eq!(objects[0].bucket.resource, "bkt");
}

#[tokio::test(start_paused = true)]
async fn size_flush_keeps_objects_within_the_size() {
    let (fh, bucket) = setup();
    create(
        &fh,
        "s",
        json!({ "BufferingHints": { "SizeInMBs": 1, "IntervalInSeconds": 900 } }),
    );
    let record = base64::engine::general_purpose::STANDARD.encode(vec![b'x'; 100_000]);
    let input = PutRecordBatchInput {
        name: Some("s".into()),
        records: Some(
            (0..11)
                .map(|_| RecordIn {
                    data: Some(record.clone()),
                })
                .collect(),
        ),
    };
    let out = fh.put_record_batch("us-east-1", "000000000000", &input).unwrap();
    assert_eq!(out["FailedPutCount"], 0);
    settle().await;
    let sizes: Vec<usize> = bucket.objects.lock().unwrap().iter().map(|o| o.body.len()).collect();
    assert_eq!(sizes, vec![1_000_000]);
    tokio::time::sleep(Duration::from_secs(900)).await;
    settle().await;
    let sizes: Vec<usize> = bucket.objects.lock().unwrap().iter().map(|o| o.body.len()).collect();
    assert_eq!(sizes, vec![1_000_000, 100_000]);
}

#[tokio::test(start_paused = true)]
async fn failed_writes_retry_on_the_clock_and_expire_after_retention() {
    let (fh, bucket, engine) = setup_with_engine();
    create(&fh, "s", json!({ "BufferingHints": { "IntervalInSeconds": 0 } }));
    *bucket.failing.lock().unwrap() = true;
    put(&fh, "s", b"a");
    settle().await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    settle().await;
    assert!(fh.stats.write_failures.load(std::sync::atomic::Ordering::Relaxed) >= 3);
    *bucket.failing.lock().unwrap() = false;
    tokio::time::sleep(Duration::from_secs(60)).await;
    settle().await;
    assert_eq!(keys(&bucket).len(), 1);
    // A bucket that never comes back: the records go after 24 hours, counted.
    *bucket.failing.lock().unwrap() = true;
    put(&fh, "s", b"b");
    tokio::time::sleep(Duration::from_secs(24 * 3600 + 120)).await;
    settle().await;
    assert_eq!(fh.stats.records_expired.load(std::sync::atomic::Ordering::Relaxed), 1);
    // And in the delivery ledger, with the last error.
    let dropped = engine.ledger().query(&LedgerQuery::default());
    assert_eq!(dropped.len(), 1);
    assert_eq!(dropped[0].fate, Fate::Dropped);
    assert_eq!(&*dropped[0].target, "arn:aws:s3:::bkt");
    assert!(dropped[0].attempt_count > 3);
    assert!(dropped[0].reason.as_deref().unwrap().contains("retention period"));
}

#[tokio::test(start_paused = true)]
async fn transformation_splits_ok_dropped_and_failed_and_gzips() {
    let (fh, bucket) = setup();
    create(
        &fh,
        "s",
        json!({
            "CompressionFormat": "GZIP",
            "BufferingHints": { "IntervalInSeconds": 0 },
            "ProcessingConfiguration": { "Enabled": true, "Processors": [{ "Type": "Lambda", "Parameters": [
                { "ParameterName": "LambdaArn", "ParameterValue": "arn:aws:lambda:us-east-1:000000000000:function:f" }
            ]}]},
        }),
    );
    let input = PutRecordBatchInput {
        name: Some("s".into()),
        records: Some(
            [&b"one"[..], b"drop", b"fail", b"two"]
                .iter()
                .map(|d| RecordIn {
                    data: Some(base64::engine::general_purpose::STANDARD.encode(d)),
                })
                .collect(),
        ),
    };
    fh.put_record_batch("us-east-1", "000000000000", &input).unwrap();
    settle().await;
    let objects = bucket.objects.lock().unwrap().clone();
    assert_eq!(objects.len(), 2);
    let gunzip = |b: &[u8]| {
        use std::io::Read as _;
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(b).read_to_end(&mut out).unwrap();
        out
    };
    assert!(objects[0].key.ends_with(".gz") && objects[0].key.starts_with("2026/"));
    assert_eq!(gunzip(&objects[0].body), b"ONETWO");
    assert!(
        objects[1].key.starts_with("processing-failed/2026/03/01/07/s-1-"),
        "{}",
        objects[1].key
    );
    let doc: Value = serde_json::from_slice(&gunzip(&objects[1].body)).unwrap();
    assert_eq!(doc["errorCode"], "Lambda.ProcessingFailedStatus");
    assert_eq!(doc["rawData"], "ZmFpbA==");
    assert_eq!(doc["arrivalTimestamp"], START);
}

#[tokio::test(start_paused = true)]
async fn refuses_what_it_would_not_do() {
    let (fh, _) = setup();
    let refuse = |dest: Value| {
        let mut d = json!({ "RoleARN": "arn:aws:iam::000000000000:role/r", "BucketARN": "arn:aws:s3:::bkt" });
        d.as_object_mut().unwrap().extend(dest.as_object().unwrap().clone());
        let input: CreateInput =
            serde_json::from_value(json!({ "DeliveryStreamName": "x", "ExtendedS3DestinationConfiguration": d }))
                .unwrap();
        fh.create_delivery_stream("us-east-1", "000000000000", input)
            .unwrap_err()
            .code
    };
    assert_eq!(
        refuse(json!({ "CompressionFormat": "Snappy" })),
        "InvalidArgumentException"
    );
    assert_eq!(refuse(json!({ "S3BackupMode": "Enabled" })), "InvalidArgumentException");
    assert_eq!(
        refuse(json!({ "EncryptionConfiguration": { "KMSEncryptionConfig": { "AWSKMSKeyARN": "k" } } })),
        "InvalidArgumentException"
    );
    assert_eq!(
        refuse(json!({ "CustomTimeZone": "Asia/Tokyo" })),
        "InvalidArgumentException"
    );
    assert_eq!(
        refuse(json!({ "S3BackupConfiguration": {} })),
        "InvalidArgumentException"
    );
    assert_eq!(
        refuse(json!({ "BufferingHints": { "SizeInMBs": 0 } })),
        "ValidationException"
    );
}

#[tokio::test(start_paused = true)]
async fn creating_then_active_on_the_clock() {
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::new(START));
    let fh = Firehose::new(
        clock,
        FirehoseDeps::default(),
        FirehoseConfig {
            create_delay_millis: 5_000,
            ..FirehoseConfig::default()
        },
    );
    create(&fh, "s", json!({}));
    let describe = || {
        let input = crate::service::NameInput {
            name: Some("s".into()),
            ..Default::default()
        };
        fh.describe_delivery_stream("us-east-1", "000000000000", &input)
            .unwrap()["DeliveryStreamDescription"]["DeliveryStreamStatus"]
            .clone()
    };
    assert_eq!(describe(), "CREATING");
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(describe(), "ACTIVE");
}
