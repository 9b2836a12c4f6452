"""SNS end to end, with boto3 and the AWS CLI: topics and subscriptions, S3 -> SNS -> two queues
(one raw, one with a filter policy), MessageStructure=json, FIFO topic -> FIFO queue, PublishBatch,
an HTTP subscriber that confirms through SubscribeURL and verifies every message's signature as
AWS's SDK validators do (fetch SigningCertURL, rebuild the canonical string, verify with the
certificate's key), HTTP retries on the manual clock ending in the subscription's DLQ,
EventBridge -> SNS, and AWS's errors.

Validators that insist on a `sns.<region>.amazonaws.com` certificate host must be told to accept
localbridge's `SigningCertURL` (`http://<localbridge>/_localbridge/sns/...pem`)."""

import base64
import json
import queue
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from conftest import _client, advance_clock, http, receive, settle

ACCOUNT = "000000000000"


@pytest.fixture
def sns(endpoint):
    return _client("sns", endpoint)



def queue_for(sqs, name, topic_arn=None, attributes=None):
    """A queue whose policy lets `topic_arn` (or any topic) send through SNS."""
    url = sqs.create_queue(QueueName=name, Attributes=attributes or {})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": "sns.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": arn,
    }
    if topic_arn:
        statement["Condition"] = {"ArnEquals": {"aws:SourceArn": topic_arn}}
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({"Statement": [statement]})})
    return url, arn


def raw_bodies(sqs, url, count):
    out = []
    while len(out) < count:
        resp = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=20, MessageAttributeNames=["All"]
        )
        for m in resp.get("Messages", []):
            out.append(m)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert len(out) == count
    return out


def canonical(msg):
    if msg["Type"] == "Notification":
        fields = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    else:
        fields = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    return "".join(f"{k}\n{msg[k]}\n" for k in fields if k in msg).encode()


def verify(msg):
    """What AWS's SDK validators do: fetch the certificate, rebuild the string, verify."""
    with urllib.request.urlopen(msg["SigningCertURL"], timeout=10) as resp:
        cert = x509.load_pem_x509_certificate(resp.read())
    digest = hashes.SHA256() if msg["SignatureVersion"] == "2" else hashes.SHA1()
    cert.public_key().verify(base64.b64decode(msg["Signature"]), canonical(msg), padding.PKCS1v15(), digest)


# ---- topics and subscriptions -------------------------------------------------------------------


def test_topics_with_the_cli(aws, sns):
    arn = aws("sns", "create-topic", "--name", "orders", "--attributes", "DisplayName=Orders")["TopicArn"]
    assert arn == f"arn:aws:sns:us-east-1:{ACCOUNT}:orders"
    # Idempotent with the same attributes; AWS's error with others.
    assert aws("sns", "create-topic", "--name", "orders", "--attributes", "DisplayName=Orders")["TopicArn"] == arn
    with pytest.raises(ClientError) as e:
        sns.create_topic(Name="orders", Attributes={"DisplayName": "Other"})
    assert e.value.response["Error"]["Code"] == "InvalidParameter"
    assert e.value.response["Error"]["Message"] == (
        "Invalid parameter: Attributes Reason: Topic already exists with different attributes"
    )
    attrs = aws("sns", "get-topic-attributes", "--topic-arn", arn)["Attributes"]
    assert attrs["DisplayName"] == "Orders"
    assert attrs["Owner"] == ACCOUNT and attrs["TopicArn"] == arn
    assert attrs["SubscriptionsConfirmed"] == "0" and attrs["SubscriptionsPending"] == "0"
    policy = json.loads(attrs["Policy"])
    assert policy["Id"] == "__default_policy_ID"
    assert policy["Statement"][0]["Condition"] == {"StringEquals": {"AWS:SourceOwner": ACCOUNT}}
    assert json.loads(attrs["EffectiveDeliveryPolicy"])["http"]["defaultHealthyRetryPolicy"]["numRetries"] == 3

    for i in range(120):
        sns.create_topic(Name=f"t{i:03}")
    page = sns.list_topics()
    assert len(page["Topics"]) == 100 and "NextToken" in page
    rest = sns.list_topics(NextToken=page["NextToken"])
    assert len(rest["Topics"]) == 21 and "NextToken" not in rest
    paginated = [t["TopicArn"] for p in sns.get_paginator("list_topics").paginate() for t in p["Topics"]]
    assert len(paginated) == 121 and arn in paginated

    aws("sns", "tag-resource", "--resource-arn", arn, "--tags", "Key=team,Value=a", "Key=env,Value=dev")
    aws("sns", "untag-resource", "--resource-arn", arn, "--tag-keys", "env")
    assert aws("sns", "list-tags-for-resource", "--resource-arn", arn)["Tags"] == [{"Key": "team", "Value": "a"}]

    aws("sns", "delete-topic", "--topic-arn", arn)
    with pytest.raises(ClientError) as e:
        sns.get_topic_attributes(TopicArn=arn)
    err = e.value.response
    assert (err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]) == (
        "NotFound",
        "Topic does not exist",
        404,
    )


