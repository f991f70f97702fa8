"""Diagnostics: the values every stage reports problems with.

A diagnostic has a stable code (documented in docs/diagnostics.md), a severity, a span and a
message. Stages collect them; exceptions are reserved for "cannot continue".
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from .nodes import Span

Level = Literal["error", "warning"]


@dataclass(frozen=True)
class Diagnostic:
    code: str
    severity: Level
    message: str
    span: Span
    hint: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.span.file,
            "line": self.span.line,
            "col": self.span.col,
            "end_line": self.span.end_line,
            "end_col": self.span.end_col,
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "hint": self.hint,
        }


class RuleSetError(Exception):
    """A rule set could not be loaded; carries every diagnostic that explains why."""

    def __init__(self, diagnostics: Sequence[Diagnostic]):
        self.diagnostics = list(diagnostics)
        errors = [d for d in self.diagnostics if d.is_error]
        first = errors[0] if errors else (self.diagnostics[0] if self.diagnostics else None)
        summary = f"{first.span}: {first.code} {first.message}" if first else "invalid rule set"
        more = f" (and {len(errors) - 1} more errors)" if len(errors) > 1 else ""
        super().__init__(summary + more)


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.is_error for d in diagnostics)


def sort_key(d: Diagnostic) -> tuple[str, int, int, str]:
    return (d.span.file, d.span.line, d.span.col, d.code)


def render_text(d: Diagnostic, source: str | None) -> str:
    """`file:line:col: CODE severity: message`, then the source line and a caret."""
    out = [f"{d.span.file}:{d.span.line}:{d.span.col}: {d.code} {d.severity}: {d.message}"]
    if source is not None:
        # Lines as the parser counts them: only "\n" ends one (str.splitlines also splits at
        # a form feed, U+2028, U+0085... and would put the caret under the wrong line).
        lines = source.split("\n")
        if 1 <= d.span.line <= len(lines):
            text = _printable(lines[d.span.line - 1].rstrip("\r").expandtabs(1))
            out.append("    " + text)
            width = 1
            if d.span.end_line == d.span.line and d.span.end_col > d.span.col:
                width = d.span.end_col - d.span.col
            out.append("    " + " " * (d.span.col - 1) + "^" * max(1, width))
    if d.hint:
        out.append(f"    hint: {d.hint}")
    return "\n".join(out)


def _printable(line: str) -> str:
    """The line with each character a terminal would not print as itself (a form feed, a
    bidirectional override that reorders the line) shown as U+FFFD, so columns still line up."""
    if line.isprintable():
        return line
    return "".join(ch if ch.isprintable() else "\ufffd" for ch in line)


def render_json(diagnostics: Sequence[Diagnostic]) -> str:
    return json.dumps([d.as_dict() for d in diagnostics], indent=2)


def _gh_escape(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_escape_property(text: str) -> str:
    # Workflow-command property values also end at `,` and `:` (actions/toolkit escapeProperty).
    return _gh_escape(text).replace(":", "%3A").replace(",", "%2C")


def render_github(d: Diagnostic) -> str:
    """A GitHub Actions workflow command, so findings show up inline on the PR diff."""
    level = "error" if d.is_error else "warning"
    message = d.message + (f" (hint: {d.hint})" if d.hint else "")
    props = (
        f"file={_gh_escape_property(d.span.file)},line={d.span.line},col={d.span.col},"
        f"endLine={d.span.end_line},endColumn={d.span.end_col},"
        f"title={_gh_escape_property(d.code)}"
    )
    return f"::{level} {props}::{_gh_escape(message)}"
