"""Lambda with the AWS CLI and boto3: functions created from .zip packages run as local processes
(no containers), invoked synchronously and asynchronously, their handler code unmodified."""

import base64
import io
import json
import subprocess
import sys
import zipfile

import pytest
from botocore.exceptions import ClientError

from conftest import BIN, _client, serve, wait_until

ROLE = "arn:aws:iam::000000000000:role/any"

PRINT_EVENT = """import json
def lambda_handler(event, context):
    print(json.dumps(event))
    return {"statusCode": 200, "function": context.function_name, "requestId": context.aws_request_id}
"""


@pytest.fixture
def server(tmp_path, request):
    # The functions' Python is this interpreter: it has boto3, as Lambda's Python runtimes do.
    yield from serve(
        tmp_path, request,
        ["--lambda-runtime", f"python3.12={sys.executable}", "--lambda-python-client", "shipped"],
    )


@pytest.fixture
def lam(endpoint):
    return _client("lambda", endpoint)


def package(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            z.writestr(name, text)
    return buf.getvalue()


def create(lam, name, code, handler="app.lambda_handler", **extra):
    out = lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler=handler,
        Code={"ZipFile": package({"app.py": code})},
        **extra,
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 100})
    return out


def test_cli_walkthrough_create_wait_invoke_with_log_tail(aws, aws_raw, tmp_path, endpoint):
    (tmp_path / "fn.zip").write_bytes(package({"app.py": PRINT_EVENT}))
    created = aws(
        "lambda", "create-function", "--function-name", "thumbs", "--runtime", "python3.12",
        "--handler", "app.lambda_handler", "--zip-file", "fileb://fn.zip", "--role", ROLE,
    )
    assert created["State"] == "Pending"
    assert created["StateReasonCode"] == "Creating"
    assert created["FunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:thumbs"
    assert created["CodeSha256"] == base64.b64encode(
        __import__("hashlib").sha256((tmp_path / "fn.zip").read_bytes()).digest()
    ).decode()
    aws_raw("lambda", "wait", "function-active-v2", "--function-name", "thumbs", check=True)
    out = aws(
        "lambda", "invoke", "--function-name", "thumbs", "--payload", '{"bucket": "photos"}',
        "--log-type", "Tail", "out.json",
    )
    assert out["StatusCode"] == 200
    assert out["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in out
    result = json.loads((tmp_path / "out.json").read_text())
    assert result["statusCode"] == 200 and result["function"] == "thumbs"
    log = base64.b64decode(out["LogResult"]).decode()
    lines = log.splitlines()
    assert lines[0] == f"START RequestId: {result['requestId']} Version: $LATEST"
    assert lines[1] == '{"bucket": "photos"}'
    assert lines[2] == f"END RequestId: {result['requestId']}"
    assert lines[3].startswith(f"REPORT RequestId: {result['requestId']}\tDuration: ")
    assert "\tMemory Size: 128 MB\tMax Memory Used: " in lines[3] and "\tInit Duration: " in lines[3]

    # `localbridge logs` prints the function's log events from the running server.
    printed = subprocess.run(
        [str(BIN), "logs", "thumbs", "--endpoint-url", endpoint], capture_output=True, text=True, timeout=30
    )
    assert printed.returncode == 0, printed.stderr
    out_lines = printed.stdout.splitlines()
    assert any(l.split(" ", 2)[2] == f"START RequestId: {result['requestId']} Version: $LATEST" for l in out_lines), out_lines
    assert any(l.split(" ", 2)[2] == '{"bucket": "photos"}' for l in out_lines), out_lines
    assert all("/[$LATEST]" in l.split(" ", 2)[1] for l in out_lines), out_lines

    got = aws("lambda", "get-function", "--function-name", "thumbs")
    assert got["Configuration"]["State"] == "Active"
    assert got["Configuration"]["LastUpdateStatus"] == "Successful"
    listed = aws("lambda", "list-functions")
    assert [f["FunctionName"] for f in listed["Functions"]] == ["thumbs"]
    aws("lambda", "delete-function", "--function-name", "thumbs")
    missing = aws_raw("lambda", "get-function", "--function-name", "thumbs")
    assert missing.returncode != 0
    assert "ResourceNotFoundException" in missing.stderr
    assert "Function not found: arn:aws:lambda:us-east-1:000000000000:function:thumbs" in missing.stderr


def test_handler_calls_back_into_localbridge_with_boto3(lam, endpoint):
    s3 = _client("s3", endpoint, s3={"addressing_style": "path"})
    s3.create_bucket(Bucket="photos")
    s3.create_bucket(Bucket="thumbs")
    s3.put_object(Bucket="photos", Key="beach.jpeg", Body=b"JPEGDATA")
    create(
        lam,
        "copier",
        """import boto3
s3 = boto3.client("s3")
def lambda_handler(event, context):
    body = s3.get_object(Bucket=event["bucket"], Key=event["key"])["Body"].read()
    s3.put_object(Bucket="thumbs", Key="small-" + event["key"], Body=body[:4])
    return {"copied": len(body)}
""",
        Timeout=30,
    )
    out = lam.invoke(FunctionName="copier", Payload=json.dumps({"bucket": "photos", "key": "beach.jpeg"}))
    assert "FunctionError" not in out, out["Payload"].read()
    assert json.loads(out["Payload"].read()) == {"copied": 8}
    assert s3.get_object(Bucket="thumbs", Key="small-beach.jpeg")["Body"].read() == b"JPEG"


def test_errors_timeouts_and_crashes(lam):
    create(lam, "boom", "def lambda_handler(e, c):\n    raise ValueError('boom')\n")
    out = lam.invoke(FunctionName="boom", Payload=b"{}")
    assert out["StatusCode"] == 200
    assert out["FunctionError"] == "Unhandled"
    err = json.loads(out["Payload"].read())
    assert err["errorType"] == "ValueError" and err["errorMessage"] == "boom"
    assert err["requestId"] == out["ResponseMetadata"]["RequestId"]

    create(lam, "slow", "import time\ndef lambda_handler(e, c):\n    time.sleep(30)\n", Timeout=1)
    out = lam.invoke(FunctionName="slow", Payload=b"{}")
    assert out["FunctionError"] == "Unhandled"
    err = json.loads(out["Payload"].read())
    assert err["errorType"] == "Sandbox.Timedout"
    assert err["errorMessage"].endswith("Error: Task timed out after 1.00 seconds")

    create(lam, "crash", "import os\ndef lambda_handler(e, c):\n    os._exit(7)\n")
    out = lam.invoke(FunctionName="crash", Payload=b"{}")
    err = json.loads(out["Payload"].read())
    assert err["errorType"] == "Runtime.ExitError"
    assert err["errorMessage"].endswith("Error: Runtime exited with error: exit status 7")

    create(lam, "badimport", "import nonexistent_module_xyz\n")
    out = lam.invoke(FunctionName="badimport", Payload=b"{}")
    err = json.loads(out["Payload"].read())
    assert err == {
        "errorMessage": "Unable to import module 'app': No module named 'nonexistent_module_xyz'",
        "errorType": "Runtime.ImportModuleError",
        "requestId": "",
        "stackTrace": [],
    }

    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="boom", Payload=b"{not json")
    assert e.value.response["Error"]["Code"] == "InvalidRequestContentException"


def test_update_code_and_configuration_and_async_invoke(lam):
    create(lam, "greeter", "import os\ndef lambda_handler(e, c):\n    return os.environ.get('GREETING', 'none')\n")
    assert json.loads(lam.invoke(FunctionName="greeter")["Payload"].read()) == "none"
    up = lam.update_function_configuration(FunctionName="greeter", Environment={"Variables": {"GREETING": "hi"}})
    assert up["LastUpdateStatus"] == "InProgress"
    lam.get_waiter("function_updated_v2").wait(FunctionName="greeter", WaiterConfig={"Delay": 0.05, "MaxAttempts": 100})
    assert json.loads(lam.invoke(FunctionName="greeter")["Payload"].read()) == "hi"
    lam.update_function_code(
        FunctionName="greeter", ZipFile=package({"app.py": "def lambda_handler(e, c):\n    return 'v2'\n"})
    )
    lam.get_waiter("function_updated_v2").wait(FunctionName="greeter", WaiterConfig={"Delay": 0.05, "MaxAttempts": 100})
    assert json.loads(lam.invoke(FunctionName="greeter")["Payload"].read()) == "v2"
    queued = lam.invoke(FunctionName="greeter", InvocationType="Event", Payload=b"{}")
    assert queued["StatusCode"] == 202
    dry = lam.invoke(FunctionName="greeter", InvocationType="DryRun")
    assert dry["StatusCode"] == 204

    with pytest.raises(ClientError) as e:
        lam.update_function_configuration(FunctionName="greeter", Environment={"Variables": {"AWS_REGION": "x"}})
    assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert e.value.response["Error"]["Message"].endswith("Reserved keys used in this request: AWS_REGION")


def test_permissions(aws, aws_raw, lam):
    create(lam, "thumbs", PRINT_EVENT)
    added = aws(
        "lambda", "add-permission", "--function-name", "thumbs", "--statement-id", "s3",
        "--action", "lambda:InvokeFunction", "--principal", "s3.amazonaws.com",
        "--source-arn", "arn:aws:s3:::photos",
    )
    assert json.loads(added["Statement"]) == {
        "Sid": "s3",
        "Effect": "Allow",
        "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "lambda:InvokeFunction",
        "Resource": "arn:aws:lambda:us-east-1:000000000000:function:thumbs",
        "Condition": {"ArnLike": {"AWS:SourceArn": "arn:aws:s3:::photos"}},
    }
    policy = json.loads(aws("lambda", "get-policy", "--function-name", "thumbs")["Policy"])
    assert policy["Version"] == "2012-10-17" and [s["Sid"] for s in policy["Statement"]] == ["s3"]
    dup = aws_raw(
        "lambda", "add-permission", "--function-name", "thumbs", "--statement-id", "s3",
        "--action", "lambda:InvokeFunction", "--principal", "s3.amazonaws.com",
    )
    assert dup.returncode != 0 and "ResourceConflictException" in dup.stderr
    aws("lambda", "remove-permission", "--function-name", "thumbs", "--statement-id", "s3")
    gone = aws_raw("lambda", "get-policy", "--function-name", "thumbs")
    assert gone.returncode != 0 and "ResourceNotFoundException" in gone.stderr


# ---- asynchronous invocation, destinations, S3 and EventBridge as callers ----------------------

from conftest import advance_clock, receive  # noqa: E402

# A handler that reports each attempt to the `attempts` queue, then fails (or succeeds).
REPORTING = """import json, os, boto3
sqs = boto3.client("sqs")
def lambda_handler(event, context):
    url = sqs.get_queue_url(QueueName="attempts")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"requestId": context.aws_request_id, "event": event}))
    if os.environ.get("FAIL") == "1":
        raise RuntimeError("failed on purpose")
    return {"ok": True}
"""


@pytest.fixture
def manual_server(tmp_path, request):
    yield from serve(
        tmp_path, request,
        ["--clock", "manual", "--lambda-runtime", f"python3.12={sys.executable}", "--lambda-python-client", "shipped"],
    )


def queue_arn(name):
    return f"arn:aws:sqs:us-east-1:000000000000:{name}"


def poll(sqs, url, endpoint=None, step=0):
    """One message (deleted). Without `endpoint`, a long poll: it returns when the message
    arrives. With it, the manual clock moves `step` seconds between short receives until the
    message comes (the retry it waits for is due on that clock)."""
    if endpoint is None:
        while True:
            resp = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=20)
            for m in resp.get("Messages", []):
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
                return m

    def arrived():
        resp = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=0)
        for m in resp.get("Messages", []):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            return m
        advance_clock(endpoint, step)
        return None

    return wait_until(arrived, what=f"a message on {url}")