def test_subscriptions_and_their_attributes(sns, sqs, aws):
    topic = sns.create_topic(Name="subs")["TopicArn"]
    _, qarn = queue_for(sqs, "subs-q")
    sub = aws(
        "sns", "subscribe", "--topic-arn", topic, "--protocol", "sqs", "--notification-endpoint", qarn,
        "--attributes", json.dumps({"RawMessageDelivery": "true"}),
    )["SubscriptionArn"]
    assert sub.startswith(topic + ":")
    mail = sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="dev@example.com", ReturnSubscriptionArn=True)
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert attrs["RawMessageDelivery"] == "true" and attrs["Protocol"] == "sqs" and attrs["Endpoint"] == qarn
    assert attrs["PendingConfirmation"] == "false" and attrs["TopicArn"] == topic

    sns.set_subscription_attributes(
        SubscriptionArn=sub, AttributeName="FilterPolicy", AttributeValue=json.dumps({"kind": ["a"]})
    )
    with pytest.raises(ClientError) as e:
        sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="FilterPolicy", AttributeValue="{")
    assert e.value.response["Error"]["Message"] == "Invalid parameter: FilterPolicy: failed to parse JSON."
    with pytest.raises(ClientError) as e:
        sns.set_subscription_attributes(
            SubscriptionArn=mail["SubscriptionArn"], AttributeName="RawMessageDelivery", AttributeValue="true"
        )
    assert e.value.response["Error"]["Code"] == "InvalidParameter"

    listed = aws("sns", "list-subscriptions-by-topic", "--topic-arn", topic)["Subscriptions"]
    assert sorted(s["Protocol"] for s in listed) == ["email", "sqs"]
    assert {s["Endpoint"] for s in sns.list_subscriptions()["Subscriptions"]} == {qarn, "dev@example.com"}
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["SubscriptionsConfirmed"] == "2"

    sns.unsubscribe(SubscriptionArn=sub)
    with pytest.raises(ClientError) as e:
        sns.get_subscription_attributes(SubscriptionArn=sub)
    assert e.value.response["Error"]["Code"] == "NotFound"
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["SubscriptionsDeleted"] == "1"


# ---- S3 -> SNS -> SQS -------------------------------------------------------------------------


