"""Kinesis Data Streams with boto3 and the AWS CLI against the binary: streams and shards,
partition keys hashed to shards (MD5 over even hash key ranges), PutRecords → GetRecords across
shards with per-key ordering, every shard iterator type, iterator expiry and retention on the
manual clock, the stored-records bound, tags, and AWS's errors."""

import base64
import hashlib
import json

import pytest
from botocore.exceptions import ClientError

from conftest import _client, advance_clock, get_json, serve

ACCOUNT = "000000000000"


@pytest.fixture
def server(manual):
    return manual


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


def read_all(kinesis, stream, shard_id, kind="TRIM_HORIZON", **kw):
    it = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard_id, ShardIteratorType=kind, **kw)[
        "ShardIterator"
    ]
    out = []
    while True:
        page = kinesis.get_records(ShardIterator=it)
        out += page["Records"]
        it = page["NextShardIterator"]
        if not page["Records"]:
            return out, page


def error(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


def test_create_describe_list_delete(kinesis):
    kinesis.create_stream(StreamName="s1", ShardCount=3)
    kinesis.create_stream(StreamName="s2", StreamModeDetails={"StreamMode": "ON_DEMAND"})
    kinesis.get_waiter("stream_exists").wait(StreamName="s1", WaiterConfig={"Delay": 1, "MaxAttempts": 3})
    d = kinesis.describe_stream(StreamName="s1")["StreamDescription"]
    assert d["StreamStatus"] == "ACTIVE"
    assert d["StreamARN"] == f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/s1"
    assert d["RetentionPeriodHours"] == 24
    assert d["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    assert [s["ShardId"] for s in d["Shards"]] == [f"shardId-00000000000{i}" for i in range(3)]
    ranges = [(int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"])) for s in d["Shards"]]
    assert ranges[0][0] == 0 and ranges[-1][1] == 2**128 - 1
    assert all(a[1] + 1 == b[0] for a, b in zip(ranges, ranges[1:]))
    assert ranges[1][0] == 2**128 // 3
    seq = d["Shards"][0]["SequenceNumberRange"]["StartingSequenceNumber"]
    assert len(seq) == 56 and seq.isdigit()
    summary = kinesis.describe_stream_summary(StreamName="s2")["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 4 and summary["StreamModeDetails"]["StreamMode"] == "ON_DEMAND"
    listed = kinesis.list_streams()
    assert listed["StreamNames"] == ["s1", "s2"] and listed["HasMoreStreams"] is False
    page = kinesis.list_streams(Limit=1)
    assert page["StreamNames"] == ["s1"] and page["HasMoreStreams"] is True
    assert kinesis.list_streams(NextToken=page["NextToken"])["StreamNames"] == ["s2"]
    shards = kinesis.list_shards(StreamName="s1", MaxResults=2)
    assert len(shards["Shards"]) == 2
    assert [s["ShardId"] for s in kinesis.list_shards(NextToken=shards["NextToken"])["Shards"]] == ["shardId-000000000002"]
    kinesis.delete_stream(StreamName="s1")
    assert kinesis.list_streams()["StreamNames"] == ["s2"]


def test_put_records_get_records_across_shards_in_order_per_key(kinesis):
    kinesis.create_stream(StreamName="orders", ShardCount=4)
    shards = kinesis.list_shards(StreamName="orders")["Shards"]
    keys = [f"customer-{i}" for i in range(20)]
    sent = {k: [] for k in keys}
    for batch in range(5):
        entries = []
        for k in keys:
            data = f"{k}:{batch}".encode()
            sent[k].append(data)
            entries.append({"Data": data, "PartitionKey": k})
        out = kinesis.put_records(StreamName="orders", Records=entries)
        assert out["FailedRecordCount"] == 0
        for e, r in zip(entries, out["Records"]):
            assert r["ShardId"] == shard_of(shards, e["PartitionKey"])
    got = {k: [] for k in keys}
    for s in shards:
        records, last = read_all(kinesis, "orders", s["ShardId"])
        assert last["MillisBehindLatest"] == 0
        seqs = [int(r["SequenceNumber"]) for r in records]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        for r in records:
            assert shard_of(shards, r["PartitionKey"]) == s["ShardId"]
            got[r["PartitionKey"]].append(r["Data"])
            assert len(r["SequenceNumber"]) == 56
            assert r["ApproximateArrivalTimestamp"].year >= 2020
    assert got == sent
    used = {shard_of(shards, k) for k in keys}
    assert len(used) > 1


def test_explicit_hash_key_and_put_record(kinesis):
    kinesis.create_stream(StreamName="s", ShardCount=2)
    out = kinesis.put_record(StreamName="s", Data=b"x", PartitionKey="k", ExplicitHashKey=str(2**128 - 1))
    assert out["ShardId"] == "shardId-000000000001"
    out = kinesis.put_record(StreamName="s", Data=b"y", PartitionKey="k", ExplicitHashKey="0")
    assert out["ShardId"] == "shardId-000000000000"
    with pytest.raises(ClientError) as e:
        kinesis.put_record(StreamName="s", Data=b"z", PartitionKey="k", ExplicitHashKey=str(2**128))
    assert error(e)[0] == "InvalidArgumentException"


def test_iterator_types(kinesis, endpoint):
    kinesis.create_stream(StreamName="s", ShardCount=1)
    sid = "shardId-000000000000"
    seqs = [kinesis.put_record(StreamName="s", Data=f"r{i}".encode(), PartitionKey="k")["SequenceNumber"] for i in range(3)]
    latest = kinesis.get_shard_iterator(StreamName="s", ShardId=sid, ShardIteratorType="LATEST")["ShardIterator"]
    advance_clock(endpoint, 10)
    later = kinesis.put_record(StreamName="s", Data=b"r3", PartitionKey="k")["SequenceNumber"]
    page = kinesis.get_records(ShardIterator=latest)
    assert [r["Data"] for r in page["Records"]] == [b"r3"]
    at, _ = read_all(kinesis, "s", sid, "AT_SEQUENCE_NUMBER", StartingSequenceNumber=seqs[1])
    assert [r["Data"] for r in at] == [b"r1", b"r2", b"r3"]
    after, _ = read_all(kinesis, "s", sid, "AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=seqs[1])
    assert [r["Data"] for r in after] == [b"r2", b"r3"]
    arrival = kinesis.get_records(
        ShardIterator=kinesis.get_shard_iterator(
            StreamName="s", ShardId=sid, ShardIteratorType="AT_SEQUENCE_NUMBER", StartingSequenceNumber=later
        )["ShardIterator"]
    )["Records"][0]["ApproximateArrivalTimestamp"]
    ts, _ = read_all(kinesis, "s", sid, "AT_TIMESTAMP", Timestamp=arrival)
    assert [r["Data"] for r in ts] == [b"r3"]
    # Limit, and MillisBehindLatest while records remain.
    it = kinesis.get_shard_iterator(StreamName="s", ShardId=sid, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    page = kinesis.get_records(ShardIterator=it, Limit=1)
    assert [r["Data"] for r in page["Records"]] == [b"r0"]
    assert page["MillisBehindLatest"] == 10_000


def test_iterator_expires_after_five_minutes(kinesis, endpoint):
    kinesis.create_stream(StreamName="s", ShardCount=1)
    it = kinesis.get_shard_iterator(StreamName="s", ShardId="shardId-000000000000", ShardIteratorType="LATEST")[
        "ShardIterator"
    ]
    advance_clock(endpoint, 300)
    it = kinesis.get_records(ShardIterator=it)["NextShardIterator"]
    advance_clock(endpoint, 301)
    with pytest.raises(ClientError) as e:
        kinesis.get_records(ShardIterator=it)
    code, message = error(e)
    assert code == "ExpiredIteratorException"
    assert message.startswith("Iterator expired. The iterator was created at time ")
    assert message.endswith("which is further in the future than the tolerated delay of 300000 milliseconds.")


def test_retention_on_the_clock(kinesis, endpoint):
    kinesis.create_stream(StreamName="s", ShardCount=1)
    kinesis.put_record(StreamName="s", Data=b"old", PartitionKey="k")
    advance_clock(endpoint, 23 * 3600)
    kinesis.put_record(StreamName="s", Data=b"new", PartitionKey="k")
    advance_clock(endpoint, 3600)
    records, _ = read_all(kinesis, "s", "shardId-000000000000")
    assert [r["Data"] for r in records] == [b"new"]
    kinesis.increase_stream_retention_period(StreamName="s", RetentionPeriodHours=48)
    assert kinesis.describe_stream_summary(StreamName="s")["StreamDescriptionSummary"]["RetentionPeriodHours"] == 48
    with pytest.raises(ClientError) as e:
        kinesis.increase_stream_retention_period(StreamName="s", RetentionPeriodHours=30)
    assert error(e)[0] == "InvalidArgumentException"
    with pytest.raises(ClientError) as e:
        kinesis.decrease_stream_retention_period(StreamName="s", RetentionPeriodHours=12)
    assert error(e) == (
        "InvalidArgumentException",
        "Minimum allowed retention period is 24 hours. Requested retention period (12 hours) is too short.",
    )
    kinesis.decrease_stream_retention_period(StreamName="s", RetentionPeriodHours=24)
    expired = [l for l in get_metrics(endpoint) if l.startswith("localbridge_kinesis_records_expired_total")]
    assert expired == ["localbridge_kinesis_records_expired_total 1"]


def get_metrics(endpoint):
    from conftest import http

    status, _, body = http("GET", endpoint + "/_localbridge/metrics")
    assert status == 200
    return body.decode().splitlines()


def test_tags(kinesis):
    kinesis.create_stream(StreamName="s", ShardCount=1)
    kinesis.add_tags_to_stream(StreamName="s", Tags={"b": "2", "a": "1", "c": "3"})
    out = kinesis.list_tags_for_stream(StreamName="s", Limit=2)
    assert out == {"Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}], "HasMoreTags": True, "ResponseMetadata": out["ResponseMetadata"]}
    kinesis.remove_tags_from_stream(StreamName="s", TagKeys=["a", "b"])
    assert kinesis.list_tags_for_stream(StreamName="s")["Tags"] == [{"Key": "c", "Value": "3"}]


def test_errors(kinesis):
    with pytest.raises(ClientError) as e:
        kinesis.describe_stream(StreamName="nope")
    assert error(e) == ("ResourceNotFoundException", f"Stream nope under account {ACCOUNT} not found.")
    kinesis.create_stream(StreamName="s", ShardCount=1)
    with pytest.raises(ClientError) as e:
        kinesis.create_stream(StreamName="s", ShardCount=1)
    assert error(e) == ("ResourceInUseException", f"Stream s under account {ACCOUNT} already exists.")
    with pytest.raises(ClientError) as e:
        kinesis.get_shard_iterator(StreamName="s", ShardId="shardId-000000000009", ShardIteratorType="LATEST")
    assert error(e)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        kinesis.get_shard_iterator(StreamName="s", ShardId="shardId-000000000000", ShardIteratorType="AT_SEQUENCE_NUMBER")
    assert error(e) == (
        "InvalidArgumentException",
        "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) "
        "TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified AT_SEQUENCE_NUMBER and no "
        "StartingSequenceNumber.",
    )
    foreign = "49537979178794861780081237450294896636708704732336619521"
    with pytest.raises(ClientError) as e:
        kinesis.get_shard_iterator(
            StreamName="s",
            ShardId="shardId-000000000000",
            ShardIteratorType="AFTER_SEQUENCE_NUMBER",
            StartingSequenceNumber=foreign,
        )
    assert error(e) == (
        "InvalidArgumentException",
        f"StartingSequenceNumber {foreign} used in GetShardIterator on shard shardId-000000000000 in stream s "
        f"under account {ACCOUNT} is invalid because it did not come from this stream.",
    )
    with pytest.raises(ClientError) as e:
        kinesis.get_records(ShardIterator="not-an-iterator")
    assert error(e)[0] == "InvalidArgumentException"
    with pytest.raises(ClientError) as e:
        kinesis.put_record(StreamName="nope", Data=b"x", PartitionKey="k")
    assert error(e)[0] == "ResourceNotFoundException"


def test_stored_records_bound(tmp_path, request):
    gen = serve(tmp_path, request, ["--clock", "manual", "--kinesis-max-records", "5"])
    srv = next(gen)
    try:
        k = _client("kinesis", srv.endpoint)
        k.create_stream(StreamName="s", ShardCount=2)
        k.put_records(StreamName="s", Records=[{"Data": str(i).encode(), "PartitionKey": str(i)} for i in range(8)])
        data = []
        for sid in ("shardId-000000000000", "shardId-000000000001"):
            records, _ = read_all(k, "s", sid)
            data += [int(r["Data"]) for r in records]
        assert sorted(data) == [3, 4, 5, 6, 7]
        dropped = [l for l in get_metrics(srv.endpoint) if l.startswith("localbridge_kinesis_records_dropped_total")]
        assert dropped == ["localbridge_kinesis_records_dropped_total 3"]
    finally:
        next(gen, None)


def test_shard_limits_fail_records_one_by_one(tmp_path, request):
    gen = serve(tmp_path, request, ["--clock", "manual", "--kinesis-shard-limits"])
    srv = next(gen)
    try:
        k = _client("kinesis", srv.endpoint)
        k.create_stream(StreamName="s", ShardCount=1)
        big = b"x" * (500 * 1024)
        out = k.put_records(StreamName="s", Records=[{"Data": big, "PartitionKey": str(i)} for i in range(3)])
        assert out["FailedRecordCount"] == 1
        assert "SequenceNumber" in out["Records"][0] and "SequenceNumber" in out["Records"][1]
        assert out["Records"][2] == {
            "ErrorCode": "ProvisionedThroughputExceededException",
            "ErrorMessage": f"Rate exceeded for shard shardId-000000000000 in stream s under account {ACCOUNT}.",
        }
        with pytest.raises(ClientError) as e:
            k.put_record(StreamName="s", Data=big, PartitionKey="k")
        assert error(e)[0] == "ProvisionedThroughputExceededException"
        advance_clock(srv.endpoint, 1)
        k.put_record(StreamName="s", Data=big, PartitionKey="k")
    finally:
        next(gen, None)


def test_aws_cli(aws):
    aws("kinesis", "create-stream", "--stream-name", "cli", "--shard-count", "2")
    aws("kinesis", "wait", "stream-exists", "--stream-name", "cli")
    out = aws(
        "kinesis",
        "put-record",
        "--stream-name",
        "cli",
        "--partition-key",
        "pk",
        # AWS CLI v1 base64-encodes a blob argument itself (v2 would need --cli-binary-format).
        "--data",
        "hello",
    )
    shard = out["ShardId"]
    it = aws("kinesis", "get-shard-iterator", "--stream-name", "cli", "--shard-id", shard, "--shard-iterator-type", "TRIM_HORIZON")[
        "ShardIterator"
    ]
    got = aws("kinesis", "get-records", "--shard-iterator", it)
    assert [base64.b64decode(r["Data"]) for r in got["Records"]] == [b"hello"]
    assert got["Records"][0]["SequenceNumber"] == out["SequenceNumber"]
    assert aws("kinesis", "list-streams")["StreamNames"] == ["cli"]
    desc = aws("kinesis", "describe-stream-summary", "--stream-name", "cli")["StreamDescriptionSummary"]
    assert desc["OpenShardCount"] == 2


def test_aws_cli_put_records_across_shards(aws):
    aws("kinesis", "create-stream", "--stream-name", "cli", "--shard-count", "4")
    records = [{"Data": f"{k}-{n}", "PartitionKey": k} for n in range(3) for k in ("a", "b", "c", "d", "e")]
    out = aws("kinesis", "put-records", "--stream-name", "cli", "--records", json.dumps(records))
    assert out["FailedRecordCount"] == 0
    shards = aws("kinesis", "list-shards", "--stream-name", "cli")["Shards"]
    got = {}
    for s in shards:
        it = aws(
            "kinesis",
            "get-shard-iterator",
            "--stream-arn",
            f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/cli",
            "--shard-id",
            s["ShardId"],
            "--shard-iterator-type",
            "TRIM_HORIZON",
        )["ShardIterator"]
        for r in aws("kinesis", "get-records", "--shard-iterator", it)["Records"]:
            assert shard_of(shards, r["PartitionKey"]) == s["ShardId"]
            got.setdefault(r["PartitionKey"], []).append(base64.b64decode(r["Data"]).decode())
    assert got == {k: [f"{k}-{n}" for n in range(3)] for k in ("a", "b", "c", "d", "e")}
    with_error = aws_error(aws, "kinesis", "describe-stream", "--stream-name", "missing")
    assert "ResourceNotFoundException" in with_error and f"Stream missing under account {ACCOUNT} not found." in with_error


def aws_error(aws, *args):
    try:
        aws(*args)
    except AssertionError as e:
        return str(e)
    raise AssertionError("the command succeeded")


def test_cbor_requests_get_cbor_answers(endpoint, kinesis):
    """The Java SDK's default wire format, hand-encoded (no CBOR library in the test venv)."""
    from conftest import http

    headers = {"X-Amz-Target": "Kinesis_20131202.CreateStream", "Content-Type": "application/x-amz-cbor-1.1"}
    # {"StreamName": "c", "ShardCount": 1}
    body = b"\xa2\x6aStreamName\x61c\x6aShardCount\x01"
    status, h, out = http("POST", endpoint + "/", body, headers)
    assert status == 200 and h["content-type"] == "application/x-amz-cbor-1.1"
    assert out == b"\xa0"
    assert kinesis.describe_stream_summary(StreamName="c")["StreamDescriptionSummary"]["OpenShardCount"] == 1
    headers["X-Amz-Target"] = "Kinesis_20131202.DescribeStreamSummary"
    status, h, out = http("POST", endpoint + "/", b"\xa1\x6aStreamName\x61x", headers)
    assert status == 400 and h["x-amzn-errortype"] == "ResourceNotFoundException"
    assert b"__type" in out and b"Stream x under account 000000000000 not found." in out


# Resharding: SplitShard, MergeShards, UpdateShardCount.


def read_closed(kinesis, stream, shard_id):
    """Reads a shard from its trim horizon until GetRecords returns no NextShardIterator (a closed
    shard read to its end) or an empty page (an open shard)."""
    it = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]
    out = []
    while True:
        page = kinesis.get_records(ShardIterator=it, Limit=2)
        out += [r["Data"].decode() for r in page["Records"]]
        if "NextShardIterator" not in page:
            return out, page
        it = page["NextShardIterator"]
        if not page["Records"]:
            return out, page


def hash_range(shard):
    r = shard["HashKeyRange"]
    return int(r["StartingHashKey"]), int(r["EndingHashKey"])


def test_split_shard_lineage_and_records_before_and_after(kinesis, endpoint):
    kinesis.create_stream(StreamName="s", ShardCount=1)
    keys = [f"key-{i}" for i in range(12)]
    for k in keys:
        kinesis.put_record(StreamName="s", PartitionKey=k, Data=f"before-{k}".encode())
    advance_clock(endpoint, 1)
    kinesis.split_shard(StreamName="s", ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2**127))
    shards = kinesis.list_shards(StreamName="s")["Shards"]
    assert [s["ShardId"] for s in shards] == [f"shardId-00000000000{i}" for i in range(3)]
    parent, low, high = shards
    assert "ParentShardId" not in parent
    assert len(parent["SequenceNumberRange"]["EndingSequenceNumber"]) == 56
    assert low["ParentShardId"] == high["ParentShardId"] == "shardId-000000000000"
    assert "AdjacentParentShardId" not in low and "EndingSequenceNumber" not in low["SequenceNumberRange"]
    assert hash_range(low) == (0, 2**127 - 1) and hash_range(high) == (2**127, 2**128 - 1)
    # DescribeStream shows the same lineage.
    described = kinesis.describe_stream(StreamName="s")["StreamDescription"]["Shards"]
    assert described == shards
    assert kinesis.describe_stream_summary(StreamName="s")["StreamDescriptionSummary"]["OpenShardCount"] == 2
    for k in keys:
        out = kinesis.put_record(StreamName="s", PartitionKey=k, Data=f"after-{k}".encode())
        assert out["ShardId"] == shard_of([low, high], k)
    # The parent's records stay readable to its end, then no next iterator and the children.
    data, last = read_closed(kinesis, "s", "shardId-000000000000")
    assert data == [f"before-{k}" for k in keys]
    assert "NextShardIterator" not in last
    assert last["ChildShards"] == [
        {"ShardId": c["ShardId"], "ParentShards": ["shardId-000000000000"], "HashKeyRange": c["HashKeyRange"]}
        for c in (low, high)
    ]
    after = []
    for child in (low, high):
        got, page = read_closed(kinesis, "s", child["ShardId"])
        assert "NextShardIterator" in page
        after += got
    assert sorted(after) == sorted(f"after-{k}" for k in keys)
    # ShardFilter: the open ones, the ones at the trim horizon.
    assert [s["ShardId"] for s in kinesis.list_shards(StreamName="s", ShardFilter={"Type": "AT_LATEST"})["Shards"]] == [
        "shardId-000000000001",
        "shardId-000000000002",
    ]
    at_trim = kinesis.list_shards(StreamName="s", ShardFilter={"Type": "AT_TRIM_HORIZON"})["Shards"]
    assert [s["ShardId"] for s in at_trim] == ["shardId-000000000000"]


def test_merge_shards(kinesis):
    kinesis.create_stream(StreamName="m", ShardCount=3)
    kinesis.put_records(StreamName="m", Records=[{"Data": f"r{i}".encode(), "PartitionKey": f"k{i}"} for i in range(20)])
    with pytest.raises(ClientError) as e:
        kinesis.merge_shards(StreamName="m", ShardToMerge="shardId-000000000000", AdjacentShardToMerge="shardId-000000000002")
    assert error(e) == (
        "InvalidArgumentException",
        f"Shards shardId-000000000000 and shardId-000000000002 in stream m under account {ACCOUNT} are not an adjacent pair of shards eligible for merging",
    )
    kinesis.merge_shards(StreamName="m", ShardToMerge="shardId-000000000001", AdjacentShardToMerge="shardId-000000000002")
    shards = kinesis.list_shards(StreamName="m")["Shards"]
    child = shards[3]
    assert child["ShardId"] == "shardId-000000000003"
    assert child["ParentShardId"] == "shardId-000000000001"
    assert child["AdjacentParentShardId"] == "shardId-000000000002"
    assert hash_range(child) == (hash_range(shards[1])[0], 2**128 - 1)
    kinesis.put_record(StreamName="m", PartitionKey="x", ExplicitHashKey=str(2**128 - 1), Data=b"new")
    data, _ = read_closed(kinesis, "m", "shardId-000000000003")
    assert data == ["new"]
    total = sum(len(read_closed(kinesis, "m", f"shardId-00000000000{i}")[0]) for i in range(3))
    assert total == 20
    with pytest.raises(ClientError) as e:
        kinesis.merge_shards(StreamName="m", ShardToMerge="shardId-000000000000", AdjacentShardToMerge="shardId-000000000001")
    assert error(e) == (
        "InvalidArgumentException",
        f"Shard shardId-000000000001 in stream m under account {ACCOUNT} has already been merged or split, and thus is not eligible for merging or splitting.",
    )


def test_update_shard_count(kinesis):
    kinesis.create_stream(StreamName="u", ShardCount=2)
    kinesis.put_records(StreamName="u", Records=[{"Data": f"r{i}".encode(), "PartitionKey": f"k{i}"} for i in range(30)])
    out = kinesis.update_shard_count(StreamName="u", TargetShardCount=3, ScalingType="UNIFORM_SCALING")
    assert {k: out[k] for k in ("StreamName", "CurrentShardCount", "TargetShardCount", "StreamARN")} == {
        "StreamName": "u",
        "CurrentShardCount": 2,
        "TargetShardCount": 3,
        "StreamARN": f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/u",
    }
    open_shards = kinesis.list_shards(StreamName="u", ShardFilter={"Type": "AT_LATEST"})["Shards"]
    assert sorted(hash_range(s) for s in open_shards) == [
        (0, 2**128 // 3 - 1),
        (2**128 // 3, 2 * (2**128 // 3) - 1),
        (2 * (2**128 // 3), 2**128 - 1),
    ]
    everything = kinesis.list_shards(StreamName="u")["Shards"]
    by_id = {s["ShardId"]: s for s in everything}
    for s in everything:
        parents = [by_id[p] for p in (s.get("ParentShardId"), s.get("AdjacentParentShardId")) if p]
        assert all("EndingSequenceNumber" in p["SequenceNumberRange"] for p in parents)
    total = sum(len(read_closed(kinesis, "u", s["ShardId"])[0]) for s in everything)
    assert total == 30
    with pytest.raises(ClientError) as e:
        kinesis.update_shard_count(StreamName="u", TargetShardCount=7, ScalingType="UNIFORM_SCALING")
    assert error(e) == (
        "LimitExceededException",
        "UpdateShardCount cannot scale up over double your current open shard count. Current open shard count: 3, Target shard count: 7",
    )
    with pytest.raises(ClientError) as e:
        kinesis.update_shard_count(StreamName="u", TargetShardCount=1, ScalingType="UNIFORM_SCALING")
    assert error(e)[0] == "LimitExceededException"
    assert "scale down below half" in error(e)[1]


def test_reshard_is_updating_until_the_delay_passes_on_the_clock(tmp_path, request):
    gen = serve(tmp_path, request, ["--clock", "manual", "--kinesis-create-delay-ms", "2000"])
    srv = next(gen)
    try:
        k = _client("kinesis", srv.endpoint)
        k.create_stream(StreamName="s", ShardCount=2)
        advance_clock(srv.endpoint, 2)
        k.update_shard_count(StreamName="s", TargetShardCount=4, ScalingType="UNIFORM_SCALING")
        assert k.describe_stream_summary(StreamName="s")["StreamDescriptionSummary"]["StreamStatus"] == "UPDATING"
        # Reads and writes go on while it updates; another reshard waits.
        k.put_record(StreamName="s", PartitionKey="a", Data=b"x")
        with pytest.raises(ClientError) as e:
            k.split_shard(StreamName="s", ShardToSplit="shardId-000000000002", NewStartingHashKey=str(2**100))
        assert error(e) == ("ResourceInUseException", f"Stream s under account {ACCOUNT} not ACTIVE, instead in state UPDATING")
        advance_clock(srv.endpoint, 2)
        assert k.describe_stream_summary(StreamName="s")["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE"
    finally:
        next(gen, None)


def test_aws_cli_resharding(aws):
    aws("kinesis", "create-stream", "--stream-name", "cli", "--shard-count", "2")
    aws("kinesis", "put-record", "--stream-name", "cli", "--partition-key", "pk", "--data", "hello")
    aws(
        "kinesis",
        "split-shard",
        "--stream-name",
        "cli",
        "--shard-to-split",
        "shardId-000000000000",
        "--new-starting-hash-key",
        str(2**126),
    )
    aws(
        "kinesis",
        "merge-shards",
        "--stream-name",
        "cli",
        "--shard-to-merge",
        "shardId-000000000002",
        "--adjacent-shard-to-merge",
        "shardId-000000000003",
    )
    out = aws("kinesis", "update-shard-count", "--stream-name", "cli", "--target-shard-count", "2", "--scaling-type", "UNIFORM_SCALING")
    assert out["CurrentShardCount"] == 2 and out["TargetShardCount"] == 2
    shards = aws("kinesis", "list-shards", "--stream-name", "cli", "--shard-filter", "Type=AT_LATEST")["Shards"]
    assert len(shards) == 2
    lineage = {s["ShardId"]: (s.get("ParentShardId"), s.get("AdjacentParentShardId")) for s in aws("kinesis", "list-shards", "--stream-name", "cli")["Shards"]}
    assert lineage["shardId-000000000002"] == ("shardId-000000000000", None)
    assert lineage["shardId-000000000004"] == ("shardId-000000000002", "shardId-000000000003")
    err = aws_error(
        aws, "kinesis", "split-shard", "--stream-name", "cli", "--shard-to-split", "shardId-000000000000", "--new-starting-hash-key", "5"
    )
    assert "InvalidArgumentException" in err and "has already been merged or split" in err


# Enhanced fan-out: consumers and SubscribeToShard.


def test_stream_consumers(kinesis):
    kinesis.create_stream(StreamName="c", ShardCount=1)
    arn = kinesis.describe_stream_summary(StreamName="c")["StreamDescriptionSummary"]["StreamARN"]
    c = kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="app")["Consumer"]
    assert c["ConsumerName"] == "app" and c["ConsumerStatus"] == "ACTIVE"
    created = int(c["ConsumerCreationTimestamp"].timestamp())
    assert c["ConsumerARN"] == f"{arn}/consumer/app:{created}"
    d = kinesis.describe_stream_consumer(ConsumerARN=c["ConsumerARN"])["ConsumerDescription"]
    assert d == dict(c, StreamARN=arn)
    assert kinesis.describe_stream_consumer(StreamARN=arn, ConsumerName="app")["ConsumerDescription"] == d
    kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="other")
    assert [x["ConsumerName"] for x in kinesis.list_stream_consumers(StreamARN=arn)["Consumers"]] == ["app", "other"]
    page = kinesis.list_stream_consumers(StreamARN=arn, MaxResults=1)
    assert [x["ConsumerName"] for x in page["Consumers"]] == ["app"]
    assert [x["ConsumerName"] for x in kinesis.list_stream_consumers(StreamARN=arn, NextToken=page["NextToken"])["Consumers"]] == ["other"]
    assert kinesis.describe_stream_summary(StreamName="c")["StreamDescriptionSummary"]["ConsumerCount"] == 2
    with pytest.raises(ClientError) as e:
        kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="app")
    assert error(e)[0] == "ResourceInUseException"
    kinesis.deregister_stream_consumer(ConsumerARN=c["ConsumerARN"])
    with pytest.raises(ClientError) as e:
        kinesis.describe_stream_consumer(ConsumerARN=c["ConsumerARN"])
    assert error(e) == ("ResourceNotFoundException", f"Consumer {c['ConsumerARN']}, account {ACCOUNT} not found.")
    kinesis.deregister_stream_consumer(StreamARN=arn, ConsumerName="other")
    assert kinesis.list_stream_consumers(StreamARN=arn)["Consumers"] == []


def test_subscribe_to_shard_event_stream(kinesis):
    kinesis.create_stream(StreamName="efo", ShardCount=1)
    arn = kinesis.describe_stream_summary(StreamName="efo")["StreamDescriptionSummary"]["StreamARN"]
    consumer = kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="efo-app")["Consumer"]["ConsumerARN"]
    sent = [kinesis.put_record(StreamName="efo", PartitionKey=f"k{i}", Data=f"r{i}".encode()) for i in range(5)]
    resp = kinesis.subscribe_to_shard(
        ConsumerARN=consumer, ShardId="shardId-000000000000", StartingPosition={"Type": "TRIM_HORIZON"}
    )
    events = list(resp["EventStream"])
    assert len(events) == 1
    ev = events[0]["SubscribeToShardEvent"]
    assert [r["Data"] for r in ev["Records"]] == [f"r{i}".encode() for i in range(5)]
    assert [r["SequenceNumber"] for r in ev["Records"]] == [s["SequenceNumber"] for s in sent]
    assert [r["PartitionKey"] for r in ev["Records"]] == [f"k{i}" for i in range(5)]
    assert ev["ContinuationSequenceNumber"] == sent[-1]["SequenceNumber"]
    assert ev["MillisBehindLatest"] == 0
    # Renewing after the continuation: the next records only.
    kinesis.put_record(StreamName="efo", PartitionKey="k", Data=b"later")
    resp = kinesis.subscribe_to_shard(
        ConsumerARN=consumer,
        ShardId="shardId-000000000000",
        StartingPosition={"Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": ev["ContinuationSequenceNumber"]},
    )
    ev2 = [e["SubscribeToShardEvent"] for e in resp["EventStream"]]
    assert [r["Data"] for r in ev2[0]["Records"]] == [b"later"]
    # A closed shard read to its end names its children.
    kinesis.split_shard(StreamName="efo", ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2**127))
    resp = kinesis.subscribe_to_shard(
        ConsumerARN=consumer,
        ShardId="shardId-000000000000",
        StartingPosition={"Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": ev2[0]["ContinuationSequenceNumber"]},
    )
    ev3 = [e["SubscribeToShardEvent"] for e in resp["EventStream"]][0]
    assert ev3["Records"] == []
    assert [c["ShardId"] for c in ev3["ChildShards"]] == ["shardId-000000000001", "shardId-000000000002"]
    with pytest.raises(ClientError) as e:
        kinesis.subscribe_to_shard(
            ConsumerARN=consumer.replace("efo-app", "nope"), ShardId="shardId-000000000000", StartingPosition={"Type": "LATEST"}
        )
    assert error(e)[0] == "ResourceNotFoundException"


def test_subscribe_waits_for_a_record_or_the_window(kinesis, endpoint):
    import threading

    kinesis.create_stream(StreamName="w", ShardCount=1)
    arn = kinesis.describe_stream_summary(StreamName="w")["StreamDescriptionSummary"]["StreamARN"]
    consumer = kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="w")["Consumer"]["ConsumerARN"]
    got = {}

    def subscribe():
        resp = kinesis.subscribe_to_shard(ConsumerARN=consumer, ShardId="shardId-000000000000", StartingPosition={"Type": "LATEST"})
        got["events"] = [e["SubscribeToShardEvent"] for e in resp["EventStream"]]

    t = threading.Thread(target=subscribe)
    t.start()
    # The subscription waits (the manual clock does not move): a put wakes it.
    t.join(0.5)
    assert t.is_alive()
    kinesis.put_record(StreamName="w", PartitionKey="k", Data=b"woke")
    t.join(10)
    assert [r["Data"] for r in got["events"][0]["Records"]] == [b"woke"]
    # Nothing to send: one empty event when the window passes on the clock.
    t = threading.Thread(target=subscribe)
    t.start()
    t.join(0.5)
    advance_clock(endpoint, 5)
    t.join(10)
    assert got["events"][0]["Records"] == [] and got["events"][0]["MillisBehindLatest"] == 0


def test_aws_cli_consumers(aws):
    aws("kinesis", "create-stream", "--stream-name", "cli", "--shard-count", "1")
    arn = f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/cli"
    c = aws("kinesis", "register-stream-consumer", "--stream-arn", arn, "--consumer-name", "cli-app")["Consumer"]
    assert c["ConsumerARN"].startswith(f"{arn}/consumer/cli-app:")
    listed = aws("kinesis", "list-stream-consumers", "--stream-arn", arn)["Consumers"]
    assert [x["ConsumerName"] for x in listed] == ["cli-app"]
    d = aws("kinesis", "describe-stream-consumer", "--consumer-arn", c["ConsumerARN"])["ConsumerDescription"]
    assert d["StreamARN"] == arn and d["ConsumerStatus"] == "ACTIVE"
    aws("kinesis", "deregister-stream-consumer", "--consumer-arn", c["ConsumerARN"])
    assert aws("kinesis", "list-stream-consumers", "--stream-arn", arn)["Consumers"] == []


def test_dry_run_and_stream_creation_timestamp(kinesis):
    kinesis.create_stream(StreamName="d", ShardCount=1)
    for call in (
        lambda: kinesis.put_record(StreamName="d", PartitionKey="k", Data=b"x", DryRun=True),
        lambda: kinesis.put_records(StreamName="d", Records=[{"PartitionKey": "k", "Data": b"x"}], DryRun=True),
        lambda: kinesis.get_shard_iterator(StreamName="d", ShardId="shardId-000000000000", ShardIteratorType="LATEST", DryRun=True),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert error(e)[0] == "DryRunOperationException"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    it = kinesis.get_shard_iterator(StreamName="d", ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    with pytest.raises(ClientError) as e:
        kinesis.get_records(ShardIterator=it, DryRun=True)
    assert error(e)[0] == "DryRunOperationException"
    # Nothing was written.
    assert kinesis.get_records(ShardIterator=it)["Records"] == []
    # A dry run of a bad request gets the request's own error.
    with pytest.raises(ClientError) as e:
        kinesis.put_record(StreamName="nope", PartitionKey="k", Data=b"x", DryRun=True)
    assert error(e)[0] == "ResourceNotFoundException"
    created = kinesis.describe_stream_summary(StreamName="d")["StreamDescriptionSummary"]["StreamCreationTimestamp"]
    assert len(kinesis.list_shards(StreamName="d", StreamCreationTimestamp=created)["Shards"]) == 1
    with pytest.raises(ClientError) as e:
        kinesis.list_shards(StreamName="d", StreamCreationTimestamp=created.timestamp() - 60)
    assert error(e)[0] == "ResourceNotFoundException"


def test_eventbridge_rule_delivers_to_a_stream(kinesis, events, endpoint):
    """The `kinesis` delivery target: an EventBridge rule's event lands as one record whose data
    is the event (the partition key is the producer's business: see the EventBridge target)."""
    from conftest import settle

    kinesis.create_stream(StreamName="eb", ShardCount=2)
    events.put_rule(Name="to-kinesis", EventPattern=json.dumps({"source": ["app"]}))
    events.put_targets(
        Rule="to-kinesis", Targets=[{"Id": "k", "Arn": f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/eb"}]
    )
    sent = events.put_events(Entries=[{"Source": "app", "DetailType": "t", "Detail": json.dumps({"n": i})} for i in range(3)])
    assert sent["FailedEntryCount"] == 0
    settle(endpoint)
    got = []
    for s in kinesis.list_shards(StreamName="eb")["Shards"]:
        records, _ = read_all(kinesis, "eb", s["ShardId"])
        got += [json.loads(r["Data"]) for r in records]
    assert sorted(e["detail"]["n"] for e in got) == [0, 1, 2]
    assert sorted(e["id"] for e in got) == sorted(e["EventId"] for e in sent["Entries"])
