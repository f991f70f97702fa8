"""A reference interpreter for `.ctr` expressions: a direct, slow walk of the AST that follows
the spec sentence by sentence. It shares no code with ctrules.values or ctrules.compiler, so
property tests comparing the two can catch mistakes in either.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from ctrules import nodes as n

MISSING = object()
SEVERITY_ORDER = ["info", "low", "medium", "high", "critical"]


def reach(start: Any, segments: tuple[str | int, ...]) -> list[Any]:
    """All values a path reaches; MISSING for absent keys; [] when it reaches nothing."""
    current = [start]
    for seg in segments:
        following = []
        for value in current:
            following.extend(step(value, seg))
        current = following
    return current


def step(value: Any, seg: str | int) -> list[Any]:
    if isinstance(value, dict):
        key = seg if isinstance(seg, str) else str(seg)
        return [value[key]] if key in value else [MISSING]
    if isinstance(value, list):
        if isinstance(seg, int):
            return [value[seg]] if seg < len(value) else [MISSING]
        out = []
        for element in value:
            out.extend(step(element, seg))
        return out
    return [MISSING]


def flatten(value: Any) -> list[Any]:
    if isinstance(value, list):
        out = []
        for element in value:
            out.extend(flatten(element))
        return out
    return [None if value is MISSING else value]


def expanded(reached: list[Any]) -> list[Any]:
    out = []
    for value in reached:
        out.extend(flatten(value))
    return out if out else [None]


def unexpanded(reached: list[Any]) -> list[Any]:
    return [None if v is MISSING else v for v in reached] or [None]


def same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    if a is None and b is None:
        return True
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=False))
    if isinstance(a, dict) and isinstance(b, dict):
        return set(a) == set(b) and all(same(a[k], b[k]) for k in a)
    return False


def is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def order(op: str, a: Any, b: Any) -> bool:
    if not ((is_num(a) and is_num(b)) or (isinstance(a, str) and isinstance(b, str))):
        return False
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


class Reference:
    def __init__(self, lists: dict[str, tuple[Any, ...]] | None = None,
                 macros: dict[str, n.Expr] | None = None):
        self.lists = lists or {}
        self.macros = macros or {}

    def holds(self, e: n.Expr, record: Any, rule: dict[str, Any] | None = None) -> bool:
        root = record if isinstance(record, dict) else {}
        return self.ev(e, root, root, rule)

    def ev(self, e: Any, root: Any, cur: Any, rule: Any) -> bool:
        if isinstance(e, n.BoolConst):
            return e.value
        if isinstance(e, n.MacroRef):
            return self.ev(self.macros[e.name], root, cur, rule)
        if isinstance(e, n.Not):
            return not self.ev(e.operand, root, cur, rule)
        if isinstance(e, n.And):
            return all(self.ev(o, root, cur, rule) for o in e.operands)
        if isinstance(e, n.Or):
            return any(self.ev(o, root, cur, rule) for o in e.operands)
        if isinstance(e, n.Quantifier):
            elements = [v for v in expanded(self.reach(e.path, root, cur, rule)) if v is not None]
            results = [self.ev(e.body, root, x, rule) for x in elements]
            return any(results) if e.kind == "any" else all(results)
        if isinstance(e, n.Exists):
            return any(v is not MISSING for v in self.reach(e.path, root, cur, rule))
        if isinstance(e, n.Compare):
            if e.op == "!=":
                return not self.ev(n.Compare("==", e.left, e.right), root, cur, rule)
            if (isinstance(e.left, n.Path) and e.left.anchor == "rule"
                    and e.left.segments == ("severity",) and isinstance(e.right, n.Literal_)
                    and e.right.value in SEVERITY_ORDER):
                mine = rule["severity"] if rule else None
                if mine not in SEVERITY_ORDER:
                    return False
                a, b = SEVERITY_ORDER.index(mine), SEVERITY_ORDER.index(e.right.value)
                return a == b if e.op == "==" else order(e.op, a, b)
            as_list = self.as_list(e.right)
            if e.op == "==":
                if as_list is not None:
                    left = self.raw_side(e.left, root, cur, rule)
                    return any(same(v, as_list) for v in left)
                return any(same(a, b) for a in self.side(e.left, root, cur, rule)
                           for b in self.side(e.right, root, cur, rule))
            if as_list is not None:
                return False
            return any(order(e.op, a, b) for a in self.side(e.left, root, cur, rule)
                       for b in self.side(e.right, root, cur, rule))
        if isinstance(e, n.InTest):
            result = self.member(e, root, cur, rule)
            return not result if e.negated else result
        if isinstance(e, n.StringTest):
            as_list = self.as_list(e.right)
            needles = list(as_list) if as_list is not None else self.side(e.right, root, cur, rule)
            needles = [x for x in needles if isinstance(x, str)]
            for v in self.side(e.left, root, cur, rule):
                if not isinstance(v, str):
                    continue
                for s in needles:
                    if e.op == "contains" and s in v:
                        return True
                    if e.op == "startswith" and v.startswith(s):
                        return True
                    if e.op == "endswith" and v.endswith(s):
                        return True
            return False
        if isinstance(e, n.Matches):
            pattern = re.compile(str(e.pattern.value))
            return any(isinstance(v, str) and pattern.search(v) is not None
                       for v in self.side(e.left, root, cur, rule))
        if isinstance(e, n.Glob):
            regex = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch)
                            for ch in str(e.pattern.value))
            pattern = re.compile(regex, re.DOTALL)
            return any(isinstance(v, str) and pattern.fullmatch(v) is not None
                       for v in self.side(e.left, root, cur, rule))
        raise AssertionError(f"not a condition: {e!r}")

    def member(self, e: n.InTest, root: Any, cur: Any, rule: Any) -> bool:
        left = self.side(e.left, root, cur, rule)
        if isinstance(e.right, n.Call):  # cidr(...)
            nets = [ipaddress.ip_network(a.value, strict=False) for a in e.right.args]
            for v in left:
                if not isinstance(v, str):
                    continue
                try:
                    ip = ipaddress.ip_address(v)
                except ValueError:
                    continue
                if any(ip.version == net.version and ip in net for net in nets):
                    return True
            return False
        as_list = self.as_list(e.right)
        pool = list(as_list) if as_list is not None else self.side(e.right, root, cur, rule)
        return any(v is not None and b is not None and same(v, b) for v in left for b in pool)

    def as_list(self, operand: Any) -> tuple[Any, ...] | None:
        if isinstance(operand, n.ListLit):
            return operand.values()
        if (isinstance(operand, n.Path) and operand.anchor == "rel"
                and len(operand.segments) == 1 and operand.segments[0] in self.lists):
            return self.lists[operand.segments[0]]
        return None

    def reach(self, path: n.Path, root: Any, cur: Any, rule: Any) -> list[Any]:
        if path.anchor == "it":
            return [cur]
        if path.anchor == "rule":
            return reach(rule or {}, path.segments)
        start = root if path.anchor == "event" else cur
        return reach(start, path.segments)

    def side(self, operand: Any, root: Any, cur: Any, rule: Any) -> list[Any]:
        if isinstance(operand, n.Literal_):
            return [operand.value]
        if isinstance(operand, n.Path):
            return expanded(self.reach(operand, root, cur, rule))
        if isinstance(operand, n.Call):
            (arg,) = operand.args
            if operand.name == "len":
                if isinstance(arg, n.Path):
                    inner = unexpanded(self.reach(arg, root, cur, rule))
                else:
                    inner = self.side(arg, root, cur, rule)
                return [len(v) if isinstance(v, (str, list, dict)) else None for v in inner]
            inner = self.side(arg, root, cur, rule)
            if operand.name == "lower":
                return [v.lower() if isinstance(v, str) else None for v in inner]
            return [v.upper() if isinstance(v, str) else None for v in inner]
        raise AssertionError(f"not an operand: {operand!r}")

    def raw_side(self, operand: Any, root: Any, cur: Any, rule: Any) -> list[Any]:
        if isinstance(operand, n.Path):
            return unexpanded(self.reach(operand, root, cur, rule))
        return self.side(operand, root, cur, rule)
