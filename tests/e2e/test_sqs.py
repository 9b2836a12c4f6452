"""SQS end to end: boto3 (AWS JSON 1.0), the AWS CLI, and the query protocol by hand, against the
real binary. Expected values come from AWS's documentation and recorded AWS responses."""

import base64
import hashlib
import json
import struct
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET

import pytest
from botocore.exceptions import ClientError

from conftest import advance_clock, default_client, http, wait_in_flight

NS = {"sqs": "http://queue.amazonaws.com/doc/2012-11-05/"}
ACCOUNT = "000000000000"


def md5_of_attributes(attrs):
    """MD5OfMessageAttributes as AWS documents it (and the Java/Ruby/JS SDKs verify it)."""
    buf = b""
    for name in sorted(attrs):
        a = attrs[name]
        dt = a["DataType"]
        buf += struct.pack(">I", len(name.encode())) + name.encode()
        buf += struct.pack(">I", len(dt.encode())) + dt.encode()
        if dt.startswith("Binary"):
            v = a["BinaryValue"]
            buf += b"\x02" + struct.pack(">I", len(v)) + v
        else:
            v = a["StringValue"].encode()
            buf += b"\x01" + struct.pack(">I", len(v)) + v
    return hashlib.md5(buf).hexdigest()


def md5(s):
    return hashlib.md5(s.encode()).hexdigest()


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def query(endpoint, params, path="/"):
    """One query-protocol request (form POST, unsigned); returns (status, parsed XML root)."""
    data = urllib.parse.urlencode(dict(params, Version="2012-11-05")).encode()
    status, _, body = http("POST", endpoint + path, data, {"Content-Type": "application/x-www-form-urlencoded"})
    return status, ET.fromstring(body)


def text(root, path):
    node = root.find(path, NS)
    return None if node is None else node.text


def run_until_done(endpoint, thread, step_seconds, wall_limit=10):
    """Advances the manual clock by `step_seconds` until `thread` ends (or `wall_limit` passes);
    returns how many steps it took."""
    steps = 0
    deadline = time.monotonic() + wall_limit
    while thread.is_alive() and time.monotonic() < deadline:
        advance_clock(endpoint, step_seconds)
        steps += 1
        thread.join(0.05)
    assert not thread.is_alive(), "the receive never returned"
    return steps


# ---- queues ------------------------------------------------------------------------------------


def test_create_list_paginate_and_attributes(sqs, endpoint):
    urls = [sqs.create_queue(QueueName=f"page-{i}")["QueueUrl"] for i in range(5)]
    sqs.create_queue(QueueName="other")
    assert urls[0] == f"{endpoint}/{ACCOUNT}/page-0"
    assert sqs.get_queue_url(QueueName="page-3")["QueueUrl"] == urls[3]

    assert len(sqs.list_queues()["QueueUrls"]) == 6
    seen, kwargs = [], {"QueueNamePrefix": "page-", "MaxResults": 2}
    while True:
        page = sqs.list_queues(**kwargs)
        assert len(page["QueueUrls"]) <= 2
        seen += page["QueueUrls"]
        if "NextToken" not in page:
            break
        kwargs["NextToken"] = page["NextToken"]
    assert seen == urls
    # boto3's own paginator agrees.
    paged = [u for p in sqs.get_paginator("list_queues").paginate(PaginationConfig={"PageSize": 4}) for u in p["QueueUrls"]]
    assert sorted(paged) == sorted(urls + [f"{endpoint}/{ACCOUNT}/other"])
    assert "QueueUrls" not in sqs.list_queues(QueueNamePrefix="none-")

    attrs = sqs.get_queue_attributes(QueueUrl=urls[0], AttributeNames=["All"])["Attributes"]
    assert set(attrs) == {
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesDelayed",
        "ApproximateNumberOfMessagesNotVisible",
        "CreatedTimestamp",
        "DelaySeconds",
        "LastModifiedTimestamp",
        "MaximumMessageSize",
        "MessageRetentionPeriod",
        "QueueArn",
        "ReceiveMessageWaitTimeSeconds",
        "SqsManagedSseEnabled",
        "VisibilityTimeout",
    }
    assert attrs["QueueArn"] == f"arn:aws:sqs:us-east-1:{ACCOUNT}:page-0"
    assert attrs["MaximumMessageSize"] == "1048576"
    assert attrs["VisibilityTimeout"] == "30"
    assert abs(int(attrs["CreatedTimestamp"]) - time.time()) < 60

    sqs.set_queue_attributes(QueueUrl=urls[0], Attributes={"VisibilityTimeout": "69", "DelaySeconds": "420"})
    got = sqs.get_queue_attributes(QueueUrl=urls[0], AttributeNames=["VisibilityTimeout", "DelaySeconds"])
    assert got["Attributes"] == {"VisibilityTimeout": "69", "DelaySeconds": "420"}
    with pytest.raises(ClientError) as e:
        sqs.set_queue_attributes(QueueUrl=urls[0], Attributes={"VisibilityTimeout": "43201"})
    assert error_code(e) == "InvalidAttributeValue"
    with pytest.raises(ClientError) as e:
        sqs.get_queue_attributes(QueueUrl=urls[0], AttributeNames=["Nope"])
    assert error_code(e) == "InvalidAttributeName"

    sqs.tag_queue(QueueUrl=urls[0], Tags={"tag1": "value1", "tag2": "value2", "tag3": ""})
    assert sqs.list_queue_tags(QueueUrl=urls[0])["Tags"] == {"tag1": "value1", "tag2": "value2", "tag3": ""}
    sqs.untag_queue(QueueUrl=urls[0], TagKeys=["tag1", "tag3"])
    assert sqs.list_queue_tags(QueueUrl=urls[0])["Tags"] == {"tag2": "value2"}

    sqs.delete_queue(QueueUrl=urls[0])
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName="page-0")


