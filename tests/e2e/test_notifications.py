"""S3 event notifications end to end: the User Guide's walkthrough with the AWS CLI, every write
path with boto3, and every validation error, against the real binary.

Records are compared field for field with the exact JSON AWS delivers. Volatile fields are
checked for form and consistency (ids equal to the response's and unique per request,
sequencers increasing, eventTime equal to the server's clock), then compared too.

Every server here runs on the manual clock (`--clock manual`): it holds still, and each
`Window` moves it forward, so an event's time is known exactly. No test sleeps: a message that
should arrive is long-polled (the receive returns the moment it arrives); one that should not is
checked after the delivery engine has settled every delivery (`/_localbridge/health`), and the
ledger (`/_localbridge/ledger`) says what became of each.

Values localbridge derives (see crates/s3/src/notify/record.rs and fixtures/s3-events/README.md):
userIdentity.principalId = "AWS:AIDA" + base32(md5("localbridge:user:" + access key))[:17],
ownerIdentity.principalId = "A" + base32(md5("localbridge:owner:" + account))[:13].
"""

import base64
import datetime
import hashlib
import json
import re
import time
import uuid

import pytest
from botocore.exceptions import ClientError
from conftest import advance_clock, get_json, health, http, ledger, receive, settle

ACCOUNT = "000000000000"
REGION = "us-east-1"
ACCESS_KEY = "test"
EMPTY_ETAG = "d41d8cd98f00b204e9800998ecf8427e"

REQUEST_ID = re.compile(r"^[0-9A-Z]{16}$")
HOST_ID = re.compile(r"^[A-Za-z0-9+/=]{24,}$")
SEQUENCER = re.compile(r"^[0-9A-F]{18}$")
TIME_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def user_principal(access_key=ACCESS_KEY):
    digest = hashlib.md5(f"localbridge:user:{access_key}".encode()).digest()
    return "AWS:AIDA" + base64.b32encode(digest).decode()[:17]


def owner_principal(account=ACCOUNT):
    digest = hashlib.md5(f"localbridge:owner:{account}".encode()).digest()
    return "A" + base64.b32encode(digest).decode()[:13]


def md5_hex(data):
    return hashlib.md5(data).hexdigest()


# --------------------------------------------------------------------------------------------
# Queues and messages


def queue_policy(queue_arn, bucket):
    """The walkthrough's access policy: S3 may send for this bucket, from this account."""
    return {
        "Version": "2012-10-17",
        "Id": "example-ID",
        "Statement": [
            {
                "Sid": "example-statement-ID",
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": ["SQS:SendMessage"],
                "Resource": queue_arn,
                "Condition": {
                    "ArnLike": {"aws:SourceArn": f"arn:aws:s3:*:*:{bucket}"},
                    "StringEquals": {"aws:SourceAccount": ACCOUNT},
                },
            }
        ],
    }


def make_queue(sqs, name, bucket=None):
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert arn == f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
    if bucket is not None:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(queue_policy(arn, bucket))})
    return url, arn


@pytest.fixture
def server(manual):
    """The server on the manual clock (see the module's docstring)."""
    return manual


def assert_no_message(sqs, url):
    """Nothing (more) was delivered to `url`: checked once every delivery has its fate."""
    settle(sqs.meta.endpoint_url)
    resp = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    assert resp.get("Messages", []) == [], [m["Body"] for m in resp["Messages"]]


def records(bodies):
    out = []
    for b in bodies:
        assert list(b) == ["Records"], b
        assert len(b["Records"]) == 1, b
        out.append(b["Records"][0])
    return out


# --------------------------------------------------------------------------------------------
# Expected JSON


def parse_time(stamp):
    return datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)


class Window:
    """Moves the server's manual clock forward (by 1 s, so consecutive windows differ) and
    holds it there: the requests that follow, until the next window, happen at exactly `now`."""

    def __init__(self, client):
        self.now = parse_time(advance_clock(client.meta.endpoint_url, 1)["now"])

    def close(self):
        return self

    def check(self, stamp):
        assert TIME_MS.match(stamp), stamp
        assert parse_time(stamp) == self.now, (stamp, self.now)


def expected_record(event_name, bucket, key, obj, config_id, version="2.1"):
    return {
        "eventVersion": version,
        "eventSource": "aws:s3",
        "awsRegion": REGION,
        "eventTime": "<time>",
        "eventName": event_name,
        "userIdentity": {"principalId": user_principal()},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": "<request-id>", "x-amz-id-2": "<host-id>"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": config_id,
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": owner_principal()},
                "arn": f"arn:aws:s3:::{bucket}",
            },
            "object": {"key": key, **obj},
        },
    }


