"""EventBridge buses, rules and TestEventPattern, with boto3 and the AWS CLI against the binary.

Targets, PutEvents and routing: test_events_routing.py.
"""

import json

import pytest
from botocore.exceptions import ClientError

from conftest import EC2 as EVENT
from conftest import EC2_PATTERN as PATTERN
from conftest import default_client

ACCOUNT = "000000000000"


@pytest.fixture
def events(endpoint):
    return default_client("events", endpoint)


def error(excinfo):
    e = excinfo.value.response
    return e["Error"]["Code"], e["Error"]["Message"], e["ResponseMetadata"]["HTTPStatusCode"]


def test_default_bus_and_bus_lifecycle(events):
    default = events.describe_event_bus()
    assert default["Name"] == "default"
    assert default["Arn"] == f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/default"

    created = events.create_event_bus(Name="orders", Description="order events")
    assert created["EventBusArn"] == f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/orders"
    with pytest.raises(ClientError) as e:
        events.create_event_bus(Name="orders")
    assert error(e) == ("ResourceAlreadyExistsException", "Event bus orders already exists.", 400)

    got = events.describe_event_bus(Name=created["EventBusArn"])
    assert (got["Name"], got["Description"]) == ("orders", "order events")
    assert got["CreationTime"].year >= 2024

    for n in ["b1", "b2", "b3"]:
        events.create_event_bus(Name=n)
    page = events.list_event_buses(NamePrefix="b", Limit=2)
    assert [b["Name"] for b in page["EventBuses"]] == ["b1", "b2"]
    page = events.list_event_buses(NamePrefix="b", Limit=2, NextToken=page["NextToken"])
    assert [b["Name"] for b in page["EventBuses"]] == ["b3"]
    assert "NextToken" not in page
    names = [b["Name"] for b in events.list_event_buses()["EventBuses"]]
    assert names == ["b1", "b2", "b3", "default", "orders"]

    events.delete_event_bus(Name="orders")
    with pytest.raises(ClientError) as e:
        events.describe_event_bus(Name="orders")
    assert error(e) == ("ResourceNotFoundException", "Event bus orders does not exist.", 400)
    with pytest.raises(ClientError) as e:
        events.delete_event_bus(Name="default")
    assert error(e)[0] == "ValidationException"


def test_buses_are_per_region(endpoint):
    east = default_client("events", endpoint)
    west = default_client("events", endpoint, region="eu-west-1")
    east.create_event_bus(Name="only-east")
    assert [b["Name"] for b in west.list_event_buses()["EventBuses"]] == ["default"]
    assert west.describe_event_bus()["Arn"] == f"arn:aws:events:eu-west-1:{ACCOUNT}:event-bus/default"


def test_rules(events):
    arn = events.put_rule(Name="ec2", EventPattern=json.dumps(PATTERN), Description="running")["RuleArn"]
    assert arn == f"arn:aws:events:us-east-1:{ACCOUNT}:rule/ec2"
    rule = events.describe_rule(Name="ec2")
    assert rule["State"] == "ENABLED"
    assert rule["EventBusName"] == "default"
    assert json.loads(rule["EventPattern"]) == PATTERN
    assert (rule["Arn"], rule["Description"]) == (arn, "running")

    events.disable_rule(Name="ec2")
    assert events.describe_rule(Name="ec2")["State"] == "DISABLED"
    events.enable_rule(Name="ec2")
    assert events.describe_rule(Name="ec2")["State"] == "ENABLED"

    events.create_event_bus(Name="orders")
    arn = events.put_rule(Name="big", EventBusName="orders", EventPattern='{"detail":{"n":[{"numeric":[">",5]}]}}',
                          State="DISABLED")["RuleArn"]
    assert arn == f"arn:aws:events:us-east-1:{ACCOUNT}:rule/orders/big"
    assert [r["Name"] for r in events.list_rules(EventBusName="orders")["Rules"]] == ["big"]
    assert events.list_rules(EventBusName="orders")["Rules"][0]["State"] == "DISABLED"

    events.put_rule(Name="tick", ScheduleExpression="rate(5 minutes)")
    assert events.describe_rule(Name="tick")["ScheduleExpression"] == "rate(5 minutes)"
    page = events.list_rules(Limit=1)
    assert [r["Name"] for r in page["Rules"]] == ["ec2"]
    page = events.list_rules(Limit=1, NextToken=page["NextToken"])
    assert [r["Name"] for r in page["Rules"]] == ["tick"]
    assert [r["Name"] for r in events.list_rules(NamePrefix="ti")["Rules"]] == ["tick"]

    events.delete_rule(Name="tick")
    with pytest.raises(ClientError) as e:
        events.describe_rule(Name="tick")
    assert error(e) == ("ResourceNotFoundException", "Rule tick does not exist on EventBus default.", 400)
    with pytest.raises(ClientError) as e:
        events.put_rule(Name="x", EventBusName="nope", EventPattern=json.dumps(PATTERN))
    assert error(e) == ("ResourceNotFoundException", "Event bus nope does not exist.", 400)


def test_put_rule_rejects_invalid_patterns_as_aws(events):
    with pytest.raises(ClientError) as e:
        events.put_rule(Name="bad", EventPattern='{"source": "aws.ec2"}')
    code, message, status = error(e)
    assert (code, status) == ("InvalidEventPatternException", 400)
    assert message.startswith("Event pattern is not valid. Reason: ")
    with pytest.raises(ClientError) as e:
        events.put_rule(Name="neither")
    assert error(e) == (
        "ValidationException", "Parameter(s) EventPattern or ScheduleExpression must be specified.", 400)


def test_test_event_pattern(events):
    assert events.test_event_pattern(EventPattern=json.dumps(PATTERN), Event=json.dumps(EVENT))["Result"] is True
    stopped = dict(EVENT, detail={"state": "STOPPED"})
    assert events.test_event_pattern(EventPattern=json.dumps(PATTERN), Event=json.dumps(stopped))["Result"] is False
    with pytest.raises(ClientError) as e:
        events.test_event_pattern(EventPattern='{"source": [', Event=json.dumps(EVENT))
    assert error(e)[0] == "InvalidEventPatternException"
    no_id = {k: v for k, v in EVENT.items() if k != "id"}
    with pytest.raises(ClientError) as e:
        events.test_event_pattern(EventPattern=json.dumps(PATTERN), Event=json.dumps(no_id))
    assert error(e) == ("ValidationException", "Parameter Event is not valid.", 400)


def test_cli(aws, aws_raw):
    out = aws("events", "put-rule", "--name", "cli-rule", "--event-pattern", json.dumps(PATTERN),
              "--state", "DISABLED")
    assert out["RuleArn"] == f"arn:aws:events:us-east-1:{ACCOUNT}:rule/cli-rule"
    assert aws("events", "describe-rule", "--name", "cli-rule")["State"] == "DISABLED"
    assert [r["Name"] for r in aws("events", "list-rules")["Rules"]] == ["cli-rule"]
    assert aws("events", "test-event-pattern", "--event-pattern", json.dumps(PATTERN),
               "--event", json.dumps(EVENT)) == {"Result": True}
    bad = aws_raw("events", "put-rule", "--name", "bad", "--event-pattern", '{"source": "x"}')
    assert bad.returncode != 0
    assert "InvalidEventPatternException" in bad.stderr
    aws("events", "delete-rule", "--name", "cli-rule")
    assert aws("events", "list-rules") == {"Rules": []}
