//! The service without HTTP, on paused tokio time: operations and states, one batch through
//! filter, enrichment, template and target, and the source runners against fake queue, stream,
//! function and target services.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use lb_core::arn::Arn;
use lb_core::clock::BoxFuture;
use lb_core::deliver::{
    DeliveryError, DestinationError, Engine, EngineConfig, Fate, LedgerQuery, Message, Registry, Target,
};
use lb_core::invoke::{FunctionInvoker, FunctionResult};
use lb_core::policy::PolicyRequest;
use lb_core::source::{QueueInfo, QueueSource, SourceMessage};
use lb_core::stream::{StartingPosition, StreamPosition, StreamRead, StreamRecord, StreamShard, StreamSource};
use lb_core::{AwsError, Clock, RequestContext, TokioClock};
use serde_json::{json, Value};

use crate::process::SourceItem;
use crate::spec::{compile, Stored};
use crate::{PipeInput, Pipes, PipesConfig, PipesDeps};

const START: u64 = 1_772_323_200_000;
const ROLE: &str = "arn:aws:iam::000000000000:role/r";

/// Records what it receives; fails messages whose body contains "bad".
#[derive(Default)]
struct Recorder {
    got: Mutex<Vec<(String, Message)>>,
}

impl Recorder {
    fn bodies(&self) -> Vec<String> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|(_, m)| m.body.to_string())
            .collect()
    }
}

impl Target for Recorder {
    fn deliver<'a>(&'a self, arn: &'a Arn, msg: &'a Message) -> BoxFuture<'a, Result<(), DeliveryError>> {
        let r = if msg.body.contains("bad") || msg.body.contains("YmFk") {
            Err(DeliveryError::retryable("Boom", "bad message"))
        } else {
            self.got.lock().unwrap().push((arn.to_string(), msg.clone()));
            Ok(())
        };
        Box::pin(async move { r })
    }

    fn max_batch(&self, _arn: &Arn) -> usize {
        10
    }

    fn authorize(&self, _arn: &Arn, _req: &PolicyRequest<'_>) -> Result<(), DestinationError> {
        Ok(())
    }
}

/// A queue: messages handed out once each (no visibility timeout), deletions recorded.
#[derive(Default)]
struct FakeQueue {
    messages: Mutex<VecDeque<SourceMessage>>,
    deleted: Mutex<Vec<String>>,
    arrived: tokio::sync::Notify,
}

impl FakeQueue {
    fn send(&self, id: &str, body: &str) {
        self.messages.lock().unwrap().push_back(SourceMessage {
            message_id: id.into(),
            receipt_handle: format!("rh-{id}"),
            body: body.into(),
            md5_of_body: "0".repeat(32),
            attributes: BTreeMap::from([("ApproximateReceiveCount".into(), "1".into())]),
            message_attributes: BTreeMap::new(),
            md5_of_message_attributes: None,
        });
        self.arrived.notify_waiters();
    }
}

impl QueueSource for FakeQueue {
    fn describe(&self, queue: &Arn) -> Result<QueueInfo, AwsError> {
        if queue.resource == "src" {
            Ok(QueueInfo {
                fifo: false,
                visibility_timeout_seconds: 30,
            })
        } else {
            Err(AwsError::new(
                "AWS.SimpleQueueService.NonExistentQueue",
                400,
                "The specified queue does not exist.",
            ))
        }
    }

    fn receive<'a>(
        &'a self,
        _queue: &'a Arn,
        max: usize,
        _wait: u32,
    ) -> BoxFuture<'a, Result<Vec<SourceMessage>, AwsError>> {
        Box::pin(async move {
            loop {
                let arrived = self.arrived.notified();
                {
                    let mut q = self.messages.lock().unwrap();
                    if !q.is_empty() {
                        let n = max.min(q.len());
                        return Ok(q.drain(..n).collect());
                    }
                }
                arrived.await;
            }
        })
    }

    fn delete(&self, _queue: &Arn, handles: &[String]) -> Result<(), AwsError> {
        self.deleted.lock().unwrap().extend(handles.iter().cloned());
        Ok(())
    }
}

/// One shard of records, read by index.
#[derive(Default)]
struct FakeStream {
    records: Mutex<Vec<StreamRecord>>,
    arrived: tokio::sync::Notify,
}

impl FakeStream {
    fn put(&self, data: &str) {
        self.put_keyed("pk", data);
    }

