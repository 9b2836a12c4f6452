"""`localbridge tail` and `localbridge replay` end to end: the real binary as a subprocess against
a server, events put with boto3 and the AWS CLI, arrivals checked at SQS queues.

Paced replays run against `--clock manual`: the test moves the server's clock step by step and
checks which events have arrived; nothing waits on the wall clock.
"""

import json
import os
import subprocess
from datetime import datetime, timezone

import pytest

from conftest import BIN, CLIENT_ENV, _client, advance_clock, get_json

ACCOUNT = "000000000000"
REGION = "us-east-1"


@pytest.fixture
def server(manual):
    return manual



def env(endpoint):
    return dict(os.environ, AWS_ENDPOINT_URL=endpoint, **CLIENT_ENV)


def queue(sqs, name):
    """A queue EventBridge rules and S3 may send to: its URL and ARN."""
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": ["events.amazonaws.com", "s3.amazonaws.com"]},
        "Action": "sqs:SendMessage", "Resource": arn}]}
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    return url, arn


def rule_to(events, sqs, name, pattern, bus="default"):
    """A rule on `bus` sending matching events, as they are, to a new queue; the queue's URL."""
    url, arn = queue(sqs, f"{name}-q")
    events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
    return url


def raw_bodies(sqs, url, count):
    """`count` message bodies as text, deleted."""
    out = []
    while len(out) < count:
        resp = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=20)
        for m in resp.get("Messages", []):
            out.append(m["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert len(out) == count, out
    return out


def empty(sqs, url):
    return not sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages")


def start_tail(endpoint, *args):
    """`localbridge tail ARGS`, once it follows (its stderr says so)."""
    proc = subprocess.Popen([str(BIN), "tail", *args], env=env(endpoint), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()
    assert line.startswith("localbridge tail: following bus "), line + proc.stderr.read()
    return proc


def finish(proc, timeout=30):
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def replay(endpoint, *args, input=None, timeout=120):
    proc = subprocess.run([str(BIN), "replay", *args], env=env(endpoint), input=input, capture_output=True,
                          text=True, timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


def iso(seconds):
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def event(source, n, when, detail_type="thing"):
    return {"version": "0", "id": f"id-{n}", "detail-type": detail_type, "source": source,
            "account": "111122223333", "time": iso(when), "region": REGION, "resources": [],
            "detail": {"n": n}}


# ---- tail -----------------------------------------------------------------------------------


def test_tail_prints_each_event_as_routed(endpoint, events, sqs, aws):
    everything = rule_to(events, sqs, "all", {"source": [{"prefix": ""}]})
    tail = start_tail(endpoint, "--count", "4")
    events.put_events(Entries=[
        {"Source": "my.app", "DetailType": "thing", "Detail": json.dumps({"n": 1, "s": "é"}),
         "Resources": ["arn:aws:s3:::b"]},
        {"Source": "other.app", "DetailType": "thing", "Detail": '{"n": 2}'},
    ])
    aws("events", "put-events", "--entries", json.dumps([
        {"Source": "my.app", "DetailType": "cli", "Detail": '{"n":3}'},
        {"Source": "my.app", "DetailType": "cli", "Detail": '{"n":4}', "Time": "2024-01-01T00:00:00Z"},
    ]))
    code, out, err = finish(tail)
    assert code == 0, err
    lines = out.splitlines()
    # Byte for byte what a target receives without an input transformer, in order.
    assert sorted(lines) == sorted(raw_bodies(sqs, everything, 4))
    assert [json.loads(line)["detail"]["n"] for line in lines] == [1, 2, 3, 4]
    assert json.loads(lines[3])["time"] == "2024-01-01T00:00:00Z"


def test_tail_filters_by_pattern_and_by_rule(endpoint, events, sqs):
    events.create_event_bus(Name="orders")
    events.put_rule(Name="big", EventBusName="orders",
                    EventPattern=json.dumps({"detail": {"n": [{"numeric": [">", 10]}]}}))
    by_pattern = start_tail(endpoint, "--bus", "orders", "--pattern", '{"source": ["b"]}', "--count", "2")
    by_rule = start_tail(endpoint, "--bus", f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/orders",
                         "--rule", "big", "--count", "2")
    on_default = start_tail(endpoint, "--count", "1")
    entries = [("a", 1), ("b", 2), ("a", 20), ("b", 3), ("b", 30)]
    events.put_events(Entries=[{"Source": s, "DetailType": "t", "Detail": json.dumps({"n": n}),
                                "EventBusName": "orders"} for s, n in entries])
    events.put_events(Entries=[{"Source": "z", "DetailType": "t", "Detail": '{"n": 0}'}])
    got = {}
    for name, proc in [("pattern", by_pattern), ("rule", by_rule), ("default", on_default)]:
        code, out, err = finish(proc)
        assert code == 0, err
        got[name] = [(e["source"], e["detail"]["n"]) for e in map(json.loads, out.splitlines())]
    assert got == {"pattern": [("b", 2), ("b", 3)], "rule": [("a", 20), ("b", 30)], "default": [("z", 0)]}

    # Errors are the server's, on stderr.
    for args, message in [
        (["--rule", "nope"], "ResourceNotFoundException: Rule nope does not exist on EventBus default."),
        (["--bus", "missing"], "ResourceNotFoundException: Event bus missing does not exist."),
        (["--pattern", '{"source": "x"}'], "InvalidEventPatternException: Event pattern is not valid. Reason: "),
    ]:
        proc = subprocess.run([str(BIN), "tail", *args], env=env(endpoint), capture_output=True, text=True,
                              timeout=30)
        assert proc.returncode != 0
        assert message in proc.stderr, proc.stderr


def test_tail_recent_starts_with_what_the_server_holds(endpoint, events):
    events.put_events(Entries=[{"Source": "early", "DetailType": "t", "Detail": "{}"}])
    tail = start_tail(endpoint, "--recent", "--count", "2")
    events.put_events(Entries=[{"Source": "late", "DetailType": "t", "Detail": "{}"}])
    code, out, err = finish(tail)
    assert code == 0, err
    assert [json.loads(line)["source"] for line in out.splitlines()] == ["early", "late"]


# ---- replay -----------------------------------------------------------------------------------


def test_replay_is_paced_by_the_server_clock(endpoint, events, sqs, tmp_path):
    url = rule_to(events, sqs, "timed", {"source": ["timed"]})
    base = 1_700_000_000
    capture = tmp_path / "capture.jsonl"
    # 0 s, 10 s, 20 s, 40 s apart; at 10x: 0, 1, 2, 4 s of server time.
    capture.write_text("".join(json.dumps(event("timed", n, base + offset)) + "\n"
                               for n, offset in enumerate([0, 10, 20, 40])))
    start = get_json(endpoint, "/_localbridge/clock")["now"]
    start_s = datetime.fromisoformat(start.replace("Z", "+00:00")).timestamp()
    proc = subprocess.Popen([str(BIN), "replay", str(capture), "--speed", "10", "--rewrite-time", "--json",
                             "--mark", "paced"], env=env(endpoint), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)

    def arrived(count):
        return [json.loads(b) for b in raw_bodies(sqs, url, count)]

    [first] = arrived(1)
    assert first["detail"] == {"n": 0}
    assert empty(sqs, url), "the next event is due 1 s of server time later"
    advance_clock(endpoint, 0.5)
    assert empty(sqs, url)
    # The clock stops where the replay's wait fires and waits for the replay to send.
    advance_clock(endpoint, 0.5)
    [second] = arrived(1)
    assert second["detail"] == {"n": 1}
    assert empty(sqs, url)
    advance_clock(endpoint, 3)
    third, fourth = arrived(2)
    code, out, err = finish(proc)
    assert code == 0, err
    assert json.loads(out)["sent"] == 4
    # Each was sent (and given its time) at its moment of the server's clock.
    assert [e["time"] for e in [first, second, third, fourth]] == [
        iso(int(start_s + k)) for k in [0, 1, 2, 4]]
    assert {e["replay-name"] for e in [first, second, third, fourth]} == {"paced"}


def test_replay_as_fast_as_possible_keeps_times(endpoint, events, sqs, tmp_path):
    events.create_event_bus(Name="replays")
    url = rule_to(events, sqs, "fast", {"source": ["fast"]}, bus="replays")
    base = 1_600_000_000
    capture = tmp_path / "capture.jsonl"
    # An hour of events; none is waited for.
    capture.write_text("".join(json.dumps(event("fast", n, base + 15 * n)) + "\n" for n in range(240)))
    code, out, err = replay(endpoint, str(capture), "--as-fast-as-possible", "--bus", "replays", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["read"], summary["sent"], summary["failed"], summary["errors"]) == (240, 240, 0, {})
    assert "240 events read, 240 sent, 0 failed" in err
    got = [json.loads(b) for b in raw_bodies(sqs, url, 240)]
    assert sorted(e["detail"]["n"] for e in got) == list(range(240))
    by_n = {e["detail"]["n"]: e for e in got}
    assert all(by_n[n]["time"] == iso(base + 15 * n) for n in range(240))
    assert {e["replay-name"] for e in got} == {"localbridge-replay"}
    assert {e["account"] for e in got} == {ACCOUNT}


def test_replay_reads_stdin_and_put_events_entries(endpoint, events, sqs):
    url = rule_to(events, sqs, "stdin", {"source": ["piped"]})
    entries = {"Entries": [{"Source": "piped", "DetailType": "t", "Detail": json.dumps({"n": n})}
                           for n in range(3)]}
    pretty = json.dumps(entries, indent=2)
    line = json.dumps(event("piped", 3, 1_700_000_000))
    for args in [["-"], []]:
        code, _, err = replay(endpoint, *args, "--as-fast-as-possible", input=pretty + "\n" + line + "\n")
        assert code == 0, err
        assert "4 events read, 4 sent" in err
        assert sorted(json.loads(b)["detail"]["n"] for b in raw_bodies(sqs, url, 4)) == [0, 1, 2, 3]


def test_replay_turns_s3_records_into_the_events_s3_sends(endpoint, events, sqs, s3, aws):
    records_url, records_arn = queue(sqs, "records")
    s3.create_bucket(Bucket="photos")
    s3.put_bucket_notification_configuration(Bucket="photos", NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": records_arn, "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]}],
        "EventBridgeConfiguration": {},
    })
    [test_event] = raw_bodies(sqs, records_url, 1)
    assert json.loads(test_event)["Event"] == "s3:TestEvent"
    originals = rule_to(events, sqs, "s3-live", {"source": ["aws.s3"], "replay-name": [{"exists": False}]})
    replayed = rule_to(events, sqs, "s3-replayed", {"source": ["aws.s3"], "replay-name": [{"exists": True}]})
    s3.put_object(Bucket="photos", Key="images/beach photo.jpg", Body=b"x" * 1234)
    s3.delete_object(Bucket="photos", Key="images/beach photo.jpg")
    records = raw_bodies(sqs, records_url, 2)
    live = [json.loads(b) for b in raw_bodies(sqs, originals, 2)]

    # What the queue received, as `aws sqs receive-message` prints it, plus the test event.
    capture = json.dumps({"Messages": [{"Body": test_event}] + [{"Body": r} for r in records]})
    code, out, err = replay(endpoint, "--as-fast-as-possible", "--json", "--mark", "s3-again", input=capture)
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["sent"], summary["skipped"]) == (2, 1)
    again = sorted((json.loads(b) for b in raw_bodies(sqs, replayed, 2)), key=lambda e: e["detail-type"])
    live.sort(key=lambda e: e["detail-type"])
    assert [e["detail-type"] for e in again] == ["Object Created", "Object Deleted"]
    for original, copy in zip(live, again):
        assert copy.pop("replay-name") == "s3-again"
        assert copy.pop("id") != original.pop("id")
        assert copy == original
    assert empty(sqs, originals)


