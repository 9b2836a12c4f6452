"""EventBridge Scheduler end to end, with boto3 and the AWS CLI against the binary: schedules and
groups (CRUD, pagination, tags, AWS's errors), one-time, rate and cron schedules firing into SQS,
SNS, Lambda and EventBridge under the manual clock, time zones across daylight-saving changes,
flexible windows, universal targets, retries and the dead-letter queue.

Firing tests run on the manual clock and move it; nothing sleeps. `calendar` starts the clock at
2026-03-01T00:00:00Z so a test can walk through 2026's daylight-saving changes.
"""

import json
from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError

from conftest import _client, advance_clock, get_json, serve

ACCOUNT = "000000000000"
REGION = "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/scheduler"
OFF = {"Mode": "OFF"}


@pytest.fixture
def server(manual):
    """Every test runs on the manual clock: schedules fire when a test moves it."""
    return manual


@pytest.fixture
def calendar(tmp_path, request):
    yield from serve(tmp_path, request, ["--clock", "manual", "--clock-start", "2026-03-01T00:00:00Z"])


@pytest.fixture
def scheduler(endpoint):
    return _client("scheduler", endpoint)


def error(excinfo):
    e = excinfo.value.response
    return e["Error"]["Code"], e["Error"]["Message"], e["ResponseMetadata"]["HTTPStatusCode"]


def queue(sqs, name, **attributes):
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return url, f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


def receive_all(sqs, url, count):
    """`count` messages with their attributes (long polls: the manual clock does not move)."""
    out = []
    while len(out) < count:
        resp = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=20,
                                   MessageAttributeNames=["All"], AttributeNames=["All"])
        for m in resp.get("Messages", []):
            out.append(m)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert len(out) == count, out
    return out


def clock_now(endpoint):
    now = get_json(endpoint, "/_localbridge/clock")["now"]
    return datetime.fromisoformat(now.replace("Z", "+00:00"))


def at_expression(t):
    return f"at({t.strftime('%Y-%m-%dT%H:%M:%S')})"


def iso(t):
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def sent_at(m):
    return datetime.fromtimestamp(int(m["Attributes"]["SentTimestamp"]) / 1000, timezone.utc)


def without_dates(doc):
    return {k: v for k, v in doc.items()
            if k not in ("ResponseMetadata", "CreationDate", "LastModificationDate")}


# ---- control plane ---------------------------------------------------------------------------


