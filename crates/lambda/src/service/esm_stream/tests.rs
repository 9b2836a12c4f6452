//! Kinesis event source mappings against an in-memory stream, with real Python functions.

use std::sync::Mutex as StdMutex;

use lb_core::deliver::{DeliveryError, DestinationError, Engine, EngineConfig, Registry, Target};
use lb_core::policy::PolicyRequest;
use lb_core::stream::{StreamRead, StreamShard};
use lb_core::{Clock, RequestContext, SystemClock};

use super::super::{CreateFunctionInput, LambdaConfig};
use super::*;
use crate::code::tests::zip_of;

const STREAM: &str = "arn:aws:kinesis:us-east-1:000000000000:stream/s";

/// A stream held in memory: shards with their records; positions are indexes.
#[derive(Default)]
struct FakeStream {
    shards: StdMutex<Vec<(StreamShard, Vec<StreamRecord>)>>,
    added: tokio::sync::Notify,
}

impl FakeStream {
    fn shard(&self, id: &str, parent: Option<&str>, closed: bool, data: &[(&str, &str)]) {
        let mut shards = self.shards.lock().unwrap();
        let base = shards.iter().map(|(_, r)| r.len()).sum::<usize>();
        let records = data
            .iter()
            .enumerate()
            .map(|(i, (key, d))| StreamRecord {
                sequence_number: format!("{:056}", base + i + 1),
                partition_key: (*key).to_owned(),
                data: Bytes::from((*d).to_owned()),
                approximate_arrival_millis: SystemClock.now_millis(),
            })
            .collect();
        shards.push((
            StreamShard {
                shard_id: id.to_owned(),
                parent_shard_id: parent.map(str::to_owned),
                adjacent_parent_shard_id: None,
                closed,
            },
            records,
        ));
        drop(shards);
        self.added.notify_waiters();
    }
}

impl StreamSource for FakeStream {
    fn shards(&self, stream: &Arn) -> Result<Vec<StreamShard>, AwsError> {
        if stream.to_string() != STREAM {
            return Err(AwsError::new("ResourceNotFoundException", 400, "no such stream"));
        }
        Ok(self.shards.lock().unwrap().iter().map(|(s, _)| s.clone()).collect())
    }

    fn position(&self, _: &Arn, shard_id: &str, at: &StartingPosition) -> Result<StreamPosition, AwsError> {
        let shards = self.shards.lock().unwrap();
        let (_, records) = shards.iter().find(|(s, _)| s.shard_id == shard_id).unwrap();
        Ok(StreamPosition(match at {
            StartingPosition::Latest => records.len() as u64,
            _ => 0,
        }))
    }

    fn read(&self, _: &Arn, shard_id: &str, from: StreamPosition, max: usize) -> Result<StreamRead, AwsError> {
        let shards = self.shards.lock().unwrap();
        let (shard, records) = shards.iter().find(|(s, _)| s.shard_id == shard_id).unwrap();
        let start = (from.0 as usize).min(records.len());
        let end = (start + max).min(records.len());
        Ok(StreamRead {
            records: records[start..end].to_vec(),
            next: StreamPosition(end as u64),
            millis_behind_latest: 0,
            end_of_shard: shard.closed && end == records.len(),
        })
    }

    fn wait<'a>(
        &'a self,
        _: &'a Arn,
        _: &'a str,
        _: StreamPosition,
        deadline: u64,
    ) -> lb_core::clock::BoxFuture<'a, ()> {
        Box::pin(async move {
            tokio::select! {
                () = self.added.notified() => {}
                () = SystemClock.sleep_until(deadline) => {}
            }
        })
    }
}

/// A destination that keeps what it receives.
#[derive(Default)]
struct Keep(StdMutex<Vec<String>>);

impl Target for Keep {
    fn deliver<'a>(&'a self, _: &'a Arn, msg: &'a Message) -> lb_core::clock::BoxFuture<'a, Result<(), DeliveryError>> {
        self.0.lock().unwrap().push(msg.body.to_string());
        Box::pin(async { Ok(()) })
    }

    fn authorize(&self, _: &Arn, _: &PolicyRequest<'_>) -> Result<(), DestinationError> {
        Ok(())
    }
}

struct World {
    lambda: Arc<Lambda>,
    stream: Arc<FakeStream>,
    keep: Arc<Keep>,
    calls: std::path::PathBuf,
}

