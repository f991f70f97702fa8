"""Records only the stateful selection may match, read in part (`lazy.Staged` → `Deferred`).

Law: reading a log file with `Staged` (what `ctrules run` and the consumer do), the stateful
engine makes the same observations — rule, key, time, eventID, values, steps, and the record
an alert would show, once decoded whole — in the same order as on the whole records of the
streaming reader, so it decides the same alerts; the per-event rules give the same alerts on
the records that come whole and none on the deferred ones. Checked on the real corpora (default pack),
on hostile documents, on generated rule files with state clauses and generated records, and
on records without a usable eventID (their id is made from the whole record).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ctrules.index as index
from ctrules import nodes as n
from ctrules.ruleset import RuleSet
from ctrules.sources import lazy
from ctrules.sources.logfile import BadRecord, Deferred
from ctrules.sources.stream import iter_stream
from ctrules.stateful.engine import StatefulEngine
from ctrules.stateful.reads import expression_paths, stateful_paths
from ctrules.stateful.store import MemoryStore
from tests import strategies as gen
from tests.consumer.test_lazy import CORPUS, HOSTILE
from tests.test_index import _parse

TODAY = dt.date(2026, 11, 1)


@pytest.fixture(autouse=True)
def index_every_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every dispatch entry behind the field index: the undecided verdict is exercised too.
    monkeypatch.setattr(index, "MIN_RULES", 1)


def _observations(engine: StatefulEngine, records: list[Any]) -> list[Any]:
    out = []
    for record in records:
        for ob in engine.observe(record):
            event = ob.event.whole() if isinstance(ob.event, Deferred) else ob.event
            out.append((ob.rule, ob.key, ob.time, ob.event_id, ob.values, ob.steps,
                        repr(event)))
    return out


def _alerts(engine: StatefulEngine, records: list[Any]) -> list[Any]:
    pending = engine.pending()
    for record in records:
        for ob in engine.observe(record):
            pending.add(ob)
    return [alert.to_json() for alert in engine.process(pending)]


def assert_same(data: bytes, rs: RuleSet) -> list[Any]:
    """The staged reader's records give the stream's observations and alerts."""
    expected = [r for r in iter_stream([data], "f") if not isinstance(r, BadRecord)]
    engine = StatefulEngine(rs, MemoryStore())
    matcher = lazy.Staged(rs, engine.selector, stateful_paths(engine))
    items = [item for item in lazy.iter_candidates([data], "f", matcher)
             if not isinstance(item, (BadRecord, lazy.Unmatched))]
    assert _observations(engine, items) == _observations(engine, expected)
    assert _alerts(StatefulEngine(rs, MemoryStore()), items) == \
        _alerts(StatefulEngine(rs, MemoryStore()), expected)
    # The per-event rules: every alert from the records that come whole, none from the others.
    assert _per_event(rs, [i for i in items if type(i) is dict]) == _per_event(rs, expected)
    assert all(not rs.evaluate(i.whole()) for i in items if type(i) is Deferred)
    return items


def _per_event(rs: RuleSet, records: list[Any]) -> list[Any]:
    return [(a.rule, a.summary, a.group_key, a.ignored_by, repr(a.event))
            for record in records for a in rs.evaluate(record)]


def test_default_pack_on_the_corpora() -> None:
    from ctrules.ruleset import load_default_rules

    rs = load_default_rules()
    items = assert_same(orjson.dumps({"Records": CORPUS}), rs)
    deferred = [i for i in items if type(i) is Deferred]
    assert deferred  # the corpus has records only the stateful rules select
    for item in deferred:  # in part: the fields the stateful rules read
        assert item.whole() in CORPUS
        assert len(item.record) < len(item.whole())


_STATEFUL = """\
rule failures {
    when errorCode exists and userIdentity.type == "IAMUser"
    count >= 2 by [userIdentity.arn] within 10m
}
rule new_agent {
    when eventSource == "iam.amazonaws.com" and any resources (ARN startswith "arn:")
    first_seen userAgent by [userIdentity.arn] within 1d
}
rule steps {
    when eventSource == "iam.amazonaws.com"
    sequence by [userIdentity.arn] within 10m
        then eventName == "CreateUser"
        then event.requestParameters.userName == "x"
}
rule per_event {
    when eventName == "DeleteTrail"
}
ignore quiet_agent {
    reason  "a field only the ignore reads"
    rules   [failures, new_agent]
    when    sourceIPAddress == "10.0.0.1"
}
"""


def _record(i: int, **extra: Any) -> dict[str, Any]:
    return {"eventVersion": "1.08", "eventSource": "iam.amazonaws.com",
            "eventName": "CreateUser" if i % 2 else "GetUser", "errorCode": "AccessDenied",
            "eventTime": f"2026-11-02T12:0{i % 10}:00Z", "eventID": f"id-{i}",
            "userIdentity": {"type": "IAMUser", "arn": f"arn:{i % 2}"},
            "userAgent": f"agent-{i % 3}", "requestParameters": {"userName": "x", "big": [i] * 5},
            "resources": [{"ARN": "arn:aws:iam::1:user/x"}], **extra}


def test_ids_made_from_the_whole_record_and_odd_shapes() -> None:
    rs = RuleSet([_parse(_STATEFUL)])
    records: list[Any] = [_record(i) for i in range(8)]
    records += [_record(i, sourceIPAddress="10.0.0.1") for i in range(20, 24)]
    records += [
        _record(8, eventID=None), _record(9, eventID=""), {**_record(10), "eventID": 5},
        {k: v for k, v in _record(11).items() if k != "eventID"},
        _record(12, userIdentity="IAMUser"),  # does not fit the partial decoder: whole
        _record(13, resources="arn:x"), _record(14, eventTime=17),
        _record(15, requestParameters=None), _record(16, big=10**30, f=1e300),
        _record(17, userAgent=["a", {"b": 1}]),
    ]
    items = assert_same(json.dumps({"Records": records}, separators=(",", ":")).encode(), rs)
    assert any(type(i) is Deferred for i in items)
    # 1e999 (inf for the full decode's fallback) outside the fields read: still deferred
    text = json.dumps({"Records": [_record(1), _record(3)]}).replace('"big": [3', '"big": [1e999')
    items = assert_same(text.encode(), rs)
    assert sum(type(i) is Deferred for i in items) == 2


@pytest.mark.parametrize("data", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_documents(data: bytes) -> None:
    assert_same(data, RuleSet([_parse(_STATEFUL)]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gen.rule_files(), st.lists(gen.records(), min_size=1, max_size=8))
def test_generated_rule_files(rule_file: n.RuleFile, records: list[Any]) -> None:
    rs = RuleSet([rule_file], today=TODAY)
    if not rs.stateful_decls:
        return
    try:
        data = orjson.dumps({"Records": records})
    except TypeError:
        data = json.dumps({"Records": records}).encode()
    assert_same(data, rs)


def test_expression_paths() -> None:
    def paths(text: str) -> Any:
        rule = _parse(f"rule r {{\n    when {text}\n}}\n").decls[0]
        assert isinstance(rule, n.RuleDecl) and rule.when is not None
        return expression_paths([rule.when])

    assert paths('a.b == "x" and event.c exists') == {("a", "b"), ("c",)}
    # a quantifier's path stands for its body's relative paths; `event.` paths stay absolute
    assert paths('any resources (ARN == "x" and event.d == 1)') == {("resources",), ("d",)}
    assert paths('lower(userAgent) matches "^a" or e.0.f == 1') == {("userAgent",),
                                                                   ("e", 0, "f")}
    assert paths('any it (x == 1)') is None  # the whole record
