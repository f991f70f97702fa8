"""`ctrules consume ...` as a container runs it: the real console script in a subprocess, against
moto, configured by environment only."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.consumer.support import EXPECTED, RULES, SAMPLE_KEY, event, log_file
from tests.support.moto_server import aws_client, aws_env, unique

ROOT = Path(__file__).parents[2]
# What the `ctrules` console script runs (called this way so the test does not depend on how
# the package was installed into the environment).
CTRULES = [sys.executable, "-c", "import sys; from ctrules.cli import main; sys.exit(main())"]


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CTRULES, "consume", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _alerts(stdout: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in stdout.splitlines():
        if line.startswith('{"rule"'):
            rule = json.loads(line)["rule"]
            out[rule] = out.get(rule, 0) + 1
    return out


def test_consume_sqs_and_kinesis_from_the_command_line(
    moto_server: str, s3: Any, bucket: str, tmp_path: Path
) -> None:
    s3.put_object(Bucket=bucket, Key=SAMPLE_KEY, Body=log_file())
    sqs = aws_client(moto_server, "sqs")
    queue = sqs.create_queue(QueueName=unique("ctrules-cli"))["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(event("s3_notification.json", bucket)))
    stream = unique("ctrules-cli")
    kinesis = aws_client(moto_server, "kinesis")
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    for record in event("kinesis_cloudwatch_logs.json")["Records"]:
        kinesis.put_record(
            StreamName=stream,
            Data=base64.b64decode(record["kinesis"]["data"]),
            PartitionKey=record["kinesis"]["partitionKey"],
        )
    env = aws_env(
        moto_server,
        CTRULES_RULES=str(RULES),
        CTRULES_SQS_QUEUE_URL=queue,
        CTRULES_KINESIS_STREAM=stream,
        CTRULES_CHECKPOINT_FILE=str(tmp_path / "checkpoints.json"),
        CTRULES_LOG_LEVEL="INFO",
    )
    done = _run(["sqs", "--exit-when-empty", "--wait-seconds", "1"], env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert _alerts(done.stdout) == EXPECTED
    assert '"message":"sqs worker stopped"' in done.stderr

    done = _run(["kinesis", "--from", "trim-horizon", "--exit-when-idle"], env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert _alerts(done.stdout) == EXPECTED
    assert stream in json.loads((tmp_path / "checkpoints.json").read_text())


def test_consume_refuses_to_start_without_a_source_or_with_bad_rules(
    moto_server: str, tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    from ctrules.cli import main

    monkeypatch.delenv("CTRULES_SQS_QUEUE_URL", raising=False)
    monkeypatch.setenv("CTRULES_RULES", str(RULES))
    assert main(["consume", "sqs"]) == 1
    assert "no queue" in capsys.readouterr().err
    bad = tmp_path / "bad.ctr"
    bad.write_text("rule x {\n  when eventName ==\n}\n")
    assert main(["consume", "sqs", "--queue", "http://x", "--rules", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "cannot start" in err and '"code":"CTR' in err  # check diagnostics in the log
    monkeypatch.setenv("CTRULES_CONCURRENCY", "lots")
    assert main(["consume", "kinesis", "--stream", "s"]) == 1
    assert "CTRULES_CONCURRENCY" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main(["consume", "nowhere"])
    assert usage.value.code == 2
