"""Amazon Data Firehose with boto3 and the AWS CLI against the binary: delivery streams, records
buffered by size and by interval on the manual clock into S3 objects named and laid out as AWS
names them, GZIP, custom prefixes, Lambda transformation (Ok / Dropped / ProcessingFailed and the
error output), failed S3 writes retried on the clock, EventBridge rules delivering to a stream,
the S3 notification a Firehose object fires, and AWS's errors."""

import base64
import gzip
import io
import json
import re
import sys
import zipfile

import pytest
from botocore.exceptions import ClientError

from conftest import _client, advance_clock, get_json, receive, serve, wait_until

ACCOUNT = "000000000000"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/firehose"
# <prefix><stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid><extension>
SUFFIX = r"(?P<stream>[\w.-]+)-(?P<version>\d+)-(?P<time>\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2})-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
# The manual clock's start: 2026-03-01T07:08:09Z.
START = "2026-03-01T07:08:09Z"


@pytest.fixture
def server(tmp_path, request):
    yield from serve(
        tmp_path, request,
        [
            "--clock", "manual", "--clock-start", START,
            "--lambda-runtime", f"python3.12={sys.executable}", "--lambda-python-client", "shipped",
        ],
    )


@pytest.fixture
def fh(endpoint):
    return _client("firehose", endpoint)


@pytest.fixture
def s3(endpoint):
    return _client("s3", endpoint, s3={"addressing_style": "path"})


def error(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


def create(fh, name, bucket="landing", extended=True, **dest):
    config = {"RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{bucket}", **dest}
    key = "ExtendedS3DestinationConfiguration" if extended else "S3DestinationConfiguration"
    return fh.create_delivery_stream(DeliveryStreamName=name, **{key: config})["DeliveryStreamARN"]


def objects(s3, bucket="landing", prefix=""):
    out = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return [o["Key"] for o in out]


def body(s3, key, bucket="landing"):
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def metric(endpoint, name):
    import urllib.request

    with urllib.request.urlopen(endpoint + "/_localbridge/metrics", timeout=10) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith(f"localbridge_firehose_{name} "):
                return int(float(line.split()[1]))
    raise AssertionError(f"no metric {name}")


def test_create_describe_list_tags_delete(fh, aws):
    arn = create(fh, "orders", Prefix="raw/", BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 60})
    assert arn == f"arn:aws:firehose:us-east-1:{ACCOUNT}:deliverystream/orders"
    create(fh, "legacy", extended=False)
    d = fh.describe_delivery_stream(DeliveryStreamName="orders")["DeliveryStreamDescription"]
    assert d["DeliveryStreamStatus"] == "ACTIVE" and d["DeliveryStreamType"] == "DirectPut"
    assert d["VersionId"] == "1" and d["HasMoreDestinations"] is False
    assert d["DeliveryStreamEncryptionConfiguration"] == {"Status": "DISABLED"}
    (dest,) = d["Destinations"]
    assert dest["DestinationId"] == "destinationId-000000000001"
    assert dest["ExtendedS3DestinationDescription"] == {
        "RoleARN": ROLE,
        "BucketARN": "arn:aws:s3:::landing",
        "Prefix": "raw/",
        "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60},
        "CompressionFormat": "UNCOMPRESSED",
        "EncryptionConfiguration": {"NoEncryptionConfig": "NoEncryption"},
        "CloudWatchLoggingOptions": {"Enabled": False},
        "S3BackupMode": "Disabled",
    }
    legacy = fh.describe_delivery_stream(DeliveryStreamName="legacy")["DeliveryStreamDescription"]
    assert legacy["Destinations"][0]["S3DestinationDescription"]["BufferingHints"] == {
        "SizeInMBs": 5,
        "IntervalInSeconds": 300,
    }
    fh.get_waiter("delivery_stream_exists") if "delivery_stream_exists" in fh.waiter_names else None
    assert fh.list_delivery_streams()["DeliveryStreamNames"] == ["legacy", "orders"]
    page = fh.list_delivery_streams(Limit=1)
    assert page == {"DeliveryStreamNames": ["legacy"], "HasMoreDeliveryStreams": True, "ResponseMetadata": page["ResponseMetadata"]}
    assert fh.list_delivery_streams(ExclusiveStartDeliveryStreamName="legacy")["DeliveryStreamNames"] == ["orders"]
    assert fh.list_delivery_streams(DeliveryStreamType="KinesisStreamAsSource")["DeliveryStreamNames"] == []

    fh.tag_delivery_stream(DeliveryStreamName="orders", Tags=[{"Key": "team", "Value": "a"}, {"Key": "env", "Value": "dev"}])
    fh.untag_delivery_stream(DeliveryStreamName="orders", TagKeys=["env"])
    tags = aws("firehose", "list-tags-for-delivery-stream", "--delivery-stream-name", "orders")
    assert tags == {"Tags": [{"Key": "team", "Value": "a"}], "HasMoreTags": False}

    # The AWS CLI path: create, describe, delete.
    aws(
        "firehose", "create-delivery-stream", "--delivery-stream-name", "cli",
        "--extended-s3-destination-configuration",
        json.dumps({"RoleARN": ROLE, "BucketARN": "arn:aws:s3:::landing", "CompressionFormat": "GZIP"}),
    )
    got = aws("firehose", "describe-delivery-stream", "--delivery-stream-name", "cli")
    assert got["DeliveryStreamDescription"]["Destinations"][0]["ExtendedS3DestinationDescription"]["CompressionFormat"] == "GZIP"
    aws("firehose", "delete-delivery-stream", "--delivery-stream-name", "cli")
    fh.delete_delivery_stream(DeliveryStreamName="legacy")
    assert fh.list_delivery_streams()["DeliveryStreamNames"] == ["orders"]
    with pytest.raises(ClientError) as e:
        fh.describe_delivery_stream(DeliveryStreamName="legacy")
    assert error(e) == ("ResourceNotFoundException", f"Firehose legacy under account {ACCOUNT} not found.")


