#!/usr/bin/env python3
"""Regenerate ctrules/data/ctr_parser.json — the parser's LALR tables, built from grammar/ctr.lark.

Build-time tool, not part of the runtime pipeline. The grammar stays the source of truth: the
file records the grammar's SHA-256 and the Lark version that built the tables, and
`ctrules.parser` uses the tables only when both match (otherwise it builds the parser from the
grammar, a tenth of a second slower per process). Lark numbers its states differently from one
run to the next, so `--check` compares the recorded grammar digest and Lark version, not bytes.

    .venv/bin/python scripts/build_parser.py            # rewrite the shipped tables
    .venv/bin/python scripts/build_parser.py --check    # exit 1 if they are out of date
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lark import Lark
from lark.grammar import Rule
from lark.lexer import TerminalDef

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ctrules.parser import (  # noqa: E402
    LARK_OPTIONS,
    TABLES,
    grammar_digest,
    grammar_text,
    lark_version,
)

TABLES_PATH = ROOT / "ctrules" / TABLES


def build() -> str:
    grammar = grammar_text()
    parser = Lark(grammar, **LARK_OPTIONS)
    data, memo = parser.memo_serialize([TerminalDef, Rule])
    data["options"].pop("lexer_callbacks", None)  # functions; given again when loading
    tables = {"grammar_sha256": grammar_digest(grammar), "lark": lark_version(),
              "data": data, "memo": memo}
    return json.dumps(tables, sort_keys=True, separators=(",", ":")) + "\n"


def is_current(path: Path = TABLES_PATH) -> bool:
    try:
        tables = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return False
    return bool(tables.get("grammar_sha256") == grammar_digest(grammar_text())
                and tables.get("lark") == lark_version())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if the shipped file is stale")
    args = ap.parse_args(argv)
    if args.check:
        if not is_current():
            print(f"{TABLES_PATH} is out of date; run scripts/build_parser.py", file=sys.stderr)
            return 1
        return 0
    TABLES_PATH.parent.mkdir(parents=True, exist_ok=True)
    TABLES_PATH.write_text(build(), "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
