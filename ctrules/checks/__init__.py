"""Pipeline stage 3 — the checker: parsed rule files → every finding about the rule set.

`.ctr text → parser → nodes → **checks** → compiler → RuleSet`.

`check_sources` parses each file (a syntax error in one file is a CTR001 finding and the others are
still checked), then looks at the whole rule set at once: names are one namespace across files,
macros are expanded where they are used, and every finding is collected (nothing stops at the
first). `ctrules check` prints the findings; `ctrules.load_rules` refuses a rule set that has any
error (an expired ignore aside, see docs/diagnostics.md), so the compiler only ever sees rule sets
this package has passed.

One module per concern: `codes` (the code table), `checker` (names and binding, anchors, types of
comparisons, templates, ignores), `types` (the CloudTrail record's documented types),
`constants` (never/always-matching `when`s), `cloudtrail` (CTR107/CTR108 against the catalog),
`schema_lint` (CTR114–CTR116 against `ctrules.schema`).
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path as FsPath

from lark.exceptions import VisitError

from .. import nodes as n
from ..checks_stateful import stateful_findings
from ..diagnostics import Diagnostic, sort_key
from ..gcpause import gc_paused
from ..parser import CtrSyntaxError, parse
from ..rulepaths import directory_rule_files
from .checker import _Checker, expiry_date
from .codes import CODES, MAX_DEPTH, MAX_EXPANDED_NODES, CodeInfo
from .codes import diag as _diag
from .schema_lint import schema_findings
from .types import EVENT_TYPE, RULE_FIELDS, TOP_LEVEL_FIELDS

__all__ = [
    "CODES", "EVENT_TYPE", "EXTRA_CHECKS", "MAX_DEPTH", "MAX_EXPANDED_NODES", "RULE_FIELDS",
    "TOP_LEVEL_FIELDS", "CodeInfo", "ExtraCheck", "check_files", "check_sources", "expiry_date",
    "load_sources",
]

ExtraCheck = Callable[[list[n.RuleFile]], list[Diagnostic]]
EXTRA_CHECKS: list[ExtraCheck] = []
"""Further checks run after the built-in ones (each gets every parsed file), before the
CloudTrail catalog checks (`ctrules.checks.cloudtrail`)."""

_CLOUDTRAIL_CHECKS = "ctrules.checks.cloudtrail"


def _extra_checks(catalog: bool = True) -> list[ExtraCheck]:
    checks = list(EXTRA_CHECKS)
    if not catalog:
        return checks  # the catalog and schema checks only warn
    # The module is looked up by name so that a test can leave the catalog checks out; a
    # module that exists but fails to import is a bug that must surface.
    if importlib.util.find_spec(_CLOUDTRAIL_CHECKS) is not None:
        module = importlib.import_module(_CLOUDTRAIL_CHECKS)
        found = getattr(module, "cloudtrail_findings", None)
        if callable(found):
            checks.append(found)
    checks.append(schema_findings)
    return checks


# ---- public API ----------------------------------------------------------------------------


def load_sources(paths: Sequence[str | FsPath]) -> list[tuple[str, str]]:
    """Read rule files: `(filename, text)` pairs; a directory stands for the `*.ctr` files
    `rulepaths.directory_rule_files` finds under it.

    `-` reads standard input. Raises FileNotFoundError for a path that does not exist. Bytes
    that are not UTF-8 are kept as surrogate escapes so that `check_sources` reports them
    (CTR001) with a position.
    """
    out: list[tuple[str, str]] = []
    seen: set[FsPath] = set()
    for raw in paths:
        if str(raw) == "-":
            out.append(("<stdin>", sys.stdin.buffer.read().decode("utf-8", "surrogateescape")))
            continue
        path = FsPath(raw)
        if path.is_dir():
            files = directory_rule_files(path)
        elif path.exists():
            files = [path]
        else:
            raise FileNotFoundError(f"no such file or directory: {raw}")
        for file in files:
            key = file.resolve()
            if key in seen:  # `rules/ rules/compat` names some files twice; read them once
                continue
            seen.add(key)
            out.append((str(file), file.read_bytes().decode("utf-8", "surrogateescape")))
    return out


def check_sources(
    sources: Sequence[tuple[str, str]], today: date | None = None, catalog: bool = True
) -> tuple[list[n.RuleFile], list[Diagnostic]]:
    """Parse and check a whole rule set; returns the parsed files and ALL findings, sorted.
    `catalog=False` leaves out the CloudTrail catalog and schema checks (warnings only: a rule
    set loaded to evaluate events, whose warnings nobody reads, need not pay for "did you mean"
    or for reading the schema)."""
    with gc_paused():
        return _check_sources(sources, today, catalog)


def _check_sources(
    sources: Sequence[tuple[str, str]], today: date | None, catalog: bool
) -> tuple[list[n.RuleFile], list[Diagnostic]]:
    files: list[n.RuleFile] = []
    diagnostics: list[Diagnostic] = []
    broken_names: set[str] = set()
    for filename, text in sources:
        bad = _non_utf8(filename, text)
        if bad is not None:
            diagnostics.append(bad)
            broken_names.update(_declared_names_guess(text))
            continue
        try:
            result = parse(text, filename)
        except CtrSyntaxError as err:
            diagnostics.append(err.diagnostic)
            broken_names.update(_declared_names_guess(text))
            continue
        except (RecursionError, VisitError) as err:
            if isinstance(err, VisitError) and not isinstance(err.orig_exc, RecursionError):
                raise
            diagnostics.append(_diag("CTR021", n.Span(filename, 1, 1, 1, 2),
                                     "the file nests too deeply to parse",
                                     "split deeply nested conditions into macros"))
            broken_names.update(_declared_names_guess(text))
            continue
        files.append(result.file)
        diagnostics.extend(result.diagnostics)
    checker = _Checker(files, None, today or datetime.now(UTC).date(), broken_names)
    diagnostics.extend(checker.run())
    # Extra checks walk expressions recursively, macros expanded; past the depth or size limit
    # (already an error) they could exhaust the stack or take exponential time, so such a rule
    # set gets only the built-in findings.
    # A literal past the size limit (CTR022 from the parser) is refused already too: the
    # catalog's "did you mean" on a 5 MB eventName would take minutes.
    if not any(d.code in ("CTR021", "CTR022") for d in diagnostics) and not checker.too_large:
        for extra in _extra_checks(catalog):
            diagnostics.extend(extra(files))
    diagnostics.extend(stateful_findings(files))  # no recursion: safe past the depth limit
    return files, _sorted_unique(diagnostics)


def check_files(
    paths: Sequence[str | FsPath], today: date | None = None
) -> tuple[list[n.RuleFile], list[Diagnostic]]:
    """`load_sources` then `check_sources`."""
    return check_sources(load_sources(paths), today)


def _sorted_unique(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    seen: set[tuple[str, str, int, int, str]] = set()
    out: list[Diagnostic] = []
    for d in sorted(diagnostics, key=sort_key):
        key = (d.code, d.span.file, d.span.line, d.span.col, d.message)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def _non_utf8(filename: str, text: str) -> Diagnostic | None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        line = text.count("\n", 0, err.start) + 1
        col = err.start - (text.rfind("\n", 0, err.start) + 1) + 1
        span = n.Span(filename, line, col, line, col + 1, err.start, err.start + 1)
        return _diag("CTR001", span, "the file is not valid UTF-8", "save the file as UTF-8")
    return None


_DECL_GUESS = re.compile(r"^\s*(?:list|macro|rule|ignore|route)\s+([A-Za-z_][A-Za-z0-9_]*)",
                         re.MULTILINE)


def _declared_names_guess(text: str) -> set[str]:
    """Names a file that failed to parse probably declares, so that other files' uses of them
    are not reported as undefined on top of the syntax error."""
    return set(_DECL_GUESS.findall(text))