fn world() -> World {
    let root = std::env::temp_dir().join(format!(
        "lb-lambda-esm-{}-{}",
        std::process::id(),
        lb_core::ids::random_u64()
    ));
    std::fs::create_dir_all(&root).unwrap();
    let registry = Arc::new(Registry::new());
    let keep = Arc::new(Keep::default());
    registry.register("sqs", keep.clone());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let engine = Engine::new(registry, Arc::clone(&clock), EngineConfig::default());
    let stream = Arc::new(FakeStream::default());
    let lambda = Lambda::new(
        LambdaConfig {
            root: root.join("lambda"),
            ..LambdaConfig::default()
        },
        clock,
        Some(engine),
        None,
        None,
        Some(stream.clone() as Arc<dyn StreamSource>),
    );
    World {
        lambda,
        stream,
        keep,
        calls: root.join("calls.txt"),
    }
}

fn ctx() -> RequestContext {
    RequestContext {
        request_id: lb_core::ids::uuid(),
        ..RequestContext::default()
    }
}

/// A handler that logs each batch's data, fails on a `BAD` record, and (when `partial`) reports
/// a `FAIL` record as failed the first time it sees it.
fn handler(w: &World, partial: bool) {
    let code = format!(
        r#"import base64, json, os
CALLS = {calls:?}
def lambda_handler(event, context):
    recs = event['Records']
    datas = [base64.b64decode(r['kinesis']['data']).decode() for r in recs]
    with open(CALLS, 'a') as f:
        f.write(json.dumps(datas) + '\n')
    if 'BAD' in datas:
        raise ValueError('bad record')
    if {partial}:
        for r, d in zip(recs, datas):
            mark = CALLS + '.' + d
            if d.startswith('FAIL') and not os.path.exists(mark):
                open(mark, 'w').close()
                return {{'batchItemFailures': [{{'itemIdentifier': r['kinesis']['sequenceNumber']}}]}}
    return {{}}
"#,
        calls = w.calls.to_str().unwrap(),
        partial = if partial { "True" } else { "False" },
    );
    w.lambda
        .create_function(
            &ctx(),
            CreateFunctionInput {
                function_name: Some("consumer".into()),
                runtime: Some("python3.12".into()),
                role: Some("arn:aws:iam::000000000000:role/r".into()),
                handler: Some("app.lambda_handler".into()),
                zip_file: Some(zip_of(&[("app.py", &code, 0o644)])),
                ..CreateFunctionInput::default()
            },
        )
        .unwrap();
}

