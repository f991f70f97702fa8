"""The SQS container worker against moto: messages deleted only after delivery, poison messages
to the dead-letter queue, visibility extended for slow work, graceful SIGTERM, and a worker
killed mid-batch losing and duplicating nothing with the dedup table on."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from ctrules.alerts import Alert
from ctrules.aws.runtime import Clients, Runtime
from ctrules.aws.sqs_worker import SqsWorker
from ctrules.delivery.base import DeliveryReport
from tests.consumer.support import EXPECTED, RULES, RecordingSink, event, log_file, log_records
from tests.support.moto_server import aws_client, aws_env, unique

WORKER = Path(__file__).parent / "worker_main.py"
PER_FILE = sum(EXPECTED.values())
IGNORED_EVENT = "fed06f42-cb12-4764-8c69-121063dc79b9"  # rules/consumer.ctr's ignore


def make_queue(endpoint: str, visibility: int = 1, max_receive: int = 1) -> tuple[str, str]:
    sqs = aws_client(endpoint, "sqs")
    dlq = sqs.create_queue(QueueName=unique("ctrules-dlq"))["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue = sqs.create_queue(
        QueueName=unique("ctrules-intake"),
        Attributes={
            "VisibilityTimeout": str(visibility),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive)}
            ),
        },
    )["QueueUrl"]
    return queue, dlq


def put_files(s3: Any, bucket: str, n: int) -> list[str]:
    """n log files whose records have distinct event ids (so every alert is distinct)."""
    keys = []
    for i in range(n):
        records = log_records()
        for r in records:
            if r["eventID"] != IGNORED_EVENT:
                r["eventID"] = f"{r['eventID']}-{i}"
        key = f"AWSLogs/111122223333/CloudTrail/us-east-1/2023/07/10/file-{i}.json.gz"
        s3.put_object(Bucket=bucket, Key=key, Body=log_file(records))
        keys.append(key)
    return keys


def notification(bucket: str, key: str) -> str:
    body = event("s3_notification.json", bucket)
    body["Records"][0]["s3"]["object"]["key"] = key
    return json.dumps(body)


def send(endpoint: str, queue: str, bodies: Sequence[str]) -> None:
    sqs = aws_client(endpoint, "sqs")
    for body in bodies:
        sqs.send_message(QueueUrl=queue, MessageBody=body)


def counts(endpoint: str, queue: str) -> tuple[int, int]:
    attrs = aws_client(endpoint, "sqs").get_queue_attributes(
        QueueUrl=queue,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]), int(
        attrs["ApproximateNumberOfMessagesNotVisible"]
    )


def test_worker_processes_deletes_and_dead_letters(
    moto_server: str, s3: Any, bucket: str, make_runtime: Callable[..., Runtime]
) -> None:
    queue, dlq = make_queue(moto_server)
    keys = put_files(s3, bucket, 3)
    sns_wrapped = json.loads(event("sqs_sns_s3_notification.json", bucket)["Records"][0]["body"])
    inner = json.loads(sns_wrapped["Message"])
    inner["Records"][0]["s3"]["object"]["key"] = keys[0]
    sns_wrapped["Message"] = json.dumps(inner)  # the same file again, via SNS: alerts again
    test_event = event("sqs_s3_test_event.json", bucket)["Records"][0]["body"]
    bodies = [notification(bucket, k) for k in keys] + [json.dumps(sns_wrapped), test_event]
    send(moto_server, queue, [*bodies, "garbage that is no envelope"])
    sink = RecordingSink()
    worker = SqsWorker(
        make_runtime(sink),
        queue,
        concurrency=3,
        visibility_timeout=1,
        wait_seconds=1,
        exit_when_empty=True,
    )
    assert worker.run() == 0
    assert len(sink.alerts) == 4 * PER_FILE
    assert worker.processed == 5  # 4 files + the S3 test event
    assert counts(moto_server, queue) == (0, 0)
    (dead,) = aws_client(moto_server, "sqs").receive_message(QueueUrl=dlq)["Messages"]
    assert dead["Body"] == "garbage that is no envelope"


class SlowSink(RecordingSink):
    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.started = threading.Event()

    def deliver(self, alerts: Sequence[Alert]) -> DeliveryReport:
        self.started.set()
        time.sleep(self.delay)
        return super().deliver(alerts)


def test_visibility_is_extended_while_a_file_is_in_progress(
    moto_server: str, s3: Any, bucket: str, make_runtime: Callable[..., Runtime], capsys: Any
) -> None:
    queue, _ = make_queue(moto_server, visibility=1)
    (key,) = put_files(s3, bucket, 1)
    send(moto_server, queue, [notification(bucket, key)])
    sink = SlowSink(delay=2.5)
    worker = SqsWorker(
        make_runtime(sink, {"CTRULES_LOG_LEVEL": "INFO"}),
        queue,
        concurrency=1,
        visibility_timeout=1,
        wait_seconds=1,
        exit_when_empty=True,
    )
    stolen: list[Any] = []
    done = threading.Event()

    def other_worker() -> None:
        sqs = aws_client(moto_server, "sqs")
        sink.started.wait(10)  # the worker holds the message; 2.5 s of work, visibility 1 s
        while not done.is_set():
            stolen.extend(
                sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0).get("Messages", [])
            )
            time.sleep(0.1)

    thief = threading.Thread(target=other_worker)
    thief.start()
    try:
        assert worker.run() == 0
    finally:
        done.set()
        thief.join()
    assert stolen == []  # nobody else saw the message while it was being worked on
    assert len(sink.alerts) == PER_FILE and worker.processed == 1
    assert "visibility extended" in capsys.readouterr().err


def _worker(endpoint: str, queue: str, out: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    full_env = aws_env(
        endpoint,
        CTRULES_RULES=str(RULES),
        CTRULES_LOG_LEVEL="INFO",
        CTRULES_METRICS_NAMESPACE="",
        **env,
    )
    return subprocess.Popen(
        [sys.executable, str(WORKER), queue, str(out), *args],
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _in_process_worker(endpoint: str, queue: str, out: Path, visibility: int, **env: str) -> int:
    """A second worker (in this process, to keep the suite fast) writing to the same file."""
    from tests.consumer.worker_main import FileSink

    runtime = Runtime.build(
        {"CTRULES_RULES": str(RULES), "CTRULES_LOG_LEVEL": "WARNING", **env},
        clients=Clients(endpoint_url=endpoint),
        sink=FileSink(str(out), 0.0, 0),
    )
    worker = SqsWorker(
        runtime, queue, concurrency=2, visibility_timeout=visibility, wait_seconds=1,
        exit_when_empty=True,
    )  # fmt: skip
    return worker.run()


def _wait_for(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def _delivered(out: Path) -> list[tuple[str, str]]:
    if not out.exists():
        return []
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    return [(x["rule"], x["eventID"]) for x in lines if "rule" in x]


def _deliver_calls(out: Path) -> int:
    if not out.exists():
        return 0
    return sum(1 for x in out.read_text().splitlines() if '"deliver"' in x)


def test_sigterm_finishes_in_flight_work_and_leaves_the_rest(
    moto_server: str, s3: Any, bucket: str, tmp_path: Path
) -> None:
    queue, _ = make_queue(moto_server, visibility=30)
    keys = put_files(s3, bucket, 4)
    send(moto_server, queue, [notification(bucket, k) for k in keys])
    out = tmp_path / "alerts.jsonl"
    proc = _worker(
        moto_server, queue, out, "--delay", "0.7", "--concurrency", "2", "--visibility", "30"
    )
    _wait_for(lambda: _deliver_calls(out) >= 1)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopping: finishing in-flight messages" in err
    first = _delivered(out)
    # In-flight files (one or two, concurrency 2) finished and were deleted; the rest wait.
    assert len(first) in (PER_FILE, 2 * PER_FILE)
    visible, invisible = counts(moto_server, queue)
    assert invisible == 0 and visible == 4 - len(first) // PER_FILE
    assert _in_process_worker(moto_server, queue, out, visibility=30) == 0
    every = _delivered(out)
    assert len(every) == 4 * PER_FILE and len(set(every)) == len(every)
    assert counts(moto_server, queue) == (0, 0)


@pytest.fixture
def dedup_table(moto_server: str) -> str:
    name = unique("ctrules-dedup")
    aws_client(moto_server, "dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def test_killed_mid_batch_loses_nothing_and_duplicates_nothing(
    moto_server: str, s3: Any, bucket: str, tmp_path: Path, dedup_table: str
) -> None:
    queue, dlq = make_queue(moto_server, visibility=1, max_receive=10)
    keys = put_files(s3, bucket, 4)
    send(moto_server, queue, [notification(bucket, k) for k in keys])
    out = tmp_path / "alerts.jsonl"
    env = {"CTRULES_DEDUP_TABLE": dedup_table, "CTRULES_DEDUP_LEASE_SECONDS": "1"}
    # Dies at the start of its second delivery: one file delivered, the next one's alerts
    # claimed in the dedup table but not sent, other messages received and in flight.
    killed = _worker(
        moto_server,
        queue,
        out,
        "--die-on-call",
        "2",
        "--concurrency",
        "2",
        "--visibility",
        "1",
        **env,
    )
    killed.communicate(timeout=30)
    assert killed.returncode == -signal.SIGKILL
    assert len(_delivered(out)) == PER_FILE
    assert _in_process_worker(moto_server, queue, out, visibility=1, **env) == 0
    every = _delivered(out)
    assert len(every) == 4 * PER_FILE, "an alert was lost or duplicated"
    assert len(set(every)) == len(every), "an alert was delivered twice"
    assert counts(moto_server, queue) == (0, 0)
    assert aws_client(moto_server, "sqs").receive_message(QueueUrl=dlq).get("Messages") is None
