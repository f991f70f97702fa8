"""A 100 MB CloudTrail log file is processed in bounded memory: the handler runs in a fresh
subprocess against moto, streams the object, and reports its peak RSS (ru_maxrss) before and
after. Reading the file whole would need far more than the file itself."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.consumer.support import RULES
from tests.support.moto_server import aws_env

CORPUS = Path(__file__).parents[3] / "shared" / "corpus" / "real" / "invictus_aws_dataset.jsonl"
TARGET_BYTES = 100 * 1024 * 1024

CHILD = r"""
import json, sys, time
import ctrules
from ctrules.aws.runtime import Runtime
from ctrules.aws.handler import handle
from ctrules.delivery.base import DeliveryReport

class CountingSink:
    def __init__(self):
        self.alerts = 0
    def deliver(self, alerts):
        self.alerts += sum(1 for a in alerts if not a.ignored)
        return DeliveryReport(delivered=len(alerts))

bucket, key, rules = sys.argv[1:4]
sink = CountingSink()
runtime = Runtime.build({"CTRULES_RULES": rules, "CTRULES_LOG_LEVEL": "WARNING",
                         "CTRULES_METRICS_NAMESPACE": ""}, sink=sink)
runtime.clients("s3").head_object(Bucket=bucket, Key=key)  # clients warmed before the baseline
def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])

# VmHWM, not ru_maxrss: ru_maxrss survives exec and would report the parent's size at fork.
startup_peak = status("VmHWM")
# Reset the high-water mark (Linux >= 4.0) so the peak below is the processing's own.
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
before = status("VmRSS")
started = time.perf_counter()
handle(runtime, {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                              "s3": {"bucket": {"name": bucket}, "object": {"key": key}}}]})
seconds = time.perf_counter() - started
after = status("VmHWM")
print(json.dumps({"baseline_kib": before, "peak_kib": after, "startup_peak_kib": startup_peak,
                  "alerts": sink.alerts,
                  "seconds": round(seconds, 2)}))
"""


def big_log() -> tuple[bytes, int, int]:
    """~100 MB of real records (the corpus repeated, each copy with its own event ids),
    gzipped; returns (gzip bytes, uncompressed size, records)."""
    lines = [json.loads(x) for x in CORPUS.open()]
    body = b",".join(json.dumps(r).encode() for r in lines)
    out = io.BytesIO()
    size = 0
    records = 0
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=1) as gz:
        gz.write(b'{"Records":[')
        copy = 0
        while size < TARGET_BYTES:
            chunk = body.replace(b'"eventID": "', b'"eventID": "c%d-' % copy)
            gz.write((b"," if copy else b"") + chunk)
            size += len(chunk) + 1
            records += len(lines)
            copy += 1
        gz.write(b"]}")
    return out.getvalue(), size, records


@pytest.mark.bigfile
def test_100mb_log_file_in_bounded_memory(moto_server: str, s3: Any, bucket: str) -> None:
    data, size, records = big_log()
    assert size >= TARGET_BYTES
    key = "AWSLogs/111122223333/CloudTrail/us-east-1/2023/07/10/big.json.gz"
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, bucket, key, str(RULES)],
        env=aws_env(moto_server),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    growth_mib = (result["peak_kib"] - result["baseline_kib"]) / 1024
    print(
        f"\n100 MB log ({size / 2**20:.0f} MiB, {records} records, {len(data) / 2**20:.1f} MiB "
        f"gzipped): peak RSS while processing {result['peak_kib'] / 1024:.0f} MiB, baseline "
        f"{result['baseline_kib'] / 1024:.0f} MiB before the file, growth {growth_mib:.0f} MiB "
        f"(start-up peak {result['startup_peak_kib'] / 1024:.0f} MiB), "
        f"{result['alerts']} alerts, {result['seconds']} s"
    )
    assert result["alerts"] > 0
    # The file alone is 100 MiB (and its decoded objects several times that); streaming keeps
    # the growth to chunks, one record window and one delivery chunk of alerts.
    assert growth_mib < 64, result