def test_create_is_idempotent_and_conflicts_as_aws(sqs):
    a = sqs.create_queue(QueueName="idem", Attributes={"DelaySeconds": "1"})["QueueUrl"]
    assert sqs.create_queue(QueueName="idem", Attributes={"DelaySeconds": "1"})["QueueUrl"] == a
    with pytest.raises(ClientError) as e:
        sqs.create_queue(QueueName="idem", Attributes={"DelaySeconds": "2"})
    err = e.value.response["Error"]
    assert err["Code"] == "QueueAlreadyExists"
    assert err["QueryErrorCode"] == "QueueNameExists"
    assert err["Message"] == "A queue already exists with the same name and a different value for attribute DelaySeconds"
    for bad in ["has space", "x" * 81, "dot.ted"]:
        with pytest.raises(ClientError) as e:
            sqs.create_queue(QueueName=bad)
        assert error_code(e) == "InvalidParameterValue"
    with pytest.raises(ClientError) as e:
        sqs.create_queue(QueueName="nofifo", Attributes={"FifoQueue": "true"})
    assert error_code(e) == "InvalidParameterValue"


def test_errors_have_aws_codes(sqs, endpoint):
    with pytest.raises(ClientError) as e:
        sqs.get_queue_url(QueueName="missing")
    err = e.value.response["Error"]
    assert err == {
        "Code": "AWS.SimpleQueueService.NonExistentQueue",
        "Message": "The specified queue does not exist.",
        "QueryErrorCode": "QueueDoesNotExist",
        "Type": "Sender",
    }
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.send_message(QueueUrl=f"{endpoint}/{ACCOUNT}/missing", MessageBody="x")


# ---- messages ----------------------------------------------------------------------------------