def test_async_retries_on_the_clock_then_on_failure_destination(manual_server):
    endpoint = manual_server.endpoint
    lam, sqs = _client("lambda", endpoint), _client("sqs", endpoint)
    attempts = sqs.create_queue(QueueName="attempts")["QueueUrl"]
    failures = sqs.create_queue(QueueName="failures")["QueueUrl"]
    create(lam, "flaky", REPORTING, Environment={"Variables": {"FAIL": "1"}}, Timeout=30)
    cfg = lam.put_function_event_invoke_config(
        FunctionName="flaky",
        MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Destination": queue_arn("failures")}},
    )
    assert cfg["FunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:flaky:$LATEST"
    assert cfg["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {"Destination": queue_arn("failures")}}
    assert lam.invoke(FunctionName="flaky", InvocationType="Event", Payload=b'{"n": 1}')["StatusCode"] == 202
    first = json.loads(poll(sqs, attempts)["Body"])
    # The second attempt waits a minute on the clock, the third two more.
    second = json.loads(poll(sqs, attempts, endpoint, step=10)["Body"])
    third = json.loads(poll(sqs, attempts, endpoint, step=10)["Body"])
    assert first["requestId"] == second["requestId"] == third["requestId"]
    record = json.loads(poll(sqs, failures)["Body"])
    assert record["version"] == "1.0"
    assert record["requestContext"] == {
        "requestId": first["requestId"],
        "functionArn": "arn:aws:lambda:us-east-1:000000000000:function:flaky:$LATEST",
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 3,
    }
    assert record["requestPayload"] == {"n": 1}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert record["responsePayload"]["errorType"] == "RuntimeError"
    assert record["responsePayload"]["errorMessage"] == "failed on purpose"


def test_on_success_destination_and_dead_letter_queue(lam, sqs):
    sqs.create_queue(QueueName="attempts")
    ok = sqs.create_queue(QueueName="ok")["QueueUrl"]
    dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    create(lam, "fine", REPORTING, Timeout=30)
    lam.put_function_event_invoke_config(
        FunctionName="fine", DestinationConfig={"OnSuccess": {"Destination": queue_arn("ok")}}
    )
    lam.invoke(FunctionName="fine", InvocationType="Event", Payload=b'{"k": "v"}')
    record = receive(sqs, ok, 1)[0]
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"ok": True}

    create(
        lam, "broken", REPORTING, Timeout=30,
        Environment={"Variables": {"FAIL": "1"}},
        DeadLetterConfig={"TargetArn": queue_arn("dlq")},
    )
    lam.put_function_event_invoke_config(FunctionName="broken", MaximumRetryAttempts=0)
    lam.invoke(FunctionName="broken", InvocationType="Event", Payload=b'{"order": 7}')
    resp = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=20, MessageAttributeNames=["All"])
    (m,) = resp["Messages"]
    assert json.loads(m["Body"]) == {"order": 7}
    attrs = m["MessageAttributes"]
    assert attrs["ErrorCode"] == {"StringValue": "200", "DataType": "Number"}
    assert attrs["ErrorMessage"]["StringValue"] == "failed on purpose"
    assert len(attrs["RequestID"]["StringValue"]) == 36


