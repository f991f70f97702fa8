"""Migration: `ctrules convert` — eval-string rules of the tool users migrate from → `.ctr` text.

Not a pipeline stage of its own: it produces `.ctr` source, which then goes through the usual
`parser → checks → compiler`. The old tool (fivexl/terraform-aws-cloudtrail-to-slack) keeps rules
as Python expressions over a *flattened* event (`{"userIdentity.arn": ..., "resources.0.ARN": ...}`)
and runs each rule through Python's eval on every event (true means match); a rule that raises
counts as "no match".

This module parses those strings with the standard `ast` module and never evaluates them. It
translates the patterns such rules use — `event["k"]`, `event.get("k", default)`, `"k" in event`,
`==`, `!=`, `<`.., `in`, `not in`, `.startswith`/`.endswith` (strings or tuples), `.lower()`/
`.upper()`, `and`/`or`/`not` — and keeps the old verdicts exactly, including the ones that come
from Python raising: `event["k"]` on a missing key, `.startswith` on a non-string value, an `or`
whose left side raised. It does so by translating every sub-expression twice: the condition under
which it evaluates to True without raising, and the one under which it evaluates to False without
raising. Everything else gets a message naming the rule and the construct.

Known, documented differences (docs/converting.md): `"k" in event` is `k exists`, which is also
true when `k` holds an object or array (the old flattening only kept leaves); a path without an
index reaches every element of an array, where the old flat key would be missing; fields the
CloudTrail catalog types as strings are assumed to hold strings when present.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from . import formatter, schema
from .nodes import KEYWORDS
from .parser import CtrSyntaxError

# ---- the old tool's default rules (fivexl/terraform-aws-cloudtrail-to-slack src/rules.py,
# tag 4.5.1, Apache-2.0), as runtime strings; `{function_name}` is its FUNCTION_NAME. -----------
FIVEXL_DEFAULT_FUNCTION_NAME = "fivexl-cloudtrail-to-slack"
FIVEXL_DEFAULT_RULES: tuple[tuple[str, str], ...] = (
    ("fivexl_console_login_without_mfa",
     'event["eventName"] == "ConsoleLogin" and event.get("additionalEventData.MFAUsed", "") '
     '!= "Yes" and "assumed-role/AWSReservedSSO" not in event.get("userIdentity.arn", "")'),
    ("fivexl_unauthorized_operation",
     'event.get("errorCode", "").endswith(("UnauthorizedOperation"))'),
    ("fivexl_access_denied",
     'event.get("errorCode", "").startswith(("AccessDenied"))and '
     '(event.get("userIdentity.accountId", "") != "ANONYMOUS_PRINCIPAL")'),
    ("fivexl_root_activity",
     'event.get("userIdentity.type", "") == "Root" and not '
     'event["eventName"].startswith(("Get", "List", "Describe", "Head"))'),
    ("fivexl_cloudtrail_stop_logging",
     'event["eventSource"] == "cloudtrail.amazonaws.com" and event["eventName"] == "StopLogging"'),
    ("fivexl_cloudtrail_update_trail",
     'event["eventSource"] == "cloudtrail.amazonaws.com" and event["eventName"] == "UpdateTrail"'),
    ("fivexl_cloudtrail_delete_trail",
     'event["eventSource"] == "cloudtrail.amazonaws.com" and event["eventName"] == "DeleteTrail"'),
    ("fivexl_alerting_lambda_configuration_changed",
     'event["eventSource"] == "lambda.amazonaws.com" and "responseElements.functionName" in event '
     'and event["responseElements.functionName"] == "{function_name}" '
     'and event["eventName"].startswith(("UpdateFunctionConfiguration"))'),
    ("fivexl_alerting_lambda_code_changed",
     'event["eventSource"] == "lambda.amazonaws.com" and "responseElements.functionName" in event '
     'and event["responseElements.functionName"] == "{function_name}" '
     'and event["eventName"].startswith(("UpdateFunctionCode"))'),
)


def fivexl_default_rules(
    function_name: str = FIVEXL_DEFAULT_FUNCTION_NAME,
) -> list[tuple[str, str]]:
    """(name, rule string) for the old tool's defaults, as it builds them at run time."""
    return [(name, text.replace("{function_name}", function_name))
            for name, text in FIVEXL_DEFAULT_RULES]


def events_to_track_rule(events_to_track: str) -> str:
    """The rule string the old tool builds from EVENTS_TO_TRACK (same construction)."""
    events = [e for e in events_to_track.replace(" ", "").split(",")]
    return f'"eventName" in event and event["eventName"] in {json.dumps(events)}'


