"""Kinesis → Lambda event source mappings with boto3 and the AWS CLI against the binary: a poller
per shard invoking unmodified Python handlers with AWS's Kinesis record shape, a failing batch
bisected until the bad record is alone and its batch info sent to the OnFailure queue while the
good records are processed in order per shard, partial batch responses, and AWS's errors."""

import base64
import json

import pytest
from botocore.exceptions import ClientError

import urllib.request

from conftest import _client, ledger, serve, settle, wait_until
from test_lambda import ROLE, create

ACCOUNT = "000000000000"

# Appends each batch (shard id and decoded data) to a file; fails on a record whose data is
# "BAD"; with ReportBatchItemFailures, reports a record whose data starts with "FAIL" as failed
# the first time it sees it.
HANDLER = """import base64, json, os
CALLS = {calls!r}
def lambda_handler(event, context):
    recs = event['Records']
    datas = [base64.b64decode(r['kinesis']['data']).decode() for r in recs]
    with open(CALLS, 'a') as f:
        f.write(json.dumps({{'shard': recs[0]['eventID'].split(':')[0], 'data': datas, 'first': recs[0]}}) + '\\n')
    if 'BAD' in datas:
        raise ValueError('bad record')
    for r, d in zip(recs, datas):
        mark = CALLS + '.' + d
        if d.startswith('FAIL') and not os.path.exists(mark):
            open(mark, 'w').close()
            return {{'batchItemFailures': [{{'itemIdentifier': r['kinesis']['sequenceNumber']}}]}}
    return {{}}
"""


@pytest.fixture
def server(tmp_path, request):
    yield from serve(
        tmp_path, request,
        ["--lambda-runtime", f"python3.12={__import__('sys').executable}", "--lambda-python-client", "shipped"],
    )


@pytest.fixture
def lam(endpoint):
    return _client("lambda", endpoint)


@pytest.fixture
def kinesis(endpoint):
    return _client("kinesis", endpoint)


@pytest.fixture
def sqs(endpoint):
    return _client("sqs", endpoint)


def stream(kinesis, name, shards):
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 200})
    return f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/{name}"


def consumer(lam, tmp_path, name="consumer"):
    calls = tmp_path / f"{name}-calls.jsonl"
    create(lam, name, HANDLER.format(calls=str(calls)))
    return calls


def batches(calls):
    if not calls.exists():
        return []
    return [json.loads(line) for line in calls.read_text().splitlines()]


