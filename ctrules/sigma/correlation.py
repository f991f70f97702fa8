"""Sigma import — correlation rules as `.ctr` stateful rules, with multi-record examples.

`Sigma YAML → pySigma → pipeline → backend (AST) → **correlation** → formatter → .ctr text`.
The importer converts the rules a correlation references (each to a `when` and a confirmed
match record, `Base`); this module maps the correlation onto a state clause
(docs/language.md, "Stateful rules"):

* `event_count` (`gte`/`gt` N) → `count >= N by [group-by] within T`, `when` the referenced
  rule's detection (several: their `or`);
* `value_count` → `distinct FIELD >= N by [...] within T`;
* `temporal_ordered` (all of its 2–4 rules, in order) → `sequence by [...] within T` with one
  `then` step per rule, `when` the `or` of the steps.

What has no faithful mapping — another condition operator, unordered `temporal`, an extended
(boolean) temporal condition, field aliases, a window or threshold outside the language's
range, a group-by field that is not a CloudTrail path — is a reason, never a partial rule.
The examples are the referenced rules' match records placed in one window of event time: N
records (or the steps in order) must alert, N-1 records (or the steps reversed) must not; the
importer confirms both with the stateful engine before anything is emitted.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sigma.correlations import (
    SigmaCorrelationCondition,
    SigmaCorrelationConditionOperator,
    SigmaCorrelationRule,
    SigmaCorrelationType,
)

from .. import nodes as n
from .. import schema
from ..stateful.engine import MAX_STEPS, MAX_THRESHOLD
from .backend import Unsupported, ctr_path
from .examples import _lookup, _set

DAY = 86400
# The windows CTR030 accepts; checking here lets the report say why in Sigma's terms.
WINDOW_RANGE = {"count": (1, DAY), "distinct": (1, DAY), "sequence": (1, 3600)}
# Example times start here (a whole day: aligned to every window that divides a day).
_EPOCH = int(dt.datetime(2026, 11, 2, tzinfo=dt.UTC).timestamp())


_KINDS: dict[SigmaCorrelationType, n.StatefulKind] = {
    SigmaCorrelationType.EVENT_COUNT: "count",
    SigmaCorrelationType.VALUE_COUNT: "distinct",
    SigmaCorrelationType.TEMPORAL_ORDERED: "sequence",
}


class NotExpressible(Exception):
    """The correlation has no faithful `.ctr` rule; the message says why."""


@dataclass(frozen=True)
class Base:
    """A referenced rule, converted: its detection and a record that matches it."""

    title: str
    when: n.Expr
    match: dict[str, Any]
    no_match: dict[str, Any]
    matches: Callable[[dict[str, Any]], bool]


@dataclass(frozen=True)
class Translated:
    when: n.Expr
    stateful: n.Stateful
    examples: tuple[n.Example, ...]


def kind_of(rule: SigmaCorrelationRule) -> str:
    return str(getattr(rule.type, "name", rule.type)).lower()


def translate(rule: SigmaCorrelationRule, bases: Sequence[Base]) -> Translated:
    """The correlation's `when`, state clause and examples; NotExpressible says why not."""
    kind = kind_of(rule)
    if not isinstance(rule.condition, SigmaCorrelationCondition):
        raise NotExpressible(
            f"correlation ({kind}): an extended (boolean) temporal condition has no .ctr "
            "construct; a sequence needs all of its rules, in order")
    if len(rule.aliases):
        raise NotExpressible(
            f"correlation ({kind}): field aliases (a group-by field named differently per rule) "
            "have no .ctr construct; a state key is one path for every event")
    ctr_kind = _KINDS.get(rule.type)
    if rule.type == SigmaCorrelationType.TEMPORAL:
        raise NotExpressible(
            "correlation (temporal): the rules may occur in any order, and a .ctr sequence "
            "fixes one order (each order as its own rule would alert twice); use "
            "temporal_ordered if the order is known")
    if ctr_kind is None:
        raise NotExpressible(
            f"correlation ({kind}): .ctr counts events (count) and distinct values (distinct) "
            "and orders events (sequence); sums, averages, percentiles and medians of values "
            "have no construct")
    window = _window(rule, ctr_kind, kind)
    key = tuple(_state_path(f, "group-by", kind) for f in (rule.group_by or ()))
    steps: tuple[n.Expr, ...] = ()
    value: n.Path | None = None
    if ctr_kind == "sequence":
        threshold = None
        if not 2 <= len(bases) <= MAX_STEPS:
            raise NotExpressible(
                f"correlation ({kind}): {len(bases)} rule(s); a .ctr sequence has 2 to "
                f"{MAX_STEPS} steps")
        if _threshold(rule.condition, kind) != len(bases):
            raise NotExpressible(
                f"correlation ({kind}): the condition asks for some of the {len(bases)} rules; "
                "a .ctr sequence needs all of its steps")
        steps = tuple(b.when for b in bases)
    else:
        threshold = _threshold(rule.condition, kind)
        if ctr_kind == "distinct":
            ref = rule.condition.fieldref
            if not isinstance(ref, str) or not ref:
                raise NotExpressible(
                    "correlation (value_count): the condition names no single field to count "
                    "the values of")
            value = _state_path(ref, "condition.field", kind)
            if any(value.segments == k.segments for k in key):
                raise NotExpressible(
                    f"correlation (value_count): '{ref}' is both counted and grouped by, so "
                    "each group has one value")
    whens = _unique([b.when for b in bases])
    when = whens[0] if len(whens) == 1 else n.Or(tuple(whens))
    clause = n.Stateful(kind=ctr_kind, key=key, window=window, threshold=threshold,
                        value=value, steps=steps)
    return Translated(when, clause, _examples(clause, bases))


