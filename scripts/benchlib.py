"""What the Python benchmarks share: a server of their own and boto3 clients pointed at it."""

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
from botocore.config import Config


def start(bin_path, extra=(), rust_log="info"):
    """Starts `bin_path serve` on a free port; returns the process and its endpoint."""
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
    env = dict(os.environ, NO_COLOR="1", RUST_LOG=rust_log)
    proc = subprocess.Popen([bin_path, "serve", "--port", "0", *extra], stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        text = re.sub(r"\x1b\[[0-9;]*m", "", Path(log.name).read_text())
        m = re.search(r"localbridge ready.*address=(\S+)", text)
        if m:
            return proc, "http://" + m.group(1)
        time.sleep(0.01)
    proc.kill()
    sys.exit("the server did not start")


def client(service, endpoint, max_attempts=1, pool=4):
    return boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    ).client(service, endpoint_url=endpoint,
             config=Config(retries={"max_attempts": max_attempts}, max_pool_connections=pool))
