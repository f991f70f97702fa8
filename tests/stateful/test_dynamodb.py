"""The DynamoDB state store against moto over real HTTP: the store's atomic steps, two
concurrent writers, and the Lambda handler across invocations that each see part of the events."""

from __future__ import annotations

import random
import threading
from collections import Counter
from typing import Any

import pytest

from ctrules.aws.handler import handle
from ctrules.aws.runtime import Clients, Runtime
from ctrules.stateful import MemoryStore, StatefulEngine
from ctrules.stateful.dynamodb import DynamoStore, create_table
from tests.consumer.support import RecordingSink
from tests.support.moto_server import aws_client, moto_server, unique  # noqa: F401

from .reference import reference_alerts
from .test_engine import RULESET, identities, make_event


@pytest.fixture
def dynamodb(moto_server: str) -> Any:  # noqa: F811
    return aws_client(moto_server, "dynamodb")


@pytest.fixture
def table(dynamodb: Any) -> str:
    name = unique("ctrules-state")
    create_table(dynamodb, name)
    return name


@pytest.fixture
def serial_dynamodb(serial_moto: str) -> Any:
    """DynamoDB on a moto server as atomic per request as DynamoDB (see conftest.py)."""
    return aws_client(serial_moto, "dynamodb")


@pytest.fixture
def serial_table(serial_dynamodb: Any) -> str:
    name = unique("ctrules-state")
    create_table(serial_dynamodb, name)
    return name


def test_members_are_a_union_and_a_full_window_stops_growing(dynamodb: Any, table: str) -> None:
    store = DynamoStore(dynamodb, table)
    assert store.add_members("w", {"m": {"a", "b"}}, 3, 100) == {"m": frozenset({"a", "b"})}
    assert store.add_members("w", {"m": {"b"}}, 3, 100) == {"m": frozenset({"a", "b"})}
    assert store.add_members("w", {"m": {"c", "d"}}, 3, 100) == {"m": frozenset("abcd")}
    assert store.add_members("w", {"m": {"e"}}, 3, 100) is None  # full: threshold reached
    store.remove_members("w", {"m": {"a"}})
    assert store.add_members("w", {"m": {"a"}}, 9, 100) == {"m": frozenset("abcd")}
    item = dynamodb.get_item(TableName=table, Key={"pk": {"S": "w"}})["Item"]
    assert item["expires_at"] == {"N": "100"}


def test_a_claim_is_won_once_until_released(dynamodb: Any, table: str) -> None:
    store = DynamoStore(dynamodb, table)
    assert store.claim("c", 100) is True
    assert store.claim("c", 100) is False
    store.release("c")
    assert store.claim("c", 100) is True


def test_first_seen_episodes(dynamodb: Any, table: str) -> None:
    store = DynamoStore(dynamodb, table)
    assert store.first_seen("k", 1000, "e1", 1010, 3600, 0) == 1000
    assert store.first_seen("k", 1005, "e2", 1020, 3600, 0) is None  # seen within the look-back
    assert store.first_seen("k", 1000, "e1", 1010, 3600, 0) == 1000  # a retry of the first batch
    assert store.first_seen("k", 1001, "e3", 1002, 3600, 0) is None  # late, older sighting
    assert store.first_seen("k", 9000, "e4", 9000, 3600, 0) == 9000  # after the look-back


def test_two_concurrent_writers_lose_no_member_and_win_each_claim_once(
        serial_dynamodb: Any, serial_table: str) -> None:
    stores = [DynamoStore(serial_dynamodb, serial_table),
              DynamoStore(serial_dynamodb, serial_table)]
    won: list[list[str]] = [[], []]
    barrier = threading.Barrier(2)

    def writer(i: int) -> None:
        barrier.wait()
        for j in range(40):
            stores[i].add_members("shared", {"m": {f"w{i}-{j}", f"both-{j}"}}, 1000, 100)
            if stores[i].claim(f"claim-{j}", 100):
                won[i].append(f"claim-{j}")

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    final = stores[0].add_members("shared", {"m": {"probe"}}, 1000, 100)
    assert final is not None and len(final["m"]) == 40 * 3 + 1
    assert sorted(won[0] + won[1]) == sorted(f"claim-{j}" for j in range(40))


def _events(seed: int, count: int = 150) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    # Twelve minutes of events: any order of invocations stays within the 15-minute tolerance.
    return [make_event(i, rnd.randint(0, 720), rnd.choice("ABCZ"), rnd.choice(["p1", "p2", "p3"]),
                       rnd.choice(["v1", "v2", "v3", "v4"]), rnd.choice(["ip1", "ip2"]))
            for i in range(count)]


