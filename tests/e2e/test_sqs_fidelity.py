"""SQS fidelity corrections (issue 6), each as AWS answered in recorded responses, and the
robustness limits on stored attributes. The real binary, boto3 and the AWS CLI."""

import json
import threading
import time

import pytest
from botocore.exceptions import ClientError

from conftest import advance_clock, default_client, ledger, settle

ACCOUNT = "000000000000"
TRACE = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


def error(excinfo):
    r = excinfo.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Message"]


# ---- queue URLs -------------------------------------------------------------------------------


def test_a_bare_queue_name_works_as_queue_url(sqs, aws):
    url = sqs.create_queue(QueueName="bare")["QueueUrl"]
    sqs.send_message(QueueUrl="bare", MessageBody="by name")
    m = sqs.receive_message(QueueUrl="bare", AttributeNames=["All"])["Messages"][0]
    assert m["Body"] == "by name"
    sqs.change_message_visibility(QueueUrl="bare", ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=10)
    sqs.delete_message(QueueUrl="bare", ReceiptHandle=m["ReceiptHandle"])
    sqs.set_queue_attributes(QueueUrl="bare", Attributes={"DelaySeconds": "2"})
    got = sqs.get_queue_attributes(QueueUrl="bare", AttributeNames=["DelaySeconds", "QueueArn"])["Attributes"]
    assert got == {"DelaySeconds": "2", "QueueArn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:bare"}
    sqs.tag_queue(QueueUrl="bare", Tags={"team": "a"})
    assert sqs.list_queue_tags(QueueUrl="bare")["Tags"] == {"team": "a"}
    sqs.purge_queue(QueueUrl="bare")
    # The AWS CLI (query-compatible JSON) too.
    aws("sqs", "send-message", "--queue-url", "bare", "--message-body", "cli")
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesDelayed"])[
        "Attributes"
    ] == {"ApproximateNumberOfMessagesDelayed": "1"}
    sqs.delete_queue(QueueUrl="bare")
    with pytest.raises(ClientError) as e:
        sqs.get_queue_attributes(QueueUrl="bare")
    assert error(e)[0] == "AWS.SimpleQueueService.NonExistentQueue"