    fn put_keyed(&self, key: &str, data: &str) {
        let mut r = self.records.lock().unwrap();
        let n = r.len();
        r.push(StreamRecord {
            sequence_number: format!("{:056}", n + 1),
            partition_key: key.into(),
            data: Bytes::from(data.to_owned()),
            approximate_arrival_millis: START,
        });
        self.arrived.notify_waiters();
    }
}

impl StreamSource for FakeStream {
    fn shards(&self, _stream: &Arn) -> Result<Vec<StreamShard>, AwsError> {
        Ok(vec![StreamShard {
            shard_id: "shardId-000000000000".into(),
            parent_shard_id: None,
            adjacent_parent_shard_id: None,
            closed: false,
        }])
    }

    fn position(&self, _stream: &Arn, _shard: &str, at: &StartingPosition) -> Result<StreamPosition, AwsError> {
        Ok(match at {
            StartingPosition::Latest => StreamPosition(self.records.lock().unwrap().len() as u64),
            _ => StreamPosition(0),
        })
    }

    fn read(&self, _stream: &Arn, _shard: &str, from: StreamPosition, max: usize) -> Result<StreamRead, AwsError> {
        let r = self.records.lock().unwrap();
        let start = (from.0 as usize).min(r.len());
        let end = (start + max).min(r.len());
        Ok(StreamRead {
            records: r[start..end].to_vec(),
            next: StreamPosition(end as u64),
            millis_behind_latest: 0,
            end_of_shard: false,
        })
    }

    fn wait<'a>(
        &'a self,
        _stream: &'a Arn,
        _shard: &'a str,
        from: StreamPosition,
        _deadline: u64,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            loop {
                let arrived = self.arrived.notified();
                if self.records.lock().unwrap().len() as u64 > from.0 {
                    return;
                }
                arrived.await;
            }
        })
    }
}

/// A function answering with a closure of its payload.
struct FakeFunction(Box<dyn Fn(Value) -> Result<Value, String> + Send + Sync>);

impl FunctionInvoker for FakeFunction {
    fn invoke_function<'a>(
        &'a self,
        _function: &'a Arn,
        payload: Bytes,
    ) -> BoxFuture<'a, Result<FunctionResult, AwsError>> {
        let v: Value = serde_json::from_slice(&payload).unwrap();
        let r = match (self.0)(v) {
            Ok(out) => FunctionResult {
                payload: Bytes::from(out.to_string()),
                function_error: None,
                executed_version: "$LATEST".into(),
            },
            Err(e) => FunctionResult {
                payload: Bytes::from(json!({"errorMessage": e}).to_string()),
                function_error: Some("Unhandled".into()),
                executed_version: "$LATEST".into(),
            },
        };
        Box::pin(async move { Ok(r) })
    }
}

struct World {
    pipes: Arc<Pipes>,
    recorder: Arc<Recorder>,
    queue: Arc<FakeQueue>,
    stream: Arc<FakeStream>,
    clock: Arc<dyn Clock>,
    engine: Engine,
}

fn world(function: Option<FakeFunction>) -> World {
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::new(START));
    let registry = Arc::new(Registry::new());
    let recorder = Arc::new(Recorder::default());
    registry.register("sqs", recorder.clone());
    registry.register("events", recorder.clone());
    let queue = Arc::new(FakeQueue::default());
    let stream = Arc::new(FakeStream::default());
    let engine = Engine::new(Arc::clone(&registry), Arc::clone(&clock), EngineConfig::default());
    let pipes = Pipes::new(
        Arc::clone(&clock),
        PipesDeps {
            registry: Some(registry),
            queues: Some(queue.clone()),
            streams: Some(stream.clone()),
            invoker: function.map(|f| Arc::new(f) as Arc<dyn FunctionInvoker>),
            logs: None,
            engine: Some(engine.clone()),
        },
        PipesConfig::default(),
    );
    World {
        pipes,
        recorder,
        queue,
        stream,
        clock,
        engine,
    }
}

fn ctx() -> RequestContext {
    RequestContext::new("us-east-1")
}

fn input(name: &str, source: &str, target: &str, extra: Value) -> PipeInput {
    let mut v = json!({"Source": source, "Target": target, "RoleArn": ROLE});
    if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
        m.extend(e);
    }
    let mut i: PipeInput = serde_json::from_value(v).unwrap();
    i.name = name.into();
    i
}

