"""The S3 event types beyond create/remove/tagging, end to end on the manual clock: ObjectAcl:Put
(PutObjectAcl) and the restore of archived objects (ObjectRestore:Post, Completed, Delete), with
their exact records on an SQS queue and their EventBridge detail (default bus -> rule -> SQS).

Restores run on the platform clock: the server is started with `--s3-restore-seconds 60`, and
each stage is reached by moving the manual clock (`advance_clock`), never by sleeping.
"""

import datetime
import email.utils
import json
import math

import pytest
from botocore.exceptions import ClientError
from conftest import advance_clock, receive, serve
from test_notifications import md5_hex, owner_principal, user_principal

ACCOUNT = "000000000000"
REGION = "us-east-1"
RESTORE_SECONDS = 60
DAY = 86_400


@pytest.fixture
def server(tmp_path, request):
    yield from serve(tmp_path, request, ["--clock", "manual", "--s3-restore-seconds", str(RESTORE_SECONDS)])


def queue(sqs, name, principal, source_arn):
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
    policy = {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": principal},
            "Action": "sqs:SendMessage",
            "Resource": arn,
            "Condition": {"ArnLike": {"aws:SourceArn": source_arn}},
        }],
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    return url, arn


def wire_bucket(s3, sqs, events, bucket, config_id, event_names, rule="s3-all", detail_types=None):
    """Creates `bucket` and sends its `event_names` to queue `records` (configuration
    `config_id`), and EventBridge's aws.s3 events (of `detail_types`, or all) through the default
    bus's `rule` to queue `bridge`; consumes the test event. Returns the two queue URLs."""
    s3.create_bucket(Bucket=bucket)
    rec_url, rec_arn = queue(sqs, "records", "s3.amazonaws.com", f"arn:aws:s3:*:*:{bucket}")
    rule_arn = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule}"
    eb_url, eb_arn = queue(sqs, "bridge", "events.amazonaws.com", rule_arn)
    pattern = {"source": ["aws.s3"]}
    if detail_types:
        pattern["detail-type"] = list(detail_types)
    events.put_rule(Name=rule, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": eb_arn}])
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [{"Id": config_id, "QueueArn": rec_arn, "Events": list(event_names)}],
            "EventBridgeConfiguration": {},
        },
    )
    [test_event] = receive(sqs, rec_url, 1)
    assert test_event["Event"] == "s3:TestEvent"
    return rec_url, eb_url


@pytest.fixture
def wired(s3, sqs, events):
    """Bucket `vault`: every restore and ACL event to queue `records`, and to EventBridge, whose
    default bus sends every aws.s3 event to queue `bridge`."""
    return wire_bucket(s3, sqs, events, "vault", "cold", ["s3:ObjectRestore:*", "s3:ObjectAcl:Put"])


def one(sqs, url):
    [body] = receive(sqs, url, 1)
    assert list(body) == ["Records"] or "detail-type" in body, body
    return body["Records"][0] if "Records" in body else body


def now(endpoint):
    return datetime.datetime.fromisoformat(advance_clock(endpoint, 0)["now"].replace("Z", "+00:00"))


def iso_ms(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def record(name, version, obj, request_id, extra=None):
    r = {
        "eventVersion": version,
        "eventSource": "aws:s3",
        "awsRegion": REGION,
        "eventTime": "<time>",
        "eventName": name,
        "userIdentity": {"principalId": user_principal()},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": request_id, "x-amz-id-2": "<host-id>"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "cold",
            "bucket": {
                "name": "vault",
                "ownerIdentity": {"principalId": owner_principal()},
                "arn": "arn:aws:s3:::vault",
            },
            "object": obj,
        },
    }
    if extra:
        r.update(extra)
    return r


def strip(rec):
    """The record with its time and host id replaced (checked separately)."""
    rec = json.loads(json.dumps(rec))
    t = rec.pop("eventTime")
    rec["eventTime"] = "<time>"
    rec["responseElements"]["x-amz-id-2"] = "<host-id>"
    seq = rec["s3"]["object"].pop("sequencer", None)
    return rec, t, seq


def bridge(ev):
    assert ev["source"] == "aws.s3" and ev["account"] == ACCOUNT and ev["region"] == REGION
    assert ev["resources"] == ["arn:aws:s3:::vault"]
    return ev["detail-type"], ev["detail"], ev["time"]


def test_put_object_acl_emits_object_acl_put(s3, sqs, aws, wired):
    rec_url, eb_url = wired
    body = b"acl me"
    s3.put_object(Bucket="vault", Key="a b.txt", Body=body)
    one(sqs, eb_url)  # Object Created (EventBridge gets every event)
    resp = s3.put_object_acl(Bucket="vault", Key="a b.txt", ACL="public-read")
    rid = resp["ResponseMetadata"]["RequestId"]
    rec, _, seq = strip(one(sqs, rec_url))
    assert seq is None
    assert rec == record("ObjectAcl:Put", "2.3", {"key": "a+b.txt", "eTag": md5_hex(body)}, rid)
    detail_type, detail, _ = bridge(one(sqs, eb_url))
    assert detail_type == "Object ACL Updated"
    assert detail == {
        "version": "0",
        "bucket": {"name": "vault"},
        "object": {"key": "a+b.txt", "etag": md5_hex(body)},
        "request-id": rid,
        "requester": ACCOUNT,
        "source-ip-address": "127.0.0.1",
    }
    grants = aws("s3api", "get-object-acl", "--bucket", "vault", "--key", "a b.txt")["Grants"]
    assert {"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"},
            "Permission": "READ"} in grants
    with pytest.raises(ClientError) as e:
        s3.put_object_acl(Bucket="vault", Key="missing", ACL="private")
    assert e.value.response["Error"]["Code"] == "NoSuchKey"


