"""Stateful rules — which fields of a record selecting and observing it reads.

`ctrules run` and the consumer decode in full only the records some per-event rule may match;
a record that only the stateful rules' selection may match is decoded in part — the fields
this module names — observed on that part, and decoded in full only if an alert shows it
(`sources.logfile.Deferred`). A part that holds every path an expression reads gives that
expression the same value as the whole record (a path that ends at a value, or enters an array,
decodes all of it: `sources.lazy`), so the selection and the observations are the same.

Read: the rules' `when`s and the ignores (selecting), their keys, values and sequence steps,
`eventTime` and `eventID` (observing), and the dispatch fields. None when some expression
reads the record as a whole (`it` outside a quantifier) or cannot be followed (an unbound
macro): such a rule set is decoded in full.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from .. import nodes as n

if TYPE_CHECKING:
    from .engine import StatefulEngine

PathKey = tuple[str | int, ...]

OBSERVED: tuple[PathKey, ...] = (
    ("eventTime",), ("eventID",),
    ("eventSource",), ("eventName",), ("errorCode",), ("userIdentity", "type"))
"""Read for every selected record: its time and id (engine.observe), the dispatch fields."""


def expression_paths(exprs: Iterable[n.Expr]) -> set[PathKey] | None:
    """The record paths bound expressions read (a quantifier's own path stands for everything
    its body reads relative to the elements), or None when one reads the whole record."""
    out: set[PathKey] = set()
    seen: set[tuple[str, bool]] = set()  # macro bodies already read, per context

    def visit(node: n.Expr, inside: bool) -> bool:
        match node:
            case n.Path():
                if node.anchor == "event" or (node.anchor in ("rel", "it") and not inside):
                    if not node.segments:
                        return False  # the record itself
                    out.add(node.segments)
                return True  # relative to a quantifier's element, or a route's `rule.`
            case n.Quantifier():
                return visit(node.path, inside) and visit(node.body, True)
            case n.MacroRef():
                return False  # not bound: the compiler refuses it; never guess
            case n.MacroUse():
                if (node.name, inside) in seen:
                    return True
                seen.add((node.name, inside))
                return visit(node.body, inside)
            case _:
                return all(visit(child, inside) for child in n.children(node))

    for expr in exprs:
        if not visit(expr, False):
            return None
    return out


def stateful_paths(engine: StatefulEngine) -> frozenset[PathKey] | None:
    """Every path the engine's stateful rules read to select and observe a record."""
    exprs: list[n.Expr] = []
    selector = engine.selector
    for f in selector.files:
        for d in f.decls:
            if isinstance(d, (n.RuleDecl, n.IgnoreDecl)) and d.when is not None:
                exprs.append(selector.scope.bind(d.when))
    for spec in engine.specs.values():
        assert spec.decl.stateful is not None
        bound = engine.ruleset.scope.binder.bind_stateful(spec.decl.stateful)
        exprs.extend(bound.steps)
        exprs.extend(bound.key)
        if bound.value is not None:
            exprs.append(bound.value)
    found = expression_paths(exprs)
    if found is None:
        return None
    return frozenset(found | set(OBSERVED))
