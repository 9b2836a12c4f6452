"""S3 Lifecycle end to end on the manual clock: PutBucketLifecycleConfiguration (boto3 and the
AWS CLI), expiration and transition rules applied at midnight UTC, and their events
(`LifecycleTransition`, `LifecycleExpiration:Delete`, `LifecycleExpiration:DeleteMarkerCreated`)
with their exact records on SQS and their EventBridge detail (Object Storage Class Changed,
Object Deleted with reason "Lifecycle Expiration").

S3 adds a rule's days to the object's creation time (or, for a noncurrent version, to the time
it became noncurrent) and rounds up to the next midnight UTC; the clock is moved to just before
and then onto that midnight.
"""

import datetime
import email.utils
import json

import pytest
from botocore.exceptions import ClientError
from conftest import advance_clock, receive, serve
from test_notifications import md5_hex, owner_principal
from test_s3_events import now, one, wire_bucket

ACCOUNT = "000000000000"
REGION = "us-east-1"
DAY = 86_400
EMPTY_ETAG = "d41d8cd98f00b204e9800998ecf8427e"


@pytest.fixture
def server(tmp_path, request):
    yield from serve(tmp_path, request, ["--clock", "manual"])


@pytest.fixture
def wired(s3, sqs, events):
    """Bucket `life`: lifecycle events to queue `records` (configuration `aging`), and every
    aws.s3 event of the default bus to queue `bridge`."""
    return wire_bucket(s3, sqs, events, "life", "aging", ["s3:LifecycleExpiration:*", "s3:LifecycleTransition"])



def due(t, days):
    """S3's rule: `days` after `t`, rounded up to the next midnight UTC."""
    d = (t + datetime.timedelta(days=days)).date() + datetime.timedelta(days=1)
    return datetime.datetime.combine(d, datetime.time(), datetime.timezone.utc)


def move_to(endpoint, when):
    seconds = (when - now(endpoint)).total_seconds()
    assert seconds >= 0
    advance_clock(endpoint, seconds)
    assert now(endpoint) == when


def iso_ms(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def lifecycle_record(rec, name, obj, extra=None):
    """Checks the parts localbridge makes up, then compares the whole record."""
    rec = json.loads(json.dumps(rec))
    rid = rec["responseElements"]["x-amz-request-id"]
    assert len(rid) == 16 and len(rec["responseElements"]["x-amz-id-2"]) == 64
    rec["responseElements"]["x-amz-id-2"] = "<host-id>"
    seq = rec["s3"]["object"].pop("sequencer", None)
    expected = {
        "eventVersion": "2.3",
        "eventSource": "aws:s3",
        "awsRegion": REGION,
        "eventTime": rec["eventTime"],
        "eventName": name,
        "userIdentity": {"principalId": "s3.amazonaws.com"},
        "requestParameters": {"sourceIPAddress": "s3.amazonaws.com"},
        "responseElements": {"x-amz-request-id": rid, "x-amz-id-2": "<host-id>"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "aging",
            "bucket": {
                "name": "life",
                "ownerIdentity": {"principalId": owner_principal()},
                "arn": "arn:aws:s3:::life",
            },
            "object": obj,
        },
    }
    if extra:
        expected.update(extra)
    assert rec == expected
    return rid, rec["eventTime"], seq


def bridge(ev):
    assert ev["source"] == "aws.s3" and ev["account"] == ACCOUNT and ev["region"] == REGION
    assert ev["resources"] == ["arn:aws:s3:::life"]
    return ev["detail-type"], ev["detail"], ev["time"]


def test_lifecycle_configuration_round_trip_and_errors(s3, aws, wired):
    with pytest.raises(ClientError) as e:
        s3.get_bucket_lifecycle_configuration(Bucket="life")
    assert e.value.response["Error"]["Code"] == "NoSuchLifecycleConfiguration"
    assert e.value.response["Error"]["Message"] == "The lifecycle configuration does not exist"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404

    bad = [
        ({"ID": "r", "Filter": {}, "Status": "Enabled", "Expiration": {"Days": 0}},
         "InvalidArgument", "'Days' for Expiration action must be a positive integer"),
        ({"ID": "r", "Filter": {}, "Status": "Enabled",
          "Transitions": [{"Days": 10, "StorageClass": "STANDARD_IA"}]},
         "InvalidArgument",
         "'Days' in Transition action must be greater than or equal to 30 for storageClass 'STANDARD_IA'"),
        ({"ID": "r", "Filter": {}, "Status": "Enabled"},
         "InvalidRequest", "At least one action needs to be specified in a rule"),
    ]
    for rule, code, message in bad:
        with pytest.raises(ClientError) as e:
            s3.put_bucket_lifecycle_configuration(Bucket="life", LifecycleConfiguration={"Rules": [rule]})
        assert (e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]) == (code, message)
    with pytest.raises(ClientError) as e:
        s3.put_bucket_lifecycle_configuration(Bucket="life", LifecycleConfiguration={"Rules": [
            {"ID": "same", "Filter": {}, "Status": "Enabled", "Expiration": {"Days": 1}},
            {"ID": "same", "Filter": {"Prefix": "x/"}, "Status": "Enabled", "Expiration": {"Days": 2}},
        ]})
    assert e.value.response["Error"]["Message"] == "Rule ID must be unique. Found same ID for more than one rule"

    rules = [{
        "ID": "logs",
        "Filter": {"And": {"Prefix": "logs/", "Tags": [{"Key": "keep", "Value": "no"}],
                           "ObjectSizeGreaterThan": 0}},
        "Status": "Enabled",
        "Expiration": {"Days": 30},
        "NoncurrentVersionExpiration": {"NoncurrentDays": 5, "NewerNoncurrentVersions": 2},
    }]
    resp = s3.put_bucket_lifecycle_configuration(Bucket="life", LifecycleConfiguration={"Rules": rules})
    assert resp["TransitionDefaultMinimumObjectSize"] == "all_storage_classes_128K"
    got = aws("s3api", "get-bucket-lifecycle-configuration", "--bucket", "life")
    assert got == {"TransitionDefaultMinimumObjectSize": "all_storage_classes_128K", "Rules": rules}
    aws("s3api", "delete-bucket-lifecycle", "--bucket", "life")
    with pytest.raises(ClientError) as e:
        s3.get_bucket_lifecycle_configuration(Bucket="life")
    assert e.value.response["Error"]["Code"] == "NoSuchLifecycleConfiguration"


