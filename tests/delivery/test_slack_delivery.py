"""End-to-end Slack delivery against the local Slack server: routing, retries, failures,
grouping of bursts, rate limiting. Real rule sets (tests/delivery/conftest.py), real HTTP."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from ctrules.alerts import Alert
from ctrules.delivery import DeliveryReport
from ctrules.delivery.factory import build_sink
from ctrules.delivery.slack import RateLimiter, SlackSink
from tests.delivery import slack_events as events
from tests.delivery.delivery_support import slack_env
from tests.support.slack_server import SlackServer


def alerts_for(ruleset: Any, *records: dict[str, Any]) -> list[Alert]:
    return [a for r in records for a in ruleset.evaluate(r)]


def sink_for(server: SlackServer, ruleset: Any, **env: str) -> SlackSink:
    sink = build_sink(ruleset, slack_env(server, **env))
    assert isinstance(sink, SlackSink)
    return sink


def test_routes_go_to_each_configured_destination(slack_server: SlackServer, ruleset: Any) -> None:
    sink = sink_for(slack_server, ruleset)
    batch = alerts_for(
        ruleset, events.root_login(), events.security_group_change(), events.access_denied(1)
    )
    report = sink.deliver(batch)
    assert report.ok, report.failures
    # root login -> prod-security + audit; SG change -> prod-security + audit + network;
    # the dev AccessDenied matches no route -> default.
    prod = slack_server.posts_to("prod")
    audit = slack_server.posts_to("CAUDIT0001")
    assert [p["text"].split(" ")[0] for p in prod] == ["[CRITICAL]", "[HIGH]"]
    assert len(audit) == 2
    assert len(slack_server.posts_to("network")) == 1
    default = slack_server.posts_to("default")
    assert len(default) == 1 and "AccessDenied" in default[0]["text"]
    assert report.delivered == 6 and report.messages == 6
    assert slack_server.violations == []
    # Bot-token posts carry the token; webhook posts never do.
    bot = slack_server.accepted("chat.postMessage")
    assert bot and all(r.headers["Authorization"] == f"Bearer {slack_server.token}" for r in bot)
    hooks = slack_server.accepted("webhook")
    assert all("Authorization" not in r.headers for r in hooks)


def test_route_to_unconfigured_name_falls_back_to_default_and_says_so(
    slack_server: SlackServer, ruleset: Any
) -> None:
    sink = sink_for(slack_server, ruleset)
    record = events.huge_run_instances(3)
    record["awsRegion"] = "ap-south-1"
    alerts = alerts_for(ruleset, record)
    assert ruleset.destinations(alerts[0]) == ("not-configured-anywhere",)
    report = sink.deliver(alerts)
    assert report.ok
    [posted] = slack_server.posts_to("default")
    context = posted["blocks"][-1]["elements"]
    assert any("not-configured-anywhere" in e["text"] for e in context)


def test_ignored_alerts_are_counted_not_sent(slack_server: SlackServer, ruleset: Any) -> None:
    sink = sink_for(slack_server, ruleset)
    [alert] = alerts_for(ruleset, events.access_denied(1))
    muted = Alert(alert.rule, alert.severity, alert.summary, alert.event, ignored_by=("ci_probes",))
    report = sink.deliver([muted])
    assert report.ok and report.delivered == 0 and report.ignored == 1
    assert slack_server.requests == []


def test_429_retry_after_is_honoured(slack_server: SlackServer, ruleset: Any) -> None:
    sink = sink_for(slack_server, ruleset)
    slack_server.rate_limit_next(1, retry_after=1)
    start = time.monotonic()
    report = sink.deliver(alerts_for(ruleset, events.access_denied(1)))
    elapsed = time.monotonic() - start
    assert report.ok and report.delivered == 1
    statuses = [r.status for r in slack_server.requests]
    assert statuses == [429, 200]
    assert 1.0 <= elapsed < 1.8  # waited what Retry-After asked, not the backoff guess


def test_429_on_bot_api_is_retried(slack_server: SlackServer, ruleset: Any) -> None:
    sink = sink_for(slack_server, ruleset, CTRULES_SLACK_DESTINATIONS='{"default": "CDEF"}')
    slack_server.rate_limit_next(1, retry_after=1)
    report = sink.deliver(alerts_for(ruleset, events.access_denied(1)))
    assert report.ok
    assert [r.status for r in slack_server.requests] == [429, 200]
    assert len(slack_server.posts_to("CDEF")) == 1


def test_retry_after_longer_than_allowed_fails_transiently_without_waiting(
    slack_server: SlackServer, ruleset: Any
) -> None:
    sink = sink_for(slack_server, ruleset)
    slack_server.rate_limit_next(1, retry_after=120)
    start = time.monotonic()
    report = sink.deliver(alerts_for(ruleset, events.access_denied(1)))
    assert time.monotonic() - start < 1
    [failure] = report.failures
    assert not failure.permanent and "429" in failure.reason
    assert failure.event_ids == (events.access_denied(1)["eventID"],)
    assert failure.rules == ("access_denied",)


def test_5xx_is_retried_with_backoff(slack_server: SlackServer, ruleset: Any) -> None:
    sink = sink_for(slack_server, ruleset)
    slack_server.fail_next(1, status=500)
    slack_server.fail_next(1, status=502)
    report = sink.deliver(alerts_for(ruleset, events.access_denied(1)))
    assert report.ok
    assert [r.status for r in slack_server.requests] == [500, 502, 200]


def test_persistent_5xx_is_a_transient_failure_for_the_caller(
    slack_server: SlackServer, ruleset: Any
) -> None:
    sink = sink_for(slack_server, ruleset)
    slack_server.fail_next(3, status=503)
    batch = alerts_for(ruleset, events.access_denied(1), events.access_denied(2))
    report = sink.deliver(batch)
    assert report.delivered == 0 and not report.ok
    [failure] = report.failures
    assert not failure.permanent
    assert set(failure.event_ids) == {a.event_id for a in batch}
    assert len(slack_server.requests) == 3  # first try + 2 retries
    assert report.retryable == report.failures


def test_hanging_slack_times_out_and_is_retried(slack_server: SlackServer, ruleset: Any) -> None:
    sink = sink_for(slack_server, ruleset, CTRULES_SLACK_TIMEOUT="0.3")
    slack_server.hang_next(1, seconds=3)
    report = sink.deliver(alerts_for(ruleset, events.access_denied(1)))
    assert report.ok, report.failures
    assert len(slack_server.posts_to("default")) == 1


def test_hanging_slack_forever_is_reported_not_lost(
    slack_server: SlackServer, ruleset: Any
) -> None:
    sink = sink_for(slack_server, ruleset, CTRULES_SLACK_TIMEOUT="0.2")
    slack_server.hang_next(3, seconds=3)
    report = sink.deliver(alerts_for(ruleset, events.access_denied(1)))
    [failure] = report.failures
    assert not failure.permanent


def test_revoked_webhook_is_permanent_logged_and_counted(
    slack_server: SlackServer, ruleset: Any, caplog: pytest.LogCaptureFixture
) -> None:
    sink = sink_for(slack_server, ruleset)
    slack_server.revoked_hooks.add("default")
    alerts = alerts_for(ruleset, events.access_denied(7))
    with caplog.at_level(logging.ERROR, logger="ctrules.delivery.slack"):
        report = sink.deliver(alerts)
    [failure] = report.failures
    assert failure.permanent and "404" in failure.reason
    assert report.permanent == [failure] and report.retryable == []
    assert sink.permanent_failures == 1
    assert len(slack_server.requests) == 1  # no retry of a 404
    logged = caplog.text
    assert "access_denied" in logged and alerts[0].event_id in logged
    assert slack_server.url not in logged  # webhook URLs are secrets


def test_unknown_channel_is_permanent(slack_server: SlackServer, ruleset: Any) -> None:
    sink = sink_for(slack_server, ruleset, CTRULES_SLACK_DESTINATIONS='{"default": "CGONE"}')
    slack_server.missing_channels.add("CGONE")
    report = sink.deliver(alerts_for(ruleset, events.access_denied(1)))
    [failure] = report.failures
    assert failure.permanent and "channel_not_found" in failure.reason


def test_revoked_token_is_permanent(slack_server: SlackServer, ruleset: Any) -> None:
    sink = sink_for(
        slack_server,
        ruleset,
        CTRULES_SLACK_DESTINATIONS='{"default": "CDEF"}',
        CTRULES_SLACK_BOT_TOKEN="xoxb-revoked",
    )
    report = sink.deliver(alerts_for(ruleset, events.access_denied(1)))
    [failure] = report.failures
    assert failure.permanent and "invalid_auth" in failure.reason


def test_after_a_transient_failure_the_rest_of_that_target_is_not_attempted(
    slack_server: SlackServer, ruleset: Any
) -> None:
    sink = sink_for(slack_server, ruleset, CTRULES_SLACK_MAX_RETRIES="0")
    slack_server.fail_next(1, status=500, match="/hooks/default")
    batch = alerts_for(
        ruleset,
        events.access_denied(1),
        events.huge_run_instances(2),  # a second group for the default destination
        events.security_group_change(),  # other destinations still get theirs
    )
    report = sink.deliver(batch)
    assert len(slack_server.posts_to("default")) == 0
    assert len([r for r in slack_server.requests if r.path == "/hooks/default"]) == 1
    assert len(report.failures) == 2 and all(not f.permanent for f in report.failures)
    assert "not attempted" in report.failures[1].reason
    assert len(slack_server.posts_to("prod")) == 1 and len(slack_server.posts_to("network")) == 1
    failed_ids = {i for f in report.failures for i in f.event_ids}
    assert failed_ids == {
        events.access_denied(1)["eventID"],
        events.huge_run_instances(2)["eventID"],
    }


def test_burst_of_5000_events_becomes_a_handful_of_messages(
    slack_server: SlackServer, ruleset: Any
) -> None:
    # A scanner run: 5,000 AccessDenied from 2 roles in 2 accounts, plus 3 root logins.
    records = [events.access_denied(i, buckets=7) for i in range(4000)]
    other = []
    for i in range(1000):
        rec = events.access_denied(10_000 + i, account=events.PROD)
        rec["userIdentity"]["arn"] = f"arn:aws:sts::{events.PROD}:assumed-role/scanner/s"
        other.append(rec)
    batch = alerts_for(ruleset, *records, *other) + alerts_for(ruleset, events.root_login()) * 3
    assert len(batch) == 5003
    sink = sink_for(slack_server, ruleset)
    start = time.monotonic()
    report = sink.deliver(batch)
    elapsed = time.monotonic() - start
    assert report.ok, report.failures
    assert report.delivered == 5003 + 3  # root logins go to two destinations
    assert report.messages == 4  # dev role group, prod scanner group, root ×2 destinations
    assert slack_server.violations == []
    dev, prod_scanner = slack_server.posts_to("default")
    assert dev["text"].startswith("[LOW] 4,000 × AccessDenied")
    assert prod_scanner["text"].startswith("[LOW] 1,000 × AccessDenied")
    differs = next(
        b for b in dev["blocks"] if "Differs across" in b.get("text", {}).get("text", "")
    )
    text = differs["text"]["text"]
    assert "`requestParameters.bucketName` (7 values)" in text
    assert "`team-data-0` ×572" in text
    [root] = slack_server.posts_to("prod")
    assert root["text"].startswith("[CRITICAL] 3 × Root user console login")
    assert elapsed < 10


def test_more_groups_than_the_message_limit_become_a_digest(
    slack_server: SlackServer, ruleset: Any
) -> None:
    records = []
    for i in range(30):
        rec = events.access_denied(i)
        rec["userIdentity"]["arn"] = f"arn:aws:sts::{events.DEV}:assumed-role/role-{i}/s"
        records.append(rec)
    sink = sink_for(slack_server, ruleset, CTRULES_SLACK_MAX_MESSAGES="5")
    report = sink.deliver(alerts_for(ruleset, *records))
    assert report.ok and report.delivered == 30
    posts = slack_server.posts_to("default")
    assert len(posts) == 5
    digest = posts[-1]
    assert digest["text"] == "26 more alerts in 26 groups (digest)"
    listed = "\n".join(b["text"]["text"] for b in digest["blocks"] if b["type"] == "section")
    assert all(f"role-{i}/" in listed or f"role-{i}" in listed for i in range(4, 30)) or (
        listed.count("`access_denied`") == 26
    )
    assert slack_server.violations == []


def test_grouping_off_sends_one_message_per_alert(slack_server: SlackServer, ruleset: Any) -> None:
    sink = sink_for(slack_server, ruleset, CTRULES_SLACK_GROUPING="off")
    report = sink.deliver(alerts_for(ruleset, *(events.access_denied(i) for i in range(3))))
    assert report.ok and report.messages == 3


def test_rate_limiter_spaces_messages_after_the_burst() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(rate=1.0, burst=3, clock=lambda: now[0], sleep=sleep)
    waits = [limiter.acquire("hook") for _ in range(6)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3:] == pytest.approx([1.0, 1.0, 1.0])
    assert limiter.acquire("other-hook") == 0.0  # per target
    now[0] += 10  # idle time refills the bucket
    assert [limiter.acquire("hook") for _ in range(3)] == [0.0, 0.0, 0.0]


def test_sink_rate_limit_applies_per_destination(slack_server: SlackServer, ruleset: Any) -> None:
    sink = sink_for(
        slack_server,
        ruleset,
        CTRULES_SLACK_RATE="20",
        CTRULES_SLACK_BURST="1",
        CTRULES_SLACK_GROUPING="off",
    )
    start = time.monotonic()
    report = sink.deliver(alerts_for(ruleset, *(events.access_denied(i) for i in range(5))))
    elapsed = time.monotonic() - start
    assert report.ok and report.messages == 5
    assert elapsed >= 4 / 20 * 0.9
    assert sink.limiter.waited == pytest.approx(4 / 20, abs=0.05)


def test_report_merges(slack_server: SlackServer) -> None:
    a = DeliveryReport(delivered=1, messages=1)
    b = DeliveryReport(delivered=2, messages=1, ignored=3)
    a.merge(b)
    assert (a.delivered, a.messages, a.ignored) == (3, 2, 3)
