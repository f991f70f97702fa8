#!/usr/bin/env python3
"""Measure how noisy a rule set is on real CloudTrail logs, per rule and per severity, and print
the noise tables of docs/default-rules.md. Build-time/documentation tool; tests/rules checks
that the tables in the docs match what this prints and that the pack stays inside its budget.

    .venv/bin/python scripts/noise_table.py                        # the docs' tables
    .venv/bin/python scripts/noise_table.py --corpus ../shared/corpus/real rules/compat

A corpus is a directory of `*.jsonl` / `*.jsonl.gz` files, one CloudTrail record per line; each
file is reported on its own (default: the vendored tests/rules/corpus/). Records whose userAgent
carries Stratus Red Team's marker are counted as attack steps, everything else as background:
on an attack simulation, alerts on attack steps are wanted and noise is alerts on the rest.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the checkout's ctrules, however the venv installed it

import ctrules  # noqa: E402
from ctrules.ruleset import default_rule_files  # noqa: E402
from ctrules.stateful import MemoryStore, StatefulEngine  # noqa: E402

CORPUS = ROOT / "tests" / "rules" / "corpus"
SEVERITIES = ("info", "low", "medium", "high", "critical")
ATTACK_MARKER = "stratus-red-team_"  # Stratus injects it into every User-Agent it sends


def corpus_files(directory: Path = CORPUS) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.name.endswith((".jsonl", ".jsonl.gz")))


def corpus_name(path: Path) -> str:
    return path.name.removesuffix(".gz").removesuffix(".jsonl")


def read_records(path: Path) -> list[dict[str, Any]]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def corpus_records(directory: Path = CORPUS) -> list[dict[str, Any]]:
    return [r for path in corpus_files(directory) for r in read_records(path)]


def is_attack_step(record: dict[str, Any]) -> bool:
    return ATTACK_MARKER in str(record.get("userAgent", ""))


@dataclass
class Noise:
    """What one rule set does to one corpus."""

    corpus: str
    records: int
    attack_records: int = 0
    # rule -> alerts, rule -> distinct group keys, rule -> severity (in rule-set order)
    alerts: Counter[str] = field(default_factory=Counter)
    groups: dict[str, set[Any]] = field(default_factory=dict)
    severity: dict[str, str] = field(default_factory=dict)
    # severity -> records whose highest alert is at least that severity
    at_least: Counter[str] = field(default_factory=Counter)
    attack_at_least: Counter[str] = field(default_factory=Counter)

    def share(self, count: int) -> float:
        return 100 * count / self.records if self.records else 0.0


def measure(rules: ctrules.RuleSet, corpus: str, records: list[dict[str, Any]]) -> Noise:
    noise = Noise(corpus, len(records))
    noise.severity = {r.name: r.severity for r in rules.rules}
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    top: dict[int, int] = {}  # record index -> rank of its highest alert
    for i, record in enumerate(records):
        noise.attack_records += is_attack_step(record)
        for alert in rules.evaluate(record):
            noise.alerts[alert.rule] += 1
            noise.groups.setdefault(alert.rule, set()).add(alert.group_key)
            top[i] = max(top.get(i, 0), rank[noise.severity[alert.rule]])
    if rules.stateful_decls:
        # Stateful rules decide over the whole corpus file at once (as `ctrules run` does): each
        # alert is one key and window, charged to the record that completed it.
        index = {id(r): i for i, r in enumerate(records)}
        by_event_id = {r.get("eventID"): i for i, r in enumerate(records)}
        for alert in StatefulEngine(rules, MemoryStore()).run(records):
            noise.alerts[alert.rule] += 1
            noise.groups.setdefault(alert.rule, set()).add(alert.group_key)
            i = index.get(id(alert.event), by_event_id.get(alert.event.get("eventID"), -1))
            if i >= 0:
                top[i] = max(top.get(i, 0), rank[noise.severity[alert.rule]])
    for i, highest in top.items():
        attack = is_attack_step(records[i])
        for severity in SEVERITIES[: highest + 1]:
            noise.at_least[severity] += 1
            noise.attack_at_least[severity] += attack
    return noise


def measure_all(paths: list[Path] | None = None, corpus: Path = CORPUS) -> list[Noise]:
    rules = ctrules.load_rules(paths if paths is not None else default_rule_files())
    return [measure(rules, corpus_name(p), read_records(p)) for p in corpus_files(corpus)]


Row = tuple[str, str, int, int]


def noise_rows(paths: list[Path] | None = None) -> tuple[int, int, list[Row]]:
    """Every corpus file together: (records, records with any alert,
    [(rule, severity, alerts, distinct group keys)])."""
    rules = ctrules.load_rules(paths if paths is not None else default_rule_files())
    noise = measure(rules, "all", corpus_records())
    rows = [(name, sev, noise.alerts[name], len(noise.groups.get(name, ())))
            for name, sev in noise.severity.items()]
    return noise.records, noise.at_least["info"], rows


def render_summary(results: list[Noise]) -> str:
    lines = [
        "| corpus | records | any alert | low+ | medium+ | high+ | critical "
        "| medium+ on attack steps | medium+ on background |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n in results:
        cells = [f"{n.at_least[s]} ({n.share(n.at_least[s]):.2f}%)"
                 for s in ("info", "low", "medium", "high", "critical")]
        attack = n.attack_at_least["medium"]
        background = n.at_least["medium"] - attack
        lines.append(f"| `{n.corpus}` | {n.records} | {' | '.join(cells)} "
                     f"| {attack} of {n.attack_records} | {background} of "
                     f"{n.records - n.attack_records} |")
    return "\n".join(lines)


def render_rules(results: list[Noise]) -> str:
    head = "| rule | severity |" + "".join(
        f" `{n.corpus}` alerts | % | groups |" for n in results)
    lines = [head, "|---|---|" + "---:|---:|---:|" * len(results)]
    for name, severity in results[0].severity.items():
        cells = "".join(f" {n.alerts[name]} | {n.share(n.alerts[name]):.2f}% "
                        f"| {len(n.groups.get(name, ()))} |" for n in results)
        lines.append(f"| `{name}` | {severity} |{cells}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rules", nargs="*", type=Path,
                        help="rule files or directories (default: the default pack)")
    parser.add_argument("--corpus", type=Path, default=CORPUS,
                        help="directory of *.jsonl[.gz] CloudTrail records")
    args = parser.parse_args(argv)
    paths = None
    if args.rules:
        paths = [f for p in args.rules
                 for f in (sorted(p.rglob("*.ctr")) if p.is_dir() else [p])]
    results = measure_all(paths, args.corpus)
    print(render_summary(results))
    print()
    print(render_rules(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
