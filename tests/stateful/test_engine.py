"""The streaming engine against the reference model: any arrival order, any batch split, late
events within the tolerance — the same alerts, exactly once per key and window."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ctrules.alerts import Alert
from ctrules.checks import check_sources
from ctrules.ruleset import RuleSet
from ctrules.stateful import LATENESS_SECONDS, MemoryStore, StatefulEngine

from .reference import Identity, reference_alerts

RULES = """
rule burst {
    when eventName == "A"
    count >= 3 by [p] within 10m
}
rule spread {
    when eventName == "A" or eventName == "B"
    distinct v >= 3 by [p] within 10m
}
rule novel {
    when eventName == "B"
    first_seen ip by [p] within 1h
}
rule novel_key {
    when eventName == "C"
    first_seen by [p] within 1h
}
rule chain {
    when eventName != "Z"
    sequence by [p] within 5m
        then eventName == "A"
        then eventName == "B"
        then eventName == "C"
}
"""

BASE = 1_780_000_000 - 1_780_000_000 % 3600  # a whole hour, so windows line up with the span


def ruleset() -> RuleSet:
    files, diagnostics = check_sources([("s.ctr", RULES)])
    assert not [d for d in diagnostics if d.is_error], diagnostics
    return RuleSet(files)


RULESET = ruleset()


def iso(t: int) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_event(i: int, t: int, name: str, p: str, v: str, ip: str) -> dict[str, Any]:
    return {"eventID": f"e{i}", "eventTime": iso(BASE + t), "eventName": name, "p": p, "v": v,
            "ip": ip}


# Within 40 minutes: every gap is shorter than first_seen's 1h look-back minus the tolerance,
# so first_seen decides one episode per key whatever the order (docs: identity of an alert).
events_strategy = st.lists(
    st.tuples(st.integers(0, 2400), st.sampled_from("ABCZ"), st.sampled_from(["p1", "p2"]),
              st.sampled_from(["v1", "v2", "v3", "v4"]), st.sampled_from(["ip1", "ip2"])),
    max_size=60,
).map(lambda rows: [make_event(i, *row) for i, row in enumerate(rows)])


def identities(alerts: list[Alert]) -> list[Identity]:
    out: list[Identity] = []
    for a in alerts:
        state = a.state or {}
        key = tuple(state["key"].values())
        if state["kind"] == "first_seen":
            value = state.get("value")
            out.append((a.rule, key, next(iter(value.values())) if value else None))
        else:
            start = dt.datetime.strptime(state["window"][0], "%Y-%m-%dT%H:%M:%SZ")
            out.append((a.rule, key, int(start.replace(tzinfo=dt.UTC).timestamp())))
    return sorted(out, key=repr)


def stream(events: list[dict[str, Any]], cuts: list[int]) -> tuple[list[Alert], StatefulEngine]:
    engine = StatefulEngine(RULESET, MemoryStore())
    alerts: list[Alert] = []
    bounds = sorted({0, len(events), *(c % (len(events) + 1) for c in cuts)})
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        batch = [ob for e in events[lo:hi] for ob in engine.observe(e)]
        alerts.extend(engine.process(batch))
    return alerts, engine


@given(events_strategy, st.randoms(use_true_random=False))
def test_run_gives_the_reference_alerts_whatever_the_order(events: list[dict[str, Any]],
                                                           rnd: random.Random) -> None:
    shuffled = events[:]
    rnd.shuffle(shuffled)
    engine = StatefulEngine(RULESET, MemoryStore())
    assert identities(engine.run(shuffled)) == reference_alerts(RULESET, events)


@given(events_strategy, st.lists(st.integers(0, 100), max_size=8),
       st.randoms(use_true_random=False))
def test_streaming_with_late_arrivals_and_batches_equals_the_reference(
        events: list[dict[str, Any]], cuts: list[int], rnd: random.Random) -> None:
    # Arrival order: each event delayed by up to the tolerance, so none arrives more than the
    # tolerance behind the latest event time seen before it.
    delays = {e["eventID"]: rnd.randint(0, LATENESS_SECONDS) for e in events}
    arrival = sorted(events, key=lambda e: (_t(e) + delays[e["eventID"]], rnd.random()))
    alerts, engine = stream(arrival, cuts)
    assert engine.stats.late == 0
    assert identities(alerts) == reference_alerts(RULESET, events)


@given(events_strategy, st.lists(st.integers(0, 100), max_size=8))
def test_a_retried_batch_adds_nothing_and_alerts_nothing_new(events: list[dict[str, Any]],
                                                             cuts: list[int]) -> None:
    ordered = sorted(events, key=_t)
    alerts, engine = stream(ordered, cuts)
    again = engine.process([ob for e in ordered for ob in engine.observe(e)])
    assert again == []
    assert identities(alerts) == reference_alerts(RULESET, events)


def _t(e: dict[str, Any]) -> int:
    return int(dt.datetime.strptime(e["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=dt.UTC).timestamp())


# ---- the stated tolerance, at its edges ----------------------------------------------------------


def burst(ids: range, t: int, p: str = "p1") -> list[dict[str, Any]]:
    return [make_event(i, t + i % 60, "A", p, "v1", "ip1") for i in ids]


def test_an_event_within_the_tolerance_still_counts() -> None:
    engine = StatefulEngine(RULESET, MemoryStore(), rules=[RULESET.rule_decl("burst")])
    assert engine.process([o for e in burst(range(2), 0) for o in engine.observe(e)]) == []
    # The window [0, 10m) closed at 10m; an event 14m59s past its end is late but in time.
    later = make_event(99, 600 + LATENESS_SECONDS - 1, "A", "p2", "v1", "ip1")
    engine.process(engine.observe(later))
    late = make_event(3, 5, "A", "p1", "v1", "ip1")
    alerts = engine.process(engine.observe(late))
    assert [a.state["count"] for a in alerts if a.state] == [3]
    assert engine.stats.late == 0


def test_an_event_later_than_the_tolerance_is_dropped_and_counted() -> None:
    engine = StatefulEngine(RULESET, MemoryStore(), rules=[RULESET.rule_decl("burst")])
    engine.process([o for e in burst(range(2), 0) for o in engine.observe(e)])
    later = make_event(99, 600 + LATENESS_SECONDS + 1, "A", "p2", "v1", "ip1")
    engine.process(engine.observe(later))
    alerts = engine.process(engine.observe(make_event(3, 5, "A", "p1", "v1", "ip1")))
    assert alerts == []
    assert engine.stats.late == 1


def test_one_alert_per_key_per_window_and_the_next_window_alerts_again() -> None:
    engine = StatefulEngine(RULESET, MemoryStore(), rules=[RULESET.rule_decl("burst")])
    first = engine.run(burst(range(10), 0))  # ten events, one window: one alert
    second = engine.run(burst(range(10, 20), 600))  # the next window
    assert [a.state["count"] for a in first if a.state] == [10]  # what the batch held
    assert len(second) == 1
    assert first[0].state and first[0].state["window"] == [iso(BASE), iso(BASE + 600)]
    assert len(first[0].state["sample"]) <= 5


def test_first_seen_alerts_again_after_the_look_back() -> None:
    engine = StatefulEngine(RULESET, MemoryStore(), rules=[RULESET.rule_decl("novel_key")])
    events = [make_event(i, t, "C", "p1", "v", "ip") for i, t in
              enumerate([0, 1800, 3000, 3000 + 3601, 3000 + 3700])]
    alerts = engine.run(events)
    assert [a.state["first_seen"] for a in alerts if a.state] == [iso(BASE), iso(BASE + 6601)]


def test_a_sequence_needs_its_steps_in_event_time_order() -> None:
    engine = StatefulEngine(RULESET, MemoryStore(), rules=[RULESET.rule_decl("chain")])
    reverse = [make_event(1, 10, "C", "p1", "v", "ip"), make_event(2, 20, "B", "p1", "v", "ip"),
               make_event(3, 30, "A", "p1", "v", "ip")]
    assert engine.run(reverse) == []
    forward = [make_event(4, 40, "A", "p1", "v", "ip"), make_event(5, 50, "B", "p1", "v", "ip"),
               make_event(6, 60, "C", "p1", "v", "ip")]
    # Delivered backwards, still a sequence: order is event time, not arrival.
    alerts = StatefulEngine(RULESET, MemoryStore(), rules=[RULESET.rule_decl("chain")]).run(
        list(reversed(forward)))
    assert len(alerts) == 1
    assert alerts[0].state and alerts[0].state["started"] == iso(BASE + 40)


def test_a_full_sequence_state_is_counted_not_silent(monkeypatch: Any) -> None:
    from ctrules.stateful import engine as engine_module

    monkeypatch.setattr(engine_module, "SEQUENCE_CAP", 2)
    engine = StatefulEngine(RULESET, MemoryStore(), rules=[RULESET.rule_decl("chain")])
    first = [make_event(i, i, "A", "p1", "v", "ip") for i in range(3)]
    engine.process([o for e in first for o in engine.observe(e)])
    more = [make_event(10, 10, "B", "p1", "v", "ip"), make_event(11, 11, "C", "p1", "v", "ip")]
    assert engine.process([o for e in more for o in engine.observe(e)]) == []
    assert engine.stats.full == 1
