"""Stateful rules — `ctrules run` over local files, with the in-memory store.

The events each stateful rule selects are collected across every file, sorted by event time
and decided in one batch at the end: the answer is the same whatever the order of the files and
of the records in them (tests/stateful)."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import IO, TYPE_CHECKING, Any

import orjson

from .engine import Observation, StatefulEngine
from .store import MemoryStore

if TYPE_CHECKING:
    from ..ruleset import RuleSet


class StatefulRun:
    def __init__(self, ruleset: RuleSet):
        self.engine = StatefulEngine(ruleset, MemoryStore())
        self.observations: list[Observation] = []
        self.delivery_failures = 0

    def collect(self, record: Any) -> None:
        # Held until every file is read: kept as JSON bytes (several times smaller than the
        # decoded dict), decoded again only for the events an alert shows.
        for ob in self.engine.observe(record):
            self.observations.append(replace(ob, event=CompactEvent(orjson.dumps(ob.event,
                                                                                default=str))))

    def finish(self, out: IO[bytes], counts: Counter[str], sink: Any,
               include_ignored: bool) -> None:
        observations, self.observations = self.observations, []
        observations.sort(key=lambda o: (o.time, o.event_id, o.rule))
        alerts = self.engine.process(observations)
        for alert in alerts:
            counts[alert.rule] += 1
            out.write(orjson.dumps(alert.to_dict(), default=str) + b"\n")
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


class CompactEvent(Mapping[str, Any]):
    """A record held as JSON bytes, decoded on first use."""

    __slots__ = ("_raw", "_data")

    def __init__(self, raw: bytes):
        self._raw = raw
        self._data: dict[str, Any] | None = None

    def _decoded(self) -> dict[str, Any]:
        if self._data is None:
            self._data = orjson.loads(self._raw)
        return self._data

    def __getitem__(self, key: str) -> Any:
        return self._decoded()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._decoded())

    def __len__(self) -> int:
        return len(self._decoded())