def check_record(actual, expected, window, response=None):
    """Checks the volatile fields of `actual`, then compares it with `expected` exactly.
    `response` (boto3's ResponseMetadata of the request that caused the event) pins the ids."""
    actual = json.loads(json.dumps(actual))
    window.check(actual["eventTime"])
    rid = actual["responseElements"]["x-amz-request-id"]
    hid = actual["responseElements"]["x-amz-id-2"]
    assert REQUEST_ID.match(rid), rid
    assert HOST_ID.match(hid), hid
    if response is not None:
        assert rid == response["RequestId"], "x-amz-request-id is the response's"
        assert hid == response["HostId"], "x-amz-id-2 is the response's"
    actual["eventTime"] = "<time>"
    actual["responseElements"] = {"x-amz-request-id": "<request-id>", "x-amz-id-2": "<host-id>"}
    obj = actual["s3"]["object"]
    if "sequencer" in obj:
        assert SEQUENCER.match(obj["sequencer"]), obj["sequencer"]
    assert actual == expected, json.dumps(actual, indent=2)
    return rid


def seq_key(s):
    """AWS: compare sequencers after padding the shorter with zeros."""
    return s.ljust(32, "0")


# --------------------------------------------------------------------------------------------
# The walkthrough, with the AWS CLI


def test_walkthrough_queue_gets_test_event_and_records(aws, aws_raw, sqs, s3, tmp_path):
    url, arn = make_queue(sqs, "photos-events", bucket="photos")
    aws_raw("s3", "mb", "s3://photos", check=True)
    config = {
        "QueueConfigurations": [
            {
                "Id": "thumbs",
                "QueueArn": arn,
                "Events": ["s3:ObjectCreated:*"],
                "Filter": {
                    "Key": {"FilterRules": [{"Name": "prefix", "Value": "images/"}, {"Name": "suffix", "Value": ".jpg"}]}
                },
            }
        ]
    }
    (tmp_path / "n.json").write_text(json.dumps(config))
    window = Window(s3)
    aws_raw(
        "s3api", "put-bucket-notification-configuration", "--bucket", "photos",
        "--notification-configuration", "file://n.json", check=True,
    )

    [test_event] = receive(sqs, url, 1)
    window.close().check(test_event["Time"])
    assert REQUEST_ID.match(test_event["RequestId"]), test_event
    assert HOST_ID.match(test_event["HostId"]), test_event
    assert test_event == {
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": test_event["Time"],
        "Bucket": "photos",
        "RequestId": test_event["RequestId"],
        "HostId": test_event["HostId"],
    }
    assert list(test_event) == ["Service", "Event", "Time", "Bucket", "RequestId", "HostId"]

    stored = aws("s3api", "get-bucket-notification-configuration", "--bucket", "photos")
    config["QueueConfigurations"][0]["Filter"]["Key"]["FilterRules"] = [
        {"Name": "Prefix", "Value": "images/"},
        {"Name": "Suffix", "Value": ".jpg"},
    ]
    assert stored == config

    photo = b"\xff\xd8\xff\xe0 not really a jpeg " * 100
    (tmp_path / "beach photo.jpg").write_bytes(photo)
    window = Window(s3)
    aws_raw("s3", "cp", "beach photo.jpg", "s3://photos/images/beach photo.jpg", check=True)
    [first] = records(receive(sqs, url, 1))
    # A second write of the same key, with boto3 to see the response's ids.
    resp = s3.put_object(Bucket="photos", Key="images/beach photo.jpg", Body=photo + b"!")
    [second] = records(receive(sqs, url, 1))
    window.close()

    key = "images/beach+photo.jpg"
    rid1 = check_record(
        first,
        expected_record(
            "ObjectCreated:Put", "photos", key,
            {"size": len(photo), "eTag": md5_hex(photo), "sequencer": first["s3"]["object"].get("sequencer")},
            "thumbs",
        ),
        window,
    )
    rid2 = check_record(
        second,
        expected_record(
            "ObjectCreated:Put", "photos", key,
            {"size": len(photo) + 1, "eTag": md5_hex(photo + b"!"), "sequencer": second["s3"]["object"].get("sequencer")},
            "thumbs",
        ),
        window,
        response=resp["ResponseMetadata"],
    )
    assert rid1 != rid2, "request ids are unique per request"
    assert first["responseElements"]["x-amz-id-2"] != second["responseElements"]["x-amz-id-2"]
    assert seq_key(first["s3"]["object"]["sequencer"]) < seq_key(second["s3"]["object"]["sequencer"])
    # Field order as AWS writes it.
    assert list(first) == [
        "eventVersion", "eventSource", "awsRegion", "eventTime", "eventName", "userIdentity",
        "requestParameters", "responseElements", "s3",
    ]
    assert list(first["s3"]["object"]) == ["key", "size", "eTag", "sequencer"]


# --------------------------------------------------------------------------------------------
# Every write path, with boto3


