"""The evaluation fast paths change how alerts are made, never which alerts come out.

- `RuleSet.evaluate_many` gives, record by record, exactly what `evaluate` gives (differential,
  on every corpus and on generated rule sets and records, lists and iterators, records of any
  JSON type);
- the flat dispatch table `evaluate` reads gives the same answers warm as cold, whatever the
  types of the dispatch fields (strings, null, missing, numbers, booleans, arrays, objects);
- an alert's summary and group key, rendered when first read, are the values the rule's
  template and grouping give for its record when made eagerly — also for odd value types, and a
  template that cannot be rendered raises the same error when read;
- `in cidr(...)` with parsed addresses kept gives ipaddress's answer on any string.
"""

from __future__ import annotations

import copy
import dataclasses
import ipaddress
import pickle
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ctrules.values as values
from ctrules import nodes as n
from ctrules.alerts import Alert
from ctrules.parser import parse
from ctrules.ruleset import RuleSet
from tests import strategies as gen
from tests.test_index import RULE_SETS, corpus_records


def _parse(text: str) -> n.RuleFile:
    result = parse(text, "t.ctr")
    assert not result.diagnostics, result.diagnostics
    return result.file


def _value(alert: Alert) -> tuple[Any, ...]:
    """Everything an alert carries, read through its public fields."""
    return (alert.rule, alert.severity, alert.summary, alert.event, alert.ignored_by, alert.tags,
            alert.description, alert.group_key, alert.state)


def _per_event(rs: RuleSet, records: list[Any]) -> list[tuple[Any, list[tuple[Any, ...]]]]:
    out = []
    for record in records:
        alerts = rs.evaluate(record)
        if alerts:
            out.append((alerts[0].event, [_value(a) for a in alerts]))
    return out


def _batched(rs: RuleSet, records: Any) -> list[tuple[Any, list[tuple[Any, ...]]]]:
    return [(record, [_value(a) for a in alerts]) for record, alerts in rs.evaluate_many(records)]


# ---- evaluate_many == evaluate --------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(RULE_SETS))
def test_evaluate_many_is_evaluate_on_the_corpora(name: str) -> None:
    files = RULE_SETS[name]()
    records = list(corpus_records())
    expected = _per_event(RuleSet(files), records)
    assert sum(len(alerts) for _, alerts in expected) > 0
    batched = RuleSet(files)  # its own dispatch caches: cold, then warm on the second pass
    assert _batched(batched, records) == expected
    assert _batched(batched, iter(records)) == expected


def test_evaluate_many_yields_the_record_objects_in_order() -> None:
    rs = RuleSet([_parse('rule r {\n    severity low\n    when eventName == "X"\n}\n')])
    records = [{"eventName": "X", "n": i} for i in range(5)]
    records.insert(2, {"eventName": "Y"})
    got = list(rs.evaluate_many(x for x in records))
    assert [record["n"] for record, _ in got] == [0, 1, 2, 3, 4]
    assert all(record is alerts[0].event for record, alerts in got)
    assert got[0][0] is records[0]


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(gen.rule_files(), st.lists(st.one_of(gen.records(), gen.json_values()), max_size=6))
def test_evaluate_many_agrees_with_evaluate(rule_file: n.RuleFile, records: list[Any]) -> None:
    expected = _per_event(RuleSet([rule_file]), records)
    assert _batched(RuleSet([rule_file]), records) == expected
    assert _batched(RuleSet([rule_file]), iter(records)) == expected


# ---- the flat dispatch table ---------------------------------------------------------------

_DISPATCH_VALUES = st.one_of(
    st.sampled_from(["AccessDenied", "Root", "IAMUser", "X", "x", "ec2.amazonaws.com", ""]),
    st.none(), st.booleans(), st.integers(-1, 1), st.floats(allow_nan=False, max_value=1,
                                                            min_value=-1),
    st.lists(st.sampled_from(["Root", "X", None, 1]), max_size=2),
    st.dictionaries(st.sampled_from(["type", "X"]), st.sampled_from(["Root", "X"]), max_size=2),
)
_MISSING = object()


