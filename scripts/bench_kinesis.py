"""The driver of scripts/bench-kinesis (see there). Prints a Markdown table.

Two measures, each against a release server of its own:

- **PutRecords records/s**: P client processes, each sending PutRecords of 500 records of 1 KiB
  (random partition keys, so every shard takes its share) over one keep-alive connection, for S
  seconds. The request bodies are built before the clock starts (a raw HTTP client, JSON 1.1 with
  a SigV4-shaped Authorization header), so the figure is the server's, not boto3's; the same
  measure through boto3 is printed beside it. The baseline, in the same run and the same way:
  SQS SendMessageBatch (10 messages of 1 KiB, the most one call takes) messages/s.
- **PutRecords → GetRecords latency**: one reader process per shard loops on GetRecords (no
  wait between calls, as a caught-up consumer does); a writer puts a batch of records every few
  milliseconds, each carrying its send time; the latency of a record is the time its reader
  decoded it minus the time its PutRecords was sent (p50, p99, max over every record).
"""

import argparse
import base64
import http.client
import json
import multiprocessing as mp
import os
import statistics
import sys
import time
import urllib.parse

import benchlib

AUTH = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{svc}/aws4_request, SignedHeaders=host, Signature=00"


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


class Raw:
    """A keep-alive JSON client for one service."""

    def __init__(self, endpoint, target_prefix, version, svc):
        u = urllib.parse.urlparse(endpoint)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        self.prefix = target_prefix
        self.headers = {
            "Content-Type": f"application/x-amz-json-{version}",
            "Authorization": AUTH.format(svc=svc),
        }

    def call(self, op, body):
        if not isinstance(body, (bytes, bytearray)):
            body = json.dumps(body).encode()
        self.conn.request("POST", "/", body=body, headers=dict(self.headers, **{"X-Amz-Target": self.prefix + op}))
        resp = self.conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"{op}: {resp.status} {data[:300]!r}")
        return json.loads(data)


def kinesis_raw(endpoint):
    return Raw(endpoint, "Kinesis_20131202.", "1.1", "kinesis")


def sqs_raw(endpoint):
    return Raw(endpoint, "AmazonSQS.", "1.0", "sqs")


def put_records_body(stream, seed, batch, size):
    data = base64.b64encode(os.urandom(size)).decode()
    records = [{"Data": data, "PartitionKey": f"pk-{seed}-{i}"} for i in range(batch)]
    return json.dumps({"StreamName": stream, "Records": records}).encode()


def kinesis_writer(endpoint, stream, seconds, batch, size, seed, out):
    c = kinesis_raw(endpoint)
    bodies = [put_records_body(stream, f"{seed}-{n}", batch, size) for n in range(8)]
    sent = failed = 0
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        r = c.call("PutRecords", bodies[n % len(bodies)])
        n += 1
        sent += batch
        failed += r["FailedRecordCount"]
    out.put((sent, failed))


def boto3_writer(endpoint, stream, seconds, batch, size, seed, out):
    k = benchlib.client("kinesis", endpoint)
    data = os.urandom(size)
    records = [{"Data": data, "PartitionKey": f"pk-{seed}-{i}"} for i in range(batch)]
    sent = failed = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        r = k.put_records(StreamName=stream, Records=records)
        sent += batch
        failed += r["FailedRecordCount"]
    out.put((sent, failed))


def sqs_writer(endpoint, url, seconds, size, seed, out):
    c = sqs_raw(endpoint)
    body = "x" * size
    req = json.dumps(
        {"QueueUrl": url, "Entries": [{"Id": str(i), "MessageBody": body} for i in range(10)]}
    ).encode()
    sent = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        r = c.call("SendMessageBatch", req)
        sent += len(r.get("Successful", []))
    out.put((sent, 0))


def run_parallel(target, args_of, procs):
    out = mp.Queue()
    ps = [mp.Process(target=target, args=(*args_of(i), out)) for i in range(procs)]
    started = time.monotonic()
    for p in ps:
        p.start()
    results = [out.get() for _ in ps]
    for p in ps:
        p.join()
    elapsed = time.monotonic() - started
    return sum(r[0] for r in results), sum(r[1] for r in results), elapsed


def reader(endpoint, stream, shard, stop_at, out):
    c = kinesis_raw(endpoint)
    it = c.call("GetShardIterator", {"StreamName": stream, "ShardId": shard, "ShardIteratorType": "LATEST"})[
        "ShardIterator"
    ]
    lat = []
    calls = 0
    while time.time() < stop_at:
        r = c.call("GetRecords", {"ShardIterator": it})
        calls += 1
        now = time.time()
        for rec in r["Records"]:
            sent = float(base64.b64decode(rec["Data"]).split(b"|", 1)[0])
            lat.append(now - sent)
        it = r["NextShardIterator"]
    out.put((lat, calls))