def test_s3_and_eventbridge_invoke_functions_allowed_by_their_policy(lam, sqs, aws, aws_raw, endpoint):
    s3 = _client("s3", endpoint, s3={"addressing_style": "path"})
    events = _client("events", endpoint)
    attempts = sqs.create_queue(QueueName="attempts")["QueueUrl"]
    create(lam, "thumbs", REPORTING, Timeout=30)
    fn_arn = "arn:aws:lambda:us-east-1:000000000000:function:thumbs"
    s3.create_bucket(Bucket="photos")
    config = {"LambdaFunctionConfigurations": [{"LambdaFunctionArn": fn_arn, "Events": ["s3:ObjectCreated:*"]}]}
    with pytest.raises(ClientError) as e:
        s3.put_bucket_notification_configuration(Bucket="photos", NotificationConfiguration=config)
    assert e.value.response["Error"]["Code"] == "InvalidArgument"
    aws(
        "lambda", "add-permission", "--function-name", "thumbs", "--statement-id", "s3",
        "--action", "lambda:InvokeFunction", "--principal", "s3.amazonaws.com",
        "--source-arn", "arn:aws:s3:::photos", "--source-account", "000000000000",
    )
    s3.put_bucket_notification_configuration(Bucket="photos", NotificationConfiguration=config)
    s3.put_object(Bucket="photos", Key="beach.jpeg", Body=b"x" * 10)
    got = receive(sqs, attempts, 1)[0]
    (rec,) = got["event"]["Records"]
    assert rec["eventSource"] == "aws:s3" and rec["eventName"] == "ObjectCreated:Put"
    assert rec["s3"]["bucket"]["name"] == "photos" and rec["s3"]["object"]["key"] == "beach.jpeg"

    events.put_rule(Name="orders", EventPattern=json.dumps({"source": ["shop"]}))
    events.put_targets(Rule="orders", Targets=[{"Id": "fn", "Arn": fn_arn}])
    events.put_events(Entries=[{"Source": "shop", "DetailType": "Order", "Detail": '{"id": 1}'}])
    # No permission for events.amazonaws.com yet: the delivery is refused (and recorded).
    lam.add_permission(
        FunctionName="thumbs", StatementId="events", Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com", SourceArn="arn:aws:events:us-east-1:000000000000:rule/orders",
    )
    events.put_events(Entries=[{"Source": "shop", "DetailType": "Order", "Detail": '{"id": 2}'}])
    got = receive(sqs, attempts, 1)[0]
    assert got["event"]["detail"] == {"id": 2}
    assert got["event"]["source"] == "shop" and got["event"]["detail-type"] == "Order"


