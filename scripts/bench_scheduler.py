"""The driver of scripts/bench-scheduler (see there). Prints a short report."""

import argparse
import os
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path


import benchlib

ROLE = "arn:aws:iam::000000000000:role/bench"
TICK = os.sysconf("SC_CLK_TCK")


def start(bin_path):
    return benchlib.start(bin_path, (), "warn,localbridge=info")


def client(service, endpoint):
    return benchlib.client(service, endpoint, max_attempts=3, pool=8)


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def metrics(endpoint):
    text = urllib.request.urlopen(endpoint + "/_localbridge/metrics", timeout=30).read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("localbridge_scheduler_"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def histogram_quantile(m, q):
    """The upper bound of the bucket holding quantile `q` of the server's lateness histogram."""
    prefix = "localbridge_scheduler_fire_lateness_seconds_bucket{le=\""
    buckets = sorted(((float("inf") if k[len(prefix):-2] == "+Inf" else float(k[len(prefix):-2]), v)
                      for k, v in m.items() if k.startswith(prefix)))
    total = buckets[-1][1] if buckets else 0
    for bound, count in buckets:
        if total and count >= q * total:
            return bound
    return float("nan")


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))] if s else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--schedules", type=int, default=10_000)
    ap.add_argument("--minutes", type=int, default=3)
    ap.add_argument("--expression", default="cron(* * * * ? *)",
                    help="every schedule's expression (cron(* * * * ? *): all fire at the top of each minute)")
    args = ap.parse_args()

    proc, endpoint = start(args.bin)
    try:
        sqs = client("sqs", endpoint)
        url = sqs.create_queue(QueueName="ticks")["QueueUrl"]
        target = {"Arn": "arn:aws:sqs:us-east-1:000000000000:ticks", "RoleArn": ROLE,
                  "Input": "<aws.scheduler.scheduled-time>"}

        t0 = time.monotonic()

        def create(chunk):
            s = client("scheduler", endpoint)
            for i in chunk:
                s.create_schedule(Name=f"s{i}", ScheduleExpression=args.expression,
                                  FlexibleTimeWindow={"Mode": "OFF"}, Target=target)

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(create, [range(k, args.schedules, 8) for k in range(8)]))
        created = time.monotonic() - t0
        print(f"created {args.schedules} schedules ({args.expression}) in {created:.1f} s "
              f"({args.schedules / created:.0f}/s); server RSS {rss_mib(proc.pid):.0f} MiB")

        lateness_ms = []
        stop = threading.Event()
        lock = threading.Lock()

        def consume():
            c = client("sqs", endpoint)
            while not stop.is_set():
                resp = c.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                         AttributeNames=["SentTimestamp"])
                msgs = resp.get("Messages", [])
                if not msgs:
                    continue
                got = []
                for m in msgs:
                    scheduled = datetime.fromisoformat(m["Body"].replace("Z", "+00:00")).timestamp() * 1000
                    got.append(int(m["Attributes"]["SentTimestamp"]) - scheduled)
                c.delete_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)])
                with lock:
                    lateness_ms.extend(got)

        consumers = [threading.Thread(target=consume, daemon=True) for _ in range(3)]
        for t in consumers:
            t.start()
        # Measure from the middle of a minute, when the previous firing's messages are consumed:
        # the window holds exactly `minutes` firings of every schedule.
        time.sleep((90 - time.time() % 60) % 60 or 60)
        with lock:
            lateness_ms.clear()
        m0, cpu0, w0 = metrics(endpoint), cpu_seconds(proc.pid), time.monotonic()
        time.sleep(args.minutes * 60)
        m1, cpu1, w1 = metrics(endpoint), cpu_seconds(proc.pid), time.monotonic()
        # Let the consumers drain what the last firing delivered (the next is 30 s away).
        time.sleep(20)
        stop.set()
        for t in consumers:
            t.join()
        received = len(lateness_ms)
        fired = m1["localbridge_scheduler_fired_total"] - m0["localbridge_scheduler_fired_total"]
        delivered = m1["localbridge_scheduler_delivered_total"] - m0["localbridge_scheduler_delivered_total"]
        cpu = cpu1 - cpu0
        wall = w1 - w0
        print(f"measured {wall:.0f} s: {fired:.0f} firings, {delivered:.0f} delivered, "
              f"{received} messages received")
        print(f"lateness, SentTimestamp - scheduled time (ms): p50 {pct(lateness_ms, 50):.0f}, "
              f"p99 {pct(lateness_ms, 99):.0f}, max {max(lateness_ms, default=float('nan')):.0f}")
        print(f"server timer lateness (histogram buckets, all run): p50 <= {histogram_quantile(m1, 0.5) * 1000:.0f} ms, "
              f"p99 <= {histogram_quantile(m1, 0.99) * 1000:.0f} ms, "
              f"max {m1['localbridge_scheduler_fire_lateness_max_seconds'] * 1000:.0f} ms")
        print(f"server CPU: {cpu:.2f} s over {wall:.0f} s = {100 * cpu / wall:.1f}% of one core; "
              f"{1e6 * cpu / max(fired, 1):.0f} µs per firing; RSS {rss_mib(proc.pid):.0f} MiB")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