const SRC: &str = "arn:aws:sqs:us-east-1:000000000000:src";
const DST: &str = "arn:aws:sqs:us-east-1:000000000000:dst";
const STREAM: &str = "arn:aws:kinesis:us-east-1:000000000000:stream/s";

/// Lets the pipe's tasks run until they wait again (paused time: sleeps are instant).
async fn run_for(clock: &Arc<dyn Clock>, millis: u64) {
    let until = clock.now_millis() + millis;
    while clock.now_millis() < until {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn states_move_on_the_clock_and_errors_have_their_shapes() {
    let w = world(None);
    let p = &w.pipes;
    let out = p.create_pipe(&ctx(), input("a", SRC, DST, json!({}))).unwrap();
    assert_eq!(
        (out["DesiredState"].as_str(), out["CurrentState"].as_str()),
        (Some("RUNNING"), Some("CREATING"))
    );
    let e = p.create_pipe(&ctx(), input("a", SRC, DST, json!({}))).unwrap_err();
    assert_eq!((e.aws.code.as_ref(), e.aws.status), ("ConflictException", 409));
    assert_eq!(e.resource, Some(("a".into(), "pipe")));
    run_for(&w.clock, 1_000).await;
    assert_eq!(p.describe_pipe(&ctx(), "a").unwrap()["CurrentState"], "RUNNING");
    p.create_pipe(
        &ctx(),
        input("b", "arn:aws:sqs:us-east-1:000000000000:nope", DST, json!({})),
    )
    .unwrap();
    run_for(&w.clock, 1_000).await;
    let b = p.describe_pipe(&ctx(), "b").unwrap();
    assert_eq!(b["CurrentState"], "CREATE_FAILED");
    assert_eq!(b["StateReason"], "The specified queue does not exist.");
    let e = p
        .create_pipe(
            &ctx(),
            input(
                "c",
                SRC,
                DST,
                json!({"SourceParameters": {"DynamoDBStreamParameters": {"StartingPosition": "LATEST"}}}),
            ),
        )
        .unwrap_err();
    assert_eq!(e.aws.code, "ValidationException");
    assert_eq!(e.field_list[0].name, "sourceParameters.DynamoDBStreamParameters");
    let e = p
        .create_pipe(
            &ctx(),
            input(
                "c",
                SRC,
                "arn:aws:states:us-east-1:000000000000:stateMachine:m",
                json!({}),
            ),
        )
        .unwrap_err();
    assert_eq!(e.aws.code, "ValidationException");
    let e = p
        .create_pipe(
            &ctx(),
            input(
                "c",
                STREAM,
                DST,
                json!({"SourceParameters": {"KinesisStreamParameters": {}}}),
            ),
        )
        .unwrap_err();
    assert_eq!(
        e.field_list[0].name,
        "sourceParameters.kinesisStreamParameters.startingPosition"
    );
    p.delete_pipe(&ctx(), "a").unwrap();
    run_for(&w.clock, 1_000).await;
    assert_eq!(p.describe_pipe(&ctx(), "a").unwrap_err().aws.code, "NotFoundException");
}

#[tokio::test(start_paused = true)]
async fn one_batch_filter_enrichment_template_and_bus_envelope() {
    let w = world(Some(FakeFunction(Box::new(|v| {
        Ok(Value::Array(
            v.as_array()
                .unwrap()
                .iter()
                .map(|e| json!({"id": e["id"], "enriched": true}))
                .collect(),
        ))
    }))));
    let stored = Stored {
        source: SRC.into(),
        source_parameters: Some(
            json!({"FilterCriteria": {"Filters": [{"Pattern": "{\"body\": {\"keep\": [true]}}"}]}}),
        ),
        enrichment: Some("arn:aws:lambda:us-east-1:000000000000:function:f".into()),
        enrichment_parameters: Some(json!({"InputTemplate": "{\"id\": <$.body.id>}"})),
        target: "arn:aws:events:us-east-1:000000000000:event-bus/b".into(),
        target_parameters: Some(
            json!({"EventBridgeEventBusParameters": {"DetailType": "D", "Source": "s", "Resources": ["$.id"]}}),
        ),
        role_arn: ROLE.into(),
        ..Stored::default()
    };
    let spec = compile("p", "us-east-1", "000000000000", stored).unwrap();
    let items: Vec<SourceItem> = [(1, true), (2, false), (3, true)]
        .iter()
        .map(|(id, keep)| SourceItem {
            id: format!("m{id}"),
            record: json!({"messageId": format!("m{id}"), "body": json!({"id": id, "keep": keep}).to_string(), "eventSource": "aws:sqs"}),
        })
        .collect();
    let done = w.pipes.shared.process(&spec, &items).await;
    assert_eq!(done, vec![true, true, true]);
    let got: Vec<Value> = w
        .recorder
        .bodies()
        .iter()
        .map(|b| serde_json::from_str(b).unwrap())
        .collect();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0]["detail"], json!({"id": 1, "enriched": true}));
    assert_eq!(got[1]["detail"], json!({"id": 3, "enriched": true}));
    assert_eq!(
        (got[0]["source"].as_str(), got[0]["detail-type"].as_str()),
        (Some("s"), Some("D"))
    );
    assert_eq!(got[0]["resources"], json!(["1"]));
    assert_eq!(got[0]["time"], "2026-03-01T00:00:00Z");
    assert_eq!(
        w.pipes.counters().filtered.load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}

#[tokio::test(start_paused = true)]
async fn an_enrichment_error_fails_the_batch() {
    let w = world(Some(FakeFunction(Box::new(|_| Err("nope".into())))));
    let stored = Stored {
        source: SRC.into(),
        enrichment: Some("arn:aws:lambda:us-east-1:000000000000:function:f".into()),
        target: DST.into(),
        role_arn: ROLE.into(),
        ..Stored::default()
    };
    let spec = compile("p", "us-east-1", "000000000000", stored).unwrap();
    let items = vec![SourceItem {
        id: "m".into(),
        record: json!({"body": "x", "eventSource": "aws:sqs"}),
    }];
    assert_eq!(w.pipes.shared.process(&spec, &items).await, vec![false]);
    assert!(w.recorder.bodies().is_empty());
}

#[tokio::test(start_paused = true)]
async fn sqs_runner_deletes_delivered_and_keeps_failed_and_stops_when_stopped() {
    let w = world(None);
    w.pipes.create_pipe(&ctx(), input("p", SRC, DST, json!({}))).unwrap();
    run_for(&w.clock, 1_000).await;
    w.queue.send("1", "ok");
    w.queue.send("2", "bad");
    run_for(&w.clock, 100).await;
    assert_eq!(*w.queue.deleted.lock().unwrap(), vec!["rh-1".to_owned()]);
    assert_eq!(w.recorder.bodies().len(), 1);
    w.pipes.stop_pipe(&ctx(), "p").unwrap();
    w.queue.send("3", "later");
    run_for(&w.clock, 2_000).await;
    assert_eq!(
        w.queue.messages.lock().unwrap().len(),
        1,
        "a stopped pipe does not receive"
    );
    w.pipes.start_pipe(&ctx(), "p").unwrap();
    run_for(&w.clock, 1_100).await;
    assert!(w.queue.messages.lock().unwrap().is_empty());
    assert_eq!(w.recorder.bodies().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn kinesis_runner_bisects_retries_dead_letters_and_keeps_order() {
    let w = world(None);
    let params = json!({"SourceParameters": {"KinesisStreamParameters": {
        "StartingPosition": "TRIM_HORIZON", "BatchSize": 4, "MaximumRetryAttempts": 3,
        "OnPartialBatchItemFailure": "AUTOMATIC_BISECT",
        "DeadLetterConfig": {"Arn": "arn:aws:sqs:us-east-1:000000000000:dlq"},
    }}});
    w.pipes.create_pipe(&ctx(), input("k", STREAM, DST, params)).unwrap();
    for d in ["a", "b", "bad", "c", "d"] {
        w.stream.put(d);
    }
    run_for(&w.clock, 120_000).await;
    let bodies = w.recorder.bodies();
    let data: Vec<String> = bodies
        .iter()
        .filter_map(|b| serde_json::from_str::<Value>(b).ok())
        .filter_map(|v| v["data"].as_str().map(str::to_owned))
        .map(|d| {
            String::from_utf8(base64::Engine::decode(&base64::engine::general_purpose::STANDARD, d).unwrap()).unwrap()
        })
        .collect();
    assert_eq!(data, vec!["a", "b", "c", "d"]);
    let dlq: Vec<Value> = bodies
        .iter()
        .filter_map(|b| serde_json::from_str::<Value>(b).ok())
        .filter(|v| v.get("KinesisBatchInfo").is_some())
        .collect();
    assert_eq!(dlq.len(), 1);
    assert_eq!(dlq[0]["KinesisBatchInfo"]["batchSize"], 1);
    assert_eq!(dlq[0]["KinesisBatchInfo"]["startSequenceNumber"], format!("{:056}", 3));
    assert_eq!(dlq[0]["requestContext"]["condition"], "RetryAttemptsExhausted");
    // The fate is in the delivery ledger too.
    let records = w.engine.ledger().query(&LedgerQuery::default());
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].fate, Fate::DeadLettered);
    assert_eq!(records[0].attempt_count, 4);
    assert_eq!(records[0].producer.id.as_deref(), Some("shardId-000000000000"));
    assert_eq!(
        records[0].dead_letter_target.as_deref(),
        Some("arn:aws:sqs:us-east-1:000000000000:dlq")
    );
}

/// The data of the records the target received, decoded, in order.
fn kinesis_data(w: &World) -> Vec<String> {
    w.recorder
        .bodies()
        .iter()
        .filter_map(|b| serde_json::from_str::<Value>(b).ok())
        .filter_map(|v| v["data"].as_str().map(str::to_owned))
        .map(|d| {
            String::from_utf8(base64::Engine::decode(&base64::engine::general_purpose::STANDARD, d).unwrap()).unwrap()
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn parallelization_factor_runs_other_keys_while_one_key_is_retried() {
    // Two partition keys in different lanes of 2.
    let a = "key-a";
    let b = (0..)
        .map(|i| format!("key-b{i}"))
        .find(|k| crate::kinesis::lane(k, 2) != crate::kinesis::lane(a, 2))
        .unwrap();
    for factor in [1, 2] {
        let w = world(None);
        let params = json!({"SourceParameters": {"KinesisStreamParameters": {
            "StartingPosition": "TRIM_HORIZON", "BatchSize": 1, "MaximumRetryAttempts": 5,
            "ParallelizationFactor": factor,
        }}});
        w.pipes.create_pipe(&ctx(), input("k", STREAM, DST, params)).unwrap();
        w.stream.put_keyed(a, "bad");
        w.stream.put_keyed(&b, "b1");
        w.stream.put_keyed(a, "a2");
        w.stream.put_keyed(&b, "b2");
        // Past the pipe's start, before the first retry of "bad" (1 s later).
        run_for(&w.clock, 1_500).await;
        if factor == 1 {
            // One batch at a time: everything waits behind the retried record.
            assert_eq!(kinesis_data(&w), Vec::<String>::new());
        } else {
            // Two batches at once: key b's ran beside the retried one; the next read (key a's
            // "a2" behind "bad", so its order holds) waits until both are done.
            assert_eq!(kinesis_data(&w), vec!["b1"]);
        }
        // Retries (1 + 2 + 4 + 8 + 16 s) run out, "bad" is discarded, the rest arrive in key order.
        run_for(&w.clock, 120_000).await;
        let got = kinesis_data(&w);
        let of = |k: &str| got.iter().filter(|d| d.starts_with(k)).cloned().collect::<Vec<_>>();
        assert_eq!(
            (of("a"), of("b")),
            (vec!["a2".to_owned()], vec!["b1".to_owned(), "b2".to_owned()])
        );
    }
}

#[test]
fn update_merges_parameters_per_service_object() {
    let old =
        json!({"InputTemplate": "x", "SqsQueueParameters": {"MessageGroupId": "g", "MessageDeduplicationId": "d"}});
    let merged = crate::spec::merge_source(Some(&old), Some(json!({"SqsQueueParameters": {"MessageGroupId": "h"}})));
    assert_eq!(
        merged,
        Some(json!({"InputTemplate": "x", "SqsQueueParameters": {"MessageGroupId": "h"}}))
    );
    let old = json!({"KinesisStreamParameters": {"StartingPosition": "LATEST", "BatchSize": 5}});
    let merged = crate::spec::merge_source(Some(&old), Some(json!({"KinesisStreamParameters": {"BatchSize": 7}})));
    assert_eq!(
        merged,
        Some(json!({"KinesisStreamParameters": {"StartingPosition": "LATEST", "BatchSize": 7}}))
    );
}
