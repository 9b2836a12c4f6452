"""The driver of scripts/bench-firehose (see there). Prints a short report."""

import argparse
import threading
import time
import urllib.request

import benchlib

ROLE = "arn:aws:iam::000000000000:role/bench"


def metric(endpoint, name):
    with urllib.request.urlopen(endpoint + "/_localbridge/metrics", timeout=10) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith(f"localbridge_firehose_{name} "):
                return float(line.split()[1])
    return 0.0


def run(endpoint, stream, compression, seconds, threads, record_bytes):
    fh = benchlib.client("firehose", endpoint, max_attempts=3, pool=threads)
    fh.create_delivery_stream(
        DeliveryStreamName=stream,
        ExtendedS3DestinationConfiguration={
            "RoleARN": ROLE, "BucketARN": "arn:aws:s3:::bench", "Prefix": f"{stream}/",
            "CompressionFormat": compression,
            "BufferingHints": {"SizeInMBs": 5, "IntervalInSeconds": 1},
        },
    )
    records = [{"Data": (b"%08d" % i + b"x" * record_bytes)[:record_bytes]} for i in range(500)]
    sent = [0] * threads
    failed = [0] * threads
    stop = time.monotonic() + seconds

    def worker(n):
        c = benchlib.client("firehose", endpoint, max_attempts=3, pool=1)
        while time.monotonic() < stop:
            out = c.put_record_batch(DeliveryStreamName=stream, Records=records)
            sent[n] += 500 - out["FailedPutCount"]
            failed[n] += out["FailedPutCount"]

    before_objects = metric(endpoint, "objects_delivered_total")
    before_bytes = metric(endpoint, "object_bytes_delivered_total")
    before_records = metric(endpoint, "records_delivered_total")
    t0 = time.monotonic()
    ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    elapsed = time.monotonic() - t0
    total = sum(sent)
    # Everything accepted lands: wait for the last buffer (1 s interval) to be written.
    deadline = time.monotonic() + 60
    while metric(endpoint, "records_delivered_total") - before_records < total and time.monotonic() < deadline:
        time.sleep(0.05)
    landed_elapsed = time.monotonic() - t0
    objects = metric(endpoint, "objects_delivered_total") - before_objects
    written = metric(endpoint, "object_bytes_delivered_total") - before_bytes
    delivered = metric(endpoint, "records_delivered_total") - before_records
    print(
        f"{compression:>12}: {total / elapsed:9.0f} records/s accepted ({total * record_bytes / elapsed / 1e6:6.1f} MB/s in), "
        f"{delivered:.0f}/{total} delivered in {objects:.0f} objects, {written / landed_elapsed / 1e6:6.1f} MB/s written; "
        f"{sum(failed)} records refused"
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--record-bytes", type=int, default=1000)
    a = ap.parse_args()
    proc, endpoint = benchlib.start(a.bin, (), "warn,localbridge=info")
    try:
        benchlib.client("s3", endpoint).create_bucket(Bucket="bench")
        print(f"PutRecordBatch, {a.threads} client threads, 500 x {a.record_bytes} B records per call, {a.seconds:.0f} s each")
        run(endpoint, "plain", "UNCOMPRESSED", a.seconds, a.threads, a.record_bytes)
        run(endpoint, "zipped", "GZIP", a.seconds, a.threads, a.record_bytes)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
