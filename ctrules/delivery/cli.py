"""Pipeline stage 7 — delivery commands: `ctrules slack preview | check | send-test`.

- `preview RULESET EVENT.json...` prints the Slack payloads the events would produce (routing,
  grouping, rendering; nothing is sent) — paste one into Block Kit Builder to see it.
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
from typing import Any

from ..alerts import Alert
from .factory import SecretResolver, SlackConfigError, is_secret_ref, load_settings
from .message import render_digest, render_group
from .routing import route


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    slack = subparsers.add_parser("slack", help="Slack delivery: preview, check, send a test")
    sub = slack.add_subparsers(dest="slack_command", required=True)

    preview = sub.add_parser("preview", help="print the Slack messages events would produce")
    preview.add_argument("ruleset", help="a .ctr file or directory")
    preview.add_argument("events", nargs="+", help="CloudTrail log files (as `ctrules run`)")
    preview.add_argument(
        "--max-messages", type=int, default=20, help="messages per destination before a digest"
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
    from ..ruleset import load_rules
    from ..sources.logfile import BadRecord, iter_records

    try:
        ruleset = load_rules(args.ruleset)
    except Exception as exc:  # RuleSetError carries its diagnostics in the message
        print(f"ctrules slack preview: {exc}", file=sys.stderr)
        return 1
    alerts: list[Alert] = []
    for name in args.events:
        try:
            data = sys.stdin.buffer.read() if name == "-" else open(name, "rb").read()
        except OSError as exc:
            print(f"ctrules slack preview: {name}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        for item in iter_records(data, name):
            if isinstance(item, BadRecord):
                print(f"ctrules slack preview: {item.source}: {item.reason}", file=sys.stderr)
                continue
            alerts.extend(ruleset.evaluate(item))
    names = {d: None for a in alerts for d in ruleset.destinations(a)}
    groups, ignored = route(alerts, ruleset, names, "default")
    per_dest: dict[str, list[Any]] = {}
    for group in groups:
        per_dest.setdefault(group.destination, []).append(group)
    out: list[dict[str, Any]] = []
    for dest, dest_groups in per_dest.items():
        limit = max(args.max_messages, 1)
        head = dest_groups if len(dest_groups) <= limit else dest_groups[: limit - 1]
        for group in head:
            payload = render_group(group, why=ruleset.why(group.first))
            out.append({"destination": dest, "alerts": group.count, "payload": payload})
        rest = dest_groups[len(head) :]
        if rest:
            payload = render_digest(rest)
            out.append(
                {"destination": dest, "alerts": sum(g.count for g in rest), "payload": payload}
            )
    json.dump(out, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    print(
        f"{len(alerts) - ignored} alerts, {ignored} ignored, {len(out)} messages", file=sys.stderr
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