def test_errors(fh):
    create(fh, "dup")
    with pytest.raises(ClientError) as e:
        create(fh, "dup")
    assert error(e)[0] == "ResourceInUseException"
    for bad, code in [
        ({"BufferingHints": {"SizeInMBs": 129}}, "ValidationException"),
        ({"BufferingHints": {"IntervalInSeconds": 901}}, "ValidationException"),
        ({"CompressionFormat": "ZIP"}, "InvalidArgumentException"),
        ({"CloudWatchLoggingOptions": {"Enabled": True, "LogGroupName": "g", "LogStreamName": "s"}}, "InvalidArgumentException"),
        ({"Prefix": "!{timestamp:yyyy}/"}, "InvalidArgumentException"),
        ({"Prefix": "x/", "ErrorOutputPrefix": "!{nope:x}"}, "InvalidArgumentException"),
        ({"DynamicPartitioningConfiguration": {"Enabled": True}}, "InvalidArgumentException"),
    ]:
        with pytest.raises(ClientError) as e:
            create(fh, "bad", **bad)
        assert error(e)[0] == code, (bad, error(e))
    with pytest.raises(ClientError) as e:
        fh.create_delivery_stream(DeliveryStreamName="bad name", ExtendedS3DestinationConfiguration={"RoleARN": ROLE, "BucketARN": "arn:aws:s3:::b"})
    assert error(e) == (
        "ValidationException",
        "1 validation error detected: Value 'bad name' at 'deliveryStreamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
    )
    with pytest.raises(ClientError) as e:
        fh.create_delivery_stream(DeliveryStreamName="bad", ExtendedS3DestinationConfiguration={"RoleARN": "nope", "BucketARN": "arn:aws:s3:::b"})
    assert error(e)[0] == "ValidationException"
    with pytest.raises(ClientError) as e:
        fh.put_record(DeliveryStreamName="missing", Record={"Data": b"x"})
    assert error(e) == ("ResourceNotFoundException", f"Firehose missing under account {ACCOUNT} not found.")
    with pytest.raises(ClientError) as e:
        fh.put_record(DeliveryStreamName="dup", Record={"Data": b"x" * 1_024_001})
    assert error(e)[0] == "ValidationException"
    with pytest.raises(ClientError) as e:
        fh.put_record_batch(DeliveryStreamName="dup", Records=[{"Data": b"x"}] * 501)
    assert error(e)[0] == "ValidationException"
    with pytest.raises(ClientError) as e:
        fh.put_record_batch(DeliveryStreamName="dup", Records=[{"Data": b"x" * 1_000_000}] * 5)
    assert error(e)[0] == "InvalidArgumentException"