class Untranslatable(Exception):
    """The rule uses a construct with no faithful `.ctr` equivalent."""


# ---- a tiny boolean IR over rendered `.ctr` conditions --------------------------------------


@dataclass(frozen=True)
class Atom:
    text: str
    negated: str | None = None  # a natural spelling of `not text` (`!=`, `not in`)
    field: str | None = None  # the single flat key it tests, for simplification
    on_missing: bool | None = None  # its value when `field` is missing or null
    is_exists: bool = False


@dataclass(frozen=True)
class Const:
    value: bool


@dataclass(frozen=True)
class Not:
    operand: IR


@dataclass(frozen=True)
class All:
    operands: tuple[IR, ...]


@dataclass(frozen=True)
class AnyOf:
    operands: tuple[IR, ...]


IR = Union[Atom, Const, Not, All, AnyOf]  # noqa: UP007 (a runtime alias, used before 3.12)
TRUE, FALSE = Const(True), Const(False)


def neg(x: IR) -> IR:
    if isinstance(x, Const):
        return Const(not x.value)
    if isinstance(x, Not):
        return x.operand
    if isinstance(x, Atom) and x.negated is not None:
        return Atom(x.negated, x.text, x.field,
                    None if x.on_missing is None else not x.on_missing)
    return Not(x)


def conj(*xs: IR) -> IR:
    out: list[IR] = []
    for x in xs:
        parts = x.operands if isinstance(x, All) else (x,)
        for p in parts:
            if p == FALSE:
                return FALSE
            if p != TRUE and p not in out:
                out.append(p)
    # `k exists and X` is X when X is false for a missing k (X true ⇒ k present).
    out = [p for p in out if not (isinstance(p, Atom) and p.is_exists and any(
        q is not p and _false_when_missing(q, p.field) for q in out))]
    if not out:
        return TRUE
    return out[0] if len(out) == 1 else All(tuple(out))


def disj(*xs: IR) -> IR:
    out: list[IR] = []
    for x in xs:
        parts = x.operands if isinstance(x, AnyOf) else (x,)
        for p in parts:
            if p == TRUE:
                return TRUE
            if p != FALSE and p not in out:
                out.append(p)
    if not out:
        return FALSE
    return out[0] if len(out) == 1 else AnyOf(tuple(out))


def _false_when_missing(x: IR, key: str | None) -> bool:
    if key is None:
        return False
    if isinstance(x, Atom):
        return x.field == key and x.on_missing is False
    if isinstance(x, All):
        return any(_false_when_missing(p, key) for p in x.operands)
    if isinstance(x, AnyOf):
        return all(_false_when_missing(p, key) for p in x.operands)
    return False


def render(x: IR, parent: str = "or") -> str:
    if isinstance(x, Const):
        # `.ctr` has true/false as conditions; a constant rule is legal but `check` flags it.
        return "true" if x.value else "false"
    if isinstance(x, Atom):
        return x.text
    if isinstance(x, Not):
        inner = render(x.operand, "not")
        return f"not {inner}"
    if isinstance(x, All):
        text = " and ".join(render(p, "and") for p in x.operands)
        return f"({text})" if parent == "not" else text
    text = " or ".join(render(p, "or") for p in x.operands)
    return f"({text})" if parent in ("and", "not") else text


# ---- Python AST → (true-condition, false-condition) ----------------------------------------

_RAISE = object()  # the outcome of a Python operation that raises


@dataclass(frozen=True)
class _Field:
    key: str
    strict: bool  # event["k"]: KeyError when missing
    default: Any = None  # event.get("k", default)
    funcs: tuple[str, ...] = ()  # .lower()/.upper() applied, innermost first


@dataclass(frozen=True)
class _Lit:
    value: Any


@dataclass
class _Both:
    """Conditions under which a Python sub-expression is True / False without raising."""

    true: IR
    false: IR
    can_raise: bool


_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def ctr_path(key: str, funcs: tuple[str, ...] = ()) -> str:
    """A flat key of the old tool (`resources.0.ARN`) as a `.ctr` path, wrapped in functions."""
    segments = key.split(".")
    out: list[str] = []
    for i, seg in enumerate(segments):
        if seg == "" or "`" in seg or "\n" in seg:
            raise Untranslatable(f"the key {key!r} has no `.ctr` path spelling")
        if seg.isdigit() and i > 0:
            out.append(seg)
        elif _NAME.match(seg) and not (i == 0 and (seg in KEYWORDS or seg == "event")):
            out.append(seg)
        else:
            out.append(f"`{seg}`")
    text = ".".join(out)
    for func in funcs:
        text = f"{func}({text})"
    return text


