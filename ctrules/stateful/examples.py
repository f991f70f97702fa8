"""Stateful rules — `ctrules test` for examples holding a list of records.

A list example runs its records through the rule together: a stateful rule through a fresh
in-memory engine (records sorted by event time, as `ctrules run` does), any other rule record by
record. "match" means at least one alert. Ignores and `enabled` do not apply, as for every
example.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import nodes as n
from ..alerts import Alert
from .engine import StatefulEngine
from .store import MemoryStore

if TYPE_CHECKING:
    from ..ruleset import RuleSet


def example_alerts(ruleset: RuleSet, decl: n.RuleDecl, example: n.Example) -> list[Alert]:
    """The alerts a stateful rule's example decides."""
    records: list[Any] = example.event if isinstance(example.event, list) else [example.event]
    engine = StatefulEngine(ruleset, MemoryStore(), rules=[decl], ignores=False)
    return engine.run(records)


def example_matches(ruleset: RuleSet, decl: n.RuleDecl, example: n.Example) -> bool:
    if decl.stateful is not None:
        return bool(example_alerts(ruleset, decl, example))
    records = example.event if isinstance(example.event, list) else [example.event]
    from ..compiler import compile_expr

    assert decl.when is not None
    pred = compile_expr(decl.when, ruleset.scope)
    return any(bool(pred(r, r)) for r in records if isinstance(r, dict))
