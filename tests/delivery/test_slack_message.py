"""Message rendering properties: escaping, safe truncation, grouping summaries, limits."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ctrules.alerts import Alert
from ctrules.delivery.message import (
    escape,
    fit,
    render_digest,
    render_group,
    varying_values,
)
from ctrules.delivery.routing import AlertGroup, group_key, route
from tests.delivery import slack_events as events
from tests.support.slack_server import validate_message


def alert(event: dict[str, Any], summary: str = "s", rule: str = "r", **kw: Any) -> Alert:
    return Alert(rule=rule, severity=kw.pop("severity", "high"), summary=summary, event=event, **kw)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(alphabet=st.sampled_from("ab<>&;amp` é😀"), max_size=200), st.integers(0, 120))
def test_fit_respects_budget_and_never_splits_an_entity(raw: str, budget: int) -> None:
    out = fit(raw, budget)
    assert len(out) <= max(budget, 1)
    body = out[:-1] if out.endswith("…") and out != escape(raw) else out
    # Whatever was kept is exactly the escape of a prefix of the input.
    assert any(escape(raw[:i]) == body for i in range(len(raw) + 1))


def test_event_data_cannot_mention_or_link() -> None:
    event = events.access_denied(1)
    event["errorMessage"] = "<!channel> please look <https://evil.example|here>"
    event["userAgent"] = "<@U123> & friends"
    payload = render_group(AlertGroup("default", ("k",), [alert(event)]))
    text = json.dumps(payload)
    assert "<!channel>" not in text and "<@U123>" not in text and "<https://" not in text
    assert "&lt;!channel&gt;" in text


def test_group_shows_count_range_and_differing_values_only() -> None:
    alerts = [alert(events.access_denied(i, buckets=3), summary="denied") for i in range(9)]
    varying = {path: counter for path, counter, _ in varying_values(alerts)}
    assert set(varying) >= {"requestParameters.bucketName", "requestParameters.key"}
    assert "resources.type" not in varying  # same two values in every event
    assert "sourceIPAddress" not in varying
    assert varying["requestParameters.bucketName"] == {
        "team-data-0": 3,
        "team-data-1": 3,
        "team-data-2": 3,
    }
    payload = render_group(AlertGroup("default", ("k",), alerts))
    assert payload["blocks"][0]["text"]["text"].endswith("HIGH · 9 × denied")
    when = payload["blocks"][1]["fields"][3]["text"]
    assert when == "*When*\n2026-03-14 09:26:00 UTC\nto 2026-03-14 09:26:08 UTC"


def test_field_missing_from_some_events_counts_as_dash() -> None:
    a, b = events.access_denied(1), events.access_denied(2)
    b["requestParameters"]["versionId"] = "v1"
    varying = {path: c for path, c, _ in varying_values([alert(a), alert(b)])}
    assert varying["requestParameters.versionId"] == {"-": 1, "v1": 1}


def test_default_group_key_and_engine_key() -> None:
    event = events.access_denied(1)
    plain = alert(event, rule="access_denied")
    assert group_key(plain) == (
        "access_denied",
        event["userIdentity"]["arn"],
        "GetObject",
        events.DEV,
    )
    keyed = alert(event, rule="access_denied", group_key=("access_denied", "x"))
    assert group_key(keyed) == ("access_denied", "x")
    other = alert(event, rule="other", group_key=("x",))
    assert group_key(other) == ("other", "x")


def test_malformed_events_still_render() -> None:
    for event in ({}, {"userIdentity": "weird", "eventTime": "not a time"}, {"eventName": 3}):
        payload = render_group(AlertGroup("d", ("k",), [alert(event, summary="")]))
        assert validate_message(payload) == []


def test_huge_fields_everywhere_still_fit() -> None:
    big = "x" * 50_000
    event = events.access_denied(1)
    event.update(errorMessage=big, userAgent=big, sourceIPAddress=big)
    event["userIdentity"]["arn"] = big
    many = [alert(dict(event, eventID=str(i)), summary=big, tags=(big,)) for i in range(300)]
    payload = render_group(AlertGroup("d", ("k",), many), why=[big] * 100)
    assert validate_message(payload) == []


def test_digest_lists_every_group_within_limits() -> None:
    groups = [
        AlertGroup("d", (str(i),), [alert(events.access_denied(i), summary="s" * 300)])
        for i in range(400)
    ]
    payload = render_digest(groups)
    assert validate_message(payload) == []
    assert payload["text"] == "400 more alerts in 400 groups (digest)"
    sections = [b["text"]["text"] for b in payload["blocks"] if b["type"] == "section"]
    listed = sum(s.count("`r` ×1") for s in sections)
    tail = sections[-1].rsplit("\n", 1)[-1]
    assert tail.startswith("_…and ") and tail.endswith(" alerts)_")
    rest = int(tail.split()[1].replace(",", ""))
    assert listed + rest == 400  # every group is listed or counted


def test_route_groups_by_destination_and_key() -> None:
    class Routes:
        def destinations(self, a: Alert) -> tuple[str, ...]:
            return ("a", "b") if a.severity == "high" else ("default",)

        def why(self, a: Alert) -> list[str]:
            return []

    alerts = [
        alert(events.access_denied(1)),
        alert(events.access_denied(2)),
        alert(events.access_denied(3), severity="low"),
        alert(events.access_denied(4), ignored_by=("x",)),
    ]
    groups, ignored = route(alerts, Routes(), {"a": 1, "default": 1}, "default")
    assert ignored == 1
    summary = [(g.destination, g.count, g.unrouted) for g in groups]
    # "b" is not configured: the high alerts also go to the default, marked unrouted.
    assert summary == [("a", 2, ()), ("default", 2, ("b",)), ("default", 1, ())]


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(alphabet=st.sampled_from("a<>&`*_~\n é"), max_size=40),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "userIdentity",
                    "arn",
                    "eventTime",
                    "requestParameters",
                    "responseElements",
                    "errorCode",
                    "resources",
                    "ARN",
                    "x",
                    "eventID",
                    "additionalEventData",
                    "MFAUsed",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(
                [
                    "userIdentity",
                    "eventTime",
                    "requestParameters",
                    "responseElements",
                    "errorCode",
                    "errorMessage",
                    "resources",
                    "eventID",
                    "sourceIPAddress",
                    "userAgent",
                    "awsRegion",
                    "recipientAccountId",
                    "additionalEventData",
                    "eventName",
                ]
            ),
            JSON,
            max_size=6,
        ),
        min_size=1,
        max_size=3,
    ),
    st.text(max_size=300),
)
def test_any_events_render_to_a_valid_message(records: list[dict[str, Any]], summary: str) -> None:
    alerts = [alert(r, summary=summary) for r in records]
    payload = render_group(AlertGroup("d", ("k",), alerts), why=[summary])
    assert validate_message(payload) == []
    assert validate_message(render_digest([AlertGroup("d", ("k",), alerts)])) == []