def test_failing_batch_is_bisected_and_its_bad_record_reaches_on_failure(lam, kinesis, sqs, tmp_path, endpoint):
    arn = stream(kinesis, "orders", 2)
    calls = consumer(lam, tmp_path)
    dlq = sqs.create_queue(QueueName="kinesis-failures")["QueueUrl"]
    dlq_arn = f"arn:aws:sqs:us-east-1:{ACCOUNT}:kinesis-failures"
    # Records on both shards; one bad record among them.
    put = []
    for i in range(12):
        data = "BAD" if i == 5 else f"r{i}"
        key = f"key-{i % 3}"
        out = kinesis.put_record(StreamName="orders", PartitionKey=key, Data=data.encode())
        put.append((out["ShardId"], out["SequenceNumber"], data, key))
    mapping = lam.create_event_source_mapping(
        FunctionName="consumer",
        EventSourceArn=arn,
        StartingPosition="TRIM_HORIZON",
        BatchSize=10,
        BisectBatchOnFunctionError=True,
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": dlq_arn}},
    )
    assert mapping["State"] == "Creating"
    assert mapping["StartingPosition"] == "TRIM_HORIZON"
    assert mapping["BatchSize"] == 10
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["MaximumRetryAttempts"] == 1
    assert mapping["MaximumRecordAgeInSeconds"] == -1
    assert mapping["ParallelizationFactor"] == 1
    assert mapping["DestinationConfig"] == {"OnFailure": {"Destination": dlq_arn}}
    assert mapping["FunctionArn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:consumer"
    assert mapping["LastProcessingResult"] == "No records processed"
    assert mapping["StateTransitionReason"] == "User action"

    msgs = wait_until(
        lambda: sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1).get("Messages"),
        timeout=60,
        what="the OnFailure record",
    )
    assert len(msgs) == 1
    record = json.loads(msgs[0]["Body"])
    bad_shard, bad_seq, _, _ = put[5]
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["functionArn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:consumer"
    assert record["requestContext"]["approximateInvokeCount"] >= 2
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert record["version"] == "1.0"
    info = record["KinesisBatchInfo"]
    assert info["shardId"] == bad_shard
    assert info["startSequenceNumber"] == bad_seq
    assert info["endSequenceNumber"] == bad_seq
    assert info["batchSize"] == 1
    assert info["streamArn"] == arn
    assert info["approximateArrivalOfFirstRecord"].endswith("Z")
    assert set(record) == {"requestContext", "responseContext", "version", "timestamp", "KinesisBatchInfo"}
    # The record went through the delivery engine: its fate is in the ledger.
    settle(endpoint)
    mapping_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:event-source-mapping:{mapping['UUID']}"
    [rec] = ledger(endpoint, producer=mapping_arn)
    assert rec["fate"] == "delivered" and rec["target"] == dlq_arn

    # Every good record was processed, in order within its shard.
    good = [p for p in put if p[2] != "BAD"]
    def processed():
        seen = {}
        for b in batches(calls):
            if "BAD" in b["data"]:
                continue
            for d in b["data"]:
                seen.setdefault(b["shard"], [])
                if d not in seen[b["shard"]]:
                    seen[b["shard"]].append(d)
        return seen if sum(len(v) for v in seen.values()) == len(good) else None
    seen = wait_until(processed, timeout=30, what="every good record processed")
    for shard in {p[0] for p in put}:
        assert seen.get(shard, []) == [p[2] for p in good if p[0] == shard]

    # The record the handler saw, field for field.
    first = next(b["first"] for b in batches(calls) if b["data"][0] == good[0][2])
    assert first == {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": good[0][3],
            "sequenceNumber": good[0][1],
            "data": base64.b64encode(good[0][2].encode()).decode(),
            "approximateArrivalTimestamp": first["kinesis"]["approximateArrivalTimestamp"],
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{good[0][0]}:{good[0][1]}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": ROLE,
        "awsRegion": "us-east-1",
        "eventSourceARN": arn,
    }
    assert isinstance(first["kinesis"]["approximateArrivalTimestamp"], float)

    with urllib.request.urlopen(endpoint + "/_localbridge/metrics", timeout=10) as resp:
        metrics = resp.read().decode()
    assert 'localbridge_lambda_stream_records_total{outcome="discarded"} 1\n' in metrics
    assert f'localbridge_lambda_stream_records_total{{outcome="processed"}} {len(good)}\n' in metrics
    got = lam.get_event_source_mapping(UUID=mapping["UUID"])
    assert got["State"] == "Enabled"
    assert got["LastProcessingResult"] in ("OK", "PROBLEM: Function call failed")
    listed = lam.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [mapping["UUID"]]
    assert lam.delete_event_source_mapping(UUID=mapping["UUID"])["State"] == "Deleting"


def test_report_batch_item_failures_retries_from_the_failed_record(lam, kinesis, tmp_path):
    arn = stream(kinesis, "clicks", 1)
    calls = consumer(lam, tmp_path)
    for d in ["a", "FAIL1", "b"]:
        kinesis.put_record(StreamName="clicks", PartitionKey="k", Data=d.encode())
    m = lam.create_event_source_mapping(
        FunctionName="consumer",
        EventSourceArn=arn,
        StartingPosition="TRIM_HORIZON",
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    assert m["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert m["BatchSize"] == 100
    seen = wait_until(lambda: len(batches(calls)) >= 2 and batches(calls), what="the retried batch")
    assert [b["data"] for b in seen] == [["a", "FAIL1", "b"], ["FAIL1", "b"]]
    # Later records are read from the checkpoint on: nothing is processed twice more.
    kinesis.put_record(StreamName="clicks", PartitionKey="k", Data=b"c")
    seen = wait_until(lambda: len(batches(calls)) >= 3 and batches(calls), what="the next record")
    assert seen[2]["data"] == ["c"]


def test_latest_disable_enable_and_errors(lam, kinesis, tmp_path):
    arn = stream(kinesis, "events", 1)
    calls = consumer(lam, tmp_path)
    kinesis.put_record(StreamName="events", PartitionKey="k", Data=b"before")
    m = lam.create_event_source_mapping(FunctionName="consumer", EventSourceArn=arn, StartingPosition="LATEST")
    kinesis.put_record(StreamName="events", PartitionKey="k", Data=b"after")
    seen = wait_until(lambda: batches(calls), what="the record put after the mapping")
    assert [b["data"] for b in seen] == [["after"]]
    # Disabled: records wait; enabled again: processing resumes where it stopped.
    lam.update_event_source_mapping(UUID=m["UUID"], Enabled=False)
    assert lam.get_event_source_mapping(UUID=m["UUID"])["State"] == "Disabled"
    kinesis.put_record(StreamName="events", PartitionKey="k", Data=b"while-disabled")
    lam.update_event_source_mapping(UUID=m["UUID"], Enabled=True)
    seen = wait_until(lambda: len(batches(calls)) >= 2 and batches(calls), what="the record put while disabled")
    assert seen[1]["data"] == ["while-disabled"]

    def error(**kw):
        with pytest.raises(ClientError) as e:
            lam.create_event_source_mapping(FunctionName="consumer", **{"EventSourceArn": arn, **kw})
        return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]

    assert error() == (
        "InvalidParameterValueException",
        "1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: Member must not be null.",
    )
    assert error(StartingPosition="AT_TIMESTAMP") == ("InvalidParameterValueException", "Need to specify a timestamp")
    assert error(StartingPosition="LATEST", DestinationConfig={"OnSuccess": {"Destination": "arn:aws:sqs:us-east-1:000000000000:q"}}) == (
        "InvalidParameterValueException",
        "Unsupported DestinationConfig parameter for given event source mapping type.",
    )
    # Stream-only settings are refused for a queue, not ignored.
    _client("sqs", lam.meta.endpoint_url).create_queue(QueueName="plain")
    assert error(EventSourceArn=f"arn:aws:sqs:us-east-1:{ACCOUNT}:plain", BisectBatchOnFunctionError=True) == (
        "InvalidParameterValueException",
        "Unsupported BisectBatchOnFunctionError parameter for given event source mapping type.",
    )
    code, message = error(StartingPosition="LATEST", EventSourceArn=f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/missing")
    assert code == "InvalidParameterValueException"
    assert message.startswith(f"Cannot access stream arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/missing.")


def test_cli_create_event_source_mapping(aws, aws_raw, lam, kinesis, tmp_path):
    arn = stream(kinesis, "cli-stream", 1)
    calls = consumer(lam, tmp_path)
    out = aws(
        "lambda", "create-event-source-mapping", "--function-name", "consumer",
        "--event-source-arn", arn, "--starting-position", "TRIM_HORIZON", "--batch-size", "5",
        "--maximum-batching-window-in-seconds", "0", "--parallelization-factor", "2",
        "--maximum-record-age-in-seconds", "3600",
    )
    assert out["BatchSize"] == 5
    assert out["ParallelizationFactor"] == 2
    assert out["MaximumRecordAgeInSeconds"] == 3600
    assert out["EventSourceArn"] == arn
    for i in range(7):
        kinesis.put_record(StreamName="cli-stream", PartitionKey=f"k{i % 2}", Data=f"d{i}".encode())
    seen = wait_until(
        lambda: sum(len(b["data"]) for b in batches(calls)) >= 7 and batches(calls), what="every record"
    )
    assert all(len(b["data"]) <= 5 for b in seen)
    for k in ("0", "1"):
        mine = [d for b in seen for d in b["data"] if int(d[1:]) % 2 == int(k)]
        assert mine == [f"d{i}" for i in range(7) if i % 2 == int(k)]
    updated = aws(
        "lambda", "update-event-source-mapping", "--uuid", out["UUID"], "--maximum-retry-attempts", "2",
        "--bisect-batch-on-function-error", "--destination-config",
        json.dumps({"OnFailure": {"Destination": f"arn:aws:sns:us-east-1:{ACCOUNT}:alerts"}}),
    )
    assert updated["State"] == "Updating"
    got = aws("lambda", "get-event-source-mapping", "--uuid", out["UUID"])
    assert got["State"] == "Enabled"
    assert got["MaximumRetryAttempts"] == 2
    assert got["BisectBatchOnFunctionError"] is True
    assert got["DestinationConfig"] == {"OnFailure": {"Destination": f"arn:aws:sns:us-east-1:{ACCOUNT}:alerts"}}
    assert got["StartingPosition"] == "TRIM_HORIZON"
    bad = aws_raw(
        "lambda", "create-event-source-mapping", "--function-name", "consumer",
        "--event-source-arn", arn, "--starting-position", "LATEST", "--parallelization-factor", "11",
    )
    assert bad.returncode != 0
    assert "ValidationException" in bad.stderr or "parallelization" in bad.stderr.lower()


def test_children_of_a_split_shard_are_read_after_their_parent(lam, kinesis, tmp_path):
    arn = stream(kinesis, "split", 1)
    calls = consumer(lam, tmp_path)
    for d in ["p1", "p2"]:
        kinesis.put_record(StreamName="split", PartitionKey="k", Data=d.encode())
    lam.create_event_source_mapping(FunctionName="consumer", EventSourceArn=arn, StartingPosition="TRIM_HORIZON")
    wait_until(lambda: batches(calls), what="the parent's records")
    parent = kinesis.list_shards(StreamName="split")["Shards"][0]["ShardId"]
    kinesis.split_shard(StreamName="split", ShardToSplit=parent, NewStartingHashKey=str(2**127))
    kinesis.get_waiter("stream_exists").wait(StreamName="split", WaiterConfig={"Delay": 0.05, "MaxAttempts": 200})
    for d in ["c1", "c2", "c3"]:
        kinesis.put_record(StreamName="split", PartitionKey="k", Data=d.encode())
    seen = wait_until(
        lambda: sum(len(b["data"]) for b in batches(calls)) >= 5 and batches(calls), what="the child's records"
    )
    assert [d for b in seen for d in b["data"]] == ["p1", "p2", "c1", "c2", "c3"]
    assert seen[0]["shard"] == parent
    assert seen[-1]["shard"] != parent
    # A mapping created after the split reads the closed parent to its end before the children.
    late = consumer(lam, tmp_path, "late")
    lam.create_event_source_mapping(FunctionName="late", EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
                                    BatchSize=1)
    seen = wait_until(lambda: len(batches(late)) >= 5 and batches(late), what="the late mapping's records")
    assert [d for b in seen for d in b["data"]] == ["p1", "p2", "c1", "c2", "c3"]


def test_filter_criteria_match_the_decoded_data(lam, kinesis, tmp_path, endpoint):
    arn = stream(kinesis, "filtered", 1)
    calls = consumer(lam, tmp_path)
    for d in [{"kind": "keep", "n": 1}, {"kind": "skip", "n": 2}, "not json", {"kind": "keep", "n": 3}]:
        kinesis.put_record(StreamName="filtered", PartitionKey="k", Data=json.dumps(d).encode() if isinstance(d, dict) else d.encode())
    m = lam.create_event_source_mapping(
        FunctionName="consumer", EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"data": {"kind": ["keep"]}})}]},
    )
    assert m["FilterCriteria"] == {"Filters": [{"Pattern": json.dumps({"data": {"kind": ["keep"]}})}]}
    seen = wait_until(lambda: batches(calls), what="the matching records")
    assert [[json.loads(d)["n"] for d in b["data"]] for b in seen] == [[1, 3]]
    with urllib.request.urlopen(endpoint + "/_localbridge/metrics", timeout=10) as resp:
        assert 'localbridge_lambda_stream_records_total{outcome="filtered"} 2\n' in resp.read().decode()