def test_s3_to_sns_to_a_raw_queue_and_a_filtered_queue(aws, s3, sqs, sns, endpoint, tmp_path):
    topic = aws("sns", "create-topic", "--name", "uploads")["TopicArn"]
    # The topic policy must let S3 publish for this bucket (as on AWS).
    policy = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "SNS:Publish",
                "Resource": topic,
                "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::photos"}},
            }
        ]
    }
    aws("sns", "set-topic-attributes", "--topic-arn", topic, "--attribute-name", "Policy",
        "--attribute-value", json.dumps(policy))
    raw_url, raw_arn = queue_for(sqs, "raw", topic)
    jpg_url, jpg_arn = queue_for(sqs, "images", topic)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=raw_arn, Attributes={"RawMessageDelivery": "true"})
    filtered = sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=jpg_arn,
        Attributes={
            "FilterPolicyScope": "MessageBody",
            "FilterPolicy": json.dumps({"Records": {"s3": {"object": {"key": [{"prefix": "images/"}]}}}}),
        },
    )["SubscriptionArn"]

    s3.create_bucket(Bucket="photos")
    config = {"TopicConfigurations": [{"Id": "all", "TopicArn": topic, "Events": ["s3:ObjectCreated:*"]}]}
    (tmp_path / "n.json").write_text(json.dumps(config))
    aws("s3api", "put-bucket-notification-configuration", "--bucket", "photos",
        "--notification-configuration", "file://n.json")
    s3.put_object(Bucket="photos", Key="images/beach.jpeg", Body=b"jpeg")
    s3.put_object(Bucket="photos", Key="docs/notes.txt", Body=b"txt")

    # The raw queue gets S3's own messages: the test event, then both records.
    raw = [json.loads(m["Body"]) for m in raw_bodies(sqs, raw_url, 3)]
    assert raw[0]["Event"] == "s3:TestEvent" and raw[0]["Bucket"] == "photos"
    keys = sorted(r["Records"][0]["s3"]["object"]["key"] for r in raw[1:])
    assert keys == ["docs/notes.txt", "images/beach.jpeg"]

    # The filtered queue gets only the image, in AWS's envelope, exactly.
    [m] = raw_bodies(sqs, jpg_url, 1)
    body = m["Body"]
    env = json.loads(body)
    assert list(env) == [
        "Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp",
        "SignatureVersion", "Signature", "SigningCertURL", "UnsubscribeURL",
    ]
    assert env["Type"] == "Notification" and env["TopicArn"] == topic
    assert env["Subject"] == "Amazon S3 Notification"
    assert env["SignatureVersion"] == "1"
    assert env["SigningCertURL"] == f"{endpoint}/_localbridge/sns/SimpleNotificationService-localbridge.pem"
    assert env["UnsubscribeURL"] == f"{endpoint}/?Action=Unsubscribe&SubscriptionArn={filtered}"
    record = json.loads(env["Message"])["Records"][0]
    assert record["eventSource"] == "aws:s3" and record["s3"]["object"]["key"] == "images/beach.jpeg"
    image_raw = next(r for r in raw[1:] if r["Records"][0]["s3"]["object"]["key"] == "images/beach.jpeg")
    assert json.loads(env["Message"]) == image_raw
    assert body.startswith('{\n  "Type" : "Notification",\n  "MessageId" : ')
    verify(env)
    # Nothing else arrives: the document and the test event were filtered out.
    settle(endpoint)
    assert "Messages" not in sqs.receive_message(QueueUrl=jpg_url, WaitTimeSeconds=0)


def test_message_attributes_filter_and_raw_sqs_attributes(sns, sqs, endpoint):
    topic = sns.create_topic(Name="attrs")["TopicArn"]
    raw_url, raw_arn = queue_for(sqs, "attrs-raw")
    env_url, env_arn = queue_for(sqs, "attrs-env")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=raw_arn, Attributes={"RawMessageDelivery": "true"})
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=env_arn,
        Attributes={"FilterPolicy": json.dumps({"size": [{"numeric": [">", 10]}]})},
    )
    attrs = {"size": {"DataType": "Number", "StringValue": "42"}, "color": {"DataType": "String", "StringValue": "red"}}
    sns.publish(TopicArn=topic, Message="big", MessageAttributes=attrs)
    sns.publish(TopicArn=topic, Message="small", MessageAttributes={"size": {"DataType": "Number", "StringValue": "1"}})
    raws = raw_bodies(sqs, raw_url, 2)
    big = next(m for m in raws if m["Body"] == "big")
    assert big["MessageAttributes"] == {
        "size": {"StringValue": "42", "DataType": "Number"},
        "color": {"StringValue": "red", "DataType": "String"},
    }
    [env] = receive(sqs, env_url, 1)
    assert env["Message"] == "big" and "Subject" not in env
    assert env["MessageAttributes"] == {
        "color": {"Type": "String", "Value": "red"},
        "size": {"Type": "Number", "Value": "42"},
    }
    settle(endpoint)
    assert "Messages" not in sqs.receive_message(QueueUrl=env_url, WaitTimeSeconds=0)


