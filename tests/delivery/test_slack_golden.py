"""Golden files for Slack messages of representative alerts (tests/golden/slack/*.json).

Regenerate after an intended change with CTRULES_UPDATE_GOLDEN=1 and review the diff: these
files are what on-call engineers will read.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ctrules.delivery.message import render_group
from ctrules.delivery.routing import route
from tests.delivery import slack_events as events
from tests.support.slack_server import validate_message

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "slack"
ACCOUNT_NAMES = {events.PROD: "prod", events.DEV: "dev"}

CASES: dict[str, Callable[[], list[dict[str, Any]]]] = {
    "root_login": lambda: [events.root_login()],
    "access_denied_burst": lambda: [events.access_denied(i) for i in range(37)],
    "console_login_without_mfa": lambda: [events.console_login_without_mfa()],
    "security_group_change": lambda: [events.security_group_change()],
    "huge_run_instances": lambda: [events.huge_run_instances(400)],
}


def render_case(ruleset: Any, name: str) -> dict[str, Any]:
    alerts = [a for record in CASES[name]() for a in ruleset.evaluate(record)]
    groups, _ = route(alerts, None, {"default": None}, "default")
    assert len(groups) == 1, "each golden case is one message"
    group = groups[0]
    return render_group(group, why=ruleset.why(group.first), account_names=ACCOUNT_NAMES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_message(ruleset: Any, name: str) -> None:
    payload = render_case(ruleset, name)
    assert validate_message(payload) == []
    text = json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
    path = GOLDEN / f"{name}.json"
    if os.environ.get("CTRULES_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} missing: run with CTRULES_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")


def test_huge_payload_is_shortened_and_says_so(ruleset: Any) -> None:
    record = events.huge_run_instances(2000)
    assert len(json.dumps(record)) > 1_500_000
    payload = render_case_record(ruleset, record)
    assert validate_message(payload) == []
    assert len(json.dumps(payload)) < 20_000
    response = section_starting(payload, "*Response elements*")
    assert '"…1,997 more"' in response  # the array says how much was cut
    assert "_shortened: long arrays and strings cut; full value 1,5" in response
    assert response.count("```") == 2


def test_payload_too_wide_to_shorten_is_cut_and_still_valid(ruleset: Any) -> None:
    record = events.huge_run_instances(1)
    record["responseElements"] = {f"key{i}": {"k": i} for i in range(5000)}
    payload = render_case_record(ruleset, record)
    assert validate_message(payload) == []
    response = section_starting(payload, "*Response elements*")
    assert response.count("```") == 2 and "…```" in response


def section_starting(payload: dict[str, Any], prefix: str) -> str:
    for block in payload["blocks"]:
        text = block.get("text", {}).get("text", "")
        if block["type"] == "section" and text.startswith(prefix):
            return str(text)
    raise AssertionError(f"no section starting {prefix!r}")


def render_case_record(ruleset: Any, record: dict[str, Any]) -> dict[str, Any]:
    alerts = ruleset.evaluate(record)
    groups, _ = route(alerts, None, {"default": None}, "default")
    return render_group(groups[0], why=ruleset.why(groups[0].first))
