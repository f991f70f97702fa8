"""Stateful rules — `ctrules run` over local files, with the in-memory store.

The events each stateful rule selects are folded as they are read (`Pending`: per rule, key and
window, only what deciding and the alert need — memory bounded by keys and windows, not by
events) and decided in one batch at the end: the answer is the same whatever the order of the
files and of the records in them (tests/stateful)."""

from __future__ import annotations

import sys
from collections import Counter
from typing import IO, TYPE_CHECKING, Any

from .engine import StatefulEngine
from .store import MemoryStore

if TYPE_CHECKING:
    from ..ruleset import RuleSet


class StatefulRun:
    def __init__(self, ruleset: RuleSet):
        self.engine = StatefulEngine(ruleset, MemoryStore())
        self.pending = self.engine.pending()
        self.delivery_failures = 0
        self._observe = self.engine.observe

    def collect(self, record: Any) -> None:
        observations = self._observe(record)
        if observations:
            add = self.pending.add
            for ob in observations:
                add(ob)

    def finish(self, out: IO[bytes], counts: Counter[str], sink: Any,
               include_ignored: bool) -> None:
        pending, self.pending = self.pending, self.engine.pending()
        alerts = self.engine.process(pending)
        for alert in alerts:
            counts[alert.rule] += 1
            out.write(alert.to_json()[0] + b"\n")
        out.flush()
        if self.engine.stats.no_time:
            print(f"ctrules run: {self.engine.stats.no_time} record(s) selected by stateful rules "
                  "had no usable eventTime and were not counted", file=sys.stderr)
        if sink is not None and alerts:
            report = sink.deliver(alerts)
            self.delivery_failures += len(report.failures)
            for failure in report.failures:
                print(f"ctrules run: delivery to {failure.destination} failed: {failure.reason}",
                      file=sys.stderr)
