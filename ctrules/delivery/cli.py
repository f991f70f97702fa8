"""Pipeline stage 7 — delivery commands: `ctrules slack preview | check | send-test`.

- `preview RULESET EVENTS...` shows the Slack messages the events would produce (routing,
  grouping, digest split, rendering; nothing is sent): as Slack lays them out, in the terminal
  or as an HTML page (preview.py), or as the Block Kit JSON.
- `check` validates the Slack environment (the SLACK_ENVIRONMENT variables) and lists the
  destinations by name and kind, never their URLs or tokens.
- `send-test` posts one sample info-level message to every configured destination (or one).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..alerts import Alert
from .factory import SecretResolver, SlackConfigError, is_secret_ref, load_settings

RULESET_HELP = "rule files and directories, or `default` for the bundled pack (as `ctrules run`)"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    slack = subparsers.add_parser("slack", help="Slack delivery: preview, check, send a test")
    sub = slack.add_subparsers(dest="slack_command", required=True)

    preview = sub.add_parser(
        "preview",
        help="show the Slack messages events would produce (nothing is sent)",
        description="Route, group and render the alerts of EVENTS as the Slack delivery would "
        "(same digest split), and show the messages: laid out as text in the terminal (colours "
        "on a tty), as a page that looks like Slack (--html), or as Block Kit JSON (--json).",
    )
    preview.add_argument("ruleset", metavar="RULESET", help=RULESET_HELP)
    preview.add_argument(
        "events",
        nargs="+",
        metavar="EVENTS",
        help="CloudTrail log files or records (.json/.json.gz), directories of them, or - for "
        "stdin (as `ctrules run`)",
    )
    preview.add_argument(
        "--max-messages", type=int, default=20, help="messages per destination before a digest"
    )
    preview.add_argument(
        "--message-mode",
        choices=("per_alert", "per_event"),
        default=None,
        help="as CTRULES_SLACK_MESSAGE_MODE (default: that variable, else per_alert)",
    )
    preview.add_argument("--html", metavar="FILE", help="also write a page that looks like Slack")
    preview.add_argument(
        "--json", action="store_true", help="print the Block Kit payloads as JSON instead"
    )
    preview.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colours and styles in the terminal text (auto: when stdout is a terminal)",
    )
    preview.set_defaults(func=_preview)

    check = sub.add_parser("check", help="validate the CTRULES_SLACK_* environment")
    check.add_argument(
        "--no-resolve", action="store_true", help="do not read SSM / Secrets Manager references"
    )
    check.set_defaults(func=_check)

    test = sub.add_parser("send-test", help="post a sample message to the destinations")
    test.add_argument("--destination", help="only this destination name")
    test.set_defaults(func=_send_test)


def _preview(args: argparse.Namespace) -> int:
    from ..cli import _expand_logs, _load, rule_paths
    from ..sources.logfile import BadRecord, iter_records
    from .preview import plan, render_html, render_terminal

    ruleset = _load(rule_paths([args.ruleset]))
    if ruleset is None:
        return 1
    alerts: list[Alert] = []
    for name in _expand_logs(args.events):
        try:
            data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
        except OSError as exc:
            print(f"ctrules slack preview: {name}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        for item in iter_records(data, name):
            if isinstance(item, BadRecord):
                print(f"ctrules slack preview: {item.source}: {item.reason}", file=sys.stderr)
                continue
            alerts.extend(ruleset.evaluate(item))
    mode = args.message_mode or os.environ.get("CTRULES_SLACK_MESSAGE_MODE", "").strip()
    messages, ignored = plan(
        alerts, ruleset, max_messages=args.max_messages, per_event=mode == "per_event"
    )
    if args.json:
        out = [
            {"destination": m.destination, "alerts": m.alerts, "payload": m.payload}
            for m in messages
        ]
        json.dump(out, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        colour = args.color == "always" or (args.color == "auto" and sys.stdout.isatty())
        sys.stdout.write(render_terminal(messages, colour=colour))
    if args.html:
        try:
            Path(args.html).write_text(render_html(messages), encoding="utf-8")
        except OSError as exc:
            print(f"ctrules slack preview: {args.html}: {exc.strerror or exc}", file=sys.stderr)
            return 1
    print(
        f"{len(alerts) - ignored} alerts, {ignored} ignored, {len(messages)} messages",
        file=sys.stderr,
    )
    return 0


def _resolver(env: Mapping[str, str], no_resolve: bool) -> SecretResolver | None:
    if no_resolve or not any(is_secret_ref(v) for v in env.values()):
        return None
    secrets: Any = importlib.import_module("ctrules.aws.secrets")
    boto3: Any = importlib.import_module("boto3")
    resolver: SecretResolver = secrets.SecretResolver(lambda service: boto3.client(service))
    return resolver


def _check(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    if args.no_resolve:
        # Stand-ins keep references checkable offline without reading them.
        def fake(ref: str) -> str:
            return "https://placeholder.invalid/" if "token" not in ref.lower() else "xoxb-x"

        resolver: SecretResolver | None = fake
    else:
        resolver = _resolver(env, False)
    try:
        settings = load_settings(env, resolver)
    except SlackConfigError as exc:
        print(f"ctrules slack check: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a secret that cannot be read
        print(f"ctrules slack check: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if not settings.configured:
        print("no Slack destination configured: alerts are printed as JSON lines")
        return 0
    for name, dest in sorted(settings.destinations.items()):
        kind = "webhook" if dest.webhook_url else f"channel {dest.channel}"
        mark = " (default)" if name == settings.default_destination else ""
        print(f"{name}{mark}: {kind}")
    if settings.thread_table:
        print(
            f"threads: DynamoDB table {settings.thread_table}, window {settings.thread_window:g} s"
        )
    return 0


def _send_test(args: argparse.Namespace) -> int:
    from .factory import build_sink
    from .slack import SlackSink

    env = dict(os.environ)
    try:
        sink = build_sink(None, env, secret_resolver=_resolver(env, False))
    except SlackConfigError as exc:
        print(f"ctrules slack send-test: {exc}", file=sys.stderr)
        return 1
    if not isinstance(sink, SlackSink):
        print("ctrules slack send-test: no Slack destination configured", file=sys.stderr)
        return 1
    names = sorted(sink.settings.destinations)
    if args.destination:
        if args.destination not in names:
            print(
                f"ctrules slack send-test: unknown destination {args.destination!r}",
                file=sys.stderr,
            )
            return 1
        names = [args.destination]
    failed = 0
    for name in names:
        alert = Alert(
            rule="ctrules_test_message",
            severity="info",
            summary=f"ctrules test message for destination {name}",
            event={"eventID": "test", "eventName": "TestMessage", "eventSource": "ctrules.local"},
        )

        class Only:
            def destinations(self, _a: Alert, name: str = name) -> tuple[str, ...]:
                return (name,)

            def why(self, _a: Alert) -> list[str]:
                return ["sent by `ctrules slack send-test`"]

        sink.ruleset = Only()
        report = sink.deliver([alert])
        for failure in report.failures:
            failed += 1
            kind = "permanent" if failure.permanent else "transient"
            print(f"{name}: FAILED ({kind}): {failure.reason}", file=sys.stderr)
        if report.ok:
            print(f"{name}: sent")
    return 1 if failed else 0
