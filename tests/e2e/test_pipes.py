"""EventBridge Pipes with boto3 and the AWS CLI: pipes from SQS (and Kinesis) through filters, a
Lambda enrichment and input templates to their targets, their states on the manual clock, and
what happens to the source's records when a target fails."""

import json
import re
import sys
import urllib.request

import pytest
from botocore.exceptions import ClientError

from conftest import _client, advance_clock, ledger, serve, wait_until
from test_lambda import create as create_function

ROLE = "arn:aws:iam::000000000000:role/pipe-role"
ACCOUNT = "000000000000"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.fixture
def server(tmp_path, request):
    # The manual clock: pipe state changes (1 s each) happen when a test moves it.
    yield from serve(
        tmp_path, request,
        ["--clock", "manual", "--lambda-runtime", f"python3.12={sys.executable}", "--lambda-python-client", "shipped"],
    )


@pytest.fixture
def pipes(endpoint):
    return _client("pipes", endpoint)


@pytest.fixture
def lam(endpoint):
    return _client("lambda", endpoint)


def qarn(name):
    return f"arn:aws:sqs:us-east-1:{ACCOUNT}:{name}"


def parn(name):
    return f"arn:aws:pipes:us-east-1:{ACCOUNT}:pipe/{name}"


def metric(endpoint, name):
    with urllib.request.urlopen(endpoint + "/_localbridge/metrics", timeout=10) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith(name + " "):
                return int(float(line.split()[1]))
    return 0


def running(pipes, endpoint, name):
    """Moves the clock past the state change and checks the pipe runs."""
    advance_clock(endpoint, 1)
    assert pipes.describe_pipe(Name=name)["CurrentState"] == "RUNNING"


def counts(sqs, url):
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"])


def receive_one(sqs, url):
    while True:
        resp = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=20,
                                   AttributeNames=["All"], MessageAttributeNames=["All"])
        for m in resp.get("Messages", []):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            return m


def error(call, **kw):
    with pytest.raises(ClientError) as e:
        call(**kw)
    return e.value.response


ENRICH = """import json
def lambda_handler(event, context):
    out = []
    for r in event:
        order = json.loads(r["body"])
        out.append({"orderId": order["id"], "total": order["qty"] * 5, "messageId": r["messageId"]})
    return out
"""


def test_sqs_filter_enrichment_into_a_bus_and_a_rule_to_sqs(server, pipes, lam):
    """The issue's scenario: SQS -> filter -> Lambda enrichment -> EventBridge bus -> rule -> SQS,
    the exact event arriving."""
    endpoint = server.endpoint
    sqs, events = _client("sqs", endpoint), _client("events", endpoint)
    orders = sqs.create_queue(QueueName="orders")["QueueUrl"]
    sink = sqs.create_queue(QueueName="sink", Attributes={"Policy": json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                       "Action": "sqs:SendMessage", "Resource": qarn("sink")}],
    })})["QueueUrl"]
    events.create_event_bus(Name="shop")
    events.put_rule(Name="orders", EventBusName="shop", EventPattern=json.dumps({"source": ["shop.orders"]}))
    events.put_targets(Rule="orders", EventBusName="shop", Targets=[{"Id": "q", "Arn": qarn("sink")}])
    create_function(lam, "enrich", ENRICH, Timeout=30)
    out = pipes.create_pipe(
        Name="orders-pipe",
        RoleArn=ROLE,
        Source=qarn("orders"),
        SourceParameters={
            "FilterCriteria": {"Filters": [{"Pattern": json.dumps({"body": {"type": ["order"]}})}]},
            "SqsQueueParameters": {"BatchSize": 10},
        },
        Enrichment="arn:aws:lambda:us-east-1:000000000000:function:enrich",
        Target="arn:aws:events:us-east-1:000000000000:event-bus/shop",
        TargetParameters={"EventBridgeEventBusParameters": {"Source": "shop.orders", "DetailType": "Order Enriched"}},
    )
    assert out["Arn"] == parn("orders-pipe")
    assert (out["DesiredState"], out["CurrentState"]) == ("RUNNING", "CREATING")
    running(pipes, endpoint, "orders-pipe")
    sqs.send_message(QueueUrl=orders, MessageBody=json.dumps({"type": "refund", "id": 1, "qty": 1}))
    sent = sqs.send_message(QueueUrl=orders, MessageBody=json.dumps({"type": "order", "id": 2, "qty": 3}))
    m = receive_one(sqs, sink)
    event = json.loads(m["Body"])
    assert UUID.match(event.pop("id"))
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", event.pop("time"))
    assert event == {
        "version": "0",
        "detail-type": "Order Enriched",
        "source": "shop.orders",
        "account": ACCOUNT,
        "region": "us-east-1",
        "resources": [],
        "detail": {"orderId": 2, "total": 15, "messageId": sent["MessageId"]},
    }
    # The filtered-out message and the delivered one both leave the source queue; only one
    # event reached the bus.
    wait_until(lambda: counts(sqs, orders) == (0, 0), what="the source queue emptied")
    assert metric(endpoint, "localbridge_pipes_records_filtered_total") == 1
    assert metric(endpoint, "localbridge_pipes_events_delivered_total") == 1
    assert counts(sqs, sink) == (0, 0)