def test_buffering_by_size_and_interval_with_aws_names(fh, s3, endpoint):
    s3.create_bucket(Bucket="landing")
    create(fh, "sized", BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 900})
    create(fh, "timed", Prefix="timed/", BufferingHints={"SizeInMBs": 128, "IntervalInSeconds": 60})
    # 1.5 MB: one full object (1 MiB) now, the rest on the interval.
    chunk = b"a" * 1000
    batch = [{"Data": chunk}] * 500
    for _ in range(3):
        out = fh.put_record_batch(DeliveryStreamName="sized", Records=batch)
        assert out["FailedPutCount"] == 0 and len(out["RequestResponses"]) == 500
        assert all(re.fullmatch(r"\d{56}", r["RecordId"]) for r in out["RequestResponses"])
    first = wait_until(lambda: objects(s3), what="the size-triggered object")
    assert len(first) == 1
    m = re.fullmatch(r"2026/03/01/07/" + SUFFIX, first[0])
    assert m and m["stream"] == "sized" and m["version"] == "1" and m["time"] == "2026-03-01-07-08-09", first[0]
    assert body(s3, first[0]) == chunk * 1048  # 1 MiB holds 1,048 whole records
    # Records are concatenated as sent; nothing more until the interval.
    fh.put_record(DeliveryStreamName="timed", Record={"Data": b'{"n":1}'})
    fh.put_record(DeliveryStreamName="timed", Record={"Data": b'{"n":2}'})
    advance_clock(endpoint, 59)
    assert objects(s3, prefix="timed/") == []
    advance_clock(endpoint, 1)
    (key,) = wait_until(lambda: objects(s3, prefix="timed/"), what="the interval-triggered object")
    assert re.fullmatch(r"timed/2026/03/01/07/" + SUFFIX, key), key
    assert body(s3, key) == b'{"n":1}{"n":2}'
    # The rest of the sized stream goes after its 900 s.
    advance_clock(endpoint, 900)
    wait_until(lambda: len(objects(s3, prefix="2026/")) == 2, what="the rest of the sized stream")
    total = sum(len(body(s3, k)) for k in objects(s3, prefix="2026/"))
    assert total == 1500 * 1000
    assert metric(endpoint, "records_delivered_total") == 1502


def test_gzip_and_custom_prefix(fh, s3, endpoint):
    s3.create_bucket(Bucket="landing")
    create(
        fh, "zipped", CompressionFormat="GZIP",
        Prefix="year=!{timestamp:yyyy}/month=!{timestamp:MM}/!{firehose:random-string}/",
        ErrorOutputPrefix="errors/!{firehose:error-output-type}/",
        BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 0},
    )
    data = b"".join(json.dumps({"i": i}).encode() + b"\n" for i in range(100))
    fh.put_record(DeliveryStreamName="zipped", Record={"Data": data})
    (key,) = wait_until(lambda: objects(s3), what="the gzip object")
    assert re.fullmatch(r"year=2026/month=03/[a-z0-9]{11}/" + SUFFIX + r"\.gz", key), key
    assert gzip.decompress(body(s3, key)) == data


LAMBDA = """
import base64, json
def lambda_handler(event, context):
    assert event["deliveryStreamArn"].endswith(":deliverystream/shaped"), event
    assert event["region"] == "us-east-1" and event["invocationId"]
    out = []
    for r in event["records"]:
        data = base64.b64decode(r["data"]).decode()
        assert isinstance(r["approximateArrivalTimestamp"], int)
        if data.startswith("drop"):
            out.append({"recordId": r["recordId"], "result": "Dropped", "data": r["data"]})
        elif data.startswith("fail"):
            out.append({"recordId": r["recordId"], "result": "ProcessingFailed", "data": r["data"]})
        else:
            out.append({"recordId": r["recordId"], "result": "Ok",
                        "data": base64.b64encode(data.upper().encode() + b"\\n").decode()})
    return {"records": out}
"""


