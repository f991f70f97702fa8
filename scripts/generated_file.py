"""Shared by the scripts that generate files under ctrules/data/ (build_catalog, build_schema):
write the file, or with `--check` say whether the shipped copy is current."""

from __future__ import annotations

import sys
from pathlib import Path


def write_or_check(path: Path, text: str, check: bool, script: str) -> bool:
    """With `check`, whether `path` already holds `text` (saying how to fix it when not);
    otherwise write it. False only when a check found the file stale."""
    if check:
        current = path.read_text("utf-8") if path.exists() else ""
        if current != text:
            print(f"{path} is out of date; run scripts/{script}", file=sys.stderr)
            return False
        return True
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")
    return True