def ctr_literal(value: Any) -> str:
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        raise Untranslatable(f"the number {value!r} has no `.ctr` spelling")
    if value is None or isinstance(value, (bool, int, float, str)):
        return formatter.scalar(value)  # the printer's own spelling of literals
    if isinstance(value, (tuple, list, frozenset, set)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return "[" + ", ".join(ctr_literal(v) for v in items) + "]"
    raise Untranslatable(f"the value {value!r} has no `.ctr` spelling")


def _py_apply(op: str, left: Any, right: Any) -> Any:
    """Python's own result of `left OP right` on literal values, or _RAISE (no eval of text)."""
    try:
        if op == "==":
            return left == right
        if op == "!=":
            return left != right
        if op == "<":
            return left < right
        if op == "<=":
            return left <= right
        if op == ">":
            return left > right
        if op == ">=":
            return left >= right
        if op == "in":
            return left in right
        if op == "not in":
            return left not in right
        if op in ("startswith", "endswith"):
            if not isinstance(left, str):
                return _RAISE
            return bool(getattr(str, op)(left, right))
    except TypeError:
        return _RAISE
    raise AssertionError(op)


def _apply_funcs(value: Any, funcs: tuple[str, ...]) -> Any:
    for func in funcs:
        if not isinstance(value, str):
            return _RAISE
        value = value.lower() if func == "lower" else value.upper()
    return value


class _Translator:
    def __init__(self, source: str):
        self.source = source

    def snippet(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.source, node) or ast.unparse(node)

    def fail(self, node: ast.AST, what: str) -> Untranslatable:
        return Untranslatable(f"{what}: `{self.snippet(node)}`")

    # -- values --
    def value(self, node: ast.expr) -> _Field | _Lit:
        if isinstance(node, ast.Subscript) and self._is_event(node.value):
            key = self._const_str(node.slice, node)
            return _Field(key, strict=True)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            attr = node.func.attr
            if attr == "get" and self._is_event(node.func.value):
                if node.keywords or not 1 <= len(node.args) <= 2:
                    raise self.fail(node, "event.get takes a key and an optional default")
                key = self._const_str(node.args[0], node)
                default = self.literal(node.args[1]) if len(node.args) == 2 else None
                return _Field(key, strict=False, default=default)
            if attr in ("lower", "upper") and not node.args and not node.keywords:
                inner = self.value(node.func.value)
                if isinstance(inner, _Field):
                    return _Field(inner.key, inner.strict, inner.default, inner.funcs + (attr,))
                result = _apply_funcs(inner.value, (attr,))
                if result is _RAISE:
                    raise self.fail(node, "a method call that raises on every event")
                return _Lit(result)
        try:
            return _Lit(self.literal(node))
        except Untranslatable:
            pass
        raise self.fail(node, self._describe(node))

    def literal(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant) and not isinstance(node.value, (bytes, complex)) \
                and node.value is not Ellipsis:
            return node.value
        if isinstance(node, (ast.Tuple, ast.List)):
            return tuple(self.literal(e) for e in node.elts)
        if isinstance(node, ast.Set):
            return frozenset(self.literal(e) for e in node.elts)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) \
                and isinstance(node.operand, ast.Constant) \
                and isinstance(node.operand.value, (int, float)) \
                and not isinstance(node.operand.value, bool):
            return -node.operand.value
        raise self.fail(node, "not a literal value")

    def _is_event(self, node: ast.expr) -> bool:
        return isinstance(node, ast.Name) and node.id == "event"

    def _const_str(self, node: ast.expr, whole: ast.AST) -> str:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        raise self.fail(whole, "a field key that is not a string literal")

    def _describe(self, node: ast.AST) -> str:
        if isinstance(node, ast.Call):
            return "a function or method call other than event.get/startswith/endswith/lower/upper"
        if isinstance(node, ast.Name):
            return f"the name {node.id!r} (only `event` exists)"
        if isinstance(node, ast.Attribute):
            return "an attribute access"
        if isinstance(node, ast.Subscript):
            return "a subscript of something other than `event`"
        if isinstance(node, (ast.ListComp, ast.GeneratorExp, ast.SetComp, ast.DictComp)):
            return "a comprehension"
        if isinstance(node, ast.Lambda):
            return "a lambda"
        if isinstance(node, ast.BinOp):
            return "arithmetic or string operators"
        if isinstance(node, ast.IfExp):
            return "a conditional expression"
        return f"an unsupported construct ({type(node).__name__})"

    # -- conditions --
    def cond(self, node: ast.expr) -> _Both:
        if isinstance(node, ast.BoolOp):
            parts = [self.cond(v) for v in node.values]
            result = parts[0]
            for part in parts[1:]:
                result = (self._and(result, part) if isinstance(node.op, ast.And)
                          else self._or(result, part))
            return result
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            inner = self.cond(node.operand)
            return _Both(inner.false, inner.true, inner.can_raise)
        if isinstance(node, ast.Compare):
            if len(node.ops) != 1:
                raise self.fail(node, "a chained comparison")
            return self.compare(node, node.left, node.ops[0], node.comparators[0])
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in ("startswith", "endswith"):
            if len(node.args) != 1 or node.keywords:
                raise self.fail(node, f"{node.func.attr} with start/end positions")
            return self.string_method(node, node.func.attr, node.func.value, node.args[0])
        if isinstance(node, ast.Constant) and isinstance(node.value, bool):
            return _Both(Const(node.value), Const(not node.value), False)
        if isinstance(node, (ast.Subscript, ast.Call)) and not isinstance(node, ast.Compare):
            try:
                self.value(node)
            except Untranslatable:
                raise
            raise self.fail(node, "the truthiness of a field value (compare it explicitly)")
        raise self.fail(node, self._describe(node))

    @staticmethod
    def _and(a: _Both, b: _Both) -> _Both:
        false = disj(a.false, conj(a.true, b.false)) if a.can_raise else disj(a.false, b.false)
        return _Both(conj(a.true, b.true), false, a.can_raise or b.can_raise)

    @staticmethod
    def _or(a: _Both, b: _Both) -> _Both:
        true = disj(a.true, conj(a.false, b.true)) if a.can_raise else disj(a.true, b.true)
        return _Both(true, conj(a.false, b.false), a.can_raise or b.can_raise)

    def compare(self, node: ast.Compare, left_node: ast.expr, op_node: ast.cmpop,
                right_node: ast.expr) -> _Both:
        op = _CMP_OPS.get(type(op_node))
        if op is None:
            raise self.fail(node, f"the operator {ast.unparse(op_node).strip() or op_node}")
        # "k" in event / "k" not in event
        if op in ("in", "not in") and self._is_event(right_node):
            key = self._const_str(left_node, node)
            exists = Atom(f"{ctr_path(key)} exists", None, key, False, is_exists=True)
            t = exists if op == "in" else neg(exists)
            return _Both(t, neg(t), False)
        left, right = self.value(left_node), self.value(right_node)
        if isinstance(left, _Lit) and isinstance(right, _Lit):
            result = _py_apply(op, left.value, right.value)
            if result is _RAISE:
                return _Both(FALSE, FALSE, True)
            return _Both(Const(bool(result)), Const(not result), False)
        if isinstance(left, _Field) and isinstance(right, _Field):
            return self.field_vs_field(node, op, left, right)
        if op in ("in", "not in"):
            if isinstance(left, _Lit):  # "lit" in event.get("k", "")  → contains
                assert isinstance(right, _Field)
                if not isinstance(left.value, str):
                    raise self.fail(node, "a non-string literal tested for membership in a field")
                needle = left.value
                both = self.field_op(right, "contains", needle,
                                     lambda v: _py_apply("in", needle, v))
            else:
                assert isinstance(left, _Field) and isinstance(right, _Lit)
                if not isinstance(right.value, (tuple, frozenset)):
                    raise self.fail(node, "membership of a field in a string or non-list value")
                options = right.value
                both = self.field_op(left, "in", options,
                                     lambda v: _py_apply("in", v, options))
            if op == "not in":
                both = _Both(both.false, both.true, both.can_raise)
            return both
        if isinstance(left, _Lit):  # literal OP field: flip it
            assert isinstance(right, _Field)
            op = _FLIPPED[op]
            left, right = right, left
        assert isinstance(left, _Field) and isinstance(right, _Lit)
        value = right.value
        if isinstance(value, (tuple, frozenset)):
            raise self.fail(node, "a field compared with a whole list")
        return self.field_op(left, op, value, lambda v: _py_apply(op, v, value))

    def string_method(self, node: ast.Call, method: str, target: ast.expr,
                      arg: ast.expr) -> _Both:
        subject = self.value(target)
        prefix = self.literal(arg)
        if isinstance(prefix, frozenset) or (isinstance(prefix, tuple) and not all(
                isinstance(p, str) for p in prefix)) or not isinstance(prefix, (str, tuple)):
            raise self.fail(node, f"{method} with something other than a string or a tuple "
                                  "of strings")
        if isinstance(subject, _Lit):
            result = _py_apply(method, subject.value, prefix)
            if result is _RAISE:
                return _Both(FALSE, FALSE, True)
            return _Both(Const(bool(result)), Const(not result), False)
        return self.field_op(subject, method, prefix, lambda v: _py_apply(method, v, prefix))

    def field_op(self, f: _Field, op: str, value: Any,
                 py: Callable[[Any], Any]) -> _Both:
        """A condition on one field: a `.ctr` comparison plus Python's raising behaviour."""
        path = ctr_path(f.key, f.funcs)
        lit = ctr_literal(value) if not isinstance(value, tuple) or op == "in" else None
        if op in ("startswith", "endswith"):
            items = value if isinstance(value, tuple) else (value,)
            if not items:
                lit_text = None
            else:
                lit_text = ctr_literal(items[0]) if len(items) == 1 else ctr_literal(items)
            if lit_text is None:  # startswith(()) is always False for a string
                cond: IR = FALSE
            else:
                cond = Atom(f"{path} {op} {lit_text}", None, f.key, False)
            on_missing = False
        elif op == "contains":
            cond = Atom(f"{path} contains {lit}", None, f.key, False)
            on_missing = False
        elif op == "in":
            cond, on_missing = _membership(path, f.key, value)
        elif op in ("==", "!="):
            cond, on_missing = _membership(path, f.key, (value,))
            if op == "!=":
                cond, on_missing = neg(cond), not on_missing
        else:
            cond = Atom(f"{path} {op} {lit}", None, f.key, False)
            if not isinstance(value, str):
                # Python orders booleans as the integers 0 and 1; `.ctr` does not.
                extra = [Atom(f"{path} == {ctr_literal(b)}", f"{path} != {ctr_literal(b)}",
                              f.key, False)
                         for b in (True, False) if _py_apply(op, b, value) is True]
                cond = disj(cond, *extra)
            on_missing = False

        # When is the Python operation defined for a present value?
        known_string = schema.field_type(f.key) == "string"
        needs_string = bool(f.funcs) or op in ("startswith", "endswith", "contains") or (
            op in ("<", "<=", ">", ">=") and isinstance(value, str))
        needs_number = op in ("<", "<=", ">", ">=") and not isinstance(value, str)
        guard: IR = TRUE
        is_string = Atom(f'{ctr_path(f.key)} glob "*"', None, f.key, False)
        if needs_string and not known_string:
            guard = is_string
        elif needs_number:
            p = ctr_path(f.key)
            guard = Atom(f"({p} <= 0 or {p} > 0 or {p} in [true, false])", None, f.key, False)
        elif f.funcs and not known_string:
            guard = is_string
        # With .lower()/.upper() a non-string raises before the comparison.
        if f.funcs and guard == TRUE and not known_string:
            guard = is_string

        exists = Atom(f"{ctr_path(f.key)} exists", None, f.key, False, is_exists=True)
        if f.strict:
            missing: Any = _RAISE
        else:
            default = _apply_funcs(f.default, f.funcs)
            missing = _RAISE if default is _RAISE else py(default)

        # The comparison itself is false for a non-string (no guard needed for "true").
        cond_implies_string = (needs_string or needs_number) and op != "!=" \
            and not (op == "==" and value is None)

        def side(want: bool) -> IR:
            x = cond if want else neg(cond)
            x_on_missing = on_missing if want else not on_missing
            # A type guard (`k glob "*"`) already implies that the key exists.
            if guard != TRUE and not (want and cond_implies_string):
                present = conj(guard, x)
            else:
                present = conj(exists, x)
            if missing is _RAISE or bool(missing) != want:
                return present
            # (exists ∧ G ∧ X) ∨ ¬exists  =  (G ∧ X) ∨ ¬exists;  = X when G is trivial and
            # X already holds for a missing key.
            if guard == TRUE and x_on_missing:
                return x
            return disj(conj(guard, x) if guard != TRUE else x, neg(exists))

        can_raise = missing is _RAISE or guard != TRUE
        return _Both(side(True), side(False), can_raise)

    def field_vs_field(self, node: ast.Compare, op: str, a: _Field, b: _Field) -> _Both:
        if op not in ("==", "!="):
            raise self.fail(node, "two fields compared with an operator other than == or !=")
        if a.funcs or b.funcs or a.default is not None or b.default is not None:
            raise self.fail(node, "two fields compared with a default or a method call")
        guards = [Atom(f"{ctr_path(x.key)} exists", None, x.key, False, is_exists=True)
                  for x in (a, b) if x.strict]
        eq = Atom(f"{ctr_path(a.key)} == {ctr_path(b.key)}",
                  f"{ctr_path(a.key)} != {ctr_path(b.key)}")
        true, false = (eq, neg(eq)) if op == "==" else (neg(eq), eq)
        return _Both(conj(*guards, true), conj(*guards, false), bool(guards))


