"""Pipeline stage 3 (checks) — types: the kinds of literals and of the CloudTrail record's fields
(the record's shape is the one schema, `ctrules.schema`), which the type checks (CTR101) and the
constant analysis (CTR105/CTR106) read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeAlias

from .. import nodes as n
from .. import schema

_Ty: TypeAlias = schema.FieldType

# The one CloudTrail schema (issue 14): the checks read ctrules.schema, never a copy of it.
EVENT_TYPE: _Ty = schema.RECORD
TOP_LEVEL_FIELDS: frozenset[str] = schema.TOP_LEVEL_FIELDS

RULE_FIELDS: frozenset[str] = frozenset({"name", "severity", "tags"})
"""The fields of `rule.` in a route."""

_STR = _Ty("str")
_NUM = _Ty("num")

_RULE_TYPES: Mapping[str, _Ty] = {"name": _STR, "severity": _STR, "tags": _STR}

_KIND_NAMES = {"str": "a string", "bool": "a boolean", "num": "a number", "obj": "an object",
               "arr": "an array", "null": "null", "list": "a list"}


def _step(ty: _Ty, seg: str | int) -> tuple[_Ty | None, bool]:
    """One path segment; returns the type reached and whether an array was crossed."""
    crossed = False
    if ty.kind == "arr" and ty.elem is not None:
        crossed = True
        if isinstance(seg, int):
            return ty.elem, True
        ty = ty.elem
    if ty.kind == "obj" and ty.fields is not None and isinstance(seg, str):
        return ty.fields.get(seg), crossed
    return None, crossed


def _resolve(start: _Ty | None, segments: Sequence[str | int]) -> tuple[_Ty | None, bool]:
    """The type of the values a path reaches (arrays at the end expanded) and whether the path
    can reach several values."""
    ty = start
    multi = False
    for seg in segments:
        if ty is None:
            return None, multi
        ty, crossed = _step(ty, seg)
        multi = multi or crossed
    while ty is not None and ty.kind == "arr":
        multi = True
        ty = ty.elem
    return ty, multi


def _literal_kind(value: n.Value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "num"
    if isinstance(value, str):
        return "str"
    return "list"


def _value_key(value: n.Value) -> Any:
    """A hashable key with `==` semantics of the language (1 == 1.0, true != 1)."""
    kind = _literal_kind(value)
    if kind == "list":
        assert isinstance(value, tuple)
        return ("list", tuple(_value_key(v) for v in value))
    return (kind, value)


def _render(value: n.Value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, tuple):
        return "[" + ", ".join(_render(v) for v in value) + "]"
    return repr(value)


# ---- the type rules of comparisons ------------------------------------------------------------

TypeFinding = Literal["mismatch", "whole-list", "list-order", "bool-unordered", "order-kind"]
"""What a comparison of a field (or function result) of one kind with a literal of another kind
is (every one a CTR101 warning: the comparison always has the same value):

- `mismatch`: a value of one kind never equals, or orders against, one of another kind;
- `whole-list`: `scalar == [...]` compares with the list as one value;
- `list-order`: ordering with a list;
- `bool-unordered`: ordering a boolean;
- `order-kind`: ordering with null or a boolean."""

_LEFT_KINDS = ("str", "bool", "num", "obj", "arr", "open")  # open: an object whose keys vary
_LITERAL_KINDS = ("null", "bool", "num", "str")


def _type_rules() -> dict[tuple[str | None, str, str], TypeFinding]:
    rules: dict[tuple[str | None, str, str], TypeFinding] = {}
    for left in (None, *_LEFT_KINDS):  # None: a left side of unknown type
        rules[(left, "order", "list")] = "list-order"
    for left in ("str", "bool", "num"):
        rules[(left, "eq", "list")] = "whole-list"
    for left in _LEFT_KINDS:
        for right in _LITERAL_KINDS:
            if left != "open" and right not in ("null", left):
                rules[(left, "eq", right)] = "mismatch"
            if left == "bool":
                rules[(left, "order", right)] = "bool-unordered"
            elif right not in ("num", "str"):
                rules[(left, "order", right)] = "order-kind"
            elif left in ("num", "str") and right != left:
                rules[(left, "order", right)] = "mismatch"
    return rules


TYPE_RULES: Mapping[tuple[str | None, str, str], TypeFinding] = _type_rules()
"""(left kind, operator class `eq`/`order`, right kind: a literal's or `list`) → finding. `in`
reads the `eq` rules: membership is always false when every item is a mismatch."""


def left_kind(ty: _Ty | None) -> str | None:
    """The kind a type has in TYPE_RULES."""
    if ty is None:
        return None
    return "open" if ty.kind == "obj" and ty.fields is None else ty.kind
