#!/usr/bin/env python3
"""Rebuild rules/samples/sample.json.gz — the small CloudTrail log the README's first command runs.

Build-time tool. Picks records, unchanged, from the real-log corpus vendored in
tests/rules/corpus/ (invictus-ir/aws_dataset, MIT; AWS CloudTrail User Guide examples,
CC-BY-SA-4.0/MIT-0 — see rules/samples/SOURCES.md): up to three records for every default rule
that fires on the corpus, plus a deterministic slice of ordinary read-only traffic that fires
nothing, so the sample shows both alerts and quiet. Written as a CloudTrail log file
(`{"Records": [...]}`, gzip) in the corpus order.

    .venv/bin/python scripts/build_sample.py
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the checkout's ctrules, however the venv installed it

import ctrules  # noqa: E402
from ctrules.ruleset import default_rule_files  # noqa: E402

CORPUS = ROOT / "tests" / "rules" / "corpus"
OUTPUT = ROOT / "rules" / "samples" / "sample.json.gz"
PER_RULE = 3
QUIET = 40


def corpus_records() -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for path in sorted(CORPUS.glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            records.extend(json.loads(line) for line in fh if line.strip())
    return records


def main() -> int:
    rules = ctrules.load_rules(default_rule_files())
    records = corpus_records()
    chosen: set[int] = set()
    per_rule: dict[str, int] = {}
    quiet: list[int] = []
    for i, record in enumerate(records):
        names = [a.rule for a in rules.evaluate(record)]
        if not names:
            quiet.append(i)
            continue
        if any(per_rule.get(n, 0) < PER_RULE for n in names):
            chosen.add(i)
            for n in names:
                per_rule[n] = per_rule.get(n, 0) + 1
    step = max(1, len(quiet) // QUIET)
    chosen.update(quiet[::step][:QUIET])
    sample = {"Records": [records[i] for i in sorted(chosen)]}
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps(sample, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    # mtime=0 keeps the gzip byte-identical between runs.
    OUTPUT.write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
    print(f"wrote {OUTPUT}: {len(chosen)} records, {len(per_rule)} rules fire")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