def _equivalents(value: Any) -> list[Any]:
    """The literals Python's == treats as equal to `value` but `.ctr` tells apart."""
    if value is True:
        return [True, 1]
    if value is False:
        return [False, 0]
    if isinstance(value, (int, float)) and value in (0, 1):
        return [value, value == 1]
    return [value]


def _membership(path: str, key: str, items: Sequence[Any] | frozenset[Any]) -> tuple[IR, bool]:
    """`path` equal (by Python's ==) to one of `items`; and its value for a missing field."""
    expanded: list[Any] = []
    for item in items:
        for e in _equivalents(item):
            if not any(type(e) is type(x) and e == x for x in expanded):
                expanded.append(e)
    rest = [e for e in expanded if e is not None]
    parts: list[IR] = []
    if len(rest) == 1:
        lit = ctr_literal(rest[0])
        parts.append(Atom(f"{path} == {lit}", f"{path} != {lit}", key, False))
    elif rest:
        lit = ctr_literal(rest)
        parts.append(Atom(f"{path} in {lit}", f"{path} not in {lit}", key, False))
    has_null = len(rest) != len(expanded)
    if has_null:  # `.ctr`'s `in [null]` is always false; Python's `None in (None,)` is not
        parts.append(Atom(f"{path} == null", f"{path} != null", key, True))
    return disj(*parts), has_null