@pytest.fixture
def manual_lambda(tmp_path, request):
    yield from serve(
        tmp_path, request,
        ["--clock", "manual", "--lambda-runtime", f"python3.12={__import__('sys').executable}",
         "--lambda-python-client", "shipped"],
    )


def test_records_older_than_maximum_record_age_are_discarded_on_the_clock(manual_lambda, tmp_path):
    from conftest import advance_clock

    endpoint = manual_lambda.endpoint
    lam, kinesis, sqs = (_client(s, endpoint) for s in ("lambda", "kinesis", "sqs"))
    arn = stream(kinesis, "aging", 1)
    calls = consumer(lam, tmp_path)
    dlq = sqs.create_queue(QueueName="aged")["QueueUrl"]
    put = kinesis.put_record(StreamName="aging", PartitionKey="k", Data=b"BAD")
    lam.create_event_source_mapping(
        FunctionName="consumer", EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
        MaximumRecordAgeInSeconds=60,
        DestinationConfig={"OnFailure": {"Destination": f"arn:aws:sqs:us-east-1:{ACCOUNT}:aged"}},
    )
    wait_until(lambda: batches(calls), what="the first invocation")
    # Retries wait on the clock; once the record is older than 60 s it is discarded, not sent.
    # The clock moves in steps, so a retry's wait that starts after a step is reached by the next.
    def discarded():
        advance_clock(endpoint, 5)
        return sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=0).get("Messages")

    [msg] = wait_until(discarded, what="the aged record's invocation record")
    record = json.loads(msg["Body"])
    assert record["requestContext"]["condition"] == "RecordAgeExceeded"
    assert record["KinesisBatchInfo"]["startSequenceNumber"] == put["SequenceNumber"]
    assert record["KinesisBatchInfo"]["batchSize"] == 1
    assert all(b["data"] == ["BAD"] for b in batches(calls))


