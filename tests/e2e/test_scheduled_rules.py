"""EventBridge scheduled rules end to end: `rate()` and `cron()` rules fire on the manual clock into
SQS queues, with boto3 and the AWS CLI; the Scheduled Event is compared field by field with the one
AWS delivers (EventBridge User Guide's sample):

    {"version": "0", "id": "...", "detail-type": "Scheduled Event", "source": "aws.events",
     "account": "123456789012", "time": "2015-10-08T16:53:06Z", "region": "us-east-1",
     "resources": ["arn:aws:events:us-east-1:123456789012:rule/my-scheduled-rule"], "detail": {}}

Every test runs on the manual clock and moves it; nothing sleeps.
"""

import json
import re
from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError

from conftest import _client, advance_clock, get_json, ledger, receive, settle

REGION = "us-east-1"
ACCOUNT = "000000000000"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
INVALID = ("ValidationException", "Parameter ScheduleExpression is not valid.", 400)


@pytest.fixture
def server(manual):
    return manual



def rule_arn(name):
    return f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{name}"


def clock_now(endpoint):
    """The server's (manual) time, to the millisecond."""
    text = get_json(endpoint, "/_localbridge/clock")["now"]
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def floor_minute(t):
    return t.replace(second=0, microsecond=0)


def iso(t):
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def queue(sqs, name, rules, fifo=False):
    """A queue whose policy lets `rules` send to it; its URL and ARN."""
    attributes = {"FifoQueue": "true"} if fifo else {}
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
    policy = {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": [rule_arn(r) for r in rules]}},
        }],
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    return url, arn


def scheduled_event(body, rule, time):
    """Checks `body` is the Scheduled Event of `rule` for `time`, every field; returns its id."""
    assert UUID.match(body["id"]), body
    assert body == {
        "version": "0",
        "id": body["id"],
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": iso(time),
        "region": REGION,
        "resources": [rule_arn(rule)],
        "detail": {},
    }
    return body["id"]


def is_empty(sqs, url):
    settle(sqs.meta.endpoint_url)
    return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", []) == []


def test_a_rate_rule_fires_every_minute_in_order(events, sqs, endpoint):
    url, arn = queue(sqs, "ticks.fifo", ["tick"], fifo=True)
    created = clock_now(endpoint)
    resp = events.put_rule(Name="tick", ScheduleExpression="rate(1 minute)")
    assert resp["RuleArn"] == rule_arn("tick")
    # A FIFO queue with one message group keeps the firings in the order they were sent.
    events.put_targets(Rule="tick", Targets=[{"Id": "q", "Arn": arn, "SqsParameters": {"MessageGroupId": "g"}}])
    rule = events.describe_rule(Name="tick")
    assert (rule["ScheduleExpression"], rule["State"]) == ("rate(1 minute)", "ENABLED")
    assert "EventPattern" not in rule

    advance_clock(endpoint, 600)
    bodies = receive(sqs, url, 10)
    # Anchored at the minute the rule was created: the first firing one minute later.
    anchor = floor_minute(created)
    ids = [scheduled_event(b, "tick", anchor + timedelta(minutes=i + 1)) for i, b in enumerate(bodies)]
    assert len(set(ids)) == 10
    records = ledger(endpoint, producer=rule_arn("tick"))
    assert len(records) == 10
    assert {r["fate"] for r in records} == {"delivered"}
    assert is_empty(sqs, url)

    # Once more: the schedule goes on from where it was.
    advance_clock(endpoint, 120)
    bodies = receive(sqs, url, 2)
    assert [b["time"] for b in bodies] == [iso(anchor + timedelta(minutes=m)) for m in (11, 12)]


