"""The platform under every service: the clock endpoint (manual mode), the delivery ledger, the
metrics endpoint, the query protocol's envelopes at the gateway, and hostile requests."""

import json
import re
import socket
import subprocess
import time
import urllib.parse

import boto3
import pytest
from botocore.config import Config

from conftest import advance_clock, http, serve, start_server, wait_in_flight

SQS_NS = "http://queue.amazonaws.com/doc/2012-11-05/"
SIGNED_SQS = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=00"


def client(service, endpoint):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}),
    )


# ---- clock -------------------------------------------------------------------------------------


def test_clock_in_system_mode_refuses_to_move(endpoint):
    status, _, body = http("GET", f"{endpoint}/_localbridge/clock")
    doc = json.loads(body)
    assert status == 200 and doc["mode"] == "system"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", doc["now"])
    status, _, body = http("POST", f"{endpoint}/_localbridge/clock", b'{"advanceSeconds": 5}')
    assert status == 400
    assert "--clock manual" in json.loads(body)["message"]


def test_manual_clock_holds_and_jumps_over_visibility_timeouts(manual):
    ep = manual.endpoint
    now = json.loads(http("GET", f"{ep}/_localbridge/clock")[2])
    assert now["mode"] == "manual"
    sqs = client("sqs", ep)
    url = sqs.create_queue(QueueName="jobs", Attributes={"VisibilityTimeout": "600"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="work")
    assert len(sqs.receive_message(QueueUrl=url).get("Messages", [])) == 1
    assert sqs.receive_message(QueueUrl=url).get("Messages") is None, "in flight for 600 clock seconds"
    # The clock holds: nothing changes with wall time.
    assert json.loads(http("GET", f"{ep}/_localbridge/clock")[2])["now"] == now["now"]
    moved = advance_clock(ep, 601)
    assert moved["now"] > now["now"]
    again = sqs.receive_message(QueueUrl=url, AttributeNames=["ApproximateReceiveCount"])["Messages"]
    assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"


def test_manual_clock_rejects_bad_bodies(manual):
    for body in [b"{}", b"nope", b'{"advanceSeconds": -3}', b'{"advanceSeconds": "3"}']:
        status, _, _ = http("POST", f"{manual.endpoint}/_localbridge/clock", body)
        assert status == 400, body


# ---- ledger and metrics ------------------------------------------------------------------------


def _wait_for(predicate, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not reached")


def test_ledger_records_s3_notifications(endpoint):
    s3, sqs = client("s3", endpoint), client("sqs", endpoint)
    url = sqs.create_queue(QueueName="events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "SQS:SendMessage",
                "Resource": arn,
                "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:*:*:photos"}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    s3.create_bucket(Bucket="photos")
    s3.put_bucket_notification_configuration(
        Bucket="photos",
        NotificationConfiguration={
            "QueueConfigurations": [{"Id": "to-q", "QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    s3.put_object(Bucket="photos", Key="a.jpg", Body=b"x")

    def delivered():
        q = urllib.parse.urlencode({"target": arn, "fate": "delivered"})
        doc = json.loads(http("GET", f"{endpoint}/_localbridge/ledger?{q}")[2])
        return doc["records"] if len(doc["records"]) >= 2 else None  # the test event and the put

    records = _wait_for(delivered)
    rec = records[0]
    assert rec["target"] == arn and rec["fate"] == "delivered"
    assert rec["producer"]["arn"] == "arn:aws:s3:::photos"
    assert rec["attempts"] and rec["attempts"][0]["at"]
    doc = json.loads(http("GET", f"{endpoint}/_localbridge/ledger?limit=1")[2])
    assert len(doc["records"]) == 1
    assert http("GET", f"{endpoint}/_localbridge/ledger?fate=lost")[0] == 400
    assert json.loads(http("GET", f"{endpoint}/_localbridge/ledger?fate=dropped")[2]) == {"records": []}

    status, headers, body = http("GET", f"{endpoint}/_localbridge/metrics")
    text = body.decode()
    assert status == 200 and headers["content-type"] == "text/plain; version=0.0.4"
    assert f'localbridge_deliveries_total{{target="{arn}",fate="delivered"}} 2' in text
    assert f'localbridge_deliveries_pending{{target="{arn}"}} 0' in text
    assert 'localbridge_requests_total{service="sqs",operation="CreateQueue",status="200"} 1' in text
    assert re.search(r'localbridge_requests_total\{service="s3",operation="PUT",status="200"\} \d+', text)
    assert 'localbridge_request_duration_seconds_bucket{service="sqs",le="+Inf"}' in text
    assert re.search(r'localbridge_request_duration_seconds_count\{service="s3"\} \d+', text)


# ---- the query protocol at the gateway ---------------------------------------------------------


def test_an_oversized_query_request_gets_the_query_envelope(server):
    # Declared over the 16 MiB limit: refused before the body is read.
    head = (
        b"POST /000000000000/q HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 17825792\r\n\r\n"
    )
    s, out = _raw(server.port, head + b"Action=SendMessage&MessageBody=aaaa")
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except OSError:
        pass
    s.close()
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), out
    headers = dict(
        (k.strip().lower(), v.strip()) for k, _, v in (l.partition(":") for l in head.decode().split("\r\n")[1:])
    )
    assert headers["content-type"] == "text/xml"
    text = body.decode()
    assert f'<ErrorResponse xmlns="{SQS_NS}"><Error><Type>Sender</Type><Code>RequestEntityTooLarge</Code>' in text
    rid = headers["x-amzn-requestid"]
    assert rid and f"<RequestId>{rid}</RequestId>" in text


def test_query_over_get(endpoint):
    status, _, body = http("GET", f"{endpoint}/000000000000/q", headers={"Authorization": SIGNED_SQS})
    assert status == 404 and b"<Code>UnknownOperationException</Code>" in body
    for action in ["CreateQueue&QueueName=x", "ListQueues"]:
        status, _, body = http("GET", f"{endpoint}/000000000000/q?Action={action}")
        assert status == 400 and b"<Code>InvalidAction</Code>" in body, body
    status, headers, body = http(
        "GET", f"{endpoint}/?Action=CreateQueue&QueueName=viaget", headers={"Accept": "application/json"}
    )
    assert status == 200 and headers["content-type"] == "application/x-amz-json-1.0"
    assert json.loads(body)["QueueUrl"].endswith("/000000000000/viaget")
    status, headers, body = http(
        "GET", f"{endpoint}/?Action=GetQueueUrl&QueueName=nope", headers={"Accept": "application/json"}
    )
    assert status == 400
    assert json.loads(body)["__type"] == "com.amazonaws.sqs#QueueDoesNotExist"
    assert headers["x-amzn-query-error"] == "AWS.SimpleQueueService.NonExistentQueue;Sender"


# ---- hostile requests --------------------------------------------------------------------------


def _raw(port, data, read=True, timeout=5):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(data)
    out = b""
    if read:
        try:
            while b"\r\n\r\n" not in out:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except socket.timeout:
            pass
    return s, out


def test_authority_form_targets_get_400_and_never_panic(server):
    for req in [
        b"CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n",
        b"GET example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n",
        b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
    ]:
        s, out = _raw(server.port, req)
        s.close()
        assert out.startswith(b"HTTP/1.1 400"), out
    assert http("GET", f"{server.endpoint}/_localbridge/health")[0] == 200
    assert "panicked" not in server.log()


def _rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_a_huge_declared_body_reserves_nothing(server):
    client("s3", server.endpoint).create_bucket(Bucket="big")
    before = _rss_kib(server.proc.pid)
    head = b"PUT /big/obj HTTP/1.1\r\nHost: x\r\nContent-Length: 5368709120\r\n\r\n"
    s, _ = _raw(server.port, head + b"\0" * (128 * 1024), read=False)
    # The upload is in flight (its headers read, its body being read): a reservation of the
    # declared size would have happened by now.
    wait_in_flight(server.endpoint, 1)
    during = _rss_kib(server.proc.pid)
    s.close()
    assert during - before < 64 * 1024, f"RSS grew by {during - before} KiB"
    assert http("GET", f"{server.endpoint}/_localbridge/health")[0] == 200


@pytest.fixture
def impatient(tmp_path, request):
    """A server that gives a client half a second to send a request's headers."""
    yield from serve(tmp_path, request, ["--header-read-timeout", "0.5"])


def test_idle_and_slow_header_reads_time_out(impatient):
    srv = impatient
    idle, _ = _raw(srv.port, b"", read=False)
    idle.settimeout(5)
    assert idle.recv(1) == b"", "an idle connection is closed"
    slow, _ = _raw(srv.port, b"", read=False)
    t0 = time.monotonic()
    closed = False
    for b in b"GET /_localbridge/health HTTP/1.1\r\nHost: x\r\n" * 10:
        try:
            slow.sendall(bytes([b]))
        except OSError:
            closed = True
            break
        time.sleep(0.02)
        if time.monotonic() - t0 > 5:
            break
    if not closed:
        slow.settimeout(1)
        try:
            closed = slow.recv(1) == b""
        except OSError:
            closed = True
    assert closed, "a slow header read is cut off"


def test_client_errors_are_not_logged_as_warnings(server):
    http("GET", f"{server.endpoint}/_localbridge/nope")
    client_sqs = client("sqs", server.endpoint)
    with pytest.raises(Exception):
        client_sqs.get_queue_url(QueueName="missing")
    with pytest.raises(Exception):
        client("s3", server.endpoint).get_object(Bucket="missing", Key="k")
    http("POST", f"{server.endpoint}/", b"{}", {"X-Amz-Target": "Firehose_20150804.ListDeliveryStreams"})
    log = server.log()
    assert " WARN " not in log and " ERROR " not in log, log


def test_shutdown_reports_the_drain(tmp_path):
    srv = start_server(tmp_path)
    srv.proc.terminate()
    assert srv.proc.wait(timeout=10) == 0
    assert re.search(r"drained=\d+ left=\d+", srv.log()), srv.log()
