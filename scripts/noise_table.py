#!/usr/bin/env python3
"""Print the noise table of docs/default-rules.md: per default rule, how often it fires on the
real-log corpus (tests/rules/corpus/). Build-time/documentation tool; tests/rules checks that the
table in the docs matches what this prints.

    .venv/bin/python scripts/noise_table.py
"""

from __future__ import annotations

import gzip
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the checkout's ctrules, however the venv installed it

import ctrules  # noqa: E402
from ctrules.ruleset import default_rule_files  # noqa: E402
from ctrules.stateful import MemoryStore, StatefulEngine  # noqa: E402

CORPUS = ROOT / "tests" / "rules" / "corpus"


def corpus_records() -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for path in sorted(CORPUS.glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            records.extend(json.loads(line) for line in fh if line.strip())
    return records


Row = tuple[str, str, int, int]


def noise_rows(paths: list[Path] | None = None) -> tuple[int, int, list[Row]]:
    """(records, records with any alert, [(rule, severity, alerts, distinct group keys)])."""
    rules = ctrules.load_rules(paths if paths is not None else default_rule_files())
    records = corpus_records()
    alerts: Counter[str] = Counter()
    groups: dict[str, set[Any]] = {}
    noisy = 0
    fired_ids: set[Any] = set()
    for record in records:
        fired = rules.evaluate(record)
        noisy += bool(fired)
        if fired:
            fired_ids.add(record.get("eventID"))
        for alert in fired:
            alerts[alert.rule] += 1
            groups.setdefault(alert.rule, set()).add(alert.group_key)
    # Stateful rules decide over the whole corpus at once (as `ctrules run` does): each alert is
    # one key and window, and carries a sample of the records that made it.
    for alert in StatefulEngine(rules, MemoryStore()).run(records):
        alerts[alert.rule] += 1
        groups.setdefault(alert.rule, set()).add(alert.group_key)
        if alert.event.get("eventID") not in fired_ids:
            fired_ids.add(alert.event.get("eventID"))
            noisy += 1
    rows = [(r.name, r.severity, alerts[r.name], len(groups.get(r.name, ()))) for r in rules.rules]
    return len(records), noisy, rows


def render(total: int, noisy: int, rows: list[Row]) -> str:
    lines = [
        "| rule | severity | alerts | % of records | Slack groups |",
        "|---|---|---:|---:|---:|",
    ]
    for name, severity, count, groups in rows:
        lines.append(f"| `{name}` | {severity} | {count} | {100 * count / total:.2f}% | {groups} |")
    fired = sum(count for _, _, count, _ in rows)
    lines.append(
        f"| **all rules** ({noisy} records fire at least one) | | **{fired}** "
        f"| **{100 * noisy / total:.2f}%** | |"
    )
    return "\n".join(lines)


def main() -> int:
    total, noisy, rows = noise_rows()
    print(f"Default pack over {total} records:\n")
    print(render(total, noisy, rows))
    total, noisy, rows = noise_rows(sorted((ROOT / "rules" / "compat").glob("*.ctr")))
    print(f"\nrules/compat (the old tool's defaults) over {total} records:\n")
    print(render(total, noisy, rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