def test_crud_states_listing_tags_and_errors(server, pipes):
    endpoint = server.endpoint
    sqs = _client("sqs", endpoint)
    for q in ("src", "dst", "other"):
        sqs.create_queue(QueueName=q)
    created = pipes.create_pipe(Name="p1", RoleArn=ROLE, Source=qarn("src"), Target=qarn("dst"),
                                Description="first", Tags={"team": "a"})
    assert set(created) - {"ResponseMetadata"} == {"Arn", "Name", "DesiredState", "CurrentState", "CreationTime", "LastModifiedTime"}
    pipes.create_pipe(Name="p2", RoleArn=ROLE, Source=qarn("other"), Target=qarn("dst"), DesiredState="STOPPED")
    d = pipes.describe_pipe(Name="p1")
    assert d["CurrentState"] == "CREATING"
    advance_clock(endpoint, 1)
    d = pipes.describe_pipe(Name="p1")
    assert {k: d[k] for k in ("Name", "Arn", "Description", "DesiredState", "CurrentState", "Source", "Target", "RoleArn", "Tags")} == {
        "Name": "p1", "Arn": parn("p1"), "Description": "first", "DesiredState": "RUNNING", "CurrentState": "RUNNING",
        "Source": qarn("src"), "Target": qarn("dst"), "RoleArn": ROLE, "Tags": {"team": "a"},
    }
    assert pipes.describe_pipe(Name="p2")["CurrentState"] == "STOPPED"

    # Listing: filters and pages.
    names = lambda **kw: [p["Name"] for p in pipes.list_pipes(**kw)["Pipes"]]
    assert names() == ["p1", "p2"]
    assert names(CurrentState="STOPPED") == ["p2"]
    assert names(DesiredState="RUNNING") == ["p1"]
    assert names(SourcePrefix=qarn("oth")) == ["p2"]
    assert names(TargetPrefix=qarn("dst")) == ["p1", "p2"]
    assert names(NamePrefix="p1") == ["p1"]
    page = pipes.list_pipes(Limit=1)
    assert [p["Name"] for p in page["Pipes"]] == ["p1"]
    assert [p["Name"] for p in pipes.list_pipes(Limit=1, NextToken=page["NextToken"])["Pipes"]] == ["p2"]
    listed = pipes.list_pipes(NamePrefix="p1")["Pipes"][0]
    assert set(listed) == {"Name", "Arn", "DesiredState", "CurrentState", "CreationTime", "LastModifiedTime", "Source", "Target"}
    assert [p["Name"] for p in pipes.get_paginator("list_pipes").paginate(Limit=1).search("Pipes")] == ["p1", "p2"]

    # Stop, start, update: each through its transitional state.
    assert pipes.stop_pipe(Name="p1")["CurrentState"] == "STOPPING"
    assert error(pipes.start_pipe, Name="p1")["Error"]["Code"] == "ConflictException"
    advance_clock(endpoint, 1)
    assert pipes.describe_pipe(Name="p1")["CurrentState"] == "STOPPED"
    assert pipes.start_pipe(Name="p1")["CurrentState"] == "STARTING"
    advance_clock(endpoint, 1)
    assert pipes.describe_pipe(Name="p1")["CurrentState"] == "RUNNING"
    up = pipes.update_pipe(Name="p1", RoleArn=ROLE, Description="second",
                           SourceParameters={"SqsQueueParameters": {"BatchSize": 5}})
    assert up["CurrentState"] == "UPDATING"
    advance_clock(endpoint, 1)
    d = pipes.describe_pipe(Name="p1")
    assert (d["CurrentState"], d["Description"]) == ("RUNNING", "second")
    assert d["SourceParameters"] == {"SqsQueueParameters": {"BatchSize": 5}}

    # Tags.
    pipes.tag_resource(resourceArn=parn("p1"), tags={"env": "dev"})
    assert pipes.list_tags_for_resource(resourceArn=parn("p1"))["tags"] == {"team": "a", "env": "dev"}
    pipes.untag_resource(resourceArn=parn("p1"), tagKeys=["team"])
    assert pipes.list_tags_for_resource(resourceArn=parn("p1"))["tags"] == {"env": "dev"}
    assert error(pipes.list_tags_for_resource, resourceArn=parn("nope"))["Error"]["Code"] == "NotFoundException"

    # Errors.
    r = error(pipes.create_pipe, Name="p1", RoleArn=ROLE, Source=qarn("src"), Target=qarn("dst"))
    assert r["Error"]["Code"] == "ConflictException"
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert (r["resourceId"], r["resourceType"]) == ("p1", "pipe")
    r = error(pipes.describe_pipe, Name="nope")
    assert (r["Error"]["Code"], r["Error"]["Message"], r["ResponseMetadata"]["HTTPStatusCode"]) == (
        "NotFoundException", "Pipe nope does not exist.", 404)
    r = error(pipes.create_pipe, Name="bad name", RoleArn=ROLE, Source=qarn("src"), Target=qarn("dst"))
    assert r["Error"]["Code"] == "ValidationException"
    assert r["fieldList"] == [{"name": "name", "message": "Value 'bad name' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+"}]
    r = error(pipes.create_pipe, Name="p3", RoleArn="not-a-role", Source=qarn("src"), Target=qarn("dst"))
    assert r["Error"]["Code"] == "ValidationException" and r["fieldList"][0]["name"] == "roleArn"
    r = error(pipes.create_pipe, Name="p3", RoleArn=ROLE, Source=qarn("src"), Target=qarn("dst"),
              SourceParameters={"FilterCriteria": {"Filters": [{"Pattern": "{\"a\": 1}"}]}})
    assert r["Error"]["Code"] == "ValidationException"
    r = error(pipes.create_pipe, Name="p3", RoleArn=ROLE, Source=qarn("src"), Target=qarn("dst"),
              SourceParameters={"SqsQueueParameters": {"BatchSize": 100}})
    assert r["Error"]["Code"] == "ValidationException"
    r = error(pipes.list_pipes, Limit=101)
    assert r["Error"]["Code"] == "ValidationException"

    # A pipe whose source does not exist fails to create, with the reason.
    pipes.create_pipe(Name="ghost", RoleArn=ROLE, Source=qarn("missing"), Target=qarn("dst"))
    advance_clock(endpoint, 1)
    d = pipes.describe_pipe(Name="ghost")
    assert d["CurrentState"] == "CREATE_FAILED" and d["StateReason"]

    # Delete: DELETING, then gone.
    out = pipes.delete_pipe(Name="p2")
    assert (out["DesiredState"], out["CurrentState"]) == ("DELETED", "DELETING")
    assert pipes.describe_pipe(Name="p2")["CurrentState"] == "DELETING"
    advance_clock(endpoint, 1)
    assert error(pipes.describe_pipe, Name="p2")["Error"]["Code"] == "NotFoundException"
    assert names() == ["ghost", "p1"]


