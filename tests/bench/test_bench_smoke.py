"""Bench smoke test: the generator and the whole suite at a tiny size.

Benchmarks are not tests: this checks that `python -m bench` still runs end to end (generation,
baselines, ctrules, `ctrules run`, the Lambda handler through moto) and that all methods agree on
which events match, not how fast anything is.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from bench import __main__ as suite
from bench.baselines import flatten
from bench.generate import Options, generate, log_files
from ctrules.sources.logfile import BadRecord, iter_records

NAME = re.compile(
    r"AWSLogs/(\d{12})/CloudTrail/([a-z0-9-]+)/(\d{4})/(\d{2})/(\d{2})/"
    r"\1_CloudTrail_\2_\3\4\5T\d{4}Z_[A-Za-z0-9]{16}\.json\.gz$")


def _read_all(out: Path) -> tuple[list[object], int]:
    good: list[object] = []
    bad = 0
    for path in log_files(out):
        for item in iter_records(path.read_bytes(), str(path)):
            if isinstance(item, BadRecord):
                bad += 1
            else:
                good.append(item)
    return good, bad


def test_generator_is_deterministic_and_realistic(tmp_path: Path) -> None:
    opts = Options(seed=3, max_records=800, min_records=200)
    one = generate(tmp_path / "one", 3000, opts, workers=1, quiet=True)
    two = generate(tmp_path / "two", 3000, opts, workers=2, quiet=True)
    files_one = [p.relative_to(tmp_path / "one") for p in log_files(tmp_path / "one")]
    files_two = [p.relative_to(tmp_path / "two") for p in log_files(tmp_path / "two")]
    assert files_one == files_two and len(files_one) == one.files == two.files > 1
    for rel in files_one:
        assert NAME.search(str(rel)), rel
        assert (tmp_path / "one" / rel).read_bytes() == (tmp_path / "two" / rel).read_bytes()
    records, bad = _read_all(tmp_path / "one")
    assert bad == 0 and len(records) == 3000
    assert all(isinstance(r, dict) and "eventName" in r for r in records)
    errors = sum(1 for r in records if isinstance(r, dict) and "errorCode" in r)
    assert 0.03 < errors / 3000 < 0.12
    assert len({r["eventName"] for r in records if isinstance(r, dict)}) > 100


def test_malformed_records_are_bad_records_not_lost_files(tmp_path: Path) -> None:
    m = generate(tmp_path, 3000, Options(seed=5, malformed=0.05, max_records=1000), workers=1,
                 quiet=True)
    assert m.malformed > 50 and m.broken_json > 0
    records, bad = _read_all(tmp_path)
    # Every record is either decoded or reported; a non-object JSON value counts as bad.
    assert len(records) + bad == 3000
    assert bad >= m.broken_json


def test_flatten_joins_keys_and_indexes_lists() -> None:
    assert flatten({"a": {"b": [1, {"c": None}]}, "d": "x"}) == {
        "a.b.0": 1, "a.b.1.c": None, "d": "x"}


def test_suite_runs_end_to_end_at_a_tiny_size(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    code = suite.main(["--events", "3000", "--max-records", "600", "--gen-counts", "10",
                       "--sample", "500", "--no-memory", "--repeat", "1", "--work", str(tmp_path),
                       "--json", str(out)])
    result = json.loads(out.read_text())
    assert code == 0, result["agreement"]
    rows = {r["key"]: r for r in result["rows"]}
    for key in ("decode_floor", "baseline_a_9", "baseline_b_9", "ctrules_9", "ctrules_default",
                "ctrules_gen_10", "baseline_b_gen_10", "decode_floor_process", "e2e_run",
                "e2e_lambda"):
        assert rows[key]["events"] > 0 and rows[key]["seconds"] > 0, key
    assert rows["e2e_run"]["events"] == 3000
    assert result["lambda"]["failures"] == 0 and result["lambda"]["exit"] == 0
    assert all(v["agree"] for k, v in result["agreement"].items() if k != "parity_matches")
    assert sum(result["agreement"]["parity_matches"].values()) > 0