def test_replay_turns_cloudtrail_records_into_api_call_events(endpoint, events, sqs, tmp_path):
    url = rule_to(events, sqs, "trail", {"source": ["aws.ec2", "aws.signin"]})
    run = {"eventVersion": "1.08", "userIdentity": {"type": "IAMUser", "accountId": "111122223333"},
           "eventTime": "2024-03-01T12:00:05Z", "eventSource": "ec2.amazonaws.com", "eventName": "RunInstances",
           "awsRegion": "us-east-1", "requestParameters": {"instanceType": "t3.micro"},
           "responseElements": None, "eventID": "e1", "readOnly": False, "eventType": "AwsApiCall"}
    login = {"eventVersion": "1.08", "eventTime": "2024-03-01T12:00:06Z", "eventSource": "signin.amazonaws.com",
             "eventName": "ConsoleLogin", "eventType": "AwsConsoleSignIn"}
    trail = tmp_path / "trail.json"
    trail.write_text(json.dumps({"Records": [run, login]}, indent=2))
    code, _, err = replay(endpoint, str(trail), "--as-fast-as-possible")
    assert code == 0, err
    got = sorted((json.loads(b) for b in raw_bodies(sqs, url, 2)), key=lambda e: e["time"])
    assert [(e["source"], e["detail-type"], e["time"], e["resources"]) for e in got] == [
        ("aws.ec2", "AWS API Call via CloudTrail", "2024-03-01T12:00:05Z", []),
        ("aws.signin", "AWS Console Sign In via CloudTrail", "2024-03-01T12:00:06Z", []),
    ]
    assert [e["detail"] for e in got] == [run, login]