def deploy(endpoint, name, code):
    lam = _client("lambda", endpoint)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", code)
    lam.create_function(
        FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.lambda_handler",
        Code={"ZipFile": buf.getvalue()}, Timeout=30,
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 100})
    return f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"


def processing(arn, retries="0"):
    return {
        "Enabled": True,
        "Processors": [{"Type": "Lambda", "Parameters": [
            {"ParameterName": "LambdaArn", "ParameterValue": arn},
            {"ParameterName": "NumberOfRetries", "ParameterValue": retries},
        ]}],
    }


def test_lambda_transformation_ok_dropped_and_processing_failed(fh, s3, endpoint):
    s3.create_bucket(Bucket="landing")
    arn = deploy(endpoint, "shaper", LAMBDA)
    create(fh, "shaped", ProcessingConfiguration=processing(arn), BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 60})
    d = fh.describe_delivery_stream(DeliveryStreamName="shaped")["DeliveryStreamDescription"]
    assert d["Destinations"][0]["ExtendedS3DestinationDescription"]["ProcessingConfiguration"] == processing(arn)
    fh.put_record_batch(
        DeliveryStreamName="shaped",
        Records=[{"Data": b"one"}, {"Data": b"drop me"}, {"Data": b"fail me"}, {"Data": b"two"}],
    )
    advance_clock(endpoint, 60)
    wait_until(lambda: len(objects(s3)) == 2, what="the data and error objects")
    (ok,) = objects(s3, prefix="2026/")
    assert re.fullmatch(r"2026/03/01/07/" + SUFFIX, ok)
    assert body(s3, ok) == b"ONE\nTWO\n"
    (failed,) = objects(s3, prefix="processing-failed/")
    assert re.fullmatch(r"processing-failed/2026/03/01/07/" + SUFFIX, failed), failed
    (doc,) = [json.loads(line) for line in body(s3, failed).splitlines()]
    assert set(doc) == {"attemptsMade", "arrivalTimestamp", "errorCode", "errorMessage", "attemptEndingTimestamp", "rawData", "lambdaArn"}
    assert doc["rawData"] == base64.b64encode(b"fail me").decode()
    assert doc["lambdaArn"] == arn and doc["attemptsMade"] == 1
    assert doc["errorCode"] == "Lambda.ProcessingFailedStatus"
    assert doc["arrivalTimestamp"] == 1772348889000
    assert metric(endpoint, "records_transform_dropped_total") == 1


def test_failed_invocations_go_to_the_error_output(fh, s3, endpoint):
    s3.create_bucket(Bucket="landing")
    arn = deploy(endpoint, "broken", "def lambda_handler(event, context):\n    raise ValueError('no')\n")
    create(fh, "broken", ProcessingConfiguration=processing(arn, retries="1"), ErrorOutputPrefix="bad/",
           BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 0})
    fh.put_record(DeliveryStreamName="broken", Record={"Data": b"x"})
    (key,) = wait_until(lambda: objects(s3), what="the error object")
    assert re.fullmatch(r"bad/" + SUFFIX, key), key
    doc = json.loads(body(s3, key))
    assert doc["errorCode"] == "Lambda.FunctionError" and doc["attemptsMade"] == 2


def test_missing_bucket_is_retried_on_the_clock_then_delivered(fh, s3, endpoint):
    create(fh, "patient", bucket="later", BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 0})
    fh.put_record(DeliveryStreamName="patient", Record={"Data": b"kept"})
    wait_until(lambda: metric(endpoint, "s3_write_failures_total") >= 1, what="a failed write")
    s3.create_bucket(Bucket="later")
    advance_clock(endpoint, 2)
    (key,) = wait_until(lambda: objects(s3, bucket="later"), what="the retried object")
    assert body(s3, key, bucket="later") == b"kept"
    assert metric(endpoint, "records_expired_total") == 0