@st.composite
def _dispatch_records(draw: st.DrawFn) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for key in ("eventSource", "eventName", "errorCode"):
        value = draw(st.one_of(st.just(_MISSING), _DISPATCH_VALUES))
        if value is not _MISSING:
            record[key] = value
    identity = draw(st.one_of(
        st.just(_MISSING), _DISPATCH_VALUES,
        st.builds(lambda t: {"type": t}, _DISPATCH_VALUES), st.just({})))
    if identity is not _MISSING:
        record["userIdentity"] = identity
    return record


_DISPATCH_RULES = _parse("""
rule denied_any {
    severity low
    when errorCode startswith "AccessDenied"
}
rule root_any {
    severity high
    when userIdentity.type == "Root" and eventName exists
}
rule x_by_source {
    severity medium
    when eventSource == "ec2.amazonaws.com" and eventName == "X" and not errorCode exists
}
rule x_or_null {
    severity low
    when eventName in ["X", "x"] or errorCode == null
}
rule iam_error {
    severity low
    when errorCode exists and userIdentity.type in ["IAMUser", "X"]
}
""")


@settings(max_examples=200)
@given(st.lists(_dispatch_records(), min_size=1, max_size=12))
def test_warm_dispatch_answers_as_cold(records: list[dict[str, Any]]) -> None:
    warm = RuleSet([_DISPATCH_RULES])
    for record in records + records:  # the second time round every key is in the table
        cold = RuleSet([_DISPATCH_RULES])
        assert [_value(a) for a in warm.evaluate(record)] == \
            [_value(a) for a in cold.evaluate(record)], record
        assert warm.may_match(record) == cold.may_match(record)
        assert [r.info.name for r, _ in cold._candidates(record)] == \
            [r.info.name for r, _ in warm._candidates(record)]


# ---- lazily rendered alert fields -------------------------------------------------------------


def _eager(rs: RuleSet, alert: Alert) -> Alert:
    """The alert as evaluate made it before rendering became lazy."""
    rule = rs._by_name[alert.rule]
    return Alert(rule=rule.info.name, severity=rule.info.severity,
                 summary=rule.summary(alert.event), event=alert.event,
                 ignored_by=alert.ignored_by, tags=rule.info.tags,
                 description=rule.info.description, group_key=rule.group_key(alert.event))


_TEMPLATED = _parse("""
rule templated {
    severity high
    description "d"
    tags ["t1", "t2"]
    summary "{eventName} by {userIdentity.arn} on {requestParameters} {resources.ARN} {x} {x.y}"
    group_by [x, requestParameters.bucketName, resources.ARN]
    when eventName exists
}
rule default_summary {
    severity low
    when eventName exists
}
ignore some {
    reason "r"
    owner "o"
    rules [default_summary]
    when x == 1
}
""")


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(gen.records(), st.one_of(gen.json_values(), st.integers(), st.floats(),
                                st.integers(min_value=2**64, max_value=2**80)))
def test_lazy_fields_are_the_eager_values(record: dict[str, Any], x: Any) -> None:
    rs = RuleSet([_TEMPLATED])
    record = {**record, "eventName": record.get("eventName", "E"), "x": x}
    alerts = rs.evaluate(record)
    assert [a.rule for a in alerts] == ["templated", "default_summary"]
    for alert in alerts:
        eager = _eager(rs, alert)
        assert alert == eager and eager == alert
        assert _value(alert) == _value(eager)
        assert repr(alert) == repr(eager)
        assert alert.to_json() == eager.to_json()
        assert pickle.loads(pickle.dumps(alert)) == eager
        assert copy.copy(alert) == eager


class _Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no text for this value")