@pytest.fixture
def everything(s3, sqs):
    """Bucket `events` whose every create, remove and tagging event goes to one queue."""
    s3.create_bucket(Bucket="events")
    url, arn = make_queue(sqs, "all-events", bucket="events")
    s3.put_bucket_notification_configuration(
        Bucket="events",
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "Id": "all",
                    "QueueArn": arn,
                    "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*", "s3:ObjectTagging:*"],
                }
            ]
        },
    )
    [test_event] = receive(sqs, url, 1)
    assert test_event["Event"] == "s3:TestEvent"
    return url


def one_record(sqs, url):
    return records(receive(sqs, url, 1))[0]


def created(name, key, body, seq, version_id=None):
    obj = {"size": len(body), "eTag": md5_hex(body)}
    if version_id is not None:
        obj["versionId"] = version_id
    obj["sequencer"] = seq
    return expected_record(name, "events", key, obj, "all")


def test_put_copy_and_delete(s3, sqs, everything):
    url = everything
    window = Window(s3)
    body = b"hello world\n"
    put = s3.put_object(Bucket="events", Key="docs/a b.txt", Body=body)
    rec = one_record(sqs, url)
    window.close()
    check_record(rec, created("ObjectCreated:Put", "docs/a+b.txt", body, rec["s3"]["object"].get("sequencer")), window,
                 put["ResponseMetadata"])

    window = Window(s3)
    copy = s3.copy_object(Bucket="events", Key="docs/copy@1.txt", CopySource={"Bucket": "events", "Key": "docs/a b.txt"})
    rec = one_record(sqs, url)
    window.close()
    check_record(rec, created("ObjectCreated:Copy", "docs/copy%401.txt", body, rec["s3"]["object"].get("sequencer")),
                 window, copy["ResponseMetadata"])

    window = Window(s3)
    delete = s3.delete_object(Bucket="events", Key="docs/a b.txt")
    rec = one_record(sqs, url)
    window.close()
    check_record(
        rec,
        expected_record("ObjectRemoved:Delete", "events", "docs/a+b.txt",
                        {"sequencer": rec["s3"]["object"].get("sequencer")}, "all"),
        window,
        delete["ResponseMetadata"],
    )
    assert_no_message(sqs, url)


