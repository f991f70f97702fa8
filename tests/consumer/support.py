"""Helpers for the consumer tests: sample events, small real Sinks, log uploads."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ctrules.alerts import Alert
from ctrules.delivery.base import DeliveryFailure, DeliveryReport

EVENTS = Path(__file__).parents[1] / "events"
RULES = Path(__file__).parent / "rules" / "consumer.ctr"
SAMPLE_BUCKET = "example-org-cloudtrail-logs"
SAMPLE_KEY = (
    "security logs/AWSLogs/o-aa111bb222/111122223333/CloudTrail/us-east-1/2023/07/10/"
    "111122223333_CloudTrail_us-east-1_20230710T1145Z_Ex4mPLe0aBcD1234.json.gz"
)
# What tests/events/cloudtrail_log.json yields under rules/consumer.ctr.
EXPECTED = {"access_denied": 3, "parameter_deleted": 2, "trail_changed": 1, "console_login": 1}
EXPECTED_TOTAL = sum(EXPECTED.values())


def event(name: str, bucket: str | None = None) -> Any:
    """A sample payload; `bucket` replaces the sample's bucket name everywhere (also inside
    nested JSON strings)."""
    text = (EVENTS / name).read_text()
    if bucket is not None:
        text = text.replace(SAMPLE_BUCKET, bucket)
    return json.loads(text)


def log_records() -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = json.loads((EVENTS / "cloudtrail_log.json").read_text())[
        "Records"
    ]
    return records


def log_file(records: list[dict[str, Any]] | None = None) -> bytes:
    return gzip.compress(json.dumps({"Records": records or log_records()}).encode())


class RecordingSink:
    """A real Sink that keeps what it was given (our delivery interface, not a library)."""

    def __init__(self) -> None:
        self.alerts: list[Alert] = []
        self.calls = 0
        self._lock = threading.Lock()

    def deliver(self, alerts: Sequence[Alert]) -> DeliveryReport:
        with self._lock:
            self.calls += 1
            sent = [a for a in alerts if not a.ignored]
            self.alerts.extend(sent)
            return DeliveryReport(delivered=len(sent))

    def by_rule(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for a in self.alerts:
            out[a.rule] = out.get(a.rule, 0) + 1
        return out

    def keys(self) -> list[tuple[str, str | None]]:
        return sorted((a.rule, a.event_id) for a in self.alerts)


class FailingSink(RecordingSink):
    """Fails the alerts of `fail_rules` (all when None) while `failing` is set."""

    def __init__(self, fail_rules: set[str] | None = None, permanent: bool = False) -> None:
        super().__init__()
        self.fail_rules = fail_rules
        self.permanent = permanent
        self.failing = True

    def deliver(self, alerts: Sequence[Alert]) -> DeliveryReport:
        if not self.failing:
            return super().deliver(alerts)
        bad = [a for a in alerts if self.fail_rules is None or a.rule in self.fail_rules]
        good = [a for a in alerts if a not in bad]
        report = super().deliver(good)
        if bad:
            report.failures.append(
                DeliveryFailure(
                    "default",
                    "HTTP 500 from the test sink",
                    event_ids=tuple(a.event_id or "" for a in bad),
                    rules=tuple(sorted({a.rule for a in bad})),
                    permanent=self.permanent,
                )
            )
        return report
