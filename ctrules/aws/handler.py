"""AWS runtime — the Lambda entry point: `ctrules.aws.handler.handler`.

One handler for every way CloudTrail reaches Lambda: S3 notifications, SNS, SQS (S3 or SNS
inside), EventBridge ("Object Created" or "AWS API Call via CloudTrail"), Kinesis (CloudWatch
Logs subscription, EventBridge or raw records). The runtime (rule set, sink, clients) is built on
the first invocation of a container and reused.

Failure reporting follows each trigger's retry contract, and work that failed is never reported
as success:
- SQS and Kinesis: `{"batchItemFailures": [...]}` naming each failed message id / sequence
  number (enable ReportBatchItemFailures on the event source mapping);
- S3, SNS, EventBridge (asynchronous invocations): an exception, so Lambda retries and then
  hands the event to the DLQ / on-failure destination.
A record that cannot be decoded is bad *input*: retrying cannot fix it, so it is logged (with its
source) and counted (`BadRecords`), and the rest of the batch goes on. An SQS message or direct
event that is no known envelope fails, so it lands intact in the dead-letter queue.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import threading
import time
from typing import Any

from .logs import log
from .metrics import Counters
from .processing import KinesisItem, add_work, envelope_work, process_kinesis
from .runtime import Runtime

logger = logging.getLogger("ctrules.aws.handler")

_runtime: Runtime | None = None
_runtime_lock = threading.Lock()


class ProcessingFailed(RuntimeError):
    """Raised for asynchronous invocations with failed work, so Lambda retries the event."""


def get_runtime() -> Runtime:
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            # Not cached on failure: a fixed rule set in S3 is picked up by the next attempt.
            _runtime = Runtime.build(os.environ)
        return _runtime


def handler(event: Any, context: Any = None) -> dict[str, Any] | None:
    """The Lambda entry point."""
    return handle(get_runtime(), event, context)


def event_kind(event: Any) -> str:
    if isinstance(event, dict):
        records = event.get("Records")
        if isinstance(records, list) and records and isinstance(records[0], dict):
            origin = records[0].get("eventSource") or records[0].get("EventSource")
            if origin == "aws:sqs":
                return "sqs"
            if origin == "aws:kinesis":
                return "kinesis"
            if origin == "aws:s3":
                return "s3"
            if origin == "aws:sns":
                return "sns"
        if "detail-type" in event:
            return "eventbridge"
    return "other"


def handle(runtime: Runtime, event: Any, context: Any = None) -> dict[str, Any] | None:
    counters = Counters()
    kind = event_kind(event)
    started = time.monotonic()
    request_id = getattr(context, "aws_request_id", None)
    try:
        if kind == "sqs":
            return {"batchItemFailures": _sqs(runtime, event["Records"], counters)}
        if kind == "kinesis":
            return {"batchItemFailures": _kinesis(runtime, event["Records"], counters)}
        _direct(runtime, event, kind, counters)
        return None
    finally:
        log(
            logger,
            "info",
            "invocation done",
            kind=kind,
            request_id=request_id,
            seconds=round(time.monotonic() - started, 3),
            **counters.summary(),
        )
        counters.emit(
            runtime.config.metrics_namespace, access_denied=runtime.config.access_denied_metrics
        )


def _sqs(runtime: Runtime, records: list[Any], counters: Counters) -> list[dict[str, str]]:
    batch = runtime.pipeline.batch(counters)
    for record in records:
        message_id = str(record.get("messageId", ""))
        work, problems = envelope_work(record.get("body", ""), f"sqs:{message_id}")
        for problem in problems:
            batch.bad(problem, message_id)
            batch.fail(message_id, f"message is not a known envelope: {problem.reason}")
        add_work(batch, message_id, work)
    results = batch.finish()
    return [{"itemIdentifier": item} for item, result in results.items() if not result.ok]


def _kinesis(runtime: Runtime, records: list[Any], counters: Counters) -> list[dict[str, str]]:
    items: list[KinesisItem] = []
    for record in records:
        kinesis = record.get("kinesis") or {}
        seq = str(kinesis.get("sequenceNumber", ""))
        try:
            data: bytes | None = base64.b64decode(kinesis.get("data", ""), validate=True)
        except (binascii.Error, ValueError):
            data = None
        source = f"kinesis:{record.get('eventSourceARN', '')}:{seq}"
        items.append(KinesisItem(seq, kinesis.get("partitionKey"), data, source))
    failed = process_kinesis(runtime, items, counters)
    return [{"itemIdentifier": seq} for seq in failed]


def _direct(runtime: Runtime, event: Any, kind: str, counters: Counters) -> None:
    batch = runtime.pipeline.batch(counters)
    work, problems = envelope_work(event, kind)
    for problem in problems:
        batch.bad(problem, kind)
        batch.fail(kind, f"event is not a known envelope: {problem.reason}")
    add_work(batch, kind, work)
    errors = [e for result in batch.finish().values() for e in result.errors]
    if errors:
        raise ProcessingFailed(f"{len(errors)} failure(s): " + "; ".join(errors[:5]))
