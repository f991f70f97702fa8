"""Thread mode across invocations: a DynamoDB table (moto server over real HTTP) remembers each
group's first message; later alerts of the group reply in its thread and update its count."""

from __future__ import annotations

import itertools
from typing import Any

from ctrules.delivery.factory import build_sink
from ctrules.delivery.slack import SlackSink
from ctrules.delivery.threads import DynamoThreadStore
from tests.delivery import slack_events as events
from tests.delivery.delivery_support import slack_env
from tests.support.slack_server import SlackServer

_tables = itertools.count()


def make_table(dynamodb: Any) -> str:
    name = f"ctrules-threads-{next(_tables)}"
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


class Clock:
    def __init__(self) -> None:
        self.now = 1_773_480_000.0

    def __call__(self) -> float:
        return self.now


def invocation(
    server: SlackServer, ruleset: Any, dynamodb: Any, table: str, clock: Clock
) -> SlackSink:
    """A fresh sink, as a new Lambda invocation would build it."""
    env = slack_env(
        server,
        CTRULES_SLACK_DESTINATIONS='{"default": "CTHREADS"}',
        CTRULES_SLACK_THREAD_TABLE=table,
        CTRULES_SLACK_THREAD_WINDOW="3600",
    )
    sink = build_sink(ruleset, env, dynamodb_client=dynamodb)
    assert isinstance(sink, SlackSink) and isinstance(sink.thread_store, DynamoThreadStore)
    sink.thread_store.clock = clock
    return sink


def denied(ruleset: Any, *numbers: int) -> list[Any]:
    return [a for n in numbers for a in ruleset.evaluate(events.access_denied(n))]


def test_later_alerts_reply_in_thread_and_update_parent_count(
    slack_server: SlackServer, ruleset: Any, dynamodb: Any
) -> None:
    table, clock = make_table(dynamodb), Clock()
    first = invocation(slack_server, ruleset, dynamodb, table, clock).deliver(
        denied(ruleset, 1, 2, 3)
    )
    assert first.ok and first.messages == 1
    [parent] = slack_server.accepted("chat.postMessage")
    parent_ts = json_answer(parent)["ts"]
    assert "thread_ts" not in parent.body or parent.body["thread_ts"] is None

    clock.now += 600
    second = invocation(slack_server, ruleset, dynamodb, table, clock).deliver(
        denied(ruleset, 4, 5)
    )
    assert second.ok and second.delivered == 2
    posts = slack_server.accepted("chat.postMessage")
    assert len(posts) == 2
    reply = posts[1].body
    assert reply["thread_ts"] == parent_ts
    assert reply["text"].startswith("[LOW] 2 × AccessDenied")
    [update] = slack_server.accepted("chat.update")
    assert update.body["ts"] == parent_ts
    assert update.body["text"].startswith("[LOW] 5 × AccessDenied")
    assert "5 ×" in update.body["blocks"][0]["text"]["text"]
    # The server's copy of the parent now shows the running count.
    assert slack_server.messages[("CTHREADS", parent_ts)]["text"].startswith("[LOW] 5 ×")
    assert slack_server.violations == []


def test_after_the_window_a_new_top_level_message_starts(
    slack_server: SlackServer, ruleset: Any, dynamodb: Any
) -> None:
    table, clock = make_table(dynamodb), Clock()
    invocation(slack_server, ruleset, dynamodb, table, clock).deliver(denied(ruleset, 1))
    clock.now += 3601
    report = invocation(slack_server, ruleset, dynamodb, table, clock).deliver(denied(ruleset, 2))
    assert report.ok
    posts = slack_server.accepted("chat.postMessage")
    assert len(posts) == 2 and not posts[1].body.get("thread_ts")
    assert slack_server.accepted("chat.update") == []
    # ...and that new message is the parent from now on.
    clock.now += 10
    invocation(slack_server, ruleset, dynamodb, table, clock).deliver(denied(ruleset, 3))
    third = slack_server.accepted("chat.postMessage")[2].body
    assert third["thread_ts"] == json_answer(slack_server.accepted("chat.postMessage")[1])["ts"]


def test_different_groups_get_their_own_threads(
    slack_server: SlackServer, ruleset: Any, dynamodb: Any
) -> None:
    table, clock = make_table(dynamodb), Clock()
    sink = invocation(slack_server, ruleset, dynamodb, table, clock)
    sink.deliver(denied(ruleset, 1) + list(ruleset.evaluate(events.root_login())))
    sink.deliver(denied(ruleset, 2) + list(ruleset.evaluate(events.root_login())))
    posts = [r.body for r in slack_server.accepted("chat.postMessage")]
    assert [bool(p.get("thread_ts")) for p in posts] == [False, False, True, True]
    assert posts[2]["thread_ts"] != posts[3]["thread_ts"]


def test_missing_table_falls_back_to_top_level_messages(
    slack_server: SlackServer, ruleset: Any, dynamodb: Any
) -> None:
    sink = invocation(slack_server, ruleset, dynamodb, "no-such-table", Clock())
    assert sink.deliver(denied(ruleset, 1)).ok
    assert sink.deliver(denied(ruleset, 2)).ok
    posts = slack_server.accepted("chat.postMessage")
    assert len(posts) == 2 and not any(p.body.get("thread_ts") for p in posts)


def test_concurrent_start_keeps_the_first_parent(dynamodb: Any) -> None:
    table, clock = make_table(dynamodb), Clock()
    store = DynamoThreadStore(dynamodb, table, window=60, clock=clock)
    assert store.start("k", "C1", "1.000100", 3)
    assert not store.start("k", "C1", "1.000200", 1)  # a second worker lost the race
    ref = store.get("k")
    assert ref is not None and ref.ts == "1.000100" and ref.count == 3
    assert store.add("k", 4) == 7
    clock.now += 61
    assert store.get("k") is None
    assert store.start("k", "C1", "2.000100", 1)  # expired items may be replaced


def json_answer(record: Any) -> dict[str, Any]:
    import json

    return dict(json.loads(record.answer))
