"""End-to-end harness: every test gets its own localbridge process (the real binary, on a free
loopback port, in memory), and real clients pointed at it: boto3 and the AWS CLI.

Fixtures: `endpoint`, `s3`, `s3_vhost`, `sqs`, `events`, `aws(*args)` (AWS CLI, parsed JSON stdout),
`aws_raw(*args)` (AWS CLI, CompletedProcess), `server` (the process, its port and its log),
`manual` (a server on the manual clock, which moves only when a test advances it).

Helpers: `default_client` (boto3 with its default retries), `http` (one raw request),
`get_json`, `ledger`, `advance_clock`, `wait_in_flight`, and `serve` (start a server with extra
arguments, stop and check it afterwards) for fixtures of their own.
"""

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("LOCALBRIDGE_BIN", ROOT / "target" / "debug" / "localbridge"))
READY = re.compile(r"localbridge ready.*address=(\S+)")

# The EventBridge User Guide's sample event and a pattern it matches (pattern tests share them).
EC2 = {
    "version": "0",
    "id": "7bf73129-1428-4cd3-a780-95db273d1602",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "123456789012",
    "time": "2015-11-11T21:29:54Z",
    "region": "us-east-1",
    "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
    "detail": {"instance-id": "i-0123456789", "state": "RUNNING"},
}
EC2_PATTERN = {"source": ["aws.ec2"], "detail": {"state": ["RUNNING"]}}

CLIENT_ENV = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    # Never read the developer's own AWS configuration.
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_PAGER": "",
    "AWS_EC2_METADATA_DISABLED": "true",
}


class Server:
    def __init__(self, proc, port, log_path):
        self.proc = proc
        self.port = port
        self.log_path = log_path
        self.endpoint = f"http://127.0.0.1:{port}"

    def log(self):
        return Path(self.log_path).read_text(errors="replace")


def start_server(tmp_path, extra_args=()):
    if not BIN.exists():
        pytest.fail(f"{BIN} not found: build it with `cargo build -p localbridge`")
    log_path = tmp_path / "localbridge.log"
    log = open(log_path, "w")
    env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "info"), NO_COLOR="1", RUST_LOG_STYLE="never")
    proc = subprocess.Popen(
        [str(BIN), "serve", "--port", "0", *extra_args], stdout=log, stderr=subprocess.STDOUT, env=env
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        text = log_path.read_text(errors="replace")
        m = READY.search(re.sub(r"\x1b\[[0-9;]*m", "", text))
        if m:
            port = int(m.group(1).rsplit(":", 1)[1])
            return Server(proc, port, log_path)
        if proc.poll() is not None:
            pytest.fail(f"localbridge exited with {proc.returncode}:\n{text}")
        time.sleep(0.005)
    proc.kill()
    pytest.fail("localbridge did not become ready in 10 s")


def stop_server(srv, request):
    """Stops `srv` with SIGTERM and fails the test if it does not stop within 5 s or panicked;
    when the test itself failed, writes the end of the server's log to stderr."""
    srv.proc.terminate()
    try:
        srv.proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        srv.proc.kill()
        pytest.fail("localbridge did not stop within 5 s of SIGTERM")
    log = srv.log()
    if "panicked" in log:
        pytest.fail(f"localbridge panicked:\n{log}")
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        sys.stderr.write(f"\n--- localbridge log ---\n{log[-20000:]}\n")


def serve(tmp_path, request, extra_args=()):
    """The body of a server fixture: `yield from serve(tmp_path, request, [...])`."""
    srv = start_server(tmp_path, extra_args)
    yield srv
    stop_server(srv, request)


@pytest.fixture
def server(tmp_path, request):
    yield from serve(tmp_path, request)


@pytest.fixture
def manual(tmp_path, request):
    """A server started with `--clock manual`: time moves only when a test advances it (see
    `advance_clock`), so timeouts, delays and long-poll deadlines are jumped over, not slept
    through."""
    yield from serve(tmp_path, request, ["--clock", "manual"])


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture
def endpoint(server):
    return server.endpoint


def _client(service, endpoint, **config):
    return boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    ).client(service, endpoint_url=endpoint, config=Config(retries={"max_attempts": 1}, **config))


def default_client(service, endpoint, region="us-east-1"):
    """A boto3 client with botocore's default configuration (its own retries included)."""
    return boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name=region
    ).client(service, endpoint_url=endpoint)


@pytest.fixture
def s3(endpoint):
    return _client("s3", endpoint, s3={"addressing_style": "path"})


