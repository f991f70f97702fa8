"""Webhook URLs and bot tokens are credentials: no log line (at any level, slack_sdk's included),
error, repr or Slack message may contain one — including for a malformed URL, which `slack
check` must report rather than pass."""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ctrules.alerts import Alert
from ctrules.delivery.cli import register
from ctrules.delivery.factory import SlackConfigError, build_sink, load_settings
from ctrules.delivery.slack import SlackSink
from tests.support.slack_server import SlackServer

SECRET_PATH = "T0SECRET/B0SECRET/hunter2xyzzy"
TOKEN = "xoxb-4242-secret-token"
ALERT = Alert("r1", "high", "something happened",
              {"eventID": "e-1", "eventName": "DeleteTrail", "eventSource": "x"})


def _env(url: str, **extra: str) -> dict[str, str]:
    return {
        "CTRULES_SLACK_WEBHOOK_URL": url,
        "CTRULES_SLACK_RATE": "1000",
        "CTRULES_SLACK_BURST": "1000",
        "CTRULES_SLACK_TIMEOUT": "0.5",
        "CTRULES_SLACK_MAX_RETRIES": "0",
        **extra,
    }


def _run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="ctrules")
    register(parser.add_subparsers())
    args = parser.parse_args(list(argv))
    return int(args.func(args))


@contextmanager
def _debug_logging(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Everything at DEBUG from ctrules' and slack_sdk's loggers into caplog (the ctrules
    logger does not propagate once the consumer set up its JSON logging)."""
    loggers = [logging.getLogger(name) for name in ("ctrules", "slack_sdk")]
    levels = [lg.level for lg in loggers]
    caplog.handler.setLevel(logging.DEBUG)
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        lg.addHandler(caplog.handler)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)
            lg.removeHandler(caplog.handler)


def _clean(text: str) -> bool:
    return "hunter2" not in text and "SECRET" not in text and TOKEN not in text


@pytest.mark.parametrize("damage", [" ", "\t", "\n", "\x7f"])
def test_malformed_webhook_url_is_reported_without_quoting_it(
    damage: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"https://hooks.slack.com/services/{SECRET_PATH[:8]}{damage}{SECRET_PATH[8:]}"
    for key, value in _env(url).items():
        monkeypatch.setenv(key, value)
    assert _run_cli("slack", "check") == 1
    err = capsys.readouterr().err
    assert "malformed webhook URL" in err and _clean(err), err
    with pytest.raises(SlackConfigError) as info:
        load_settings(_env(url))
    assert _clean(str(info.value)) and _clean(repr(info.value))


def test_cold_start_with_a_malformed_url_fails_without_the_path_in_logs(tmp_path: Path) -> None:
    # The Lambda's cold start builds the runtime; its error (and traceback) is what CloudWatch
    # keeps.
    code = (
        "from ctrules.aws.runtime import Runtime\n"
        "import os\n"
        "Runtime.build(os.environ)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "CTRULES_LOG_LEVEL": "DEBUG",
           **_env(f"https://hooks.slack.com/services/{SECRET_PATH} x")}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          cwd=Path(__file__).parents[2], timeout=60)
    assert proc.returncode != 0
    assert "malformed webhook URL" in proc.stderr
    assert _clean(proc.stdout + proc.stderr), proc.stderr


def test_reprs_hide_url_and_token(slack_server: SlackServer) -> None:
    settings = load_settings(_env(slack_server.webhook_url(SECRET_PATH),
                                  CTRULES_SLACK_BOT_TOKEN=TOKEN))
    assert _clean(repr(settings)) and _clean(str(settings))
    assert all(_clean(repr(d)) for d in settings.destinations.values())
    assert slack_server.url not in repr(settings)


def test_debug_logging_of_slack_sdk_never_shows_url_or_token(
    slack_server: SlackServer, caplog: pytest.LogCaptureFixture
) -> None:
    env = _env(
        slack_server.webhook_url(SECRET_PATH),
        CTRULES_SLACK_DESTINATIONS='{"audit": "CAUDIT0001"}',
        CTRULES_SLACK_BOT_TOKEN=TOKEN,
        CTRULES_SLACK_API_URL=slack_server.api_url,
    )
    slack_server.token = TOKEN
    slack_server.fail_next(1, status=500, match="hooks")  # retries log the URL at INFO
    with _debug_logging(caplog):
        sink = build_sink(None, env)
        assert isinstance(sink, SlackSink)
        report = sink.deliver([ALERT])
        assert report.ok or all(_clean(f.reason) for f in report.failures)
        # And to the channel (bot token in the Authorization header slack_sdk logs).

        class Audit:
            def destinations(self, _a: Alert) -> tuple[str, ...]:
                return ("audit",)

            def why(self, _a: Alert) -> list[str]:
                return []

        sink.ruleset = Audit()
        assert sink.deliver([ALERT]).ok
    sdk = [r for r in caplog.records if r.name.startswith(("slack_sdk", "ctrules.delivery"))]
    assert any("Sending a request" in r.getMessage() for r in sdk), "slack_sdk logged nothing"
    for record in caplog.records:
        assert _clean(record.getMessage()), record.getMessage()
    assert _clean(caplog.text)


def test_a_url_slack_sdk_cannot_send_to_fails_the_delivery_not_the_process(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from ctrules.delivery.factory import Destination, SlackSettings

    # Past validation (e.g. settings built in code): http.client's InvalidURL quotes the path.
    dest = Destination("default", webhook_url=f"http://127.0.0.1:9/hooks/{SECRET_PATH} x")
    sink = SlackSink(SlackSettings({"default": dest}, max_retries=0, timeout=0.5))
    with _debug_logging(caplog):
        report = sink.deliver([ALERT])
    assert len(report.failures) == 1
    failure = report.failures[0]
    assert failure.permanent and "InvalidURL" in failure.reason
    assert _clean(failure.reason) and _clean(caplog.text), (failure.reason, caplog.text)
