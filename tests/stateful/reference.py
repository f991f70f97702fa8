"""A reference model of stateful rules: the alerts a whole event list decides, computed from the
list sorted by event time, by brute force, sentence by sentence from docs/language.md.

It shares no code with ctrules.stateful (only the `when` of each rule is evaluated by the
compiler, which has its own reference tests): property tests compare the streaming engine —
any arrival order, any batches, late events within the tolerance — with this model.

An alert is identified by (rule, key, window): for count, distinct and sequence the window is
the epoch-aligned window start (of the last step's time, for a sequence); for first_seen it is
the key's value and the episode's start is not part of the identity (an out-of-order arrival may
start the episode at another of its events, never in another number of alerts).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from ctrules import nodes as n
from ctrules.compiler import compile_expr
from ctrules.ruleset import RuleSet

Identity = tuple[str, tuple[str, ...], Any]


def _time(event: dict[str, Any]) -> int | None:
    raw = event.get("eventTime")
    if not isinstance(raw, str):
        return None
    return int(dt.datetime.strptime(raw, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=dt.UTC).timestamp())


def _get(event: dict[str, Any], path: n.Path) -> Any:
    value: Any = event
    for seg in path.segments:
        value = value.get(seg) if isinstance(value, dict) else None
    return value


def _key(event: dict[str, Any], spec: n.Stateful) -> tuple[str, ...]:
    return tuple("-" if _get(event, p) is None else str(_get(event, p)) for p in spec.key)


def reference_alerts(ruleset: RuleSet, events: list[dict[str, Any]]) -> list[Identity]:
    """Sorted alert identities (first_seen ones may repeat: one per episode)."""
    out: list[Identity] = []
    for decl in ruleset.stateful_decls:
        spec = decl.stateful
        assert spec is not None and decl.when is not None
        when = compile_expr(decl.when, ruleset.scope)
        chosen = sorted(((_time(e), e) for e in events
                         if when(e, e) and _time(e) is not None), key=lambda p: p[0])
        window = spec.window.seconds
        if spec.kind in ("count", "distinct"):
            cells: dict[tuple[tuple[str, ...], int], set[str]] = defaultdict(set)
            for t, e in chosen:
                if spec.kind == "count":
                    cells[(_key(e, spec), t // window)].add(e["eventID"])
                else:
                    v = _get(e, spec.value)  # type: ignore[arg-type]
                    if v is not None:
                        cells[(_key(e, spec), t // window)].add(str(v))
            for (key, index), members in cells.items():
                if len(members) >= (spec.threshold or 1):
                    out.append((decl.name, key, index * window))
        elif spec.kind == "first_seen":
            last: dict[tuple[tuple[str, ...], str], int] = {}
            for t, e in chosen:
                value = "-" if spec.value is None else str(_get(e, spec.value) or "-")
                ident = (_key(e, spec), value)
                if ident not in last or t - last[ident] > window:
                    out.append((decl.name, ident[0], value if spec.value is not None else None))
                last[ident] = t
        else:
            steps = [compile_expr(s, ruleset.scope) for s in spec.steps]
            by_key: dict[tuple[str, ...], list[tuple[int, dict[str, Any]]]] = defaultdict(list)
            for t, e in chosen:
                by_key[_key(e, spec)].append((t, e))
            for key, items in by_key.items():
                buckets = set()
                for t_end, e_end in items:
                    if steps[-1](e_end, e_end) and _chain(items, steps, len(steps) - 2, t_end,
                                                          t_end - window):
                        buckets.add(t_end // window)
                out.extend((decl.name, key, b * window) for b in buckets)
    return sorted(out, key=repr)


def _chain(items: list[tuple[int, dict[str, Any]]], steps: list[Any], i: int, before: int,
           earliest: int) -> bool:
    """Is there an event for step i strictly before `before`, not before `earliest`, that
    continues back to step 0?"""
    if i < 0:
        return True
    return any(earliest <= t < before and steps[i](e, e) and _chain(items, steps, i - 1, t, earliest)
               for t, e in items)
