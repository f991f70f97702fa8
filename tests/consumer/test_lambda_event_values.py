"""Events the Lambda runtime decodes itself (stdlib json: lone surrogates, huge integers, deep
nesting all decode) reach Slack or are counted as bad — never an exception that fails the
invocation (issue 13 item 4, the handler side)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ctrules
from ctrules.aws.handler import handle
from ctrules.aws.runtime import Runtime
from tests.hostile.test_hostile import RULES, _invocation_counters
from tests.support.slack_server import SlackServer, slack_server  # noqa: F401 - fixture


def _event(event_id: str, value: Any) -> dict[str, Any]:
    return {
        "version": "0",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.hostile",
        "detail": {"eventVersion": "1.08", "eventName": "Hit", "eventID": event_id,
                   "eventSource": "hostile.amazonaws.com", "requestParameters": {"x": value}},
    }


def test_odd_values_in_a_direct_event_are_delivered_or_counted(
    make_runtime: Callable[..., Runtime],
    slack_server: SlackServer,  # noqa: F811
    capsys: Any,
) -> None:
    env = {
        "CTRULES_SLACK_WEBHOOK_URL": slack_server.webhook_url(),
        "CTRULES_SLACK_RATE": "1000",
        "CTRULES_SLACK_BURST": "1000",
        "CTRULES_LOG_LEVEL": "INFO",
    }
    runtime = make_runtime(None, env, rules=ctrules.load_rules(RULES))
    deep: Any = 1
    for _ in range(300):
        deep = [deep]
    handle(runtime, _event("surrogate", "\ud800 and \udfff"))
    handle(runtime, _event("huge", 2**70))
    capsys.readouterr()
    handle(runtime, _event("deep", deep))  # bad: not delivered, counted, no exception
    assert _invocation_counters(capsys.readouterr().err)["BadRecords"] == 1
    texts = [p["text"] for p in slack_server.posts_to("default")]
    assert any("eventID surrogate" in t for t in texts)
    assert any("eventID huge" in t for t in texts)
    assert not any("eventID deep" in t for t in texts)
    assert slack_server.violations == []
