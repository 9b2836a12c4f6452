"""S3 Replication end to end on the manual clock: PutBucketReplication (boto3 and the AWS CLI),
object versions copied to the destination bucket with their replication status (PENDING, then
COMPLETED or FAILED, and REPLICA on the copy), the destination's own notifications for the
replica, and the source bucket's `Replication:*` events with their exact records:
OperationFailedReplication (DstBucketUnversioned, DstBucketNotFound), OperationMissedThreshold
and OperationReplicatedAfterThreshold (S3 RTC, with replication slower than 15 minutes), and
OperationNotTracked (the rule removed while an object is pending).

Replication takes `--s3-replication-seconds` on the platform clock; the tests move the clock.
"""

import datetime
import json

import pytest
from botocore.exceptions import ClientError
from conftest import advance_clock, receive, serve
from test_notifications import md5_hex, owner_principal
from test_s3_events import now, queue

ACCOUNT = "000000000000"
REGION = "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/replication"


@pytest.fixture(params=[60])
def server(tmp_path, request):
    yield from serve(tmp_path, request, ["--clock", "manual", "--s3-replication-seconds", str(request.param)])


def wire(s3, sqs):
    """Buckets `origin` -> `copies`, both versioned; `Replication:*` of `origin` to queue
    `records`, ObjectCreated of `copies` to queue `arrivals`."""
    for b in ("origin", "copies"):
        s3.create_bucket(Bucket=b)
        s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    rec_url, rec_arn = queue(sqs, "records", "s3.amazonaws.com", "arn:aws:s3:*:*:origin")
    arr_url, arr_arn = queue(sqs, "arrivals", "s3.amazonaws.com", "arn:aws:s3:*:*:copies")
    s3.put_bucket_notification_configuration(Bucket="origin", NotificationConfiguration={
        "QueueConfigurations": [{"Id": "repl", "QueueArn": rec_arn, "Events": ["s3:Replication:*"]}],
    })
    s3.put_bucket_notification_configuration(Bucket="copies", NotificationConfiguration={
        "QueueConfigurations": [{"Id": "arrivals", "QueueArn": arr_arn, "Events": ["s3:ObjectCreated:*"]}],
    })
    receive(sqs, rec_url, 1), receive(sqs, arr_url, 1)  # s3:TestEvent
    return rec_url, arr_url


def rule(rid="docs", prefix="docs/", rtc=False, metrics=True, dest="copies"):
    destination = {"Bucket": f"arn:aws:s3:::{dest}"}
    if metrics:
        destination["Metrics"] = {"Status": "Enabled", "EventThreshold": {"Minutes": 15}}
    if rtc:
        destination["ReplicationTime"] = {"Status": "Enabled", "Time": {"Minutes": 15}}
    return {
        "ID": rid,
        "Priority": 1,
        "Filter": {"Prefix": prefix},
        "Status": "Enabled",
        "DeleteMarkerReplication": {"Status": "Disabled"},
        "Destination": destination,
    }


def one(sqs, url):
    [body] = receive(sqs, url, 1)
    return body["Records"][0]