def test_a_cron_rule_with_the_cli_and_disabling_stops_it(aws, sqs, endpoint):
    url, arn = queue(sqs, "quarters", ["quarter"])
    created = clock_now(endpoint)
    out = aws("events", "put-rule", "--name", "quarter", "--schedule-expression", "cron(0/15 * * * ? *)")
    assert out["RuleArn"] == rule_arn("quarter")
    aws("events", "put-targets", "--rule", "quarter", "--targets", f"Id=q,Arn={arn}")

    # The next four quarter hours after the creation minute.
    anchor = floor_minute(created)
    first = anchor.replace(minute=0) + timedelta(minutes=15 * (anchor.minute // 15 + 1))
    expected = [first + timedelta(minutes=15 * i) for i in range(4)]
    advance_clock(endpoint, 3600)
    bodies = sorted(receive(sqs, url, 4), key=lambda b: b["time"])
    for body, t in zip(bodies, expected):
        scheduled_event(body, "quarter", t)

    aws("events", "disable-rule", "--name", "quarter")
    assert aws("events", "describe-rule", "--name", "quarter")["State"] == "DISABLED"
    advance_clock(endpoint, 3600)
    assert is_empty(sqs, url)

    # Enabled again: the next quarter hour after now.
    aws("events", "enable-rule", "--name", "quarter")
    now = floor_minute(clock_now(endpoint))
    nxt = now.replace(minute=0) + timedelta(minutes=15 * (now.minute // 15 + 1))
    advance_clock(endpoint, 15 * 60)
    (body,) = receive(sqs, url, 1)
    scheduled_event(body, "quarter", nxt)

    # Deleted (targets first): nothing more.
    aws("events", "remove-targets", "--rule", "quarter", "--ids", "q")
    aws("events", "delete-rule", "--name", "quarter")
    advance_clock(endpoint, 3600)
    assert is_empty(sqs, url)


def test_input_transformer_and_constant_input_apply(events, sqs, endpoint):
    url, arn = queue(sqs, "shaped", ["every5"])
    created = clock_now(endpoint)
    events.put_rule(Name="every5", ScheduleExpression="rate(5 minutes)", Description="every five minutes")
    events.put_targets(Rule="every5", Targets=[
        {
            "Id": "shaped",
            "Arn": arn,
            "InputTransformer": {
                "InputPathsMap": {"at": "$.time", "rule": "$.resources[0]", "kind": "$.detail-type"},
                "InputTemplate": '{"scheduledAt": <at>, "rule": <rule>, "kind": <kind>, "name": <aws.events.rule-name>}',
            },
        },
        {"Id": "constant", "Arn": arn, "Input": '{"job": "cleanup"}'},
    ])
    advance_clock(endpoint, 300)
    bodies = receive(sqs, url, 2)
    at = iso(floor_minute(created) + timedelta(minutes=5))
    assert sorted(bodies, key=json.dumps) == sorted([
        {"scheduledAt": at, "rule": rule_arn("every5"), "kind": "Scheduled Event", "name": "every5"},
        {"job": "cleanup"},
    ], key=json.dumps)


def test_invalid_schedule_expressions_are_refused(events, aws_raw):
    for expression in [
        "rate(1 minutes)",
        "rate(5 minute)",
        "rate(0 minutes)",
        "cron(0 12 * * * *)",
        "cron(0 12 ? * ? *)",
        "cron(0 12 * * ?)",
        "cron(0 0 ? * 3#1,6#3 *)",
        "cron(60 0 * * ? *)",
        "at(2030-01-01T00:00:00)",
        "every 5 minutes",
    ]:
        with pytest.raises(ClientError) as e:
            events.put_rule(Name="bad", ScheduleExpression=expression)
        r = e.value.response
        assert (r["Error"]["Code"], r["Error"]["Message"], r["ResponseMetadata"]["HTTPStatusCode"]) == INVALID, expression
    proc = aws_raw("events", "put-rule", "--name", "bad", "--schedule-expression", "rate(5 minute)")
    assert proc.returncode != 0
    assert "(ValidationException) when calling the PutRule operation: Parameter ScheduleExpression is not valid." in proc.stderr

    events.create_event_bus(Name="orders")
    with pytest.raises(ClientError) as e:
        events.put_rule(Name="bad", EventBusName="orders", ScheduleExpression="rate(1 minute)")
    assert e.value.response["Error"]["Message"] == "ScheduleExpression is supported only on the default event bus."
    with pytest.raises(ClientError):
        events.describe_rule(Name="bad")
    # The forms the guides show are accepted.
    for i, expression in enumerate([
        "rate(1 hour)",
        "rate(7 days)",
        "cron(0 10 * * ? *)",
        "cron(0 18 ? * MON-FRI *)",
        "cron(0 9 ? * 2#1 *)",
        "cron(0 0 L * ? *)",
        "cron(0 12 ? * 6L 2030-2040)",
        "cron(0 8 1W * ? *)",
    ]):
        events.put_rule(Name=f"ok{i}", ScheduleExpression=expression)
        assert events.describe_rule(Name=f"ok{i}")["ScheduleExpression"] == expression
