"""EventBridge → Kinesis with boto3 and the AWS CLI against the binary: a rule's target writes each
matched event to the stream, its partition key taken from the event by
`KinesisParameters.PartitionKeyPath` (the event id without it), so the key's MD5 picks the shard;
records read back with GetShardIterator / GetRecords."""

import hashlib
import json

import pytest
from botocore.exceptions import ClientError

from conftest import _client, settle, wait_until

ACCOUNT = "000000000000"


@pytest.fixture
def kinesis(endpoint):
    return _client("kinesis", endpoint)


def shard_of(shards, key):
    h = int.from_bytes(hashlib.md5(key.encode()).digest(), "big")
    for s in shards:
        r = s["HashKeyRange"]
        if int(r["StartingHashKey"]) <= h <= int(r["EndingHashKey"]):
            return s["ShardId"]
    raise AssertionError(f"no shard owns {h}")


def records_by_shard(kinesis, stream):
    out = {}
    for s in kinesis.list_shards(StreamName=stream)["Shards"]:
        it = kinesis.get_shard_iterator(StreamName=stream, ShardId=s["ShardId"], ShardIteratorType="TRIM_HORIZON")[
            "ShardIterator"
        ]
        recs = []
        while True:
            page = kinesis.get_records(ShardIterator=it)
            recs += page["Records"]
            it = page["NextShardIterator"]
            if not page["Records"]:
                break
        out[s["ShardId"]] = recs
    return out


def make_stream(kinesis, name, shards):
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 200})
    return f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/{name}"


def test_partition_key_path_picks_the_key_and_the_shard(events, kinesis, endpoint):
    arn = make_stream(kinesis, "orders", 4)
    events.put_rule(Name="to-kinesis", EventPattern=json.dumps({"source": ["my.app"]}))
    failed = events.put_targets(
        Rule="to-kinesis",
        Targets=[{"Id": "k", "Arn": arn, "KinesisParameters": {"PartitionKeyPath": "$.detail.user"}}],
    )
    assert failed["FailedEntryCount"] == 0
    listed = events.list_targets_by_rule(Rule="to-kinesis")["Targets"]
    assert listed == [{"Id": "k", "Arn": arn, "KinesisParameters": {"PartitionKeyPath": "$.detail.user"}}]

    users = ["ana", "bo", "cy", "dee", "ed", "flo"]
    sent = []
    for i, user in enumerate(users * 2):
        out = events.put_events(
            Entries=[{"Source": "my.app", "DetailType": "order", "Detail": json.dumps({"user": user, "n": i})}]
        )
        assert out["FailedEntryCount"] == 0
        sent.append((out["Entries"][0]["EventId"], user, i))
    settle(endpoint)
    shards = kinesis.list_shards(StreamName="orders")["Shards"]
    got = wait_until(
        lambda: (r := records_by_shard(kinesis, "orders")) and sum(len(v) for v in r.values()) == len(sent) and r,
        what="every event on the stream",
    )
    for shard_id, recs in got.items():
        for rec in recs:
            event = json.loads(rec["Data"])
            assert rec["PartitionKey"] == event["detail"]["user"]
            assert shard_of(shards, rec["PartitionKey"]) == shard_id
            assert event["source"] == "my.app"
            assert event["detail-type"] == "order"
            assert event["account"] == ACCOUNT
            assert event["resources"] == []
        # A key's events keep the order they were put in.
        ns = [json.loads(r["Data"])["detail"]["n"] for r in recs]
        for user in users:
            mine = [json.loads(r["Data"])["detail"]["n"] for r in recs if r["PartitionKey"] == user]
            assert mine == sorted(mine), ns
    ids = sorted(json.loads(r["Data"])["id"] for recs in got.values() for r in recs)
    assert ids == sorted(e for e, _, _ in sent)


def test_without_kinesis_parameters_the_event_id_is_the_key_cli(aws, kinesis, endpoint, tmp_path):
    arn = make_stream(kinesis, "audit", 2)
    aws("events", "put-rule", "--name", "audit", "--event-pattern", json.dumps({"source": ["my.app"]}))
    out = aws("events", "put-targets", "--rule", "audit", "--targets", json.dumps([{"Id": "a", "Arn": arn}]))
    assert out["FailedEntryCount"] == 0
    put = aws(
        "events", "put-events", "--entries",
        json.dumps([{"Source": "my.app", "DetailType": "t", "Detail": json.dumps({"k": 1})}]),
    )
    event_id = put["Entries"][0]["EventId"]
    settle(endpoint)
    got = wait_until(
        lambda: [r for recs in records_by_shard(kinesis, "audit").values() for r in recs],
        what="the event on the stream",
    )
    assert len(got) == 1
    assert got[0]["PartitionKey"] == event_id
    assert json.loads(got[0]["Data"])["id"] == event_id


def test_kinesis_parameters_are_validated(events, kinesis):
    arn = make_stream(kinesis, "v", 1)
    events.put_rule(Name="v", EventPattern=json.dumps({"source": ["my.app"]}))
    with pytest.raises(ClientError) as e:
        events.put_targets(Rule="v", Targets=[{"Id": "k", "Arn": arn, "KinesisParameters": {"PartitionKeyPath": "x" * 257}}])
    assert e.value.response["Error"]["Code"] == "ValidationException"
