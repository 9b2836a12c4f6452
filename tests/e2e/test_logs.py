"""CloudWatch Logs with boto3 and the AWS CLI against the binary: groups, streams, events, tokens,
filter patterns, retention on the manual clock, the stored-events bound, resource policies,
tags, and EventBridge → CloudWatch Logs."""

import json
from datetime import datetime

import pytest
from botocore.exceptions import ClientError

from conftest import _client, advance_clock, get_json, http, ledger, serve, settle

ACCOUNT = "000000000000"
REGION = "us-east-1"
DAY = 86_400_000


@pytest.fixture
def server(manual):
    return manual


@pytest.fixture
def logs(endpoint):
    return _client("logs", endpoint)


def now_ms(endpoint):
    text = get_json(endpoint, "/_localbridge/clock")["now"].replace("Z", "+00:00")
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def error(excinfo):
    e = excinfo.value.response
    return e["Error"]["Code"], e["Error"]["Message"], e["ResponseMetadata"]["HTTPStatusCode"]


def events_of(resp):
    return [e["message"] for e in resp["events"]]


def test_groups_and_streams(logs):
    logs.create_log_group(logGroupName="/app/web", tags={"team": "web"})
    logs.create_log_group(logGroupName="/app/worker")
    logs.create_log_group(logGroupName="/other")
    with pytest.raises(ClientError) as e:
        logs.create_log_group(logGroupName="/app/web")
    assert error(e) == ("ResourceAlreadyExistsException", "The specified log group already exists", 400)
    with pytest.raises(ClientError) as e:
        logs.create_log_group(logGroupName="bad name")
    assert error(e) == (
        "InvalidParameterException",
        "1 validation error detected: Value 'bad name' at 'logGroupName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+",
        400,
    )

    groups = logs.describe_log_groups(logGroupNamePrefix="/app/")["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["/app/web", "/app/worker"]
    web = groups[0]
    assert web["arn"] == f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/app/web:*"
    assert web["logGroupArn"] == f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/app/web"
    assert (web["storedBytes"], web["metricFilterCount"], web["logGroupClass"]) == (0, 0, "STANDARD")
    assert "retentionInDays" not in web
    page = logs.describe_log_groups(limit=2)
    assert len(page["logGroups"]) == 2 and "nextToken" in page
    rest = logs.describe_log_groups(limit=2, nextToken=page["nextToken"])
    assert [g["logGroupName"] for g in rest["logGroups"]] == ["/other"] and "nextToken" not in rest
    names = [g["logGroupName"] for p in logs.get_paginator("describe_log_groups").paginate(PaginationConfig={"PageSize": 1})
             for g in p["logGroups"]]
    assert names == ["/app/web", "/app/worker", "/other"]

    logs.put_retention_policy(logGroupName="/app/web", retentionInDays=7)
    assert logs.describe_log_groups(logGroupNamePrefix="/app/web")["logGroups"][0]["retentionInDays"] == 7
    with pytest.raises(ClientError) as e:
        logs.put_retention_policy(logGroupName="/app/web", retentionInDays=2)
    assert error(e)[0] == "InvalidParameterException" and "enum value set: [1, 3, 5, 7, 14" in error(e)[1]
    logs.delete_retention_policy(logGroupName="/app/web")
    assert "retentionInDays" not in logs.describe_log_groups(logGroupNamePrefix="/app/web")["logGroups"][0]

    for s in ["b", "a", "c"]:
        logs.create_log_stream(logGroupName="/app/web", logStreamName=s)
    with pytest.raises(ClientError) as e:
        logs.create_log_stream(logGroupName="/app/web", logStreamName="a")
    assert error(e) == ("ResourceAlreadyExistsException", "The specified log stream already exists", 400)
    with pytest.raises(ClientError) as e:
        logs.create_log_stream(logGroupName="/nope", logStreamName="a")
    assert error(e) == ("ResourceNotFoundException", "The specified log group does not exist.", 400)
    streams = logs.describe_log_streams(logGroupName="/app/web")["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["a", "b", "c"]
    assert streams[0]["arn"] == f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/app/web:log-stream:a"
    assert [s["logStreamName"] for s in logs.describe_log_streams(logGroupName="/app/web", descending=True)["logStreams"]] == ["c", "b", "a"]
    assert [s["logStreamName"] for s in logs.describe_log_streams(logGroupName="/app/web", logStreamNamePrefix="b")["logStreams"]] == ["b"]
    page = logs.describe_log_streams(logGroupName="/app/web", limit=2)
    assert len(page["logStreams"]) == 2
    assert [s["logStreamName"] for s in logs.describe_log_streams(logGroupName="/app/web", limit=2, nextToken=page["nextToken"])["logStreams"]] == ["c"]
    with pytest.raises(ClientError) as e:
        logs.describe_log_streams(logGroupName="/app/web", orderBy="LastEventTime", logStreamNamePrefix="a")
    assert error(e)[0] == "InvalidParameterException"

    logs.delete_log_stream(logGroupName="/app/web", logStreamName="c")
    with pytest.raises(ClientError) as e:
        logs.delete_log_stream(logGroupName="/app/web", logStreamName="c")
    assert error(e) == ("ResourceNotFoundException", "The specified log stream does not exist.", 400)
    logs.delete_log_group(logGroupName="/other")
    with pytest.raises(ClientError) as e:
        logs.delete_log_group(logGroupName="/other")
    assert error(e)[0] == "ResourceNotFoundException"


def test_put_and_get_events_with_tokens(logs, endpoint):
    now = now_ms(endpoint)
    logs.create_log_group(logGroupName="g")
    logs.create_log_stream(logGroupName="g", logStreamName="s")
    out = logs.put_log_events(logGroupName="g", logStreamName="s", sequenceToken="anything",
                              logEvents=[{"timestamp": now - 30 + i, "message": f"m{i}"} for i in range(5)])
    assert "rejectedLogEventsInfo" not in out and out["nextSequenceToken"]

    first = logs.get_log_events(logGroupName="g", logStreamName="s", startFromHead=True, limit=2)
    assert events_of(first) == ["m0", "m1"]
    assert first["nextForwardToken"].startswith("f/") and len(first["nextForwardToken"]) == 58
    assert first["nextBackwardToken"].startswith("b/") and len(first["nextBackwardToken"]) == 58
    assert first["events"][0]["timestamp"] == now - 30 and first["events"][0]["ingestionTime"] == now
    second = logs.get_log_events(logGroupName="g", logStreamName="s", nextToken=first["nextForwardToken"], limit=2)
    assert events_of(second) == ["m2", "m3"]
    back = logs.get_log_events(logGroupName="g", logStreamName="s", nextToken=second["nextBackwardToken"])
    assert events_of(back) == ["m0", "m1"]
    tail = logs.get_log_events(logGroupName="g", logStreamName="s", limit=2)
    assert events_of(tail) == ["m3", "m4"]
    end = logs.get_log_events(logGroupName="g", logStreamName="s", nextToken=tail["nextForwardToken"])
    assert end["events"] == [] and end["nextForwardToken"] == tail["nextForwardToken"]
    window = logs.get_log_events(logGroupName="g", logStreamName="s", startTime=now - 29, endTime=now - 27, startFromHead=True)
    assert events_of(window) == ["m1", "m2"]

    with pytest.raises(ClientError) as e:
        logs.put_log_events(logGroupName="g", logStreamName="s",
                            logEvents=[{"timestamp": now, "message": "b"}, {"timestamp": now - 1, "message": "a"}])
    assert error(e) == ("InvalidParameterException",
                        "Log events in a single PutLogEvents request must be in chronological order.", 400)
    with pytest.raises(ClientError) as e:
        logs.put_log_events(logGroupName="g", logStreamName="nope", logEvents=[{"timestamp": now, "message": "x"}])
    assert error(e) == ("ResourceNotFoundException", "The specified log stream does not exist.", 400)

    old = logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[
        {"timestamp": now - 15 * DAY, "message": "too old"}, {"timestamp": now - 15 * DAY + 1, "message": "old too"}])
    assert old["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 2}
    new = logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[
        {"timestamp": now, "message": "ok"}, {"timestamp": now + 3 * 3_600_000, "message": "too new"}])
    assert new["rejectedLogEventsInfo"] == {"tooNewLogEventStartIndex": 1}
    assert events_of(logs.get_log_events(logGroupName="g", logStreamName="s", limit=1)) == ["ok"]

    stream = logs.describe_log_streams(logGroupName="g")["logStreams"][0]
    assert (stream["firstEventTimestamp"], stream["lastEventTimestamp"], stream["lastIngestionTime"]) == (now - 30, now, now)


def test_filter_log_events_and_patterns(logs, endpoint):
    now = now_ms(endpoint)
    logs.create_log_group(logGroupName="/f")
    lines = {
        "api-1": ["[ERROR 400] BAD REQUEST", '{"level": "ERROR", "latency": 700, "user": {"id": 1}}'],
        "api-2": ["[ERROR 401] UNAUTHORIZED REQUEST", '{"level": "INFO", "latency": 20, "user": {"id": 2}}'],
        "batch": ["[WARN] Failed to process request", "[INFO] request processed"],
    }
    for i, (stream, messages) in enumerate(lines.items()):
        logs.create_log_stream(logGroupName="/f", logStreamName=stream)
        logs.put_log_events(logGroupName="/f", logStreamName=stream,
                            logEvents=[{"timestamp": now - 100 + i + 10 * j, "message": m} for j, m in enumerate(messages)])

    def f(pattern, **kw):
        return events_of(logs.filter_log_events(logGroupName="/f", filterPattern=pattern, **kw))

    assert f("ERROR") == ["[ERROR 400] BAD REQUEST", "[ERROR 401] UNAUTHORIZED REQUEST",
                          '{"level": "ERROR", "latency": 700, "user": {"id": 1}}']
    assert f('"Failed to process"') == ["[WARN] Failed to process request"]
    assert f("?WARN ?401") == ["[ERROR 401] UNAUTHORIZED REQUEST", "[WARN] Failed to process request"]
    assert f("REQUEST -BAD") == ["[ERROR 401] UNAUTHORIZED REQUEST"]
    assert f('{ $.level = "ERROR" }') == ['{"level": "ERROR", "latency": 700, "user": {"id": 1}}']
    assert f("{ $.latency > 500 || $.user.id = 2 }") == [
        '{"level": "ERROR", "latency": 700, "user": {"id": 1}}', '{"level": "INFO", "latency": 20, "user": {"id": 2}}']
    assert f("{ $.level = IN* && $.missing NOT EXISTS }") == ['{"level": "INFO", "latency": 20, "user": {"id": 2}}']
    assert f("[level = \"ERROR 4*\", ...]", logStreamNames=["api-1"]) == ["[ERROR 400] BAD REQUEST"]
    assert f("ERROR", logStreamNamePrefix="api-2") == ["[ERROR 401] UNAUTHORIZED REQUEST"]
    assert f("", startTime=now - 100, endTime=now - 98) == ["[ERROR 400] BAD REQUEST", "[ERROR 401] UNAUTHORIZED REQUEST"]

    resp = logs.filter_log_events(logGroupName="/f", filterPattern="ERROR")
    assert resp["searchedLogStreams"] == []
    assert [e["logStreamName"] for e in resp["events"]] == ["api-1", "api-2", "api-1"]
    assert all(len(e["eventId"]) == 56 for e in resp["events"])
    page = logs.filter_log_events(logGroupName="/f", limit=4)
    assert len(page["events"]) == 4 and "nextToken" in page
    rest = logs.filter_log_events(logGroupName="/f", limit=4, nextToken=page["nextToken"])
    assert len(rest["events"]) == 2 and "nextToken" not in rest
    assert sum(len(p["events"]) for p in logs.get_paginator("filter_log_events").paginate(
        logGroupName="/f", PaginationConfig={"PageSize": 1})) == 6

    with pytest.raises(ClientError) as e:
        logs.filter_log_events(logGroupName="/f", filterPattern="{ $.latency > }")
    assert error(e)[0::2] == ("InvalidParameterException", 400)
    with pytest.raises(ClientError) as e:
        logs.filter_log_events(logGroupName="/f", logStreamNames=["a"], logStreamNamePrefix="a")
    assert error(e)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        logs.filter_log_events(logGroupName="/none")
    assert error(e) == ("ResourceNotFoundException", "The specified log group does not exist.", 400)


def test_retention_is_applied_on_the_clock(logs, endpoint):
    now = now_ms(endpoint)
    logs.create_log_group(logGroupName="r")
    logs.create_log_stream(logGroupName="r", logStreamName="s")
    logs.put_log_events(logGroupName="r", logStreamName="s", logEvents=[{"timestamp": now, "message": "day 0"}])
    logs.put_retention_policy(logGroupName="r", retentionInDays=1)
    advance_clock(endpoint, 12 * 3600)
    logs.put_log_events(logGroupName="r", logStreamName="s",
                        logEvents=[{"timestamp": now + 12 * 3_600_000, "message": "day 0.5"}])
    assert events_of(logs.filter_log_events(logGroupName="r")) == ["day 0", "day 0.5"]
    advance_clock(endpoint, 12 * 3600 + 1)
    assert events_of(logs.filter_log_events(logGroupName="r")) == ["day 0.5"]
    expired = logs.put_log_events(logGroupName="r", logStreamName="s",
                                  logEvents=[{"timestamp": now, "message": "expired"}])
    assert expired["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 1}
    _, _, metrics = http("GET", endpoint + "/_localbridge/metrics")
    assert b"localbridge_logs_events_expired_total 1" in metrics


@pytest.fixture
def bounded(tmp_path, request):
    yield from serve(tmp_path, request, ["--clock", "manual", "--logs-max-events", "3"])


def test_stored_events_are_bounded_oldest_first(bounded):
    logs = _client("logs", bounded.endpoint)
    now = now_ms(bounded.endpoint)
    logs.create_log_group(logGroupName="b")
    logs.create_log_stream(logGroupName="b", logStreamName="s")
    for i in range(5):
        logs.put_log_events(logGroupName="b", logStreamName="s", logEvents=[{"timestamp": now, "message": f"e{i}"}])
    assert events_of(logs.get_log_events(logGroupName="b", logStreamName="s", startFromHead=True)) == ["e2", "e3", "e4"]
    _, _, metrics = http("GET", bounded.endpoint + "/_localbridge/metrics")
    assert b"localbridge_logs_events_dropped_total 2" in metrics
    assert b"localbridge_logs_events_stored 3" in metrics
    assert b"localbridge_logs_events_capacity 3" in metrics


def test_resource_policies_and_tags(logs):
    doc = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                                                              "Action": "logs:PutLogEvents", "Resource": "*"}]})
    out = logs.put_resource_policy(policyName="p", policyDocument=doc)["resourcePolicy"]
    assert (out["policyName"], out["policyDocument"]) == ("p", doc)
    assert [p["policyName"] for p in logs.describe_resource_policies()["resourcePolicies"]] == ["p"]
    logs.delete_resource_policy(policyName="p")
    assert logs.describe_resource_policies()["resourcePolicies"] == []
    with pytest.raises(ClientError) as e:
        logs.delete_resource_policy(policyName="p")
    assert error(e)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        logs.put_resource_policy(policyName="bad", policyDocument="{nope")
    assert error(e)[0] == "InvalidParameterException"

    logs.create_log_group(logGroupName="t", tags={"a": "1"})
    arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:t"
    logs.tag_resource(resourceArn=arn, tags={"b": "2"})
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"a": "1", "b": "2"}
    logs.untag_resource(resourceArn=arn + ":*", tagKeys=["a"])
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"b": "2"}
    logs.tag_log_group(logGroupName="t", tags={"c": "3"})
    logs.untag_log_group(logGroupName="t", tags=["b"])
    assert logs.list_tags_log_group(logGroupName="t")["tags"] == {"c": "3"}
    with pytest.raises(ClientError) as e:
        logs.tag_resource(resourceArn=arn, tags={f"k{i}": "v" for i in range(50)})
    assert error(e)[0] == "TooManyTagsException"
    with pytest.raises(ClientError) as e:
        logs.list_tags_for_resource(resourceArn=f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:none")
    assert error(e)[0] == "ResourceNotFoundException"


TRUST_EVENTS = {
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Principal": {"Service": ["events.amazonaws.com", "delivery.logs.amazonaws.com"]},
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/events/*:*",
    }],
}


def test_eventbridge_rule_to_a_log_group(logs, endpoint):
    events = _client("events", endpoint)
    sqs = _client("sqs", endpoint)
    logs.create_log_group(logGroupName="/aws/events/orders")
    group_arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/events/orders"
    dlq = sqs.create_queue(QueueName="logs-dlq")["QueueUrl"]
    dlq_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:logs-dlq"
    sqs.set_queue_attributes(QueueUrl=dlq, Attributes={"Policy": json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage", "Resource": dlq_arn}]})})
    events.put_rule(Name="orders", EventPattern=json.dumps({"source": ["my.shop"]}))
    events.put_targets(Rule="orders", Targets=[{"Id": "log", "Arn": group_arn + ":*", "DeadLetterConfig": {"Arn": dlq_arn}}])

    # Without a resource policy for events.amazonaws.com the delivery is refused: NO_PERMISSIONS.
    events.put_events(Entries=[{"Source": "my.shop", "DetailType": "order", "Detail": json.dumps({"n": 0})}])
    settle(endpoint)
    [dead] = sqs.receive_message(QueueUrl=dlq, MessageAttributeNames=["All"], WaitTimeSeconds=20)["Messages"]
    assert dead["MessageAttributes"]["ERROR_CODE"]["StringValue"] == "NO_PERMISSIONS"
    assert logs.filter_log_events(logGroupName="/aws/events/orders")["events"] == []

    logs.put_resource_policy(policyName="TrustEventsToStoreLogEvent", policyDocument=json.dumps(TRUST_EVENTS))
    out = events.put_events(Entries=[{"Source": "my.shop", "DetailType": "order placed", "Detail": json.dumps({"n": 1})}])
    event_id = out["Entries"][0]["EventId"]
    settle(endpoint)
    [record] = ledger(endpoint, target=group_arn + ":*", fate="delivered")
    assert record["fate"] == "delivered"
    [got] = logs.filter_log_events(logGroupName="/aws/events/orders")["events"]
    event = json.loads(got["message"])
    assert event == {
        "version": "0",
        "id": event_id,
        "detail-type": "order placed",
        "source": "my.shop",
        "account": ACCOUNT,
        "time": event["time"],
        "region": REGION,
        "resources": [],
        "detail": {"n": 1},
    }
    assert got["logStreamName"] == event_id
    assert got["timestamp"] == int(datetime.fromisoformat(event["time"].replace("Z", "+00:00")).timestamp() * 1000)


def test_cli(aws, aws_raw, endpoint):
    now = now_ms(endpoint)
    aws("logs", "create-log-group", "--log-group-name", "/cli")
    aws("logs", "put-retention-policy", "--log-group-name", "/cli", "--retention-in-days", "14")
    assert aws("logs", "describe-log-groups")["logGroups"][0]["retentionInDays"] == 14
    aws("logs", "delete-retention-policy", "--log-group-name", "/cli")
    aws("logs", "create-log-stream", "--log-group-name", "/cli", "--log-stream-name", "s")
    assert [s["logStreamName"] for s in aws("logs", "describe-log-streams", "--log-group-name", "/cli")["logStreams"]] == ["s"]
    aws("logs", "put-log-events", "--log-group-name", "/cli", "--log-stream-name", "s",
        "--log-events", f"timestamp={now},message=hello ERROR", f"timestamp={now + 1},message=fine")
    assert events_of(aws("logs", "get-log-events", "--log-group-name", "/cli", "--log-stream-name", "s",
                         "--start-from-head")) == ["hello ERROR", "fine"]
    assert events_of(aws("logs", "filter-log-events", "--log-group-name", "/cli", "--filter-pattern", "ERROR")) == ["hello ERROR"]
    aws("logs", "tag-resource", "--resource-arn", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/cli", "--tags", "env=dev")
    assert aws("logs", "list-tags-for-resource", "--resource-arn",
               f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/cli")["tags"] == {"env": "dev"}
    aws("logs", "untag-resource", "--resource-arn", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/cli", "--tag-keys", "env")
    aws("logs", "put-resource-policy", "--policy-name", "p", "--policy-document", json.dumps(TRUST_EVENTS))
    assert [p["policyName"] for p in aws("logs", "describe-resource-policies")["resourcePolicies"]] == ["p"]
    aws("logs", "delete-resource-policy", "--policy-name", "p")
    aws("logs", "delete-log-stream", "--log-group-name", "/cli", "--log-stream-name", "s")
    aws("logs", "delete-log-group", "--log-group-name", "/cli")
    missing = aws_raw("logs", "delete-log-group", "--log-group-name", "/cli")
    assert "An error occurred (ResourceNotFoundException) when calling the DeleteLogGroup operation: " \
           "The specified log group does not exist." in missing.stderr