_CMP_OPS: dict[type[ast.cmpop], str] = {
    ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
    ast.In: "in", ast.NotIn: "not in",
}
_FLIPPED = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def translate(rule: str, indent: str | None = None) -> str:
    """One rule string → a `.ctr` condition with the same verdicts. Raises Untranslatable.

    With `indent`, a long top-level conjunction is broken before each `and`."""
    text = rule.strip()
    if not text:
        raise Untranslatable("the rule is empty")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise Untranslatable(f"not valid Python ({exc.msg}); the old tool reported it as an "
                             "error on every event and never matched it") from None
    both = _Translator(text).cond(tree.body)
    result = render(both.true)
    if indent is not None and len(result) > 72 and isinstance(both.true, All):
        result = f"\n{indent}and ".join(render(p, "and") for p in both.true.operands)
    return result


# ---- whole configurations --------------------------------------------------------------------


@dataclass
class Problem:
    kind: str  # "rule" or "ignore rule"
    index: int
    name: str
    source: str
    message: str

    def __str__(self) -> str:
        return (f"{self.kind} {self.index} ({self.name}): {self.message}\n"
                f"    original: {self.source}")


@dataclass
class Conversion:
    text: str
    rules: list[str] = field(default_factory=list)
    ignores: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def _snake(name: str) -> str:
    s = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name)
    s = re.sub(r"[^A-Za-z0-9]+", "_", s).strip("_").lower()
    return s


