"""Exactly-once delivery under SIGKILL: a real SQS worker process, delivering to the local Slack
stand-in with the dedup table on, is killed while it waits on a Slack post; a restarted worker
finishes the queue, and every alert has reached Slack exactly once.

The stand-in holds a post before taking it, so the kill lands mid-delivery: earlier messages
of the same chunk accepted (and, per message, confirmed in the dedup table), this one on its
way, the rest of the chunk claimed but not sent, other messages received and in flight."""

from __future__ import annotations

import re
import signal
from pathlib import Path
from typing import Any

import pytest

import ctrules
from tests.consumer.support import RULES, log_records
from tests.consumer.test_sqs_worker import (
    IGNORED_EVENT,
    _worker,
    counts,
    dedup_table,  # noqa: F401 - fixture
    make_queue,
    notification,
    put_files,
    send,
)
from tests.support.moto_server import aws_client
from tests.support.slack_server import SlackServer, slack_server  # noqa: F401 - fixture

FILES = 3
_FALLBACK = re.compile(r"— rule (?P<rule>[^,]+), account .*, eventID (?P<id>\S+)$")


def _expected() -> list[tuple[str, str]]:
    ruleset = ctrules.load_rules(RULES)
    out = []
    for i in range(FILES):
        for record in log_records():
            if record["eventID"] != IGNORED_EVENT:
                record["eventID"] = f"{record['eventID']}-{i}"
            out += [(a.rule, record["eventID"]) for a in ruleset.evaluate(record) if not a.ignored]
    return sorted(out)


def _posted(slack: SlackServer) -> list[tuple[str, str]]:
    found = []
    for body in slack.posts_to("default"):
        match = _FALLBACK.search(body["text"])
        assert match, body["text"]
        found.append((match["rule"], match["id"]))
    return sorted(found)


@pytest.mark.parametrize("let_through", [0, 4, 11])
def test_sigkill_mid_slack_delivery_delivers_every_alert_exactly_once(
    moto_server: str,
    s3: Any,
    bucket: str,
    tmp_path: Path,
    dedup_table: str,  # noqa: F811
    slack_server: SlackServer,  # noqa: F811
    let_through: int,
) -> None:
    expected = _expected()
    queue, dlq = make_queue(moto_server, visibility=2, max_receive=20)
    send(moto_server, queue, [notification(bucket, k) for k in put_files(s3, bucket, FILES)])
    env = {
        "CTRULES_DEDUP_TABLE": dedup_table,
        "CTRULES_DEDUP_LEASE_SECONDS": "1",
        "CTRULES_SLACK_WEBHOOK_URL": slack_server.webhook_url(),
        "CTRULES_SLACK_GROUPING": "off",  # one message per alert: the kill can land between
        "CTRULES_SLACK_RATE": "1000",
        "CTRULES_SLACK_BURST": "1000",
        "CTRULES_SLACK_MAX_MESSAGES": "100",
    }
    args = ("--configured-sink", "--concurrency", "2", "--visibility", "2")
    slack_server.hold_after(let_through)
    killed = _worker(moto_server, queue, tmp_path / "unused", *args, **env)
    try:
        assert slack_server.wait_held(60), "the worker never reached a Slack post"
    finally:
        killed.kill()
        _, err = killed.communicate(timeout=30)
    assert killed.returncode == -signal.SIGKILL, err
    slack_server.release_held()
    assert len(_posted(slack_server)) == let_through  # the kill landed mid-delivery

    restarted = _worker(moto_server, queue, tmp_path / "unused", *args, **env)
    _, err = restarted.communicate(timeout=120)
    assert restarted.returncode == 0, err

    posted = _posted(slack_server)
    assert len(posted) == len(set(posted)), "an alert reached Slack twice"
    assert posted == expected, "an alert was lost"
    assert counts(moto_server, queue) == (0, 0)
    assert aws_client(moto_server, "sqs").receive_message(QueueUrl=dlq).get("Messages") is None