def test_a_template_that_cannot_render_raises_when_read() -> None:
    # Not JSON (orjson refuses it, and so does str()): the eager summary raised in evaluate;
    # the lazy one raises the same error when read, every time, and evaluation itself goes on.
    rs = RuleSet([_TEMPLATED])
    record = {"eventName": "E", "x": _Unprintable()}
    rule = rs._by_name["templated"]
    with pytest.raises(RuntimeError, match="no text") as eager:
        rule.summary(record)
    (alert, other) = rs.evaluate(record)
    for _ in range(2):
        with pytest.raises(type(eager.value), match="no text"):
            _ = alert.summary
        with pytest.raises(RuntimeError, match="no text"):
            _ = alert.group_key
    assert other.rule == "default_summary" and other.summary.startswith("default_summary: E")
    assert alert.rule == "templated" and alert.ignored_by == ()


def test_alerts_are_values() -> None:
    made = Alert("r", "low", "s", {"a": 1}, ("i",), ("t",), "d", ("r", "k"))
    assert made == Alert(rule="r", severity="low", summary="s", event={"a": 1}, ignored_by=("i",),
                         tags=("t",), description="d", group_key=("r", "k"))
    assert made != Alert("r", "low", "s", {"a": 2}, ("i",), ("t",), "d", ("r", "k"))
    assert made != ("r", "low", "s")
    assert repr(made) == ("Alert(rule='r', severity='low', summary='s', ignored_by=('i',), "
                          "tags=('t',), description='d', group_key=('r', 'k'), state=None)")
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.rule = "x"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del made.summary  # type: ignore[misc]
    with pytest.raises(TypeError):
        hash(made)  # its event is a dict, as before
    frozen_event = (("eventName", "X"),)  # hashable only when its event is
    assert hash(Alert("r", "low", "s", frozen_event)) == \
        hash(Alert("r", "low", "s", frozen_event))  # type: ignore[arg-type]
    assert made.to_dict()["summary"] == "s" and made.ignored


def test_ignored_alerts_name_their_ignores_lazily_rendered() -> None:
    rs = RuleSet([_TEMPLATED])
    (templated, suppressed) = rs.evaluate({"eventName": "E", "x": 1})
    assert suppressed.ignored_by == ("some",) and templated.ignored_by == ()
    assert suppressed == _eager(rs, suppressed)


# ---- cidr -------------------------------------------------------------------------------------

_NETWORKS = [ipaddress.ip_network(c) for c in
             ("10.0.0.0/8", "192.168.1.0/24", "203.0.113.7/32", "0.0.0.0/0", "2001:db8::/32",
              "::ffff:0:0/96", "fe80::/10")]


def _reference_in(text: str, networks: list[Any]) -> bool:
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return False
    return any(ip.version == net.version and ip in net for net in networks)


_ADDRESS_TEXTS = st.one_of(
    st.ip_addresses().map(str),
    st.ip_addresses(v=6).map(lambda ip: f"{ip}%eth0"),
    st.ip_addresses(v=4).map(lambda ip: f"::ffff:{ip}"),
    st.ip_addresses(v=4).map(lambda ip: "0" + str(ip)),
    st.ip_addresses(v=4).map(lambda ip: f" {ip}"),
    st.text(alphabet="0123456789.:abcdef%/ ", max_size=20),
)


@settings(max_examples=300)
@given(st.lists(st.sampled_from(_NETWORKS), min_size=1, max_size=4, unique=True),
       st.lists(_ADDRESS_TEXTS, min_size=1, max_size=5))
def test_cidr_test_is_ipaddress(networks: list[Any], texts: list[str]) -> None:
    test = values.cidr_test(networks)
    for text in texts + texts:  # the second time from the parsed-address cache
        assert test(text) == _reference_in(text, networks), text


def test_cidr_cache_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(values, "_ADDRESS_CACHE_LIMIT", 2)
    values.ADDRESSES.clear()
    test = values.cidr_test([ipaddress.ip_network("10.0.0.0/8")])
    answers = [test(t) for t in ("10.1.1.1", "11.1.1.1", "x", "10.2.2.2", "10.1.1.1")]
    assert answers == [True, False, False, True, True]
    assert len(values.ADDRESSES) <= 2