def _suggest_name(rule: str, fallback: str) -> str:
    names = re.findall(r'event\[\s*"eventName"\s*\]\s*==\s*"([A-Za-z0-9]+)"', rule)
    if len(set(names)) == 1:
        return _snake(names[0]) or fallback
    return fallback


def _unique(name: str, taken: set[str]) -> str:
    if name in KEYWORDS or not _NAME.match(name):
        name = f"rule_{name}"
    candidate, i = name, 2
    while candidate in taken:
        candidate, i = f"{name}_{i}", i + 1
    taken.add(candidate)
    return candidate


def _comment(text: str) -> str:
    return "\n".join("# " + line if line else "#" for line in text.splitlines())


def _ctr_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def convert(
    rules: Sequence[str] = (),
    ignore_rules: Sequence[str] = (),
    events_to_track: str | None = None,
    use_default_rules: bool = False,
    function_name: str = FIVEXL_DEFAULT_FUNCTION_NAME,
    source_label: str = "fivexl/terraform-aws-cloudtrail-to-slack",
) -> Conversion:
    """Convert the old tool's configuration into one `.ctr` file's text.

    Rules are alerted in the old tool when any of them matches and no ignore rule does; the
    output keeps that: one `rule` per rule string and one `ignore` (for every rule) per ignore
    string. A string that cannot be translated is kept as a comment and listed in `problems`.
    """
    taken: set[str] = set()
    conv = Conversion(text="")
    out: list[str] = [
        f"# Converted by `ctrules convert` from the rules of {source_label}.",
        "# The original Python strings are kept above each declaration. Review the severities,",
        "# descriptions and summaries, and add `example` blocks so `ctrules test` covers them.",
        "# The old tool posted one Slack message per event: to keep that, deploy with",
        '# slack_message_mode = "per_event" (CTRULES_SLACK_MESSAGE_MODE=per_event).',
        "",
    ]
    # (kind, label, index, name, source)
    entries: list[tuple[str, str, int, str, str]] = []
    if use_default_rules:
        for i, (name, text) in enumerate(fivexl_default_rules(function_name), 1):
            entries.append(("rule", "default rule", i, name, text))
    for i, text in enumerate(rules, 1):
        entries.append(("rule", "rule", i, _suggest_name(text, f"custom_rule_{i}"), text))
    if events_to_track:
        entries.append(("rule", "EVENTS_TO_TRACK rule", 1, "tracked_events",
                        events_to_track_rule(events_to_track)))
    for i, text in enumerate(ignore_rules, 1):
        entries.append(("ignore", "ignore rule", i, f"ignore_rule_{i}", text))

    for kind, label, index, base, text in entries:
        name = _unique(base, taken)
        try:
            # The continuation indent `ctrules fmt` uses, so converted files are canonical.
            when = translate(text, indent=" " * 12 if kind == "rule" else " " * 7)
        except Untranslatable as exc:
            conv.problems.append(Problem(label, index, name, text, str(exc)))
            out.append(f"# ctrules convert: could not translate {label} {index} ({name}): {exc}")
            out.append(_comment(f"original: {text}"))
            out.append("")
            continue
        out.append(_comment(f"original: {text}"))
        origin = f"Converted from {source_label} {label} {index}."
        if kind == "rule":
            conv.rules.append(name)
            out.append(f"rule {name} {{")
            out.append("    severity    medium")
            out.append(f"    description {_ctr_string(origin)}")
            out.append('    tags        ["converted"]')
            out.append('    summary     "{userIdentity.arn} called {eventName} '
                       '({errorCode}) in {recipientAccountId}"')
            out.append(f"    when        {when}")
        else:
            conv.ignores.append(name)
            out.append(f"ignore {name} {{")
            out.append(f"    reason {_ctr_string(origin)}")
            out.append(f"    when   {when}")
        out.append("}")
        out.append("")
    conv.text = _canonical("\n".join(out).rstrip("\n") + "\n")
    return conv