def test_schedule_crud_pagination_and_errors(scheduler, sqs):
    _, q = queue(sqs, "work")
    target = {"Arn": q, "RoleArn": ROLE, "Input": "hello"}
    arn = scheduler.create_schedule(Name="nightly", ScheduleExpression="cron(0 2 * * ? *)",
                                    FlexibleTimeWindow=OFF, Target=target)["ScheduleArn"]
    assert arn == f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/default/nightly"
    got = scheduler.get_schedule(Name="nightly")
    assert isinstance(got["CreationDate"], datetime) and isinstance(got["LastModificationDate"], datetime)
    assert without_dates(got) == {
        "Arn": arn,
        "GroupName": "default",
        "Name": "nightly",
        "ScheduleExpression": "cron(0 2 * * ? *)",
        "ScheduleExpressionTimezone": "UTC",
        "State": "ENABLED",
        "Target": {**target, "RetryPolicy": {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185}},
        "FlexibleTimeWindow": OFF,
        "ActionAfterCompletion": "NONE",
    }

    with pytest.raises(ClientError) as e:
        scheduler.create_schedule(Name="nightly", ScheduleExpression="rate(1 hour)",
                                  FlexibleTimeWindow=OFF, Target=target)
    assert error(e) == ("ConflictException", "Schedule nightly already exists.", 409)
    with pytest.raises(ClientError) as e:
        scheduler.get_schedule(Name="nope")
    assert error(e) == ("ResourceNotFoundException", "Schedule nope does not exist.", 404)
    with pytest.raises(ClientError) as e:
        scheduler.create_schedule(Name="bad", ScheduleExpression="rate(1 hour)", FlexibleTimeWindow=OFF,
                                  Target={**target, "RetryPolicy": {"MaximumRetryAttempts": 186}})
    assert error(e) == (
        "ValidationException",
        "1 validation error detected: Value '186' at 'target.retryPolicy.maximumRetryAttempts' failed to "
        "satisfy constraint: Member must have value less than or equal to 185",
        400,
    )
    with pytest.raises(ClientError) as e:
        scheduler.create_schedule(Name="bad", ScheduleExpression="rate(1 fortnight)",
                                  FlexibleTimeWindow=OFF, Target=target)
    assert error(e) == ("ValidationException", "Invalid Schedule Expression rate(1 fortnight).", 400)
    with pytest.raises(ClientError) as e:
        scheduler.create_schedule(Name="bad", ScheduleExpression="rate(1 hour)", FlexibleTimeWindow=OFF,
                                  Target={**target, "DeadLetterConfig": {"Arn": q + ".fifo"}})
    assert error(e)[0] == "ValidationException"
    assert "at 'target.deadLetterConfig.arn'" in error(e)[1]

    # A full replacement.
    scheduler.update_schedule(Name="nightly", ScheduleExpression="rate(2 hours)", FlexibleTimeWindow=OFF,
                              Target={"Arn": q, "RoleArn": ROLE}, State="DISABLED", Description="paused")
    got = scheduler.get_schedule(Name="nightly")
    assert (got["ScheduleExpression"], got["State"], got["Description"]) == ("rate(2 hours)", "DISABLED", "paused")
    assert "Input" not in got["Target"]
    assert got["CreationDate"] <= got["LastModificationDate"]

    group_arn = scheduler.create_schedule_group(Name="team", Tags=[{"Key": "env", "Value": "dev"}])["ScheduleGroupArn"]
    assert group_arn == f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule-group/team"
    for i in range(5):
        scheduler.create_schedule(Name=f"job-{i}", GroupName="team", ScheduleExpression="rate(1 day)",
                                  FlexibleTimeWindow=OFF, Target=target,
                                  State="DISABLED" if i == 4 else "ENABLED")
    pages = list(scheduler.get_paginator("list_schedules").paginate(
        GroupName="team", PaginationConfig={"PageSize": 2}))
    assert [len(p["Schedules"]) for p in pages] == [2, 2, 1]
    listed = [s for p in pages for s in p["Schedules"]]
    assert [s["Name"] for s in listed] == [f"job-{i}" for i in range(5)]
    assert without_dates(listed[0]) == {
        "Arn": f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/team/job-0",
        "Name": "job-0", "GroupName": "team", "State": "ENABLED", "Target": {"Arn": q},
    }
    # Listed by group, then name.
    assert [s["Name"] for s in scheduler.list_schedules(State="DISABLED")["Schedules"]] == ["nightly", "job-4"]
    assert [s["Name"] for s in scheduler.list_schedules(NamePrefix="job-1")["Schedules"]] == ["job-1"]
    with pytest.raises(ClientError) as e:
        scheduler.list_schedules(GroupName="nobody")
    assert error(e) == ("ResourceNotFoundException", "Schedule group nobody does not exist.", 404)

    # Groups and their tags.
    group = scheduler.get_schedule_group(Name="team")
    assert without_dates(group) == {"Arn": group_arn, "Name": "team", "State": "ACTIVE"}
    scheduler.tag_resource(ResourceArn=group_arn, Tags=[{"Key": "owner", "Value": "me"}])
    scheduler.untag_resource(ResourceArn=group_arn, TagKeys=["env"])
    assert scheduler.list_tags_for_resource(ResourceArn=group_arn)["Tags"] == [{"Key": "owner", "Value": "me"}]
    names = [g["Name"] for p in scheduler.get_paginator("list_schedule_groups").paginate(
        PaginationConfig={"PageSize": 1}) for g in p["ScheduleGroups"]]
    assert names == ["default", "team"]
    with pytest.raises(ClientError) as e:
        scheduler.delete_schedule_group(Name="default")
    assert error(e) == ("ValidationException", "This operation cannot be performed on schedule group default.", 400)
    with pytest.raises(ClientError) as e:
        scheduler.create_schedule_group(Name="team")
    assert error(e)[0] == "ConflictException"
    scheduler.delete_schedule_group(Name="team")
    with pytest.raises(ClientError) as e:
        scheduler.get_schedule(Name="job-0", GroupName="team")
    assert error(e) == ("ResourceNotFoundException", "Schedule group team does not exist.", 404)
    with pytest.raises(ClientError) as e:
        scheduler.list_tags_for_resource(ResourceArn=group_arn)
    assert error(e)[0] == "ResourceNotFoundException"

    scheduler.delete_schedule(Name="nightly")
    with pytest.raises(ClientError) as e:
        scheduler.delete_schedule(Name="nightly")
    assert error(e)[0] == "ResourceNotFoundException"


