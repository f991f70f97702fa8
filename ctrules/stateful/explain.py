"""Stateful rules — `ctrules explain`: the state that decided.

The records given to `explain` are run through the stateful rules together (sorted by event
time, in memory, as `ctrules run` does); for each stateful rule this prints every key's state —
the count or distinct values per window against the threshold, the first sighting, the steps
of a sequence seen — and the alerts it decided.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import orjson

from .engine import StatefulEngine, iso
from .store import MemoryStore

if TYPE_CHECKING:
    from ..ruleset import RuleSet


def explain_stateful(ruleset: RuleSet, records: Iterable[Any], only: str | None = None) -> str:
    decls = [d for d in ruleset.stateful_decls if only is None or d.name == only]
    if not decls:
        return ""
    store = MemoryStore()
    engine = StatefulEngine(ruleset, store, rules=decls)
    alerts = engine.run(records)
    lines: list[str] = []
    for decl in decls:
        spec = decl.stateful
        assert spec is not None
        keys = ", ".join(".".join(map(str, p.segments)) for p in spec.key) or "(one key)"
        lines.append(f"stateful rule {decl.name}: {spec.kind} by [{keys}] within "
                     f"{spec.window.text}")
        prefix = decl.name + "|"
        for item, sets in sorted(store.sets.items()):
            if not item.startswith(prefix):
                continue
            _, kind, key, *rest = item.split("|")
            shown = ", ".join(orjson.loads(key)) or "-"
            if kind == "w":
                held = len(sets.get("m", ()))
                what = "events" if spec.kind == "count" else "distinct values"
                verdict = "reached" if held >= (spec.threshold or 1) else "below"
                lines.append(f"  key {shown}, window from {iso(int(rest[0]))}: {held} {what} "
                             f"(threshold {spec.threshold}: {verdict})")
            else:
                steps = [len(sets.get(f"s{i}", ())) for i in range(len(spec.steps))]
                lines.append(f"  key {shown}: times seen per step {steps}")
        for item, seen in sorted(store.seen.items()):
            if item.startswith(prefix):
                _, _, key, *value = item.split("|")
                shown = ", ".join(orjson.loads(key)) or "-"
                extra = f", value {value[0]}" if value else ""
                lines.append(f"  key {shown}{extra}: first seen {iso(seen.first)}, last "
                             f"{iso(seen.last)}")
        for alert in alerts:
            if alert.rule == decl.name:
                lines.append(f"  ALERT: {alert.summary}")
        if engine.stats.no_time:
            lines.append(f"  ({engine.stats.no_time} record(s) without eventTime not counted)")
    return "\n".join(lines)
