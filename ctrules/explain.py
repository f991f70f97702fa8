"""Explain: why a rule did or did not match one record, clause by clause.

Used by `ctrules explain`, by `ctrules test` to say which clause decided a failing example, and
by Slack messages ("why"). It walks the AST and evaluates each clause with the same compiled
closures the engine uses, so an explanation can never disagree with a verdict.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, assert_never

from . import nodes as n
from .compiler import Pred, Scope, compile_expr, condition_paths, reach
from .formatter import format_expr
from .values import expand

_MAX_ELEMENTS = 5


@dataclass
class Trace:
    text: str
    result: bool
    kind: str  # and | or | not | macro | any | all | condition | element
    seen: list[tuple[str, str]] = field(default_factory=list)
    children: list[Trace] = field(default_factory=list)

    def deciding(self) -> list[Trace]:
        """The leaf clauses that decided this node's result."""
        if self.kind == "condition" or not self.children:
            return [self]
        if self.kind in ("not", "macro", "element"):
            return self.children[0].deciding()
        if self.kind in ("and", "all"):
            if self.result:
                return [leaf for c in self.children for leaf in c.deciding()]
            first = next((c for c in self.children if not c.result), self.children[0])
            return first.deciding()
        if self.kind in ("or", "any"):
            if self.result:
                first = next((c for c in self.children if c.result), self.children[0])
                return first.deciding()
            return [leaf for c in self.children for leaf in c.deciding()]
        return [leaf for c in self.children for leaf in c.deciding()]

    def line(self) -> str:
        mark = "✓" if self.result else "✗"
        seen = ", ".join(f"{path} = {value}" for path, value in self.seen)
        return f"{mark} {self.text}" + (f"   [{seen}]" if seen else "")

    def render(self, indent: int = 0) -> list[str]:
        out = ["  " * indent + self.line()]
        for child in self.children:
            out.extend(child.render(indent + 1))
        return out


@dataclass
class RuleTrace:
    rule: str
    matched: bool
    root: Trace | None
    enabled: bool = True

    def deciding_lines(self) -> list[str]:
        if self.root is None:
            return []
        return [t.line() for t in self.root.deciding()]

    def render(self) -> str:
        head = f"rule {self.rule}: {'MATCH' if self.matched else 'no match'}"
        if not self.enabled:
            head += " (disabled: never alerts)"
        lines = [head]
        if self.root is not None:
            lines.extend("  " + line for line in self.root.render())
        return "\n".join(lines)


def explain_rule(rule: n.RuleDecl, scope: Scope, record: Any,
                 cache: dict[tuple[str, int], Any] | None = None) -> RuleTrace:
    """`cache` keeps each clause's closure, text and path readers by node (pass the same dict
    for the same rule set, as RuleSet.why does for every alert it explains), so a rule's
    clauses are compiled and printed once, not per alert."""
    record = record if isinstance(record, dict) else {}
    if rule.when is None:
        return RuleTrace(rule.name, False, None, rule.enabled)
    root = _Explainer(scope, {} if cache is None else cache).trace(
        scope.bind(rule.when), record, record)
    return RuleTrace(rule.name, root.result, root, rule.enabled)


class _Explainer:
    def __init__(self, scope: Scope, cache: dict[tuple[str, int], Any]):
        self.scope = scope
        self.cache = cache  # by id(): the AST outlives the cache's owner

    def _cached(self, kind: str, node: Any, make: Callable[[], Any]) -> Any:
        key = (kind, id(node))
        found = self.cache.get(key)
        if found is None:
            found = self.cache[key] = make()
        return found

    def evaluate(self, e: n.Expr, root: Any, cur: Any) -> bool:
        pred: Pred = self._cached("pred", e, lambda: compile_expr(e, self.scope))
        return bool(pred(root, cur))

    def text(self, e: Any) -> str:
        text: str = self._cached("text", e, lambda: format_expr(e))
        return text

    def trace(self, e: n.Expr, root: Any, cur: Any) -> Trace:
        text = self.text(e)
        match e:
            case n.And() | n.Or():
                kind = "and" if isinstance(e, n.And) else "or"
                children = [self.trace(o, root, cur) for o in e.operands]
                return Trace(text, self.evaluate(e, root, cur), kind, children=children)
            case n.Not():
                return Trace(text, self.evaluate(e, root, cur), "not",
                             children=[self.trace(e.operand, root, cur)])
            case n.MacroUse():
                return Trace(text, self.evaluate(e, root, cur), "macro",
                             children=[self.trace(e.body, root, cur)])
            case n.Quantifier():
                elements = [v for v in expand(self._reach(e.path, root, cur)) if v is not None]
                children = []
                for index, element in enumerate(elements[:_MAX_ELEMENTS]):
                    inner = self.trace(e.body, root, element)
                    label = f"element {index}: {_show(element)}"
                    children.append(Trace(label, inner.result, "element", children=[inner]))
                trace = Trace(text, self.evaluate(e, root, cur), e.kind, children=children)
                trace.seen.append((self.text(e.path), f"{len(elements)} element(s)"))
                return trace
            case (n.Compare() | n.InTest() | n.StringTest() | n.Matches() | n.Glob() | n.Exists()
                  | n.BoolConst() | n.MacroRef() | n.Path() | n.Literal_() | n.ListLit()
                  | n.Call() | n.ListRef()):
                trace = Trace(text, self.evaluate(e, root, cur), "condition")
                for path in _paths(e, self.scope):
                    values = expand(self._reach(path, root, cur))
                    trace.seen.append((self.text(path), ", ".join(_show(v) for v in values[:5])
                                       + (", ..." if len(values) > 5 else "")))
                return trace
            case _:
                assert_never(e)

    def _reach(self, path: n.Path, root: Any, cur: Any) -> Any:
        return self._cached("reach", path, lambda: reach(path))(root, cur)


def _paths(e: Any, scope: Scope) -> list[n.Path]:
    """The record paths a condition reads, each once (rule.* is not from the record)."""
    out: list[n.Path] = []
    for path in condition_paths(e, scope) or ():
        if path.anchor != "rule" and path not in out:
            out.append(path)
    return out


def _show(value: Any) -> str:
    if value is None:
        return "null"
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return text if len(text) <= 80 else text[:77] + "..."
