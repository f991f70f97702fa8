"""AWS runtime — counters per invocation (or per worker batch) and their CloudWatch Embedded
Metric Format lines.

An EMF line is a JSON log line that CloudWatch turns into metrics without any API call, so the
counters cost nothing on the hot path. Totals go out without dimensions; alerts per rule and
suppressions per ignore go out with a `Rule` / `Ignore` dimension.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import IO, Any

import orjson

TOTALS = (
    "Files",
    "SkippedKeys",
    "Skipped",
    "Records",
    "BadRecords",
    "ObjectErrors",
    "Matched",
    "Ignored",
    "Duplicates",
    "Delivered",
    "DeliveryFailures",
    "PermanentDeliveryFailures",
    "FailedItems",
)

# The fivexl module's metrics (opt-in: CTRULES_ACCESS_DENIED_METRICS): counter -> (metric name,
# value of its `AccessDenied` dimension), in the namespace its dashboards and alarms use.
ACCESS_DENIED_NAMESPACE = "CloudTrailToSlack/AccessDeniedEvents"
ACCESS_DENIED_METRICS = {
    "AccessDenied": ("TotalAccessDeniedEvents", "AccessDeniedTotal"),
    "IgnoredAccessDenied": ("TotalIgnoredAccessDeniedEvents", "IgnoredAccessDeniedTotal"),
}


@dataclass
class Counters:
    totals: Counter[str] = field(default_factory=Counter)
    alerts_by_rule: Counter[str] = field(default_factory=Counter)
    ignored_by: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self.totals[name] += amount

    def alert(self, rule: str) -> None:
        with self._lock:
            self.totals["Matched"] += 1
            self.alerts_by_rule[rule] += 1

    def ignored(self, rule: str, ignores: tuple[str, ...]) -> None:
        with self._lock:
            self.totals["Ignored"] += 1
            for name in ignores:
                self.ignored_by[name] += 1

    def merge(self, other: Counters) -> None:
        with self._lock:
            self.totals.update(other.totals)
            self.alerts_by_rule.update(other.alerts_by_rule)
            self.ignored_by.update(other.ignored_by)

    def take(self) -> Counters:
        """Everything counted so far, handed over; this object starts again from zero (for
        long-running workers that emit per period while threads keep counting)."""
        with self._lock:
            taken = Counters(self.totals, self.alerts_by_rule, self.ignored_by)
            self.totals, self.alerts_by_rule, self.ignored_by = Counter(), Counter(), Counter()
        return taken

    def summary(self) -> dict[str, Any]:
        with self._lock:
            out: dict[str, Any] = {name: self.totals.get(name, 0) for name in TOTALS}
            out["AlertsByRule"] = dict(self.alerts_by_rule)
            out["IgnoredBy"] = dict(self.ignored_by)
        return out

    def emf_lines(
        self, namespace: str, now_ms: int | None = None, access_denied: bool = False
    ) -> list[str]:
        """The EMF documents for these counters (empty when metrics are off)."""
        if not namespace:
            return []
        ts = now_ms if now_ms is not None else int(time.time() * 1000)
        summary = self.summary()

        def doc(dimensions: list[str], values: dict[str, Any], space: str = namespace) -> str:
            metrics = [{"Name": k, "Unit": "Count"} for k in values if k not in dimensions]
            body: dict[str, Any] = {
                "_aws": {
                    "Timestamp": ts,
                    "CloudWatchMetrics": [
                        {"Namespace": space, "Dimensions": [dimensions], "Metrics": metrics}
                    ],
                },
            }
            body.update(values)
            return orjson.dumps(body).decode()

        lines = [doc([], {name: summary[name] for name in TOTALS})]
        for rule, count in sorted(summary["AlertsByRule"].items()):
            lines.append(doc(["Rule"], {"Rule": rule, "Alerts": count}))
        for ignore, count in sorted(summary["IgnoredBy"].items()):
            lines.append(doc(["Ignore"], {"Ignore": ignore, "Suppressed": count}))
        for counter, (metric, dimension) in ACCESS_DENIED_METRICS.items():
            with self._lock:
                count = self.totals.get(counter, 0)
            if access_denied and count:
                values = {"AccessDenied": dimension, metric: count}
                lines.append(doc(["AccessDenied"], values, ACCESS_DENIED_NAMESPACE))
        return lines

    def emit(
        self, namespace: str, stream: IO[str] | None = None, access_denied: bool = False
    ) -> None:
        out = stream or sys.stdout
        for line in self.emf_lines(namespace, access_denied=access_denied):
            out.write(line + "\n")
        out.flush()