def test_stop_stops_polling_and_start_resumes(server, pipes):
    endpoint = server.endpoint
    sqs = _client("sqs", endpoint)
    src = sqs.create_queue(QueueName="src")["QueueUrl"]
    dst = sqs.create_queue(QueueName="dst")["QueueUrl"]
    pipes.create_pipe(Name="p", RoleArn=ROLE, Source=qarn("src"), Target=qarn("dst"))
    running(pipes, endpoint, "p")
    sqs.send_message(QueueUrl=src, MessageBody="one")
    first = json.loads(receive_one(sqs, dst)["Body"])
    assert first["body"] == "one" and first["eventSource"] == "aws:sqs"
    pipes.stop_pipe(Name="p")
    advance_clock(endpoint, 1)
    assert pipes.describe_pipe(Name="p")["CurrentState"] == "STOPPED"
    sqs.send_message(QueueUrl=src, MessageBody="two")
    # Stopped: the message stays in the queue, visible, never received.
    assert counts(sqs, src) == (1, 0)
    assert metric(endpoint, "localbridge_pipes_records_received_total") == 1
    assert metric(endpoint, f'localbridge_pipe_received_total{{pipe="{parn("p")}"}}') == 1
    assert metric(endpoint, f'localbridge_pipe_delivered_total{{pipe="{parn("p")}"}}') == 1
    pipes.start_pipe(Name="p")
    running(pipes, endpoint, "p")
    assert json.loads(receive_one(sqs, dst)["Body"])["body"] == "two"
    wait_until(lambda: counts(sqs, src) == (0, 0), what="the source queue emptied")


