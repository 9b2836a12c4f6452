"""EventBridge archives and replays with boto3 and the AWS CLI against the binary: what an
archive records (its pattern, never replayed events), its managed rule, DescribeArchive's
counts, replays to all rules or to Destination.FilterArns' only (with `replay-name`), replay
states on the manual clock, CancelReplay, the archives' bound and retention.

Every test runs on the manual clock: replay windows, their waits and retention move with it.
"""

import json
from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError

from conftest import _client, advance_clock, get_json, http, receive, serve, settle, wait_until

ACCOUNT = "000000000000"
REGION = "us-east-1"
BUS = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"


@pytest.fixture
def server(manual):
    return manual



def now(endpoint):
    text = get_json(endpoint, "/_localbridge/clock")["now"].replace("Z", "+00:00")
    return datetime.fromisoformat(text)


def error(excinfo):
    e = excinfo.value.response
    return e["Error"]["Code"], e["Error"]["Message"], e["ResponseMetadata"]["HTTPStatusCode"]


def queue_for_rule(sqs, name):
    """A queue whose policy lets the default bus's rule of the same name send to it; its URL."""
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
    policy = {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{name}"}},
        }],
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    return url


def rule_to_queue(events, sqs, name, pattern):
    """A rule of the default bus sending matched events to a queue of its own name; (URL, rule ARN)."""
    url = queue_for_rule(sqs, name)
    arn = events.put_rule(Name=name, EventPattern=json.dumps(pattern))["RuleArn"]
    events.put_targets(Rule=name, Targets=[{"Id": "q", "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"}])
    return url, arn


def put(events, detail_type, n):
    resp = events.put_events(Entries=[{"Source": "my.app", "DetailType": detail_type, "Detail": json.dumps({"n": n})}])
    assert resp["FailedEntryCount"] == 0, resp
    return resp["Entries"][0]["EventId"]


def empty(sqs, url):
    return "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)


def replay_state(events, name, state):
    return wait_until(lambda: (r := events.describe_replay(ReplayName=name))["State"] == state and r,
                      what=f"replay {name} {state}")