def test_aws_sources_are_replayed_only_with_the_mark(endpoint, events, sqs):
    url = rule_to(events, sqs, "ec2", {"source": ["aws.ec2"]})
    entry = {"Source": "aws.ec2", "DetailType": "EC2 Instance State-change Notification",
             "Detail": '{"instance-id": "i-1", "state": "running"}'}
    out = events.put_events(Entries=[entry])
    assert out["Entries"] == [{"ErrorCode": "NotAuthorizedForSourceException",
                               "ErrorMessage": "Not authorized for the source."}]
    code, _, err = replay(endpoint, "--as-fast-as-possible", "--mark", "nightly.run-1",
                          input=json.dumps(entry) + "\n")
    assert code == 0, err
    [got] = [json.loads(b) for b in raw_bodies(sqs, url, 1)]
    assert (got["source"], got["replay-name"], got["detail"]) == (
        "aws.ec2", "nightly.run-1", {"instance-id": "i-1", "state": "running"})
    # The mark is a replay name.
    code, _, err = replay(endpoint, "--mark", "no spaces", input="")
    assert code == 2 and "--mark" in err


def test_replay_summary_counts_failures_by_code(endpoint, events, sqs, tmp_path):
    url = rule_to(events, sqs, "mixed", {"source": ["ok"]})
    lines = [
        json.dumps(event("ok", 1, 1_700_000_000)),
        json.dumps({"Source": "ok", "DetailType": "t", "Detail": json.dumps({"big": "x" * 300_000})}),
        json.dumps({"source": "ok", "detail-type": "t", "detail": "not an object"}),
        "this is not json",
        json.dumps({"DetailType": "t", "Detail": "{}"}),
        json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"}),
        json.dumps(event("ok", 2, 1_700_000_001)),
    ]
    capture = tmp_path / "mixed.jsonl"
    capture.write_text("\n".join(lines) + "\n")
    code, out, err = replay(endpoint, str(capture), "--as-fast-as-possible", "--json")
    assert code == 1, err
    summary = json.loads(out)
    assert (summary["read"], summary["sent"], summary["failed"], summary["skipped"]) == (6, 2, 4, 1)
    errors = summary["errors"]
    assert {k: v["count"] for k, v in errors.items()} == {
        "ValidationException": 1, "MalformedDetail": 1, "InvalidInput": 1, "InvalidArgument": 1}
    assert errors["ValidationException"] == {
        "count": 1, "first": "line 2", "message": "Total size of the entries in the request is over the limit."}
    assert errors["MalformedDetail"]["message"] == "Detail is malformed."
    assert errors["InvalidArgument"]["message"] == (
        "Parameter Source is not valid. Reason: Source is a required argument.")
    assert errors["InvalidInput"]["first"] == "line 4"
    assert "ValidationException: 1 (first at line 2: Total size of the entries" in err
    assert sorted(json.loads(b)["detail"]["n"] for b in raw_bodies(sqs, url, 2)) == [1, 2]


def test_replay_needs_a_server(tmp_path):
    proc = subprocess.run([str(BIN), "replay", "--endpoint-url", "http://127.0.0.1:9", "-"], input="",
                          capture_output=True, text=True, timeout=30, env=dict(os.environ, **CLIENT_ENV))
    assert proc.returncode == 2
    assert "cannot reach" in proc.stderr