def test_the_seeds_demo_logs_show_the_printed_s3_event(aws, lam, endpoint, tmp_path):
    """S3 → Lambda → CloudWatch Logs: the handler prints the S3 event; the developer reads it with
    `aws logs filter-log-events`, framed by START / END / REPORT, one stream per environment."""
    s3 = _client("s3", endpoint, s3={"addressing_style": "path"})
    create(lam, "thumbs", PRINT_EVENT)
    s3.create_bucket(Bucket="photos")
    aws(
        "lambda", "add-permission", "--function-name", "thumbs", "--statement-id", "s3",
        "--action", "lambda:InvokeFunction", "--principal", "s3.amazonaws.com",
        "--source-arn", "arn:aws:s3:::photos",
    )
    (tmp_path / "lambda.json").write_text(json.dumps({"LambdaFunctionConfigurations": [{
        "LambdaFunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:thumbs",
        "Events": ["s3:ObjectCreated:*"],
    }]}))
    aws("s3api", "put-bucket-notification-configuration", "--bucket", "photos",
        "--notification-configuration", "file://lambda.json")
    s3.put_object(Bucket="photos", Key="beach.jpeg", Body=b"JPEG")
    def reported():
        events = aws("logs", "filter-log-events", "--log-group-name", "/aws/lambda/thumbs")["events"]
        return events if any(e["message"].startswith("REPORT ") for e in events) else None

    events = wait_until(reported, what="the function's REPORT line")
    messages = [e["message"].rstrip("\n") for e in events]
    start = next(i for i, m in enumerate(messages) if m.startswith("START RequestId: "))
    assert messages[0].startswith("INIT_START Runtime Version: python:3.12")
    printed = json.loads(messages[start + 1])
    (rec,) = printed["Records"]
    assert rec["eventName"] == "ObjectCreated:Put" and rec["s3"]["object"]["key"] == "beach.jpeg"
    assert messages[start + 2].startswith("END RequestId: ")
    assert messages[start + 3].startswith("REPORT RequestId: ")
    streams = aws("logs", "describe-log-streams", "--log-group-name", "/aws/lambda/thumbs")["logStreams"]
    assert len(streams) == 1 and "/[$LATEST]" in streams[0]["logStreamName"]
    assert {e["logStreamName"] for e in events} == {streams[0]["logStreamName"]}


