"""S3 Intelligent-Tiering archive tiers end to end on the manual clock: the configuration
operations (boto3 and the AWS CLI), an INTELLIGENT_TIERING object not read for the configured
days moving to ARCHIVE_ACCESS at midnight UTC (`s3:IntelligentTiering` record, EventBridge
"Object Access Tier Changed", `x-amz-archive-status`, reads refused), a read resetting the count,
and RestoreObject without Days bringing it back (`ObjectRestore:Post`, `ObjectRestore:Completed`).
"""

import datetime

import pytest
from botocore.exceptions import ClientError
from conftest import advance_clock, receive, serve
from test_notifications import md5_hex, owner_principal
from test_s3_events import now, wire_bucket
from test_s3_lifecycle import due, move_to

ACCOUNT = "000000000000"
REGION = "us-east-1"
RESTORE_SECONDS = 60


@pytest.fixture
def server(tmp_path, request):
    yield from serve(tmp_path, request, ["--clock", "manual", "--s3-restore-seconds", str(RESTORE_SECONDS)])


@pytest.fixture
def wired(s3, sqs, events):
    return wire_bucket(s3, sqs, events, "tiers", "tiers", ["s3:IntelligentTiering", "s3:ObjectRestore:*"],
                       rule="tiering", detail_types=["Object Access Tier Changed", "Object Restore Completed"])


CONFIG = {
    "Id": "archive",
    "Filter": {"Prefix": "cold/"},
    "Status": "Enabled",
    "Tierings": [
        {"Days": 90, "AccessTier": "ARCHIVE_ACCESS"},
        {"Days": 180, "AccessTier": "DEEP_ARCHIVE_ACCESS"},
    ],
}


def test_configuration_operations(s3, aws, wired):
    bad = dict(CONFIG, Tierings=[{"Days": 89, "AccessTier": "ARCHIVE_ACCESS"}])
    with pytest.raises(ClientError) as e:
        s3.put_bucket_intelligent_tiering_configuration(
            Bucket="tiers", Id="archive", IntelligentTieringConfiguration=bad)
    assert e.value.response["Error"]["Code"] == "InvalidArgument"
    s3.put_bucket_intelligent_tiering_configuration(Bucket="tiers", Id="archive", IntelligentTieringConfiguration=CONFIG)
    got = aws("s3api", "get-bucket-intelligent-tiering-configuration", "--bucket", "tiers", "--id", "archive")
    assert got["IntelligentTieringConfiguration"] == CONFIG
    listed = s3.list_bucket_intelligent_tiering_configurations(Bucket="tiers")
    assert listed["IntelligentTieringConfigurationList"] == [CONFIG] and not listed["IsTruncated"]
    aws("s3api", "delete-bucket-intelligent-tiering-configuration", "--bucket", "tiers", "--id", "archive")
    with pytest.raises(ClientError) as e:
        s3.get_bucket_intelligent_tiering_configuration(Bucket="tiers", Id="archive")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_unread_objects_move_to_the_archive_tier_and_restore(s3, sqs, wired, endpoint):
    rec_url, eb_url = wired
    s3.put_bucket_intelligent_tiering_configuration(Bucket="tiers", Id="archive", IntelligentTieringConfiguration=CONFIG)
    body = b"rarely read"
    created = now(endpoint)
    s3.put_object(Bucket="tiers", Key="cold/a", Body=body, StorageClass="INTELLIGENT_TIERING")
    s3.put_object(Bucket="tiers", Key="cold/b", Body=b"read", StorageClass="INTELLIGENT_TIERING")
    s3.put_object(Bucket="tiers", Key="warm/c", Body=b"c", StorageClass="INTELLIGENT_TIERING")

    # cold/b is read on day 50: its 90 days start again.
    move_to(endpoint, created + datetime.timedelta(days=50))
    assert s3.get_object(Bucket="tiers", Key="cold/b")["Body"].read() == b"read"

    archived_at = due(created, 90)
    move_to(endpoint, archived_at)
    [body_msg] = receive(sqs, rec_url, 1)
    rec = body_msg["Records"][0]
    rid = rec["responseElements"]["x-amz-request-id"]
    rec["responseElements"]["x-amz-id-2"] = "<host-id>"
    assert rec == {
        "eventVersion": "2.3",
        "eventSource": "aws:s3",
        "awsRegion": REGION,
        "eventTime": archived_at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "eventName": "IntelligentTiering",
        "userIdentity": {"principalId": "s3.amazonaws.com"},
        "requestParameters": {"sourceIPAddress": "s3.amazonaws.com"},
        "responseElements": {"x-amz-request-id": rid, "x-amz-id-2": "<host-id>"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "tiers",
            "bucket": {
                "name": "tiers",
                "ownerIdentity": {"principalId": owner_principal()},
                "arn": "arn:aws:s3:::tiers",
            },
            "object": {"key": "cold/a", "size": len(body), "eTag": md5_hex(body)},
        },
        "intelligentTieringEventData": {"destinationAccessTier": "ARCHIVE_ACCESS"},
    }
    [ev] = receive(sqs, eb_url, 1)
    assert ev["detail-type"] == "Object Access Tier Changed"
    assert ev["time"] == archived_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ev["detail"] == {
        "version": "0",
        "bucket": {"name": "tiers"},
        "object": {"key": "cold/a", "size": len(body), "etag": md5_hex(body)},
        "request-id": rid,
        "requester": "s3.amazonaws.com",
        "destination-access-tier": "ARCHIVE_ACCESS",
    }
    head = s3.head_object(Bucket="tiers", Key="cold/a")
    assert (head["StorageClass"], head["ArchiveStatus"]) == ("INTELLIGENT_TIERING", "ARCHIVE_ACCESS")
    for key in ("cold/b", "warm/c"):
        assert "ArchiveStatus" not in s3.head_object(Bucket="tiers", Key=key)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="tiers", Key="cold/a")
    assert e.value.response["Error"]["Code"] == "InvalidObjectState"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403

    # Restored without Days: back to the Frequent Access tier.
    resp = s3.restore_object(Bucket="tiers", Key="cold/a", RestoreRequest={})
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 202
    [post] = receive(sqs, rec_url, 1)
    assert post["Records"][0]["eventName"] == "ObjectRestore:Post"
    assert s3.head_object(Bucket="tiers", Key="cold/a")["Restore"] == 'ongoing-request="true"'
    advance_clock(endpoint, RESTORE_SECONDS)
    [completed] = receive(sqs, rec_url, 1)
    assert completed["Records"][0]["eventName"] == "ObjectRestore:Completed"
    [ev] = receive(sqs, eb_url, 1)
    assert ev["detail-type"] == "Object Restore Completed"
    assert ev["detail"] == {
        "version": "0",
        "bucket": {"name": "tiers"},
        "object": {"key": "cold/a", "size": len(body), "etag": md5_hex(body)},
        "request-id": post["Records"][0]["responseElements"]["x-amz-request-id"],
        "requester": "s3.amazonaws.com",
        "source-storage-class": "INTELLIGENT_TIERING",
    }
    head = s3.head_object(Bucket="tiers", Key="cold/a")
    assert "ArchiveStatus" not in head and "Restore" not in head
    assert s3.get_object(Bucket="tiers", Key="cold/a")["Body"].read() == body