def test_update_destination_bumps_the_version(fh, s3, endpoint, aws):
    s3.create_bucket(Bucket="landing")
    create(fh, "moving", BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 0})
    aws(
        "firehose", "update-destination", "--delivery-stream-name", "moving",
        "--current-delivery-stream-version-id", "1", "--destination-id", "destinationId-000000000001",
        "--extended-s3-destination-update", json.dumps({"Prefix": "v2/"}),
    )
    d = fh.describe_delivery_stream(DeliveryStreamName="moving")["DeliveryStreamDescription"]
    assert d["VersionId"] == "2" and "LastUpdateTimestamp" in d
    assert d["Destinations"][0]["ExtendedS3DestinationDescription"]["Prefix"] == "v2/"
    with pytest.raises(ClientError) as e:
        fh.update_destination(
            DeliveryStreamName="moving", CurrentDeliveryStreamVersionId="1",
            DestinationId="destinationId-000000000001", ExtendedS3DestinationUpdate={"Prefix": "v3/"},
        )
    assert error(e)[0] == "ConcurrentModificationException"
    fh.put_record(DeliveryStreamName="moving", Record={"Data": b"v"})
    (key,) = wait_until(lambda: objects(s3), what="the object")
    m = re.fullmatch(r"v2/2026/03/01/07/" + SUFFIX, key)
    assert m and m["version"] == "2", key


def test_eventbridge_rule_delivers_to_a_stream_and_the_object_fires_s3_events(fh, s3, endpoint):
    sqs = _client("sqs", endpoint)
    events = _client("events", endpoint)
    url = sqs.create_queue(QueueName="landed")["QueueUrl"]
    qarn = f"arn:aws:sqs:us-east-1:{ACCOUNT}:landed"
    policy = {"Statement": [{
        "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sqs:SendMessage",
        "Resource": qarn, "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::landing"}},
    }]}
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    s3.create_bucket(Bucket="landing")
    s3.put_bucket_notification_configuration(
        Bucket="landing",
        NotificationConfiguration={"QueueConfigurations": [{"QueueArn": qarn, "Events": ["s3:ObjectCreated:*"]}]},
    )
    receive(sqs, url, 1)  # s3:TestEvent
    arn = create(fh, "events", BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 60})
    events.put_rule(Name="orders", EventPattern=json.dumps({"source": ["shop"]}))
    events.put_targets(Rule="orders", Targets=[{"Id": "fh", "Arn": arn, "RoleArn": ROLE}])
    events.put_events(Entries=[{"Source": "shop", "DetailType": "Order", "Detail": json.dumps({"id": i})} for i in range(3)])
    wait_until(lambda: metric(endpoint, "records_received_total") == 3, what="three records")
    advance_clock(endpoint, 60)
    (key,) = wait_until(lambda: objects(s3), what="the object")
    text = body(s3, key).decode()
    got = [json.loads(x) for x in re.findall(r"\{\"version\".*?\}\}", text)]
    assert sorted(e["detail"]["id"] for e in got) == [0, 1, 2]
    assert all(e["source"] == "shop" and e["detail-type"] == "Order" for e in got)
    (note,) = receive(sqs, url, 1)
    (rec,) = note["Records"]
    assert rec["eventName"] == "ObjectCreated:Put" and rec["s3"]["object"]["key"] == key
    assert rec["s3"]["object"]["size"] == len(text)
    assert rec["s3"]["object"]["eTag"] == s3.head_object(Bucket="landing", Key=key)["ETag"].strip('"')