fn calls(w: &World) -> Vec<Vec<String>> {
    std::fs::read_to_string(&w.calls)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

async fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    for _ in 0..600 {
        if let Some(v) = f() {
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

fn input(extra: impl FnOnce(&mut MappingInput)) -> MappingInput {
    let mut i = MappingInput {
        event_source_arn: Some(STREAM.into()),
        function_name: Some("consumer".into()),
        starting_position: Some("TRIM_HORIZON".into()),
        ..MappingInput::default()
    };
    extra(&mut i);
    i
}

#[tokio::test]
async fn bisects_a_failing_batch_and_sends_the_bad_record_to_on_failure() {
    let w = world();
    handler(&w, false);
    // A closed parent and its child: the child is read only after the parent.
    w.stream.shard(
        "shardId-000000000000",
        None,
        true,
        &[("k", "a"), ("k", "b"), ("k", "BAD"), ("k", "c")],
    );
    w.stream.shard(
        "shardId-000000000001",
        Some("shardId-000000000000"),
        false,
        &[("k", "d")],
    );
    let created = w
        .lambda
        .create_event_source_mapping(
            &ctx(),
            input(|i| {
                i.batch_size = Some(4);
                i.bisect_batch_on_function_error = Some(true);
                i.maximum_retry_attempts = Some(1);
                i.on_failure = Some(Some("arn:aws:sqs:us-east-1:000000000000:dlq".into()));
            }),
        )
        .unwrap();
    assert_eq!(created["State"], "Creating");
    assert_eq!(created["StartingPosition"], "TRIM_HORIZON");
    assert_eq!(created["BisectBatchOnFunctionError"], true);
    assert_eq!(created["MaximumRetryAttempts"], 1);
    assert_eq!(created["MaximumRecordAgeInSeconds"], -1);
    assert_eq!(created["ParallelizationFactor"], 1);
    assert_eq!(created["BatchSize"], 4);
    assert_eq!(created["LastProcessingResult"], "No records processed");
    assert_eq!(created["StateTransitionReason"], "User action");
    assert_eq!(
        created["DestinationConfig"],
        json!({"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:000000000000:dlq"}})
    );

    let failure = wait_for("the failure record", || w.keep.0.lock().unwrap().first().cloned()).await;
    let failure: Value = serde_json::from_str(&failure).unwrap();
    assert_eq!(failure["requestContext"]["condition"], "RetryAttemptsExhausted");
    assert_eq!(
        failure["requestContext"]["functionArn"],
        "arn:aws:lambda:us-east-1:000000000000:function:consumer"
    );
    assert_eq!(
        failure["responseContext"],
        json!({"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"})
    );
    assert_eq!(failure["version"], "1.0");
    let info = &failure["KinesisBatchInfo"];
    assert_eq!(info["shardId"], "shardId-000000000000");
    assert_eq!(info["startSequenceNumber"], format!("{:056}", 3));
    assert_eq!(info["endSequenceNumber"], format!("{:056}", 3));
    assert_eq!(info["batchSize"], 1);
    assert_eq!(info["streamArn"], STREAM);

    let seen = wait_for("the child shard", || {
        let c = calls(&w);
        c.iter().any(|b| b.contains(&"d".to_owned())).then_some(c)
    })
    .await;
    // [a b BAD c] fails; [a b] passes; [BAD c] fails; [BAD] fails, is retried once and
    // discarded; [c] passes; then the child's [d].
    let expect: Vec<Vec<&str>> = vec![
        vec!["a", "b", "BAD", "c"],
        vec!["a", "b"],
        vec!["BAD", "c"],
        vec!["BAD"],
        vec!["BAD"],
        vec!["c"],
        vec!["d"],
    ];
    assert_eq!(seen, expect);
    let uuid = created["UUID"].as_str().unwrap();
    let got = w.lambda.get_event_source_mapping(uuid).unwrap();
    assert_eq!(got["State"], "Enabled");
    assert_eq!(got["LastProcessingResult"], "OK");
    w.lambda.delete_event_source_mapping(uuid).unwrap();
}

#[tokio::test]
async fn report_batch_item_failures_retries_from_the_lowest_failed_record() {
    let w = world();
    handler(&w, true);
    w.stream.shard(
        "shardId-000000000000",
        None,
        false,
        &[("k", "a"), ("k", "FAIL1"), ("k", "b")],
    );
    let created = w
        .lambda
        .create_event_source_mapping(
            &ctx(),
            input(|i| {
                i.function_response_types = Some(vec!["ReportBatchItemFailures".into()]);
            }),
        )
        .unwrap();
    assert_eq!(created["FunctionResponseTypes"], json!(["ReportBatchItemFailures"]));
    let seen = wait_for("the retry", || {
        let c = calls(&w);
        (c.len() >= 2).then_some(c)
    })
    .await;
    assert_eq!(seen, vec![vec!["a", "FAIL1", "b"], vec!["FAIL1", "b"]]);
    // New records after the retry are read from the checkpoint on.
    w.stream.shards.lock().unwrap()[0].1.push(StreamRecord {
        sequence_number: format!("{:056}", 9),
        partition_key: "k".into(),
        data: Bytes::from_static(b"e"),
        approximate_arrival_millis: SystemClock.now_millis(),
    });
    w.stream.added.notify_waiters();
    let seen = wait_for("the next record", || {
        let c = calls(&w);
        (c.len() >= 3).then_some(c)
    })
    .await;
    assert_eq!(seen[2], vec!["e"]);
    assert!(w.keep.0.lock().unwrap().is_empty());
}

#[tokio::test]
async fn parallelization_keeps_each_partition_keys_order() {
    let w = world();
    handler(&w, false);
    let data: Vec<(String, String)> = (0..40)
        .map(|i| (format!("k{}", i % 4), format!("{}-{i}", i % 4)))
        .collect();
    let refs: Vec<(&str, &str)> = data.iter().map(|(k, d)| (k.as_str(), d.as_str())).collect();
    w.stream.shard("shardId-000000000000", None, false, &refs);
    w.lambda
        .create_event_source_mapping(
            &ctx(),
            input(|i| {
                i.batch_size = Some(5);
                i.parallelization_factor = Some(3);
            }),
        )
        .unwrap();
    let seen = wait_for("every record", || {
        let c: Vec<String> = calls(&w).into_iter().flatten().collect();
        (c.len() >= 40).then_some(c)
    })
    .await;
    assert_eq!(seen.len(), 40);
    for key in 0..4 {
        let mine: Vec<&String> = seen.iter().filter(|d| d.starts_with(&format!("{key}-"))).collect();
        let want: Vec<String> = (0..40).filter(|i| i % 4 == key).map(|i| format!("{key}-{i}")).collect();
        assert_eq!(mine, want.iter().collect::<Vec<_>>());
    }
    assert!(calls(&w).iter().all(|b| b.len() <= 5));
}

#[tokio::test]
async fn stream_settings_are_validated_as_aws_does() {
    let w = world();
    handler(&w, false);
    w.stream.shard("shardId-000000000000", None, false, &[]);
    let err = |i: MappingInput| w.lambda.create_event_source_mapping(&ctx(), i).unwrap_err();
    let e = err(input(|i| i.starting_position = None));
    assert_eq!(e.code.as_ref(), "InvalidParameterValueException");
    assert_eq!(
        e.message,
        "1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: Member must not be null."
    );
    let e = err(input(|i| i.starting_position = Some("AT_TIMESTAMP".into())));
    assert_eq!(e.message, "Need to specify a timestamp");
    let e = err(input(|i| i.batch_size = Some(10_001)));
    assert_eq!(e.code.as_ref(), "ValidationException");
    let e = err(input(|i| i.parallelization_factor = Some(11)));
    assert_eq!(e.code.as_ref(), "ValidationException");
    let e = err(input(|i| i.maximum_retry_attempts = Some(10_001)));
    assert_eq!(e.code.as_ref(), "ValidationException");
    let e = err(input(|i| i.tumbling_window_seconds = Some(60)));
    assert_eq!(e.code.as_ref(), "InvalidParameterValueException");
    let e = err(input(|i| i.on_success = true));
    assert_eq!(
        e.message,
        "Unsupported DestinationConfig parameter for given event source mapping type."
    );
    let e = err(input(|i| {
        i.event_source_arn = Some("arn:aws:kinesis:us-east-1:000000000000:stream/none".into())
    }));
    assert!(
        e.message
            .starts_with("Cannot access stream arn:aws:kinesis:us-east-1:000000000000:stream/none."),
        "{}",
        e.message
    );

    let ok = w
        .lambda
        .create_event_source_mapping(
            &ctx(),
            input(|i| {
                i.starting_position = Some("AT_TIMESTAMP".into());
                i.starting_position_timestamp = Some(1_700_000_000.5);
            }),
        )
        .unwrap();
    assert_eq!(ok["StartingPositionTimestamp"], 1_700_000_000.5);
    assert_eq!(ok["BatchSize"], 100);
    assert_eq!(ok["DestinationConfig"], json!({"OnFailure": {}}));
    let uuid = ok["UUID"].as_str().unwrap();
    let updated = w
        .lambda
        .update_event_source_mapping(
            &ctx(),
            uuid,
            MappingInput {
                maximum_record_age_seconds: Some(3600),
                on_failure: Some(Some("arn:aws:sns:us-east-1:000000000000:t".into())),
                ..MappingInput::default()
            },
        )
        .unwrap();
    assert_eq!(updated["MaximumRecordAgeInSeconds"], 3600);
    assert_eq!(
        updated["DestinationConfig"]["OnFailure"]["Destination"],
        "arn:aws:sns:us-east-1:000000000000:t"
    );
    let listed = w.lambda.list_event_source_mappings(&ctx(), Some(STREAM), None).unwrap();
    assert_eq!(listed["EventSourceMappings"].as_array().unwrap().len(), 1);
}

#[test]
fn partial_batch_reports_as_aws_reads_them() {
    let rec = |n: usize| StreamRecord {
        sequence_number: format!("{n:056}"),
        partition_key: "k".into(),
        data: Bytes::new(),
        approximate_arrival_millis: 0,
    };
    let batch = vec![rec(1), rec(2), rec(3)];
    let seq = |n: usize| format!("{n:056}");
    // Complete success: empty or null list, empty or null response.
    for ok in [
        "",
        "null",
        "{}",
        r#"{"batchItemFailures": []}"#,
        r#"{"batchItemFailures": null}"#,
    ] {
        assert_eq!(reported_failure(ok.as_bytes(), &batch), Ok(None), "{ok}");
    }
    // The lowest reported sequence number is the checkpoint.
    let two = format!(
        r#"{{"batchItemFailures": [{{"itemIdentifier": "{}"}}, {{"itemIdentifier": "{}"}}]}}"#,
        seq(3),
        seq(2)
    );
    assert_eq!(reported_failure(two.as_bytes(), &batch), Ok(Some(1)));
    // Complete failure: an empty, null, unknown or misnamed identifier.
    for bad in [
        r#"{"batchItemFailures": [{"itemIdentifier": ""}]}"#.to_owned(),
        r#"{"batchItemFailures": [{"itemIdentifier": null}]}"#.to_owned(),
        r#"{"batchItemFailures": [{"itemIdentifier": "7"}]}"#.to_owned(),
        format!(r#"{{"batchItemFailures": [{{"id": "{}"}}]}}"#, seq(1)),
        r#"{"batchItemFailures": "x"}"#.to_owned(),
        "not json".to_owned(),
    ] {
        assert_eq!(reported_failure(bad.as_bytes(), &batch), Err(()), "{bad}");
    }
}
