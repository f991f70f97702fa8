"""Pipeline stage 1 — the parser: `.ctr` text → AST (`ctrules.nodes`).

One Lark LALR parser per process, loaded from the tables built from the grammar and shipped
inside the package (`TABLES`). Its lexer reads two things whole that Lark would read a token at
a time: an example's JSON record and a `when` that is one long and/or chain; both build
exactly what the grammar's rules would, and anything else is left to those rules. A single
Transformer turns Lark's tree into frozen dataclasses; nothing after this module sees Lark.
Lark's exceptions are converted here, in one place, into `CtrSyntaxError` with a position and a
human hint. Problems that do not stop the parse (a property given twice, a missing `when`, an
unknown function) are collected as diagnostics next to the AST.
"""

from __future__ import annotations

import contextvars
import functools
import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import (
    GrammarError,
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)
from lark.lexer import Lexer
from lark.parsers.lalr_analysis import Shift
from lark.tree import Meta

from . import nodes as n
from .diagnostics import Diagnostic
from .gcpause import gc_paused

SYNTAX_ERROR = "CTR001"
DUPLICATE_PROPERTY = "CTR003"
MISSING_PROPERTY = "CTR004"
RESERVED_NAME = "CTR005"
INVALID_VALUE = "CTR006"
UNKNOWN_FUNCTION = "CTR012"
BAD_CALL = "CTR013"
TOO_DEEP = "CTR021"
TOO_LARGE = "CTR022"
BIDI_CONTROL = "CTR023"

MAX_STRING_CHARS = 65_536
"""The longest string literal (rule, list or example): far beyond any real pattern or value,
and well inside what RE2 and Slack accept."""
MAX_NUMBER_CHARS = 1_000
"""The longest number literal (Python refuses to convert integers of more than 4,300 digits)."""

_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
"""Characters that reorder how text is displayed ("Trojan Source"): in a comment or a string
they can make a rule read differently from what it does."""


class CtrSyntaxError(Exception):
    """The text cannot be parsed; `diagnostic` says where and why."""

    def __init__(self, diagnostic: Diagnostic):
        super().__init__(f"{diagnostic.span}: {diagnostic.message}")
        self.diagnostic = diagnostic


@dataclass
class ParseResult:
    file: n.RuleFile
    diagnostics: list[Diagnostic] = field(default_factory=list)


# Comments are ignored by the grammar but kept for the formatter: the lexer hands them to
# whichever parse is running (a context variable, so concurrent parses don't mix them up).
_COMMENT_SINK: contextvars.ContextVar[list[Token]] = contextvars.ContextVar("ctr_comments")


def _collect_comment(tok: Token) -> Token:
    sink = _COMMENT_SINK.get(None)
    if sink is not None:
        sink.append(tok)
    return tok


LARK_OPTIONS: dict[str, Any] = {
    "parser": "lalr",
    "lexer": "contextual",
    "propagate_positions": True,
    "maybe_placeholders": False,
    "start": ["start", "path"],
}
"""How the parser is built from the grammar (scripts/build_parser.py builds the shipped tables
with the same options)."""

TABLES = "data/ctr_parser.json"
"""The LALR tables built from the grammar, shipped in the package (scripts/build_parser.py):
building them costs a tenth of a second on every cold start, and a Lambda or a fresh machine
has no cache to keep them in. JSON, not a pickle: loading it runs no code."""


def grammar_text() -> str:
    return resources.files("ctrules.grammar").joinpath("ctr.lark").read_text("utf-8")


def grammar_digest(grammar: str) -> str:
    return hashlib.sha256(grammar.encode()).hexdigest()


@functools.cache
def _lark() -> Lark:
    grammar = grammar_text()
    callbacks = {"COMMENT": _collect_comment}
    parser = shipped_parser(grammar, callbacks)
    if parser is None:  # the grammar was edited, or another Lark: build (tests flag this)
        parser = Lark(grammar, lexer_callbacks=callbacks, **LARK_OPTIONS)
    _read_examples_whole(parser)
    return parser


def shipped_parser(grammar: str, callbacks: dict[str, Any]) -> Lark | None:
    """The parser from the shipped tables, or None when they were not built from `grammar` by
    this version of Lark."""
    try:
        raw = resources.files("ctrules").joinpath(TABLES).read_bytes()
    except OSError:
        return None
    tables = json.loads(raw, object_pairs_hook=_int_keys)
    if tables.get("grammar_sha256") != grammar_digest(grammar) \
            or tables.get("lark") != lark_version():
        return None
    loaded: Lark = Lark._load_from_dict(  # type: ignore[no-untyped-call]
        tables["data"], tables["memo"], lexer_callbacks=callbacks)
    return loaded


def lark_version() -> str:
    import lark

    return str(lark.__version__)


def _int_keys(pairs: list[tuple[str, Any]]) -> dict[Any, Any]:
    # JSON keys are strings; the tables key states, tokens and memo entries by number.
    return {int(k) if k.isdigit() else k: v for k, v in pairs}


# ---- examples: JSON read whole ----------------------------------------------------------
# Examples are most of a rule file's text (whole CloudTrail records), and Lark reads them a
# token at a time. Where the parser expects an example's record, the lexer below gives it the
# whole record as one JSON_EXAMPLE token, decoded by the json module, whenever the text there
# is JSON that the grammar's own rules would read to the same value without a diagnostic;
# anything else (a comment inside, a trailing comma, a form feed, a bad escape, a huge string
# or number, deep nesting) is left to those rules, so every message stays what it was.

_JSON_SPACE = re.compile(r"[ \t\r\n]*")  # JSON's whitespace (the grammar's also has \f)
_LONG_NUMBER = re.compile("[-+.0-9eE]{" + str(MAX_NUMBER_CHARS + 1) + "}")
_MAX_EXAMPLE_DEPTH = 40
"""Deeper records take the grammar's rules, which say "nested too deeply" at some depth that
depends on the stack; CloudTrail records nest about ten levels."""


def _refuse(constant: str) -> Any:
    raise ValueError(constant)  # NaN and Infinity are not JSON to the grammar


_EXAMPLE_DECODER = json.JSONDecoder(parse_constant=_refuse)


def _read_examples_whole(parser: Lark) -> None:
    frontend = parser.parser
    table = frontend.parser._parse_table
    states = table.states
    frontend.lexer = _ExampleLexer(
        frontend.lexer,
        frozenset(s for s, actions in states.items() if "JSON_EXAMPLE" in actions),
        frozenset(s for s, actions in states.items() if "FAST_WHEN" in actions),
        states, table.end_states["start"])


