"""Runs `ctrules ARGS...` in this process and appends its peak RSS (MiB) to the file named by
CTRULES_MEASURE_RSS, so a hostile-input case can bound the memory of one command."""

from __future__ import annotations

import os
import resource
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[2]))

from ctrules.cli import main  # noqa: E402


def _peak_kib() -> int:
    # VmHWM belongs to this process's address space, which execve made new; ru_maxrss would
    # carry over the (large) test runner's peak from before the fork.
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _report() -> None:
    peak_kib = _peak_kib()
    with open(os.environ["CTRULES_MEASURE_RSS"], "w") as out:
        out.write(f"{peak_kib / 1024:.1f}\n")


if __name__ == "__main__":
    try:
        code = main(sys.argv[1:])
    finally:
        _report()
    sys.exit(code)
