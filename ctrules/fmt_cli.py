"""Tooling stage — `ctrules fmt PATH... [--check] [--diff]`: the formatter's command line.

Rewrites `.ctr` files in place with `ctrules.formatter` (directories are searched recursively;
`-` formats standard input to standard output). `--check` writes nothing and exits 1 when a file
would change; `--diff` writes nothing and prints what would change. A file that does not parse
is reported with its diagnostic and left untouched. Exit codes: 0 fine, 1 a file would change
(with --check) or could not be formatted, 2 a path that does not exist.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from .diagnostics import render_text
from .formatter import format_text
from .parser import CtrSyntaxError
from .rulepaths import directory_rule_files


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "fmt",
        help="rewrite rule files in the canonical layout (comments kept)",
        description="Rewrite .ctr files canonically. Directories are searched recursively; "
        "'-' formats standard input to standard output.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help=".ctr files and directories (the files `check` would read under them), "
                        "or - for standard input")
    p.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if any file would change"
    )
    p.add_argument("--diff", action="store_true", help="write nothing; print a unified diff")
    p.set_defaults(func=cmd_fmt)


def ctr_files(paths: Sequence[str | Path]) -> Iterator[Path | None]:
    """Each file named or found under a directory, sorted; None for a path that does not exist."""
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            yield from directory_rule_files(p)
        elif p.is_file():
            yield p
        else:
            yield None


def cmd_fmt(args: argparse.Namespace) -> int:
    return run_fmt(args.paths, check=args.check, diff=args.diff)


def run_fmt(paths: Sequence[str], *, check: bool = False, diff: bool = False) -> int:
    status = 0
    changed = unchanged = failed = 0
    out, err = sys.stdout, sys.stderr
    for raw in paths:
        if raw == "-":
            result = _format_stdin(check=check, diff=diff)
            status = max(status, result)
            continue
        found = False
        for path in ctr_files([raw]):
            if path is None:
                print(f"ctrules fmt: {raw}: no such file or directory", file=err)
                status = 2
                continue
            found = True
            try:
                source = _read(path)
                formatted = format_text(source, str(path))
            except CtrSyntaxError as exc:
                print(render_text(exc.diagnostic, source), file=err)
                failed += 1
                status = max(status, 1)
                continue
            except (OSError, UnicodeDecodeError) as exc:
                print(f"ctrules fmt: {path}: cannot read: {exc}", file=err)
                failed += 1
                status = max(status, 1)
                continue
            if formatted == source:
                unchanged += 1
                continue
            changed += 1
            if diff:
                out.writelines(_diff(source, formatted, str(path)))
            if check:
                print(f"would reformat {path}", file=out)
                status = max(status, 1)
            elif not diff:
                try:
                    _write(path, formatted)
                except OSError as exc:
                    print(f"ctrules fmt: {path}: cannot write: {exc}", file=err)
                    failed += 1
                    status = max(status, 1)
                    continue
                print(f"reformatted {path}", file=err)
        if not found and Path(raw).is_dir():
            print(f"ctrules fmt: {raw}: no .ctr files", file=err)
    verb = "would be reformatted" if check or diff else "reformatted"
    summary = f"{changed} file{'s' * (changed != 1)} {verb}, {unchanged} unchanged"
    if failed:
        summary += f", {failed} failed"
    if changed or unchanged or failed:
        print(summary, file=err)
    return status


def _format_stdin(*, check: bool, diff: bool) -> int:
    source = sys.stdin.read()
    try:
        formatted = format_text(source, "<stdin>")
    except CtrSyntaxError as exc:
        print(render_text(exc.diagnostic, source), file=sys.stderr)
        return 1
    if diff:
        sys.stdout.writelines(_diff(source, formatted, "<stdin>"))
    elif not check:
        sys.stdout.write(formatted)
    return 1 if check and formatted != source else 0


def _read(path: Path) -> str:
    # newline="" keeps the text exactly as stored, so "unchanged" means byte-for-byte.
    with path.open(encoding="utf-8", newline="") as f:
        return f.read()


def _write(path: Path, text: str) -> None:
    """Replace the file atomically so an interrupted run never leaves half a rule file."""
    mode = path.stat().st_mode
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.chmod(tmp, mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _diff(before: str, after: str, name: str) -> Iterator[str]:
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=f"{name} (original)",
        tofile=f"{name} (formatted)",
    )
    for line in lines:
        yield line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
