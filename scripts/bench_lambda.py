"""The driver of scripts/bench-lambda (see there). Prints a Markdown table."""

import argparse
import base64
import io
import json
import os
import re
import statistics
import sys
import time
import zipfile

import boto3
from botocore.config import Config

import benchlib

ROLE = "arn:aws:iam::000000000000:role/bench"
ECHO = "def lambda_handler(event, context):\n    return event\n"
STAMP = """import time, json, boto3
sqs = boto3.client("sqs")
URL = None
def lambda_handler(event, context):
    started = time.time()
    global URL
    URL = URL or sqs.get_queue_url(QueueName="stamps")["QueueUrl"]
    sqs.send_message(QueueUrl=URL, MessageBody=json.dumps({"started": started, "key": event["Records"][0]["s3"]["object"]["key"]}))
"""


def package(code):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("app.py", code)
    return buf.getvalue()


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def start(bin_path, extra):
    return benchlib.start(bin_path, extra, "info")


def client(service, endpoint):
    return benchlib.client(service, endpoint, max_attempts=1, pool=4)


def lambda_request_seconds(endpoint):
    """(sum, count) of the server's own time answering Lambda requests (/_localbridge/metrics)."""
    import urllib.request

    text = urllib.request.urlopen(endpoint + "/_localbridge/metrics", timeout=10).read().decode()
    total = count = 0.0
    for line in text.splitlines():
        if line.startswith('localbridge_request_duration_seconds_sum{service="lambda"}'):
            total = float(line.split()[-1])
        if line.startswith('localbridge_request_duration_seconds_count{service="lambda"}'):
            count = float(line.split()[-1])
    return total, count