def test_queues_are_per_region_and_their_urls_show_it(endpoint, server):
    """Decision (see lb_sqs::model::queue_url): us-east-1 keeps `http://<endpoint>/<account>/<name>`;
    other regions get AWS's `sqs.<region>.` host prefix, on `localhost` when the endpoint is an
    IP literal (`*.localhost` is loopback): `http://sqs.eu-west-1.localhost:<port>/<account>/<name>`.
    The path is the queue path the gateway routes; the region comes from the request's signature."""
    us = default_client("sqs", endpoint, "us-east-1")
    eu = default_client("sqs", endpoint, "eu-west-1")
    us_url = us.create_queue(QueueName="same")["QueueUrl"]
    eu_url = eu.create_queue(QueueName="same")["QueueUrl"]
    assert us_url == f"{endpoint}/{ACCOUNT}/same"
    assert eu_url == f"http://sqs.eu-west-1.localhost:{server.port}/{ACCOUNT}/same"
    assert us_url != eu_url
    assert eu.get_queue_url(QueueName="same")["QueueUrl"] == eu_url
    assert eu.list_queues()["QueueUrls"] == [eu_url]
    us.send_message(QueueUrl=us_url, MessageBody="us")
    eu.send_message(QueueUrl=eu_url, MessageBody="eu")
    assert [m["Body"] for m in eu.receive_message(QueueUrl=eu_url)["Messages"]] == ["eu"]
    assert [m["Body"] for m in us.receive_message(QueueUrl=us_url)["Messages"]] == ["us"]
    arn = eu.get_queue_attributes(QueueUrl=eu_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert arn == f"arn:aws:sqs:eu-west-1:{ACCOUNT}:same"


def test_recreating_within_60_seconds_answers_queue_deleted_recently(manual):
    sqs = default_client("sqs", manual.endpoint)
    url = sqs.create_queue(QueueName="again")["QueueUrl"]
    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(ClientError) as e:
        sqs.create_queue(QueueName="again")
    assert error(e) == (
        "AWS.SimpleQueueService.QueueDeletedRecently",
        400,
        "You must wait 60 seconds after deleting a queue before you can create another with the same name.",
    )
    assert e.value.response["Error"].get("QueryErrorCode") in (None, "QueueDeletedRecently")
    advance_clock(manual.endpoint, 59)
    with pytest.raises(ClientError):
        sqs.create_queue(QueueName="again")
    advance_clock(manual.endpoint, 1)
    assert sqs.create_queue(QueueName="again")["QueueUrl"] == url


# ---- receive ----------------------------------------------------------------------------------


def test_message_attribute_names_all_star_and_prefixes(sqs):
    url = sqs.create_queue(QueueName="names")["QueueUrl"]
    attrs = {
        "General": {"DataType": "String", "StringValue": "Kenobi"},
        "Hello": {"DataType": "String", "StringValue": "There"},
        "Help.Me": {"DataType": "String", "StringValue": "Me"},
        "attr.1øßä": {"DataType": "String", "StringValue": "non-ascii"},
    }
    sqs.send_message(QueueUrl=url, MessageBody="msg", MessageAttributes=attrs)
    cases = [
        (["All"], set(attrs)),
        (["*"], set(attrs)),
        ([".*"], set(attrs)),
        (["Help.*"], {"Help.Me"}),
        (["Hel.*"], set()),
        (["attr.*"], {"attr.1øßä"}),
        (["attr.1øßä", "Hello"], {"attr.1øßä", "Hello"}),
    ]
    for names, want in cases:
        m = sqs.receive_message(QueueUrl=url, MessageAttributeNames=names, VisibilityTimeout=0)["Messages"][0]
        assert set(m.get("MessageAttributes", {})) == want, names


def test_standard_queue_redelivers_an_expired_message_before_newer_ones(manual):
    sqs = default_client("sqs", manual.endpoint)
    url = sqs.create_queue(QueueName="order", Attributes={"VisibilityTimeout": "5"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="old")
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "old"
    advance_clock(manual.endpoint, 1)
    sqs.send_message(QueueUrl=url, MessageBody="new")
    advance_clock(manual.endpoint, 4)
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url)["Messages"]] == ["old"]
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url)["Messages"]] == ["new"]


def test_fifo_group_is_held_only_by_in_flight_messages(manual):
    sqs = default_client("sqs", manual.endpoint)
    url = sqs.create_queue(
        QueueName="groups.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true", "VisibilityTimeout": "10"},
    )["QueueUrl"]
    for body, group in [("a1", "a"), ("a2", "a"), ("a3", "a"), ("b1", "b")]:
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group)
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2)["Messages"]
    assert [m["Body"] for m in first] == ["a1", "a2"]
    # a1 visible again while a2 is in flight: a1 is delivered, a3 (after a2) is held.
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"], VisibilityTimeout=0)
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in again] == ["b1", "a1"], "group a serves again, from the back"
    # Everything in flight times out: groups come back in the order they became receivable.
    advance_clock(manual.endpoint, 10)
    after = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in after] == ["a1", "a2", "a3", "b1"]


def test_fifo_dedup_survives_a_scope_change_and_purge_clears_it(sqs):
    url = sqs.create_queue(QueueName="dedup.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    first = sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="d")
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"DeduplicationScope": "messageGroup"})
    dup = sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="d")
    assert dup["MessageId"] == first["MessageId"], "the earlier id is not forgotten"
    n = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    assert n == {"ApproximateNumberOfMessages": "1"}
    sqs.purge_queue(QueueUrl=url)
    fresh = sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="d")
    assert fresh["MessageId"] != first["MessageId"], "purge clears the deduplication cache"
    msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["MessageId"] for m in msgs] == [fresh["MessageId"]]


# ---- trace headers ----------------------------------------------------------------------------


def with_trace_header(c, value):
    def add(request, **_):
        request.headers["X-Amzn-Trace-Id"] = value

    c.meta.events.register("before-send.*.*", add)
    return c


def test_trace_header_becomes_aws_trace_header(endpoint):
    sqs = with_trace_header(default_client("sqs", endpoint), TRACE)
    url = sqs.create_queue(QueueName="traced")["QueueUrl"]
    sent = sqs.send_message(QueueUrl=url, MessageBody="m")
    assert "MD5OfMessageSystemAttributes" not in sent
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "1", "MessageBody": "b"}])
    msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["AWSTraceHeader"])["Messages"]
    assert [(m["Body"], m["Attributes"]["AWSTraceHeader"]) for m in msgs] == [("m", TRACE), ("b", TRACE)]