def test_round_trip_with_attributes_and_exact_md5s(sqs):
    url = sqs.create_queue(QueueName="roundtrip")["QueueUrl"]
    attrs = {
        "General": {"DataType": "String", "StringValue": "Kenobi"},
        "Hello": {"DataType": "String", "StringValue": "There"},
        "Help.Me": {"DataType": "String", "StringValue": "Me"},
        "Count": {"DataType": "Number.int", "StringValue": "42"},
        "Blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xff"},
    }
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    body = 'héllo\r\n"world" <&> 日本'
    sent = sqs.send_message(
        QueueUrl=url,
        MessageBody=body,
        MessageAttributes=attrs,
        MessageSystemAttributes={"AWSTraceHeader": {"DataType": "String", "StringValue": trace}},
    )
    assert sent["MD5OfMessageBody"] == md5(body)
    assert sent["MD5OfMessageAttributes"] == md5_of_attributes(attrs)
    assert sent["MD5OfMessageSystemAttributes"] == "5ae4d5d7636402d80f4eb6d213245a88"
    # The value AWS itself returned for these three attributes.
    three = {k: attrs[k] for k in ["General", "Hello", "Help.Me"]}
    assert md5_of_attributes(three) == "4c360f3fdafd970e05fae2f149d997f5"

    got = sqs.receive_message(
        QueueUrl=url, MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"], VisibilityTimeout=0
    )["Messages"]
    assert len(got) == 1
    m = got[0]
    assert m["Body"] == body
    assert m["MessageId"] == sent["MessageId"]
    assert m["MD5OfBody"] == md5(body)
    assert m["MessageAttributes"] == attrs
    assert m["MD5OfMessageAttributes"] == md5_of_attributes(attrs)
    assert set(m["Attributes"]) == {
        "SenderId",
        "SentTimestamp",
        "ApproximateReceiveCount",
        "ApproximateFirstReceiveTimestamp",
        "AWSTraceHeader",
    }
    assert m["Attributes"]["AWSTraceHeader"] == trace
    assert abs(int(m["Attributes"]["SentTimestamp"]) / 1000 - time.time()) < 60

    # A filtered receive returns the MD5 of what it returns.
    m = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["Help.*", "Hello"], VisibilityTimeout=0)["Messages"][0]
    assert set(m["MessageAttributes"]) == {"Hello", "Help.Me"}
    assert m["MD5OfMessageAttributes"] == "83fee93c1bcd8b9a5a923ffacdc636c7"

    m = sqs.receive_message(QueueUrl=url, AttributeNames=["ApproximateReceiveCount"])["Messages"][0]
    assert m["Attributes"] == {"ApproximateReceiveCount": "3"}
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    with pytest.raises(ClientError) as e:
        sqs.delete_message(QueueUrl=url, ReceiptHandle="garbage")
    assert error_code(e) == "ReceiptHandleIsInvalid"

    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="bad \x00 char")
    assert error_code(e) == "InvalidMessageContents"
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x" * (1024 * 1024 + 1))
    assert error_code(e) == "InvalidParameterValue"
    assert e.value.response["Error"]["Message"] == (
        "One or more parameters are invalid. Reason: Message must be shorter than 1048576 bytes."
    )


def test_long_poll_returns_as_soon_as_a_message_arrives(manual):
    # Under the manual clock a long poll cannot time out by itself: it returns because the
    # message arrived, whenever the send lands.
    sqs = default_client("sqs", manual.endpoint)
    url = sqs.create_queue(QueueName="longpoll")["QueueUrl"]
    result = {}

    def waiter():
        result["resp"] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20)

    t = threading.Thread(target=waiter)
    t.start()
    # A second client: the first one is busy long-polling.
    other = default_client("sqs", manual.endpoint)
    wait_in_flight(manual.endpoint, 1)
    other.send_message(QueueUrl=url, MessageBody="wake up")
    t.join(10)
    assert not t.is_alive()
    assert [m["Body"] for m in result["resp"]["Messages"]] == ["wake up"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=result["resp"]["Messages"][0]["ReceiptHandle"])

    # An empty long poll ends when the clock passes its deadline (clock time, not wall time).
    t = threading.Thread(target=waiter)
    t.start()
    wait_in_flight(manual.endpoint, 1)
    steps = run_until_done(manual.endpoint, t, 20)
    assert "Messages" not in result["resp"]
    assert steps <= 2


def test_delayed_message_wakes_a_long_poll_when_it_becomes_visible(manual):
    sqs = default_client("sqs", manual.endpoint)
    url = sqs.create_queue(QueueName="delayed")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=5)
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesDelayed"])[
        "Attributes"
    ] == {"ApproximateNumberOfMessagesDelayed": "1"}
    result = {}

    def waiter():
        result["resp"] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20)

    t = threading.Thread(target=waiter)
    t.start()
    steps = run_until_done(manual.endpoint, t, 1)
    assert [m["Body"] for m in result["resp"]["Messages"]] == ["later"]
    assert steps <= 6, "woken when the delay ended, long before the 20 s deadline"