def _canonical(text: str) -> str:
    """The file as `ctrules fmt` prints it: parsed, then printed by the formatter, so a long
    converted condition or list breaks exactly where `fmt --check` expects (comments kept)."""
    try:
        return formatter.format_text(text, "<converted>")
    except CtrSyntaxError:
        # Not expected (every piece above is printed from parsed values); if it happens, the
        # text as built still shows the user what failed, and `ctrules check` names the line.
        return text


# ---- CLI ---------------------------------------------------------------------------------------


def _split(text: str | None, separator: str) -> list[str]:
    # Same as the old tool: split on the separator and drop empty strings.
    if not text:
        return []
    return [x for x in text.split(separator) if x]


def _read(arg: str | None) -> str | None:
    if arg is None:
        return None
    text = sys.stdin.read() if arg == "-" else Path(arg).read_text("utf-8")
    # A file holds the environment variable's value plus the newline editors and `jq -r` add;
    # the variable itself had none, so the last rule must not get an extra piece.
    return text[:-2] if text.endswith("\r\n") else text[:-1] if text.endswith("\n") else text


_FALSY = ("", "false", "0", "no", "off", "none", "null")


def _env_flag(name: str) -> bool:
    # Since the old module's 4.2.0 USE_DEFAULT_RULES holds var.use_default_rules as "true" or
    # "false" and the Lambda parses it; earlier releases set "True" or left it unset. So a falsy
    # spelling (or unset) means off, anything else on.
    value = os.environ.get(name, "")
    return value.strip().lower() not in _FALSY


# Separators people use when a rule needs a comma; tried when the given one splits the text into
# pieces that are not Python.
_SEPARATORS = ("|", ";", "\n", "||", "|||", ";;", "#", "~", "^", "@@", "&&")