def test_versions_and_aliases(lam, aws):
    create(lam, "svc", "def lambda_handler(e, c):\n    return ['v1', c.function_version, c.invoked_function_arn]\n")
    v1 = lam.publish_version(FunctionName="svc", Description="first")
    assert v1["Version"] == "1"
    assert v1["FunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:svc:1"
    assert v1["Description"] == "first"
    # Nothing changed: the same version again.
    assert lam.publish_version(FunctionName="svc")["Version"] == "1"
    lam.update_function_code(
        FunctionName="svc",
        ZipFile=package({"app.py": "def lambda_handler(e, c):\n    return ['v2', c.function_version, c.invoked_function_arn]\n"}),
    )
    assert lam.publish_version(FunctionName="svc")["Version"] == "2"
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName="svc")["Versions"]]
    assert versions == ["$LATEST", "1", "2"]
    alias = lam.create_alias(FunctionName="svc", Name="live", FunctionVersion="1")
    assert alias["AliasArn"] == "arn:aws:lambda:us-east-1:000000000000:function:svc:live"

    def call(**kw):
        out = lam.invoke(FunctionName="svc", **kw)
        return out["ExecutedVersion"], json.loads(out["Payload"].read())

    arn = "arn:aws:lambda:us-east-1:000000000000:function:svc"
    assert call(Qualifier="live") == ("1", ["v1", "1", f"{arn}:live"])
    assert call(Qualifier="2") == ("2", ["v2", "2", f"{arn}:2"])
    assert call() == ("$LATEST", ["v2", "$LATEST", arn])
    lam.update_alias(FunctionName="svc", Name="live", FunctionVersion="2")
    assert call(Qualifier="live")[0] == "2"
    got = aws("lambda", "get-alias", "--function-name", "svc", "--name", "live")
    assert got["FunctionVersion"] == "2"
    assert lam.get_function(FunctionName="svc", Qualifier="1")["Configuration"]["Version"] == "1"
    with pytest.raises(ClientError) as e:
        lam.delete_function(FunctionName="svc", Qualifier="2")
    assert e.value.response["Error"]["Code"] == "ResourceConflictException"
    lam.delete_function(FunctionName="svc", Qualifier="1")
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="svc", Qualifier="1")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert e.value.response["Error"]["Message"] == f"Function not found: {arn}:1"
    lam.delete_alias(FunctionName="svc", Name="live")
    assert lam.list_aliases(FunctionName="svc")["Aliases"] == []


def test_tags_and_reserved_concurrency(lam):
    create(lam, "tagged", PRINT_EVENT, Tags={"team": "a"})
    arn = "arn:aws:lambda:us-east-1:000000000000:function:tagged"
    assert lam.list_tags(Resource=arn)["Tags"] == {"team": "a"}
    lam.tag_resource(Resource=arn, Tags={"env": "dev"})
    lam.untag_resource(Resource=arn, TagKeys=["team"])
    assert lam.list_tags(Resource=arn)["Tags"] == {"env": "dev"}
    assert lam.get_function(FunctionName="tagged")["Tags"] == {"env": "dev"}
    put = lam.put_function_concurrency(FunctionName="tagged", ReservedConcurrentExecutions=0)
    assert put["ReservedConcurrentExecutions"] == 0
    assert lam.get_function_concurrency(FunctionName="tagged")["ReservedConcurrentExecutions"] == 0
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="tagged", Payload=b"{}")
    assert e.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    lam.delete_function_concurrency(FunctionName="tagged")
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName="tagged")
    assert lam.invoke(FunctionName="tagged", Payload=b"{}")["StatusCode"] == 200


# ---- SQS event source mapping ---------------------------------------------------------------

FORWARD = """import json, boto3
sqs = boto3.client("sqs")
def lambda_handler(event, context):
    url = sqs.get_queue_url(QueueName="seen")["QueueUrl"]
    failures = []
    for r in event["Records"]:
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(r))
        if r["body"] == "bad":
            failures.append({"itemIdentifier": r["messageId"]})
    return {"batchItemFailures": failures}
"""


def queue_counts(sqs, url):
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"])


