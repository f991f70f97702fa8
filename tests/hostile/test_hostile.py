"""The hostile-input suite: every case in cases/*.json is an input (built by inputs.py), the
public interface it goes through, and the outcome expected — a clear error or counted bad
records, every good record of the same object still evaluated, never a traceback or a hang.
Add a case by adding an object to a cases file; see cases/README.md."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.hostile.inputs import ROOT, build

HERE = Path(__file__).parent
RULES = HERE / "rules" / "hostile.ctr"
MEASURE = HERE / "measure.py"
NEIGHBOUR = "neighbour-ok"  # a good record in a neighbouring work item: must always alert


def _cases() -> list[Any]:
    out = []
    for path in sorted((HERE / "cases").glob("*.json")):
        for case in json.loads(path.read_text())["cases"]:
            out.append(pytest.param(case, id=f"{path.stem}:{case['name']}"))
    return out


@dataclass
class Outcome:
    exit: int | None = None
    stdout: str = ""
    stderr: str = ""
    records: int | None = None
    bad: int | None = None
    alerts: list[str] = field(default_factory=list)
    rss_mb: float | None = None
    failed_items: list[str] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)


# ---- interfaces ---------------------------------------------------------------------------


def _rules_arg(case: dict[str, Any], tmp: Path) -> str:
    spec = case.get("rules")
    if spec is None:
        return str(RULES)
    if isinstance(spec, str):
        return spec if spec in ("default", "/dev/null") else str(ROOT / spec)
    folder = tmp / "rules"
    folder.mkdir()
    for name, text in spec.get("files", {}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    for name, text in spec.get("outside", {}).items():  # files reached only through links
        (tmp / "outside" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / "outside" / name).write_text(text)
    for name, target in spec.get("links", {}).items():
        (folder / name).symlink_to(target.replace("$OUTSIDE", str(tmp / "outside")))
    return str(folder)


def _cli(case: dict[str, Any], tmp: Path, command: list[str], data: bytes) -> Outcome:
    target = tmp / case.get("filename", "input.json")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    stdin_mode = case.get("stdin")
    arg = "-" if stdin_mode else str(target)
    rss = tmp / "rss"
    env = {**os.environ, "CTRULES_MEASURE_RSS": str(rss)}
    argv = [sys.executable, str(MEASURE), *command, arg]
    timeout = case.get("timeout", 120)  # a hang guard, not a speed test (bench/ measures)
    if case.get("head") is not None:
        # `ctrules ... | head -N`: the reader goes away after N lines.
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        assert proc.stdout is not None and proc.stderr is not None
        lines = [proc.stdout.readline() for _ in range(case["head"])]
        proc.stdout.close()
        err = proc.stderr.read().decode("utf-8", "replace")
        code = proc.wait(timeout)
        out = b"".join(lines).decode()
    else:
        stdin: Any = None
        if stdin_mode == "closed":
            run = subprocess.run(argv, env=env, capture_output=True, timeout=timeout,
                                 preexec_fn=lambda: os.close(0))
        else:
            stdin = target.read_bytes() if stdin_mode else None
            run = subprocess.run(argv, env=env, input=stdin, capture_output=True,
                                 timeout=timeout, stdin=None if stdin is not None else
                                 subprocess.DEVNULL)
        code = run.returncode
        out, err = run.stdout.decode("utf-8", "replace"), run.stderr.decode("utf-8", "replace")
    outcome = Outcome(exit=code, stdout=out, stderr=err)
    if rss.exists():
        outcome.rss_mb = float(rss.read_text())
    return outcome


def run_cli(case: dict[str, Any], tmp: Path, request: Any) -> Outcome:
    outcome = _cli(case, tmp, ["run", _rules_arg(case, tmp)], build(case["input"]))
    summary = re.search(r"records: (\d+), bad: (\d+)", outcome.stderr)
    if summary:
        outcome.records, outcome.bad = int(summary[1]), int(summary[2])
    for line in outcome.stdout.splitlines():
        outcome.alerts.append(json.loads(line)["eventID"])
    return outcome


def explain_cli(case: dict[str, Any], tmp: Path, request: Any) -> Outcome:
    outcome = _cli(case, tmp, ["explain", _rules_arg(case, tmp)], build(case["input"]))
    events = re.findall(r"^event (\S+):", outcome.stdout, re.M)
    outcome.records = len(events)
    outcome.bad = len(re.findall(r": bad record ", outcome.stderr))
    outcome.alerts = re.findall(r"summary: hit (\S+)", outcome.stdout)
    return outcome


def check_cli(case: dict[str, Any], tmp: Path, request: Any) -> Outcome:
    """Rule-file cases: the input is a .ctr file given to `ctrules check`."""
    case = {**case, "filename": case.get("filename", "case.ctr")}
    return _cli(case, tmp, ["check"], build(case["input"]))


def _runtime(request: Any) -> tuple[Any, Any, Any]:
    import ctrules
    from ctrules.aws.runtime import Clients, Runtime
    from tests.consumer.support import RecordingSink
    from tests.support.moto_server import aws_client

    endpoint = request.getfixturevalue("moto_server")
    s3 = aws_client(endpoint, "s3")
    sink = RecordingSink()
    runtime = Runtime.build(
        {"CTRULES_LOG_LEVEL": "INFO", "CTRULES_METRICS_NAMESPACE": ""},
        clients=Clients(endpoint_url=endpoint),
        sink=sink,
        ruleset=ctrules.load_rules(RULES),
    )
    return runtime, sink, s3


def _s3_notification(bucket: str, key: str) -> dict[str, Any]:
    return {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": bucket}, "object": {"key": key}},
    }]}


def _invocation_counters(stderr: str) -> dict[str, int]:
    for line in reversed(stderr.splitlines()):
        if '"invocation done"' in line:
            entry = json.loads(line)
            return {k: v for k, v in entry.items() if isinstance(v, int)}
    return {}


def handler_sqs(case: dict[str, Any], tmp: Path, request: Any) -> Outcome:
    """The Lambda handler, SQS trigger: the case's object announced in one message, a good
    neighbouring file in another; or (`"body": true`) the input *is* the message body."""
    from ctrules.aws.handler import handle

    runtime, sink, s3 = _runtime(request)
    capsys = request.getfixturevalue("capsys")
    bucket = f"hostile-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    key = case.get("key", "AWSLogs/111122223333/CloudTrail/us-east-1/2024/01/01/case.json.gz")
    good = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/01/01/neighbour.json"
    s3.put_object(Bucket=bucket, Key=good,
                  Body=json.dumps({"Records": [{"eventVersion": "1.08", "eventName": "Hit",
                                                "eventID": NEIGHBOUR}]}).encode())
    data = build(case["input"])
    if case.get("body"):
        body = data.decode("utf-8", "surrogatepass")
    else:
        s3.put_object(Bucket=bucket, Key=key, Body=data)
        body = json.dumps(_s3_notification(bucket, key))
    event = {"Records": [
        {"messageId": "case", "body": body, "eventSource": "aws:sqs"},
        {"messageId": "neighbour", "body": json.dumps(_s3_notification(bucket, good)),
         "eventSource": "aws:sqs"},
    ]}
    capsys.readouterr()
    result = handle(runtime, event)
    err = capsys.readouterr().err
    assert result is not None
    outcome = Outcome(stderr=err, alerts=[a.event_id for a in sink.alerts])
    outcome.failed_items = [f["itemIdentifier"] for f in result["batchItemFailures"]]
    outcome.counters = _invocation_counters(err)
    outcome.records = outcome.counters.get("Records", 0) - 1  # minus the neighbour's record
    outcome.bad = outcome.counters.get("BadRecords", 0)
    assert NEIGHBOUR in outcome.alerts and "neighbour" not in outcome.failed_items, err
    outcome.alerts.remove(NEIGHBOUR)
    return outcome


def handler_kinesis(case: dict[str, Any], tmp: Path, request: Any) -> Outcome:
    """The Lambda handler, Kinesis trigger: the input is one record's data, next to a good one."""
    from ctrules.aws.handler import handle

    runtime, sink, _ = _runtime(request)
    capsys = request.getfixturevalue("capsys")
    good = json.dumps({"eventVersion": "1.08", "eventName": "Hit", "eventID": NEIGHBOUR})

    def record(seq: str, data: bytes) -> dict[str, Any]:
        return {"eventSource": "aws:kinesis", "eventSourceARN": "arn:aws:kinesis:::stream/s",
                "kinesis": {"sequenceNumber": seq, "partitionKey": "p",
                            "data": base64.b64encode(data).decode()}}

    event = {"Records": [record("1", build(case["input"])), record("2", good.encode())]}
    capsys.readouterr()
    result = handle(runtime, event)
    err = capsys.readouterr().err
    assert result is not None
    outcome = Outcome(stderr=err, alerts=[a.event_id for a in sink.alerts])
    outcome.failed_items = [f["itemIdentifier"] for f in result["batchItemFailures"]]
    outcome.counters = _invocation_counters(err)
    outcome.records = outcome.counters.get("Records", 0) - 1
    outcome.bad = outcome.counters.get("BadRecords", 0)
    assert NEIGHBOUR in outcome.alerts and "2" not in outcome.failed_items, err
    outcome.alerts.remove(NEIGHBOUR)
    return outcome


