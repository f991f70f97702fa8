"""The candidate reader (`lazy.iter_candidates`, what `ctrules run` and the Lambda pipeline
read) against the streaming reader and a full decode.

Law: for any log file and rule set, `iter_candidates` yields the streaming reader's
`BadRecord`s in the same order, and the records it yields whole are exactly the ones a rule
may match: every alert the streamed records give comes from them, in the same order, with the
same rule, summary, group key, ignores and event; the others are counted in `Unmatched`, so
records + unmatched + bad is the streaming reader's count. The stateful rules' selection takes
part (`AnyOf`): what they observe is the same either way. Checked on every corpus (in
CloudTrail's compact layout, with spaces, pretty-printed, gzipped), on the hostile documents of
test_lazy.py, on documents in the compact layout that the layout-based guards read (too deep,
a second "Records" key, other keys, spacing), and on generated records.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

import msgspec
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ctrules.compiler as compiler
import ctrules.index as index
from ctrules.ruleset import RuleSet
from ctrules.sources import lazy
from ctrules.sources.logfile import BadRecord
from ctrules.sources.stream import MAX_DEPTH, depth_ok, iter_stream
from ctrules.stateful.engine import StatefulEngine
from ctrules.stateful.store import MemoryStore
from tests import strategies as gen
from tests.consumer.test_lazy import CORPUS, HOSTILE, _record, ruleset


@pytest.fixture(autouse=True)
def index_every_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every dispatch entry behind the field index, so that the undecided verdict (None) and
    # the second, index-field decode are exercised too.
    monkeypatch.setattr(index, "MIN_RULES", 1)


def _alerts(rs: RuleSet, record: Any) -> list[Any]:
    return [(a.rule, a.summary, a.group_key, a.ignored_by, repr(a.event))
            for a in rs.evaluate(record)]


def _observed(selector: StatefulEngine | None, record: Any) -> list[Any]:
    if selector is None:
        return []
    return [(o.rule, o.key, o.time, o.event_id, o.values, o.steps, repr(o.event))
            for o in selector.observe(record)]


def _expected(data: bytes, rs: RuleSet, engine: StatefulEngine | None) -> tuple[list[Any], int]:
    out: list[Any] = []
    records = 0
    for item in iter_stream([data], "f"):
        if isinstance(item, BadRecord):
            out.append(item)
            continue
        records += 1
        found = _alerts(rs, item) + _observed(engine, item)
        if found:
            out.append(found)
    return out, records


def assert_same(data: bytes, rs: RuleSet, engine: StatefulEngine | None = None) -> list[Any]:
    matcher: Any = rs if engine is None else lazy.AnyOf(rs, engine.selector)
    try:
        expected, records = _expected(data, rs, engine)
    except RecursionError:  # the streaming reader's own bug on some input (see test_lazy.py)
        with pytest.raises(RecursionError):
            list(lazy.iter_candidates([data], "f", matcher))
        return []
    got: list[Any] = []
    whole = unmatched = 0
    items = list(lazy.iter_candidates([data], "f", matcher))
    for item in items:
        if isinstance(item, BadRecord):
            got.append(item)
        elif isinstance(item, lazy.Unmatched):
            assert item is items[-1]  # one per file, after the rest
            unmatched += len(item.records)
            assert all(not rs.evaluate(r) for r in item.records)
        else:
            whole += 1
            found = _alerts(rs, item) + _observed(engine, item)
            if found:
                got.append(found)
    assert got == expected
    assert whole + unmatched == records
    return items


def _engine(rs: RuleSet) -> StatefulEngine | None:
    return StatefulEngine(rs, MemoryStore()) if rs.stateful_decls else None


def _layouts(records: list[Any]) -> dict[str, bytes]:
    return {
        "compact": orjson.dumps({"Records": records}),
        "spaced": json.dumps({"Records": records}).encode(),
        "pretty": json.dumps({"Records": records}, indent=2).encode(),
    }


@pytest.mark.parametrize("name", ["default", "compat", "generated-1000", "residual", "paths"])
@pytest.mark.parametrize("layout", ["compact", "spaced", "pretty"])
def test_corpora(name: str, layout: str) -> None:
    rs = ruleset(name)
    data = _layouts(CORPUS)[layout]
    for packed in (data, gzip.compress(data)):
        items = assert_same(packed, rs, _engine(rs))
        assert lazy._lazy(packed, lazy.plan_for(rs), "f") is not None  # the fast path
        if name in ("default", "compat"):
            # Some records are not candidates: they are only counted.
            assert isinstance(items[-1], lazy.Unmatched)
            assert len(items[-1].records) > 100


def test_run_and_lambda_rule_sets_see_the_same_records_as_a_full_decode() -> None:
    # The default pack with its stateful rules, as `ctrules run` and the pipeline read it.
    rs = ruleset("default")
    engine = _engine(rs)
    assert engine is not None and engine.active
    data = orjson.dumps({"Records": CORPUS})
    items = assert_same(data, rs, engine)
    decoded = [r for r in items if isinstance(r, dict)]
    assert all(r in CORPUS for r in decoded)  # whole records, never partial ones


@pytest.mark.parametrize("data", HOSTILE, ids=range(len(HOSTILE)))
@pytest.mark.parametrize("name", ["default", "residual", "paths"])
def test_hostile_documents(data: bytes, name: str) -> None:
    rs = ruleset(name)
    assert_same(data, rs, _engine(rs))
    packed = gzip.compress(data)
    assert_same(packed, rs)
    assert_same(packed[: len(packed) // 2], rs)
    assert_same(packed + packed, rs)


def _deep(levels: int) -> Any:
    value: Any = "x"
    for i in range(levels):
        value = [value] if i % 2 else {"k": value, "s": "]}{["}
    return value


_R1, _R3 = _record(1).replace(", ", ",").replace(": ", ":"), _record(3).replace(", ", ",")
COMPACT = [
    # nesting right at the limit and one past it, as the record itself and inside a field
    orjson.dumps({"Records": [json.loads(_R1), _deep(MAX_DEPTH)]}),
    orjson.dumps({"Records": [json.loads(_R1), _deep(MAX_DEPTH + 1)]}),
    orjson.dumps({"Records": [json.loads(_R1), {"a": _deep(MAX_DEPTH - 1)}]}),
    orjson.dumps({"Records": [json.loads(_R1), {"a": _deep(MAX_DEPTH)}]}),
    # hundreds of brackets, a few levels deep, many of them in strings
    orjson.dumps({"Records": [{**json.loads(_R1), "items": [{"a": [{"b": "[{"}]}] * 200,
                               "doc": "{[" * 300}] * 20}),
    orjson.dumps({"Records": [json.loads(_R1)] * 9 + [{"a": _deep(MAX_DEPTH + 1)}]}),
    # a second "Records" key, other keys before or after, spacing between records
    f'{{"Records":[{_R1}],"Records":[{_R3}]}}'.encode(),
    f'{{"Records":[{_R1}],"x":[1]}}'.encode(),
    f'{{"Records":[{_R1}],"x":{{"Records":[]}}}}'.encode(),
    f'{{"Records":[{_R1},{_R3}] }}\n'.encode(),
    f'{{"Records":[ {_R1},{_R3}]}}'.encode(),
    f'{{"Records":[{_R1} ,{_R3}]}}'.encode(),
    f'{{"Records":[{_R1},\n{_R3}]}}'.encode(),
    f'{{"Records":[{_R1},{_R3}\n]}}'.encode(),
    f'{{"Records":[],"Records":[{_R3}]}}'.encode(),
    f'{{"Records":[1,"x",null,{_R1},[],{_R3}]}}'.encode(),
    f'{{"Records":[{_R1},{_R3}]}}  {{"Records":[]}}'.encode(),
]


@pytest.mark.parametrize("data", COMPACT, ids=range(len(COMPACT)))
@pytest.mark.parametrize("name", ["default", "paths"])
def test_compact_layout_guards(data: bytes, name: str) -> None:
    rs = ruleset(name)
    assert_same(data, rs, _engine(rs))
    assert_same(gzip.compress(data), rs)
    # the ordered reader agrees too
    from tests.consumer.test_lazy import assert_same as assert_same_ordered

    assert_same_ordered(data, rs)


def test_dispatch_paths_are_the_compilers() -> None:
    assert lazy.DISPATCH_PATHS == compiler.DISPATCH_PATHS


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(gen.records(), gen.json_values()), max_size=8),
       st.sampled_from(["default", "generated-1000", "residual", "paths"]))
def test_generated_records(records: list[Any], name: str) -> None:
    try:
        data = orjson.dumps({"Records": records})
    except TypeError:  # a value JSON cannot hold (e.g. a huge int for orjson)
        data = json.dumps({"Records": records}).encode()
    rs = ruleset(name)
    assert_same(data, rs, _engine(rs))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(gen.records(), min_size=1, max_size=12),
       st.sampled_from(["default", "generated-1000", "residual", "paths"]))
def test_dispatch_verdict_agrees_with_may_match(records: list[Any], name: str) -> None:
    rs = ruleset(name)
    keys = [_head(record) for record in records]  # the lazy reader's verdict key
    by_key: dict[Any, Any] = {}
    for record, key in zip(records, keys, strict=True):
        verdict = rs.dispatch_verdict(record)
        if verdict is not None:  # None: left to the field index
            assert verdict == rs.may_match(record)
            if not verdict:
                assert rs.evaluate(record) == []
        try:
            if key is not None:  # records with equal keys get equal verdicts
                assert by_key.setdefault(key, verdict) == verdict
        except TypeError:  # an unhashable value: the reader asks every record alone
            pass


def _head(record: Any) -> lazy.Head | None:
    """The record's dispatch fields as the lazy reader decodes them (None: they do not fit, and
    the reader decodes the record in full)."""
    try:
        return msgspec.json.decode(orjson.dumps(record), type=lazy.Head)
    except (TypeError, msgspec.ValidationError, msgspec.DecodeError):
        return None


def _nested(draw: st.DrawFn, depth: int) -> Any:
    if depth == 0:
        return draw(st.sampled_from(["[", "]{", '\\"}', "x", 1, None, "\\\\"]))
    kind = draw(st.sampled_from(["list", "dict", "leaf"]))
    if kind == "leaf":
        return draw(st.sampled_from(["[[", "}", 2.5]))
    size = draw(st.integers(0, 2))
    if kind == "list":
        return [_nested(draw, depth - 1) for _ in range(size)]
    return {f"k{i}[": _nested(draw, depth - 1) for i in range(size)}


@st.composite
def _deep_values(draw: st.DrawFn) -> Any:
    value = _nested(draw, 3)
    for _ in range(draw(st.integers(MAX_DEPTH - 4, MAX_DEPTH + 2))):
        value = [value] if draw(st.booleans()) else {"k": value, "s": "[{"}
    return [_nested(draw, 2), value]


@settings(max_examples=200, deadline=None)
@given(_deep_values(), st.booleans())
def test_too_deep_is_the_streaming_readers_depth(value: Any, spaced: bool) -> None:
    text = json.dumps(value, separators=(", ", ": ") if spaced else (",", ":")).encode()
    assert lazy._too_deep(text) == (not depth_ok(value))
    assert lazy._too_deep(b"  " + text, 2, len(text) + 2) == (not depth_ok(value))