def test_kinesis_stream_as_source(fh, s3, endpoint):
    kinesis = _client("kinesis", endpoint)
    s3.create_bucket(Bucket="landing")
    kinesis.create_stream(StreamName="clicks", ShardCount=2)
    stream_arn = f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/clicks"
    with pytest.raises(ClientError) as e:
        fh.create_delivery_stream(
            DeliveryStreamName="nosource", DeliveryStreamType="KinesisStreamAsSource",
            KinesisStreamSourceConfiguration={"KinesisStreamARN": stream_arn + "x", "RoleARN": ROLE},
            ExtendedS3DestinationConfiguration={"RoleARN": ROLE, "BucketARN": "arn:aws:s3:::landing"},
        )
    assert error(e)[0] == "InvalidArgumentException"
    fh.create_delivery_stream(
        DeliveryStreamName="fromkinesis", DeliveryStreamType="KinesisStreamAsSource",
        KinesisStreamSourceConfiguration={"KinesisStreamARN": stream_arn, "RoleARN": ROLE},
        ExtendedS3DestinationConfiguration={
            "RoleARN": ROLE, "BucketARN": "arn:aws:s3:::landing", "Prefix": "k/",
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60},
        },
    )
    d = fh.describe_delivery_stream(DeliveryStreamName="fromkinesis")["DeliveryStreamDescription"]
    assert d["DeliveryStreamType"] == "KinesisStreamAsSource"
    src = d["Source"]["KinesisStreamSourceDescription"]
    assert src["KinesisStreamARN"] == stream_arn and src["RoleARN"] == ROLE and "DeliveryStartTimestamp" in src
    with pytest.raises(ClientError) as e:
        fh.put_record(DeliveryStreamName="fromkinesis", Record={"Data": b"x"})
    assert error(e) == (
        "InvalidArgumentException",
        "This operation is not permitted on KinesisStreamAsSource delivery stream type.",
    )
    sent = [f"{k}:{i};".encode() for i in range(20) for k in ("a", "b", "c")]
    kinesis.put_records(StreamName="clicks", Records=[{"Data": x, "PartitionKey": x.decode()[0]} for x in sent])
    wait_until(lambda: metric(endpoint, "records_received_total") == len(sent), what="the stream's records read")
    advance_clock(endpoint, 60)
    (key,) = wait_until(lambda: objects(s3, prefix="k/"), what="the object")
    assert re.fullmatch(r"k/2026/03/01/07/" + SUFFIX, key), key
    got = body(s3, key).decode().rstrip(";").split(";")
    assert sorted(got) == sorted(x.decode().rstrip(";") for x in sent)
    for k in "abc":  # one partition key's records stay in order
        assert [x for x in got if x.startswith(k)] == [f"{k}:{i}" for i in range(20)]


KINESIS_LAMBDA = """
import base64
def lambda_handler(event, context):
    assert event["sourceKinesisStreamArn"].endswith(":stream/taps"), event
    out = []
    for r in event["records"]:
        m = r["kinesisRecordMetadata"]
        assert m["shardId"].startswith("shardId-") and m["sequenceNumber"].isdigit(), m
        assert m["approximateArrivalTimestamp"] == r["approximateArrivalTimestamp"]
        text = m["partitionKey"] + "=" + base64.b64decode(r["data"]).decode() + "\\n"
        out.append({"recordId": r["recordId"], "result": "Ok", "data": base64.b64encode(text.encode()).decode()})
    return {"records": out}
"""


def test_kinesis_source_records_carry_their_metadata_to_the_transformation(fh, s3, endpoint):
    kinesis = _client("kinesis", endpoint)
    s3.create_bucket(Bucket="landing")
    kinesis.create_stream(StreamName="taps", ShardCount=1)
    arn = deploy(endpoint, "tapper", KINESIS_LAMBDA)
    fh.create_delivery_stream(
        DeliveryStreamName="taps", DeliveryStreamType="KinesisStreamAsSource",
        KinesisStreamSourceConfiguration={"KinesisStreamARN": f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/taps", "RoleARN": ROLE},
        ExtendedS3DestinationConfiguration={
            "RoleARN": ROLE, "BucketARN": "arn:aws:s3:::landing", "ProcessingConfiguration": processing(arn),
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60},
        },
    )
    kinesis.put_record(StreamName="taps", Data=b"1", PartitionKey="left")
    kinesis.put_record(StreamName="taps", Data=b"2", PartitionKey="right")
    wait_until(lambda: metric(endpoint, "records_received_total") == 2, what="the records read")
    advance_clock(endpoint, 60)
    (key,) = wait_until(lambda: objects(s3), what="the object")
    assert body(s3, key) == b"left=1\nright=2\n"