def test_restore_of_an_archived_object(s3, sqs, aws, wired, endpoint):
    rec_url, eb_url = wired
    body = b"frozen"
    s3.put_object(Bucket="vault", Key="cold.bin", Body=body, StorageClass="GLACIER")
    one(sqs, eb_url)  # Object Created

    # An archived object is not readable, and not restorable without days.
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="vault", Key="cold.bin")
    assert e.value.response["Error"]["Code"] == "InvalidObjectState"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "Restore" not in s3.head_object(Bucket="vault", Key="cold.bin")

    started = now(endpoint)
    resp = s3.restore_object(Bucket="vault", Key="cold.bin", RestoreRequest={"Days": 2})
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 202
    rid = resp["ResponseMetadata"]["RequestId"]
    obj = {"key": "cold.bin", "size": len(body), "eTag": md5_hex(body)}

    rec, t, seq = strip(one(sqs, rec_url))
    assert rec == record("ObjectRestore:Post", "2.1", obj, rid)
    assert t == iso_ms(started) and seq is not None
    detail_type, detail, _ = bridge(one(sqs, eb_url))
    assert detail_type == "Object Restore Initiated"
    assert detail == {
        "version": "0",
        "bucket": {"name": "vault"},
        "object": {"key": "cold.bin", "size": len(body), "etag": md5_hex(body)},
        "request-id": rid,
        "requester": ACCOUNT,
        "source-ip-address": "127.0.0.1",
        "source-storage-class": "GLACIER",
    }
    head = s3.head_object(Bucket="vault", Key="cold.bin")
    assert head["Restore"] == 'ongoing-request="true"'
    assert head["StorageClass"] == "GLACIER"
    with pytest.raises(ClientError) as e:
        s3.restore_object(Bucket="vault", Key="cold.bin", RestoreRequest={"Days": 2})
    assert e.value.response["Error"]["Code"] == "RestoreAlreadyInProgress"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409

    # Completion, on the clock.
    advance_clock(endpoint, RESTORE_SECONDS)
    completed = started + datetime.timedelta(seconds=RESTORE_SECONDS)
    expiry_day = (completed + datetime.timedelta(days=2)).date() + datetime.timedelta(days=1)
    expiry = datetime.datetime.combine(expiry_day, datetime.time(), datetime.timezone.utc)
    rec, t, seq = strip(one(sqs, rec_url))
    assert rec == record("ObjectRestore:Completed", "2.1", obj, rid, {
        "glacierEventData": {"restoreEventData": {
            "lifecycleRestorationExpiryTime": iso_ms(expiry),
            "lifecycleRestoreStorageClass": "GLACIER",
        }},
    })
    assert t == iso_ms(completed) and seq is not None
    detail_type, detail, _ = bridge(one(sqs, eb_url))
    assert detail_type == "Object Restore Completed"
    assert detail == {
        "version": "0",
        "bucket": {"name": "vault"},
        "object": {"key": "cold.bin", "size": len(body), "etag": md5_hex(body)},
        "request-id": rid,
        "requester": "s3.amazonaws.com",
        "restore-expiry-time": expiry.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "source-storage-class": "GLACIER",
    }
    head = aws("s3api", "head-object", "--bucket", "vault", "--key", "cold.bin")
    assert head["Restore"] == f'ongoing-request="false", expiry-date="{email.utils.format_datetime(expiry, usegmt=True)}"'
    assert s3.get_object(Bucket="vault", Key="cold.bin")["Body"].read() == body

    # Expiry of the restored copy, on the clock.
    advance_clock(endpoint, math.ceil((expiry - completed).total_seconds()))
    rec, t, seq = strip(one(sqs, rec_url))
    assert rec == record("ObjectRestore:Delete", "2.3", obj, rid)
    assert t == iso_ms(expiry) and seq is None
    detail_type, detail, _ = bridge(one(sqs, eb_url))
    assert detail_type == "Object Restore Expired"
    assert detail == {
        "version": "0",
        "bucket": {"name": "vault"},
        "object": {"key": "cold.bin", "size": len(body), "etag": md5_hex(body)},
        "request-id": rid,
        "requester": "s3.amazonaws.com",
    }
    assert "Restore" not in s3.head_object(Bucket="vault", Key="cold.bin")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="vault", Key="cold.bin")
    assert e.value.response["Error"]["Code"] == "InvalidObjectState"


def test_restore_is_refused_for_objects_not_archived(s3, wired):
    s3.put_object(Bucket="vault", Key="warm", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.restore_object(Bucket="vault", Key="warm", RestoreRequest={"Days": 1})
    assert e.value.response["Error"]["Code"] == "InvalidObjectState"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as e:
        s3.restore_object(Bucket="vault", Key="nothing", RestoreRequest={"Days": 1})
    assert e.value.response["Error"]["Code"] == "NoSuchKey"
