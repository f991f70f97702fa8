"""Pipeline stage 3 (checks) — constant analysis: a small three-valued analysis over bound `when`s.

Sound for well-formed CloudTrail records: it claims that a `when` (or one condition) is always
true or always false only when that holds for every such record (CTR105, CTR106, CTR113).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from .. import nodes as n
from ..formatter import format_expr
from .types import EVENT_TYPE, _resolve, _value_key

_ASCII_UPPER = re.compile(r"[A-Z]")
_ASCII_LOWER = re.compile(r"[a-z]")


def shown(node: n.Expr) -> str:
    """A node as `fmt` writes it, for messages."""
    return format_expr(node, 1 << 62)


class _Constants:
    """The three-valued constant analysis of one bound `when` (macros are MacroUse nodes)."""

    def __init__(self, list_items: Callable[[n.Operand], tuple[n.Value, ...] | None]):
        self.list_items = list_items
        self.conflict: Any = None  # the field whose tests contradicted, for CTR105's hint

    def why_false(self, when: n.Expr) -> str:
        for leaf, pol in self.leaves(when, True, True):
            if self.const(leaf, pol, False) is False:
                reason = _why_atom_false(leaf)
                if leaf is when and reason:
                    return reason
                return f"`{shown(leaf)}` is never true" + (f": {reason}" if reason else "")
        if self.conflict is not None:
            name = ".".join(str(s) for s in self.conflict)
            return f"the tests of {name} contradict each other ({name} holds one value)"
        return "look for an empty list, contradictory tests of one field, or `false`"

    def const(self, e: n.Expr, pol: bool, nested: bool) -> bool | None:
        """Three-valued: True/False when `e` (`not e` if pol is False) has that value for every
        well-formed CloudTrail record, None when it depends on the record. `nested`: inside
        any/all, where bare paths start at an element."""
        match e:
            case n.BoolConst():
                return e.value == pol
            case n.Not():
                return self.const(e.operand, not pol, nested)
            case n.MacroUse():
                return self.const(e.body, pol, nested)
            case n.And() | n.Or():
                conj = isinstance(e, n.And) == pol
                return self.combine(list(self.leaves(e, pol, conj)), conj, nested)
            case n.Quantifier():
                body = self.const(e.body, True, True)
                value: bool | None = None
                if e.kind == "any" and body is False:
                    value = False
                elif e.kind == "all" and body is True:
                    value = True
                return None if value is None else value == pol
        atom = _atom_const(e, self.list_items)
        return None if atom is None else atom == pol

    def leaves(self, e: n.Expr, pol: bool, conj: bool) -> Iterator[tuple[n.Expr, bool]]:
        """The operands of one n-ary conjunction (conj) or disjunction, through `not`, nested
        and/or of the same meaning, and macros."""
        if isinstance(e, n.Not):
            yield from self.leaves(e.operand, not pol, conj)
        elif isinstance(e, n.MacroUse):
            yield from self.leaves(e.body, pol, conj)
        elif isinstance(e, (n.And, n.Or)) and (isinstance(e, n.And) == pol) == conj:
            for child in e.operands:
                yield from self.leaves(child, pol, conj)
        else:
            yield e, pol

    def combine(self, leaves: list[tuple[n.Expr, bool]], conj: bool,
                nested: bool) -> bool | None:
        values = [self.const(e, pol, nested) for e, pol in leaves]
        absorbing = not conj  # False absorbs a conjunction, True a disjunction
        if absorbing in values:
            return absorbing
        if all(v == conj for v in values):
            return conj
        groups: dict[Any, list[tuple[frozenset[Any] | None, frozenset[Any]]]] = {}
        for (e, pol), v in zip(leaves, values, strict=True):
            if v is not None:
                continue
            constraint = self.constraint(e, pol, nested)
            if constraint is not None:
                field_key, allowed, excluded = constraint
                groups.setdefault(field_key, []).append((allowed, excluded))
        for key, constraints in groups.items():
            if conj:
                allowed_all: frozenset[Any] | None = None
                excluded_any: set[Any] = set()
                for allowed, excluded in constraints:
                    if allowed is not None:
                        allowed_all = allowed if allowed_all is None else allowed_all & allowed
                    excluded_any |= excluded
                if allowed_all is not None and not (allowed_all - excluded_any):
                    self.conflict = self.conflict or key
                    return False
            else:
                # The disjunction fails for a value v iff v is in every excluded set and in no
                # allowed set; with no negative test at all it fails for most values.
                negatives = [ex for al, ex in constraints if al is None]
                if not negatives:
                    continue
                fails = frozenset.intersection(*negatives)
                covered: set[Any] = set()
                for allowed, _ in constraints:
                    if allowed is not None:
                        covered |= allowed
                if fails <= covered:
                    return True
        return None

    def constraint(self, e: n.Expr, pol: bool, nested: bool
                   ) -> tuple[Any, frozenset[Any] | None, frozenset[Any]] | None:
        """`e` (or `not e`) as "the single value of field K is in / not in a set", for fields
        that hold one scalar value in every CloudTrail record."""
        if isinstance(e, n.Compare) and e.op in ("==", "!=") and isinstance(e.right, n.Literal_):
            key = _scalar_key(e.left, nested)
            if key is None:
                return None
            values = frozenset({_value_key(e.right.value)})
            positive = (e.op == "==") == pol
        elif isinstance(e, n.InTest) and not isinstance(e.right, n.Call):
            key = _scalar_key(e.left, nested)
            items = self.list_items(e.right)
            if key is None or items is None:
                return None
            # `in` is false for a null value, so null is never a member.
            values = frozenset(_value_key(v) for v in items if v is not None)
            positive = (not e.negated) == pol
        else:
            return None
        return (key, values, frozenset()) if positive else (key, None, values)


def _scalar_key(op: n.Operand, nested: bool) -> tuple[str | int, ...] | None:
    """A field that holds at most one scalar in every CloudTrail record (eventName, readOnly,
    userIdentity.arn, ...), keyed independently of an `event.` prefix; None otherwise. Inside
    any/all only `event.` paths qualify (bare ones start at an element)."""
    if not isinstance(op, n.Path) or not op.segments:
        return None
    if not (op.anchor == "event" or (op.anchor == "rel" and not nested)):
        return None
    ty, multi = _resolve(EVENT_TYPE, op.segments)
    if ty is None or multi or ty.kind not in ("str", "bool", "num"):
        return None
    return op.segments


def _atom_const(e: n.Expr, list_items: Callable[[n.Operand], tuple[n.Value, ...] | None]
                ) -> bool | None:
    """A condition that has the same value for every record."""
    if isinstance(e, n.InTest):
        if isinstance(e.right, n.Call):
            return None
        items = list_items(e.right)
        if items is None:
            return None
        possible = [v for v in items if v is not None]
        if not possible:
            return e.negated
        member = _function_can_equal(e.left, possible)
        if member is False:
            return e.negated
        return None
    if isinstance(e, n.Compare) and e.op not in ("==", "!=") and list_items(e.right) is not None:
        return False  # a list is neither a number nor a string
    if isinstance(e, n.Compare) and isinstance(e.right, n.Literal_):
        value = e.right.value
        if e.op in ("==", "!="):
            if value is None:
                return None
            can = _function_can_equal(e.left, [value])
            if can is False:
                return e.op == "!="
            return None
        if isinstance(e.left, n.Call) and e.left.name == "len":
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                return False
            if (e.op == "<" and value <= 0) or (e.op == "<=" and value < 0):
                return False
        if not isinstance(value, (int, float, str)) or isinstance(value, bool):
            return False  # ordering with null, a boolean or a list
        return None
    if isinstance(e, n.StringTest):
        if isinstance(e.right, n.Literal_):
            needles: list[n.Value] = [e.right.value]
        else:
            found = list_items(e.right)
            if found is None:
                return None
            needles = list(found)
        strings = [v for v in needles if isinstance(v, str)]
        if not strings:
            return False
        if isinstance(e.left, n.Call) and e.left.name in ("lower", "upper"):
            if all(_case_impossible(e.left.name, s) for s in strings):
                return False
        return None
    if isinstance(e, n.Glob) and isinstance(e.left, n.Call) and e.left.name in ("lower", "upper"):
        if _case_impossible(e.left.name, str(e.pattern.value)):
            return False
    return None


def _dead_condition(e: n.Expr, list_items: Callable[[n.Operand], tuple[n.Value, ...] | None]
                    ) -> tuple[bool, str] | None:
    """(its value, why) for a condition that is the same for every record for a reason other
    than a type mismatch (those are CTR101)."""
    value = _atom_const(e, list_items)
    if value is None:
        return None
    left = getattr(e, "left", None)
    case = (f"{left.name}() never returns {'capital' if left.name == 'lower' else 'small'} "
            "letters") if isinstance(left, n.Call) and left.name in ("lower", "upper") else None
    if isinstance(e, n.InTest):
        items = list_items(e.right) or ()
        if not [v for v in items if v is not None]:
            return value, "the list is empty" if not items else "`in` never matches null"
        return (value, case) if case else None
    if isinstance(e, n.Compare) and isinstance(e.right, n.Literal_):
        literal = e.right.value
        if case and isinstance(literal, str):
            return value, case
        if isinstance(left, n.Call) and left.name == "len" and isinstance(literal, (int, float)) \
                and not isinstance(literal, bool):
            return value, "len() is a count: a whole number, never negative"
        return None
    if isinstance(e, n.StringTest):
        needles = list_items(e.right)
        if needles is not None and not needles:
            return value, "the list is empty"
        return (value, case) if case else None
    if isinstance(e, n.Glob) and case:
        return value, case
    return None


def _why_atom_false(e: n.Expr) -> str | None:
    if isinstance(e, n.BoolConst):
        return None
    if isinstance(e, n.InTest):
        return "the list has no members a value can be in"
    left = getattr(e, "left", None)
    if isinstance(left, n.Call):
        if left.name == "lower":
            return "lower() never returns capital letters"
        if left.name == "upper":
            return "upper() never returns small letters"
        if left.name == "len":
            return "len() is a count: a whole number, never negative"
    if isinstance(e, n.StringTest):
        return f"`{e.op}` needs a string to look for"
    if isinstance(e, n.Compare):
        return "ordering is false with null, booleans and lists"
    return None


def _function_can_equal(left: n.Operand, values: Sequence[n.Value]) -> bool | None:
    """False when a function result can equal none of `values`; None when it may."""
    if not isinstance(left, n.Call):
        return None
    if left.name == "len":
        return None if any(
            isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 and v == int(v)
            for v in values) else False
    if left.name in ("lower", "upper"):
        return None if any(
            isinstance(v, str) and not _case_impossible(left.name, v) for v in values) else False
    return None


def _case_impossible(function: str, text: str) -> bool:
    """lower(x) never holds an ASCII capital, upper(x) never an ASCII small letter (the test
    suite checks this for every code point)."""
    pattern = _ASCII_UPPER if function == "lower" else _ASCII_LOWER
    return pattern.search(text) is not None