def post_object(s3, bucket, key, body):
    """Uploads with a browser-style POST (a presigned POST policy signed with the test key)."""
    post = s3.generate_presigned_post(Bucket=bucket, Key=key)
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in post["fields"].items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="form.txt"\r\n'
        f"Content-Type: text/plain\r\n\r\n".encode() + body + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    status, headers, body = http(
        "POST", post["url"], b"".join(parts), {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    if status >= 400:
        pytest.fail(f"POST Object failed: {status} {body[:500]!r}")
    assert status in (200, 201, 204)
    return headers


def test_post_object(s3, sqs, everything):
    url = everything
    body = b"posted by a browser form\n"
    window = Window(s3)
    headers = post_object(s3, "events", "uploads/form.txt", body)
    rec = one_record(sqs, url)
    window.close()
    expected = created("ObjectCreated:Post", "uploads/form.txt", body, rec["s3"]["object"].get("sequencer"))
    # The caller's principal is checked by test_post_object_principal_is_the_policy_signer.
    expected["userIdentity"] = rec["userIdentity"]
    check_record(rec, expected, window, {"RequestId": headers["x-amz-request-id"], "HostId": headers["x-amz-id-2"]})


def test_post_object_principal_is_the_policy_signer(s3, sqs, everything):
    url = everything
    post_object(s3, "events", "uploads/signed.txt", b"x")
    rec = one_record(sqs, url)
    assert rec["userIdentity"] == {"principalId": user_principal()}


def test_multipart_upload_emits_only_its_completion(s3, sqs, everything):
    url = everything
    part1 = b"a" * (5 * 1024 * 1024)
    part2 = b"b" * 1024
    window = Window(s3)
    mpu = s3.create_multipart_upload(Bucket="events", Key="big/file.bin")
    etags = []
    for n, data in enumerate([part1, part2], start=1):
        r = s3.upload_part(Bucket="events", Key="big/file.bin", UploadId=mpu["UploadId"], PartNumber=n, Body=data)
        etags.append(r["ETag"])
    assert_no_message(sqs, url)
    done = s3.complete_multipart_upload(
        Bucket="events", Key="big/file.bin", UploadId=mpu["UploadId"],
        MultipartUpload={"Parts": [{"ETag": e, "PartNumber": n} for n, e in enumerate(etags, start=1)]},
    )
    rec = one_record(sqs, url)
    window.close()
    multipart_etag = hashlib.md5(hashlib.md5(part1).digest() + hashlib.md5(part2).digest()).hexdigest() + "-2"
    assert done["ETag"].strip('"') == multipart_etag
    check_record(
        rec,
        expected_record(
            "ObjectCreated:CompleteMultipartUpload", "events", "big/file.bin",
            {"size": len(part1) + len(part2), "eTag": multipart_etag, "sequencer": rec["s3"]["object"].get("sequencer")},
            "all",
        ),
        window,
        done["ResponseMetadata"],
    )
    assert_no_message(sqs, url)


def test_delete_objects_emits_one_event_per_key(s3, sqs, everything):
    url = everything
    keys = ["batch/1.txt", "batch/2 two.txt", "batch/3.txt"]
    for k in keys:
        s3.put_object(Bucket="events", Key=k, Body=b"x")
    receive(sqs, url, 3)
    window = Window(s3)
    resp = s3.delete_objects(Bucket="events", Delete={"Objects": [{"Key": k} for k in keys]})
    recs = records(receive(sqs, url, 3))
    window.close()
    assert sorted(d["Key"] for d in resp["Deleted"]) == sorted(keys)
    by_key = {r["s3"]["object"]["key"]: r for r in recs}
    assert sorted(by_key) == ["batch/1.txt", "batch/2+two.txt", "batch/3.txt"]
    rids = set()
    for key, rec in by_key.items():
        rids.add(
            check_record(
                rec,
                expected_record("ObjectRemoved:Delete", "events", key,
                                {"sequencer": rec["s3"]["object"].get("sequencer")}, "all"),
                window,
                resp["ResponseMetadata"],
            )
        )
    assert len(rids) == 1, "one request"
    assert_no_message(sqs, url)


def test_tagging_put_and_delete(s3, sqs, everything):
    url = everything
    body = b"tag me"
    s3.put_object(Bucket="events", Key="t/obj.txt", Body=body)
    one_record(sqs, url)
    window = Window(s3)
    put = s3.put_object_tagging(Bucket="events", Key="t/obj.txt", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    rec = one_record(sqs, url)
    window.close()
    check_record(
        rec,
        expected_record("ObjectTagging:Put", "events", "t/obj.txt", {"eTag": md5_hex(body)}, "all", version="2.3"),
        window,
        put["ResponseMetadata"],
    )
    window = Window(s3)
    delete = s3.delete_object_tagging(Bucket="events", Key="t/obj.txt")
    rec = one_record(sqs, url)
    window.close()
    check_record(
        rec,
        expected_record("ObjectTagging:Delete", "events", "t/obj.txt", {"eTag": md5_hex(body)}, "all", version="2.3"),
        window,
        delete["ResponseMetadata"],
    )


def test_versioned_bucket_put_and_delete_marker(s3, sqs, everything):
    url = everything
    s3.put_bucket_versioning(Bucket="events", VersioningConfiguration={"Status": "Enabled"})
    body = b"version one"
    window = Window(s3)
    put = s3.put_object(Bucket="events", Key="v/obj.txt", Body=body)
    rec = one_record(sqs, url)
    window.close()
    check_record(
        rec,
        created("ObjectCreated:Put", "v/obj.txt", body, rec["s3"]["object"].get("sequencer"), version_id=put["VersionId"]),
        window,
        put["ResponseMetadata"],
    )
    window = Window(s3)
    delete = s3.delete_object(Bucket="events", Key="v/obj.txt")
    rec = one_record(sqs, url)
    window.close()
    assert delete["DeleteMarker"] is True
    check_record(
        rec,
        expected_record(
            "ObjectRemoved:DeleteMarkerCreated", "events", "v/obj.txt",
            {"eTag": EMPTY_ETAG, "versionId": delete["VersionId"], "sequencer": rec["s3"]["object"].get("sequencer")},
            "all",
        ),
        window,
        delete["ResponseMetadata"],
    )
    # Permanently deleting a version is ObjectRemoved:Delete, with the version's id.
    window = Window(s3)
    gone = s3.delete_object(Bucket="events", Key="v/obj.txt", VersionId=put["VersionId"])
    rec = one_record(sqs, url)
    window.close()
    check_record(
        rec,
        expected_record(
            "ObjectRemoved:Delete", "events", "v/obj.txt",
            {"versionId": put["VersionId"], "sequencer": rec["s3"]["object"].get("sequencer")},
            "all",
        ),
        window,
        gone["ResponseMetadata"],
    )


def test_non_matching_keys_produce_nothing(s3, sqs):
    s3.create_bucket(Bucket="photos")
    url, arn = make_queue(sqs, "jpgs", bucket="photos")
    s3.put_bucket_notification_configuration(
        Bucket="photos",
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "Id": "jpgs",
                    "QueueArn": arn,
                    "Events": ["s3:ObjectCreated:Put"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "Prefix", "Value": "images/"}, {"Name": "Suffix", "Value": ".jpg"}]}},
                }
            ]
        },
    )
    receive(sqs, url, 1)  # s3:TestEvent
    for key in ["docs/a.jpg", "images/a.png", "images/a.JPG", "Images/a.jpg", "a.jpg"]:
        s3.put_object(Bucket="photos", Key=key, Body=b"x")
    s3.copy_object(Bucket="photos", Key="images/copied.jpg", CopySource={"Bucket": "photos", "Key": "docs/a.jpg"})
    s3.delete_object(Bucket="photos", Key="docs/a.jpg")
    assert_no_message(sqs, url)
    s3.put_object(Bucket="photos", Key="images/yes.jpg", Body=b"x")
    [rec] = records(receive(sqs, url, 1))
    assert rec["s3"]["object"]["key"] == "images/yes.jpg"


