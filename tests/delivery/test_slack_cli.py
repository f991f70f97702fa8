"""`ctrules slack preview | check | send-test` through the sub-command registration."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from ctrules.delivery.cli import register
from tests.delivery import slack_events as events
from tests.delivery.delivery_support import RULES, slack_env
from tests.support.slack_server import SlackServer, validate_message


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="ctrules")
    register(parser.add_subparsers())
    args = parser.parse_args(list(argv))
    code: int = args.func(args)
    return code


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "rules.ctr"
    path.write_text(RULES)
    return path


def test_preview_prints_routed_grouped_payloads(
    tmp_path: Path, rules_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "trail.json"
    records = [events.root_login(), *(events.access_denied(i) for i in range(12))]
    log.write_text(json.dumps({"Records": records}))
    assert run("slack", "preview", "--json", str(rules_file), str(log)) == 0
    captured = capsys.readouterr()
    out: list[dict[str, Any]] = json.loads(captured.out)
    assert [(m["destination"], m["alerts"]) for m in out] == [
        ("prod-security", 1),
        ("audit", 1),
        ("default", 12),
    ]
    assert all(validate_message(m["payload"]) == [] for m in out)
    assert "13 alerts, 0 ignored, 3 messages" in captured.err


def test_check_lists_destinations_without_secrets(
    slack_server: SlackServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key, value in slack_env(slack_server).items():
        monkeypatch.setenv(key, value)
    assert run("slack", "check") == 0
    out = capsys.readouterr().out
    assert "default (default): webhook" in out and "audit: channel CAUDIT0001" in out
    assert slack_server.url not in out and slack_server.token not in out


def test_check_reports_bad_configuration(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CTRULES_SLACK_DESTINATIONS", '{"default": "C123"}')
    monkeypatch.delenv("CTRULES_SLACK_BOT_TOKEN", raising=False)
    assert run("slack", "check") == 1
    assert "CTRULES_SLACK_BOT_TOKEN is required" in capsys.readouterr().err


def test_send_test_posts_to_each_destination_and_reports_failures(
    slack_server: SlackServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key, value in slack_env(slack_server).items():
        monkeypatch.setenv(key, value)
    assert run("slack", "send-test") == 0
    assert len(slack_server.accepted()) == 4
    slack_server.revoked_hooks.add("network")
    assert run("slack", "send-test", "--destination", "network") == 1
    assert "network: FAILED (permanent): HTTP 404" in capsys.readouterr().err