def _unique(exprs: list[n.Expr]) -> list[n.Expr]:
    out: list[n.Expr] = []
    for e in exprs:
        if e not in out:
            out.append(e)
    return out


def _window(rule: SigmaCorrelationRule, ctr_kind: str, kind: str) -> n.Duration:
    span = rule.timespan
    low, high = WINDOW_RANGE[ctr_kind]
    if not low <= span.seconds <= high:
        raise NotExpressible(
            f"correlation ({kind}): timespan {span.spec} is outside the window a .ctr "
            f"{ctr_kind} allows ({_human(low)} to {_human(high)})")
    text = span.spec if span.unit in n.DURATION_UNITS else _human(span.seconds)
    return n.Duration(span.seconds, text)


def _human(seconds: int) -> str:
    for unit, size in (("d", DAY), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _threshold(cond: SigmaCorrelationCondition, kind: str) -> int:
    op, count = cond.op, cond.count
    if op not in (SigmaCorrelationConditionOperator.GTE, SigmaCorrelationConditionOperator.GT):
        raise NotExpressible(
            f"correlation ({kind}): condition {op.name.lower()}: {count}; a .ctr state clause "
            "alerts when a window reaches at least N (gte / gt), not on fewer or exactly N")
    if count != int(count):
        raise NotExpressible(f"correlation ({kind}): condition {count} is not a whole number")
    n_ = int(count) + (1 if op == SigmaCorrelationConditionOperator.GT else 0)
    if not 1 <= n_ <= MAX_THRESHOLD:
        raise NotExpressible(
            f"correlation ({kind}): a threshold of {n_} is outside .ctr's 1 to {MAX_THRESHOLD}")
    return n_


def _state_path(field: str, where: str, kind: str) -> n.Path:
    """A group-by or counted field as a path — only one that names a value in CloudTrail."""
    try:
        path = ctr_path(field)
    except Unsupported as err:
        raise NotExpressible(f"correlation ({kind}): {where} {err}") from None
    ty = schema.field_type(path.segments)
    if ty in ("string", "number", "boolean") or _under_open_object(path.segments):
        return path
    if ty in ("object", "array"):
        raise NotExpressible(
            f"correlation ({kind}): {where} field '{field}' is a JSON {ty} in CloudTrail "
            "records; name one of its fields")
    raise NotExpressible(
        f"correlation ({kind}): {where} field '{field}' is not a CloudTrail record field")


def _under_open_object(segments: tuple[str | int, ...]) -> bool:
    """Below `requestParameters`, `responseElements`, ...: keys depend on the API."""
    ty: schema.FieldType | None = schema.RECORD
    for i, seg in enumerate(segments):
        if ty is None:
            return False
        if ty.kind == "obj" and ty.fields is None:
            return i < len(segments)
        ty = schema.step(ty, seg)
    return False


# ---- examples ---------------------------------------------------------------------------------


def _examples(clause: n.Stateful, bases: Sequence[Base]) -> tuple[n.Example, ...]:
    w = clause.window.seconds
    start = -(-_EPOCH // w) * w  # the first window boundary at or after the epoch
    if clause.kind == "sequence":
        records = [copy.deepcopy(b.match) for b in bases]
        _key(records, clause.key, bases)
        gap = max(1, min(60, (w - 1) // max(1, len(records) - 1)))
        ordered = _timed(records, [start + i * gap for i in range(len(records))])
        backwards = _timed(records, [start + (len(records) - 1 - i) * gap
                                     for i in range(len(records))])
        return (n.Example("the steps in order within the window", True, ordered),
                n.Example("the same steps in reverse order", False, backwards))
    assert clause.threshold is not None
    need = clause.threshold
    owners = [bases[i % len(bases)] for i in range(need)]
    keep = {p.segments[0] for p in (*clause.key, *([clause.value] if clause.value else []))}
    slim = {id(b): _slim(b, keep) for b in bases}
    # Each rule's first record is whole, as CloudTrail writes it; the rest carry what decides.
    records = [copy.deepcopy(o.match if i < len(bases) else slim[id(o)])
               for i, o in enumerate(owners)]
    _key(records, clause.key, owners)
    if clause.value is not None:
        _distinct(records, clause.value, owners)
    times = [start + (i * (w - 1)) // max(1, need - 1) for i in range(need)]
    full = _timed(records, times)
    what = "events" if clause.kind == "count" else "distinct values"
    examples = [n.Example(f"{need} {what} within {clause.window.text}", True, full)]
    if need > 1:
        examples.append(n.Example(f"{need - 1} {what} within {clause.window.text}", False,
                                  full[:-1]))
    else:
        examples.append(n.Example("no event the rule selects", False, _timed(
            [_non_matching(bases)], [start])))
    return tuple(examples)


def _slim(base: Base, keep: set[str | int]) -> dict[str, Any]:
    """The match record without the top-level fields its rule does not need."""
    record = copy.deepcopy(base.match)
    for name in list(record):
        if name in keep or name in ("eventSource", "eventName"):
            continue
        value = record.pop(name)
        if not base.matches(record):
            record[name] = value
    return record


def _timed(records: list[dict[str, Any]], times: list[int]) -> list[dict[str, Any]]:
    out = []
    for i, (record, t) in enumerate(zip(records, times, strict=True)):
        r = copy.deepcopy(record)
        r["eventTime"] = dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        r["eventID"] = f"00000000-0000-4000-8000-{i:012d}"
        out.append(r)
    return out


def _key(records: list[dict[str, Any]], key: tuple[n.Path, ...], owners: Sequence[Base]) -> None:
    """Give every record the same value for each key path (the first record's, if it has one)."""
    for path in key:
        found = [_lookup(r, path.segments) for r in records]
        value = next((v for v in found if isinstance(v, (str, int, float, bool))), None)
        if value is None:
            value = f"example-{path.dotted().replace('.', '-')}"
        for r in records:
            _set(r, path.segments, value)
    _confirm(records, owners, "one value of the group-by fields")


def _distinct(records: list[dict[str, Any]], path: n.Path, owners: Sequence[Base]) -> None:
    """A different value of the counted field in each record, still matching its rule."""
    first = _lookup(records[0], path.segments)
    base = first if isinstance(first, str) and first else "example"
    # The rule's own value with a suffix, then a prefix (startswith / endswith detections).
    for shape in ("{base}-{i}", "{i}-{base}", "example-{i}"):
        trial = [copy.deepcopy(r) for r in records]
        for i, r in enumerate(trial):
            _set(r, path.segments, shape.format(base=base, i=i))
        if all(o.matches(r) for o, r in zip(owners, trial, strict=True)):
            records[:] = trial
            return
    raise NotExpressible(
        f"could not build records with different values of '{path.dotted()}' that all match "
        "the referenced rules (does the detection fix its value?)")


def _confirm(records: list[dict[str, Any]], owners: Sequence[Base], what: str) -> None:
    for o, r in zip(owners, records, strict=True):
        if not o.matches(r):
            raise NotExpressible(
                f"could not build example records that match rule '{o.title}' and share {what}")


def _non_matching(bases: Sequence[Base]) -> dict[str, Any]:
    for b in bases:
        if not any(other.matches(b.no_match) for other in bases):
            return copy.deepcopy(b.no_match)
    raise NotExpressible("could not build a record that none of the referenced rules match")