def test_archive_records_its_pattern_and_has_a_managed_rule(events, sqs, endpoint):
    url, _ = rule_to_queue(events, sqs, "all", {"source": ["my.app"]})
    created = events.create_archive(ArchiveName="orders", EventSourceArn=BUS, Description="orders only",
                                    EventPattern=json.dumps({"detail-type": ["order"]}), RetentionDays=7)
    assert created["ArchiveArn"] == f"arn:aws:events:{REGION}:{ACCOUNT}:archive/orders"
    assert created["State"] == "ENABLED"
    put(events, "order", 1)
    put(events, "refund", 2)
    put(events, "order", 3)
    settle(endpoint)
    assert len(receive(sqs, url, 3)) == 3
    d = events.describe_archive(ArchiveName="orders")
    assert (d["EventCount"], d["RetentionDays"], d["State"], d["Description"]) == (2, 7, "ENABLED", "orders only")
    assert d["EventSourceArn"] == BUS and json.loads(d["EventPattern"]) == {"detail-type": ["order"]}
    assert d["SizeBytes"] > 2 * 150
    assert "StateReason" not in d
    listed = events.list_archives(NamePrefix="ord")["Archives"]
    assert [(a["ArchiveName"], a["EventCount"]) for a in listed] == [("orders", 2)]

    rules = {r["Name"]: r for r in events.list_rules()["Rules"]}
    managed = rules["Events-Archive-orders"]
    assert managed["ManagedBy"] == "prod.vhs.events.aws.internal"
    assert json.loads(managed["EventPattern"]) == {"detail-type": ["order"], "replay-name": [{"exists": False}]}
    with pytest.raises(ClientError) as e:
        events.delete_rule(Name="Events-Archive-orders")
    assert error(e) == ("ManagedRuleException",
                        "Events-Archive-orders is a managed rule. Set 'force' parameter to true to override.", 400)
    with pytest.raises(ClientError) as e:
        events.disable_rule(Name="Events-Archive-orders")
    assert error(e)[0] == "ManagedRuleException"

    with pytest.raises(ClientError) as e:
        events.create_archive(ArchiveName="orders", EventSourceArn=BUS)
    assert error(e) == ("ResourceAlreadyExistsException", "Archive orders already exists.", 400)
    with pytest.raises(ClientError) as e:
        events.create_archive(ArchiveName="x", EventSourceArn=BUS.replace("default", "nope"))
    assert error(e) == ("ResourceNotFoundException", "Event bus nope does not exist.", 400)
    with pytest.raises(ClientError) as e:
        events.create_archive(ArchiveName="x", EventSourceArn=BUS, EventPattern='{"source": "x"}')
    assert error(e)[0] == "InvalidEventPatternException"
    with pytest.raises(ClientError) as e:
        events.describe_archive(ArchiveName="nope")
    assert error(e) == ("ResourceNotFoundException", "Archive nope does not exist.", 400)
    with pytest.raises(ClientError) as e:
        events.list_archives(NamePrefix="o", State="ENABLED")
    assert error(e)[1] == "At most one filter is allowed for ListArchives. Use either : State, EventSourceArn, or NamePrefix."

    events.update_archive(ArchiveName="orders", EventPattern=json.dumps({"detail-type": ["refund"]}))
    put(events, "refund", 4)
    assert events.describe_archive(ArchiveName="orders")["EventCount"] == 3
    events.delete_archive(ArchiveName="orders")
    assert "Events-Archive-orders" not in [r["Name"] for r in events.list_rules()["Rules"]]
    with pytest.raises(ClientError) as e:
        events.delete_archive(ArchiveName="orders")
    assert error(e) == ("ResourceNotFoundException", "Archive orders does not exist.", 400)