def test_transition_then_expiration_of_an_unversioned_object(s3, sqs, wired, endpoint):
    rec_url, eb_url = wired
    body = b"an old log line"
    s3.put_object(Bucket="life", Key="logs/old log.txt", Body=body)
    s3.put_object(Bucket="life", Key="data/keep.txt", Body=b"kept")
    receive(sqs, eb_url, 2)  # Object Created, twice
    upload = s3.create_multipart_upload(Bucket="life", Key="logs/big.bin")["UploadId"]
    created = now(endpoint)
    s3.put_bucket_lifecycle_configuration(
        Bucket="life",
        TransitionDefaultMinimumObjectSize="varies_by_storage_class",
        LifecycleConfiguration={"Rules": [{
            "ID": "age-logs",
            "Filter": {"Prefix": "logs/"},
            "Status": "Enabled",
            "Transitions": [{"Days": 1, "StorageClass": "GLACIER"}],
            "Expiration": {"Days": 2},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        }]},
    )
    transition_at = due(created, 1)
    move_to(endpoint, transition_at - datetime.timedelta(seconds=1))
    head = s3.head_object(Bucket="life", Key="logs/old log.txt")
    assert "StorageClass" not in head
    expiry = email.utils.format_datetime(due(created, 2), usegmt=True)
    assert head["Expiration"] == f'expiry-date="{expiry}", rule-id="age-logs"'
    assert "Expiration" not in s3.head_object(Bucket="life", Key="data/keep.txt")
    put = s3.put_object(Bucket="life", Key="logs/new.txt", Body=b"n")
    assert put["Expiration"] == (
        f'expiry-date="{email.utils.format_datetime(due(now(endpoint), 2), usegmt=True)}", rule-id="age-logs"')
    s3.delete_object(Bucket="life", Key="logs/new.txt")
    receive(sqs, eb_url, 2)  # Object Created, Object Deleted
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket="life")["Uploads"]] == [upload]

    advance_clock(endpoint, 1)
    obj = {"key": "logs/old+log.txt", "size": len(body), "eTag": md5_hex(body)}
    rid, t, seq = lifecycle_record(one(sqs, rec_url), "LifecycleTransition", obj, {
        "lifecycleEventData": {"transitionEventData": {"destinationStorageClass": "GLACIER"}},
    })
    assert t == iso_ms(transition_at) and seq is None
    detail_type, detail, time = bridge(one(sqs, eb_url))
    assert detail_type == "Object Storage Class Changed"
    assert time == transition_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert detail == {
        "version": "0",
        "bucket": {"name": "life"},
        "object": {"key": "logs/old+log.txt", "size": len(body), "etag": md5_hex(body)},
        "request-id": rid,
        "requester": "s3.amazonaws.com",
        "destination-storage-class": "GLACIER",
    }
    head = s3.head_object(Bucket="life", Key="logs/old log.txt")
    assert head["StorageClass"] == "GLACIER"
    assert "Uploads" not in s3.list_multipart_uploads(Bucket="life")  # aborted with the same run
    listed = s3.list_objects_v2(Bucket="life")["Contents"]
    assert {o["Key"]: o["StorageClass"] for o in listed} == {"data/keep.txt": "STANDARD", "logs/old log.txt": "GLACIER"}
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="life", Key="logs/old log.txt")
    assert e.value.response["Error"]["Code"] == "InvalidObjectState"

    expire_at = due(created, 2)
    move_to(endpoint, expire_at)
    rid, t, seq = lifecycle_record(one(sqs, rec_url), "LifecycleExpiration:Delete", {"key": "logs/old+log.txt"})
    assert t == iso_ms(expire_at) and len(seq) == 18
    detail_type, detail, _ = bridge(one(sqs, eb_url))
    assert detail_type == "Object Deleted"
    assert detail == {
        "version": "0",
        "bucket": {"name": "life"},
        "object": {"key": "logs/old+log.txt", "sequencer": seq[2:].lower()},
        "request-id": rid,
        "requester": "s3.amazonaws.com",
        "reason": "Lifecycle Expiration",
        "deletion-type": "Permanently Deleted",
    }
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket="life", Key="logs/old log.txt")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert s3.get_object(Bucket="life", Key="data/keep.txt")["Body"].read() == b"kept"