# --------------------------------------------------------------------------------------------
# Validation


def put_error(s3, bucket, config, skip=None):
    kwargs = {"Bucket": bucket, "NotificationConfiguration": config}
    if skip is not None:
        kwargs["SkipDestinationValidation"] = skip
    with pytest.raises(ClientError) as e:
        s3.put_bucket_notification_configuration(**kwargs)
    meta = e.value.response["ResponseMetadata"]
    assert meta["HTTPStatusCode"] == 400
    assert REQUEST_ID.match(meta.get("RequestId", "")), meta
    return dict(e.value.response["Error"])


def queue_config(arn, events=("s3:ObjectCreated:*",), rules=None, id=None):
    c = {"QueueArn": arn, "Events": list(events)}
    if rules is not None:
        c["Filter"] = {"Key": {"FilterRules": [{"Name": n, "Value": v} for n, v in rules]}}
    if id is not None:
        c["Id"] = id
    return c


def validation_cases(s3, sqs):
    """(configuration, expected Error) pairs: code, message and AWS's extra elements."""
    s3.create_bucket(Bucket="strict")
    url, arn = make_queue(sqs, "strict-q", bucket="strict")
    _, unpermitted = make_queue(sqs, "no-policy")
    missing = f"arn:aws:sqs:{REGION}:{ACCOUNT}:my-queue"
    missing2 = f"arn:aws:sqs:{REGION}:{ACCOUNT}:my-queue-2"
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:my-topic"
    function = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:my-lambda"
    bad = "InvalidArgument"

    cases = [
        (
            {"QueueConfigurations": [queue_config(arn, rules=[("INVALID", "x")])]},
            {"Code": bad, "Message": "filter rule name must be either prefix or suffix",
             "ArgumentName": "FilterRule.Name", "ArgumentValue": "INVALID"},
        ),
        (
            {"QueueConfigurations": [queue_config(arn, rules=[("prefix", "a"), ("Prefix", "b")])]},
            {"Code": bad, "Message": "Cannot specify more than one prefix rule in a filter."},
        ),
        (
            {"QueueConfigurations": [queue_config(arn, rules=[("suffix", "a"), ("suffix", "b")])]},
            {"Code": bad, "Message": "Cannot specify more than one suffix rule in a filter."},
        ),
        (
            {"QueueConfigurations": [queue_config(arn, rules=[("prefix", "x" * 1025)])]},
            {"Code": bad, "Message": "Size of filter rule value cannot exceed 1024 bytes in UTF-8 representation"},
        ),
        (
            {"QueueConfigurations": [queue_config(arn, events=["s3:ObjectCreated:Get"])]},
            {"Code": bad, "Message": "The event is not supported for notifications"},
        ),
        (
            {"QueueConfigurations": [queue_config("invalid-queue")]},
            {"Code": bad, "Message": "The ARN could not be parsed", "ArgumentName": "Queue", "ArgumentValue": "invalid-queue"},
        ),
        (
            {"TopicConfigurations": [{"TopicArn": "invalid-topic", "Events": ["s3:ObjectCreated:*"]}]},
            {"Code": bad, "Message": "The ARN could not be parsed", "ArgumentName": "Topic", "ArgumentValue": "invalid-topic"},
        ),
        (
            {"QueueConfigurations": [queue_config(arn, rules=[("prefix", "images/")]),
                                     queue_config(arn, events=["s3:ObjectCreated:Put"], rules=[("prefix", "images/2024/")])]},
            {"Code": bad, "Message": "Configurations overlap. Configurations on the same bucket cannot share a common event type."},
        ),
        (
            {"QueueConfigurations": [queue_config(missing)]},
            {"Code": bad, "Message": "Unable to validate the following destination configurations",
             "ArgumentName1": missing, "ArgumentValue1": "The destination queue does not exist"},
        ),
        (
            {"QueueConfigurations": [queue_config(missing), queue_config(missing2, events=["s3:ObjectRemoved:*"])]},
            {"Code": bad, "Message": "Unable to validate the following destination configurations",
             "ArgumentName1": missing, "ArgumentValue1": "The destination queue does not exist",
             "ArgumentName2": missing2, "ArgumentValue2": "The destination queue does not exist"},
        ),
        (
            {"QueueConfigurations": [queue_config(unpermitted)]},
            {"Code": bad, "Message": "Unable to validate the following destination configurations",
             "ArgumentName1": unpermitted,
             "ArgumentValue1": "Permissions on the destination queue do not allow S3 to publish notifications from this bucket"},
        ),
        (
            {"TopicConfigurations": [{"TopicArn": topic, "Events": ["s3:ObjectCreated:*"]}]},
            {"Code": bad, "Message": "Unable to validate the following destination configurations",
             "ArgumentName1": topic, "ArgumentValue1": "The destination topic does not exist"},
        ),
        (
            {"LambdaFunctionConfigurations": [{"LambdaFunctionArn": function, "Events": ["s3:ObjectCreated:*"]}]},
            {"Code": bad, "Message": "Unable to validate the following destination configurations",
             "ArgumentName1": f"{function}, null", "ArgumentValue1": f"Not authorized to invoke function [{function}]"},
        ),
    ]
    return url, arn, cases


