"""Sigma import — the pySigma backend: a Sigma condition tree → a `.ctr` expression (AST nodes).

`Sigma YAML → pySigma rule → pipeline → **backend** → formatter → .ctr text`. pySigma parses the
YAML, applies the modifiers and resolves `1 of selection_*`; this backend only walks the
resulting condition tree and builds `ctrules.nodes` expressions, so the text is printed by the
formatter (never concatenated) and is `fmt`-canonical by construction.

Sigma semantics kept (docs/sigma.md has the full table):
* string matching is case-insensitive: a value with letters is compared with `lower(path)`,
  except on the fields the pipeline marks case-exact (`eventSource`, `eventName`);
* a plain value that spells a JSON boolean or integer (`'false'`, `'443'`) also matches that
  JSON value, as Sigma's text-based matching does on CloudTrail's typed fields;
* wildcards become `contains`/`startswith`/`endswith`, else `glob`, else an RE2 `matches`;
* `null` is `== null` (missing or null), `exists` is `exists`, `re` is `matches` (RE2, checked
  here), `cidr` is `in cidr(...)`, `fieldref` compares two paths.

Whatever has no `.ctr` equivalent raises `SigmaFeatureNotSupportedByBackendError` with the
reason; the importer reports it and emits nothing for that rule.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from typing import Any, ClassVar

import re2
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.conversion.base import Backend
from sigma.conversion.state import ConversionState
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError
from sigma.rule import SigmaRule
from sigma.types import (
    CompareOperators,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaFieldReference,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

from .. import nodes as n

_INT = re.compile(r"-?(0|[1-9][0-9]{0,17})\Z")
_RE_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: "i",
    SigmaRegularExpressionFlag.MULTILINE: "m",
    SigmaRegularExpressionFlag.DOTALL: "s",
}
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a bad pattern is reported per rule, not logged to stderr

_COMPARE_OPS: dict[CompareOperators, n.CompareOp] = {
    CompareOperators.LT: "<",
    CompareOperators.LTE: "<=",
    CompareOperators.GT: ">",
    CompareOperators.GTE: ">=",
}


class Unsupported(SigmaFeatureNotSupportedByBackendError):
    """A Sigma construct with no `.ctr` equivalent; the message says why."""


def ctr_path(field: str | None) -> n.Path:
    """A Sigma field name (CloudTrail's dotted path) as a `.ctr` path; the formatter adds the
    backticks a segment needs. A digit segment indexes an array, as in `resources.0.ARN`."""
    if not field:
        raise Unsupported("a detection item without a field name has no .ctr equivalent")
    segments: list[str | int] = []
    for i, part in enumerate(field.split(".")):
        if not part or "`" in part or "\n" in part:
            raise Unsupported(f"field '{field}' cannot be written as a .ctr path")
        segments.append(int(part) if i and part.isdigit() and len(part) < 10 else part)
    return n.Path(tuple(segments))


def _lit(value: n.Value) -> n.Literal_:
    return n.Literal_(value)


def has_case(text: str) -> bool:
    return text.lower() != text.upper()


def typed_equivalents(text: str) -> list[n.Value]:
    """The JSON values (other than the string itself) that Sigma's text match would find."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return [lowered == "true"]
    if _INT.match(text):
        return [int(text)]
    return []


def _or(parts: Sequence[n.Expr]) -> n.Expr:
    return parts[0] if len(parts) == 1 else n.Or(tuple(parts))


def _and(parts: Sequence[n.Expr]) -> n.Expr:
    return parts[0] if len(parts) == 1 else n.And(tuple(parts))


def _re2_escape(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch == "_" or ord(ch) > 127 else "\\" + ch for ch in text)


def string_match(
    path: n.Path, value: SigmaString, spellings: dict[str, str] | None = None
) -> n.Expr:
    """`path` matches the Sigma string `value` (wildcards, case-insensitivity, typed values)."""
    if value.contains_placeholder():
        names = sorted({p.name for p in value.s if not isinstance(p, (str, SpecialChars))})
        raise Unsupported(
            f"placeholder %{'%, %'.join(names)}% in field '{path.dotted()}' must be replaced "
            "with the organisation's values before import (there is no value to translate)"
        )
    parts: list[str | SpecialChars] = [
        p for p in value.s if isinstance(p, (str, SpecialChars))
    ]
    cased = isinstance(value, SigmaCasedString)
    text = "".join(p for p in parts if isinstance(p, str))
    fold = not cased and has_case(text)
    left: n.Operand = n.Call("lower", (path,)) if fold else path

    def norm(s: str) -> str:
        if not fold:
            return s
        if spellings is not None:
            spellings.setdefault(s.lower(), s)
        return s.lower()

    if not any(isinstance(p, SpecialChars) for p in parts):
        plain = norm(text)
        typed = typed_equivalents(text)
        if not typed:
            return n.Compare("==", left, _lit(plain))
        if not fold:
            return n.InTest(path, n.ListLit(tuple(_lit(v) for v in [*typed, plain])))
        return n.Or((
            n.Compare("==", path, _lit(typed[0])),
            n.Compare("==", left, _lit(plain)),
        ))
    multi = SpecialChars.WILDCARD_MULTI
    inner = parts[1:-1]
    simple_inner = all(isinstance(p, str) for p in inner)
    if len(parts) == 3 and parts[0] is multi and parts[2] is multi and simple_inner:
        return n.StringTest("contains", left, _lit(norm(str(parts[1]))))
    if len(parts) == 2 and parts[1] is multi and isinstance(parts[0], str):
        return n.StringTest("startswith", left, _lit(norm(parts[0])))
    if len(parts) == 2 and parts[0] is multi and isinstance(parts[1], str):
        return n.StringTest("endswith", left, _lit(norm(parts[1])))
    literal_text = [p for p in parts if isinstance(p, str)]
    if not any("*" in p or "?" in p for p in literal_text):
        pattern = "".join(
            "*" if p is multi else "?" if p is SpecialChars.WILDCARD_SINGLE else norm(str(p))
            for p in parts
        )
        return n.Glob(left, _lit(pattern))
    # A literal `*` or `?` next to wildcards: glob has no escape, so spell it as an anchored RE2.
    regex = "".join(
        ".*" if p is multi else "." if p is SpecialChars.WILDCARD_SINGLE else _re2_escape(str(p))
        for p in parts
    )
    flags = "(?is)" if not cased else "(?s)"
    return n.Matches(path, _lit(flags + r"\A(?:" + regex + r")\z"))


def regex_match(path: n.Path, value: SigmaRegularExpression) -> n.Expr:
    pattern = value.regexp.to_plain()
    flags = "".join(sorted(_RE_FLAGS[f] for f in value.flags if f in _RE_FLAGS))
    if flags:
        pattern = f"(?{flags})" + pattern
    try:
        re2.compile(pattern, _RE2_OPTIONS)
    except Exception as err:  # re2 raises its own error type (or ValueError) for bad patterns
        raise Unsupported(
            f"regular expression {value.regexp.to_plain()!r} in field '{path.dotted()}' is not "
            f"RE2 (ctrules matches in linear time: no look-around or back-references): {err}"
        ) from err
    return n.Matches(path, _lit(pattern))


def cidr_match(path: n.Path, value: SigmaCIDRExpression) -> n.Expr:
    network = ipaddress.ip_network(value.cidr, strict=False)
    return n.InTest(path, n.Call("cidr", (_lit(str(network)),)))


def number_match(path: n.Path, number: int | float) -> n.Expr:
    """The JSON number, or its decimal text (Sigma matches text)."""
    return n.InTest(path, n.ListLit((_lit(number), _lit(str(number)))))


def _merge_or(parts: list[n.Expr]) -> list[n.Expr]:
    """Fold `x == a or x == b` into `x in [a, b]`, `x contains a or x contains b` into
    `x contains [a, b]` and `x in cidr(a) or x in cidr(b)` into `x in cidr(a, b)`."""
    out: list[n.Expr] = []
    for part in parts:
        prev = out[-1] if out else None
        merged = _merge_two(prev, part) if prev is not None else None
        if merged is not None:
            out[-1] = merged
        else:
            out.append(part)
    return out


def _items(e: n.Expr) -> tuple[Any, ...] | None:
    """(kind, left, values) for the membership-like tests `_merge_or` folds."""
    if isinstance(e, n.Compare) and e.op == "==" and isinstance(e.right, n.Literal_):
        if e.right.value is None:
            return None
        return ("in", e.left, (e.right,))
    if isinstance(e, n.InTest) and not e.negated and isinstance(e.right, n.ListLit):
        return ("in", e.left, e.right.items)
    if (isinstance(e, n.InTest) and not e.negated and isinstance(e.right, n.Call)
            and e.right.name == "cidr"):
        return ("cidr", e.left, e.right.args)
    if isinstance(e, n.StringTest) and isinstance(e.right, n.Literal_):
        return (e.op, e.left, (e.right,))
    if isinstance(e, n.StringTest) and isinstance(e.right, n.ListLit):
        return (e.op, e.left, e.right.items)
    return None


def _merge_two(a: n.Expr, b: n.Expr) -> n.Expr | None:
    ia, ib = _items(a), _items(b)
    if ia is None or ib is None or ia[0] != ib[0] or ia[1] != ib[1]:
        return None
    kind, left = ia[0], ia[1]
    values = tuple(dict.fromkeys((*ia[2], *ib[2])))
    if kind == "in":
        return n.InTest(left, n.ListLit(values))
    if kind == "cidr":
        return n.InTest(left, n.Call("cidr", values))
    return n.StringTest(kind, left, n.ListLit(values))


class CtrBackend(Backend):
    """pySigma backend whose queries are `.ctr` expressions (`ctrules.nodes.Expr`)."""

    name: ClassVar[str] = "ctrules"
    spellings: dict[str, str]
    """Lower-cased literal → the rule's own spelling, so examples can show the latter."""
    formats: ClassVar[dict[str, str]] = {"default": ".ctr expressions (ctrules AST nodes)"}
    requires_pipeline: ClassVar[bool] = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.spellings = {}

    # ---- boolean structure ----
    def convert_condition_or(self, cond: ConditionOR, state: ConversionState) -> n.Expr:
        parts = [self.convert_condition(arg, state) for arg in cond.args]
        return _or(_merge_or(parts))

    def convert_condition_and(self, cond: ConditionAND, state: ConversionState) -> n.Expr:
        return _and([self.convert_condition(arg, state) for arg in cond.args])

    def convert_condition_not(self, cond: ConditionNOT, state: ConversionState) -> n.Expr:
        # `x != v` and `x not in L` are defined as `not (x == v)` / `not (x in L)`: same meaning,
        # easier to read.
        inner = self.convert_condition(cond.args[0], state)
        if isinstance(inner, n.Compare) and inner.op == "==":
            return n.Compare("!=", inner.left, inner.right)
        if isinstance(inner, n.InTest):
            return n.InTest(inner.left, inner.right, negated=not inner.negated)
        return n.Not(inner)

    def convert_condition_as_in_expression(
        self, cond: ConditionOR | ConditionAND, state: ConversionState
    ) -> n.Expr:  # pragma: no cover - convert_or_as_in is off; _merge_or folds lists instead
        raise NotImplementedError

    # ---- field = value ----
    def convert_condition_field_eq_val_str(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> n.Expr:
        assert isinstance(cond.value, SigmaString)
        return string_match(ctr_path(cond.field), cond.value, self.spellings)

    def convert_condition_field_eq_val_str_case_sensitive(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> n.Expr:
        assert isinstance(cond.value, SigmaString)
        return string_match(ctr_path(cond.field), cond.value, self.spellings)

    def convert_condition_field_eq_val_num(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> n.Expr:
        assert isinstance(cond.value, SigmaNumber)
        return number_match(ctr_path(cond.field), cond.value.number)

    def convert_condition_field_eq_val_bool(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> n.Expr:
        assert isinstance(cond.value, SigmaBool)
        # The same as the string 'true'/'false': the JSON boolean or its spelling.
        return string_match(ctr_path(cond.field), SigmaString(str(cond.value.boolean).lower()),
                            self.spellings)

    def convert_condition_field_eq_val_re(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> n.Expr:
        assert isinstance(cond.value, SigmaRegularExpression)
        return regex_match(ctr_path(cond.field), cond.value)

    def convert_condition_field_eq_val_cidr(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> n.Expr:
        assert isinstance(cond.value, SigmaCIDRExpression)
        return cidr_match(ctr_path(cond.field), cond.value)

    def convert_condition_field_compare_op_val(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> n.Expr:
        assert isinstance(cond.value, SigmaCompareExpression)
        op = _COMPARE_OPS.get(cond.value.op)
        if op is None:  # pragma: no cover - every Sigma comparison operator is mapped
            raise Unsupported(f"comparison {cond.value.op} has no .ctr equivalent")
        return n.Compare(op, ctr_path(cond.field), _lit(cond.value.number.number))

    def convert_condition_field_eq_field(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> n.Expr:
        assert isinstance(cond.value, SigmaFieldReference)
        left, right = ctr_path(cond.field), ctr_path(cond.value.field)
        if cond.value.starts_with and cond.value.ends_with:
            return n.StringTest("contains", left, right)
        if cond.value.starts_with:
            return n.StringTest("startswith", left, right)
        if cond.value.ends_with:
            return n.StringTest("endswith", left, right)
        # Two missing fields are not "equal values": Sigma backends compare present values, and
        # `.ctr` says null == null, so the left one must hold a value.
        return n.And((n.Compare("==", left, right), n.Compare("!=", left, _lit(None))))

    def convert_condition_field_eq_val_null(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> n.Expr:
        return n.Compare("==", ctr_path(cond.field), _lit(None))

    def convert_condition_field_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> n.Expr:
        return n.Exists(ctr_path(cond.field))

    def convert_condition_field_not_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> n.Expr:
        return n.Not(n.Exists(ctr_path(cond.field)))

    def convert_condition_field_eq_val_timestamp_part(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> n.Expr:
        raise Unsupported(
            f"time-part modifiers on '{cond.field}' have no .ctr equivalent (no date functions)"
        )

    def convert_condition_field_eq_query_expr(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> n.Expr:
        raise Unsupported(f"a backend query expression on '{cond.field}' is not .ctr")

    # ---- keywords (value without a field) ----
    def _keyword(self, cond: ConditionValueExpression) -> n.Expr:
        raise Unsupported(
            f"keyword detection {str(cond.value)!r} searches the whole serialized event; "
            ".ctr conditions test named fields only"
        )

    def convert_condition_val_str(
        self, cond: ConditionValueExpression, state: ConversionState
    ) -> n.Expr:
        return self._keyword(cond)

    def convert_condition_val_num(
        self, cond: ConditionValueExpression, state: ConversionState
    ) -> n.Expr:
        return self._keyword(cond)

    def convert_condition_val_re(
        self, cond: ConditionValueExpression, state: ConversionState
    ) -> n.Expr:
        return self._keyword(cond)

    def convert_condition_query_expr(
        self, cond: ConditionValueExpression, state: ConversionState
    ) -> n.Expr:
        return self._keyword(cond)

    # ---- correlations: the importer maps them (correlation.py) and never hands them here ----
    def _correlation(self, rule: Any, *args: Any, **kwargs: Any) -> Any:
        raise Unsupported(
            "correlation rules count or order events over a time window; .ctr evaluates each "
            "record on its own"
        )

    convert_correlation_event_count_rule = _correlation
    convert_correlation_value_count_rule = _correlation
    convert_correlation_temporal_rule = _correlation
    convert_correlation_temporal_ordered_rule = _correlation
    convert_correlation_extended_temporal_rule = _correlation
    convert_correlation_extended_temporal_ordered_rule = _correlation
    convert_correlation_value_sum_rule = _correlation
    convert_correlation_value_avg_rule = _correlation
    convert_correlation_value_percentile_rule = _correlation
    convert_correlation_value_median_rule = _correlation

    # ---- whole rule ----
    def finalize_query_default(
        self, rule: SigmaRule, query: Any, index: int, state: ConversionState
    ) -> n.Expr:
        assert isinstance(query, (n.Compare, n.InTest, n.StringTest, n.Matches, n.Glob,
                                  n.Exists, n.Not, n.And, n.Or))
        return query