def test_replay_to_filtered_rules_then_to_all(events, sqs, endpoint):
    start = now(endpoint) - timedelta(minutes=1)
    url1, arn1 = rule_to_queue(events, sqs, "one", {"source": ["my.app"]})
    url2, _ = rule_to_queue(events, sqs, "two", {"source": ["my.app"]})
    archive = events.create_archive(ArchiveName="all", EventSourceArn=BUS)["ArchiveArn"]
    ids = [put(events, "order", 1)]
    advance_clock(endpoint, 1)
    ids.append(put(events, "order", 2))
    originals = receive(sqs, url1, 2)
    assert len(receive(sqs, url2, 2)) == 2
    assert all("replay-name" not in e for e in originals)
    advance_clock(endpoint, 1)
    end = now(endpoint)

    started = events.start_replay(ReplayName="again", EventSourceArn=archive, EventStartTime=start,
                                  EventEndTime=end, Destination={"Arn": BUS, "FilterArns": [arn1]})
    assert started["State"] == "STARTING"
    assert started["ReplayArn"] == f"arn:aws:events:{REGION}:{ACCOUNT}:replay/again"
    done = replay_state(events, "again", "COMPLETED")
    assert done["Destination"] == {"Arn": BUS, "FilterArns": [arn1]}
    assert done["EventSourceArn"] == archive
    assert done["EventLastReplayedTime"] == datetime.fromisoformat(originals[1]["time"].replace("Z", "+00:00"))
    assert "ReplayEndTime" in done
    replayed = receive(sqs, url1, 2)
    assert [e["id"] for e in replayed] == ids
    for original, again in zip(originals, replayed):
        assert again == {**original, "replay-name": "again"}
    # replay-name follows region, as EventBridge writes it.
    keys = list(replayed[0])
    assert keys[keys.index("region") + 1] == "replay-name"
    settle(endpoint)
    assert empty(sqs, url2), "the second rule is not in FilterArns"
    assert events.describe_archive(ArchiveName="all")["EventCount"] == 2, "replayed events are not archived"

    events.start_replay(ReplayName="everyone", EventSourceArn=archive, EventStartTime=start,
                        EventEndTime=end, Destination={"Arn": BUS})
    replay_state(events, "everyone", "COMPLETED")
    assert [e["replay-name"] for e in receive(sqs, url1, 2)] == ["everyone", "everyone"]
    assert [e["replay-name"] for e in receive(sqs, url2, 2)] == ["everyone", "everyone"]
    listed = events.list_replays(EventSourceArn=archive)["Replays"]
    assert [(r["ReplayName"], r["State"]) for r in listed] == [("again", "COMPLETED"), ("everyone", "COMPLETED")]

    with pytest.raises(ClientError) as e:
        events.start_replay(ReplayName="again", EventSourceArn=archive, EventStartTime=start,
                            EventEndTime=end, Destination={"Arn": BUS})
    assert error(e) == ("ResourceAlreadyExistsException", "Replay again already exists.", 400)
    with pytest.raises(ClientError) as e:
        events.start_replay(ReplayName="x", EventSourceArn=archive, EventStartTime=end,
                            EventEndTime=end, Destination={"Arn": BUS})
    assert error(e) == ("ValidationException",
                        "Parameter EventEndTime is not valid. Reason: EventStartTime must be before EventEndTime.", 400)
    with pytest.raises(ClientError) as e:
        events.start_replay(ReplayName="x", EventSourceArn=archive.replace("archive/all", "archive/nope"),
                            EventStartTime=start, EventEndTime=end, Destination={"Arn": BUS})
    assert error(e) == ("ValidationException",
                        "Parameter EventSourceArn is not valid. Reason: Archive nope does not exist.", 400)
    other = events.create_event_bus(Name="other")["EventBusArn"]
    with pytest.raises(ClientError) as e:
        events.start_replay(ReplayName="x", EventSourceArn=archive, EventStartTime=start,
                            EventEndTime=end, Destination={"Arn": other})
    assert error(e) == ("ValidationException",
                        "Parameter Destination.Arn is not valid. Reason: Cross event bus replay is not permitted.", 400)
    with pytest.raises(ClientError) as e:
        events.cancel_replay(ReplayName="again")
    assert error(e)[0] == "IllegalStatusException"
    with pytest.raises(ClientError) as e:
        events.describe_replay(ReplayName="nope")
    assert error(e) == ("ResourceNotFoundException", "Replay nope does not exist.", 400)