def test_message_structure_json_with_the_cli(aws, sns, sqs):
    topic = sns.create_topic(Name="structured")["TopicArn"]
    url, arn = queue_for(sqs, "structured-q")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    msg = json.dumps({"default": "for everyone", "sqs": "for queues", "email": "for people"})
    aws("sns", "publish", "--topic-arn", topic, "--message-structure", "json", "--message", msg)
    [env] = receive(sqs, url, 1)
    assert env["Message"] == "for queues"
    verify(env)
    with pytest.raises(ClientError) as e:
        sns.publish(TopicArn=topic, MessageStructure="json", Message=json.dumps({"sqs": "x"}))
    assert e.value.response["Error"]["Message"] == (
        "Invalid parameter: Message Structure - No default entry in JSON message body"
    )
    with pytest.raises(ClientError) as e:
        sns.publish(TopicArn=topic, MessageStructure="json", Message="not json")
    assert e.value.response["Error"]["Message"] == (
        "Invalid parameter: Message Structure - JSON message body failed to parse"
    )


def test_fifo_topic_to_fifo_queue_keeps_order_and_deduplicates(sns, sqs):
    topic = sns.create_topic(
        Name="orders.fifo", Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "true"}
    )["TopicArn"]
    attrs = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert attrs["FifoTopic"] == "true" and attrs["ContentBasedDeduplication"] == "true"
    url, arn = queue_for(sqs, "orders.fifo", topic, {"FifoQueue": "true"})
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    seqs = []
    for i in range(8):
        seqs.append(sns.publish(TopicArn=topic, Message=f"m{i}", MessageGroupId="g")["SequenceNumber"])
    assert seqs == sorted(seqs) and len(set(seqs)) == 8
    # A duplicate (same body, content-based deduplication) is accepted and not delivered.
    sns.publish(TopicArn=topic, Message="m0", MessageGroupId="g")
    got = []
    while len(got) < 8:
        resp = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=5, AttributeNames=["All"])
        for m in resp.get("Messages", []):
            got.append(m)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert [m["Body"] for m in got] == [f"m{i}" for i in range(8)]
    assert {m["Attributes"]["MessageGroupId"] for m in got} == {"g"}
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)

    with pytest.raises(ClientError) as e:
        sns.publish(TopicArn=topic, Message="x")
    assert e.value.response["Error"]["Message"] == (
        "Invalid parameter: The MessageGroupId parameter is required for FIFO topics"
    )
    plain = sns.create_topic(Name="plain.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    with pytest.raises(ClientError) as e:
        sns.publish(TopicArn=plain, Message="x", MessageGroupId="g")
    assert "ContentBasedDeduplication" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        sns.create_topic(Name="nofifo.fifo")
    assert e.value.response["Error"]["Message"] == "Invalid parameter: Topic Name"


def test_publish_batch_with_valid_and_invalid_entries(sns, sqs):
    topic = sns.create_topic(Name="batch")["TopicArn"]
    url, arn = queue_for(sqs, "batch-q")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    resp = sns.publish_batch(
        TopicArn=topic,
        PublishBatchRequestEntries=[
            {"Id": "ok1", "Message": "one"},
            {"Id": "bad", "Message": "x", "MessageAttributes": {"n": {"DataType": "Weird", "StringValue": "1"}}},
            {"Id": "ok2", "Message": "two", "Subject": "s"},
            {"Id": "empty", "Message": ""},
        ],
    )
    assert sorted(s["Id"] for s in resp["Successful"]) == ["ok1", "ok2"]
    failed = {f["Id"]: f for f in resp["Failed"]}
    assert failed["bad"]["Code"] == "ParameterValueInvalid" and failed["bad"]["SenderFault"] is True
    assert failed["bad"]["Message"] == (
        "The message attribute 'n' has an invalid message attribute type, the set of supported type "
        "prefixes is Binary, Number, and String."
    )
    assert failed["empty"]["Message"] == "Invalid parameter: Empty message"
    assert sorted(m["Body"] for m in raw_bodies(sqs, url, 2)) == ["one", "two"]

    too_many = [{"Id": f"e{i}", "Message": "m"} for i in range(11)]
    with pytest.raises(ClientError) as e:
        sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=too_many)
    assert e.value.response["Error"]["Code"] == "TooManyEntriesInBatchRequest"
    with pytest.raises(ClientError) as e:
        sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[{"Id": "a", "Message": "m"}] * 2)
    assert e.value.response["Error"]["Code"] == "BatchEntryIdsNotDistinct"


