"""Templates: `summary` strings with `{path}` placeholders.

Parsing is shared by the checker (which reports bad placeholders) and the compiler (which turns
a template into a renderer). `{{` and `}}` are literal braces; a lone `{`/`}` or an empty `{}`
is an error (CTR016).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import nodes as n
from .diagnostics import Diagnostic
from .parser import CtrSyntaxError, parse_path

INVALID_TEMPLATE = "CTR016"


_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.(?:[A-Za-z_][A-Za-z0-9_]*|[0-9]+))*\Z")


def _simple_path(text: str, span: n.Span | None = None) -> n.Path | None:
    """The common placeholder (`userIdentity.arn`, `resources.0.ARN`) without a Lark parse;
    anything else (backticks, `event.`, keywords, dunders) goes through the parser."""
    if not _PLAIN.match(text):
        return None
    segments: list[str | int] = [int(s) if s.isdigit() else s for s in text.split(".")]
    head = segments[0]
    if head in n.KEYWORDS or head == "event" or any(
            isinstance(s, str) and s.startswith("__") and s.endswith("__") for s in segments):
        return None
    return n.Path(tuple(segments), span=span)


@dataclass(frozen=True)
class Template:
    parts: tuple[str | n.Path, ...]


def parse_template(text: n.Text, filename: str) -> tuple[Template, list[Diagnostic]]:
    """Split a template into literal text and paths; report every bad placeholder."""
    value = text.value
    parts: list[str | n.Path] = []
    problems: list[Diagnostic] = []
    literal: list[str] = []
    i = 0

    def where(offset: int, width: int = 1) -> n.Span:
        # Spans point into the source string when it holds no escapes (the common case);
        # otherwise at the string as a whole.
        if text.span is None:
            return n.Span(filename, 1, 1, 1, 2)
        s = text.span
        if s.line == s.end_line and s.end_col - s.col == len(value) + 2 + (1 if text.raw else 0):
            col = s.col + 1 + (1 if text.raw else 0) + offset
            return n.Span(filename, s.line, col, s.line, col + width)
        return s

    while i < len(value):
        ch = value[i]
        if ch == "{" and value.startswith("{{", i):
            literal.append("{")
            i += 2
        elif ch == "}" and value.startswith("}}", i):
            literal.append("}")
            i += 2
        elif ch == "{":
            end = value.find("}", i + 1)
            nested = value.find("{", i + 1)
            if end < 0 or (0 <= nested < end):
                problems.append(Diagnostic(INVALID_TEMPLATE, "error", "unclosed '{' in template",
                                           where(i), "write '{{' for a literal brace"))
                literal.append(ch)
                i += 1
                continue
            inner = value[i + 1 : end]
            if not inner.strip():
                problems.append(Diagnostic(INVALID_TEMPLATE, "error", "empty '{}' in template",
                                           where(i, 2),
                                           "put a field path inside, e.g. {eventName}"))
            else:
                span = where(i + 1, len(inner))
                try:
                    path = _simple_path(inner, span) or parse_path(
                        inner.strip(), filename, span.line, span.col)
                except CtrSyntaxError as err:
                    problems.append(Diagnostic(
                        INVALID_TEMPLATE, "error",
                        f"invalid path {inner!r} in template: {err.diagnostic.message}",
                        span, "placeholders are field paths such as {userIdentity.arn}"))
                else:
                    if literal:
                        parts.append("".join(literal))
                        literal = []
                    parts.append(path)
            i = end + 1
        elif ch == "}":
            problems.append(Diagnostic(INVALID_TEMPLATE, "error", "lone '}' in template",
                                       where(i), "write '}}' for a literal brace"))
            literal.append(ch)
            i += 1
        else:
            literal.append(ch)
            i += 1
    if literal:
        parts.append("".join(literal))
    return Template(tuple(parts)), problems