def test_client_token_makes_create_idempotent(scheduler, sqs):
    _, q = queue(sqs, "q")
    args = dict(Name="once", ScheduleExpression="rate(1 hour)", FlexibleTimeWindow=OFF,
                Target={"Arn": q, "RoleArn": ROLE}, ClientToken="token-1")
    first = scheduler.create_schedule(**args)["ScheduleArn"]
    assert scheduler.create_schedule(**args)["ScheduleArn"] == first
    with pytest.raises(ClientError) as e:
        scheduler.create_schedule(**{**args, "ClientToken": "token-2"})
    assert error(e)[0] == "ConflictException"


def test_cli_round_trip(aws, sqs):
    _, q = queue(sqs, "cli")
    target = json.dumps({"Arn": q, "RoleArn": ROLE, "Input": "{}"})
    assert aws("scheduler", "create-schedule-group", "--name", "ops", "--tags", "Key=team,Value=a")[
        "ScheduleGroupArn"] == f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule-group/ops"
    out = aws("scheduler", "create-schedule", "--name", "c1", "--group-name", "ops",
              "--schedule-expression", "rate(5 minutes)", "--schedule-expression-timezone", "Europe/Paris",
              "--flexible-time-window", "Mode=FLEXIBLE,MaximumWindowInMinutes=5", "--target", target,
              "--action-after-completion", "NONE")
    assert out["ScheduleArn"] == f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/ops/c1"
    got = aws("scheduler", "get-schedule", "--name", "c1", "--group-name", "ops")
    assert got["FlexibleTimeWindow"] == {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 5}
    assert got["ScheduleExpressionTimezone"] == "Europe/Paris"
    listed = aws("scheduler", "list-schedules", "--group-name", "ops")["Schedules"]
    assert [s["Name"] for s in listed] == ["c1"]
    group_arn = f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule-group/ops"
    assert aws("scheduler", "list-tags-for-resource", "--resource-arn", group_arn)["Tags"] == [
        {"Key": "team", "Value": "a"}]
    assert [g["Name"] for g in aws("scheduler", "list-schedule-groups")["ScheduleGroups"]] == ["default", "ops"]
    aws("scheduler", "delete-schedule", "--name", "c1", "--group-name", "ops")
    assert aws("scheduler", "list-schedules", "--group-name", "ops")["Schedules"] == []


# ---- firing ----------------------------------------------------------------------------------


def test_one_time_schedule_fires_into_sqs_and_deletes_itself(scheduler, sqs, endpoint):
    url, q = queue(sqs, "reminders")
    when = clock_now(endpoint).replace(microsecond=0) + timedelta(hours=1)
    body = '{"schedule":"<aws.scheduler.schedule-arn>","at":"<aws.scheduler.scheduled-time>",' \
           '"attempt":"<aws.scheduler.attempt-number>","id":"<aws.scheduler.execution-id>"}'
    arn = scheduler.create_schedule(Name="remind", ScheduleExpression=at_expression(when),
                                    FlexibleTimeWindow=OFF, ActionAfterCompletion="DELETE",
                                    Target={"Arn": q, "RoleArn": ROLE, "Input": body})["ScheduleArn"]
    advance_clock(endpoint, 3599)
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages") is None
    advance_clock(endpoint, 2)
    [m] = receive_all(sqs, url, 1)
    doc = json.loads(m["Body"])
    assert len(doc.pop("id")) == 16
    assert doc == {"schedule": arn, "at": iso(when), "attempt": "1"}
    assert sent_at(m) == when
    with pytest.raises(ClientError) as e:
        scheduler.get_schedule(Name="remind")
    assert error(e)[0] == "ResourceNotFoundException"