def compare_errors(s3, cases, keys=None):
    failures = []
    for config, expected in cases:
        err = put_error(s3, "strict", config)
        got = {k: v for k, v in err.items() if k not in ("RequestId", "HostId")}
        if keys is not None:
            got = {k: v for k, v in got.items() if k in keys}
            expected = {k: v for k, v in expected.items() if k in keys}
        if got != expected:
            failures.append((expected["Message"], got, expected))
    assert not failures, "\n".join(f"{m}:\n  got      {g}\n  expected {e}" for m, g, e in failures)


def test_validation_errors(s3, sqs):
    url, arn, cases = validation_cases(s3, sqs)
    compare_errors(s3, cases, keys=("Code", "Message"))
    # Nothing was stored and no test event was sent.
    assert s3.get_bucket_notification_configuration(Bucket="strict").get("QueueConfigurations") is None
    assert_no_message(sqs, url)

    # The ARN check holds even when destination validation is skipped.
    err = put_error(s3, "strict", {"QueueConfigurations": [queue_config("invalid-queue")]}, skip=True)
    assert (err["Code"], err["Message"]) == ("InvalidArgument", "The ARN could not be parsed")

    with pytest.raises(ClientError) as e:
        s3.put_bucket_notification_configuration(
            Bucket="no-such-bucket", NotificationConfiguration={"QueueConfigurations": [queue_config(arn)]}
        )
    assert e.value.response["Error"]["Code"] == "NoSuchBucket"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_validation_errors_carry_aws_extra_elements(s3, sqs):
    _, _, cases = validation_cases(s3, sqs)
    compare_errors(s3, cases)


def test_skip_destination_validation(aws, aws_raw, s3, sqs, tmp_path):
    s3.create_bucket(Bucket="skipper")
    url, arn = make_queue(sqs, "real-q", bucket="skipper")
    missing = f"arn:aws:sqs:{REGION}:{ACCOUNT}:my-queue"
    function = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:not-yet"
    config = {
        "QueueConfigurations": [
            {"Id": "id123", "QueueArn": missing, "Events": ["s3:ObjectCreated:*"]},
            {"Id": "real", "QueueArn": arn, "Events": ["s3:ObjectRemoved:*"]},
        ],
        "LambdaFunctionConfigurations": [
            {"Id": "fn", "LambdaFunctionArn": function, "Events": ["s3:ObjectTagging:*"]},
        ],
    }
    (tmp_path / "n.json").write_text(json.dumps(config))
    failed = aws_raw(
        "s3api", "put-bucket-notification-configuration", "--bucket", "skipper",
        "--notification-configuration", "file://n.json",
    )
    assert failed.returncode != 0
    assert "InvalidArgument" in failed.stderr and "Unable to validate the following destination configurations" in failed.stderr
    aws_raw(
        "s3api", "put-bucket-notification-configuration", "--bucket", "skipper",
        "--notification-configuration", "file://n.json", "--skip-destination-validation", check=True,
    )
    assert aws("s3api", "get-bucket-notification-configuration", "--bucket", "skipper") == config
    assert_no_message(sqs, url)  # no s3:TestEvent when validation is skipped
    s3.put_object(Bucket="skipper", Key="k", Body=b"x")  # goes to the missing queue: dropped
    s3.delete_object(Bucket="skipper", Key="k")
    [rec] = records(receive(sqs, url, 1))
    assert rec["eventName"] == "ObjectRemoved:Delete"
    assert rec["s3"]["configurationId"] == "real"