def test_two_concurrent_engines_alert_once_per_key_and_window(serial_dynamodb: Any,
                                                             serial_table: str) -> None:
    dynamodb, table = serial_dynamodb, serial_table
    events = _events(1)
    halves = [events[0::2], events[1::2]]
    alerts: list[Any] = []
    lock = threading.Lock()

    def invocation(part: list[dict[str, Any]]) -> None:
        engine = StatefulEngine(RULESET, DynamoStore(dynamodb, table))
        for chunk in (part[:40], part[40:]):
            found = engine.process([o for e in chunk for o in engine.observe(e)])
            with lock:
                alerts.extend(found)

    threads = [threading.Thread(target=invocation, args=(h,)) for h in halves]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert identities(alerts) == reference_alerts(RULESET, events)


@pytest.mark.parametrize("seed", [2, 3])
def test_handler_split_across_ten_invocations_alerts_like_one_run(
        moto_server: str, dynamodb: Any, table: str, seed: int) -> None:  # noqa: F811
    events = _events(seed)
    rnd = random.Random(seed)
    shuffled = events[:]
    rnd.shuffle(shuffled)
    chunks = [shuffled[i::10] for i in range(10)]
    rnd.shuffle(chunks)
    sink = RecordingSink()
    requests = []
    for chunk in chunks:
        # A fresh runtime per invocation: nothing is shared but the table.
        runtime = Runtime.build(
            {"CTRULES_LOG_LEVEL": "WARNING", "CTRULES_METRICS_NAMESPACE": "",
             "CTRULES_STATE_TABLE": table},
            clients=Clients(endpoint_url=moto_server), sink=sink, ruleset=RULESET)
        assert handle(runtime, {"Records": chunk}) is None
        store = runtime.pipeline.stateful.store
        requests.append(store.requests)
    one_run = StatefulEngine(RULESET, MemoryStore()).run(events)
    got = identities(sink.alerts)
    assert got == identities(one_run)
    counts = Counter((i[0], i[1], i[2]) for i in got if i[0] != "novel" and i[0] != "novel_key")
    assert max(counts.values(), default=1) == 1  # exactly once per key and window
    assert got == reference_alerts(RULESET, events)


def test_a_batch_costs_requests_per_key_not_per_event(dynamodb: Any, table: str) -> None:
    def cost(per_key: int) -> int:
        store = DynamoStore(dynamodb, unique_table(dynamodb))
        engine = StatefulEngine(RULESET, store, rules=[RULESET.rule_decl("burst")])
        events = [make_event(i, i % 500, "A", f"p{i % 3}", "v", "ip") for i in range(3 * per_key)]
        engine.process([o for e in events for o in engine.observe(e)])
        return store.requests

    few, many = cost(5), cost(300)
    assert few == many == 3 * 2  # one update and one claim per key's window


def unique_table(dynamodb: Any) -> str:
    name = unique("ctrules-state")
    create_table(dynamodb, name)
    return name


def test_a_failed_delivery_is_retried_and_sent_once(moto_server: str, table: str) -> None:  # noqa: F811
    from ctrules.aws.handler import ProcessingFailed
    from tests.consumer.support import FailingSink

    events = [make_event(i, i * 10, "A", "p1", "v", "ip") for i in range(4)]
    sink = FailingSink()
    env = {"CTRULES_LOG_LEVEL": "WARNING", "CTRULES_METRICS_NAMESPACE": "",
           "CTRULES_STATE_TABLE": table}
    runtime = Runtime.build(env, clients=Clients(endpoint_url=moto_server), sink=sink,
                            ruleset=RULESET)
    with pytest.raises(ProcessingFailed):
        handle(runtime, {"Records": events})
    assert sink.alerts == []
    sink.failing = False
    handle(runtime, {"Records": events})  # the retry: counts nothing twice, decides again
    handle(runtime, {"Records": events})  # a duplicate delivery of the file: nothing new
    assert [a.rule for a in sink.alerts] == ["burst"]
    burst = next(a for a in sink.alerts if a.rule == "burst")
    assert burst.state and burst.state["count"] == 4


def test_a_huge_batch_is_decided_in_chunks_with_the_same_alerts(
        moto_server: str, table: str, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    from ctrules.aws import pipeline

    monkeypatch.setattr(pipeline, "STATE_CHUNK", 7)  # memory bound: decide every 7 observations
    events = sorted(_events(5), key=lambda e: e["eventTime"])
    sink = RecordingSink()
    runtime = Runtime.build(
        {"CTRULES_LOG_LEVEL": "WARNING", "CTRULES_METRICS_NAMESPACE": "",
         "CTRULES_STATE_TABLE": table},
        clients=Clients(endpoint_url=moto_server), sink=sink, ruleset=RULESET)
    handle(runtime, {"Records": events})
    assert identities(sink.alerts) == reference_alerts(RULESET, events)
    assert all(dict(a.event) in events for a in sink.alerts)
