"""An independent evaluation of a Sigma detection on one JSON record (the differential's oracle).

Written here from the Sigma specification, not from `ctrules.sigma`: pySigma parses the YAML,
applies the modifiers and resolves `1 of selection_*` (it has no event matcher of its own), and
this module decides every field comparison directly on the record, with Python's `re` and
`ipaddress`. The semantics it implements:

* a field is a dotted path; through an array it reaches every element, a missing key reaches
  null, and a comparison holds when some reached value satisfies it;
* string values match case-insensitively (Sigma's default), except with `|cased` and on
  `eventSource`/`eventName` — the importer's documented CloudTrail pipeline choice (CloudTrail
  spells those one way), which this oracle states rather than inherits;
* a plain string (no wildcard) also matches a JSON boolean or integer whose JSON text it is,
  case-insensitively (`'false'` matches `false`); wildcard strings, regexes and CIDRs match
  strings only; a Sigma number matches that number or its decimal text;
* `null` holds when the field is missing or null; `exists` when the key is present;
* `fieldref` holds when the two fields hold the same non-null value.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
)
from sigma.rule import SigmaRule
from sigma.types import (
    CompareOperators,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

CASE_EXACT = {"eventSource", "eventName"}
_ABSENT = object()


def matches(rule: SigmaRule, record: Any) -> bool:
    return any(_eval(c.parsed, record) for c in rule.detection.parsed_condition)


def _eval(cond: Any, record: Any) -> bool:
    if isinstance(cond, ConditionAND):
        return all(_eval(a, record) for a in cond.args)
    if isinstance(cond, ConditionOR):
        return any(_eval(a, record) for a in cond.args)
    if isinstance(cond, ConditionNOT):
        return not _eval(cond.args[0], record)
    if isinstance(cond, ConditionFieldEqualsValueExpression):
        return _field(cond.field, cond.value, record)
    raise NotImplementedError(type(cond).__name__)


def reach(record: Any, field: str) -> list[Any]:
    out = _walk(record, field.split("."))
    return out or [None]


def _walk(node: Any, segs: list[str]) -> list[Any]:
    if isinstance(node, list):
        if segs and segs[0].isdigit():
            i = int(segs[0])
            return _walk(node[i], segs[1:]) if i < len(node) else [None]
        return [v for el in node for v in _walk(el, segs)]
    if not segs:
        return [node]
    if isinstance(node, dict):
        return _walk(node[segs[0]], segs[1:]) if segs[0] in node else [None]
    return [None]


def _present(node: Any, segs: list[str]) -> bool:
    if isinstance(node, list):
        return any(_present(el, segs) for el in node)
    if not isinstance(node, dict) or segs[0] not in node:
        return False
    return True if len(segs) == 1 else _present(node[segs[0]], segs[1:])


def _field(field: str, value: Any, record: Any) -> bool:
    if isinstance(value, SigmaExpansion):
        return any(_field(field, v, record) for v in value.values)
    if isinstance(value, SigmaExists):
        return _present(record, field.split(".")) == bool(value.exists)
    reached = reach(record, field)
    if isinstance(value, SigmaNull):
        return any(v is None for v in reached)
    if isinstance(value, SigmaFieldReference):
        other = reach(record, value.field)
        return any(a is not None and a == b for a in reached for b in other)
    return any(_value(field, value, v) for v in reached)


def _value(field: str, value: Any, v: Any) -> bool:
    if isinstance(value, SigmaBool):
        value = SigmaString("true" if value.boolean else "false")
    if isinstance(value, SigmaString):
        insensitive = not isinstance(value, SigmaCasedString) and field not in CASE_EXACT
        wild = any(isinstance(p, SpecialChars) for p in value.s)
        if isinstance(v, str):
            regex = "".join(
                ".*" if p is SpecialChars.WILDCARD_MULTI
                else "." if p is SpecialChars.WILDCARD_SINGLE
                else re.escape(p) for p in value.s)
            flags = re.DOTALL | (re.IGNORECASE if insensitive else 0)
            return re.fullmatch(regex, v, flags) is not None
        if not wild and (isinstance(v, bool) or isinstance(v, int)):
            text = "".join(p for p in value.s if isinstance(p, str))
            spelled = json.dumps(v)
            return spelled.lower() == text.lower() if insensitive else spelled == text
        return False
    if isinstance(value, SigmaNumber):
        if isinstance(v, bool):
            return False
        if isinstance(v, (int, float)):
            return v == value.number
        return isinstance(v, str) and v == str(value.number)
    if isinstance(value, SigmaRegularExpression):
        if not isinstance(v, str):
            return False
        flags = 0
        for f in value.flags:
            flags |= {SigmaRegularExpressionFlag.IGNORECASE: re.IGNORECASE,
                      SigmaRegularExpressionFlag.MULTILINE: re.MULTILINE,
                      SigmaRegularExpressionFlag.DOTALL: re.DOTALL}[f]
        return re.search(value.regexp.to_plain(), v, flags) is not None
    if isinstance(value, SigmaCIDRExpression):
        if not isinstance(v, str):
            return False
        try:
            address = ipaddress.ip_address(v)
        except ValueError:
            return False
        network = ipaddress.ip_network(value.cidr, strict=False)
        return address.version == network.version and address in network
    if isinstance(value, SigmaCompareExpression):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return False
        n = value.number.number
        return {CompareOperators.LT: v < n, CompareOperators.LTE: v <= n,
                CompareOperators.GT: v > n, CompareOperators.GTE: v >= n}[value.op]
    raise NotImplementedError(type(value).__name__)


def samples(rule: SigmaRule) -> dict[str, list[Any]]:
    """Per field of the detection, values near its decision boundary (for generating records)."""
    out: dict[str, list[Any]] = {}

    def add(field: str, *values: Any) -> None:
        out.setdefault(field, []).extend(values)

    def visit(cond: Any) -> None:
        if isinstance(cond, (ConditionAND, ConditionOR, ConditionNOT)):
            for a in cond.args:
                visit(a)
            return
        if not isinstance(cond, ConditionFieldEqualsValueExpression):
            return
        field, value = cond.field, cond.value
        values = value.values if isinstance(value, SigmaExpansion) else [value]
        for value in values:
            if isinstance(value, SigmaBool):
                add(field, value.boolean, str(value.boolean).lower(), str(value.boolean).upper())
            elif isinstance(value, SigmaString):
                text = "".join(p if isinstance(p, str) else "x" if p is
                               SpecialChars.WILDCARD_SINGLE else "" for p in value.s)
                add(field, text, text.upper(), text.lower(), text.swapcase(), "a" + text,
                    text + "z", text[1:], text[:-1], "")
                if text.lower() in ("true", "false"):
                    add(field, text.lower() == "true")
                if re.fullmatch(r"-?[0-9]+", text):
                    add(field, int(text))
            elif isinstance(value, SigmaNumber):
                number = value.number
                add(field, number, number - 1, number + 1, str(number), True)
            elif isinstance(value, SigmaCompareExpression):
                number = value.number.number
                add(field, number, number - 1, number + 1, str(number), False)
            elif isinstance(value, SigmaCIDRExpression):
                network = ipaddress.ip_network(value.cidr, strict=False)
                add(field, str(network.network_address), str(network.broadcast_address),
                    str(network.network_address + 1), str(network.broadcast_address + 1),
                    "::ffff:10.0.0.1", "not-an-ip")
            elif isinstance(value, SigmaFieldReference):
                add(value.field, "alice", "Alice", "bob")
                add(field, "alice", "bob")
            elif isinstance(value, SigmaRegularExpression):
                add(field, value.regexp.to_plain())
            else:
                add(field)

    for c in rule.detection.parsed_condition:
        visit(c.parsed)
    return out