def test_visibility_timeout_and_change_visibility(manual):
    sqs = default_client("sqs", manual.endpoint)
    url = sqs.create_queue(QueueName="vis", Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="m")
    first = sqs.receive_message(QueueUrl=url, AttributeNames=["ApproximateReceiveCount"])["Messages"][0]
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (attrs["ApproximateNumberOfMessages"], attrs["ApproximateNumberOfMessagesNotVisible"]) == ("0", "1")
    advance_clock(manual.endpoint, 1)
    second = sqs.receive_message(QueueUrl=url, AttributeNames=["ApproximateReceiveCount"])["Messages"][0]
    assert second["Attributes"]["ApproximateReceiveCount"] == "2"
    assert second["ReceiptHandle"] != first["ReceiptHandle"]
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"], VisibilityTimeout=30)
    advance_clock(manual.endpoint, 1)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"], VisibilityTimeout=0)
    third = sqs.receive_message(QueueUrl=url)["Messages"][0]
    resp = sqs.change_message_visibility_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "ok", "ReceiptHandle": third["ReceiptHandle"], "VisibilityTimeout": 10},
            {"Id": "bad", "ReceiptHandle": "nonsense", "VisibilityTimeout": 10},
        ],
    )
    assert [s["Id"] for s in resp["Successful"]] == ["ok"]
    assert resp["Failed"] == [
        {
            "Id": "bad",
            "SenderFault": True,
            "Code": "ReceiptHandleIsInvalid",
            "Message": 'The input receipt handle "nonsense" is not a valid receipt handle.',
        }
    ]


def test_purge(sqs):
    url = sqs.create_queue(QueueName="purge")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="x")
    sqs.purge_queue(QueueUrl=url)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    with pytest.raises(sqs.exceptions.PurgeQueueInProgress):
        sqs.purge_queue(QueueUrl=url)


def test_batch_limits(sqs):
    url = sqs.create_queue(QueueName="batches")["QueueUrl"]
    entries = [{"Id": f"e{i}", "MessageBody": f"m{i}"} for i in range(10)]
    assert len(sqs.send_message_batch(QueueUrl=url, Entries=entries)["Successful"]) == 10

    cases = [
        ([{"Id": f"e{i}", "MessageBody": "x"} for i in range(11)], "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"),
        ([{"Id": "same", "MessageBody": "x"}, {"Id": "same", "MessageBody": "y"}], "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"),
        ([{"Id": "bad:id", "MessageBody": "x"}], "AWS.SimpleQueueService.InvalidBatchEntryId"),
        ([{"Id": "a", "MessageBody": "x" * 600_000}, {"Id": "b", "MessageBody": "y" * 600_000}], "AWS.SimpleQueueService.BatchRequestTooLong"),
        ([], "AWS.SimpleQueueService.EmptyBatchRequest"),
    ]
    for batch, code in cases:
        with pytest.raises(ClientError) as e:
            sqs.send_message_batch(QueueUrl=url, Entries=batch)
        assert error_code(e) == code
    with pytest.raises(ClientError) as e:
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": f"e{i}", "MessageBody": "x"} for i in range(20)])
    assert e.value.response["Error"]["Message"] == "Maximum number of entries per request are 10. You have sent 20."

    got = []
    while len(got) < 10:
        got += sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    resp = sqs.delete_message_batch(
        QueueUrl=url, Entries=[{"Id": f"d{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
    )
    assert len(resp["Successful"]) == 10 and "Failed" not in resp
    with pytest.raises(ClientError) as e:
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=11)
    assert error_code(e) == "InvalidParameterValue"
    with pytest.raises(ClientError) as e:
        sqs.receive_message(QueueUrl=url, WaitTimeSeconds=21)
    assert e.value.response["Error"]["Message"] == (
        "Value 21 for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided."
    )


# ---- dead-letter queues ------------------------------------------------------------------------


def make_redrive(sqs, source, dlq, max_receive=2):
    dlq_url = sqs.create_queue(QueueName=dlq)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive)})
    url = sqs.create_queue(QueueName=source, Attributes={"RedrivePolicy": policy, "VisibilityTimeout": "1"})["QueueUrl"]
    return url, dlq_url, dlq_arn