@pytest.fixture
def s3_vhost(server):
    try:
        socket.getaddrinfo("probe.localhost", server.port)
    except socket.gaierror:
        pytest.skip("*.localhost does not resolve on this machine")
    return _client("s3", f"http://localhost:{server.port}", s3={"addressing_style": "virtual"})


@pytest.fixture
def sqs(endpoint):
    return _client("sqs", endpoint)


@pytest.fixture
def events(endpoint):
    return _client("events", endpoint)


def _cli_env(endpoint):
    return dict(os.environ, AWS_ENDPOINT_URL=endpoint, **CLIENT_ENV)


@pytest.fixture
def aws_raw(endpoint, tmp_path):
    """Runs the AWS CLI against the server; returns the CompletedProcess (text)."""

    def run(*args, input=None, check=False):
        exe = Path(sys.executable).with_name("aws")
        proc = subprocess.run(
            # --endpoint-url as well as AWS_ENDPOINT_URL: AWS CLI v1 replaces the endpoint of
            # `aws sqs` in us-east-1 with queue.amazonaws.com unless it is given on the command line.
            [str(exe), "--endpoint-url", endpoint, *args],
            env=_cli_env(endpoint),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            input=input,
            timeout=120,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return proc

    return run


@pytest.fixture
def aws(aws_raw):
    """Runs the AWS CLI against the server; returns its JSON output (None if empty)."""

    def run(*args, input=None):
        proc = aws_raw(*args, input=input, check=True)
        out = proc.stdout.strip()
        return json.loads(out) if out else None

    return run


# ---- raw HTTP and the /_localbridge endpoints ---------------------------------------------------


def http(method, url, body=None, headers=None):
    """A raw HTTP request: (status, headers with lower-case names, body). Error statuses are
    returned, not raised."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def get_json(endpoint, path):
    with urllib.request.urlopen(f"{endpoint}{path}", timeout=10) as resp:
        return json.loads(resp.read())


def ledger(endpoint, **params):
    """The delivery ledger, newest first, filtered by `target`, `producer`, `fate`, `limit`."""
    return get_json(endpoint, "/_localbridge/ledger?" + urllib.parse.urlencode(params))["records"]


def advance_clock(endpoint, seconds):
    """Moves a manual clock forward by `seconds`; returns the clock's answer (`mode`, `now`)."""
    status, _, body = http(
        "POST",
        endpoint + "/_localbridge/clock",
        json.dumps({"advanceSeconds": seconds}).encode(),
        {"Content-Type": "application/json"},
    )
    assert status == 200, body
    doc = json.loads(body)
    assert doc["mode"] == "manual"
    return doc


def wait_in_flight(endpoint, n, wall_limit=10):
    """Waits until the server is answering `n` requests besides the metrics scrape asking."""
    deadline = time.monotonic() + wall_limit
    while time.monotonic() < deadline:
        with urllib.request.urlopen(endpoint + "/_localbridge/metrics", timeout=10) as resp:
            for line in resp.read().decode().splitlines():
                if line.startswith("localbridge_requests_in_flight "):
                    if int(float(line.split()[1])) - 1 >= n:
                        return
        time.sleep(0.01)
    raise AssertionError(f"{n} requests never in flight")


# ---- deliveries ------------------------------------------------------------------------------


def health(endpoint):
    return get_json(endpoint, "/_localbridge/health")["delivery"]


def wait_until(check, timeout=30.0, what="the condition"):
    """Polls `check()` until it returns something truthy (returned), failing after `timeout`
    seconds of wall time: for state no long poll or counter can wait on (log events written by
    a function, a queue emptied by a poller)."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            pytest.fail(f"{what} never held")
        time.sleep(0.005)


def settle(endpoint, timeout=10.0):
    """Waits until the delivery engine has given every submitted delivery its fate (the S3 call
    that caused an event has submitted its deliveries before it returns)."""
    deadline = time.monotonic() + timeout
    while True:
        d = health(endpoint)
        if d["pending"] == 0 and d["delivered"] + d["dropped"] + d["deadLettered"] == d["submitted"]:
            return d
        if time.monotonic() > deadline:
            pytest.fail(f"deliveries did not settle: {d}")
        time.sleep(0.005)


def receive(sqs, url, count):
    """Receives exactly `count` messages, deletes them, and returns their bodies parsed. Each
    receive long-polls: under the manual clock it returns the moment a message arrives (a message
    that never comes fails the test at the client's read timeout)."""
    bodies = []
    while len(bodies) < count:
        resp = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=20)
        for m in resp.get("Messages", []):
            bodies.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert len(bodies) == count, f"expected {count} messages, got {len(bodies)}: {bodies}"
    return bodies