def test_input_template_with_reserved_variables_from_the_cli(server, aws):
    endpoint = server.endpoint
    sqs = _client("sqs", endpoint)
    src = sqs.create_queue(QueueName="src")["QueueUrl"]
    dst = sqs.create_queue(QueueName="dst")["QueueUrl"]
    template = (
        '{"id": "<$.body.order.id>", "n": <$.body.order.n>, "msg": "<$.messageId>", "raw": <$.body>,'
        ' "pipe": "<aws.pipes.pipe-name>", "arn": "<aws.pipes.pipe-arn>", "source": "<aws.pipes.source-arn>",'
        ' "target": "<aws.pipes.target-arn>", "enrichment": "<aws.pipes.enrichment-arn>",'
        ' "at": "<aws.pipes.event.ingestion-time>", "json": <aws.pipes.event.json>}'
    )
    out = aws("pipes", "create-pipe", "--name", "shaped", "--role-arn", ROLE, "--source", qarn("src"),
              "--target", qarn("dst"), "--target-parameters", json.dumps({"InputTemplate": template}))
    assert out["CurrentState"] == "CREATING"
    advance_clock(endpoint, 1)
    assert aws("pipes", "describe-pipe", "--name", "shaped")["TargetParameters"] == {"InputTemplate": template}
    body = json.dumps({"order": {"id": "o-1", "n": 4}})
    sent = sqs.send_message(QueueUrl=src, MessageBody=body)
    got = json.loads(receive_one(sqs, dst)["Body"])
    at = got.pop("at")
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", at)
    rec = got.pop("json")
    assert rec["body"] == {"order": {"id": "o-1", "n": 4}} and rec["messageId"] == sent["MessageId"]
    assert got == {
        "id": "o-1", "n": 4, "msg": sent["MessageId"], "raw": body,
        "pipe": "shaped", "arn": parn("shaped"), "source": qarn("src"), "target": qarn("dst"), "enrichment": "",
    }
    listed = aws("pipes", "list-pipes")["Pipes"]
    assert [p["Name"] for p in listed] == ["shaped"]
    aws("pipes", "delete-pipe", "--name", "shaped")


def test_a_failing_target_leaves_messages_in_the_queue_and_its_redrive_policy_applies(server, pipes):
    endpoint = server.endpoint
    sqs = _client("sqs", endpoint)
    dlq = sqs.create_queue(QueueName="src-dlq")["QueueUrl"]
    src = sqs.create_queue(QueueName="src", Attributes={
        "VisibilityTimeout": "30",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": qarn("src-dlq"), "maxReceiveCount": "2"}),
    })["QueueUrl"]
    dst = sqs.create_queue(QueueName="dst")["QueueUrl"]
    pipes.create_pipe(Name="p", RoleArn=ROLE, Source=qarn("src"), Target=qarn("dst"))
    running(pipes, endpoint, "p")
    sqs.delete_queue(QueueUrl=dst)
    sqs.send_message(QueueUrl=src, MessageBody="keep me")
    # The delivery fails: the message is not deleted (in flight until its visibility timeout).
    wait_until(lambda: metric(endpoint, "localbridge_pipes_records_failed_total") >= 1, what="a failed delivery")
    assert counts(sqs, src) == (0, 1)
    # After the timeout the pipe receives it again and fails again; then the redrive policy
    # moves it to the dead-letter queue.
    advance_clock(endpoint, 31)
    wait_until(lambda: metric(endpoint, "localbridge_pipes_records_failed_total") >= 2, what="a second failure")
    advance_clock(endpoint, 31)
    m = receive_one(sqs, dlq)
    assert m["Body"] == "keep me"
    assert metric(endpoint, "localbridge_pipes_events_delivered_total") == 0


