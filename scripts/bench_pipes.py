"""The driver of scripts/bench-pipes (see there). Prints a Markdown table."""

import argparse
import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import benchlib

ROLE = "arn:aws:iam::000000000000:role/bench"


def qarn(name):
    return f"arn:aws:sqs:us-east-1:000000000000:{name}"


def depth(sqs, url):
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"])


def fill(endpoint, url, n, keep_every=1):
    """Sends n messages in batches of 10 from 4 threads; every `keep_every`-th matches the filter."""

    def send(start):
        sqs = benchlib.client("sqs", endpoint)
        for b in range(start, n, 40):
            entries = [
                {"Id": str(i), "MessageBody": json.dumps({"n": i, "keep": i % keep_every == 0})}
                for i in range(b, min(b + 10, n))
            ]
            if entries:
                sqs.send_message_batch(QueueUrl=url, Entries=entries)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(send, [0, 10, 20, 30]))


def run(endpoint, name, n, pattern=None):
    sqs = benchlib.client("sqs", endpoint)
    pipes = benchlib.client("pipes", endpoint)
    src = sqs.create_queue(QueueName=f"{name}-src")["QueueUrl"]
    dst = sqs.create_queue(QueueName=f"{name}-dst")["QueueUrl"]
    params = {}
    if pattern:
        params["SourceParameters"] = {"FilterCriteria": {"Filters": [{"Pattern": json.dumps(pattern)}]}}
    pipes.create_pipe(Name=name, RoleArn=ROLE, Source=qarn(f"{name}-src"), Target=qarn(f"{name}-dst"),
                      DesiredState="STOPPED", **params)
    while pipes.describe_pipe(Name=name)["CurrentState"] != "STOPPED":
        time.sleep(0.01)
    expect = n if not pattern else n // 2
    fill(endpoint, src, n, keep_every=2 if pattern else 1)
    assert depth(sqs, src) == (n, 0)
    started = time.perf_counter()
    pipes.start_pipe(Name=name)
    while True:
        visible, _ = depth(sqs, dst)
        if visible >= expect and depth(sqs, src) == (0, 0):
            break
        time.sleep(0.002)
    elapsed = time.perf_counter() - started
    assert depth(sqs, dst)[0] == expect
    pipes.delete_pipe(Name=name)
    return n / elapsed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    proc, endpoint = benchlib.start(args.bin, ["--pipes-transition-ms", "0"], "info")
    try:
        rows = {}
        for label, pattern in (("no filter", None), ("filter keeping half", {"body": {"keep": [True]}})):
            rates = [run(endpoint, f"p{i}-{len(rows)}", args.messages, pattern) for i in range(args.runs)]
            rows[label] = rates
    finally:
        proc.terminate()
        proc.wait(10)
    print(f"\nPipe SQS -> SQS, {args.messages} messages queued, then the pipe started; median of {args.runs} runs\n")
    print("| pipe | source messages/s (median) | runs |\n| --- | --- | --- |")
    for label, rates in rows.items():
        print(f"| {label} | {statistics.median(rates):,.0f} | {', '.join(f'{r:,.0f}' for r in rates)} |")


if __name__ == "__main__":
    main()