def test_cron_in_new_york_across_both_2026_dst_changes(calendar):
    scheduler = _client("scheduler", calendar.endpoint)
    sqs = _client("sqs", calendar.endpoint)
    url, q = queue(sqs, "nine-am", MessageRetentionPeriod="1209600")
    for name, start, end in [("spring", "2026-03-06T00:00:00Z", "2026-03-11T00:00:00Z"),
                             ("fall", "2026-10-29T00:00:00Z", "2026-11-04T00:00:00Z")]:
        scheduler.create_schedule(
            Name=name, ScheduleExpression="cron(0 9 * * ? *)", ScheduleExpressionTimezone="America/New_York",
            StartDate=datetime.fromisoformat(start.replace("Z", "+00:00")),
            EndDate=datetime.fromisoformat(end.replace("Z", "+00:00")),
            FlexibleTimeWindow=OFF, Target={"Arn": q, "RoleArn": ROLE, "Input": "<aws.scheduler.scheduled-time>"})
    # In two moves: a queue keeps messages 14 days at most, and March to November is longer.
    start = datetime(2026, 3, 1, tzinfo=timezone.utc)
    advance_clock(calendar.endpoint, (datetime(2026, 3, 12, tzinfo=timezone.utc) - start).total_seconds())
    got = receive_all(sqs, url, 5)
    advance_clock(calendar.endpoint, (datetime(2026, 11, 5, tzinfo=timezone.utc)
                                      - datetime(2026, 3, 12, tzinfo=timezone.utc)).total_seconds())
    got += receive_all(sqs, url, 6)
    times = sorted(m["Body"] for m in got)
    # 09:00 in New York: 14:00Z under EST (UTC-5), 13:00Z under EDT (UTC-4) from March 8 to
    # November 1.
    assert times == [
        "2026-03-06T14:00:00Z", "2026-03-07T14:00:00Z", "2026-03-08T13:00:00Z", "2026-03-09T13:00:00Z",
        "2026-03-10T13:00:00Z",
        "2026-10-29T13:00:00Z", "2026-10-30T13:00:00Z", "2026-10-31T13:00:00Z", "2026-11-01T14:00:00Z",
        "2026-11-02T14:00:00Z", "2026-11-03T14:00:00Z",
    ]
    for m in got:
        assert iso(sent_at(m)) == m["Body"]


def test_flexible_window_fires_within_it(scheduler, sqs, endpoint):
    url, q = queue(sqs, "flex")
    scheduler.create_schedule(Name="flex", ScheduleExpression="rate(1 hour)",
                              FlexibleTimeWindow={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 10},
                              Target={"Arn": q, "RoleArn": ROLE, "Input": "<aws.scheduler.scheduled-time>"})
    # A rate starts at once (no StartDate): firings for now, +1 h, +2 h and +3 h.
    advance_clock(endpoint, 3 * 3600 + 600)
    got = receive_all(sqs, url, 4)
    for m in got:
        scheduled = datetime.fromisoformat(m["Body"].replace("Z", "+00:00"))
        assert scheduled <= sent_at(m) < scheduled + timedelta(minutes=10, seconds=1), m


