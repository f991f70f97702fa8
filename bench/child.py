"""Bench — runs the `ctrules` CLI in a child process and records that process's peak RSS.

The parent cannot use wait4's ru_maxrss: a child forked from a large parent inherits the
parent's high-water mark through exec. VmHWM in /proc/self/status belongs to the new address
space only, so the child reads it at exit and writes it to $BENCH_HWM_FILE (bytes).

    BENCH_HWM_FILE=/tmp/x python -m bench.child run RULESET LOGS...
"""

from __future__ import annotations

import atexit
import os
import sys
from pathlib import Path


def peak_rss() -> int:
    """This process's peak resident set size in bytes (0 where /proc is not there)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def _record() -> None:
    target = os.environ.get("BENCH_HWM_FILE")
    if target:
        Path(target).write_text(str(peak_rss()))


def main() -> int:
    atexit.register(_record)
    from ctrules.cli import main as ctrules_main

    sys.argv = ["ctrules", *sys.argv[1:]]
    return int(ctrules_main() or 0)


if __name__ == "__main__":
    raise SystemExit(main())