# ---- HTTP subscribers ---------------------------------------------------------------------------


class Receiver:
    """A plain HTTP endpoint on 127.0.0.1:0 that records every POST and answers `status`."""

    def __init__(self):
        self.posts = queue.Queue()
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.posts.put(({k.lower(): v for k, v in self.headers.items()}, body.decode()))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def next(self, timeout=10):
        return self.posts.get(timeout=timeout)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_http_subscriber_confirms_verifies_and_receives(sns, receiver, endpoint):
    topic = sns.create_topic(Name="hooks")["TopicArn"]
    assert sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=receiver.url)["SubscriptionArn"] == (
        "pending confirmation"
    )
    headers, body = receiver.next()
    assert headers["x-amz-sns-message-type"] == "SubscriptionConfirmation"
    assert headers["x-amz-sns-topic-arn"] == topic
    assert headers["content-type"] == "text/plain; charset=UTF-8"
    doc = json.loads(body)
    assert list(doc) == [
        "Type", "MessageId", "Token", "TopicArn", "Message", "SubscribeURL",
        "Timestamp", "SignatureVersion", "Signature", "SigningCertURL",
    ]
    assert headers["x-amz-sns-message-id"] == doc["MessageId"]
    assert doc["Message"] == (
        f"You have chosen to subscribe to the topic {topic}.\n"
        "To confirm the subscription, visit the SubscribeURL included in this message."
    )
    verify(doc)
    [pending] = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert pending["SubscriptionArn"] == "PendingConfirmation"
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["SubscriptionsPending"] == "1"

    # Visiting SubscribeURL confirms, as on AWS.
    status, _, answer = http("GET", doc["SubscribeURL"])
    assert status == 200 and b"<ConfirmSubscriptionResponse" in answer
    [sub] = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    sub_arn = sub["SubscriptionArn"]
    assert sub_arn.startswith(topic + ":") and sub_arn.encode() in answer

    sns.publish(TopicArn=topic, Message="hello", Subject="Greeting",
                MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}})
    headers, body = receiver.next()
    note = json.loads(body)
    assert headers["x-amz-sns-message-type"] == "Notification"
    assert headers["x-amz-sns-subscription-arn"] == sub_arn
    assert headers["x-amz-sns-message-id"] == note["MessageId"]
    assert (note["Message"], note["Subject"]) == ("hello", "Greeting")
    assert note["MessageAttributes"] == {"k": {"Type": "String", "Value": "v"}}
    verify(note)

    # SignatureVersion 2 (SHA256withRSA) verifies the same way.
    sns.set_topic_attributes(TopicArn=topic, AttributeName="SignatureVersion", AttributeValue="2")
    sns.publish(TopicArn=topic, Message="second")
    _, body = receiver.next()
    note = json.loads(body)
    assert note["SignatureVersion"] == "2" and "Subject" not in note
    verify(note)
    tampered = dict(note, Message="forged")
    with pytest.raises(Exception):
        verify(tampered)

    # UnsubscribeURL unsubscribes.
    status, _, _ = http("GET", note["UnsubscribeURL"])
    assert status == 200
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []


def test_http_retries_on_the_clock_then_the_dead_letter_queue(manual, receiver):
    endpoint = manual.endpoint
    sns, sqs = _client("sns", endpoint), _client("sqs", endpoint)
    topic = sns.create_topic(Name="flaky")["TopicArn"]
    dlq_url, dlq_arn = queue_for(sqs, "flaky-dlq", topic)
    sns.subscribe(
        TopicArn=topic, Protocol="http", Endpoint=receiver.url,
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn})},
    )
    _, body = receiver.next()
    sns.confirm_subscription(TopicArn=topic, Token=json.loads(body)["Token"])
    receiver.status = 500
    sns.publish(TopicArn=topic, Message="try me")
    first = json.loads(receiver.next()[1])
    # AWS's default HTTP policy: three retries, 20 seconds apart.
    for _ in range(3):
        assert receiver.posts.empty()
        advance_clock(endpoint, 20)
        retry = json.loads(receiver.next()[1])
        assert retry["MessageId"] == first["MessageId"]
    [dead] = receive(sqs, dlq_url, 1)
    assert dead["Message"] == "try me" and dead["MessageId"] == first["MessageId"]
    advance_clock(endpoint, 60)
    assert receiver.posts.empty()


