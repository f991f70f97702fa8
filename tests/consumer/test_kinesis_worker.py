"""The Kinesis container worker against moto: every payload layout, per-shard checkpoints that
a restart resumes from (file and DynamoDB), and a failed delivery retried from the failed
record without skipping or repeating."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from ctrules.alerts import Alert
from ctrules.aws.kinesis_worker import (
    CheckpointStore,
    DynamoCheckpoints,
    FileCheckpoints,
    KinesisWorker,
)
from ctrules.aws.runtime import Runtime
from ctrules.delivery.base import DeliveryReport
from tests.consumer.support import EXPECTED, FailingSink, RecordingSink, event, log_records
from tests.support.moto_server import aws_client, unique

MakeRuntime = Callable[..., Runtime]


def make_stream(endpoint: str, shards: int = 2) -> str:
    kinesis = aws_client(endpoint, "kinesis")
    name = unique("cloudtrail")
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    return name


def put_samples(endpoint: str, stream: str) -> None:
    """The Lambda sample payloads' data, written to the stream as their producers would."""
    kinesis = aws_client(endpoint, "kinesis")
    for name in ("kinesis_cloudwatch_logs.json", "kinesis_eventbridge.json", "kinesis_raw.json"):
        for record in event(name)["Records"]:
            kinesis.put_record(
                StreamName=stream,
                Data=base64.b64decode(record["kinesis"]["data"]),
                PartitionKey=record["kinesis"]["partitionKey"],
            )


def worker(runtime: Runtime, stream: str, checkpoints: CheckpointStore, **kw: Any) -> KinesisWorker:
    return KinesisWorker(
        runtime,
        stream,
        checkpoints,
        start="TRIM_HORIZON",
        poll_interval=0.05,
        retry_pause=0.1,
        exit_when_idle=True,
        **kw,
    )


# CWL: the whole log (EXPECTED); EventBridge records[:4]: nothing; raw records[4:8]: 2 + 2.
ALL_SAMPLES = {**EXPECTED, "parameter_deleted": 4, "access_denied": 5}


def test_reads_every_layout_and_resumes_from_file_checkpoints(
    moto_server: str, make_runtime: MakeRuntime, tmp_path: Path
) -> None:
    stream = make_stream(moto_server)
    put_samples(moto_server, stream)
    checkpoints = FileCheckpoints(tmp_path / "ckpt.json", stream)
    sink = RecordingSink()
    assert worker(make_runtime(sink), stream, checkpoints).run() == 0
    assert sink.by_rule() == ALL_SAMPLES
    saved = json.loads((tmp_path / "ckpt.json").read_text())[stream]
    assert saved  # a sequence number per shard that had records

    # Restart: nothing is re-read; only what arrives afterwards is processed.
    record = log_records()[9]  # UpdateTrail
    aws_client(moto_server, "kinesis").put_record(
        StreamName=stream, Data=json.dumps(record).encode(), PartitionKey="late"
    )
    again = RecordingSink()
    assert (
        worker(make_runtime(again), stream, FileCheckpoints(tmp_path / "ckpt.json", stream)).run()
        == 0
    )
    assert again.by_rule() == {"trail_changed": 1}


class FailOnce(FailingSink):
    def deliver(self, alerts: Sequence[Alert]) -> DeliveryReport:
        report = super().deliver(alerts)
        if report.failures:
            self.failing = False
        return report


@pytest.fixture
def checkpoint_table(moto_server: str) -> str:
    name = unique("ctrules-ckpt")
    aws_client(moto_server, "dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def test_failed_delivery_is_retried_from_the_failed_record(
    moto_server: str, make_runtime: MakeRuntime, checkpoint_table: str
) -> None:
    stream = make_stream(moto_server, shards=1)
    kinesis = aws_client(moto_server, "kinesis")
    records = log_records()
    for r in records:
        kinesis.put_record(StreamName=stream, Data=json.dumps(r).encode(), PartitionKey="p")
    sink = FailOnce(fail_rules={"access_denied"})
    checkpoints = DynamoCheckpoints(aws_client(moto_server, "dynamodb"), checkpoint_table, stream)
    assert worker(make_runtime(sink), stream, checkpoints).run() == 0
    # First pass: records before the first AccessDenied delivered and checkpointed; the rest
    # re-read after the pause. Alerts before the failure point are not repeated.
    assert sink.by_rule() == EXPECTED
    assert len(set(sink.keys())) == len(sink.keys())
    (shard,) = kinesis.list_shards(StreamName=stream)["Shards"]
    last = kinesis.get_records(
        ShardIterator=kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
    )["Records"][-1]["SequenceNumber"]
    assert checkpoints.get(shard["ShardId"]) == last


def test_poison_and_control_records_do_not_stop_the_shard(
    moto_server: str, make_runtime: MakeRuntime, tmp_path: Path, capsys: Any
) -> None:
    stream = make_stream(moto_server, shards=1)
    kinesis = aws_client(moto_server, "kinesis")
    kinesis.put_record(StreamName=stream, Data=b"\x1f\x8b not really gzip", PartitionKey="p")
    kinesis.put_record(StreamName=stream, Data=b"{truncated", PartitionKey="p")
    control = gzip.compress(
        json.dumps({"messageType": "CONTROL_MESSAGE", "logEvents": []}).encode()
    )
    kinesis.put_record(StreamName=stream, Data=control, PartitionKey="p")
    kinesis.put_record(
        StreamName=stream, Data=json.dumps(log_records()[9]).encode(), PartitionKey="p"
    )
    sink = RecordingSink()
    assert (
        worker(make_runtime(sink), stream, FileCheckpoints(tmp_path / "c.json", stream)).run() == 0
    )
    assert sink.by_rule() == {"trail_changed": 1}
    assert capsys.readouterr().err.count("undecodable kinesis record") == 2