def test_missing_lambda_target_is_retried_then_dead_lettered(scheduler, sqs, endpoint):
    dlq_url, dlq = queue(sqs, "scheduler-dlq")
    when = clock_now(endpoint).replace(microsecond=0) + timedelta(minutes=1)
    fn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:does-not-exist"
    arn = scheduler.create_schedule(
        Name="broken", ScheduleExpression=at_expression(when), FlexibleTimeWindow=OFF,
        Target={"Arn": fn, "RoleArn": ROLE, "Input": '{"job":"<aws.scheduler.scheduled-time>"}',
                "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600},
                "DeadLetterConfig": {"Arn": dlq}})["ScheduleArn"]
    advance_clock(endpoint, 3600)
    [m] = receive_all(sqs, dlq_url, 1)
    assert m["Body"] == json.dumps({"job": iso(when)}, separators=(",", ":"))
    attrs = {k: v["StringValue"] for k, v in m["MessageAttributes"].items()}
    assert all(v["DataType"] == "String" for v in m["MessageAttributes"].values())
    assert len(attrs.pop("EXECUTION_ID")) == 16
    assert attrs == {
        "ERROR_CODE": "ResourceNotFoundException",
        "ERROR_MESSAGE": f"Function not found: {fn}",
        "EXHAUSTED_RETRY_CONDITION": "MaximumRetryAttempts",
        "IS_PAYLOAD_TRUNCATED": "false",
        "RETRY_ATTEMPTS": "3",
        "SCHEDULED_TIME": iso(when),
        "SCHEDULE_ARN": arn,
        "TARGET_ARN": fn,
    }


def test_default_retry_policy_runs_185_retries_on_the_clock(scheduler, sqs, endpoint):
    dlq_url, dlq = queue(sqs, "dlq")
    _, gone = queue(sqs, "gone")
    sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName="gone")["QueueUrl"])
    when = clock_now(endpoint).replace(microsecond=0) + timedelta(minutes=1)
    scheduler.create_schedule(Name="patient", ScheduleExpression=at_expression(when), FlexibleTimeWindow=OFF,
                              Target={"Arn": gone, "RoleArn": ROLE, "Input": "x", "DeadLetterConfig": {"Arn": dlq}})
    advance_clock(endpoint, 86400 + 120)
    [m] = receive_all(sqs, dlq_url, 1)
    attrs = {k: v["StringValue"] for k, v in m["MessageAttributes"].items()}
    assert attrs["ERROR_CODE"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert attrs["ERROR_MESSAGE"] == "The specified queue does not exist for this wsdl version."
    assert (attrs["EXHAUSTED_RETRY_CONDITION"], attrs["RETRY_ATTEMPTS"]) == ("MaximumRetryAttempts", "185")


def test_universal_sqs_send_message_target(scheduler, sqs, endpoint):
    url, _ = queue(sqs, "universal")
    params = {"QueueUrl": url, "MessageBody": "fired at <aws.scheduler.scheduled-time>",
              "MessageAttributes": {"kind": {"DataType": "String", "StringValue": "reminder"}}}
    when = clock_now(endpoint).replace(microsecond=0) + timedelta(minutes=5)
    scheduler.create_schedule(Name="u", ScheduleExpression=at_expression(when), FlexibleTimeWindow=OFF,
                              Target={"Arn": "arn:aws:scheduler:::aws-sdk:sqs:sendMessage", "RoleArn": ROLE,
                                      "Input": json.dumps(params)})
    advance_clock(endpoint, 300)
    [m] = receive_all(sqs, url, 1)
    assert m["Body"] == f"fired at {iso(when)}"
    assert m["MessageAttributes"] == {"kind": {"DataType": "String", "StringValue": "reminder"}}


def test_event_bus_target_reaches_a_rule(scheduler, sqs, endpoint):
    events = _client("events", endpoint)
    url, q = queue(sqs, "from-rule")
    rule = events.put_rule(Name="scheduled", EventPattern=json.dumps({"source": ["my.scheduler"]}))["RuleArn"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({"Statement": [{
        "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage",
        "Resource": q, "Condition": {"ArnEquals": {"aws:SourceArn": rule}}}]})})
    events.put_targets(Rule="scheduled", Targets=[{"Id": "q", "Arn": q}])
    when = clock_now(endpoint).replace(microsecond=0) + timedelta(minutes=2)
    arn = scheduler.create_schedule(
        Name="to-bus", ScheduleExpression=at_expression(when), FlexibleTimeWindow=OFF,
        Target={"Arn": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default", "RoleArn": ROLE,
                "Input": '{"report":"daily"}',
                "EventBridgeParameters": {"DetailType": "Report Due", "Source": "my.scheduler"}})["ScheduleArn"]
    advance_clock(endpoint, 120)
    [m] = receive_all(sqs, url, 1)
    event = json.loads(m["Body"])
    assert len(event.pop("id")) == 36
    assert event == {
        "version": "0", "detail-type": "Report Due", "source": "my.scheduler", "account": ACCOUNT,
        "time": iso(when), "region": REGION, "resources": [arn], "detail": {"report": "daily"},
    }