def iso_ms(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def replication_record(rec, name, obj, data, time):
    rec = json.loads(json.dumps(rec))
    rid = rec["responseElements"]["x-amz-request-id"]
    assert len(rid) == 16 and len(rec["responseElements"]["x-amz-id-2"]) == 64
    rec["responseElements"]["x-amz-id-2"] = "<host-id>"
    seq = rec["s3"]["object"].pop("sequencer")
    assert len(seq) == 18
    assert rec == {
        "eventVersion": "2.2",
        "eventSource": "aws:s3",
        "awsRegion": REGION,
        "eventTime": iso_ms(time),
        "eventName": name,
        "userIdentity": {"principalId": "s3.amazonaws.com"},
        "requestParameters": {"sourceIPAddress": "s3.amazonaws.com"},
        "responseElements": {"x-amz-request-id": rid, "x-amz-id-2": "<host-id>"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "repl",
            "bucket": {
                "name": "origin",
                "ownerIdentity": {"principalId": owner_principal()},
                "arn": "arn:aws:s3:::origin",
            },
            "object": obj,
        },
        "replicationEventData": data,
    }


def test_replication_configuration_errors(s3, aws):
    s3.create_bucket(Bucket="plain")
    s3.create_bucket(Bucket="target")
    config = {"Role": ROLE, "Rules": [rule(dest="target")]}
    with pytest.raises(ClientError) as e:
        s3.put_bucket_replication(Bucket="plain", ReplicationConfiguration=config)
    assert e.value.response["Error"]["Code"] == "InvalidRequest"
    assert e.value.response["Error"]["Message"] == (
        "Versioning must be 'Enabled' on the bucket to apply a replication configuration")
    s3.put_bucket_versioning(Bucket="plain", VersioningConfiguration={"Status": "Enabled"})
    with pytest.raises(ClientError) as e:
        s3.put_bucket_replication(Bucket="plain", ReplicationConfiguration=config)
    assert e.value.response["Error"]["Message"] == "Destination bucket must have versioning enabled."
    s3.put_bucket_versioning(Bucket="target", VersioningConfiguration={"Status": "Enabled"})
    no_marker = dict(rule(dest="target"))
    del no_marker["DeleteMarkerReplication"]
    with pytest.raises(ClientError) as e:
        s3.put_bucket_replication(Bucket="plain", ReplicationConfiguration={"Role": ROLE, "Rules": [no_marker]})
    assert e.value.response["Error"]["Message"] == (
        "DeleteMarkerReplication must be specified for this version of Cross Region Replication "
        "configuration schema.")
    with pytest.raises(ClientError) as e:
        s3.get_bucket_replication(Bucket="plain")
    assert e.value.response["Error"]["Code"] == "ReplicationConfigurationNotFoundError"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    s3.put_bucket_replication(Bucket="plain", ReplicationConfiguration=config)
    assert aws("s3api", "get-bucket-replication", "--bucket", "plain")["ReplicationConfiguration"] == config
    aws("s3api", "delete-bucket-replication", "--bucket", "plain")
    with pytest.raises(ClientError) as e:
        s3.get_bucket_replication(Bucket="plain")
    assert e.value.response["Error"]["Code"] == "ReplicationConfigurationNotFoundError"


def test_objects_replicate_and_failures_are_reported(s3, sqs, endpoint):
    rec_url, arr_url = wire(s3, sqs)
    s3.put_bucket_replication(Bucket="origin", ReplicationConfiguration={"Role": ROLE, "Rules": [rule()]})
    body = b"replicate me"
    put_at = now(endpoint)
    v = s3.put_object(Bucket="origin", Key="docs/a b.txt", Body=body)["VersionId"]
    s3.put_object(Bucket="origin", Key="other/x", Body=b"not replicated")
    assert s3.head_object(Bucket="origin", Key="docs/a b.txt")["ReplicationStatus"] == "PENDING"
    assert "ReplicationStatus" not in s3.head_object(Bucket="origin", Key="other/x")
    with pytest.raises(ClientError):
        s3.head_object(Bucket="copies", Key="docs/a b.txt")

    advance_clock(endpoint, 60)
    arrived = one(sqs, arr_url)
    assert arrived["eventName"] == "ObjectCreated:Put"
    assert arrived["eventTime"] == iso_ms(put_at + datetime.timedelta(seconds=60))
    assert arrived["s3"]["object"]["versionId"] == v
    assert arrived["s3"]["object"]["eTag"] == md5_hex(body)
    assert s3.head_object(Bucket="origin", Key="docs/a b.txt")["ReplicationStatus"] == "COMPLETED"
    replica = s3.head_object(Bucket="copies", Key="docs/a b.txt")
    assert replica["ReplicationStatus"] == "REPLICA"
    assert (replica["VersionId"], replica["ETag"]) == (v, f'"{md5_hex(body)}"')
    assert s3.get_object(Bucket="copies", Key="docs/a b.txt")["Body"].read() == body
    with pytest.raises(ClientError):
        s3.head_object(Bucket="copies", Key="other/x")

    # The destination's versioning suspended: the next version fails to replicate.
    s3.put_bucket_versioning(Bucket="copies", VersioningConfiguration={"Status": "Suspended"})
    put_at = now(endpoint)
    v2 = s3.put_object(Bucket="origin", Key="docs/a b.txt", Body=b"second")["VersionId"]
    advance_clock(endpoint, 60)
    replication_record(one(sqs, rec_url), "Replication:OperationFailedReplication", {
        "key": "docs/a+b.txt", "size": 6, "eTag": md5_hex(b"second"), "versionId": v2,
    }, {
        "replicationRuleId": "docs",
        "destinationBucket": "arn:aws:s3:::copies",
        "s3Operation": "OBJECT_PUT",
        "requestTime": iso_ms(put_at),
        "failureReason": "DstBucketUnversioned",
    }, put_at + datetime.timedelta(seconds=60))
    assert s3.head_object(Bucket="origin", Key="docs/a b.txt")["ReplicationStatus"] == "FAILED"
    assert s3.head_object(Bucket="copies", Key="docs/a b.txt")["VersionId"] == v


def test_a_missing_destination_and_a_removed_rule(s3, sqs, aws, endpoint):
    rec_url, _ = wire(s3, sqs)
    s3.create_bucket(Bucket="gone")
    s3.put_bucket_versioning(Bucket="gone", VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_replication(Bucket="origin", ReplicationConfiguration={"Role": ROLE, "Rules": [
        rule("to-gone", "tmp/", dest="gone"), rule("docs"),
    ]})
    put_at = now(endpoint)
    v = s3.put_object(Bucket="origin", Key="tmp/t", Body=b"t")["VersionId"]
    s3.delete_bucket(Bucket="gone")
    advance_clock(endpoint, 60)
    replication_record(one(sqs, rec_url), "Replication:OperationFailedReplication", {
        "key": "tmp/t", "size": 1, "eTag": md5_hex(b"t"), "versionId": v,
    }, {
        "replicationRuleId": "to-gone",
        "destinationBucket": "arn:aws:s3:::gone",
        "s3Operation": "OBJECT_PUT",
        "requestTime": iso_ms(put_at),
        "failureReason": "DstBucketNotFound",
    }, put_at + datetime.timedelta(seconds=60))

    # A rule removed while its object is pending: the object is no longer tracked.
    put_at = now(endpoint)
    v = s3.put_object(Bucket="origin", Key="docs/d", Body=b"d")["VersionId"]
    aws("s3api", "delete-bucket-replication", "--bucket", "origin")
    advance_clock(endpoint, 60)
    replication_record(one(sqs, rec_url), "Replication:OperationNotTracked", {
        "key": "docs/d", "size": 1, "eTag": md5_hex(b"d"), "versionId": v,
    }, {
        "replicationRuleId": "docs",
        "destinationBucket": "arn:aws:s3:::copies",
        "s3Operation": "OBJECT_PUT",
        "requestTime": iso_ms(put_at),
    }, put_at + datetime.timedelta(seconds=60))
    assert s3.head_object(Bucket="origin", Key="docs/d")["ReplicationStatus"] == "FAILED"


@pytest.mark.parametrize("server", [1000], indirect=True)
def test_rtc_threshold_missed_then_replicated_after_it(s3, sqs, aws, tmp_path, endpoint):
    rec_url, arr_url = wire(s3, sqs)
    config = tmp_path / "replication.json"
    config.write_text(json.dumps({"Role": ROLE, "Rules": [rule(rtc=True)]}))
    aws("s3api", "put-bucket-replication", "--bucket", "origin",
        "--replication-configuration", f"file://{config}")
    put_at = now(endpoint)
    v = s3.put_object(Bucket="origin", Key="docs/slow", Body=b"slow")["VersionId"]
    obj = {"key": "docs/slow", "size": 4, "eTag": md5_hex(b"slow"), "versionId": v}
    data = {
        "replicationRuleId": "docs",
        "destinationBucket": "arn:aws:s3:::copies",
        "s3Operation": "OBJECT_PUT",
        "requestTime": iso_ms(put_at),
    }
    advance_clock(endpoint, 900)
    replication_record(one(sqs, rec_url), "Replication:OperationMissedThreshold", obj, data,
                       put_at + datetime.timedelta(seconds=900))
    assert s3.head_object(Bucket="origin", Key="docs/slow")["ReplicationStatus"] == "PENDING"
    advance_clock(endpoint, 100)
    replication_record(one(sqs, rec_url), "Replication:OperationReplicatedAfterThreshold", obj, data,
                       put_at + datetime.timedelta(seconds=1000))
    assert one(sqs, arr_url)["s3"]["object"]["versionId"] == v
    head = aws("s3api", "head-object", "--bucket", "origin", "--key", "docs/slow")
    assert head["ReplicationStatus"] == "COMPLETED"


def test_delete_markers_replicate_when_the_rule_says_so(s3, sqs, endpoint):
    _, arr_url = wire(s3, sqs)
    with_markers = dict(rule(), DeleteMarkerReplication={"Status": "Enabled"})
    s3.put_bucket_replication(Bucket="origin", ReplicationConfiguration={"Role": ROLE, "Rules": [with_markers]})
    v = s3.put_object(Bucket="origin", Key="docs/m", Body=b"m")["VersionId"]
    advance_clock(endpoint, 60)
    assert one(sqs, arr_url)["s3"]["object"]["versionId"] == v
    marker = s3.delete_object(Bucket="origin", Key="docs/m")["VersionId"]
    advance_clock(endpoint, 60)
    versions = s3.list_object_versions(Bucket="copies", Prefix="docs/m")
    assert [m["VersionId"] for m in versions["DeleteMarkers"]] == [marker]
    assert [x["VersionId"] for x in versions["Versions"]] == [v]
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket="copies", Key="docs/m")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
