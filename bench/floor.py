"""Bench — the decode floor as its own process: read + gunzip + orjson of every file, nothing else.

`python -m bench` compares `ctrules run` (a fresh process) with this (a fresh process on the
same files), so both pay the same interpreter start and run with the same small heap. Prints
the number of records decoded.

    python -m bench.floor FILES...
"""

from __future__ import annotations

import gzip
import os
import sys
from pathlib import Path

import orjson


def main(paths: list[str]) -> int:
    total = 0
    for path in paths:
        with open(path, "rb") as fh:
            data = fh.read()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        try:
            records = orjson.loads(data)["Records"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            continue
        total += len(records)
        del records
    print(total)
    if os.environ.get("BENCH_HWM_FILE"):
        from bench.child import peak_rss

        Path(os.environ["BENCH_HWM_FILE"]).write_text(str(peak_rss()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