FAIL_SOME = """import json
def lambda_handler(event, context):
    print(json.dumps(event))
    return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event if r["body"] == "bad"]}
"""


def test_lambda_target_batch_item_failures(server, pipes, lam):
    endpoint = server.endpoint
    sqs = _client("sqs", endpoint)
    src = sqs.create_queue(QueueName="src", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    create_function(lam, "consumer", FAIL_SOME, Timeout=30)
    pipes.create_pipe(Name="p", RoleArn=ROLE, Source=qarn("src"),
                      Target="arn:aws:lambda:us-east-1:000000000000:function:consumer",
                      SourceParameters={"SqsQueueParameters": {"BatchSize": 10, "MaximumBatchingWindowInSeconds": 0}})
    running(pipes, endpoint, "p")
    sqs.send_message_batch(QueueUrl=src, Entries=[{"Id": "a", "MessageBody": "good"}, {"Id": "b", "MessageBody": "bad"}])
    # "good" is deleted, "bad" stays (in flight, then visible again).
    wait_until(lambda: metric(endpoint, "localbridge_pipes_records_failed_total") >= 1
               and metric(endpoint, "localbridge_pipes_events_delivered_total") >= 1, what="the batch's outcome")
    wait_until(lambda: counts(sqs, src) == (0, 1), what="only the failed message left")


def b64(data):
    import base64
    return base64.b64encode(data).decode()


def test_kinesis_source_filter_and_record_shape(server, pipes):
    endpoint = server.endpoint
    sqs, kinesis = _client("sqs", endpoint), _client("kinesis", endpoint)
    dst = sqs.create_queue(QueueName="dst")["QueueUrl"]
    kinesis.create_stream(StreamName="clicks", ShardCount=2)
    stream = kinesis.describe_stream_summary(StreamName="clicks")["StreamDescriptionSummary"]["StreamARN"]
    pipes.create_pipe(
        Name="k", RoleArn=ROLE, Source=stream, Target=qarn("dst"),
        SourceParameters={
            "KinesisStreamParameters": {"StartingPosition": "TRIM_HORIZON", "BatchSize": 10},
            "FilterCriteria": {"Filters": [{"Pattern": json.dumps({"data": {"kind": ["keep"]}})}]},
        },
    )
    kept = kinesis.put_record(StreamName="clicks", Data=json.dumps({"kind": "keep", "n": 1}).encode(), PartitionKey="a")
    kinesis.put_record(StreamName="clicks", Data=json.dumps({"kind": "drop", "n": 2}).encode(), PartitionKey="b")
    kinesis.put_record(StreamName="clicks", Data=b"not json", PartitionKey="c")
    running(pipes, endpoint, "k")
    rec = json.loads(receive_one(sqs, dst)["Body"])
    arrival = rec.pop("approximateArrivalTimestamp")
    assert isinstance(arrival, (int, float)) and arrival > 0
    assert rec == {
        "kinesisSchemaVersion": "1.0",
        "partitionKey": "a",
        "sequenceNumber": kept["SequenceNumber"],
        "data": b64(json.dumps({"kind": "keep", "n": 1}).encode()),
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{kept['ShardId']}:{kept['SequenceNumber']}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": ROLE,
        "awsRegion": "us-east-1",
        "eventSourceARN": stream,
    }
    wait_until(lambda: metric(endpoint, "localbridge_pipes_records_filtered_total") == 2, what="two records filtered")
    assert counts(sqs, dst) == (0, 0)


def test_kinesis_source_retries_then_dead_letters_and_moves_on(server, pipes):
    endpoint = server.endpoint
    sqs, kinesis = _client("sqs", endpoint), _client("kinesis", endpoint)
    dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    kinesis.create_stream(StreamName="s", ShardCount=1)
    stream = kinesis.describe_stream_summary(StreamName="s")["StreamDescriptionSummary"]["StreamARN"]
    pipes.create_pipe(
        Name="k", RoleArn=ROLE, Source=stream, Target=qarn("gone"),
        SourceParameters={"KinesisStreamParameters": {
            "StartingPosition": "TRIM_HORIZON", "BatchSize": 10, "MaximumRetryAttempts": 2,
            "OnPartialBatchItemFailure": "AUTOMATIC_BISECT", "DeadLetterConfig": {"Arn": qarn("dlq")},
        }},
    )
    first = kinesis.put_record(StreamName="s", Data=b"1", PartitionKey="k")
    last = kinesis.put_record(StreamName="s", Data=b"2", PartitionKey="k")
    running(pipes, endpoint, "k")

    def dead_lettered():
        resp = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=0, MaxNumberOfMessages=10)
        if resp.get("Messages"):
            return resp["Messages"]
        advance_clock(endpoint, 5)
        return None

    msgs = wait_until(dead_lettered, what="the failed batch in the dead-letter queue")
    infos = [json.loads(m["Body"]) for m in msgs]
    # Bisected: each half failed on its own, then went to the dead-letter queue.
    while sum(i["KinesisBatchInfo"]["batchSize"] for i in infos) < 2:
        infos += [json.loads(m["Body"]) for m in wait_until(dead_lettered, what="the second half")]
    batch = infos[0]["KinesisBatchInfo"]
    assert batch["shardId"] == first["ShardId"] and batch["streamArn"] == stream
    assert batch["startSequenceNumber"] == first["SequenceNumber"]
    assert {i["KinesisBatchInfo"]["endSequenceNumber"] for i in infos} >= {last["SequenceNumber"]} or len(infos) == 1
    assert infos[0]["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert metric(endpoint, "localbridge_pipes_records_dead_lettered_total") == 2
    # Each dead-lettered half is in the delivery ledger, under the pipe, with its reason.
    pipe_arn = pipes.describe_pipe(Name="k")["Arn"]
    records = ledger(endpoint, producer=pipe_arn)
    assert len(records) == len(infos) and {r["fate"] for r in records} == {"dead-lettered"}
    assert all(r["deadLetterTarget"] == qarn("dlq") for r in records)
    assert all(r["reason"].startswith("RetryAttemptsExhausted: ") for r in records)


def test_sqs_to_a_kinesis_target_with_a_partition_key(server, pipes):
    endpoint = server.endpoint
    sqs, kinesis = _client("sqs", endpoint), _client("kinesis", endpoint)
    src = sqs.create_queue(QueueName="src")["QueueUrl"]
    kinesis.create_stream(StreamName="out", ShardCount=1)
    stream = kinesis.describe_stream_summary(StreamName="out")["StreamDescriptionSummary"]["StreamARN"]
    pipes.create_pipe(
        Name="to-kinesis", RoleArn=ROLE, Source=qarn("src"), Target=stream,
        TargetParameters={"KinesisStreamParameters": {"PartitionKey": "$.body.customer"},
                          "InputTemplate": '{"order": <$.body.id>}'},
    )
    running(pipes, endpoint, "to-kinesis")
    sqs.send_message(QueueUrl=src, MessageBody=json.dumps({"customer": "c-9", "id": 41}))
    shard = kinesis.list_shards(StreamName="out")["Shards"][0]["ShardId"]
    it = kinesis.get_shard_iterator(StreamName="out", ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]

    def records():
        return kinesis.get_records(ShardIterator=it)["Records"]

    (rec,) = wait_until(records, what="the record in the stream")
    assert rec["PartitionKey"] == "c-9"
    assert json.loads(rec["Data"]) == {"order": 41}


def test_sns_and_cloudwatch_logs_targets(server, pipes):
    endpoint = server.endpoint
    sqs, sns, logs = _client("sqs", endpoint), _client("sns", endpoint), _client("logs", endpoint)
    sqs.create_queue(QueueName="a")
    a = sqs.get_queue_url(QueueName="a")["QueueUrl"]
    sqs.create_queue(QueueName="b")
    b = sqs.get_queue_url(QueueName="b")["QueueUrl"]
    out = sqs.create_queue(QueueName="out", Attributes={"Policy": json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
                       "Action": "sqs:SendMessage", "Resource": qarn("out")}],
    })})["QueueUrl"]
    topic = sns.create_topic(Name="t")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn("out"), Attributes={"RawMessageDelivery": "true"})
    logs.create_log_group(logGroupName="/pipes/b")
    pipes.create_pipe(Name="to-sns", RoleArn=ROLE, Source=qarn("a"), Target=topic,
                      TargetParameters={"InputTemplate": "hello <$.body>"})
    pipes.create_pipe(Name="to-logs", RoleArn=ROLE, Source=qarn("b"),
                      Target="arn:aws:logs:us-east-1:000000000000:log-group:/pipes/b",
                      TargetParameters={"CloudWatchLogsParameters": {"LogStreamName": "s1"},
                                        "InputTemplate": '{"n": <$.body.n>}'})
    running(pipes, endpoint, "to-sns")
    assert pipes.describe_pipe(Name="to-logs")["CurrentState"] == "RUNNING"
    sqs.send_message(QueueUrl=a, MessageBody="world")
    assert receive_one(sqs, out)["Body"] == "hello world"
    sqs.send_message(QueueUrl=b, MessageBody=json.dumps({"n": 5}))

    def logged():
        return logs.get_log_events(logGroupName="/pipes/b", logStreamName="s1").get("events") if any(
            s["logStreamName"] == "s1" for s in logs.describe_log_streams(logGroupName="/pipes/b")["logStreams"]
        ) else None

    (event,) = wait_until(logged, what="the log event")
    assert json.loads(event["message"]) == {"n": 5}