def test_versioned_expiration_creates_a_delete_marker_then_expires_the_noncurrent_version(
    s3, sqs, aws, wired, endpoint, tmp_path
):
    rec_url, eb_url = wired
    s3.put_bucket_versioning(Bucket="life", VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket="life", Key="doc", Body=b"v1")["VersionId"]
    one(sqs, eb_url)
    created = now(endpoint)
    config = tmp_path / "lifecycle.json"
    config.write_text(json.dumps({"Rules": [{
        "ID": "versions",
        "Filter": {"Prefix": ""},
        "Status": "Enabled",
        "Expiration": {"Days": 1},
        "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
    }]}))
    aws("s3api", "put-bucket-lifecycle-configuration", "--bucket", "life",
        "--lifecycle-configuration", f"file://{config}")

    marker_at = due(created, 1)
    move_to(endpoint, marker_at)
    rec = one(sqs, rec_url)
    marker = rec["s3"]["object"]["versionId"]
    assert marker != v1
    rid, t, seq = lifecycle_record(rec, "LifecycleExpiration:DeleteMarkerCreated",
                                   {"key": "doc", "eTag": EMPTY_ETAG, "versionId": marker})
    assert t == iso_ms(marker_at) and len(seq) == 18
    detail_type, detail, _ = bridge(one(sqs, eb_url))
    assert detail_type == "Object Deleted"
    assert detail == {
        "version": "0",
        "bucket": {"name": "life"},
        "object": {"key": "doc", "etag": EMPTY_ETAG, "version-id": marker, "sequencer": seq[2:].lower()},
        "request-id": rid,
        "requester": "s3.amazonaws.com",
        "reason": "Lifecycle Expiration",
        "deletion-type": "Delete Marker Created",
    }
    versions = s3.list_object_versions(Bucket="life")
    [dm] = versions["DeleteMarkers"]
    assert dm["VersionId"] == marker and dm["IsLatest"]
    assert dm["LastModified"] == marker_at  # the marker is dated midnight, as S3 Lifecycle dates it
    assert [v["VersionId"] for v in versions["Versions"]] == [v1]

    # v1 became noncurrent at the marker's midnight: one day later, rounded up.
    removed_at = due(marker_at, 1)
    move_to(endpoint, removed_at)
    rid, t, _ = lifecycle_record(one(sqs, rec_url), "LifecycleExpiration:Delete", {"key": "doc", "versionId": v1})
    assert t == iso_ms(removed_at)
    detail_type, detail, _ = bridge(one(sqs, eb_url))
    assert (detail_type, detail["deletion-type"], detail["object"]["version-id"]) == (
        "Object Deleted", "Permanently Deleted", v1)
    versions = s3.list_object_versions(Bucket="life")
    assert "Versions" not in versions and len(versions["DeleteMarkers"]) == 1
