"""build_sink: environment configuration, secret references, clear errors, documented vars."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from ctrules.alerts import Alert
from ctrules.delivery import JsonLinesSink
from ctrules.delivery.factory import (
    SLACK_ENVIRONMENT,
    SlackConfigError,
    build_sink,
    load_settings,
)
from ctrules.delivery.slack import SlackSink
from tests.delivery import slack_events as events
from tests.support.slack_server import SlackServer

ROOT = Path(__file__).resolve().parents[2]
HOOK = "https://hooks.slack.com/services/T000/B000/XXXXSECRET"


def test_nothing_configured_prints_json_lines() -> None:
    sink = build_sink(None, {})
    assert isinstance(sink, JsonLinesSink)
    stream = io.StringIO()
    report = JsonLinesSink(stream).deliver(
        [Alert("r", "low", "s", events.access_denied(1)), Alert("r", "low", "s", {}, ("i",))]
    )
    assert report.delivered == 1 and report.ignored == 1
    assert json.loads(stream.getvalue())["eventID"] == events.access_denied(1)["eventID"]


def test_destinations_webhooks_and_channels() -> None:
    settings = load_settings(
        {
            "CTRULES_SLACK_DESTINATIONS": json.dumps({"default": HOOK, "sec": "C0SEC"}),
            "CTRULES_SLACK_BOT_TOKEN": "xoxb-1",
            "CTRULES_ACCOUNT_NAMES": '{"111111111111": "prod"}',
            "CTRULES_SLACK_RATE": "0.5",
        }
    )
    assert settings.destinations["default"].webhook_url == HOOK
    assert settings.destinations["sec"].channel == "C0SEC"
    assert settings.bot_token == "xoxb-1" and settings.rate == 0.5
    assert settings.account_names == {"111111111111": "prod"}
    assert settings.grouping and settings.thread_table is None


def test_shorthand_webhook_is_the_default_destination() -> None:
    sink = build_sink(None, {"CTRULES_SLACK_WEBHOOK_URL": HOOK})
    assert isinstance(sink, SlackSink)
    assert sink.settings.destinations["default"].webhook_url == HOOK


def test_secret_references_go_through_the_resolver() -> None:
    asked: list[str] = []
    secrets = {
        "ssm:/ctrules/slack/destinations": json.dumps(
            {"default": "secretsmanager:ctrules/hook", "sec": "C0SEC"}
        ),
        "secretsmanager:ctrules/hook": HOOK,
        "arn:aws:secretsmanager:eu-west-1:111111111111:secret:bot-AbCdEf": "xoxb-from-sm",
    }

    def resolver(ref: str) -> str:
        asked.append(ref)
        return secrets[ref]

    sink = build_sink(
        None,
        {
            "CTRULES_SLACK_DESTINATIONS": "ssm:/ctrules/slack/destinations",
            "CTRULES_SLACK_BOT_TOKEN": (
                "arn:aws:secretsmanager:eu-west-1:111111111111:secret:bot-AbCdEf"
            ),
        },
        secret_resolver=resolver,
    )
    assert isinstance(sink, SlackSink)
    assert sink.settings.destinations["default"].webhook_url == HOOK
    assert sink.settings.bot_token == "xoxb-from-sm"
    assert sorted(asked) == sorted(secrets)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CTRULES_SLACK_WEBHOOK_URL": "ssm:/hook"}, "no secret resolver"),
        ({"CTRULES_SLACK_DESTINATIONS": "{not json"}, "not valid JSON"),
        ({"CTRULES_SLACK_DESTINATIONS": '["x"]'}, "must be a JSON object"),
        ({"CTRULES_SLACK_DESTINATIONS": '{"default": 3}'}, "must be a string"),
        ({"CTRULES_SLACK_DESTINATIONS": '{"default": "C01"}'}, "BOT_TOKEN is required"),
        ({"CTRULES_SLACK_DESTINATIONS": '{"default": "xoxb-oops"}'}, "looks like a token"),
        ({"CTRULES_SLACK_DESTINATIONS": f'{{"sec": "{HOOK}"}}'}, "no such destination"),
        (
            {"CTRULES_SLACK_WEBHOOK_URL": HOOK, "CTRULES_SLACK_THREAD_TABLE": "t"},
            "needs CTRULES_SLACK_BOT_TOKEN",
        ),
        ({"CTRULES_SLACK_THREAD_TABLE": "t", "CTRULES_SLACK_BOT_TOKEN": "x"}, "no destination is"),
        ({"CTRULES_SLACK_WEBHOOK_URL": HOOK, "CTRULES_SLACK_RATE": "fast"}, "must be a number"),
        ({"CTRULES_SLACK_WEBHOOK_URL": HOOK, "CTRULES_SLACK_MAX_MESSAGES": "0"}, "at least 1"),
        ({"CTRULES_SLACK_WEBHOOK_URL": HOOK, "CTRULES_SLACK_GROUPING": "maybe"}, "on or off"),
        (
            {
                "CTRULES_SLACK_WEBHOOK_URL": HOOK,
                "CTRULES_SLACK_DESTINATIONS": f'{{"default": "{HOOK}"}}',
            },
            "both configure",
        ),
    ],
)
def test_bad_configuration_is_a_clear_error_without_secrets(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(SlackConfigError, match=message) as info:
        build_sink(None, env)
    assert "XXXXSECRET" not in str(info.value)


def test_every_variable_read_is_in_the_table_and_documented() -> None:
    source = (ROOT / "ctrules" / "delivery" / "settings.py").read_text()
    read = set(re.findall(r'"(CTRULES_[A-Z_]+)"', source))
    table = {var.name for var in SLACK_ENVIRONMENT}
    assert read == table
    docs = (ROOT / "docs" / "slack.md").read_text()
    documented = set(re.findall(r"^\| `(CTRULES_[A-Z_]+)`", docs, flags=re.M))
    assert documented == table
    for var in SLACK_ENVIRONMENT:
        row = next(line for line in docs.splitlines() if line.startswith(f"| `{var.name}`"))
        default = f"`{var.default}`" if var.default else "—"
        assert f"| {default} |" in row, f"docs default of {var.name} out of date"


def test_factory_sink_delivers_to_local_slack(slack_server: SlackServer) -> None:
    sink = build_sink(
        None,
        {
            "CTRULES_SLACK_WEBHOOK_URL": slack_server.webhook_url(),
            "CTRULES_SLACK_RATE": "100",
        },
    )
    report = sink.deliver([Alert("r", "low", "hello", events.access_denied(1))])
    assert report.ok and report.delivered == 1
    [posted] = slack_server.posts_to("default")
    assert posted["text"].startswith("[LOW] hello")


def test_account_names_from_the_caller_are_merged_under_the_env_ones() -> None:
    sink = build_sink(
        None,
        {"CTRULES_SLACK_WEBHOOK_URL": HOOK, "CTRULES_ACCOUNT_NAMES": '{"1": "from-env"}'},
        account_names={"1": "from-org", "2": "org-only"},
    )
    assert isinstance(sink, SlackSink)
    assert sink.settings.account_names == {"1": "from-env", "2": "org-only"}