def test_redrive_to_dlq_after_max_receive_count(manual):
    sqs = default_client("sqs", manual.endpoint)
    url, dlq_url, dlq_arn = make_redrive(sqs, "work", "work-dlq", max_receive=2)
    got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"]
    assert json.loads(got) == {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}
    attrs = {"MyAttribute": {"DataType": "String", "StringValue": "foobar"}}
    sent = sqs.send_message(QueueUrl=url, MessageBody="poison", MessageAttributes=attrs)

    for n in (1, 2):
        m = sqs.receive_message(QueueUrl=url, AttributeNames=["ApproximateReceiveCount"])["Messages"][0]
        assert m["Attributes"]["ApproximateReceiveCount"] == str(n)
        advance_clock(manual.endpoint, 1)
    # The third attempt moves it to the dead-letter queue instead of returning it.
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    dead = sqs.receive_message(QueueUrl=dlq_url, MessageAttributeNames=["All"], AttributeNames=["All"])["Messages"][0]
    assert dead["MessageId"] == sent["MessageId"]
    assert dead["Body"] == "poison"
    assert dead["MessageAttributes"] == attrs
    assert dead["MD5OfMessageAttributes"] == "adb59cd4678ea5a855436b949cd07ab6"
    assert dead["Attributes"]["ApproximateReceiveCount"] == "3"
    assert dead["Attributes"]["DeadLetterQueueSourceArn"] == f"arn:aws:sqs:us-east-1:{ACCOUNT}:work"
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq_url)["queueUrls"] == [url]

    with pytest.raises(ClientError) as e:
        sqs.set_queue_attributes(
            QueueUrl=url,
            Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": "dummy", "maxReceiveCount": 42})},
        )
    assert error_code(e) == "InvalidParameterValue"
    assert e.value.response["Error"]["Message"].endswith("Reason: Invalid value for deadLetterTargetArn.")


def test_message_move_task_back_to_source(manual):
    sqs = default_client("sqs", manual.endpoint)
    url, dlq_url, dlq_arn = make_redrive(sqs, "mover", "mover-dlq", max_receive=1)
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    got = []
    while len(got) < 3:
        got += sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    advance_clock(manual.endpoint, 1)
    assert "Messages" not in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    assert sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"] == {
        "ApproximateNumberOfMessages": "3"
    }

    with pytest.raises(ClientError) as e:
        sqs.start_message_move_task(SourceArn=f"arn:aws:sqs:us-east-1:{ACCOUNT}:mover")
    assert e.value.response["Error"]["Message"] == "Source queue must be configured as a Dead Letter Queue."
    handle = sqs.start_message_move_task(SourceArn=dlq_arn)["TaskHandle"]
    assert handle
    deadline = time.monotonic() + 10
    while True:
        task = sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"][0]
        if task["Status"] != "RUNNING" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert task["Status"] == "COMPLETED"
    assert task["ApproximateNumberOfMessagesMoved"] == 3
    assert task["ApproximateNumberOfMessagesToMove"] == 3
    assert task["SourceArn"] == dlq_arn
    assert "TaskHandle" not in task and "DestinationArn" not in task
    bodies = []
    while len(bodies) < 3:
        bodies += [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]]
    assert sorted(bodies) == ["m0", "m1", "m2"]
    with pytest.raises(sqs.exceptions.ResourceNotFoundException):
        sqs.cancel_message_move_task(TaskHandle=handle)


# ---- FIFO --------------------------------------------------------------------------------------