def test_rejected_configuration_leaves_the_old_one(s3, sqs):
    s3.create_bucket(Bucket="keep")
    url, arn = make_queue(sqs, "keep-q", bucket="keep")
    good = {"QueueConfigurations": [queue_config(arn, rules=[("prefix", "in/")], id="good")]}
    s3.put_bucket_notification_configuration(Bucket="keep", NotificationConfiguration=good)
    receive(sqs, url, 1)  # s3:TestEvent
    before = s3.get_bucket_notification_configuration(Bucket="keep")
    before.pop("ResponseMetadata")
    missing = f"arn:aws:sqs:{REGION}:{ACCOUNT}:nope"
    for bad in [
        {"QueueConfigurations": [queue_config(arn, events=["s3:ObjectRemoved:*"], id="new"), queue_config(missing, id="x")]},
        {"QueueConfigurations": [queue_config(arn, events=["s3:ObjectRemoved:*"], rules=[("middle", "x")])]},
    ]:
        put_error(s3, "keep", bad)
        after = s3.get_bucket_notification_configuration(Bucket="keep")
        after.pop("ResponseMetadata")
        assert after == before
    assert_no_message(sqs, url)
    s3.put_object(Bucket="keep", Key="in/a.txt", Body=b"x")
    s3.delete_object(Bucket="keep", Key="in/a.txt")
    [rec] = records(receive(sqs, url, 1))
    assert rec["eventName"] == "ObjectCreated:Put" and rec["s3"]["configurationId"] == "good"
    assert_no_message(sqs, url)


def test_generated_ids_and_empty_configuration(s3, sqs):
    s3.create_bucket(Bucket="ids")
    url, arn = make_queue(sqs, "ids-q", bucket="ids")
    s3.put_bucket_notification_configuration(Bucket="ids", NotificationConfiguration={"QueueConfigurations": [queue_config(arn)]})
    receive(sqs, url, 1)
    [stored] = s3.get_bucket_notification_configuration(Bucket="ids")["QueueConfigurations"]
    # AWS: the base64 of a random UUID.
    assert str(uuid.UUID(base64.b64decode(stored["Id"]).decode())) == base64.b64decode(stored["Id"]).decode()
    s3.put_object(Bucket="ids", Key="a", Body=b"x")
    [rec] = records(receive(sqs, url, 1))
    assert rec["s3"]["configurationId"] == stored["Id"]

    s3.put_bucket_notification_configuration(Bucket="ids", NotificationConfiguration={})
    got = s3.get_bucket_notification_configuration(Bucket="ids")
    got.pop("ResponseMetadata")
    assert got == {}
    s3.put_object(Bucket="ids", Key="b", Body=b"x")
    assert_no_message(sqs, url)


def test_eventbridge_configuration_delivers_to_the_default_bus(aws, s3, endpoint):
    """S3 hands the aws.s3 event to the default bus of the bucket's region (routing to rules:
    test_events_routing.py); the delivery is in the ledger under the bucket."""
    s3.create_bucket(Bucket="bus")
    aws("s3api", "put-bucket-notification-configuration", "--bucket", "bus",
        "--notification-configuration", '{"EventBridgeConfiguration": {}}')
    assert aws("s3api", "get-bucket-notification-configuration", "--bucket", "bus") == {"EventBridgeConfiguration": {}}
    before = settle(endpoint)
    put = s3.put_object(Bucket="bus", Key="a", Body=b"x")
    after = settle(endpoint)
    assert after["submitted"] == before["submitted"] + 1
    assert after["delivered"] == before["delivered"] + 1
    [rec] = ledger(endpoint, producer="arn:aws:s3:::bus")
    assert rec["producer"] == {"arn": "arn:aws:s3:::bus"}, "EventBridge has no configuration Id"
    assert rec["target"] == f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"
    assert rec["fate"] == "delivered", rec
    assert rec["eventId"] == put["ResponseMetadata"]["RequestId"]


# --------------------------------------------------------------------------------------------
# Deletes of missing keys, suspended versioning


def test_deletes_of_missing_keys_emit_too(s3, sqs, everything):
    """AWS's recording: DeleteObjects naming one existing and two missing keys gives three
    `ObjectRemoved:Delete` events. A single DeleteObject of a missing key (a 204 success) emits
    one as well (see crates/s3/src/api/object.rs for why)."""
    url = everything
    s3.put_object(Bucket="events", Key="there", Body=b"x")
    receive(sqs, url, 1)
    window = Window(s3)
    resp = s3.delete_objects(
        Bucket="events",
        Delete={"Objects": [{"Key": "there"}, {"Key": "dummy1"}, {"Key": "dummy2"}], "Quiet": True},
    )
    recs = sorted(records(receive(sqs, url, 3)), key=lambda r: r["s3"]["object"]["key"])
    assert [r["s3"]["object"]["key"] for r in recs] == ["dummy1", "dummy2", "there"]
    for rec in recs:
        check_record(
            rec,
            expected_record("ObjectRemoved:Delete", "events", rec["s3"]["object"]["key"],
                            {"sequencer": rec["s3"]["object"].get("sequencer")}, "all"),
            window,
            resp["ResponseMetadata"],
        )
    window = Window(s3)
    gone = s3.delete_object(Bucket="events", Key="never-was")
    assert gone["ResponseMetadata"]["HTTPStatusCode"] == 204
    rec = one_record(sqs, url)
    check_record(
        rec,
        expected_record("ObjectRemoved:Delete", "events", "never-was",
                        {"sequencer": rec["s3"]["object"].get("sequencer")}, "all"),
        window,
        gone["ResponseMetadata"],
    )
    assert_no_message(sqs, url)