INTERFACES = {
    "run": run_cli,
    "explain": explain_cli,
    "check": check_cli,
    "handler-sqs": handler_sqs,
    "handler-kinesis": handler_kinesis,
}


# ---- expectations -------------------------------------------------------------------------


def _count_ok(want: Any, got: int | None) -> bool:
    if isinstance(want, dict):
        return got is not None and want.get("min", 0) <= got <= want.get("max", got)
    return bool(want == got)


def _check(expect: dict[str, Any], got: Outcome) -> None:
    where = f"\nstdout: {got.stdout[-2000:]}\nstderr: {got.stderr[-3000:]}"
    assert "Traceback" not in got.stderr, where
    if "exit" in expect:
        assert got.exit == expect["exit"], where
    for key in ("records", "bad"):
        if key in expect:
            assert _count_ok(expect[key], getattr(got, key)), f"{key}: {getattr(got, key)}" + where
    if "alerts" in expect:
        assert sorted(got.alerts) == sorted(expect["alerts"]), where
    for text in expect.get("stderr_has", []):
        assert text in got.stderr, f"{text!r} not in stderr" + where
    for text in expect.get("stdout_has", []):
        assert text in got.stdout, f"{text!r} not in stdout" + where
    for text in expect.get("nowhere", []):
        assert text not in got.stdout + got.stderr, f"{text!r} leaked" + where
    if "max_rss_mb" in expect:
        assert got.rss_mb is not None and got.rss_mb <= expect["max_rss_mb"], got.rss_mb
    if "failed_items" in expect:
        assert got.failed_items == expect["failed_items"], where
    for name, value in expect.get("counters", {}).items():
        assert _count_ok(value, got.counters.get(name, 0)), f"{name}: {got.counters}" + where


@pytest.mark.parametrize("case", _cases())
def test_hostile_input(case: dict[str, Any], tmp_path: Path, request: Any) -> None:
    outcome = INTERFACES[case["interface"]](case, tmp_path, request)
    _check(case["expect"], outcome)