def test_cli_replay_waits_for_its_window_and_cancels(aws, aws_raw, sqs, endpoint):
    url = queue_for_rule(sqs, "cli")
    aws("events", "put-rule", "--name", "cli", "--event-pattern", json.dumps({"source": ["my.app"]}))
    aws("events", "put-targets", "--rule", "cli", "--targets", f"Id=q,Arn=arn:aws:sqs:{REGION}:{ACCOUNT}:cli")
    archive = aws("events", "create-archive", "--archive-name", "cli", "--event-source-arn", BUS,
                  "--retention-days", "1")["ArchiveArn"]
    t0 = now(endpoint)
    entry = json.dumps([{"Source": "my.app", "DetailType": "order", "Detail": json.dumps({"n": 1})}])
    aws("events", "put-events", "--entries", entry)
    receive(sqs, url, 1)
    assert aws("events", "describe-archive", "--archive-name", "cli")["EventCount"] == 1
    assert [a["ArchiveName"] for a in aws("events", "list-archives", "--event-source-arn", BUS)["Archives"]] == ["cli"]

    # A window ending in 10 minutes: the archived event goes at once, then the replay waits on
    # the clock for its end and sends what was archived meanwhile.
    end = t0 + timedelta(minutes=10)
    started = aws("events", "start-replay", "--replay-name", "soon", "--event-source-arn", archive,
                  "--event-start-time", (t0 - timedelta(minutes=1)).isoformat(),
                  "--event-end-time", end.isoformat(), "--destination", f"Arn={BUS}")
    assert started["State"] == "STARTING"
    assert receive(sqs, url, 1)[0]["replay-name"] == "soon"
    assert aws("events", "describe-replay", "--replay-name", "soon")["State"] == "RUNNING"
    advance_clock(endpoint, 60)
    aws("events", "put-events", "--entries", entry)
    receive(sqs, url, 1)
    advance_clock(endpoint, 10 * 60)
    later = receive(sqs, url, 1)[0]
    assert later["replay-name"] == "soon" and later["detail"] == {"n": 1}
    wait_until(lambda: aws("events", "describe-replay", "--replay-name", "soon")["State"] == "COMPLETED")

    t1 = now(endpoint)
    aws("events", "start-replay", "--replay-name", "stop-me", "--event-source-arn", archive,
        "--event-start-time", (t1 + timedelta(hours=1)).isoformat(),
        "--event-end-time", (t1 + timedelta(hours=2)).isoformat(), "--destination", f"Arn={BUS}")
    wait_until(lambda: aws("events", "describe-replay", "--replay-name", "stop-me")["State"] == "RUNNING")
    cancelled = aws("events", "cancel-replay", "--replay-name", "stop-me")
    assert cancelled == {"ReplayArn": f"arn:aws:events:{REGION}:{ACCOUNT}:replay/stop-me", "State": "CANCELLING"}
    wait_until(lambda: aws("events", "describe-replay", "--replay-name", "stop-me")["State"] == "CANCELLED")
    states = {r["ReplayName"]: r["State"] for r in aws("events", "list-replays")["Replays"]}
    assert states == {"soon": "COMPLETED", "stop-me": "CANCELLED"}
    failed = aws_raw("events", "cancel-replay", "--replay-name", "stop-me")
    assert "An error occurred (IllegalStatusException) when calling the CancelReplay operation: " \
           "Replay stop-me is not in a valid state for this operation." in failed.stderr

    # Retention: a day after they were archived, the events are gone.
    advance_clock(endpoint, 86_400)
    assert aws("events", "describe-archive", "--archive-name", "cli")["EventCount"] == 0
    _, _, metrics = http("GET", endpoint + "/_localbridge/metrics")
    assert b"localbridge_events_archive_expired_total 2" in metrics
    aws("events", "delete-archive", "--archive-name", "cli")
    missing = aws_raw("events", "describe-archive", "--archive-name", "cli")
    assert "An error occurred (ResourceNotFoundException) when calling the DescribeArchive operation: " \
           "Archive cli does not exist." in missing.stderr


@pytest.fixture
def bounded(tmp_path, request):
    yield from serve(tmp_path, request, ["--clock", "manual", "--events-archive-max-events", "2"])


def test_archives_are_bounded_and_say_what_they_dropped(bounded):
    events = _client("events", bounded.endpoint)
    events.create_archive(ArchiveName="a", EventSourceArn=BUS)
    events.create_archive(ArchiveName="b", EventSourceArn=BUS, EventPattern=json.dumps({"detail-type": ["b"]}))
    put(events, "a", 1)
    put(events, "b", 2)
    put(events, "a", 3)
    a = events.describe_archive(ArchiveName="a")
    b = events.describe_archive(ArchiveName="b")
    # Four events were archived (b's event in both archives), two are kept: the oldest left.
    assert (a["EventCount"], b["EventCount"]) == (1, 1)
    assert "dropped 2 of this archive's events" in a["StateReason"]
    assert "--events-archive-max-events 2" in a["StateReason"]
    assert "StateReason" not in b
    assert [x.get("StateReason") is not None for x in events.list_archives()["Archives"]] == [True, False]
    _, _, metrics = http("GET", bounded.endpoint + "/_localbridge/metrics")
    assert b"localbridge_events_archive_dropped_total 2" in metrics
    assert b"localbridge_events_archive_events 2" in metrics
    assert b"localbridge_events_archive_max_events 2" in metrics
    assert "archives are full" in bounded.log()
