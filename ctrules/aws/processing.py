"""AWS runtime — what the Lambda handler and the container workers share: turning one work item
(an SQS message body, a Kinesis record's data) into work for a pipeline `Batch`, with the
item's own problems counted and every failure kept to that item.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from typing import Any

from ..sources.envelopes import Work, unwrap
from ..sources.kinesis import decode_data
from ..sources.logfile import BadRecord
from .logs import log
from .metrics import Counters
from .pipeline import Batch
from .runtime import Runtime

logger = logging.getLogger("ctrules.aws.processing")


def envelope_work(body: Any, source: str) -> tuple[list[Work], list[BadRecord]]:
    """Unwrap a message; its own (envelope-level) problems are returned apart."""
    work: list[Work] = []
    problems: list[BadRecord] = []
    for unit in unwrap(body, source):
        (problems if isinstance(unit, BadRecord) else work).append(unit)  # type: ignore[arg-type]
    return work, problems


@dataclass(frozen=True)
class KinesisItem:
    sequence_number: str
    partition_key: str | None
    data: bytes | None  # None: the Lambda event's data was not valid base64
    source: str


def process_kinesis(runtime: Runtime, items: list[KinesisItem], counters: Counters) -> list[str]:
    """Evaluate a batch of Kinesis records; returns the sequence numbers that must be retried."""
    batch = runtime.pipeline.batch(counters)
    for item in items:
        work: list[Work] = []
        units: list[Work] = (
            list(decode_data(item.data, item.source))
            if item.data is not None
            else [BadRecord(item.source, None, "data is not base64")]
        )
        for unit in units:
            if not isinstance(unit, BadRecord):
                work.append(unit)
                continue
            # Poison record: retrying cannot fix it, so it is logged with enough to find and
            # replay it (sequence number, partition key, the start of its data) and counted.
            counters.add("BadRecords")
            log(
                logger,
                "error",
                "undecodable kinesis record",
                sequence_number=item.sequence_number,
                partition_key=item.partition_key,
                index=unit.index,
                reason=unit.reason,
                data_head=base64.b64encode((item.data or b"")[:2048]).decode(),
            )
        add_work(batch, item.sequence_number, work)
    results = batch.finish()
    return [seq for seq, result in results.items() if not result.ok]


def process_message(runtime: Runtime, message_id: str, body: Any, counters: Counters) -> list[str]:
    """Process one SQS message body on its own; returns its errors (empty: delete it)."""
    batch = runtime.pipeline.batch(counters)
    work, problems = envelope_work(body, f"sqs:{message_id}")
    for problem in problems:
        batch.bad(problem, message_id)
        batch.fail(message_id, f"message is not a known envelope: {problem.reason}")
    add_work(batch, message_id, work)
    return [e for result in batch.finish().values() for e in result.errors]


def add_work(batch: Batch, item: str, work: list[Work]) -> None:
    """Add one work item; whatever goes wrong fails that item only, never its neighbours."""
    try:
        batch.add(item, work)
    except Exception as exc:  # a bug: keep the item for a retry (and the DLQ), say which
        batch.fail(item, f"processing raised {type(exc).__name__}: {exc}")