def report_duration(log_result):
    text = base64.b64decode(log_result).decode()
    m = re.search(r"\tDuration: ([0-9.]+) ms", text)
    init = re.search(r"\tInit Duration: ([0-9.]+) ms", text)
    return float(m.group(1)), (float(init.group(1)) if init else None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--invokes", type=int, default=2000)
    ap.add_argument("--cold", type=int, default=20)
    ap.add_argument("--s3", type=int, default=200)
    ap.add_argument("--client", choices=["shipped", "auto"], default="shipped")
    ap.add_argument("--sns", type=int, default=5000, help="messages published for the SNS fan-out measure")
    args = ap.parse_args()
    proc, endpoint = start(
        args.bin, ["--lambda-runtime", f"python3.12={sys.executable}", "--lambda-python-client", args.client]
    )
    rows = []
    try:
        lam = client("lambda", endpoint)
        waiter = lam.get_waiter("function_active_v2")

        def create(name, code, **kw):
            lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.lambda_handler",
                                Code={"ZipFile": package(code)}, **kw)
            waiter.wait(FunctionName=name, WaiterConfig={"Delay": 0.02, "MaxAttempts": 500})

        # Warm invokes.
        create("echo", ECHO)
        lam.invoke(FunctionName="echo", Payload=b"{}")
        trips, overheads, durations = [], [], []
        before = lambda_request_seconds(endpoint)
        t0 = time.perf_counter()
        for i in range(args.invokes):
            s = time.perf_counter()
            out = lam.invoke(FunctionName="echo", Payload=json.dumps({"i": i}).encode(), LogType="Tail")
            out["Payload"].read()
            trip = (time.perf_counter() - s) * 1000
            duration, _ = report_duration(out["LogResult"])
            trips.append(trip)
            overheads.append(trip - duration)
            durations.append(duration)
        elapsed = time.perf_counter() - t0
        after = lambda_request_seconds(endpoint)
        rows.append(("warm invoke round trip (boto3, 1 client)", f"p50 {pct(trips, 50):.2f} ms, p99 {pct(trips, 99):.2f} ms"))
        rows.append(("  of which outside the handler", f"p50 {pct(overheads, 50):.2f} ms, p99 {pct(overheads, 99):.2f} ms"))
        rows.append(("warm invocations/s (1 client, sequential)", f"{args.invokes / elapsed:.0f}"))
        if after[1] > before[1]:
            server_ms = (after[0] - before[0]) / (after[1] - before[1]) * 1000
            handler_ms = statistics.mean(durations)
            rows.append(("server time per warm invoke (mean, its own metrics)", f"{server_ms:.3f} ms"))
            rows.append(("  of which outside the runtime (mean server time − mean REPORT Duration)",
                         f"{server_ms - handler_ms:.3f} ms"))

        # Cold starts: a new environment each time (a configuration change replaces them).
        inits, firsts = [], []
        for i in range(args.cold):
            lam.update_function_configuration(FunctionName="echo", Description=f"cold {i}")
            lam.get_waiter("function_updated_v2").wait(FunctionName="echo", WaiterConfig={"Delay": 0.02, "MaxAttempts": 500})
            s = time.perf_counter()
            out = lam.invoke(FunctionName="echo", Payload=b"{}", LogType="Tail")
            firsts.append((time.perf_counter() - s) * 1000)
            _, init = report_duration(out["LogResult"])
            if init is not None:
                inits.append(init)
        rows.append(("cold start: spawn → first /next (Init Duration)", f"p50 {pct(inits, 50):.1f} ms, p99 {pct(inits, 99):.1f} ms"))
        rows.append(("cold invoke round trip", f"p50 {pct(firsts, 50):.1f} ms, p99 {pct(firsts, 99):.1f} ms"))

        # S3 put → handler start.
        s3 = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1").client(
            "s3", endpoint_url=endpoint, config=Config(s3={"addressing_style": "path"}))
        sqs = client("sqs", endpoint)
        stamps = sqs.create_queue(QueueName="stamps")["QueueUrl"]
        create("stamp", STAMP, Timeout=30)
        lam.add_permission(FunctionName="stamp", StatementId="s3", Action="lambda:InvokeFunction",
                           Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::bench")
        s3.create_bucket(Bucket="bench")
        s3.put_bucket_notification_configuration(Bucket="bench", NotificationConfiguration={
            "LambdaFunctionConfigurations": [{
                "LambdaFunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:stamp",
                "Events": ["s3:ObjectCreated:*"],
            }]})
        sent = {}
        lat = []
        for i in range(args.s3):
            key = f"k{i}"
            sent[key] = time.time()
            s3.put_object(Bucket="bench", Key=key, Body=b"x")
            got = sqs.receive_message(QueueUrl=stamps, WaitTimeSeconds=20, MaxNumberOfMessages=1)
            for m in got.get("Messages", []):
                b = json.loads(m["Body"])
                lat.append((b["started"] - sent[b["key"]]) * 1000)
                sqs.delete_message(QueueUrl=stamps, ReceiptHandle=m["ReceiptHandle"])
        if lat:
            rows.append(("S3 put → handler start (sequential puts)", f"p50 {pct(lat, 50):.2f} ms, p99 {pct(lat, 99):.2f} ms ({len(lat)} events)"))
        # SNS publish → SQS fan-out, 1 and 10 subscriptions.
        sns = client("sns", endpoint)
        for subs, raw in ((1, False), (10, False), (1, True)):
            label = f"fan{subs}{'raw' if raw else ''}"
            topic = sns.create_topic(Name=label)["TopicArn"]
            urls = []
            for q in range(subs):
                name = f"{label}-{q}"
                policy = json.dumps({"Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
                    "Resource": f"arn:aws:sqs:us-east-1:000000000000:{name}",
                    "Condition": {"ArnEquals": {"aws:SourceArn": topic}}}]})
                urls.append(sqs.create_queue(QueueName=name, Attributes={"Policy": policy})["QueueUrl"])
                sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=f"arn:aws:sqs:us-east-1:000000000000:{name}",
                              Attributes={"RawMessageDelivery": "true"} if raw else {})
            t0 = time.perf_counter()
            for b in range(0, args.sns, 10):
                sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[
                    {"Id": str(i), "Message": f"m{b + i}"} for i in range(min(10, args.sns - b))])
            published = time.perf_counter() - t0
            want = args.sns
            while True:
                counts = [int(sqs.get_queue_attributes(QueueUrl=u, AttributeNames=["ApproximateNumberOfMessages"])
                              ["Attributes"]["ApproximateNumberOfMessages"]) for u in urls]
                if all(c >= want for c in counts):
                    break
                if time.perf_counter() - t0 > 120:
                    break
                time.sleep(0.01)
            total = time.perf_counter() - t0
            kind = "raw delivery (nothing to sign)" if raw else "signed envelopes"
            rows.append((f"SNS → SQS fan-out, {subs} subscription(s), {kind} (PublishBatch, 1 client)",
                         f"{sum(counts) / total:.0f} messages delivered/s ({want / published:.0f} published/s)"))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    print(f"\nLambda, python3.12 through the {args.client} runtime client; {args.invokes} warm invokes, {args.cold} cold starts, {args.s3} S3 events\n")
    print("| measure | value |\n| --- | --- |")
    for k, v in rows:
        print(f"| {k} | {v} |")


if __name__ == "__main__":
    main()
