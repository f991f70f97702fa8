"""AWS runtime — the Kinesis container worker (`ctrules consume kinesis --stream NAME`).

One worker reads every shard of the stream, in order per shard, and stores a checkpoint per
shard (the last sequence number fully delivered) in a DynamoDB table or a local file, so a
restart resumes after the last delivered record instead of re-reading or skipping. A batch with
failed deliveries checkpoints just before its first failed record and retries from there after a
pause. Child shards (after a reshard) are read once their parent is finished.

This is deliberately a single consumer. Past one worker's throughput, use the Lambda event
source mapping (ctrules.aws.handler with ReportBatchItemFailures, ParallelizationFactor): AWS
then does the shard leasing that several workers would otherwise need.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Protocol

from .logs import log
from .metrics import Counters
from .processing import KinesisItem, process_kinesis
from .runtime import Runtime

logger = logging.getLogger("ctrules.aws.kinesis")

SHARD_END = "SHARD_END"
RELIST_EVERY = 60.0
METRICS_EVERY = 60.0


class CheckpointStore(Protocol):
    def get(self, shard_id: str) -> str | None: ...
    def put(self, shard_id: str, sequence_number: str) -> None: ...


class MemoryCheckpoints:
    def __init__(self) -> None:
        self.data: dict[str, str] = {}

    def get(self, shard_id: str) -> str | None:
        return self.data.get(shard_id)

    def put(self, shard_id: str, sequence_number: str) -> None:
        self.data[shard_id] = sequence_number


class FileCheckpoints:
    """A JSON file {shard id: sequence number}, replaced atomically on every write."""

    def __init__(self, path: str | Path, stream: str):
        self.path = Path(path)
        self.stream = stream

    def _load(self) -> dict[str, dict[str, str]]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, shard_id: str) -> str | None:
        return self._load().get(self.stream, {}).get(shard_id)

    def put(self, shard_id: str, sequence_number: str) -> None:
        data = self._load()
        data.setdefault(self.stream, {})[shard_id] = sequence_number
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".ctrules-ckpt-")
        with os.fdopen(fd, "w") as out:
            json.dump(data, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path)


class DynamoCheckpoints:
    """One item per shard: pk = "<stream>/<shard id>", seq = the sequence number."""

    def __init__(self, client: Any, table: str, stream: str):
        self.client = client
        self.table = table
        self.stream = stream

    def get(self, shard_id: str) -> str | None:
        item = self.client.get_item(
            TableName=self.table,
            Key={"pk": {"S": f"{self.stream}/{shard_id}"}},
            ConsistentRead=True,
        ).get("Item")
        return str(item["seq"]["S"]) if item else None

    def put(self, shard_id: str, sequence_number: str) -> None:
        self.client.put_item(
            TableName=self.table,
            Item={
                "pk": {"S": f"{self.stream}/{shard_id}"},
                "seq": {"S": sequence_number},
                "updated_at": {"N": str(int(time.time()))},
            },
        )


class KinesisWorker:
    def __init__(
        self,
        runtime: Runtime,
        stream: str,
        checkpoints: CheckpointStore,
        *,
        start: str = "LATEST",
        limit: int = 1000,
        poll_interval: float = 1.0,
        retry_pause: float = 5.0,
        exit_when_idle: bool = False,
    ):
        self.runtime = runtime
        self.stream = stream
        self.checkpoints = checkpoints
        self.start = start
        self.limit = limit
        self.poll_interval = poll_interval
        self.retry_pause = retry_pause
        self.exit_when_idle = exit_when_idle
        self.kinesis = runtime.clients("kinesis")
        self.stopping = threading.Event()
        self.counters = Counters()
        self.iterators: dict[str, str | None] = {}
        self.retry_after: dict[str, float] = {}
        # Records after a failed one that *were* delivered: skipped when the shard is re-read
        # from the failure, so a retry repeats only what failed (in memory; across a restart
        # the dedup table is what prevents repeats).
        self.delivered_ahead: dict[str, set[str]] = {}

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda signum, frame: self.stop(signal.Signals(signum).name))

    def stop(self, why: str = "stop requested") -> None:
        if not self.stopping.is_set():
            log(logger, "info", "stopping after the current batch", reason=why)
        self.stopping.set()

    def _shards(self) -> list[dict[str, Any]]:
        shards: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"StreamName": self.stream}
        while True:
            response = self.kinesis.list_shards(**kwargs)
            shards.extend(response.get("Shards", []))
            token = response.get("NextToken")
            if not token:
                return shards
            kwargs = {"NextToken": token}

    def _iterator(self, shard_id: str) -> str:
        checkpoint = self.checkpoints.get(shard_id)
        if checkpoint:
            response = self.kinesis.get_shard_iterator(
                StreamName=self.stream,
                ShardId=shard_id,
                ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                StartingSequenceNumber=checkpoint,
            )
        else:
            response = self.kinesis.get_shard_iterator(
                StreamName=self.stream, ShardId=shard_id, ShardIteratorType=self.start
            )
        return str(response["ShardIterator"])

    def run(self) -> int:
        log(logger, "info", "kinesis worker started", stream=self.stream, start=self.start)
        shards = self._shards()
        listed = time.monotonic()
        last_metrics = time.monotonic()
        while not self.stopping.is_set():
            if time.monotonic() - listed > RELIST_EVERY:
                shards, listed = self._shards(), time.monotonic()
            finished = {
                s["ShardId"] for s in shards if self.checkpoints.get(s["ShardId"]) == SHARD_END
            }
            known = {s["ShardId"] for s in shards}
            busy = False
            for shard in shards:
                shard_id = shard["ShardId"]
                parent = shard.get("ParentShardId")
                if shard_id in finished or (parent in known and parent not in finished):
                    continue
                if self.retry_after.get(shard_id, 0.0) > time.monotonic():
                    busy = True
                    continue
                try:
                    busy |= self._poll(shard_id)
                except Exception as exc:
                    # Expired iterator, throttling, a network error: start the shard again from
                    # its checkpoint after a pause; nothing past the checkpoint is lost.
                    self.iterators.pop(shard_id, None)
                    self.retry_after[shard_id] = time.monotonic() + self.retry_pause
                    busy = True
                    log(
                        logger,
                        "warning",
                        "shard read failed; will resume from its checkpoint",
                        shard=shard_id,
                        error=f"{type(exc).__name__}: {exc}",
                    )
                if self.stopping.is_set():
                    break
            if time.monotonic() - last_metrics > METRICS_EVERY:
                self.counters.take().emit(
                    self.runtime.config.metrics_namespace,
                    access_denied=self.runtime.config.access_denied_metrics,
                )
                last_metrics = time.monotonic()
            if not busy:
                if self.exit_when_idle:
                    break
                self.stopping.wait(self.poll_interval)
        self.counters.take().emit(
            self.runtime.config.metrics_namespace,
            access_denied=self.runtime.config.access_denied_metrics,
        )
        log(logger, "info", "kinesis worker stopped", stream=self.stream)
        return 0

    def _poll(self, shard_id: str) -> bool:
        """Read and process one batch of a shard; True if there was anything to do."""
        iterator = self.iterators.get(shard_id) or self._iterator(shard_id)
        response = self.kinesis.get_records(ShardIterator=iterator, Limit=self.limit)
        records = response.get("Records", [])
        self.iterators[shard_id] = response.get("NextShardIterator")
        if records:
            items = [
                KinesisItem(
                    str(r["SequenceNumber"]),
                    r.get("PartitionKey"),
                    bytes(r["Data"]),
                    f"kinesis:{self.stream}:{shard_id}:{r['SequenceNumber']}",
                )
                for r in records
            ]
            ahead = self.delivered_ahead.get(shard_id, set())
            todo = [item for item in items if item.sequence_number not in ahead]
            failed = set(process_kinesis(self.runtime, todo, self.counters))
            done = items
            if failed:
                first = next(i for i, item in enumerate(items) if item.sequence_number in failed)
                done = items[:first]
                ahead |= {
                    i.sequence_number for i in items[first:] if i.sequence_number not in failed
                }
                self.delivered_ahead[shard_id] = ahead
                # Re-read from the first failed record after a pause (delivery is down).
                self.iterators.pop(shard_id, None)
                self.retry_after[shard_id] = time.monotonic() + self.retry_pause
                log(
                    logger,
                    "error",
                    "batch partly failed; will retry",
                    shard=shard_id,
                    from_sequence=items[first].sequence_number,
                    failed=len(failed),
                )
            else:
                self.delivered_ahead.pop(shard_id, None)
            if done:
                self.checkpoints.put(shard_id, done[-1].sequence_number)
            if failed:
                return True
        if self.iterators.get(shard_id) is None and shard_id not in self.retry_after:
            self.checkpoints.put(shard_id, SHARD_END)  # closed after a reshard, fully read
            log(logger, "info", "shard finished", shard=shard_id)
        self.retry_after.pop(shard_id, None)
        behind = response.get("MillisBehindLatest", 0)
        return bool(records) or bool(behind)
