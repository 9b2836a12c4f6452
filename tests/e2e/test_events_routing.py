"""EventBridge routing end to end, with boto3 and the AWS CLI against the binary: targets,
PutEvents, S3 → EventBridge, input transformation, retries and dead-letter queues, bus-to-bus,
API destinations, per-rule metrics and `/_localbridge/events/<id>`.

Every test runs on the manual clock: retries wait on it, and the tests move it; nothing sleeps.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from botocore.exceptions import ClientError

from conftest import advance_clock, get_json, http, ledger, receive, settle, wait_until

ACCOUNT = "000000000000"
REGION = "us-east-1"


@pytest.fixture
def server(manual):
    return manual



def error(excinfo):
    e = excinfo.value.response
    return e["Error"]["Code"], e["Error"]["Message"], e["ResponseMetadata"]["HTTPStatusCode"]


def rule_arn(name, bus="default"):
    if bus == "default":
        return f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{name}"
    return f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{bus}/{name}"


def queue(sqs, name, allow_rules=(), attributes=None):
    """A queue, its URL and ARN; with `allow_rules`, a policy letting those rules send to it."""
    url = sqs.create_queue(QueueName=name, Attributes=attributes or {})["QueueUrl"]
    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
    if allow_rules:
        policy = {
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": list(allow_rules)}},
            }],
        }
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    return url, arn


def put(events, *entries):
    resp = events.put_events(Entries=[
        {"Source": "my.app", "DetailType": "thing", "Detail": json.dumps(d)} if isinstance(d, dict) else d
        for d in entries
    ])
    return resp


def receive_raw(sqs, url, count):
    """`count` messages with their attributes, deleted."""
    out = []
    while len(out) < count:
        resp = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=20,
                                   MessageAttributeNames=["All"])
        for m in resp.get("Messages", []):
            out.append(m)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return out


def empty(sqs, url):
    settle(sqs.meta.endpoint_url)
    resp = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    return resp.get("Messages", []) == []


def metrics(endpoint):
    status, _, body = http("GET", endpoint + "/_localbridge/metrics")
    assert status == 200
    out = {}
    for line in body.decode().splitlines():
        if line.startswith("localbridge_events_"):
            name, value = line.rsplit(" ", 1)
            out[name] = int(float(value))
    return out


# ---- the walk-through: S3 → default bus → rule → SQS, with a transformer -------------------------


def test_s3_to_eventbridge_to_sqs_walkthrough(aws, aws_raw, s3, sqs, events, endpoint, tmp_path):
    thumbs, thumbs_arn = queue(sqs, "thumbs", [rule_arn("big-jpgs")])
    raw, raw_arn = queue(sqs, "raw", [rule_arn("big-jpgs")])
    _, dlq_arn = queue(sqs, "thumbs-dlq", [rule_arn("big-jpgs")])
    aws_raw("s3", "mb", "s3://photos", check=True)
    aws("s3api", "put-bucket-notification-configuration", "--bucket", "photos",
        "--notification-configuration", '{"EventBridgeConfiguration":{}}')
    pattern = {"source": ["aws.s3"], "detail-type": ["Object Created"],
               "detail": {"bucket": {"name": ["photos"]},
                          "object": {"key": [{"suffix": ".jpg"}], "size": [{"numeric": [">", 1000]}]}}}
    aws("events", "put-rule", "--name", "big-jpgs", "--event-pattern", json.dumps(pattern))
    targets = [
        {"Id": "q", "Arn": thumbs_arn,
         "RetryPolicy": {"MaximumRetryAttempts": 4, "MaximumEventAgeInSeconds": 3600},
         "DeadLetterConfig": {"Arn": dlq_arn},
         "InputTransformer": {"InputPathsMap": {"k": "$.detail.object.key"}, "InputTemplate": '{"key": <k>}'}},
        {"Id": "raw", "Arn": raw_arn},
    ]
    out = aws("events", "put-targets", "--rule", "big-jpgs", "--targets", json.dumps(targets))
    assert out == {"FailedEntryCount": 0, "FailedEntries": []}

    big = tmp_path / "big.jpg"
    big.write_bytes(b"x" * 2000)
    small = tmp_path / "small.jpg"
    small.write_bytes(b"x" * 10)
    aws_raw("s3", "cp", str(big), "s3://photos/big.jpg", check=True)
    aws_raw("s3", "cp", str(small), "s3://photos/small.jpg", check=True)
    aws_raw("s3", "cp", str(big), "s3://photos/big.png", check=True)

    assert receive(sqs, thumbs, 1) == [{"key": "big.jpg"}]
    [event] = receive(sqs, raw, 1)
    assert empty(sqs, thumbs) and empty(sqs, raw)
    assert list(event) == ["version", "id", "detail-type", "source", "account", "time", "region",
                           "resources", "detail"]
    assert (event["version"], event["detail-type"], event["source"], event["account"], event["region"]) == (
        "0", "Object Created", "aws.s3", ACCOUNT, REGION)
    assert event["resources"] == ["arn:aws:s3:::photos"]
    detail = event["detail"]
    assert detail["version"] == "0"
    assert detail["bucket"] == {"name": "photos"}
    assert detail["object"]["key"] == "big.jpg"
    assert detail["object"]["size"] == 2000
    assert set(detail["object"]) >= {"key", "size", "etag", "sequencer"}
    assert detail["reason"] == "PutObject"
    assert {"request-id", "requester", "source-ip-address"} <= set(detail)

    report = get_json(endpoint, f"/_localbridge/events/{event['id']}?explain=true")
    assert report["bus"] == f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"
    assert report["event"] == event
    [m] = report["matched"]
    assert (m["rule"], m["arn"]) == ("big-jpgs", rule_arn("big-jpgs"))
    fates = {(d["producer"]["id"], d["fate"], d["attemptCount"]) for d in m["deliveries"]}
    assert fates == {("q", "delivered", 1), ("raw", "delivered", 1)}
    assert report["unmatched"] == []

    m = metrics(endpoint)
    key = '{EventBusName="default",RuleName="big-jpgs"}'
    assert m["localbridge_events_MatchedEvents" + key] == 1
    assert m["localbridge_events_Invocations" + key] == 2
    assert m["localbridge_events_FailedInvocations" + key] == 0


def test_explain_names_the_field_that_failed(events, sqs, endpoint):
    _, arn = queue(sqs, "q", [rule_arn("jpgs"), rule_arn("orders")])
    events.put_rule(Name="jpgs", EventPattern=json.dumps({"detail": {"key": [{"suffix": ".jpg"}]}}))
    events.put_rule(Name="orders", EventPattern=json.dumps({"source": ["orders"]}))
    events.put_rule(Name="off", EventPattern=json.dumps({"source": ["my.app"]}), State="DISABLED")
    for r in ("jpgs", "orders"):
        events.put_targets(Rule=r, Targets=[{"Id": "q", "Arn": arn}])
    resp = put(events, {"key": "cat.png"})
    event_id = resp["Entries"][0]["EventId"]
    report = get_json(endpoint, f"/_localbridge/events/{event_id}?explain=true")
    assert report["matched"] == []
    unmatched = {u["rule"]: u for u in report["unmatched"]}
    assert set(unmatched) == {"jpgs", "orders"}, "disabled rules are not explained"
    assert (unmatched["jpgs"]["field"], unmatched["jpgs"]["actual"]) == ("detail.key", "cat.png")
    assert unmatched["jpgs"]["reason"]
    assert (unmatched["orders"]["field"], unmatched["orders"]["actual"]) == ("source", "my.app")
    status, _, body = http("GET", endpoint + "/_localbridge/events/no-such-id")
    assert status == 404 and b"journal" in body
    plain = get_json(endpoint, f"/_localbridge/events/{event_id}")
    assert "unmatched" not in plain


# ---- PutEvents ------------------------------------------------------------------------------------


def test_put_events_mixes_valid_and_invalid_entries(events, sqs):
    url, arn = queue(sqs, "q", [rule_arn("all")])
    events.put_rule(Name="all", EventPattern=json.dumps({"source": ["my.app"]}))
    events.put_targets(Rule="all", Targets=[{"Id": "q", "Arn": arn}])
    resp = events.put_events(Entries=[
        {"Source": "my.app", "DetailType": "ok", "Detail": '{"n": 1}'},
        {"DetailType": "t", "Detail": "{}"},
        {"Source": "my.app", "Detail": "{}"},
        {"Source": "my.app", "DetailType": "t"},
        {"Source": "my.app", "DetailType": "t", "Detail": "[1]"},
        {"Source": "my.app", "DetailType": "t", "Detail": "{not json"},
        {"Source": "aws.s3", "DetailType": "t", "Detail": "{}"},
        {"Source": "my.app", "DetailType": "t", "Detail": "{}", "EventBusName": "nope"},
        {"Source": "my.app", "DetailType": "ok", "Detail": '{"n": 2}', "Resources": ["r1"],
         "Time": "2024-01-02T03:04:05Z"},
    ])
    assert resp["FailedEntryCount"] == 7
    codes = [(e.get("ErrorCode"), e.get("ErrorMessage")) for e in resp["Entries"]]
    assert codes[1:8] == [
        ("InvalidArgument", "Parameter Source is not valid. Reason: Source is a required argument."),
        ("InvalidArgument", "Parameter DetailType is not valid. Reason: DetailType is a required argument."),
        ("InvalidArgument", "Parameter Detail is not valid. Reason: Detail is a required argument."),
        ("MalformedDetail", "Detail is malformed."),
        ("MalformedDetail", "Detail is malformed."),
        ("NotAuthorizedForSourceException", "Not authorized for the source."),
        ("ResourceNotFoundException", "Event bus nope does not exist."),
    ]
    got = sorted(receive(sqs, url, 2), key=lambda e: e["detail"]["n"])
    assert [e["id"] for e in got] == [resp["Entries"][0]["EventId"], resp["Entries"][8]["EventId"]]
    assert got[1]["time"] == "2024-01-02T03:04:05Z" and got[1]["resources"] == ["r1"]
    assert got[0]["resources"] == [] and got[0]["detail"] == {"n": 1}

    with pytest.raises(ClientError) as e:
        events.put_events(Entries=[{"Source": "a", "DetailType": "b", "Detail": "{}"}] * 11)
    assert error(e)[0] == "ValidationException"
    assert "Member must have length less than or equal to 10" in error(e)[1]
    with pytest.raises(ClientError) as e:
        events.put_events(Entries=[{"Source": "a", "DetailType": "b",
                                    "Detail": json.dumps({"x": "y" * 262_144})}])
    assert error(e) == ("ValidationException", "Total size of the entries in the request is over the limit.", 400)


# ---- every pattern operator through a real rule ----------------------------------------------------

OPERATOR_RULES = {
    "exact": {"detail": {"color": ["red"]}},
    "prefix": {"detail": {"color": [{"prefix": "bl"}]}},
    "suffix": {"detail": {"file": [{"suffix": ".png"}]}},
    "ignore-case": {"detail": {"color": [{"equals-ignore-case": "GREEN"}]}},
    "wildcard": {"detail": {"file": [{"wildcard": "img/*.jpg"}]}},
    "anything-but": {"detail": {"color": [{"anything-but": ["red", "blue"]}]}},
    "anything-but-prefix": {"detail": {"file": [{"anything-but": {"prefix": "img/"}}]}},
    "numeric": {"detail": {"size": [{"numeric": [">", 10, "<=", 20]}]}},
    "exists": {"detail": {"tag": [{"exists": True}]}},
    "not-exists": {"detail": {"tag": [{"exists": False}]}},
    "cidr": {"detail": {"ip": [{"cidr": "10.0.0.0/24"}]}},
    "null": {"detail": {"owner": [None]}},
    "empty": {"detail": {"owner": [""]}},
    "or": {"$or": [{"detail": {"color": ["red"]}}, {"detail": {"size": [{"numeric": [">", 100]}]}}]},
    "array": {"detail": {"items": {"sku": ["a1"]}}},
}

OPERATOR_EVENTS = {
    "e1": {"color": "red", "file": "img/cat.jpg", "size": 15, "ip": "10.0.0.7", "owner": None},
    "e2": {"color": "blue", "file": "doc.png", "size": 200, "tag": "x", "ip": "10.0.1.1", "owner": ""},
    "e3": {"color": "green", "file": "img/dog.png", "size": 10, "items": [{"sku": "b2"}, {"sku": "a1"}]},
}

# Which rules each event matches, worked out by hand from the EventBridge User Guide's rules.
OPERATOR_EXPECTED = {
    "e1": {"exact", "wildcard", "numeric", "not-exists", "cidr", "null", "or"},
    "e2": {"prefix", "suffix", "anything-but-prefix", "exists", "empty", "or"},
    "e3": {"suffix", "ignore-case", "anything-but", "not-exists", "array"},
}


def test_every_operator_through_a_real_rule(events, sqs):
    names = list(OPERATOR_RULES)
    url, arn = queue(sqs, "ops", [rule_arn(n) for n in names])
    for name, pattern in OPERATOR_RULES.items():
        events.put_rule(Name=name, EventPattern=json.dumps(pattern))
        events.put_targets(Rule=name, Targets=[{
            "Id": "t", "Arn": arn,
            "InputTransformer": {"InputPathsMap": {"e": "$.detail.label"},
                                 "InputTemplate": '{"rule": <aws.events.rule-name>, "event": <e>}'},
        }])
    for label, detail in OPERATOR_EVENTS.items():
        resp = put(events, dict(detail, label=label))
        assert resp["FailedEntryCount"] == 0
    expected = {(r, e) for e, rules in OPERATOR_EXPECTED.items() for r in rules}
    got = receive(sqs, url, len(expected))
    assert {(b["rule"], b["event"]) for b in got} == expected
    assert empty(sqs, url)
    # TestEventPattern agrees with the routing, rule by rule.
    for name, pattern in OPERATOR_RULES.items():
        for label, detail in OPERATOR_EVENTS.items():
            ev = {"id": "1", "account": ACCOUNT, "source": "my.app", "time": "2024-01-01T00:00:00Z",
                  "region": REGION, "detail-type": "thing", "resources": [], "detail": dict(detail, label=label)}
            r = events.test_event_pattern(EventPattern=json.dumps(pattern), Event=json.dumps(ev))["Result"]
            assert r == (name in OPERATOR_EXPECTED[label]), (name, label)


# ---- inputs ----------------------------------------------------------------------------------------


def test_each_input_form(events, sqs):
    url, arn = queue(sqs, "in", [rule_arn("r")])
    events.put_rule(Name="r", EventPattern=json.dumps({"source": ["my.app"]}))
    events.put_targets(Rule="r", Targets=[
        {"Id": "constant", "Arn": arn, "Input": '{"fixed": true}'},
        {"Id": "path", "Arn": arn, "InputPath": "$.detail.instance"},
        {"Id": "json", "Arn": arn, "InputTransformer": {
            "InputPathsMap": {"i": "$.detail.instance", "s": "$.detail.state"},
            "InputTemplate": '{"instance": <i>, "state": <s>, "rule": <aws.events.rule-arn>}'}},
        {"Id": "string", "Arn": arn, "InputTransformer": {
            "InputPathsMap": {"i": "$.detail.instance"},
            "InputTemplate": '"instance <i> changed"'}},
        {"Id": "text", "Arn": arn, "InputTransformer": {
            "InputPathsMap": {"s": "$.detail.state"},
            "InputTemplate": "state is <s>"}},
    ])
    put(events, {"instance": "i-1", "state": "RUNNING"})
    msgs = receive_raw(sqs, url, 5)
    assert empty(sqs, url)
    bodies = sorted(m["Body"] for m in msgs)
    assert bodies == sorted([
        '{"fixed": true}',
        '"i-1"',
        '{"instance":"i-1","state":"RUNNING","rule":"%s"}' % rule_arn("r"),
        '"instance i-1 changed"',
        "state is RUNNING",
    ])

    with pytest.raises(ClientError) as e:
        events.put_targets(Rule="r", Targets=[{"Id": "x", "Arn": arn, "Input": "{}", "InputPath": "$"}])
    assert error(e) == ("ValidationException",
                        "Only one of Input, InputPath, or InputTransformer must be provided for target x.", 400)
    resp = events.put_targets(Rule="r", Targets=[{"Id": "bad", "Arn": "not-an-arn"}])
    assert resp["FailedEntryCount"] == 1
    assert resp["FailedEntries"][0]["TargetId"] == "bad"


# ---- targets: listing, limits, removal --------------------------------------------------------------


def test_target_management(events, sqs, aws):
    _, arn = queue(sqs, "q")
    events.put_rule(Name="r", EventPattern=json.dumps({"source": ["my.app"]}))
    events.put_rule(Name="s", EventPattern=json.dumps({"source": ["my.app"]}))
    given = {"Id": "a", "Arn": arn, "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 120}}
    events.put_targets(Rule="r", Targets=[given, {"Id": "b", "Arn": arn}])
    events.put_targets(Rule="s", Targets=[{"Id": "a", "Arn": arn}])
    listed = events.list_targets_by_rule(Rule="r")["Targets"]
    assert listed == [given, {"Id": "b", "Arn": arn}]
    page = events.list_targets_by_rule(Rule="r", Limit=1)
    assert [t["Id"] for t in page["Targets"]] == ["a"] and page["NextToken"]
    assert [t["Id"] for t in events.list_targets_by_rule(Rule="r", NextToken=page["NextToken"])["Targets"]] == ["b"]
    assert events.list_rule_names_by_target(TargetArn=arn)["RuleNames"] == ["r", "s"]

    with pytest.raises(ClientError) as e:
        events.delete_rule(Name="r")
    assert error(e) == ("ValidationException", "Rule can't be deleted since it has targets.", 400)
    with pytest.raises(ClientError) as e:
        events.put_targets(Rule="r", Targets=[{"Id": str(i), "Arn": arn} for i in range(4)])
    assert error(e) == ("LimitExceededException", "The requested resource exceeds the maximum number allowed.", 400)
    with pytest.raises(ClientError) as e:
        events.put_targets(Rule="r", Targets=[{"Id": "x", "Arn": arn, "RetryPolicy": {"MaximumRetryAttempts": 200}}])
    assert error(e)[0] == "ValidationException" and "less than or equal to 185" in error(e)[1]
    with pytest.raises(ClientError) as e:
        events.put_targets(Rule="nope", Targets=[{"Id": "x", "Arn": arn}])
    assert error(e) == ("ResourceNotFoundException", "Rule nope does not exist on EventBus default.", 400)

    resp = events.remove_targets(Rule="r", Ids=["a", "zz"])
    assert resp["FailedEntryCount"] == 1 and resp["FailedEntries"][0]["TargetId"] == "zz"
    aws("events", "remove-targets", "--rule", "r", "--ids", "b")
    assert events.list_targets_by_rule(Rule="r")["Targets"] == []
    events.delete_rule(Name="r")
    assert events.list_rule_names_by_target(TargetArn=arn)["RuleNames"] == ["s"]


# ---- buses: custom bus, bus to bus, permissions, tags --------------------------------------------------


def test_custom_bus_and_bus_to_bus(events, sqs):
    events.create_event_bus(Name="orders")
    orders_arn = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/orders"
    url, arn = queue(sqs, "orders-q", [rule_arn("placed", "orders")])
    events.put_rule(Name="placed", EventBusName="orders", EventPattern=json.dumps({"detail-type": ["placed"]}))
    events.put_targets(Rule="placed", EventBusName="orders", Targets=[{"Id": "q", "Arn": arn}])
    events.put_rule(Name="forward", EventPattern=json.dumps({"source": ["shop"]}))
    events.put_targets(Rule="forward", Targets=[{"Id": "bus", "Arn": orders_arn}])

    direct = events.put_events(Entries=[{"Source": "shop", "DetailType": "placed", "Detail": '{"n": 1}',
                                         "EventBusName": "orders"}])
    forwarded = events.put_events(Entries=[{"Source": "shop", "DetailType": "placed", "Detail": '{"n": 2}'}])
    got = sorted(receive(sqs, url, 2), key=lambda e: e["detail"]["n"])
    assert got[0]["id"] == direct["Entries"][0]["EventId"]
    assert got[1]["id"] == forwarded["Entries"][0]["EventId"], "a forwarded event keeps its id"
    assert empty(sqs, url)


def test_permissions_tags_and_update(events):
    events.create_event_bus(Name="shared", Tags=[{"Key": "team", "Value": "a"}])
    arn = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/shared"
    events.put_permission(EventBusName="shared", Action="events:PutEvents", Principal="111122223333",
                          StatementId="partner")
    policy = json.loads(events.describe_event_bus(Name="shared")["Policy"])
    [st] = policy["Statement"]
    assert st["Sid"] == "partner" and st["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}
    assert st["Resource"] == arn and st["Action"] == "events:PutEvents"
    events.remove_permission(EventBusName="shared", StatementId="partner")
    with pytest.raises(ClientError) as e:
        events.remove_permission(EventBusName="shared", StatementId="partner")
    assert error(e)[0] == "ResourceNotFoundException"

    assert events.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "team", "Value": "a"}]
    events.tag_resource(ResourceARN=arn, Tags=[{"Key": "env", "Value": "dev"}])
    events.untag_resource(ResourceARN=arn, TagKeys=["team"])
    assert events.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "env", "Value": "dev"}]
    with pytest.raises(ClientError) as e:
        events.list_tags_for_resource(ResourceARN=rule_arn("ghost"))
    assert error(e) == ("ResourceNotFoundException", "Rule ghost does not exist on EventBus default.", 400)

    out = events.update_event_bus(Name="shared", Description="now described")
    assert (out["Arn"], out["Description"]) == (arn, "now described")
    assert events.describe_event_bus(Name="shared")["Description"] == "now described"


# ---- failures: DLQ with AWS's attributes, policies, retries ----------------------------------------


def attrs(msg):
    return {k: v["StringValue"] for k, v in msg["MessageAttributes"].items()}


def test_deleted_target_goes_to_the_dlq_while_another_target_keeps_receiving(events, sqs, endpoint):
    ok_url, ok_arn = queue(sqs, "ok", [rule_arn("r")])
    gone_url, gone_arn = queue(sqs, "gone", [rule_arn("r")])
    dlq_url, dlq_arn = queue(sqs, "dlq", [rule_arn("r")])
    events.put_rule(Name="r", EventPattern=json.dumps({"source": ["my.app"]}))
    events.put_targets(Rule="r", Targets=[
        {"Id": "ok", "Arn": ok_arn},
        {"Id": "gone", "Arn": gone_arn, "DeadLetterConfig": {"Arn": dlq_arn},
         "InputTransformer": {"InputPathsMap": {"n": "$.detail.n"}, "InputTemplate": "n=<n>"}},
    ])
    sqs.delete_queue(QueueUrl=gone_url)
    resp = put(events, {"n": 1})
    event_id = resp["Entries"][0]["EventId"]
    assert receive(sqs, ok_url, 1)[0]["id"] == event_id
    [dead] = receive_raw(sqs, dlq_url, 1)
    assert json.loads(dead["Body"])["id"] == event_id, "the DLQ gets the original event, not the input"
    a = attrs(dead)
    assert a["RULE_ARN"] == rule_arn("r") and a["TARGET_ARN"] == gone_arn
    assert a["ERROR_CODE"] == "NO_RESOURCE" and a["RETRY_ATTEMPTS"] == "0"
    assert "EXHAUSTED_RETRY_CONDITION" not in a, "a missing target is not retried"
    assert a["ERROR_MESSAGE"]
    [rec] = ledger(endpoint, target=gone_arn)
    assert rec["fate"] == "dead-lettered" and rec["eventId"] == event_id

    m = metrics(endpoint)
    key = '{EventBusName="default",RuleName="r"}'
    assert m["localbridge_events_InvocationsSentToDlq" + key] == 1
    assert m["localbridge_events_Invocations" + key] == 2


def test_a_queue_without_a_policy_for_the_rule_lands_in_the_dlq(events, sqs, endpoint):
    _, closed_arn = queue(sqs, "closed")
    dlq_url, dlq_arn = queue(sqs, "dlq", [rule_arn("r")])
    events.put_rule(Name="r", EventPattern=json.dumps({"source": ["my.app"]}))
    events.put_targets(Rule="r", Targets=[{"Id": "c", "Arn": closed_arn, "DeadLetterConfig": {"Arn": dlq_arn}}])
    put(events, {"n": 1})
    [dead] = receive_raw(sqs, dlq_url, 1)
    assert attrs(dead)["ERROR_CODE"] == "NO_PERMISSIONS"
    [rec] = ledger(endpoint, target=closed_arn)
    assert rec["fate"] == "dead-lettered"
    assert "events.amazonaws.com" in rec["reason"]


class Recorder(BaseHTTPRequestHandler):
    """A loopback HTTP endpoint: records requests; answers with the statuses queued in `plan`."""

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode()
        srv = self.server
        with srv.lock:
            if self.path.startswith("/token"):
                status, reply = 200, json.dumps({"access_token": "tok-1", "token_type": "Bearer", "expires_in": 3600})
            else:
                srv.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status = srv.plan.pop(0) if srv.plan else 200
                reply = "{}"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply.encode())

    do_PUT = do_POST

    def log_message(self, *args):
        pass


@pytest.fixture
def http_endpoint():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    srv.lock = threading.Lock()
    srv.requests = []
    srv.plan = []
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()


def test_api_destination_with_api_key_and_retries_to_dlq(events, sqs, endpoint, http_endpoint):
    port = http_endpoint.server_address[1]
    conn = events.create_connection(
        Name="hook", AuthorizationType="API_KEY",
        AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "s3cret"}})
    dest = events.create_api_destination(
        Name="hook", ConnectionArn=conn["ConnectionArn"], HttpMethod="POST",
        InvocationEndpoint=f"http://127.0.0.1:{port}/hooks/*")
    dlq_url, dlq_arn = queue(sqs, "dlq", [rule_arn("r")])
    events.put_rule(Name="r", EventPattern=json.dumps({"source": ["my.app"]}))
    events.put_targets(Rule="r", Targets=[{
        "Id": "hook", "Arn": dest["ApiDestinationArn"],
        "HttpParameters": {"PathParameterValues": ["orders"], "HeaderParameters": {"x-team": "a"},
                           "QueryStringParameters": {"v": "1"}},
        "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600},
        "DeadLetterConfig": {"Arn": dlq_arn},
    }])
    put(events, {"n": 1})
    settle(endpoint)
    [req] = http_endpoint.requests
    assert req["path"] == "/hooks/orders?v=1"
    headers = {k.lower(): v for k, v in req["headers"].items()}
    assert headers["x-api-key"] == "s3cret" and headers["x-team"] == "a"
    assert json.loads(req["body"])["detail"] == {"n": 1}

    # A failing endpoint: 500 is retried (on the clock) until the retry policy gives up.
    http_endpoint.plan = [500, 500, 500]
    resp = put(events, {"n": 2})
    event_id = resp["Entries"][0]["EventId"]
    # Each retry waits on the clock: move it only once the engine has recorded the previous
    # attempt's failure (and so scheduled the retry from the clock's time then).
    def attempts():
        recs = [r for r in ledger(endpoint, target=dest["ApiDestinationArn"]) if r.get("eventId") == event_id]
        return recs[0]["attemptCount"] if recs else 0

    for n in (1, 2):
        wait_until(lambda: attempts() >= n, what=f"attempt {n} recorded")
        advance_clock(endpoint, 600)
    [dead] = receive_raw(sqs, dlq_url, 1)
    assert len(http_endpoint.requests) == 4, "one attempt and two retries"
    a = attrs(dead)
    assert json.loads(dead["Body"])["id"] == event_id
    assert (a["EXHAUSTED_RETRY_CONDITION"], a["RETRY_ATTEMPTS"]) == ("MaximumRetryAttempts", "2")
    m = metrics(endpoint)
    assert m['localbridge_events_RetryInvocationAttempts{EventBusName="default",RuleName="r"}'] == 2


def account_client(service, endpoint, account):
    import boto3
    from botocore.config import Config

    return boto3.session.Session(
        aws_access_key_id=account, aws_secret_access_key="test", region_name=REGION
    ).client(service, endpoint_url=endpoint, config=Config(retries={"max_attempts": 1}))


def test_cross_account_bus_target_needs_the_bus_policy(events, endpoint):
    """Account 111122223333 forwards to a bus of account 444455556666, which must allow it."""
    a, b = "111122223333", "444455556666"
    ev_a, ev_b = account_client("events", endpoint, a), account_client("events", endpoint, b)
    sqs_b = account_client("sqs", endpoint, b)
    ev_b.create_event_bus(Name="inbox")
    inbox = f"arn:aws:events:{REGION}:{b}:event-bus/inbox"
    url = sqs_b.create_queue(QueueName="got")["QueueUrl"]
    q_arn = f"arn:aws:sqs:{REGION}:{b}:got"
    in_rule = f"arn:aws:events:{REGION}:{b}:rule/inbox/all"
    sqs_b.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({"Statement": [{
        "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage",
        "Resource": q_arn, "Condition": {"ArnEquals": {"aws:SourceArn": in_rule}}}]})})
    ev_b.put_rule(Name="all", EventBusName="inbox", EventPattern=json.dumps({"source": ["shop"]}))
    ev_b.put_targets(Rule="all", EventBusName="inbox", Targets=[{"Id": "q", "Arn": q_arn}])
    ev_a.put_rule(Name="out", EventPattern=json.dumps({"source": ["shop"]}))
    ev_a.put_targets(Rule="out", Targets=[{"Id": "b", "Arn": inbox}])

    denied = ev_a.put_events(Entries=[{"Source": "shop", "DetailType": "t", "Detail": '{"n": 1}'}])
    settle(endpoint)
    [rec] = ledger(endpoint, target=inbox)
    assert rec["fate"] == "dropped" and "does not allow account 111122223333" in rec["reason"]
    assert rec["eventId"] == denied["Entries"][0]["EventId"]

    ev_b.put_permission(EventBusName="inbox", Action="events:PutEvents", Principal=a, StatementId="from-a")
    sent = ev_a.put_events(Entries=[{"Source": "shop", "DetailType": "t", "Detail": '{"n": 2}'}])
    [got] = receive(sqs_b, url, 1)
    assert got["id"] == sent["Entries"][0]["EventId"] and got["account"] == a
    # PutEvents straight to the other account's bus, by ARN.
    direct = ev_a.put_events(Entries=[{"Source": "shop", "DetailType": "t", "Detail": '{"n": 3}',
                                       "EventBusName": inbox}])
    assert direct["FailedEntryCount"] == 0
    assert receive(sqs_b, url, 1)[0]["id"] == direct["Entries"][0]["EventId"]


def test_cli_put_events_and_reserved_variables(aws, sqs, events):
    url, arn = queue(sqs, "cli", [rule_arn("r")])
    aws("events", "put-rule", "--name", "r", "--event-pattern", json.dumps({"source": ["cli.app"]}))
    aws("events", "put-targets", "--rule", "r", "--targets", json.dumps([{
        "Id": "t", "Arn": arn, "InputTransformer": {
            "InputPathsMap": {},
            "InputTemplate": '{"name": <aws.events.rule-name>, "at": <aws.events.event.ingestion-time>, '
                             '"whole": <aws.events.event.json>, "head": <aws.events.event>}'}}]))
    out = aws("events", "put-events", "--entries", json.dumps([
        {"Source": "cli.app", "DetailType": "t", "Detail": '{"a": {"b": 1}}'}]))
    assert out["FailedEntryCount"] == 0
    event_id = out["Entries"][0]["EventId"]
    [body] = receive(sqs, url, 1)
    assert body["name"] == "r"
    assert body["whole"]["id"] == event_id and body["whole"]["detail"] == {"a": {"b": 1}}
    assert "detail" not in body["head"] and body["head"]["id"] == event_id
    assert body["at"].endswith("Z")
    listed = aws("events", "list-targets-by-rule", "--rule", "r")["Targets"]
    assert [t["Id"] for t in listed] == ["t"]
    assert aws("events", "list-rule-names-by-target", "--target-arn", arn)["RuleNames"] == ["r"]