def test_suspended_versioning_records_carry_no_version_id(s3, sqs, everything):
    url = everything
    for status in ["Enabled", "Suspended"]:
        s3.put_bucket_versioning(Bucket="events", VersioningConfiguration={"Status": status})
    body = b"null version"
    window = Window(s3)
    put = s3.put_object(Bucket="events", Key="s/obj.txt", Body=body)
    assert "VersionId" not in put, "PutObject answers no VersionId (recorded from AWS)"
    rec = one_record(sqs, url)
    check_record(rec, created("ObjectCreated:Put", "s/obj.txt", body, rec["s3"]["object"].get("sequencer")),
                 window, put["ResponseMetadata"])
    copy = s3.copy_object(Bucket="events", Key="s/copy.txt", CopySource={"Bucket": "events", "Key": "s/obj.txt"})
    assert "VersionId" not in copy
    rec = one_record(sqs, url)
    assert rec["eventName"] == "ObjectCreated:Copy" and "versionId" not in rec["s3"]["object"], rec
    # The delete marker a suspended bucket creates is the null version too.
    s3.delete_object(Bucket="events", Key="s/obj.txt")
    rec = one_record(sqs, url)
    assert rec["eventName"] == "ObjectRemoved:DeleteMarkerCreated", rec
    assert list(rec["s3"]["object"]) == ["key", "eTag", "sequencer"], rec


# --------------------------------------------------------------------------------------------
# The ledger: what became of each event


def test_ledger_records_each_delivery(s3, sqs, endpoint, everything):
    url = everything
    put = s3.put_object(Bucket="events", Key="l/a.txt", Body=b"x")
    one_record(sqs, url)
    settle(endpoint)
    recs = ledger(endpoint, producer="arn:aws:s3:::events")
    assert [r["fate"] for r in recs] == ["delivered", "delivered"], recs  # the record, the test event
    rec = recs[0]
    assert rec["producer"] == {"arn": "arn:aws:s3:::events", "id": "all"}
    assert rec["target"] == f"arn:aws:sqs:{REGION}:{ACCOUNT}:all-events"
    assert rec["eventId"] == put["ResponseMetadata"]["RequestId"]
    assert [a["outcome"] for a in rec["attempts"]] == ["delivered"]
    assert "reason" not in rec or rec["reason"] is None
    assert recs[1]["producer"] == {"arn": "arn:aws:s3:::events"}, "s3:TestEvent"
    assert ledger(endpoint, producer="arn:aws:s3:::events", fate="dropped") == []
    assert len(ledger(endpoint, producer="arn:aws:s3:::events", limit=1)) == 1


@pytest.mark.parametrize("change", ["removed", "explicit-deny", "other-bucket"])
def test_a_queue_policy_changed_after_configuration_stops_delivery(s3, sqs, endpoint, change):
    """The queue's policy is evaluated at delivery, not only when the configuration is saved: once
    it no longer lets S3 send for this bucket, the next event is not delivered, and the ledger
    says why."""
    s3.create_bucket(Bucket="revoked")
    url, arn = make_queue(sqs, "revoked-q", bucket="revoked")
    s3.put_bucket_notification_configuration(
        Bucket="revoked",
        NotificationConfiguration={"QueueConfigurations": [queue_config(arn, id="revoked")]},
    )
    receive(sqs, url, 1)  # s3:TestEvent
    s3.put_object(Bucket="revoked", Key="before", Body=b"x")
    receive(sqs, url, 1)
    if change == "removed":
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": ""})
    elif change == "explicit-deny":
        policy = queue_policy(arn, "revoked")
        policy["Statement"].append({
            "Sid": "deny-s3", "Effect": "Deny", "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "SQS:SendMessage", "Resource": arn,
        })
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    else:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(queue_policy(arn, "someone-else"))})
    put = s3.put_object(Bucket="revoked", Key="after", Body=b"x")
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 200, "the S3 call itself succeeds"
    assert_no_message(sqs, url)
    [rec] = ledger(endpoint, producer="arn:aws:s3:::revoked", fate="dropped")
    assert rec["producer"] == {"arn": "arn:aws:s3:::revoked", "id": "revoked"}
    assert rec["target"] == arn
    assert rec["eventId"] == put["ResponseMetadata"]["RequestId"]
    assert "AccessDenied" in rec["reason"], rec
    assert [a["outcome"] for a in rec["attempts"]] == ["access-denied"], rec
    delivered = ledger(endpoint, producer="arn:aws:s3:::revoked", fate="delivered")
    assert len(delivered) == 2, "the test event and the first record"
