"""Pipeline stage 7 — delivery interface: where alerts go after routing and grouping.

The consumer (ctrules.aws, ctrules.cli) only knows this interface: it hands a batch of
alerts to a Sink and gets back a report. A batch whose report has failures must be retried
by the caller (batch item failure / non-zero exit), never treated as delivered.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO, Protocol

from ..alerts import Alert

logger = logging.getLogger("ctrules.delivery")


@dataclass(frozen=True)
class DeliveryFailure:
    destination: str
    reason: str
    event_ids: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    permanent: bool = False


@dataclass
class DeliveryReport:
    """`delivered` counts alerts (a grouped message delivers many); `messages` counts posts;
    `ignored` counts suppressed alerts skipped. A failure with permanent=True will not succeed
    on retry (revoked webhook, unknown channel): count and log it; retry the others."""

    delivered: int = 0
    failures: list[DeliveryFailure] = field(default_factory=list)
    messages: int = 0
    ignored: int = 0

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def retryable(self) -> list[DeliveryFailure]:
        return [f for f in self.failures if not f.permanent]

    @property
    def permanent(self) -> list[DeliveryFailure]:
        return [f for f in self.failures if f.permanent]

    def merge(self, other: DeliveryReport) -> None:
        self.delivered += other.delivered
        self.failures.extend(other.failures)
        self.messages += other.messages
        self.ignored += other.ignored


OnDelivered = Callable[[Sequence[Alert]], None]
"""Called by a sink as soon as one message (standing for these alerts) was accepted."""


class Sink(Protocol):
    def deliver(self, alerts: Sequence[Alert]) -> DeliveryReport:
        """Deliver non-ignored alerts; suppressed (ignored) alerts are not sent."""
        ...


class ConfirmingSink(Sink, Protocol):
    """A sink that reports each message the moment it is accepted, so the dedup table records
    it before the next message goes out (a process killed mid-batch then repeats nothing it
    had confirmed). Marked by `confirms_each_message = True`."""

    confirms_each_message: bool

    def deliver(
        self, alerts: Sequence[Alert], on_delivered: OnDelivered | None = None
    ) -> DeliveryReport: ...


class JsonLinesSink:
    """Prints one JSON alert per line: the default when no Slack destination is configured."""

    confirms_each_message = True

    def __init__(self, stream: IO[str] | None = None):
        self.stream = stream

    def deliver(
        self, alerts: Sequence[Alert], on_delivered: OnDelivered | None = None
    ) -> DeliveryReport:
        out = self.stream or sys.stdout
        sent = ignored = 0
        for alert in alerts:
            if alert.ignored:
                ignored += 1
                continue
            line, rewritten = alert.to_json()
            if rewritten:
                logger.warning("alert %s/%s: values JSON cannot hold were rewritten",
                               alert.rule, alert.event_id)
            out.write(line.decode() + "\n")
            sent += 1
            if on_delivered is not None:
                out.flush()
                on_delivered([alert])
        out.flush()
        return DeliveryReport(delivered=sent, messages=sent, ignored=ignored)