# ---- EventBridge -> SNS ---------------------------------------------------------------------------


def test_eventbridge_rule_to_sns_topic(events, sns, sqs):
    topic = sns.create_topic(Name="from-events")["TopicArn"]
    sns.set_topic_attributes(
        TopicArn=topic,
        AttributeName="Policy",
        AttributeValue=json.dumps({"Statement": [{
            "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sns:Publish", "Resource": topic,
        }]}),
    )
    url, arn = queue_for(sqs, "from-events-q", topic)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    events.put_rule(Name="orders", EventPattern=json.dumps({"source": ["shop"]}))
    events.put_targets(Rule="orders", Targets=[{"Id": "topic", "Arn": topic}])
    events.put_events(Entries=[{"Source": "shop", "DetailType": "Order", "Detail": json.dumps({"id": 7})}])
    [env] = receive(sqs, url, 1)
    assert env["TopicArn"] == topic and "Subject" not in env
    event = json.loads(env["Message"])
    assert (event["source"], event["detail-type"], event["detail"]) == ("shop", "Order", {"id": 7})
    verify(env)


# ---- errors ---------------------------------------------------------------------------------------


def test_errors_as_aws_words_them(sns, aws_raw):
    missing = f"arn:aws:sns:us-east-1:{ACCOUNT}:missing"
    with pytest.raises(ClientError) as e:
        sns.publish(TopicArn=missing, Message="x")
    assert (e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]) == (
        "NotFound", "Topic does not exist",
    )
    with pytest.raises(ClientError) as e:
        sns.publish(TopicArn="not-an-arn", Message="x")
    assert e.value.response["Error"]["Message"] == "Invalid parameter: TopicArn"
    with pytest.raises(ClientError) as e:
        sns.create_topic(Name="bad name")
    assert e.value.response["Error"]["Message"] == "Invalid parameter: Topic Name"
    topic = sns.create_topic(Name="errs")["TopicArn"]
    with pytest.raises(ClientError) as e:
        sns.publish(TopicArn=topic, Message="")
    assert e.value.response["Error"]["Message"] == "Invalid parameter: Empty message"
    with pytest.raises(ClientError) as e:
        sns.publish(TopicArn=topic, Message="x" * 262_145)
    assert e.value.response["Error"]["Message"] == "Invalid parameter: Message too long"
    with pytest.raises(ClientError) as e:
        sns.publish(TopicArn=topic, Message="x", Subject="line\nbreak")
    assert e.value.response["Error"]["Message"] == "Invalid parameter: Subject"
    with pytest.raises(ClientError) as e:
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint="not-an-arn")
    assert e.value.response["Error"]["Message"] == "Invalid parameter: SQS endpoint ARN"
    with pytest.raises(ClientError) as e:
        sns.subscribe(TopicArn=topic, Protocol="carrier-pigeon", Endpoint="x")
    assert e.value.response["Error"]["Code"] == "InvalidParameter"
    with pytest.raises(ClientError) as e:
        sns.publish(TopicArn=topic, Message="x", MessageAttributes={"a": {"DataType": "String", "StringValue": ""}})
    assert e.value.response["Error"]["Code"] == "ParameterValueInvalid"
    with pytest.raises(ClientError) as e:
        sns.confirm_subscription(TopicArn=topic, Token="nope")
    assert e.value.response["Error"]["Message"] == "Invalid parameter: Token"
    with pytest.raises(ClientError) as e:
        sns.list_tags_for_resource(ResourceArn=missing)
    assert e.value.response["Error"]["Code"] == "ResourceNotFound"
    proc = aws_raw("sns", "list-platform-applications")
    assert proc.returncode != 0 and "NotImplemented" in proc.stderr
    proc = aws_raw("sns", "publish", "--topic-arn", missing, "--message", "x")
    assert proc.returncode != 0 and "Topic does not exist" in proc.stderr