class _ExampleLexer(Lexer):
    """Lark's contextual lexer, plus JSON_EXAMPLE (`_json_example`) and FAST_WHEN
    (`_fast_when`) tokens."""

    def __init__(self, contextual: Any, json_states: frozenset[int],
                 when_states: frozenset[int], states: dict[int, dict[str, Any]], end_state: int):
        self.contextual = contextual
        self.json_states = json_states
        self.when_states = when_states
        self.states = states
        self.end_state = end_state

    def lex(self, lexer_state: Any, parser_state: Any) -> Iterator[Token]:
        # ContextualLexer.lex, with the JSON_EXAMPLE and FAST_WHEN checks in front.
        contextual = self.contextual
        lexers = contextual.lexers
        json_states = self.json_states
        when_states = self.when_states
        try:
            while True:
                position = parser_state.position
                if position in json_states:
                    token = _json_example(lexer_state)
                    if token is not None:
                        yield token
                        continue
                elif position in when_states:
                    token = _fast_when(lexer_state, parser_state, self)
                    if token is not None:
                        yield token
                        continue
                yield lexers[position].next_token(lexer_state, parser_state)
        except EOFError:
            pass
        except UnexpectedCharacters as e:
            try:
                last_token = lexer_state.last_token
                token = contextual.root_lexer.next_token(lexer_state, parser_state)
                raise UnexpectedToken(  # type: ignore[no-untyped-call]
                    token, e.allowed, state=parser_state,
                    token_history=[last_token],
                    terminals_by_name=contextual.root_lexer.terminals_by_name)
            except UnexpectedCharacters:
                raise e from None


def _json_example(lexer_state: Any) -> Token | None:
    """The record (or list of records) at the lexer's position as one token whose `value` is
    the decoded JSON, or None when the grammar's rules must read it."""
    text = lexer_state.text
    source: str = getattr(text, "text", text)
    limit: int = getattr(text, "end", len(source))
    line_ctr = lexer_state.line_ctr
    start = _JSON_SPACE.match(source, line_ctr.char_pos).end()  # type: ignore[union-attr]
    if start >= limit or source[start] not in "{[":
        return None
    try:
        value, end = _EXAMPLE_DECODER.raw_decode(source, start)
    except (ValueError, RecursionError):
        return None
    if end > limit or end - start > MAX_STRING_CHARS or _LONG_NUMBER.search(source, start, end):
        return None  # the grammar reports a string or number that long
    if type(value) is list and not (value and all(type(v) is dict for v in value)):
        return None
    if not _shallow(value, _MAX_EXAMPLE_DEPTH):
        return None
    line_ctr.feed(source[line_ctr.char_pos:start])
    token = Token("JSON_EXAMPLE", source[start:end], start, line_ctr.line, line_ctr.column)
    line_ctr.feed(token)
    token.end_line = line_ctr.line
    token.end_column = line_ctr.column
    token.end_pos = line_ctr.char_pos
    token.value = value  # what example_prop takes
    lexer_state.last_token = token
    return token


# ---- a `when` that is one long chain -----------------------------------------------------

_WS = "[ \t\f\r\n]*"  # the grammar's whitespace (common.WS)
_CLAUSE = re.compile(
    r"([A-Za-z_][A-Za-z0-9_]*)"  # the path's head: a NAME
    r"((?:\.(?:[A-Za-z_][A-Za-z0-9_]*|[0-9]+(?![A-Za-z0-9_])))*)"  # .NAME / .INDEX segments
    + f"({_WS})(==|!=)({_WS})"
    + r'"([^"\\\x00-\x1f]*)"'  # a string without escapes or control characters
)
_SPACE = re.compile(_WS)
_JUNCTION = re.compile(f"({_WS})(and|or)(?![A-Za-z0-9_])({_WS})")
_SKIP = re.compile(r"(?:[ \t\f\r\n]+|#[^\n]*)*")  # whitespace and comments
_SPECIAL_HEADS = n.KEYWORDS | {"event"}
"""Heads that lex as another terminal or build another path (`it`, `rule`, `not`, `true`, ...,
`event.x`), or that the builder reports (a bare keyword)."""

# (head, segments, path start, line, column, path end, op, value, string start, line, column,
#  string end): enough to build the nodes with the spans the grammar's rules give them.
_Clause = tuple[str, tuple[str | int, ...], int, int, int, int, str, str, int, int, int, int]


def _fast_when(lexer_state: Any, parser_state: Any, lexer: _ExampleLexer) -> Token | None:
    """The `when` at the lexer's position as one FAST_WHEN token whose `value` is its clauses
    and junction, when it is a chain that `_Builder.fast_when` builds exactly as the grammar's
    rules would (and the token after it is one the parser accepts there); else None."""
    text = lexer_state.text
    source: str = getattr(text, "text", text)
    limit: int = getattr(text, "end", len(source))
    line_ctr = lexer_state.line_ctr
    pos = line_ctr.char_pos
    line, line_start = line_ctr.line, line_ctr.line_start_pos
    clauses: list[_Clause] = []
    junction = ""

    def skip(end: int) -> None:  # past whitespace up to `end`, counting lines
        nonlocal pos, line, line_start
        newlines = source.count("\n", pos, end)
        if newlines:
            line += newlines
            line_start = source.rindex("\n", pos, end) + 1
        pos = end

    space = _SPACE.match(source, pos, limit)
    assert space is not None
    skip(space.end())
    while True:
        m = _CLAUSE.match(source, pos, limit)
        if m is None:
            return None
        head, rest, value = m.group(1), m.group(2), m.group(6)
        segments: list[str | int] = [int(s) if s.isdigit() else s for s in rest.split(".")[1:]]
        if head in _SPECIAL_HEADS or len(value) > MAX_STRING_CHARS or any(
                type(s) is str and s.startswith("__") and s.endswith("__")
                for s in (head, *segments)):
            return None
        path_at = (m.start(1), line, m.start(1) - line_start + 1, m.end(2))
        skip(m.end(3))
        op = m.group(4)
        skip(m.start(6) - 1)
        clauses.append((head, tuple(segments), *path_at, op, value,
                        pos, line, pos - line_start + 1, m.end(6) + 1))
        pos = m.end(6) + 1
        j = _JUNCTION.match(source, pos, limit)
        if j is None or (junction and j.group(2) != junction):
            break  # a mixed chain ends here, and the check below sends it the slow way
        after_space = j.end(1)
        following = _CLAUSE.match(source, j.end(), limit)
        if following is None:
            break
        junction = j.group(2)
        skip(after_space)
        skip(j.end())
    if len(clauses) < 2:
        return None
    end = clauses[-1][-1]
    if not _accepts_after_when(lexer, parser_state, source, end, limit):
        return None
    first = clauses[0]
    token = Token("FAST_WHEN", source[first[2]:end], first[2], first[3], first[4])
    line_ctr.feed(source[line_ctr.char_pos:end])
    token.end_line = line_ctr.line
    token.end_column = line_ctr.column
    token.end_pos = line_ctr.char_pos
    token.value = (junction, clauses)
    lexer_state.last_token = token
    return token


