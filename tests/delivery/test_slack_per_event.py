"""Per-event message mode (CTRULES_SLACK_MESSAGE_MODE=per_event) against the local Slack server:
one message per event listing every rule that matched it, as the fivexl module posted one
message per event."""

from __future__ import annotations

from typing import Any

import pytest

from ctrules.delivery.factory import SlackConfigError, build_sink
from ctrules.delivery.slack import SlackSink
from tests.delivery import slack_events as events
from tests.delivery.delivery_support import slack_env
from tests.support.slack_server import SlackServer


def _denied_root_login() -> dict[str, Any]:
    # Matches root_login (critical) and access_denied (low); in the dev account no route takes
    # either, so both go to the default destination.
    record = events.root_login()
    record["recipientAccountId"] = events.DEV
    record["errorCode"] = "AccessDenied"
    return record


def _sink(server: SlackServer, ruleset: Any, **env: str) -> SlackSink:
    sink = build_sink(ruleset, slack_env(server, **env))
    assert isinstance(sink, SlackSink)
    return sink


def _fields(payload: dict[str, Any]) -> list[str]:
    return [f["text"] for b in payload["blocks"] if b["type"] == "section" for f in b.get("fields", [])]


def test_one_message_per_event_lists_every_matching_rule(
    slack_server: SlackServer, ruleset: Any
) -> None:
    sink = _sink(slack_server, ruleset, CTRULES_SLACK_MESSAGE_MODE="per_event")
    batch = ruleset.evaluate(_denied_root_login()) + ruleset.evaluate(events.access_denied(1))
    assert sorted(a.rule for a in batch) == ["access_denied", "access_denied", "root_login"]
    report = sink.deliver(batch)
    assert report.ok, report.failures
    posts = slack_server.posts_to("default")
    assert report.messages == len(posts) == 2
    assert report.delivered == 3  # every alert is accounted for
    first, second = posts
    # Most severe rule first: it sets the header; the count is of events, not rules.
    header = first["blocks"][0]["text"]["text"]
    assert header.startswith(":rotating_light: CRITICAL · ") and "×" not in header
    (rules,) = [f for f in _fields(first) if f.startswith("*Rules")]
    assert rules.startswith("*Rules (2)*") and rules.index("root_login") < rules.index("access_denied")
    assert "rules root_login, access_denied" in first["text"]
    # A single-rule event reads like a per-alert message.
    assert any(f.startswith("*Rule*") for f in _fields(second))
    assert "rule access_denied" in second["text"]


def test_per_alert_mode_posts_each_rule_apart(slack_server: SlackServer, ruleset: Any) -> None:
    sink = _sink(slack_server, ruleset)
    report = sink.deliver(ruleset.evaluate(_denied_root_login()))
    assert report.ok and report.messages == 2 == len(slack_server.posts_to("default"))


def test_per_event_mode_respects_routes(slack_server: SlackServer, ruleset: Any) -> None:
    # In prod, root_login goes to prod-security and audit, access_denied to the default: one
    # message per event *and destination*, never an alert in a channel its route did not pick.
    record = _denied_root_login()
    record["recipientAccountId"] = events.PROD
    sink = _sink(slack_server, ruleset, CTRULES_SLACK_MESSAGE_MODE="per_event")
    report = sink.deliver(ruleset.evaluate(record))
    assert report.ok
    assert ["root_login" in p["text"] for p in slack_server.posts_to("prod")] == [True]
    (default,) = slack_server.posts_to("default")
    assert "access_denied" in default["text"] and "root_login" not in default["text"]


def test_unknown_mode_fails_at_configuration(slack_server: SlackServer, ruleset: Any) -> None:
    with pytest.raises(SlackConfigError, match="per_alert or per_event"):
        build_sink(ruleset, slack_env(slack_server, CTRULES_SLACK_MESSAGE_MODE="per_rule"))