def test_s3_notification_carries_the_trace_header(endpoint, sqs):
    s3 = with_trace_header(default_client("s3", endpoint), TRACE)
    url = sqs.create_queue(QueueName="s3-traced")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(s3_policy(arn, "traced"))})
    s3.create_bucket(Bucket="traced")
    s3.put_bucket_notification_configuration(
        Bucket="traced",
        NotificationConfiguration={"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]},
    )
    s3.put_object(Bucket="traced", Key="k", Body=b"x")
    got = receive_records(sqs, url, 1)
    assert got[0]["Attributes"].get("AWSTraceHeader") == TRACE


# ---- policies ---------------------------------------------------------------------------------


def s3_policy(arn, bucket, effect="Allow"):
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": effect,
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "SQS:SendMessage",
                "Resource": arn,
                "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:*:*:{bucket}"}},
            }
        ],
    }


def receive_records(sqs, url, count, timeout=10.0):
    """Receives `count` S3 event messages (skipping the s3:TestEvent), with their attributes."""
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < count and time.monotonic() < deadline:
        resp = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, AttributeNames=["All"])
        for m in resp.get("Messages", []):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            if "Records" in json.loads(m["Body"]):
                out.append(m)
    assert len(out) == count, out
    return out


def test_the_queue_policy_is_checked_at_delivery(endpoint, sqs, s3):
    url = sqs.create_queue(QueueName="guarded")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(s3_policy(arn, "guarded"))})
    s3.create_bucket(Bucket="guarded")
    s3.put_bucket_notification_configuration(
        Bucket="guarded",
        NotificationConfiguration={"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]},
    )
    s3.put_object(Bucket="guarded", Key="allowed", Body=b"x")
    assert receive_records(sqs, url, 1)

    for policy in ("", json.dumps(s3_policy(arn, "another-bucket")), json.dumps(s3_policy(arn, "guarded", "Deny"))):
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})
        s3.put_object(Bucket="guarded", Key="denied", Body=b"x")
        # The policy is read at delivery: let this delivery reach its fate before the next change.
        settle(endpoint)
    # Each denied delivery ends in the ledger with its reason; none reaches the queue.
    failed = [r for r in ledger(endpoint, target=arn) if r["fate"] != "delivered" and r["fate"] != "pending"]
    assert len(failed) == 3, ledger(endpoint, target=arn)
    reasons = " | ".join(json.dumps(r) for r in failed)
    assert "has no Policy" in reasons
    assert "does not allow" in reasons
    assert "explicitly denies" in reasons
    assert "Messages" not in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)


def test_policy_limits(sqs):
    url = sqs.create_queue(QueueName="limits")["QueueUrl"]

    def policy(statements, actions=1, pad=0):
        return json.dumps(
            {
                "Version": "2012-10-17",
                "Id": "x" * pad,
                "Statement": [
                    {"Sid": f"s{i}", "Effect": "Allow", "Principal": "*", "Action": [f"sqs:A{a}" for a in range(actions)], "Resource": "*"}
                    for i in range(statements)
                ],
            }
        )

    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy(20, 7)})
    with pytest.raises(ClientError) as e:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy(1, pad=8200)})
    assert error(e) == ("OverLimit", 403, "Submitted policy is over max allowed size.")
    with pytest.raises(ClientError) as e:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy(21)})
    assert error(e) == ("OverLimit", 403, "21 statements were found in the submitted policy, max allowed is 20")
    with pytest.raises(ClientError) as e:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy(1, actions=10)})
    assert error(e) == (
        "OverLimit",
        403,
        "10 actions were found in a statement from the submitted policy, max allowed is 7",
    )
    # A 9.5 MB policy is refused (by the size limit, or by the gateway's body limit first).
    with pytest.raises(ClientError) as e:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy(1, pad=9_500_000)})
    assert 400 <= e.value.response["ResponseMetadata"]["HTTPStatusCode"] < 500
    assert json.loads(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"]) == json.loads(
        policy(20, 7)
    )
