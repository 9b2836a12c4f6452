"""`s3:ReducedRedundancyLostObject`, induced through `POST /_localbridge/s3/lose-object` (S3 loses
a REDUCED_REDUNDANCY object on its own; no API call can cause it): the record on SQS, and the
object answering 405 MethodNotAllowed from then on, as the S3 Developer Guide says AWS does."""

import json

import pytest
from botocore.exceptions import ClientError
from conftest import http, receive
from test_notifications import md5_hex, owner_principal
from test_s3_events import queue

REGION = "us-east-1"


def lose(endpoint, **doc):
    status, _, body = http("POST", endpoint + "/_localbridge/s3/lose-object", json.dumps(doc).encode(),
                           {"Content-Type": "application/json"})
    return status, json.loads(body)


def test_a_lost_reduced_redundancy_object(s3, sqs, aws, endpoint):
    s3.create_bucket(Bucket="rrs")
    s3.put_bucket_versioning(Bucket="rrs", VersioningConfiguration={"Status": "Enabled"})
    url, arn = queue(sqs, "lost", "s3.amazonaws.com", "arn:aws:s3:*:*:rrs")
    aws("s3api", "put-bucket-notification-configuration", "--bucket", "rrs", "--notification-configuration",
        json.dumps({"QueueConfigurations": [
            {"Id": "lost", "QueueArn": arn, "Events": ["s3:ReducedRedundancyLostObject"]}]}))
    assert receive(sqs, url, 1)[0]["Event"] == "s3:TestEvent"
    body = b"cheap copy"
    v = s3.put_object(Bucket="rrs", Key="thumbs/a.png", Body=body, StorageClass="REDUCED_REDUNDANCY")["VersionId"]
    s3.put_object(Bucket="rrs", Key="std", Body=b"x")

    status, doc = lose(endpoint, bucket="rrs", key="std")
    assert status == 400 and "REDUCED_REDUNDANCY" in doc["message"]
    status, doc = lose(endpoint, bucket="nope", key="x")
    assert status == 404
    status, doc = lose(endpoint, bucket="rrs", key="thumbs/a.png")
    assert status == 200 and doc["lost"] is True

    [msg] = receive(sqs, url, 1)
    rec = msg["Records"][0]
    assert rec["responseElements"]["x-amz-request-id"] == doc["requestId"]
    rec["responseElements"]["x-amz-id-2"] = "<host-id>"
    rec.pop("eventTime")
    assert rec == {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": REGION,
        "eventName": "ReducedRedundancyLostObject",
        "userIdentity": {"principalId": "s3.amazonaws.com"},
        "requestParameters": {"sourceIPAddress": "s3.amazonaws.com"},
        "responseElements": {"x-amz-request-id": doc["requestId"], "x-amz-id-2": "<host-id>"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "lost",
            "bucket": {"name": "rrs", "ownerIdentity": {"principalId": owner_principal()},
                       "arn": "arn:aws:s3:::rrs"},
            "object": {"key": "thumbs/a.png", "size": len(body), "eTag": md5_hex(body), "versionId": v},
        },
    }
    for call in (s3.get_object, s3.head_object):
        with pytest.raises(ClientError) as e:
            call(Bucket="rrs", Key="thumbs/a.png")
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 405
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="rrs", Key="thumbs/a.png")
    assert e.value.response["Error"]["Code"] == "MethodNotAllowed"
    status, doc = lose(endpoint, bucket="rrs", key="thumbs/a.png")
    assert status == 400