def suggest_separator(text: str | None, separator: str) -> str | None:
    """Another separator that splits `text` into rules that all parse, when `separator` does
    not; None when there is no such separator (or `separator` already works)."""
    if not text:
        return None

    def parses(pieces: list[str]) -> bool:
        try:
            for piece in pieces:
                ast.parse(piece.strip(), mode="eval")
        except SyntaxError:
            return False
        return bool(pieces)

    if parses(_split(text, separator)):
        return None
    for candidate in (c for c in _SEPARATORS if c != separator and c in text):
        if parses(_split(text, candidate)):
            return candidate
    return None


def cmd_convert(args: argparse.Namespace) -> int:
    separator = args.separator
    rules_text = args.rules
    ignore_text = args.ignore_rules
    events = args.events_to_track
    use_default = args.use_default_rules
    function_name = args.function_name
    try:
        if args.rules_file is not None:
            rules_text = _read(args.rules_file)
        if args.ignore_rules_file is not None:
            ignore_text = _read(args.ignore_rules_file)
    except OSError as exc:
        print(f"ctrules convert: {exc}", file=sys.stderr)
        return 2
    if args.from_env:
        env = os.environ
        separator = env.get("RULES_SEPARATOR", separator)
        rules_text = rules_text if rules_text is not None else env.get("RULES")
        ignore_text = ignore_text if ignore_text is not None else env.get("IGNORE_RULES")
        events = events if events is not None else env.get("EVENTS_TO_TRACK")
        use_default = use_default or _env_flag("USE_DEFAULT_RULES")
        function_name = env.get("FUNCTION_NAME", function_name)
    rules = _split(rules_text, separator)
    ignores = _split(ignore_text, separator)
    if not (rules or ignores or events or use_default):
        print("ctrules convert: nothing to convert (give --rules, --ignore-rules, "
              "--events-to-track, --use-default-rules or --from-env)", file=sys.stderr)
        return 2
    conv = convert(rules, ignores, events, use_default, function_name)
    hints = [
        (what, hint)
        for what, text in (("RULES", rules_text), ("IGNORE_RULES", ignore_text))
        if (hint := suggest_separator(text, separator)) is not None
    ]
    if args.output and args.output != "-":
        try:
            Path(args.output).write_text(conv.text, "utf-8")
        except OSError as exc:
            print(f"ctrules convert: {exc}", file=sys.stderr)
            return 2
    else:
        sys.stdout.write(conv.text)
    for problem in conv.problems:
        print(f"ctrules convert: could not translate {problem}", file=sys.stderr)
    for what, hint in hints:
        shown = "$'\\n'" if hint == "\n" else f"'{hint}'"
        print(f"ctrules convert: {what} split on {separator!r} gives pieces that are not valid "
              f"Python; the strings look joined with {hint!r}: try --separator {shown}",
              file=sys.stderr)
    print(f"converted {len(conv.rules)} rules and {len(conv.ignores)} ignore rules; "
          f"{len(conv.problems)} could not be translated", file=sys.stderr)
    return 1 if conv.problems else 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "convert",
        help="convert fivexl cloudtrail-to-slack eval-string rules to .ctr",
        description="Translate the rules of fivexl/terraform-aws-cloudtrail-to-slack (Python "
                    "strings over a flattened event) into a .ctr file with the same verdicts. "
                    "The strings are parsed, never evaluated. Exit 1 if any could not be "
                    "translated (they are kept as comments in the output).",
    )
    p.add_argument("--rules", help="the RULES string (rules joined by the separator)")
    p.add_argument("--rules-file", metavar="FILE",
                   help="read the RULES string from FILE (- = stdin)")
    p.add_argument("--ignore-rules", help="the IGNORE_RULES string")
    p.add_argument("--ignore-rules-file", metavar="FILE", help="read IGNORE_RULES from FILE")
    p.add_argument("--events-to-track", help="the EVENTS_TO_TRACK string (comma-separated names)")
    p.add_argument("--separator", default=",",
                   help="the RULES_SEPARATOR the strings were joined with (default ',')")
    p.add_argument("--use-default-rules", action="store_true",
                   help="also convert the old tool's default rules (USE_DEFAULT_RULES)")
    p.add_argument("--function-name", default=FIVEXL_DEFAULT_FUNCTION_NAME,
                   help="the old Lambda's FUNCTION_NAME, used by its default rules")
    p.add_argument("--from-env", action="store_true",
                   help="read RULES, IGNORE_RULES, EVENTS_TO_TRACK, RULES_SEPARATOR, "
                        "USE_DEFAULT_RULES and FUNCTION_NAME from the environment, as the "
                        "old Lambda did (explicit options win)")
    p.add_argument("-o", "--output", metavar="FILE.ctr", help="write here instead of stdout")
    p.set_defaults(func=cmd_convert)