def _accepts_after_when(lexer: _ExampleLexer, parser_state: Any, source: str, end: int,
                        limit: int) -> bool:
    """Whether the parser, given FAST_WHEN here, accepts the token that follows (so that an
    error there, with its expected set, is reported by the grammar's own rules)."""
    at = _SKIP.match(source, end, limit)
    assert at is not None
    if at.end() >= limit:
        follow = "$END"
    else:
        found = lexer.contextual.root_lexer.match(lexer_state_text(source, limit), at.end())
        if not found:
            return False
        follow = found[1]
    states, end_state = lexer.states, lexer.end_state
    stack = list(parser_state.state_stack)
    for kind in ("FAST_WHEN", follow):
        while True:
            action = states[stack[-1]].get(kind)
            if action is None:
                return False
            what, arg = action
            if what is Shift:
                stack.append(arg)
                break
            if arg.expansion:
                del stack[-len(arg.expansion):]
            stack.append(states[stack[-1]][arg.origin.name][1])
            if kind == "$END" and stack[-1] == end_state:
                return True
    return True


def lexer_state_text(source: str, limit: int) -> Any:
    try:
        from lark.utils import TextSlice
    except ImportError:  # Lark before 1.2 matched on the string itself
        return source
    return TextSlice(source, 0, limit)


def _shallow(value: Any, limit: int) -> bool:
    """Whether `value` nests at most `limit` objects and arrays deep."""
    level = [value]
    for _ in range(limit):
        below = []
        for container in level:
            for child in container.values() if type(container) is dict else container:
                kind = type(child)
                if kind is dict or kind is list:
                    below.append(child)
        if not below:
            return True
        level = below
    return False


def parse(text: str, filename: str = "<string>") -> ParseResult:
    """Parse one file. Raises CtrSyntaxError when the text is not valid `.ctr`."""
    if text.startswith("\ufeff"):
        span = n.Span(filename, 1, 1, 1, 2, 0, 1)
        raise CtrSyntaxError(Diagnostic(SYNTAX_ERROR, "error",
                                        "the file starts with a byte-order mark (U+FEFF)", span,
                                        "save the file as UTF-8 without a BOM"))
    comments: list[n.Comment] = []
    with gc_paused():
        tree = _run_lark(text, filename, "start", comments)
        builder = _Builder(filename)
        decls = _transform(builder, tree, text, filename)
    rule_file = n.RuleFile(path=filename, decls=tuple(decls), comments=tuple(comments))
    return ParseResult(rule_file, [*_bidi_controls(text, filename), *builder.diagnostics])


def _bidi_controls(text: str, filename: str) -> list[Diagnostic]:
    out = []
    for found in _BIDI.finditer(text):
        line, col = line_col(text, found.start())
        span = n.Span(filename, line, col, line, col + 1, found.start(), found.end())
        out.append(Diagnostic(
            BIDI_CONTROL, "error",
            f"a bidirectional control character ({_describe_char(found.group())}) can make "
            "the text display differently from what it means", span,
            "delete it; write the character as a \\u escape inside a string if it is meant"))
    return out