def test_kinesis_target_puts_a_record_with_its_partition_key(scheduler, endpoint):
    from conftest import wait_until

    kinesis = _client("kinesis", endpoint)
    kinesis.create_stream(StreamName="ticks", ShardCount=2)
    kinesis.get_waiter("stream_exists").wait(StreamName="ticks", WaiterConfig={"Delay": 0.05, "MaxAttempts": 200})
    stream = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/ticks"
    with pytest.raises(ClientError) as e:
        scheduler.create_schedule(Name="no-key", ScheduleExpression="rate(1 minute)", FlexibleTimeWindow=OFF,
                                  Target={"Arn": stream, "RoleArn": ROLE, "Input": "{}"})
    assert error(e)[0] == "ValidationException"
    when = clock_now(endpoint).replace(microsecond=0) + timedelta(minutes=1)
    arn = scheduler.create_schedule(
        Name="tick", ScheduleExpression=at_expression(when), FlexibleTimeWindow=OFF,
        Target={"Arn": stream, "RoleArn": ROLE, "Input": '{"tick":"<aws.scheduler.scheduled-time>"}',
                "KinesisParameters": {"PartitionKey": "device-7"}})["ScheduleArn"]
    assert scheduler.get_schedule(Name="tick")["Target"]["KinesisParameters"] == {"PartitionKey": "device-7"}
    advance_clock(endpoint, 60)

    def records():
        out = []
        for s in kinesis.list_shards(StreamName="ticks")["Shards"]:
            it = kinesis.get_shard_iterator(StreamName="ticks", ShardId=s["ShardId"],
                                            ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            out += kinesis.get_records(ShardIterator=it)["Records"]
        return out

    [rec] = wait_until(records, what="the scheduled record")
    assert rec["PartitionKey"] == "device-7"
    assert json.loads(rec["Data"]) == {"tick": iso(when)}
    assert arn.endswith("/default/tick")


def test_firehose_target_puts_a_record_into_the_delivery_stream(scheduler, endpoint):
    from conftest import wait_until

    fh = _client("firehose", endpoint)
    s3 = _client("s3", endpoint, s3={"addressing_style": "path"})
    s3.create_bucket(Bucket="ticks")
    stream = fh.create_delivery_stream(
        DeliveryStreamName="ticks",
        ExtendedS3DestinationConfiguration={
            "RoleARN": ROLE, "BucketARN": "arn:aws:s3:::ticks",
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60},
        },
    )["DeliveryStreamARN"]
    def active():
        desc = fh.describe_delivery_stream(DeliveryStreamName="ticks")["DeliveryStreamDescription"]
        return desc["DeliveryStreamStatus"] == "ACTIVE" or advance_clock(endpoint, 1) and False

    wait_until(active, what="the delivery stream ACTIVE")
    when = clock_now(endpoint).replace(microsecond=0) + timedelta(minutes=1)
    scheduler.create_schedule(
        Name="to-firehose", ScheduleExpression=at_expression(when), FlexibleTimeWindow=OFF,
        Target={"Arn": stream, "RoleArn": ROLE, "Input": '{"tick":"<aws.scheduler.scheduled-time>"}'})
    advance_clock(endpoint, 60)
    wait_until(lambda: get_json(endpoint, "/_localbridge/health")["delivery"]["delivered"] >= 1,
               what="the record handed to the stream")
    advance_clock(endpoint, 60)
    keys = wait_until(lambda: [o["Key"] for o in s3.list_objects_v2(Bucket="ticks").get("Contents", [])],
                      what="the object")
    assert len(keys) == 1
    assert s3.get_object(Bucket="ticks", Key=keys[0])["Body"].read() == f'{{"tick":"{iso(when)}"}}'.encode()