def test_fifo_ordering_group_locking_and_dedup(sqs):
    url = sqs.create_queue(
        QueueName="orders.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    )["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["FifoQueue"] == "true" and attrs["DeduplicationScope"] == "queue"
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x")
    assert error_code(e) == "MissingParameter"
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g", DelaySeconds=2)
    assert error_code(e) == "InvalidParameterValue"

    seqs = []
    for body, group in [("a1", "a"), ("b1", "b"), ("a2", "a"), ("a3", "a")]:
        seqs.append(int(sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group)["SequenceNumber"]))
    assert seqs == sorted(seqs) and len(set(seqs)) == 4
    dup = sqs.send_message(QueueUrl=url, MessageBody="a1", MessageGroupId="a")
    assert int(dup["SequenceNumber"]) == seqs[0], "a duplicate returns the original"

    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2, AttributeNames=["All"])["Messages"]
    assert [m["Body"] for m in first] == ["a1", "a2"]
    assert first[0]["Attributes"]["MessageGroupId"] == "a"
    assert first[0]["Attributes"]["MessageDeduplicationId"] == hashlib.sha256(b"a1").hexdigest()
    assert first[0]["Attributes"]["SequenceNumber"] == str(seqs[0])
    second = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in second] == ["b1"], "a3 is held while a1/a2 (before it) are in flight"
    for m in first:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    third = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in third] == ["a3"]

    plain = sqs.create_queue(QueueName="explicit.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=plain, MessageBody="x", MessageGroupId="g")
    assert e.value.response["Error"]["Message"] == (
        "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly"
    )
    one = sqs.send_message(QueueUrl=plain, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="d")
    two = sqs.send_message(QueueUrl=plain, MessageBody="y", MessageGroupId="g", MessageDeduplicationId="d")
    assert one["MessageId"] == two["MessageId"]
    msgs = sqs.receive_message(QueueUrl=plain, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in msgs] == ["x"]


def test_fifo_expired_receipt_handle(manual):
    sqs = default_client("sqs", manual.endpoint)
    url = sqs.create_queue(
        QueueName="expiry.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true", "VisibilityTimeout": "1"},
    )["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="foobar", MessageGroupId="g")
    m = sqs.receive_message(QueueUrl=url)["Messages"][0]
    advance_clock(manual.endpoint, 1)
    with pytest.raises(ClientError) as e:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert e.value.response["Error"]["Message"] == (
        f"Value {m['ReceiptHandle']} for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired."
    )


# ---- query protocol ----------------------------------------------------------------------------


def test_query_protocol_round_trip(endpoint):
    status, root = query(endpoint, {"Action": "CreateQueue", "QueueName": "legacy", "Attribute.1.Name": "VisibilityTimeout", "Attribute.1.Value": "7"})
    assert status == 200
    url = text(root, "sqs:CreateQueueResult/sqs:QueueUrl")
    assert url == f"{endpoint}/{ACCOUNT}/legacy"
    assert text(root, "sqs:ResponseMetadata/sqs:RequestId")

    body = "a<b>&c\r\n"
    status, root = query(
        endpoint,
        {
            "Action": "SendMessage",
            "MessageBody": body,
            "MessageAttribute.1.Name": "Foo",
            "MessageAttribute.1.Value.DataType": "String",
            "MessageAttribute.1.Value.StringValue": "Bar",
            "MessageAttribute.2.Name": "Bin",
            "MessageAttribute.2.Value.DataType": "Binary",
            "MessageAttribute.2.Value.BinaryValue": base64.b64encode(b"\x01\x02").decode(),
        },
        path=f"/{ACCOUNT}/legacy",  # posted to the queue URL itself, no QueueUrl parameter
    )
    assert status == 200, ET.tostring(root)
    attrs = {
        "Foo": {"DataType": "String", "StringValue": "Bar"},
        "Bin": {"DataType": "Binary", "BinaryValue": b"\x01\x02"},
    }
    assert text(root, "sqs:SendMessageResult/sqs:MD5OfMessageBody") == md5(body)
    assert text(root, "sqs:SendMessageResult/sqs:MD5OfMessageAttributes") == md5_of_attributes(attrs)
    message_id = text(root, "sqs:SendMessageResult/sqs:MessageId")

    status, root = query(
        endpoint,
        {"Action": "ReceiveMessage", "QueueUrl": url, "AttributeName.1": "All", "MessageAttributeName.1": "All"},
    )
    msg = root.find("sqs:ReceiveMessageResult/sqs:Message", NS)
    assert text(msg, "sqs:MessageId") == message_id
    assert text(msg, "sqs:Body") == body, "\\r survives the XML round trip"
    got_attrs = {text(a, "sqs:Name"): text(a, "sqs:Value") for a in msg.findall("sqs:Attribute", NS)}
    assert got_attrs["ApproximateReceiveCount"] == "1"
    values = {
        text(a, "sqs:Name"): (text(a, "sqs:Value/sqs:DataType"), text(a, "sqs:Value/sqs:StringValue"), text(a, "sqs:Value/sqs:BinaryValue"))
        for a in msg.findall("sqs:MessageAttribute", NS)
    }
    assert values == {"Foo": ("String", "Bar", None), "Bin": ("Binary", None, "AQI=")}
    handle = text(msg, "sqs:ReceiptHandle")

    status, root = query(endpoint, {"Action": "DeleteMessage", "QueueUrl": url, "ReceiptHandle": handle})
    assert status == 200 and root.tag == "{%s}DeleteMessageResponse" % NS["sqs"]
    status, root = query(endpoint, {"Action": "GetQueueAttributes", "QueueUrl": url, "AttributeName.1": "VisibilityTimeout"})
    assert [(text(a, "sqs:Name"), text(a, "sqs:Value")) for a in root.findall("sqs:GetQueueAttributesResult/sqs:Attribute", NS)] == [
        ("VisibilityTimeout", "7")
    ]
    status, root = query(
        endpoint,
        {
            "Action": "SendMessageBatch",
            "QueueUrl": url,
            "SendMessageBatchRequestEntry.1.Id": "one",
            "SendMessageBatchRequestEntry.1.MessageBody": "1",
            "SendMessageBatchRequestEntry.2.Id": "two",
            "SendMessageBatchRequestEntry.2.MessageBody": "2",
        },
    )
    ids = [text(e, "sqs:Id") for e in root.findall("sqs:SendMessageBatchResult/sqs:SendMessageBatchResultEntry", NS)]
    assert ids == ["one", "two"]
    status, root = query(endpoint, {"Action": "ListQueues", "QueueNamePrefix": "leg"})
    assert [e.text for e in root.findall("sqs:ListQueuesResult/sqs:QueueUrl", NS)] == [url]


def test_query_protocol_errors(endpoint):
    status, root = query(endpoint, {"Action": "GetQueueUrl", "QueueName": "missing"})
    assert status == 400
    assert root.tag == "{%s}ErrorResponse" % NS["sqs"]
    assert text(root, "sqs:Error/sqs:Type") == "Sender"
    assert text(root, "sqs:Error/sqs:Code") == "AWS.SimpleQueueService.NonExistentQueue"
    assert text(root, "sqs:Error/sqs:Message") == "The specified queue does not exist for this wsdl version."
    assert text(root, "sqs:RequestId")
    status, root = query(endpoint, {"Action": "NoSuchThing"})
    assert (status, text(root, "sqs:Error/sqs:Code")) == (400, "InvalidAction")
    query(endpoint, {"Action": "CreateQueue", "QueueName": "qerr"})
    status, root = query(endpoint, {"Action": "SendMessageBatch"}, path=f"/{ACCOUNT}/qerr")
    assert text(root, "sqs:Error/sqs:Code") == "AWS.SimpleQueueService.EmptyBatchRequest"
    status, root = query(endpoint, {"Action": "SendMessage"}, path=f"/{ACCOUNT}/qerr")
    assert text(root, "sqs:Error/sqs:Code") == "MissingParameter"


# ---- AWS CLI -----------------------------------------------------------------------------------


def test_cli_round_trip(aws, endpoint):
    url = aws("sqs", "create-queue", "--queue-name", "cli", "--attributes", "VisibilityTimeout=5")["QueueUrl"]
    assert url == f"{endpoint}/{ACCOUNT}/cli"
    assert aws("sqs", "list-queues")["QueueUrls"] == [url]
    sent = aws(
        "sqs",
        "send-message",
        "--queue-url",
        url,
        "--message-body",
        "from the cli",
        "--message-attributes",
        '{"k": {"DataType": "String", "StringValue": "v"}}',
    )
    assert sent["MD5OfMessageBody"] == md5("from the cli")
    assert sent["MD5OfMessageAttributes"] == md5_of_attributes({"k": {"DataType": "String", "StringValue": "v"}})
    got = aws(
        "sqs", "receive-message", "--queue-url", url, "--attribute-names", "All", "--message-attribute-names", "All"
    )["Messages"][0]
    assert got["Body"] == "from the cli"
    assert got["MessageAttributes"] == {"k": {"StringValue": "v", "DataType": "String"}}
    aws("sqs", "delete-message", "--queue-url", url, "--receipt-handle", got["ReceiptHandle"])
    attrs = aws("sqs", "get-queue-attributes", "--queue-url", url, "--attribute-names", "All")["Attributes"]
    assert attrs["VisibilityTimeout"] == "5"
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "0"
    aws("sqs", "delete-queue", "--queue-url", url)
    assert aws("sqs", "list-queues") is None
