"""Pipeline stage 3 (checks) — CloudTrail-aware lint over parsed rule files.

`.ctr text → parser → nodes → **checks** → compiler → RuleSet`. These checks know nothing about
the language's validity (the core checker does that); they compare the literals a rule set uses
against the CloudTrail catalog (`ctrules.catalog`) and report probable mistakes as warnings:

* CTR107 — an `eventName` no service emits (`StopLoging` → "did you mean StopLogging?"), or an
  `eventSource` the catalog does not know.
* CTR108 — an `eventName` that the `eventSource` the same rule requires never emits
  (`eventSource == "s3.amazonaws.com" and eventName == "StopLogging"`).

Both are warnings: the catalog is generated from API models and may lag behind AWS, and a rule
with an unknown name is still a valid (if never-matching) rule.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterator, Sequence
from dataclasses import dataclass

from .. import catalog
from .. import nodes as n
from ..binding import list_items
from ..compiler import Scope
from ..diagnostics import Diagnostic

UNKNOWN_NAME = "CTR107"
NAME_NOT_FROM_SOURCE = "CTR108"

_VERB = {"startswith": "starts with", "endswith": "ends with"}
_EVENT_NAME = ("eventName",)
_EVENT_SOURCE = ("eventSource",)


@dataclass(frozen=True)
class _Lit:
    value: str
    span: n.Span | None


MAX_SUGGESTIONS = 20
"""How many unknown names get a "did you mean" (each is a fuzzy search of ~16,000 names, about
10 ms): a generated file of thousands of unknown names is still checked in bounded time."""


class _Scope:
    def __init__(self, files: Sequence[n.RuleFile]):
        lists: dict[str, n.ListLit] = {}
        macros: dict[str, n.MacroDecl] = {}
        for f in files:
            for decl in f.decls:
                if isinstance(decl, n.ListDecl):
                    lists.setdefault(decl.name, decl.items)
                elif isinstance(decl, n.MacroDecl):
                    macros.setdefault(decl.name, decl)
        self.names = Scope(lists, macros)
        self.constraints: dict[str, frozenset[str] | None] = {}  # _source_constraint per macro
        self.suggested: set[str] = set()


def cloudtrail_findings(files: list[n.RuleFile]) -> list[Diagnostic]:
    """CTR107/CTR108 warnings for a whole rule set (all files share one namespace)."""
    scope = _Scope(files)
    out: dict[tuple[str, str, int, int, str], Diagnostic] = {}

    def add(d: Diagnostic) -> None:
        out.setdefault((d.code, d.span.file, d.span.line, d.span.col, d.message), d)

    for f in files:
        for decl in f.decls:
            fallback = decl.span or n.Span(f.path, 1, 1, 1, 1)
            expr: n.Expr | None
            if isinstance(decl, n.MacroDecl):
                expr = decl.expr
            elif isinstance(decl, (n.RuleDecl, n.IgnoreDecl, n.RouteDecl)):
                expr = decl.when
            else:
                continue
            if expr is None:
                continue
            expr = scope.names.bind(expr)
            for d in _unknown_names(expr, scope, fallback):
                add(d)
            if isinstance(decl, (n.RuleDecl, n.IgnoreDecl)):
                kind = "rule" if isinstance(decl, n.RuleDecl) else "ignore"
                for d in _source_mismatches(expr, scope, fallback, f"{kind} {decl.name}"):
                    add(d)
    return sorted(out.values(), key=lambda d: (d.span.file, d.span.line, d.span.col, d.code))


# ---- walking ----------------------------------------------------------------------------


def _is_root_field(op: n.Operand, segments: tuple[str, ...], in_quantifier: bool) -> bool:
    if not isinstance(op, n.Path) or op.segments != segments:
        return False
    return op.anchor == "event" or (op.anchor == "rel" and not in_quantifier)


def _literals(op: n.Operand, scope: _Scope) -> list[_Lit] | None:
    """The string literals an operand stands for (a literal, a list, a declared list name)."""
    if isinstance(op, n.Literal_):
        return [_Lit(op.value, op.span)] if isinstance(op.value, str) else []
    items = list_items(op)
    if items is not None:
        return [_Lit(i.value, i.span) for i in items.items
                if isinstance(i, n.Literal_) and isinstance(i.value, str)]
    return None


def _conditions(expr: n.Expr, scope: _Scope, in_quantifier: bool = False,
                seen: set[tuple[str, bool]] | None = None) -> Iterator[tuple[n.Expr, bool]]:
    """Every condition reachable from `expr` (each macro expanded once), with its quantifier
    flag."""
    seen = set() if seen is None else seen
    if isinstance(expr, (n.And, n.Or)):
        for e in expr.operands:
            yield from _conditions(e, scope, in_quantifier, seen)
    elif isinstance(expr, n.Not):
        yield from _conditions(expr.operand, scope, in_quantifier, seen)
    elif isinstance(expr, n.Quantifier):
        yield from _conditions(expr.body, scope, True, seen)
    elif isinstance(expr, n.MacroUse):
        if (expr.name, in_quantifier) not in seen:
            seen.add((expr.name, in_quantifier))
            yield from _conditions(expr.body, scope, in_quantifier, seen)
    elif not isinstance(expr, n.MacroRef):  # an unbound one: undefined or a cycle (CTR010/011)
        yield expr, in_quantifier


def _suggest(scope: _Scope, value: str, find: Callable[[str], str | None]) -> str | None:
    if value not in scope.suggested and len(scope.suggested) >= MAX_SUGGESTIONS:
        return None
    scope.suggested.add(value)
    return find(value)


def _name_literals(cond: n.Expr, field: tuple[str, ...], scope: _Scope,
                   in_quantifier: bool) -> list[_Lit]:
    """Literals a condition compares `field` with by equality or membership."""
    if isinstance(cond, n.Compare) and cond.op in ("==", "!="):
        if _is_root_field(cond.left, field, in_quantifier):
            if isinstance(cond.right, n.Literal_):
                return _literals(cond.right, scope) or []
    elif isinstance(cond, n.InTest) and _is_root_field(cond.left, field, in_quantifier):
        return _literals(cond.right, scope) or []
    return []


def _unknown_names(expr: n.Expr, scope: _Scope, fallback: n.Span) -> Iterator[Diagnostic]:
    cat = catalog.load()
    # (field, the values the catalog knows, how to guess the meant one, message, hint)
    known: tuple[tuple[tuple[str, ...], Container[str], Callable[[str], str | None], str, str],
                 ...] = (
        (_EVENT_NAME, cat.event_names, catalog.suggest_event_name,
         "no AWS service emits eventName {!r}",
         "the catalog is generated from botocore's API models (scripts/build_catalog.py)"),
        (_EVENT_SOURCE, cat.event_sources, catalog.suggest_event_source,
         "no AWS service logs as eventSource {!r}",
         "eventSource is the service's endpoint host, e.g. \"iam.amazonaws.com\""),
    )
    for cond, in_q in _conditions(expr, scope):
        for field, values, suggest, message, hint in known:
            for lit in _name_literals(cond, field, scope, in_q):
                if lit.value not in values:
                    meant = _suggest(scope, lit.value, suggest)
                    yield Diagnostic(
                        UNKNOWN_NAME, "warning",
                        message.format(lit.value) + (f"; did you mean {meant}?" if meant else ""),
                        lit.span or fallback, hint)
        if isinstance(cond, n.StringTest) and cond.op in ("startswith", "endswith") \
                and _is_root_field(cond.left, _EVENT_NAME, in_q):
            for lit in _literals(cond.right, scope) or []:
                test = str.startswith if cond.op == "startswith" else str.endswith
                if not any(test(name, lit.value) for name in cat.event_names):
                    yield Diagnostic(
                        UNKNOWN_NAME, "warning",
                        f"no eventName that an AWS service emits {_VERB[cond.op]} {lit.value!r}",
                        lit.span or fallback,
                    )


def _source_constraint(expr: n.Expr, scope: _Scope) -> frozenset[str] | None:
    """The eventSources a condition pins the record to, when it is such a condition."""
    if isinstance(expr, n.MacroUse):
        if expr.name not in scope.constraints:  # once per macro, however often it is used
            scope.constraints[expr.name] = _source_constraint(expr.body, scope)
        return scope.constraints[expr.name]
    if isinstance(expr, n.Compare) and expr.op == "==" \
            and _is_root_field(expr.left, _EVENT_SOURCE, False) \
            and isinstance(expr.right, n.Literal_) and isinstance(expr.right.value, str):
        return frozenset((expr.right.value,))
    if isinstance(expr, n.InTest) and not expr.negated \
            and _is_root_field(expr.left, _EVENT_SOURCE, False):
        lits = _literals(expr.right, scope)
        return frozenset(lit.value for lit in lits) if lits else None
    if isinstance(expr, n.Or):
        parts = [_source_constraint(e, scope) for e in expr.operands]
        if all(p is not None for p in parts):
            return frozenset().union(*(p for p in parts if p is not None))
        return None
    if isinstance(expr, n.And):
        found: frozenset[str] | None = None
        for e in expr.operands:
            part = _source_constraint(e, scope)
            if part is not None:
                found = part if found is None else found & part
        return found
    return None


def _source_mismatches(expr: n.Expr, scope: _Scope, fallback: n.Span,
                       who: str) -> Iterator[Diagnostic]:
    yield from _walk_sources(expr, scope, None, fallback, who, set())


def _walk_sources(expr: n.Expr, scope: _Scope, sources: frozenset[str] | None,
                  fallback: n.Span, who: str,
                  walked: set[tuple[str, frozenset[str] | None]]) -> Iterator[Diagnostic]:
    """`walked`: the (macro, pinned sources) pairs already looked at, which would only repeat
    their findings."""
    if isinstance(expr, n.And):
        pinned = _source_constraint(expr, scope)
        if pinned is not None:
            sources = pinned if sources is None else sources & pinned
        for e in expr.operands:
            yield from _walk_sources(e, scope, sources, fallback, who, walked)
    elif isinstance(expr, n.Or):
        for e in expr.operands:
            yield from _walk_sources(e, scope, sources, fallback, who, walked)
    elif isinstance(expr, n.Not):
        yield from _walk_sources(expr.operand, scope, sources, fallback, who, walked)
    elif isinstance(expr, n.MacroUse):
        if (expr.name, sources) not in walked:
            walked.add((expr.name, sources))
            yield from _walk_sources(expr.body, scope, sources, fallback, who, walked)
    elif isinstance(expr, n.MacroRef):
        return  # unbound: undefined or a cycle (CTR010/CTR011)
    elif sources:
        yield from _check_names(expr, scope, sources, fallback, who)


def _check_names(cond: n.Expr, scope: _Scope, sources: frozenset[str], fallback: n.Span,
                 who: str) -> Iterator[Diagnostic]:
    cat = catalog.load()
    known = [s for s in sources if s in cat.event_sources]
    if len(known) != len(sources):
        return  # an unknown source is CTR107's business; don't guess what it emits
    for lit in _name_literals(cond, _EVENT_NAME, scope, False):
        if lit.value not in cat.event_names:
            continue  # reported as CTR107
        if any(lit.value in cat.event_sources[s] for s in known):
            continue
        # Shortest host first: `s3.amazonaws.com` before `data.mediastore.amazonaws.com`.
        emitters = sorted(cat.sources_emitting(lit.value), key=lambda s: (s.count("."), s))
        where = ", ".join(emitters[:3]) + (", ..." if len(emitters) > 3 else "")
        required = " or ".join(sorted(known))
        yield Diagnostic(
            NAME_NOT_FROM_SOURCE, "warning",
            f"{who} requires eventSource {required}, which never emits eventName "
            f"{lit.value!r} (it comes from {where})",
            lit.span or fallback,
            "this comparison can never match; check the eventSource or the eventName",
        )