def line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of `offset`, counting lines as Lark does: only "\\n" ends one
    (a form feed, U+2028 or U+0085 in a comment does not)."""
    line_start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - line_start + 1


def _describe_char(ch: str) -> str:
    return f"U+{ord(ch):04X} {unicodedata.name(ch, 'unnamed character')}"


def parse_path(text: str, filename: str = "<string>", line: int = 1, col: int = 1) -> n.Path:
    """Parse a field path as written in a template placeholder (`{userIdentity.arn}`)."""
    tree = _run_lark(text, filename, "path", None, line_offset=line - 1, col_offset=col - 1)
    builder = _Builder(filename, line_offset=line - 1, col_offset=col - 1)
    path = _transform(builder, tree, text, filename)
    assert isinstance(path, n.Path)
    return path


def _transform(builder: _Builder, tree: Any, text: str, filename: str) -> Any:
    try:
        return builder.transform(tree)
    except VisitError as err:
        if isinstance(err.orig_exc, CtrSyntaxError):
            raise err.orig_exc from None
        if isinstance(err.orig_exc, RecursionError):
            raise _too_deep(text, filename) from None
        raise
    except RecursionError:
        raise _too_deep(text, filename) from None


def _too_deep(text: str, filename: str) -> CtrSyntaxError:
    # The grammar is LALR (no recursion) but building the tree is; a file nested hundreds of
    # levels deep is not a rule anyone means to write.
    first = text.split("\n", 1)[0]
    span = n.Span(filename, 1, 1, 1, 1 + min(len(first), 1))
    return CtrSyntaxError(Diagnostic(TOO_DEEP, "error", "expression nested too deeply", span,
                                     "split it with macros"))


def _run_lark(
    text: str,
    filename: str,
    start: str,
    comments: list[n.Comment] | None,
    line_offset: int = 0,
    col_offset: int = 0,
) -> Any:
    parser = _lark()
    collected: list[Token] = []
    token = _COMMENT_SINK.set(collected)
    try:
        result = parser.parse(text, start=start)
    except RecursionError:
        raise _too_deep(text, filename) from None
    except UnexpectedInput as err:
        diagnostic = _syntax_diagnostic(err, text, filename, line_offset, col_offset)
        raise CtrSyntaxError(diagnostic) from None
    finally:
        _COMMENT_SINK.reset(token)
    if comments is not None:
        for tok in collected:
            comments.append(_comment(text, filename, tok))
    return result


def _comment(text: str, filename: str, tok: Token) -> n.Comment:
    """A comment with the layout around it that the formatter keeps: whether it has a line of
    its own, and whether a blank line follows."""
    start = tok.start_pos or 0
    line_start = text.rfind("\n", 0, start) + 1
    next_line = text.find("\n", start)
    blank_after = False
    if next_line >= 0:
        after = text.find("\n", next_line + 1)
        blank_after = text[next_line + 1 : after if after >= 0 else len(text)].strip() == ""
    return n.Comment(str(tok).rstrip(), _token_span(filename, tok),
                     own_line=text[line_start:start].strip() == "", blank_after=blank_after)


def _token_span(filename: str, tok: Token, line_offset: int = 0, col_offset: int = 0) -> n.Span:
    line = (tok.line or 1) + line_offset
    end_line = (tok.end_line or tok.line or 1) + line_offset
    col = (tok.column or 1) + (col_offset if tok.line == 1 else 0)
    end_col = (tok.end_column or col) + (col_offset if tok.end_line == 1 else 0)
    return n.Span(filename, line, col, end_line, end_col, tok.start_pos or 0, tok.end_pos or 0)


# ---- syntax errors ----------------------------------------------------------------------

_TOKEN_NAMES = {
    "NAME": "a name",
    "STRING": "a string",
    "RAW_STRING": "a raw string",
    "NUMBER": "a number",
    "INDEX": "an array index",
    "QUOTED_NAME": "a `quoted` name",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "LSQB": "'['",
    "RSQB": "']'",
    "LPAR": "'('",
    "RPAR": "')'",
    "COMMA": "','",
    "DOT": "'.'",
    "EQUAL": "'='",
    "COLON": "':'",
    "EQ": "'=='",
    "NE": "'!='",
    "$END": "end of file",
}


def _describe_expected(expected: set[str]) -> str:
    names = sorted({_TOKEN_NAMES.get(e, repr(e.lower())) for e in expected})
    if len(names) > 8:
        return ", ".join(names[:8]) + ", ..."
    return ", ".join(names)


def _syntax_diagnostic(
    err: UnexpectedInput, text: str, filename: str, line_offset: int, col_offset: int
) -> Diagnostic:
    line = getattr(err, "line", None) or 1
    col = getattr(err, "column", None) or 1
    lines = text.split("\n")  # as Lark counts lines (not str.splitlines)
    if isinstance(err, UnexpectedEOF) or line < 1:
        if len(lines) > 1 and lines[-1] == "":
            lines.pop()
        line, col = len(lines), len(lines[-1]) + 1
    src_line = lines[line - 1] if 0 < line <= len(lines) else ""
    rest = src_line[col - 1 :]
    token = getattr(err, "token", None)
    found = str(token) if token is not None else rest[:1]
    width = max(1, len(found)) if found and token is not None else 1
    expected: set[str] = set(getattr(err, "expected", None) or getattr(err, "allowed", None) or ())
    # Made by our lexer only where the grammar's own tokens are expected too.
    expected.difference_update(("JSON_EXAMPLE", "FAST_WHEN"))
    message, hint = _explain(err, rest, found, expected, text, line)
    abs_col = col + (col_offset if line == 1 else 0)
    span = n.Span(
        filename, line + line_offset, abs_col, line + line_offset, abs_col + width,
        getattr(err, "pos_in_stream", 0) or 0, (getattr(err, "pos_in_stream", 0) or 0) + width,
    )
    return Diagnostic(SYNTAX_ERROR, "error", message, span, hint)


_PY_WORDS = {"lambda", "import", "__import__", "def", "class", "eval", "exec", "is", "if", "else"}


def _explain(
    err: UnexpectedInput, rest: str, found: str, expected: set[str], text: str, line: int
) -> tuple[str, str | None]:
    """A message and a hint for the mistakes people actually make."""
    tok_type = getattr(getattr(err, "token", None), "type", "")
    if isinstance(err, UnexpectedEOF) or tok_type == "$END":
        return "unexpected end of file", "a block may be missing its closing '}' or a ')' ']'"
    if isinstance(err, UnexpectedCharacters):
        ch = rest[:1]
        if ch == '"' or rest.startswith('r"'):
            return "unclosed string", 'close the string with " on the same line'
        if ch == "=":
            return "unexpected '='", "use '==' to compare"
        if ch == "'":
            return "single quotes are not strings", 'use double quotes: "value"'
        if ch == "&" or ch == "|":
            return f"unexpected {ch!r}", "use 'and' / 'or'"
        if ch == "!":
            return "unexpected '!'", "use 'not' or '!='"
        if ch == "`":
            return "unclosed `quoted` name", "close it with a backtick on the same line"
        if ch and ord(ch) > 127:
            return _explain_non_ascii(ch)
        return f"unexpected character {ch!r}", None
    before = _word_before(text, getattr(err, "pos_in_stream", None))
    if before in _PY_WORDS or found in _PY_WORDS:
        word = before if before in _PY_WORDS else found
        return f"{word!r} is not part of the rule language", "rules are not Python"
    if found == "[" and "DOT" in expected:
        return (
            "unexpected '['",
            "paths are dotted, not subscripted: write eventName or "
            "requestParameters.`x-amz-acl`, and resources.0.ARN for an index",
        )
    if found == "(":
        return (
            "unexpected '(' after a path",
            "methods do not exist; write `x startswith \"...\"`, `x contains \"...\"`, "
            "`x exists`; functions are lower(), upper(), len() and cidr()",
        )
    if found == "=":
        return "unexpected '='", "use '==' to compare"
    if "WHEN" in expected and tok_type not in ("RBRACE",):
        return (
            f"unexpected {found!r} where a property was expected",
            "did you forget `when` before the condition?",
        )
    return f"unexpected {found!r}; expected {_describe_expected(expected)}", None


# Letters that look like ASCII ones (Unicode's confusables for the Latin alphabet, the common
# part): a pasted `eventNаme` with a Cyrillic `а` otherwise just says "unexpected character".
_LOOK_ALIKES = {
    **dict(zip("аеорсухіјѕԁԛԝАВЕКМНОРСТХІЈЅ", "aeopcyxijsdqwABEKMHOPCTXIJS", strict=True)),
    **dict(zip("αβεικνορτυχΑΒΕΖΗΙΚΜΝΟΡΤΥΧ", "aBeiKvopTuxABEZHIKMNOPTYX", strict=True)),
    "ı": "i", "ℓ": "l", "ǀ": "l", "\u2010": "-", "\u2212": "-",
}


def _explain_non_ascii(ch: str) -> tuple[str, str | None]:
    if _BIDI.match(ch):
        return (f"a bidirectional control character ({_describe_char(ch)})",
                "delete it: it makes the text display differently from what it means")
    if ch == "\ufeff":
        return (f"a byte-order mark ({_describe_char(ch)}) in the middle of the file",
                "delete it (some editors insert it when files are concatenated)")
    ascii_twin = _LOOK_ALIKES.get(ch) or unicodedata.normalize("NFKD", ch)[:1]
    if ascii_twin and ascii_twin.isascii() and ascii_twin.isprintable():
        return (f"{ch!r} ({_describe_char(ch)}) looks like {ascii_twin!r} but is not ASCII",
                f"retype it as the ASCII {ascii_twin!r}; names and keywords are ASCII")
    if ch.isspace():
        return (f"unexpected {_describe_char(ch)}", "use ordinary spaces and newlines")
    return (f"unexpected character {ch!r} ({_describe_char(ch)})",
            "names are ASCII letters, digits and _; a field with other characters is written "
            "in backticks: `name`")


_WORD_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


def _word_before(text: str, pos: int | None) -> str:
    """The name (`[A-Za-z_][A-Za-z0-9_]*`) that ends just before `pos`, whitespace aside. A
    backwards scan: a regex ending in `\\s*$` searched from every position of a long run of word
    characters (a 64 KB string before the error) took quadratic time."""
    if pos is None:
        return ""
    head = text[:pos].rstrip()
    start = len(head)
    while start and head[start - 1] in _WORD_CHARS:
        start -= 1
    return head[start:].lstrip("0123456789")


# ---- tree → AST -------------------------------------------------------------------------


def _meta_span(filename: str, meta: Meta, line_offset: int = 0, col_offset: int = 0) -> n.Span:
    if getattr(meta, "empty", True):
        return n.Span(filename, 1 + line_offset, 1, 1 + line_offset, 1)
    col = meta.column + (col_offset if meta.line == 1 else 0)
    end_col = meta.end_column + (col_offset if meta.end_line == 1 else 0)
    return n.Span(
        filename, meta.line + line_offset, col, meta.end_line + line_offset, end_col,
        meta.start_pos, meta.end_pos,
    )


_JSON_DECODER = json.JSONDecoder()
_Prop = tuple[str, Any, n.Span, n.Span]
_CONTROL = re.compile("[\x00-\x1f]")  # JSON strings may not hold these unescaped


@v_args(meta=True)
class _Builder(Transformer[Token, Any]):
    def __init__(self, filename: str, line_offset: int = 0, col_offset: int = 0):
        super().__init__(visit_tokens=False)  # no token callbacks: tokens pass as they are
        self.filename = filename
        self.line_offset = line_offset
        self.col_offset = col_offset
        self.diagnostics: list[Diagnostic] = []

    def _call_userfunc(self, tree: Any, new_children: list[Any] | None = None) -> Any:
        # Transformer._call_userfunc without its per-call lookups and `v_args` wrapper objects
        # (a third of the transform of a long `or`); same recursion, same VisitError.
        method = _BUILD.get(tree.data)
        if method is None:
            return super()._call_userfunc(tree, new_children)  # type: ignore[no-untyped-call]
        try:
            return method(self, tree.meta, tree.children if new_children is None else new_children)
        except GrammarError:
            raise
        except Exception as e:
            raise VisitError(tree.data, tree, e) from e  # type: ignore[no-untyped-call]

    # helpers
    def _span(self, meta: Meta) -> n.Span:
        return _meta_span(self.filename, meta, self.line_offset, self.col_offset)

    def _tspan(self, tok: Token) -> n.Span:
        return _token_span(self.filename, tok, self.line_offset, self.col_offset)

    def _fail(self, span: n.Span | None, message: str, hint: str | None = None) -> CtrSyntaxError:
        where = span or _nospan(self.filename)
        return CtrSyntaxError(Diagnostic(SYNTAX_ERROR, "error", message, where, hint))

    def _bound_string(self, tok: Token, raw: str) -> None:
        if len(raw) - 2 > MAX_STRING_CHARS:
            self._note(TOO_LARGE, self._tspan(tok),
                       f"a string of {len(raw) - 2:,} characters (the limit is "
                       f"{MAX_STRING_CHARS:,})", "rules match patterns, not documents")

    def _number(self, tok: Token) -> int | float:
        raw = str(tok)
        if len(raw) > MAX_NUMBER_CHARS:
            self._note(TOO_LARGE, self._tspan(tok),
                       f"a number of {len(raw):,} characters (the limit is "
                       f"{MAX_NUMBER_CHARS:,})", "CloudTrail numbers have at most 20 digits")
            return 0
        return float(raw) if any(ch in raw for ch in ".eE") else int(raw)

    def _note(self, code: str, span: n.Span, message: str, hint: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(code, "error", message, span, hint))

    def _string(self, tok: Token) -> str:
        raw = str(tok)
        self._bound_string(tok, raw)
        control = _CONTROL.search(raw)
        if control is not None:
            span = self._tspan(tok)
            at = n.Span(span.file, span.line, span.col + control.start(), span.line,
                        span.col + control.start() + 1, span.start + control.start(),
                        span.start + control.start() + 1)
            ch = control.group()
            what = "a tab" if ch == "\t" else f"a control character ({_describe_char(ch)})"
            escape = "\\t" if ch == "\t" else f"\\u{ord(ch):04x}"
            raise self._fail(at, f"{what} inside a string", f"write it as the escape {escape}")
        try:
            value = _JSON_DECODER.decode(raw)
        except json.JSONDecodeError as exc:
            raise self._fail(self._tspan(tok), f"invalid string escape: {exc.msg}",
                             'strings use JSON escapes; write r"..." for a regex') from None
        assert isinstance(value, str)
        return value

    # ---- file and declarations ----
    def start(self, meta: Meta, children: list[Any]) -> list[n.Decl]:
        return children

    def list_decl(self, meta: Meta, children: list[Any]) -> n.ListDecl:
        name, items = children
        self._check_decl_name(name)
        return n.ListDecl(str(name), items, self._span(meta), self._tspan(name))

    def macro_decl(self, meta: Meta, children: list[Any]) -> n.MacroDecl:
        name, expr = children
        self._check_decl_name(name)
        return n.MacroDecl(str(name), expr, self._span(meta), self._tspan(name))

    def _check_decl_name(self, tok: Token) -> None:
        if str(tok) in n.KEYWORDS:
            raise self._fail(self._tspan(tok), f"{str(tok)!r} is a keyword and cannot be declared")

    def _props(self, meta: Meta, kind: str, name: Token, props: list[Any]) -> dict[str, Any]:
        self._check_decl_name(name)
        seen: dict[str, Any] = {}
        examples: list[n.Example] = []
        # A state clause is written (and printed) under its own keyword: `count`, `sequence`, ...
        written = tuple(n.PropSpan(value.kind if prop == "stateful" else prop, span, whole)
                        for prop, value, span, whole in props)
        for prop, value, span, _whole in props:
            if prop == "example":
                examples.append(value)
                continue
            if prop == "stateful":
                continue  # rule_decl keeps the first and reports the others
            if prop in seen:
                self._note(DUPLICATE_PROPERTY, span, f"{kind} {name}: '{prop}' is given twice")
                continue
            seen[prop] = (value, span)
        seen["example"] = (tuple(examples), None)
        seen["\0props"] = (written, None)
        if "when" not in seen:
            self._note(MISSING_PROPERTY, self._tspan(name), f"{kind} {name} has no 'when'")
        return seen

    def rule_decl(self, meta: Meta, children: list[Any]) -> n.RuleDecl:
        name, *props = children
        p = self._props(meta, "rule", name, props)

        def get(key: str, default: Any = None) -> Any:
            return p[key][0] if key in p else default

        return n.RuleDecl(
            name=str(name),
            when=get("when"),
            severity=get("severity", "medium"),
            description=get("description"),
            summary=get("summary"),
            tags=get("tags", ()),
            enabled=get("enabled", True),
            group_by=get("group_by"),
            examples=get("example", ()),
            span=self._span(meta),
            severity_given="severity" in p,
            stateful=self._one_stateful(name, props),
            name_span=self._tspan(name),
            props=get("\0props"),
        )

    def ignore_decl(self, meta: Meta, children: list[Any]) -> n.IgnoreDecl:
        name, *props = children
        p = self._props(meta, "ignore", name, props)
        if "reason" not in p:
            self._note(MISSING_PROPERTY, self._tspan(name), f"ignore {name} has no 'reason'")
        rules = p.get("rules", (None, None))[0]
        return n.IgnoreDecl(
            name=str(name),
            when=p.get("when", (None,))[0],
            reason=p.get("reason", (None,))[0],
            owner=p.get("owner", (None,))[0],
            expires=p.get("expires", (None,))[0],
            rules=tuple(r for r, _ in rules) if rules is not None else None,
            span=self._span(meta),
            rule_spans=tuple(s for _, s in rules) if rules is not None else (),
            name_span=self._tspan(name),
            props=p["\0props"][0],
        )

    def route_decl(self, meta: Meta, children: list[Any]) -> n.RouteDecl:
        name, *props = children
        p = self._props(meta, "route", name, props)
        if "to" not in p:
            self._note(MISSING_PROPERTY, self._tspan(name), f"route {name} has no 'to'")
        to, to_is_list = p.get("to", (((), False), None))[0]
        return n.RouteDecl(str(name), p.get("when", (None,))[0], to, to_is_list, self._span(meta),
                           self._tspan(name), p["\0props"][0])

    # ---- properties: each returns (name, value, span of the keyword, span of it all) ----
    def when_prop(self, meta: Meta, c: list[Any]) -> _Prop:
        when = self._fast_when(c[1]) if isinstance(c[1], Token) else c[1]
        return ("when", when, self._tspan(c[0]), self._span(meta))

    def _fast_when(self, token: Token) -> n.Expr:
        """The nodes of a FAST_WHEN chain (`_fast_when`), as `path`, `literal`, `compare`
        and `or_expr`/`and_expr` build them from the same text."""
        junction, clauses = token.value
        lo, co, file = self.line_offset, self.col_offset, self.filename

        def span(line: int, col: int, end_line: int, end_col: int, start: int,
                 end: int) -> n.Span:
            return n.Span(file, line + lo, col + (co if line == 1 else 0), end_line + lo,
                          end_col + (co if end_line == 1 else 0), start, end)

        operands: list[n.Expr] = []
        for (head, segments, p_start, p_line, p_col, p_end, op, value,
             s_start, s_line, s_col, s_end) in clauses:
            path = n.Path((head, *segments), "rel",
                          span(p_line, p_col, p_line, p_col + p_end - p_start, p_start, p_end),
                          quoted=(False,) * (1 + len(segments)))
            literal = n.Literal_(value, False, span(s_line, s_col, s_line,
                                                    s_col + s_end - s_start, s_start, s_end))
            operands.append(n.Compare(op, path, literal, span(
                p_line, p_col, s_line, s_col + s_end - s_start, p_start, s_end)))
        first, last = clauses[0], clauses[-1]
        whole = span(first[3], first[4], last[9], last[10] + last[11] - last[8], first[2],
                     last[11])
        return n.Or(tuple(operands), whole) if junction == "or" else n.And(tuple(operands), whole)

    def severity_prop(self, meta: Meta, c: list[Any]) -> _Prop:
        value = str(c[1])
        if value not in n.SEVERITIES:
            self._note(INVALID_VALUE, self._tspan(c[1]), f"unknown severity {value!r}",
                       "one of " + ", ".join(n.SEVERITIES))
            value = "medium"
        return ("severity", value, self._tspan(c[0]), self._span(meta))

    def _text_prop(self, meta: Meta, name: str, c: list[Any]) -> _Prop:
        return (name, c[1], self._tspan(c[0]), self._span(meta))

    def description_prop(self, meta: Meta, c: list[Any]) -> _Prop:
        return self._text_prop(meta, "description", c)

    def summary_prop(self, meta: Meta, c: list[Any]) -> _Prop:
        return self._text_prop(meta, "summary", c)

    def reason_prop(self, meta: Meta, c: list[Any]) -> _Prop:
        return self._text_prop(meta, "reason", c)

    def owner_prop(self, meta: Meta, c: list[Any]) -> _Prop:
        return self._text_prop(meta, "owner", c)

    def expires_prop(self, meta: Meta, c: list[Any]) -> _Prop:
        return self._text_prop(meta, "expires", c)

    def _strings(self, items: n.ListLit, what: str) -> tuple[str, ...]:
        out = []
        for item in items.items:
            if isinstance(item, n.Literal_) and isinstance(item.value, str):
                out.append(item.value)
            else:
                self._note(INVALID_VALUE, item.span or items.span or _nospan(self.filename),
                           f"{what} must be strings")
        return tuple(out)

    def tags_prop(self, meta: Meta, c: list[Any]) -> _Prop:
        return ("tags", self._strings(c[1], "tags"), self._tspan(c[0]), self._span(meta))

    def enabled_prop(self, meta: Meta, c: list[Any]) -> _Prop:
        return ("enabled", str(c[1]) == "true", self._tspan(c[0]), self._span(meta))

    def group_by_prop(self, meta: Meta, c: list[Any]) -> _Prop:
        return ("group_by", tuple(c[1:]), self._tspan(c[0]), self._span(meta))

    def rules_prop(self, meta: Meta, c: list[Any]) -> _Prop:
        names = tuple((str(t), self._tspan(t)) for t in c[1:])
        return ("rules", names, self._tspan(c[0]), self._span(meta))

    def to_prop(self, meta: Meta, c: list[Any]) -> _Prop:
        value = c[1]
        if isinstance(value, n.Text):
            return ("to", ((value.value,), False), self._tspan(c[0]), self._span(meta))
        destinations = self._strings(value, "destinations")
        return ("to", (destinations, True), self._tspan(c[0]), self._span(meta))

    def verdict_match(self, meta: Meta, c: list[Any]) -> bool:
        return True

    def verdict_no_match(self, meta: Meta, c: list[Any]) -> bool:
        return False

    def json_records(self, meta: Meta, c: list[Any]) -> list[dict[str, Any]]:
        return list(c)

    # ---- stateful rules: each returns ("stateful", Stateful, keyword span, whole span) ----
    def _one_stateful(self, name: Token, props: list[Any]) -> n.Stateful | None:
        found = [(value, span) for prop, value, span, _whole in props if prop == "stateful"]
        for value, span in found[1:]:
            self._note(DUPLICATE_PROPERTY, span,
                       f"rule {name}: a rule takes one of count, distinct, first_seen and "
                       f"sequence ('{value.kind}' is a second one)")
        return found[0][0] if found else None

    def by_clause(self, meta: Meta, c: list[Any]) -> tuple[n.Path, ...]:
        return tuple(c[1:])

    def _duration(self, tok: Token) -> n.Duration:
        text = str(tok)
        return n.Duration(int(text[:-1]) * n.DURATION_UNITS[text[-1]], text, self._tspan(tok))

    def _threshold(self, tok: Token) -> int:
        raw = str(tok)
        if not re.fullmatch(r"[0-9]+", raw):
            self._note(INVALID_VALUE, self._tspan(tok),
                       f"a threshold is a whole number of events, not {raw}")
            return 1
        return int(raw)

    @staticmethod
    def _split(c: list[Any]) -> tuple[tuple[n.Path, ...], list[Any]]:
        key: tuple[n.Path, ...] = ()
        rest = []
        for item in c:
            if isinstance(item, tuple):
                key = item
            else:
                rest.append(item)
        return key, rest

    def count_prop(self, meta: Meta, c: list[Any]) -> _Prop:
        key, (kw, _ge, number, _within, duration) = self._split(c)
        spec = n.Stateful("count", key, self._duration(duration),
                          threshold=self._threshold(number),
                          threshold_span=self._tspan(number), span=self._span(meta))
        return ("stateful", spec, self._tspan(kw), self._span(meta))

    def distinct_prop(self, meta: Meta, c: list[Any]) -> _Prop:
        key, (kw, value, _ge, number, _within, duration) = self._split(c)
        spec = n.Stateful("distinct", key, self._duration(duration), value=value,
                          threshold=self._threshold(number),
                          threshold_span=self._tspan(number), span=self._span(meta))
        return ("stateful", spec, self._tspan(kw), self._span(meta))

    def first_seen_prop(self, meta: Meta, c: list[Any]) -> _Prop:
        key, rest = self._split(c)
        kw, *middle, _within, duration = rest
        value = middle[0] if middle else None
        spec = n.Stateful("first_seen", key, self._duration(duration), value=value,
                          span=self._span(meta))
        return ("stateful", spec, self._tspan(kw), self._span(meta))

    def sequence_step(self, meta: Meta, c: list[Any]) -> n.Expr:
        return c[1]  # type: ignore[no-any-return]

    def sequence_prop(self, meta: Meta, c: list[Any]) -> _Prop:
        kw, *rest = c
        key: tuple[n.Path, ...] = ()
        if rest and isinstance(rest[0], tuple):
            key, rest = rest[0], rest[1:]
        _within, duration, *steps = rest
        spec = n.Stateful("sequence", key, self._duration(duration), steps=tuple(steps),
                          span=self._span(meta))
        return ("stateful", spec, self._tspan(kw), self._span(meta))

    def example_prop(self, meta: Meta, c: list[Any]) -> _Prop:
        kw, name, verdict, event, *rest = c
        if isinstance(event, Token):  # JSON_EXAMPLE: decoded by the lexer
            event = event.value
        routes = self._strings(rest[1], "routes") if rest else None
        example = n.Example(name.value, verdict, event, routes, self._span(meta))
        return ("example", example, self._tspan(kw), self._span(meta))

    # ---- expressions ----
    def or_expr(self, meta: Meta, c: list[Any]) -> n.Or:
        return n.Or(_flatten(n.Or, c), self._span(meta))

    def and_expr(self, meta: Meta, c: list[Any]) -> n.And:
        return n.And(_flatten(n.And, c), self._span(meta))

    def not_expr(self, meta: Meta, c: list[Any]) -> n.Not:
        return n.Not(c[1], self._span(meta))

    def quantifier(self, meta: Meta, c: list[Any]) -> n.Quantifier:
        kind, path, body = c
        if path.anchor == "rule":
            raise self._fail(path.span, "any/all need a path of the record")
        return n.Quantifier(str(kind), path, body, self._span(meta))  # type: ignore[arg-type]

    def condition(self, meta: Meta, c: list[Any]) -> n.Expr:
        (operand,) = c
        span = self._span(meta)
        if isinstance(operand, n.Path) and operand.is_bare_name():
            return n.MacroRef(str(operand.segments[0]), span)
        if isinstance(operand, n.Literal_) and isinstance(operand.value, bool):
            return n.BoolConst(operand.value, span)
        if isinstance(operand, n.Call):
            if operand.name not in n.FUNCTIONS and operand.name != "cidr":
                raise self._fail(span, f"unknown function {operand.name!r}",
                                 "rules are not Python; the functions are lower(), upper(), "
                                 "len() and cidr()")
            raise self._fail(span, "a function call is not a condition",
                             f"compare it: `{operand.name}(...) == ...`")
        if isinstance(operand, n.Path):
            raise self._fail(
                span, "a path is not a condition (there is no truthiness)",
                f"compare it: `{operand.dotted()} == true`, `{operand.dotted()} exists`",
            )
        raise self._fail(span, "this is a value, not a condition", "compare it with ==, in, ...")

    def _left(self, operand: Any, span: n.Span) -> n.Operand:
        if isinstance(operand, (n.Literal_, n.ListLit)):
            raise self._fail(operand.span or span, "the left side of a comparison must be a path",
                             "write the path first: `eventName == \"X\"`")
        if isinstance(operand, n.Call) and operand.name == "cidr":
            raise self._fail(operand.span or span, "cidr(...) is only valid after 'in'/'not in'")
        return operand  # type: ignore[no-any-return]

    def _right(self, operand: Any) -> n.Operand:
        if isinstance(operand, n.Call):
            raise self._fail(operand.span, "a function call cannot be on the right side",
                             "functions apply to the left side; cidr(...) only after 'in'")
        return operand  # type: ignore[no-any-return]

    def compare(self, meta: Meta, c: list[Any]) -> n.Compare:
        left, op, right = c
        span = self._span(meta)
        right = self._right(right)
        if (isinstance(left, n.Path) and left.anchor == "rule" and left.segments == ("severity",)
                and isinstance(right, n.Path) and right.anchor == "rel"
                and len(right.segments) == 1 and right.segments[0] in n.SEVERITY_RANK):
            right = n.Literal_(right.segments[0], span=right.span)
        return n.Compare(str(op), self._left(left, span), right, span)  # type: ignore[arg-type]

    def _in_right(self, right: Any) -> n.Operand:
        if isinstance(right, n.Call) and right.name != "cidr":
            raise self._fail(right.span, "only a list, a list name or cidr(...) can follow 'in'")
        return right  # type: ignore[no-any-return]

    def in_test(self, meta: Meta, c: list[Any]) -> n.InTest:
        left, right = c
        span = self._span(meta)
        return n.InTest(self._left(left, span), self._in_right(right), False, span)

    def not_in_test(self, meta: Meta, c: list[Any]) -> n.InTest:
        left, _not, right = c
        span = self._span(meta)
        return n.InTest(self._left(left, span), self._in_right(right), True, span)

    def string_test(self, meta: Meta, c: list[Any]) -> n.StringTest:
        left, op, right = c
        span = self._span(meta)
        return n.StringTest(str(op), self._left(left, span), self._right(right), span)  # type: ignore[arg-type]

    def matches_test(self, meta: Meta, c: list[Any]) -> n.Matches:
        left, _kw, pattern = c
        span = self._span(meta)
        lit = n.Literal_(pattern.value, pattern.raw, pattern.span)
        return n.Matches(self._left(left, span), lit, span)

    def glob_test(self, meta: Meta, c: list[Any]) -> n.Glob:
        left, _kw, pattern = c
        span = self._span(meta)
        lit = n.Literal_(pattern.value, pattern.raw, pattern.span)
        return n.Glob(self._left(left, span), lit, span)

    def exists_test(self, meta: Meta, c: list[Any]) -> n.Exists:
        left, _kw = c
        span = self._span(meta)
        if not isinstance(left, n.Path):
            raise self._fail(span, "'exists' applies to a path",
                             "write `requestParameters.x exists`")
        return n.Exists(left, span)

    def literal_operand(self, meta: Meta, c: list[Any]) -> Any:
        return c[0]

    def call(self, meta: Meta, c: list[Any]) -> n.Call:
        name_tok, *args = c
        name = str(name_tok)
        span = self._span(meta)
        if name == "cidr":
            if not args:
                self._note(BAD_CALL, span, "cidr() needs at least one CIDR string")
            for a in args:
                if not (isinstance(a, n.Literal_) and isinstance(a.value, str)):
                    self._note(BAD_CALL, getattr(a, "span", None) or span,
                               "cidr() takes CIDR strings such as \"10.0.0.0/8\"")
        elif name in n.FUNCTIONS:
            if len(args) != n.FUNCTIONS[name]:
                self._note(BAD_CALL, span,
                           f"{name}() takes {n.FUNCTIONS[name]} argument, got {len(args)}")
            for a in args:
                if isinstance(a, (n.Literal_, n.ListLit)):
                    self._note(BAD_CALL, a.span or span,
                               f"{name}() applies to a path, not a literal")
        else:
            self._note(UNKNOWN_FUNCTION, self._tspan(name_tok), f"unknown function {name!r}",
                       "the functions are lower(), upper(), len() and cidr() after 'in'")
        return n.Call(name, tuple(args), span)

    def path(self, meta: Meta, c: list[Any]) -> n.Path:
        span = self._span(meta)
        head, *rest = c
        quoted = tuple(tok.type == "QUOTED_NAME" for tok in rest)
        segments: list[str | int] = []
        for tok in rest:
            if tok.type == "INDEX":
                segments.append(int(str(tok)))
            elif tok.type == "QUOTED_NAME":
                segments.append(str(tok)[1:-1])
            else:
                segments.append(str(tok))
        head_text = str(head)
        for tok in (head, *rest):
            if tok.type == "NAME" and str(tok).startswith("__") and str(tok).endswith("__"):
                raise self._fail(self._tspan(tok), f"{str(tok)!r} looks like Python, not a field",
                                 "rules are not Python; backtick a field with this name")
        if head.type == "IT":
            return n.Path(tuple(segments), "rel" if segments else "it", span,
                          written_it=bool(segments), quoted=quoted)
        if head.type == "RULE":
            if not segments:
                raise self._fail(span, "'rule' is a keyword; rule fields are rule.name, "
                                 "rule.severity and rule.tags (routes only)")
            return n.Path(tuple(segments), "rule", span, quoted=quoted)
        if head.type == "QUOTED_NAME":
            return n.Path((head_text[1:-1], *segments), "rel", span, quoted=(True, *quoted))
        if head_text == "event":
            return n.Path(tuple(segments), "event", span, quoted=quoted)
        if head_text in n.KEYWORDS and not segments:
            raise self._fail(span, f"{head_text!r} is a keyword, not a field",
                             f"write `{head_text}` in backticks to mean the field")
        return n.Path((head_text, *segments), "rel", span, quoted=(False, *quoted))

    def literal(self, meta: Meta, c: list[Any]) -> n.Literal_:
        text: n.Text = c[0]
        return n.Literal_(text.value, text.raw, text.span)

    def number(self, meta: Meta, c: list[Any]) -> n.Literal_:
        return n.Literal_(self._number(c[0]), span=self._span(meta))

    def boolean(self, meta: Meta, c: list[Any]) -> n.Literal_:
        return n.Literal_(str(c[0]) == "true", span=self._span(meta))

    def null(self, meta: Meta, c: list[Any]) -> n.Literal_:
        return n.Literal_(None, span=self._span(meta))

    def list_lit(self, meta: Meta, c: list[Any]) -> n.ListLit:
        return n.ListLit(tuple(c), self._span(meta))

    def string(self, meta: Meta, c: list[Any]) -> n.Text:
        tok: Token = c[0]
        if tok.type == "RAW_STRING":
            self._bound_string(tok, str(tok)[1:])
            return n.Text(str(tok)[2:-1], True, self._tspan(tok))
        return n.Text(self._string(tok), False, self._tspan(tok))

    # ---- JSON (examples) ----
    def json_object(self, meta: Meta, c: list[Any]) -> dict[str, Any]:
        return dict(c)

    def json_pair(self, meta: Meta, c: list[Any]) -> tuple[str, Any]:
        return (self._string(c[0]), c[1])

    def json_array(self, meta: Meta, c: list[Any]) -> list[Any]:
        return list(c)

    def json_string(self, meta: Meta, c: list[Any]) -> str:
        return self._string(c[0])

    def json_number(self, meta: Meta, c: list[Any]) -> int | float:
        return self._number(c[0])

    def json_bool(self, meta: Meta, c: list[Any]) -> bool:
        return str(c[0]) == "true"

    def json_null(self, meta: Meta, c: list[Any]) -> None:
        return None


_BUILD: dict[str, Callable[..., Any]] = {
    name: attr.base_func for name, attr in vars(_Builder).items() if hasattr(attr, "base_func")
}
"""The tree → AST functions of `_Builder`, by rule name (unwrapped from `v_args`)."""


def _flatten(kind: type[n.And] | type[n.Or], items: list[Any]) -> tuple[n.Expr, ...]:
    out: list[n.Expr] = []
    for item in items:
        if isinstance(item, kind):
            out.extend(item.operands)
        else:
            out.append(item)
    return tuple(out)


def _nospan(filename: str) -> n.Span:
    return n.Span(filename, 1, 1, 1, 1)
