"""Stateful rules — `ctrules explain`: the state that decided.

The records given to `explain` are run through the stateful rules together (sorted by event
time, in memory, as `ctrules run` does); for each stateful rule this prints every key's state —
the count or distinct values per window against the threshold, the first sighting, the steps
of a sequence seen — and the alerts it decided.
"""

from __future__ import annotations

import json
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
            kind, key, rest = _split(item, prefix)
            shown = _shown(key)
            if kind == "w":
                held = len(sets.get("m", ()))
                what = "events" if spec.kind == "count" else "distinct values"
                verdict = "reached" if held >= (spec.threshold or 1) else "below"
                lines.append(f"  key {shown}, window from {iso(int(rest))}: {held} {what} "
                             f"(threshold {spec.threshold}: {verdict})")
            else:
                steps = [len(sets.get(f"s{i}", ())) for i in range(len(spec.steps))]
                lines.append(f"  key {shown}: times seen per step {steps}")
        for item, seen in sorted(store.seen.items()):
            if item.startswith(prefix):
                _, key, value = _split(item, prefix)
                shown = _shown(key)
                extra = f", value {value}" if value else ""
                lines.append(f"  key {shown}{extra}: first seen {iso(seen.first)}, last "
                             f"{iso(seen.last)}")
        for alert in alerts:
            if alert.rule == decl.name:
                lines.append(f"  ALERT: {alert.summary}")
        if engine.stats.no_time:
            lines.append(f"  ({engine.stats.no_time} record(s) without eventTime not counted)")
    return "\n".join(lines)


def _shown(key: str) -> str:
    if key.startswith("h:"):
        return f"(a long key, hashed {key[2:14]}…)"
    return ", ".join(orjson.loads(key)) or "-"


def _split(item: str, prefix: str) -> tuple[str, str, str]:
    """An item name `rule|kind|key|rest` → (kind, key, rest); the key is JSON (or a hash) and
    may itself hold `|`."""
    kind, _, tail = item[len(prefix):].partition("|")
    if tail.startswith("h:"):
        key, _, rest = tail.partition("|")
        return kind, key, rest
    _, end = _JSON.raw_decode(tail)
    return kind, tail[:end], tail[end + 1:]


_JSON = json.JSONDecoder()