def latency(endpoint, stream, shards, seconds, batch, interval):
    c = kinesis_raw(endpoint)
    ids = [s["ShardId"] for s in c.call("ListShards", {"StreamName": stream})["Shards"]]
    out = mp.Queue()
    stop_at = time.time() + seconds + 3
    ps = [mp.Process(target=reader, args=(endpoint, stream, sid, stop_at, out)) for sid in ids]
    for p in ps:
        p.start()
    time.sleep(1.5)  # the readers have their LATEST iterators
    pad = "x" * 1000
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        now = time.time()
        records = [
            {"Data": base64.b64encode(f"{now:.6f}|{pad}".encode()).decode(), "PartitionKey": f"k{n}-{i}"}
            for i in range(batch)
        ]
        c.call("PutRecords", {"StreamName": stream, "Records": records})
        n += 1
        time.sleep(interval)
    lat, calls = [], 0
    for _ in ps:
        l, k = out.get()
        lat += l
        calls += k
    for p in ps:
        p.join()
    return lat, calls, n * batch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--procs", type=int, default=4, help="client processes")
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--size", type=int, default=1024, help="bytes of data per record")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--latency-seconds", type=float, default=8)
    args = ap.parse_args()

    rows = []
    for run in range(args.runs):
        proc, endpoint = benchlib.start(args.bin, ["--kinesis-max-records", "500000"], "info")
        try:
            c = kinesis_raw(endpoint)
            c.call("CreateStream", {"StreamName": "bench", "ShardCount": args.shards})
            sent, failed, el = run_parallel(
                kinesis_writer,
                lambda i: (endpoint, "bench", args.seconds, 500, args.size, f"{run}-{i}"),
                args.procs,
            )
            krate = (sent - failed) / el
            c.call("CreateStream", {"StreamName": "bench-boto3", "ShardCount": args.shards})
            bsent, bfailed, bel = run_parallel(
                boto3_writer,
                lambda i: (endpoint, "bench-boto3", args.seconds, 500, args.size, f"b{run}-{i}"),
                args.procs,
            )
            brate = (bsent - bfailed) / bel
            s = sqs_raw(endpoint)
            url = s.call("CreateQueue", {"QueueName": "bench"})["QueueUrl"]
            ssent, _, sel = run_parallel(
                sqs_writer, lambda i: (endpoint, url, args.seconds, args.size, f"{run}-{i}"), args.procs
            )
            srate = ssent / sel
            rows.append((krate, brate, srate, failed + bfailed))
            print(
                f"run {run + 1}: PutRecords {krate:,.0f} records/s (raw), {brate:,.0f} records/s (boto3); "
                f"SQS SendMessageBatch {srate:,.0f} messages/s; failed records {failed + bfailed}",
                file=sys.stderr,
            )
        finally:
            proc.terminate()
            proc.wait()

    proc, endpoint = benchlib.start(args.bin, [], "info")
    try:
        c = kinesis_raw(endpoint)
        c.call("CreateStream", {"StreamName": "lat", "ShardCount": args.shards})
        lat, calls, put = latency(endpoint, "lat", args.shards, args.latency_seconds, 10, 0.005)
    finally:
        proc.terminate()
        proc.wait()

    med = lambda xs: statistics.median(xs)
    k, b, sq = med([r[0] for r in rows]), med([r[1] for r in rows]), med([r[2] for r in rows])
    print(f"machine: {os.cpu_count()} cores; {args.procs} client processes; {args.shards} shards; "
          f"{args.size}-byte records; {args.runs} runs of {args.seconds:g} s (median)\n")
    print("| measure | figure | ratio |")
    print("| --- | --- | --- |")
    print(f"| PutRecords (500 × {args.size} B), raw client | {k:,.0f} records/s ({k / 500:,.0f} calls/s) | {k / sq:.2f}× SQS |")
    print(f"| PutRecords (500 × {args.size} B), boto3 | {b:,.0f} records/s | {b / sq:.2f}× SQS |")
    print(f"| baseline: SQS SendMessageBatch (10 × {args.size} B), raw client | {sq:,.0f} messages/s | 1 |")
    ms = [x * 1000 for x in lat]
    if ms:
        print(
            f"| PutRecords → GetRecords latency ({len(ms):,} of {put:,} records, {calls:,} GetRecords) | "
            f"p50 {pct(ms, 50):.2f} ms, p99 {pct(ms, 99):.2f} ms, max {max(ms):.2f} ms | |"
        )
    else:
        print("| PutRecords → GetRecords latency | no record read | |")


if __name__ == "__main__":
    main()
