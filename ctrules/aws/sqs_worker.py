"""AWS runtime — the SQS container worker (`ctrules consume sqs --queue URL`).

Scales horizontally: run more replicas against the same queue. Each worker long-polls, works on
up to `concurrency` messages at once (each message is typically one log file), and deletes a
message only after its alerts were delivered; a failed message is left alone and comes back
after its visibility timeout (and reaches the queue's dead-letter queue after maxReceiveCount).
While a long file is still being read the worker extends the message's visibility, so no other
worker starts on it. On SIGTERM/SIGINT it stops receiving, finishes what is in flight, releases
anything received but not started, and exits 0.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from .logs import log
from .metrics import Counters
from .processing import process_message
from .runtime import Runtime

logger = logging.getLogger("ctrules.aws.sqs")

METRICS_EVERY = 60.0


@dataclass
class _InFlight:
    message_id: str
    receipt: str
    received: float
    extended: float
    future: Future[list[str]]


class SqsWorker:
    def __init__(
        self,
        runtime: Runtime,
        queue_url: str,
        *,
        concurrency: int = 4,
        visibility_timeout: int = 300,
        wait_seconds: int = 20,
        exit_when_empty: bool = False,
    ):
        self.runtime = runtime
        self.queue_url = queue_url
        self.concurrency = max(1, concurrency)
        self.visibility = max(1, visibility_timeout)
        # How often the loop comes back to delete finished messages and extend the others.
        self.tick = max(0.05, min(1.0, self.visibility / 4))
        self.wait_seconds = max(0, min(20, wait_seconds))
        self.exit_when_empty = exit_when_empty
        self.sqs = runtime.clients("sqs")
        self.stopping = threading.Event()
        self.counters = Counters()
        self.processed = 0
        self.failed = 0

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda signum, frame: self.stop(signal.Signals(signum).name))

    def stop(self, why: str = "stop requested") -> None:
        if not self.stopping.is_set():
            log(logger, "info", "stopping: finishing in-flight messages", reason=why)
        self.stopping.set()

    def run(self) -> int:
        inflight: dict[str, _InFlight] = {}
        last_metrics = time.monotonic()
        log(
            logger, "info", "sqs worker started", queue=self.queue_url, concurrency=self.concurrency
        )
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="ctrules-sqs") as pool:
            while True:
                self._reap(inflight)
                self._extend(inflight)
                futures = [f.future for f in inflight.values()]
                if self.stopping.is_set():
                    if not inflight:
                        break
                    wait(futures, timeout=self.tick)
                    continue
                free = self.concurrency - len(inflight)
                if free > 0:
                    # Long-poll only when idle: with work in flight the loop must come back
                    # within a tick to delete finished messages and extend visibility.
                    messages = self._receive(free, 0 if inflight else self.wait_seconds)
                    if self.stopping.is_set():
                        self._release(messages)  # received after SIGTERM: leave to others
                        continue
                    for message in messages:
                        now = time.monotonic()
                        future = pool.submit(
                            process_message,
                            self.runtime,
                            message["MessageId"],
                            message.get("Body", ""),
                            self.counters,
                        )
                        inflight[message["MessageId"]] = _InFlight(
                            message["MessageId"], message["ReceiptHandle"], now, now, future
                        )
                        futures.append(future)
                    if not messages and not inflight and self.exit_when_empty:
                        if self._drained():
                            break
                if inflight:
                    wait(futures, timeout=self.tick, return_when=FIRST_COMPLETED)
                if time.monotonic() - last_metrics > METRICS_EVERY:
                    self._emit_metrics()
                    last_metrics = time.monotonic()
        self._emit_metrics()
        log(
            logger,
            "info",
            "sqs worker stopped",
            processed=self.processed,
            failed=self.failed,
        )
        return 0

    def _drained(self) -> bool:
        """Nothing visible and nothing in flight anywhere (failed messages come back)."""
        try:
            attrs = self.sqs.get_queue_attributes(
                QueueUrl=self.queue_url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                ],
            )["Attributes"]
        except Exception:
            return False
        return all(int(v) == 0 for v in attrs.values())

    def _receive(self, count: int, wait_seconds: int) -> list[dict[str, Any]]:
        try:
            response = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(10, count),
                WaitTimeSeconds=wait_seconds,
                VisibilityTimeout=self.visibility,
                AttributeNames=["ApproximateReceiveCount"],
            )
        except Exception as exc:  # throttling, network: back off and try again
            log(logger, "error", "receive failed", error=f"{type(exc).__name__}: {exc}")
            time.sleep(1.0)
            return []
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages

    def _reap(self, inflight: dict[str, _InFlight]) -> None:
        for message_id in [k for k, f in inflight.items() if f.future.done()]:
            entry = inflight.pop(message_id)
            try:
                errors = entry.future.result()
            except Exception as exc:  # a bug, not bad input: keep the message for a retry
                errors = [f"{type(exc).__name__}: {exc}"]
                logger.exception("message processing raised", extra={})
            if errors:
                self.failed += 1
                log(
                    logger,
                    "error",
                    "message failed; left for retry",
                    message_id=message_id,
                    errors=errors[:5],
                )
                continue
            try:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=entry.receipt)
                self.processed += 1
            except Exception as exc:  # it will come back; dedup (if on) absorbs the repeat
                log(logger, "error", "delete failed", message_id=message_id, error=str(exc))

    def _extend(self, inflight: dict[str, _InFlight]) -> None:
        now = time.monotonic()
        for entry in inflight.values():
            if entry.future.done() or now - entry.extended < self.visibility / 2:
                continue
            try:
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url,
                    ReceiptHandle=entry.receipt,
                    VisibilityTimeout=self.visibility,
                )
                entry.extended = now
                log(
                    logger,
                    "info",
                    "visibility extended",
                    message_id=entry.message_id,
                    seconds_in_flight=round(now - entry.received, 1),
                )
            except Exception as exc:
                log(logger, "warning", "visibility extension failed", error=str(exc))

    def _release(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            try:
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=0,
                )
            except Exception as exc:  # it reappears after its visibility timeout anyway
                log(logger, "warning", "release failed", error=str(exc))

    def _emit_metrics(self) -> None:
        self.counters.take().emit(
            self.runtime.config.metrics_namespace,
            access_denied=self.runtime.config.access_denied_metrics,
        )
