"""Benchmark: stateful rules — what they cost the per-event path, and what a batch costs in
state-store requests.

    .venv/bin/python -m bench.stateful [--events 50000] [--repeat 5]

1. Stateless speed, same process, interleaved: `RuleSet.evaluate` of the default pack without
   rules/stateful.ctr and with it (stateful rules are kept out of `evaluate`'s dispatch, so the
   ratio should be 1.00), and what `StatefulEngine.observe` adds per event (the consumer calls
   it next to `evaluate`).
2. Requests per batch: one engine over a counting store (`MemoryStore.requests` counts one per
   store operation, exactly the calls `DynamoStore` makes for count/distinct rules — checked on
   moto by tests/stateful/test_dynamodb.py), for batches of N events over K distinct keys.
3. What one batch holds until it is decided (all events, as `ctrules run` folds them): records
   held against observations (ctrules/stateful/pending.py keeps one per window).
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from bench.generate import Options, generate, log_files
from ctrules import load_rules
from ctrules.ruleset import RuleSet, default_rule_files
from ctrules.stateful import MemoryStore, StatefulEngine


def _records(events: int) -> list[Any]:
    work = Path(tempfile.mkdtemp(prefix="ctrules-bench-stateful-"))
    try:
        generate(work, events, Options(seed=7), workers=1, quiet=True)
        out: list[Any] = []
        for path in log_files(work):
            out.extend(orjson.loads(gzip.decompress(path.read_bytes()))["Records"])
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _cpu(fn: Any, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def stateless_speed(records: list[Any], repeat: int) -> dict[str, float]:
    files = default_rule_files()
    without = load_rules([f for f in files if f.name != "stateful.ctr"])
    with_ = load_rules(files)
    engine = StatefulEngine(with_, MemoryStore())
    for rs in (without, with_):  # warm the dispatch caches
        for r in records:
            rs.evaluate(r)

    def run(rs: RuleSet) -> None:
        evaluate = rs.evaluate
        for r in records:
            evaluate(r)

    def observe() -> None:
        for r in records:
            engine.observe(r)

    times = {"without": [], "with": [], "observe": []}  # type: dict[str, list[float]]
    for _ in range(repeat):  # interleaved, so drift hits both alike
        times["without"].append(_cpu(lambda: run(without), 1))
        times["with"].append(_cpu(lambda: run(with_), 1))
        times["observe"].append(_cpu(observe, 1))
    best = {k: min(v) for k, v in times.items()}
    n = len(records)
    return {
        "events": n,
        "us_per_event_without": 1e6 * best["without"] / n,
        "us_per_event_with": 1e6 * best["with"] / n,
        "ratio_with_over_without": best["with"] / best["without"],
        "us_per_event_observe": 1e6 * best["observe"] / n,
    }


RULES = """
rule burst {
    when eventName == "ConsoleLogin"
    count >= 10 by [sourceIPAddress] within 10m
}
rule spread {
    when eventName == "GetSecretValue"
    distinct requestParameters.secretId >= 10 by [userIdentity.arn] within 10m
}
"""


def requests_per_batch(batch: int, keys: int) -> int:
    from ctrules.checks import check_sources

    files, _ = check_sources([("b.ctr", RULES)])
    store = MemoryStore()
    engine = StatefulEngine(RuleSet(files), store)
    events = []
    for i in range(batch):
        k = i % keys
        events.append({"eventID": f"e{i}", "eventTime": f"2026-01-01T12:0{i % 10}:00Z",
                       "eventName": "ConsoleLogin" if i % 2 else "GetSecretValue",
                       "sourceIPAddress": f"10.0.{k // 250}.{k % 250}",
                       "userIdentity": {"arn": f"arn:aws:iam::1:user/u{k}"},
                       "requestParameters": {"secretId": f"s{i % 37}"}})
    engine.process([o for e in events for o in engine.observe(e)])
    return store.requests


def default_pack_traffic(records: list[Any], batch: int) -> dict[str, float]:
    """The default pack's stateful rules over synthetic traffic in batches of `batch` records
    (a CloudTrail file holds a few hundred to a few thousand): store requests per event."""
    store = MemoryStore()
    engine = StatefulEngine(load_rules(default_rule_files()), store)
    observed = batches = 0
    for i in range(0, len(records), batch):
        obs = [o for r in records[i:i + batch] for o in engine.observe(r)]
        observed += len(obs)
        engine.process(obs)
        batches += 1
    return {"events": len(records), "batches": batches, "observed": observed,
            "requests": store.requests,
            "requests_per_million_events": 1e6 * store.requests / len(records)}


def held_by_one_batch(records: list[Any]) -> dict[str, int]:
    """What `ctrules run` holds until the end: every record folded into one batch."""
    engine = StatefulEngine(load_rules(default_rule_files()), MemoryStore())
    pending = engine.pending()
    for r in records:
        for o in engine.observe(r):
            pending.add(o)
    return {"events": len(records), "observed": pending.observed,
            "groups": len(pending.groups), "held": pending.held_records()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.stateful")
    p.add_argument("--events", type=int, default=50_000)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)
    records = _records(args.events)
    speed = stateless_speed(records, args.repeat)
    print(f"stateless evaluate over {speed['events']:,} events (CPU, best of {args.repeat}):")
    print(f"  default pack without stateful.ctr: {speed['us_per_event_without']:.3f} us/event")
    print(f"  default pack with stateful.ctr:    {speed['us_per_event_with']:.3f} us/event")
    print(f"  ratio with / without:              {speed['ratio_with_over_without']:.3f}")
    print(f"  StatefulEngine.observe (added):    {speed['us_per_event_observe']:.3f} us/event")
    print("\nstate-store requests per batch (rules: count by address, distinct by principal):")
    print("| events in batch | distinct keys | requests |")
    print("|---:|---:|---:|")
    for batch in (100, 1_000, 10_000):
        for keys in (1, 10, 100):
            print(f"| {batch:,} | {keys} | {requests_per_batch(batch, keys)} |")
    print("\ndefault pack's stateful rules over the synthetic traffic:")
    print("| batch (events) | events selected | store requests | requests per 1M events |")
    print("|---:|---:|---:|---:|")
    for batch in (500, 5_000):
        t = default_pack_traffic(records, batch)
        print(f"| {batch:,} | {t['observed']:,} of {t['events']:,} | {t['requests']:,} "
              f"| {t['requests_per_million_events']:,.0f} |")
    held = held_by_one_batch(records)
    print(f"\none batch (as `ctrules run`): {held['observed']:,} observations of "
          f"{held['events']:,} events in {held['groups']:,} (rule, key, window) groups; "
          f"records held until deciding: {held['held']:,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