FORWARD_ALL = """import json, boto3
sqs = boto3.client("sqs")
def lambda_handler(event, context):
    url = sqs.get_queue_url(QueueName="seen")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(event))
"""


def test_fire_and_forget_lambda_target_batching_window_and_cli_lifecycle(server, lam, aws):
    endpoint = server.endpoint
    sqs = _client("sqs", endpoint)
    src = sqs.create_queue(QueueName="src")["QueueUrl"]
    seen = sqs.create_queue(QueueName="seen")["QueueUrl"]
    create_function(lam, "fwd", FORWARD_ALL, Timeout=30)
    aws("pipes", "create-pipe", "--name", "ff", "--role-arn", ROLE, "--source", qarn("src"),
        "--target", "arn:aws:lambda:us-east-1:000000000000:function:fwd",
        "--desired-state", "STOPPED",
        "--source-parameters", json.dumps({"SqsQueueParameters": {"BatchSize": 20, "MaximumBatchingWindowInSeconds": 5}}),
        "--target-parameters", json.dumps({"LambdaFunctionParameters": {"InvocationType": "FIRE_AND_FORGET"},
                                           "InputTemplate": "<$.body>"}))
    advance_clock(endpoint, 1)
    assert aws("pipes", "describe-pipe", "--name", "ff")["CurrentState"] == "STOPPED"
    sqs.send_message_batch(QueueUrl=src, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(10)])
    sqs.send_message_batch(QueueUrl=src, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(10, 15)])
    assert aws("pipes", "start-pipe", "--name", "ff")["CurrentState"] == "STARTING"
    advance_clock(endpoint, 1)
    # Asynchronous invocations with the batch (20 at most, gathered within the window), each a
    # JSON array of the templated bodies (strings).
    got = []

    def arrived():
        # The window runs on the manual clock: move it until the batch is sent.
        resp = sqs.receive_message(QueueUrl=seen, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        for m in resp.get("Messages", []):
            sqs.delete_message(QueueUrl=seen, ReceiptHandle=m["ReceiptHandle"])
            got.extend(json.loads(m["Body"]))
        if len(got) < 15:
            advance_clock(endpoint, 5)
        return len(got) >= 15

    wait_until(arrived, what="the batch at the function")
    assert sorted(got) == sorted(f"m{i}" for i in range(15))
    assert aws("pipes", "stop-pipe", "--name", "ff")["CurrentState"] == "STOPPING"
    advance_clock(endpoint, 1)
    up = aws("pipes", "update-pipe", "--name", "ff", "--role-arn", ROLE, "--description", "updated")
    assert up["CurrentState"] == "UPDATING"
    advance_clock(endpoint, 1)
    d = aws("pipes", "describe-pipe", "--name", "ff")
    assert (d["CurrentState"], d["Description"]) == ("STOPPED", "updated")
    assert d["TargetParameters"]["LambdaFunctionParameters"] == {"InvocationType": "FIRE_AND_FORGET"}