def test_sqs_event_source_mapping_records_filters_and_deletes(lam, sqs, aws):
    orders = sqs.create_queue(QueueName="orders")["QueueUrl"]
    seen = sqs.create_queue(QueueName="seen")["QueueUrl"]
    create(lam, "consumer", FORWARD, Timeout=30)
    mapping = aws(
        "lambda", "create-event-source-mapping", "--function-name", "consumer",
        "--event-source-arn", queue_arn("orders"), "--batch-size", "10",
        "--filter-criteria", json.dumps({"Filters": [{"Pattern": json.dumps({"body": {"type": ["order"]}})}]}),
    )
    assert mapping["State"] == "Creating"
    assert mapping["EventSourceArn"] == queue_arn("orders")
    assert mapping["FunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:consumer"
    assert mapping["BatchSize"] == 10
    got = lam.get_event_source_mapping(UUID=mapping["UUID"])
    assert got["State"] == "Enabled"
    sqs.send_message(QueueUrl=orders, MessageBody=json.dumps({"type": "order", "id": 1}),
                     MessageAttributes={"kind": {"DataType": "String", "StringValue": "web"}})
    sqs.send_message(QueueUrl=orders, MessageBody=json.dumps({"type": "refund", "id": 2}))
    (rec,) = receive(sqs, seen, 1)
    assert json.loads(rec["body"]) == {"type": "order", "id": 1}
    assert rec["eventSource"] == "aws:sqs"
    assert rec["eventSourceARN"] == queue_arn("orders")
    assert rec["awsRegion"] == "us-east-1"
    assert rec["attributes"]["ApproximateReceiveCount"] == "1"
    assert set(rec["attributes"]) >= {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"}
    assert rec["messageAttributes"] == {
        "kind": {"stringValue": "web", "stringListValues": [], "binaryListValues": [], "dataType": "String"}
    }
    assert len(rec["md5OfBody"]) == 32 and "md5OfMessageAttributes" in rec
    # The filtered-out message and the processed one both leave the queue.
    wait_until(lambda: queue_counts(sqs, orders) == (0, 0), what="the source queue emptied")
    listed = lam.list_event_source_mappings(FunctionName="consumer")["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [mapping["UUID"]]
    deleted = lam.delete_event_source_mapping(UUID=mapping["UUID"])
    assert deleted["State"] == "Deleting"
    with pytest.raises(ClientError) as e:
        lam.get_event_source_mapping(UUID=mapping["UUID"])
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_partial_batch_failures_return_to_the_queue_and_reach_its_dlq(manual_server):
    endpoint = manual_server.endpoint
    lam, sqs = _client("lambda", endpoint), _client("sqs", endpoint)
    dlq = sqs.create_queue(QueueName="orders-dlq")["QueueUrl"]
    orders = sqs.create_queue(QueueName="orders", Attributes={
        "VisibilityTimeout": "30",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": queue_arn("orders-dlq"), "maxReceiveCount": "1"}),
    })["QueueUrl"]
    seen = sqs.create_queue(QueueName="seen")["QueueUrl"]
    create(lam, "consumer", FORWARD, Timeout=30)
    lam.create_event_source_mapping(
        FunctionName="consumer", EventSourceArn=queue_arn("orders"), BatchSize=10,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    sqs.send_message_batch(QueueUrl=orders, Entries=[
        {"Id": "a", "MessageBody": "good"}, {"Id": "b", "MessageBody": "bad"},
    ])
    bodies = set()
    while len(bodies) < 2:
        bodies.add(json.loads(poll(sqs, seen)["Body"])["body"])
    assert bodies == {"good", "bad"}
    # "bad" comes back after the visibility timeout, then goes to the DLQ (maxReceiveCount 1).
    m = poll(sqs, dlq, endpoint, step=10)
    assert m["Body"] == "bad"

    with pytest.raises(ClientError) as e:
        lam.create_event_source_mapping(FunctionName="consumer", EventSourceArn=queue_arn("nope"))
    assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as e:
        lam.create_event_source_mapping(FunctionName="consumer", EventSourceArn=queue_arn("orders"), BatchSize=100)
    assert "Maximum batch window in seconds must be greater than 0" in e.value.response["Error"]["Message"]


def test_http_invoker_sends_invocations_to_the_developers_server(lam):
    import http.server
    import threading

    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}, json.loads(body)))
            event = json.loads(body)
            if event.get("fail"):
                out, status = json.dumps({"errorType": "Boom", "errorMessage": "no"}).encode(), 500
            else:
                out, status = json.dumps({"echo": event}).encode(), 200
            self.send_response(status)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{srv.server_port}/2015-03-31/functions/dev/invocations"
        create(lam, "dev", "def lambda_handler(e, c):\n    return 'not me'\n", Tags={"localbridge:http-invoker": url})
        out = lam.invoke(FunctionName="dev", Payload=b'{"n": 1}')
        assert json.loads(out["Payload"].read()) == {"echo": {"n": 1}}
        assert "FunctionError" not in out
        path, headers, body = seen[0]
        assert path == "/2015-03-31/functions/dev/invocations" and body == {"n": 1}
        assert headers["lambda-runtime-invoked-function-arn"] == "arn:aws:lambda:us-east-1:000000000000:function:dev"
        assert len(headers["lambda-runtime-aws-request-id"]) == 36
        failed = lam.invoke(FunctionName="dev", Payload=b'{"fail": true}')
        assert failed["FunctionError"] == "Unhandled"
        assert json.loads(failed["Payload"].read()) == {"errorType": "Boom", "errorMessage": "no"}
    finally:
        srv.shutdown()


def test_packages_from_s3(lam, endpoint, aws, tmp_path):
    s3 = _client("s3", endpoint, s3={"addressing_style": "path"})
    s3.create_bucket(Bucket="artifacts")
    s3.put_object(Bucket="artifacts", Key="builds/fn v1.zip", Body=package({"app.py": "def lambda_handler(e, c):\n    return 's3'\n"}))
    aws(
        "lambda", "create-function", "--function-name", "froms3", "--runtime", "python3.12",
        "--handler", "app.lambda_handler", "--role", ROLE, "--code", "S3Bucket=artifacts,S3Key=builds/fn v1.zip",
    )
    lam.get_waiter("function_active_v2").wait(FunctionName="froms3", WaiterConfig={"Delay": 0.05, "MaxAttempts": 100})
    assert json.loads(lam.invoke(FunctionName="froms3")["Payload"].read()) == "s3"
    s3.put_object(Bucket="artifacts", Key="v2.zip", Body=package({"app.py": "def lambda_handler(e, c):\n    return 's3 v2'\n"}))
    lam.update_function_code(FunctionName="froms3", S3Bucket="artifacts", S3Key="v2.zip")
    assert json.loads(lam.invoke(FunctionName="froms3")["Payload"].read()) == "s3 v2"
    with pytest.raises(ClientError) as e:
        lam.update_function_code(FunctionName="froms3", S3Bucket="artifacts", S3Key="missing.zip")
    assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "S3 Error Code: NoSuchKey" in e.value.response["Error"]["Message"]


def test_layers_are_where_the_runtime_looks(lam, aws, tmp_path):
    (tmp_path / "layer.zip").write_bytes(package({
        "python/helpers.py": "GREETING = 'from a layer'\n",
        "python/lib/python3.12/site-packages/vendored.py": "NAME = 'vendored'\n",
    }))
    published = aws(
        "lambda", "publish-layer-version", "--layer-name", "deps", "--zip-file", "fileb://layer.zip",
        "--compatible-runtimes", "python3.12", "--description", "shared code",
    )
    assert published["Version"] == 1
    assert published["LayerVersionArn"] == "arn:aws:lambda:us-east-1:000000000000:layer:deps:1"
    assert published["Content"]["CodeSize"] == (tmp_path / "layer.zip").stat().st_size
    create(
        lam, "layered",
        "import helpers, vendored\ndef lambda_handler(e, c):\n    return [helpers.GREETING, vendored.NAME]\n",
        Layers=[published["LayerVersionArn"]],
    )
    assert json.loads(lam.invoke(FunctionName="layered")["Payload"].read()) == ["from a layer", "vendored"]
    layers = lam.get_function(FunctionName="layered")["Configuration"]["Layers"]
    assert layers == [{"Arn": published["LayerVersionArn"], "CodeSize": published["Content"]["CodeSize"]}]
    assert [l["LayerName"] for l in lam.list_layers()["Layers"]] == ["deps"]
    # A deleted layer version stays with the functions that use it.
    lam.delete_layer_version(LayerName="deps", VersionNumber=1)
    assert lam.list_layer_versions(LayerName="deps")["LayerVersions"] == []
    lam.update_function_configuration(FunctionName="layered", Description="new environments")
    lam.get_waiter("function_updated_v2").wait(FunctionName="layered", WaiterConfig={"Delay": 0.05, "MaxAttempts": 100})
    assert json.loads(lam.invoke(FunctionName="layered")["Payload"].read()) == ["from a layer", "vendored"]
    with pytest.raises(ClientError) as e:
        create(lam, "broken", PRINT_EVENT, Layers=["arn:aws:lambda:us-east-1:000000000000:layer:deps:9"])
    assert e.value.response["Error"]["Message"] == "Layer version arn:aws:lambda:us-east-1:000000000000:layer:deps:9 does not exist."


@pytest.fixture
def auto_client_server(tmp_path, request):
    yield from serve(tmp_path, request, ["--lambda-runtime", f"python3.12={sys.executable}"])


def test_awslambdaric_runs_functions_when_the_interpreter_has_it(auto_client_server):
    pytest.importorskip("awslambdaric")
    lam = _client("lambda", auto_client_server.endpoint)
    create(lam, "ric", "import sys\ndef lambda_handler(e, c):\n    return ['awslambdaric' in sys.modules, c.function_name]\n")
    assert json.loads(lam.invoke(FunctionName="ric")["Payload"].read()) == [True, "ric"]
    create(lam, "ricboom", "def lambda_handler(e, c):\n    raise ValueError('boom')\n")
    out = lam.invoke(FunctionName="ricboom")
    assert out["FunctionError"] == "Unhandled"
    err = json.loads(out["Payload"].read())
    assert (err["errorType"], err["errorMessage"]) == ("ValueError", "boom")


NODE_HANDLER = """export const handler = async (event, context) => {
  console.log("got", JSON.stringify(event));
  return { fn: context.functionName, n: event.n + 1 };
};
"""


def test_a_node_handler(lam):
    import shutil

    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    lam.create_function(
        FunctionName="nodefn", Runtime="nodejs20.x", Role=ROLE, Handler="index.handler",
        Code={"ZipFile": package({"index.mjs": NODE_HANDLER})},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName="nodefn", WaiterConfig={"Delay": 0.05, "MaxAttempts": 100})
    out = lam.invoke(FunctionName="nodefn", Payload=b'{"n": 41}', LogType="Tail")
    assert json.loads(out["Payload"].read()) == {"fn": "nodefn", "n": 42}
    log = base64.b64decode(out["LogResult"]).decode()
    assert "\tINFO\tgot {\"n\":41}" in log, log


BOOTSTRAP = """#!/usr/bin/env python3
import http.client, json, os
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
conn = http.client.HTTPConnection(api)
while True:
    conn.request("GET", "/2018-06-01/runtime/invocation/next")
    r = conn.getresponse()
    event = json.loads(r.read())
    rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
    print("custom runtime handling", rid, flush=True)
    body = json.dumps({"echo": event, "handler": os.environ["_HANDLER"]})
    conn.request("POST", f"/2018-06-01/runtime/invocation/{rid}/response", body)
    conn.getresponse().read()
"""


def test_a_provided_runtime_bootstrap(lam):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16
        z.writestr(info, BOOTSTRAP)
    lam.create_function(
        FunctionName="custom", Runtime="provided.al2023", Role=ROLE, Handler="function.handler",
        Code={"ZipFile": buf.getvalue()},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName="custom", WaiterConfig={"Delay": 0.05, "MaxAttempts": 100})
    out = lam.invoke(FunctionName="custom", Payload=b'{"k": 1}', LogType="Tail")
    assert json.loads(out["Payload"].read()) == {"echo": {"k": 1}, "handler": "function.handler"}
    assert "custom runtime handling" in base64.b64decode(out["LogResult"]).decode()


def test_json_log_format_platform_records(lam):
    create(
        lam, "jsonlogs",
        "import logging\nlogging.getLogger().setLevel('INFO')\ndef lambda_handler(e, c):\n    logging.info('hello %s', 42)\n    return 1\n",
        LoggingConfig={"LogFormat": "JSON"},
    )
    cfg = lam.get_function_configuration(FunctionName="jsonlogs")["LoggingConfig"]
    assert cfg == {"LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "INFO", "LogGroup": "/aws/lambda/jsonlogs"}
    out = lam.invoke(FunctionName="jsonlogs", LogType="Tail")
    rid = out["ResponseMetadata"]["RequestId"]
    records = [json.loads(l) for l in base64.b64decode(out["LogResult"]).decode().splitlines()]
    assert records[0]["type"] == "platform.start"
    assert records[0]["record"] == {
        "requestId": rid, "functionArn": "arn:aws:lambda:us-east-1:000000000000:function:jsonlogs", "version": "$LATEST",
    }
    app = records[1]
    assert (app["level"], app["message"], app["requestId"]) == ("INFO", "hello 42", rid)
    report = records[-1]
    assert report["type"] == "platform.report" and report["record"]["status"] == "success"
    assert set(report["record"]["metrics"]) == {"durationMs", "billedDurationMs", "memorySizeMB", "maxMemoryUsedMB", "initDurationMs"}
    assert not any(r.get("type") == "platform.end" for r in records)


def test_sns_invokes_a_subscribed_function(lam, sqs, endpoint):
    sns = _client("sns", endpoint)
    attempts = sqs.create_queue(QueueName="attempts")["QueueUrl"]
    create(lam, "onmsg", REPORTING, Timeout=30)
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    fn_arn = "arn:aws:lambda:us-east-1:000000000000:function:onmsg"
    lam.add_permission(FunctionName="onmsg", StatementId="sns", Action="lambda:InvokeFunction",
                       Principal="sns.amazonaws.com", SourceArn=topic)
    sub = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn_arn, ReturnSubscriptionArn=True)
    sns.publish(TopicArn=topic, Message="disk full", Subject="ops")
    (got,) = receive(sqs, attempts, 1)
    (rec,) = got["event"]["Records"]
    assert rec["EventSource"] == "aws:sns"
    assert rec["EventSubscriptionArn"] == sub["SubscriptionArn"]
    assert rec["Sns"]["Message"] == "disk full" and rec["Sns"]["Subject"] == "ops"
    assert rec["Sns"]["TopicArn"] == topic and rec["Sns"]["Type"] == "Notification"
