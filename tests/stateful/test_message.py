"""A stateful alert's Slack message shows the state that decided it."""

from __future__ import annotations

import json

from ctrules.delivery.message import render_group
from ctrules.delivery.routing import AlertGroup
from ctrules.stateful import MemoryStore, StatefulEngine

from .test_engine import RULESET, make_event


def test_the_message_shows_key_window_distinct_values_and_sample() -> None:
    engine = StatefulEngine(RULESET, MemoryStore(), rules=[RULESET.rule_decl("spread")])
    events = [make_event(i, i, "A", "p1", f"v{i}", "ip") for i in range(4)]
    (alert,) = engine.run(events)
    payload = render_group(AlertGroup("default", alert.group_key, [alert]))
    text = json.dumps(payload["blocks"])
    assert "*Distinct* 4 values (threshold 3)" in text
    assert all(f"`v{i}`" in text for i in range(4))
    assert "p = `p1`" in text
    assert "*Window*" in text and "*Sample* `e0`, `e1`, `e2`, `e3`" in text


def test_evaluate_alone_never_alerts_for_a_stateful_rule() -> None:
    # Per-event evaluation skips stateful rules: only the engine decides them.
    assert RULESET.evaluate(make_event(1, 1, "A", "p", "v", "ip")) == []
    assert RULESET.candidates_for(make_event(1, 1, "A", "p", "v", "ip")) == ()