def test_at_timestamp_starts_at_the_first_record_at_or_after_it(manual_lambda, tmp_path):
    from conftest import advance_clock

    endpoint = manual_lambda.endpoint
    lam, kinesis = _client("lambda", endpoint), _client("kinesis", endpoint)
    arn = stream(kinesis, "timed", 1)
    calls = consumer(lam, tmp_path)
    kinesis.put_record(StreamName="timed", PartitionKey="k", Data=b"old")
    advance_clock(endpoint, 10)
    kinesis.put_record(StreamName="timed", PartitionKey="k", Data=b"new")
    shard = kinesis.list_shards(StreamName="timed")["Shards"][0]["ShardId"]
    it = kinesis.get_shard_iterator(StreamName="timed", ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    new_at = kinesis.get_records(ShardIterator=it)["Records"][1]["ApproximateArrivalTimestamp"]
    m = lam.create_event_source_mapping(FunctionName="consumer", EventSourceArn=arn, StartingPosition="AT_TIMESTAMP",
                                        StartingPositionTimestamp=new_at)
    assert m["StartingPosition"] == "AT_TIMESTAMP"
    assert m["StartingPositionTimestamp"] == new_at
    seen = wait_until(lambda: batches(calls), what="the record at the timestamp")
    assert [b["data"] for b in seen] == [["new"]]
