"""What a batch holds until it is decided (ctrules/stateful/pending.py): bounded by keys and
windows, not by events — and still exactly the events an alert names and shows: the last five
(by event time, then eventID) of the window, the episode's first, the sequence's last five in
its span, whatever the arrival order."""

from __future__ import annotations

import collections
import io
import random
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ctrules.alerts import Alert
from ctrules.stateful import MemoryStore, StatefulEngine
from ctrules.stateful import engine as engine_module
from ctrules.stateful.run import StatefulRun

from .test_engine import BASE, RULESET, _t, events_strategy, make_event


def _named(alert: Alert, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events a brute-force reading of the docs says `alert` names, in order."""
    state = alert.state or {}
    key = state["key"]["p"]
    same_key = [e for e in events if e["p"] == key]
    rule = alert.rule
    order = sorted(same_key, key=lambda e: (_t(e), e["eventID"]))
    if rule in ("burst", "spread"):
        names = {"burst": ("A",), "spread": ("A", "B")}[rule]
        start = _t({"eventTime": state["window"][0]})
        end = _t({"eventTime": state["window"][1]})
        chosen = [e for e in order if e["eventName"] in names and start <= _t(e) < end]
        return chosen[-5:]
    if rule in ("novel", "novel_key"):
        first = _t({"eventTime": state["first_seen"]})
        name = "B" if rule == "novel" else "C"
        value = (state.get("value") or {}).get("ip")
        chosen = [e for e in order if e["eventName"] == name and _t(e) == first
                  and (value is None or e["ip"] == value)]
        return chosen[:1]
    assert rule == "chain"
    start = _t({"eventTime": state["started"]})
    end = _t({"eventTime": state["completed"]})
    steps = [e for e in order if e["eventName"] in ("A", "B", "C")]
    return ([e for e in steps if start <= _t(e) <= end] or steps)[-5:]


@given(events_strategy, st.randoms(use_true_random=False))
def test_an_alert_names_and_shows_the_events_the_docs_say(events: list[dict[str, Any]],
                                                          rnd: random.Random) -> None:
    shuffled = events[:]
    rnd.shuffle(shuffled)
    alerts = StatefulEngine(RULESET, MemoryStore()).run(shuffled)
    for alert in alerts:
        named = _named(alert, events)
        assert alert.state and alert.state["sample"] == [e["eventID"] for e in named]
        assert dict(alert.event) == named[-1]


def test_a_batch_holds_one_record_per_window_however_many_events() -> None:
    run = StatefulRun(RULESET)
    events = [make_event(i, (i * 7) % 1200, "ABC"[i % 3], f"p{i % 4}", f"v{i % 9}", f"ip{i % 2}")
              for i in range(6000)]
    for event in events:
        run.collect(event)
    pending = run.pending
    windows = collections.Counter(kind for kind in
                                  (run.engine.specs[g[0]].kind for g in pending.groups))
    assert pending.observed > 10_000  # every event selected by two or three rules
    # count/distinct: one per (rule, key, 10-minute window); first_seen: one per key and value
    # (one episode each); sequence: one per second a key's steps occur in.
    assert windows["count"] == 4 * 2 and windows["distinct"] == 4 * 2
    assert windows["first_seen"] == 4 + 4  # ip follows p here: one value per key
    seconds = sum(len(g.seconds) for g in pending.groups.values() if hasattr(g, "seconds"))
    assert pending.held_records() == 8 + 8 + 8 + seconds <= 8 + 8 + 8 + 4 * 1200
    out = io.BytesIO()
    run.finish(out, collections.Counter(), None, False)
    assert len(out.getvalue().splitlines()) == len(StatefulEngine(RULESET, MemoryStore())
                                                   .run(reversed(events)))


def test_held_records_do_not_grow_with_events_in_the_same_windows() -> None:
    run = StatefulRun(RULESET)
    rules = [RULESET.rule_decl("burst"), RULESET.rule_decl("spread")]
    run.engine = StatefulEngine(RULESET, MemoryStore(), rules=rules)
    run.pending = run.engine.pending()
    held = []
    for i in range(20_000):
        run.collect(make_event(i, i % 600, "A", f"p{i % 2}", f"v{i % 50}", "ip"))
        if i % 5000 == 4999:
            held.append(run.pending.held_records())
    assert held == [4, 4, 4, 4]  # two rules x two keys x one window
    alerts = run.engine.process(run.pending)
    counts = sorted((a.rule, (a.state or {}).get("count") or (a.state or {})["distinct"])
                    for a in alerts)
    assert counts == [("burst", 10_000), ("burst", 10_000), ("spread", 25), ("spread", 25)]
    for alert in alerts:  # the last five by (time, eventID): the key's last second
        ids = (alert.state or {})["sample"]
        last = 599 if alert.event["p"] == "p1" else 598
        assert ids == sorted(f"e{i}" for i in range(last, 20_000, 600))[-5:]
        assert alert.event["eventID"] == ids[-1]
        assert alert.event["eventTime"] == engine_module.iso(BASE + last)


def test_a_sequence_shows_its_last_step_even_when_its_second_is_crowded() -> None:
    engine = StatefulEngine(RULESET, MemoryStore(), rules=[RULESET.rule_decl("chain")])
    events = [make_event(1, 10, "A", "p1", "v", "ip"), make_event(2, 20, "B", "p1", "v", "ip")]
    events += [make_event(100 + i, 30, "A", "p1", "v", "ip") for i in range(8)]
    events.append(make_event(99, 30, "C", "p1", "v", "ip"))  # e99 sorts last at second 30
    alerts = engine.run(list(reversed(events)))
    assert len(alerts) == 1
    assert alerts[0].state and alerts[0].state["sample"][-1] == "e99"
    assert alerts[0].event["eventName"] == "C"
    assert alerts[0].state["started"] == engine_module.iso(BASE + 10)


@given(st.lists(st.tuples(st.integers(0, 50), st.sampled_from("abc")), min_size=1, max_size=30),
       st.integers(1, 10), st.randoms(use_true_random=False))
def test_episodes_are_the_runs_of_sorted_sightings(sightings: list[tuple[int, str]],
                                                   lookback: int, rnd: random.Random) -> None:
    from ctrules.stateful.pending import Episodes

    ordered = sorted((t, eid, i) for i, (t, eid) in enumerate(sightings))
    expected = [ordered[0]] + [b for a, b in zip(ordered, ordered[1:], strict=False)
                               if b[0] - a[0] > lookback]
    episodes = Episodes()
    arrival = list(enumerate(sightings))
    rnd.shuffle(arrival)
    for i, (t, eid) in arrival:
        episodes.add((t, eid, i), {"i": i}, None, lookback)
    assert [s.order for s in episodes.firsts] == expected
    assert episodes.starts == [o[0] for o in expected]
    ends = [a[0] for a, b in zip(ordered, ordered[1:], strict=False) if b[0] - a[0] > lookback]
    assert episodes.lasts == [*ends, ordered[-1][0]]
    assert [s.event["i"] for s in episodes.firsts] == [o[2] for o in expected]
