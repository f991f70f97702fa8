"""Bench — drives the Lambda handler in its own process, one S3 notification per log file.

Run by `python -m bench` (never by hand): the parent starts a moto server, uploads the logs and
runs this script with AWS_ENDPOINT_URL pointing at the server, so the handler fetches every file
over real HTTP exactly as in Lambda. This script writes its timings as JSON to the path given and
its peak RSS to $BENCH_HWM_FILE.

    python -m bench.lambda_driver BUCKET KEYS.json RESULT.json
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def s3_event(bucket: str, key: str, size: int) -> dict[str, object]:
    """An S3 ObjectCreated notification as Lambda receives it."""
    return {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-01-05T00:05:00.000Z", "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "cloudtrail",
               "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
               "object": {"key": key, "size": size}},
    }]}


def main(argv: list[str]) -> int:
    bucket, keys_path, result_path = argv
    keys = json.loads(Path(keys_path).read_text())
    t0 = time.perf_counter()
    from ctrules.aws import handler

    handler.get_runtime()  # the cold start, timed apart from the work
    cold = time.perf_counter() - t0
    t1 = time.perf_counter()
    c1 = time.process_time()
    failures = 0
    for key, size in keys:
        try:
            handler.handler(s3_event(bucket, key, size))
        except Exception as exc:  # a failed invocation is a result to report, not to hide
            failures += 1
            print(f"lambda_driver: {key}: {exc}", file=sys.stderr)
    work = time.perf_counter() - t1
    cpu_work = time.process_time() - c1
    from bench.child import peak_rss

    hwm = peak_rss()
    if os.environ.get("BENCH_HWM_FILE"):
        Path(os.environ["BENCH_HWM_FILE"]).write_text(str(hwm))
    Path(result_path).write_text(json.dumps({"cold_start_s": cold, "work_s": work,
                                             "cpu_work_s": cpu_work,
                                             "invocations": len(keys), "failures": failures}))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
