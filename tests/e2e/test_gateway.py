"""The one port: health, routing by protocol, error envelopes for what is not served."""

import json
import signal

from conftest import http, start_server, wait_in_flight


def test_health(endpoint):
    status, headers, body = http("GET", f"{endpoint}/_localbridge/health")
    assert status == 200
    doc = json.loads(body)
    assert doc["status"] == "running"
    assert doc["services"] == {
        name: "running" for name in ["events", "firehose", "iam", "kinesis", "lambda", "logs", "pipes", "s3", "scheduler", "sns", "sqs", "sts"]
    }
    assert doc["clock"] == "system"
    assert {"submitted", "delivered", "deadLettered", "dropped", "pending", "retried"} <= set(doc["delivery"])


def test_unknown_internal_path(endpoint):
    status, _, body = http("GET", f"{endpoint}/_localbridge/nope")
    assert status == 404


def test_unsupported_json_service_gets_a_json_error(endpoint):
    status, headers, body = http(
        "POST",
        endpoint + "/",
        b"{}",
        {"X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": "application/x-amz-json-1.0"},
    )
    assert status == 501
    assert json.loads(body) == {
        "__type": "NotImplemented",
        "message": "localbridge does not implement the dynamodb service yet",
    }


def test_unsupported_query_service_gets_a_query_error(endpoint):
    auth = "AWS4-HMAC-SHA256 Credential=test/20261122/us-east-1/ses/aws4_request, SignedHeaders=host, Signature=00"
    status, _, body = http(
        "POST",
        endpoint + "/",
        b"Action=ListIdentities&Version=2010-12-01",
        {"Authorization": auth, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 501
    assert b"<Code>NotImplemented</Code>" in body and b"<Type>Receiver</Type>" in body


def test_graceful_shutdown_on_sigterm(tmp_path):
    srv = start_server(tmp_path)
    assert http("GET", f"{srv.endpoint}/_localbridge/health")[0] == 200
    srv.proc.send_signal(signal.SIGTERM)
    assert srv.proc.wait(timeout=5) == 0
    assert "localbridge stopped" in srv.log()


def test_graceful_shutdown_on_sigint(tmp_path):
    srv = start_server(tmp_path)
    srv.proc.send_signal(signal.SIGINT)
    assert srv.proc.wait(timeout=5) == 0


def test_shutdown_does_not_wait_for_a_long_poll(tmp_path):
    import threading
    import time

    import boto3
    from botocore.config import Config

    srv = start_server(tmp_path)
    sqs = boto3.client(
        "sqs",
        endpoint_url=srv.endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}, read_timeout=30),
    )
    url = sqs.create_queue(QueueName="idle")["QueueUrl"]
    threading.Thread(
        target=lambda: _ignore(lambda: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20)), daemon=True
    ).start()
    wait_in_flight(srv.endpoint, 1)
    t0 = time.monotonic()
    srv.proc.send_signal(signal.SIGTERM)
    assert srv.proc.wait(timeout=10) == 0
    # The grace period is 2 s; a 20 s wait must not hold the process.
    assert time.monotonic() - t0 < 8


def _ignore(f):
    try:
        f()
    except Exception:
        pass
