"""Tooling stage — the formatter (`ctrules fmt`): AST (+ the source's comments) → canonical text.

`.ctr text → parser → nodes → **formatter** → .ctr text`. It prints the AST the parser built, so
its output parses back to an equal AST (`parse(fmt(x)) == parse(x)`) and printing is idempotent.

The canonical layout:
- declarations in source order, one blank line between them; 4-space indentation;
- properties in a fixed order (rule: severity, description, tags, summary, enabled, group_by,
  when, then a blank line and the examples; ignore: reason, owner, expires, rules, when; route:
  when, to), values aligned one column after the longest keyword of the block;
- `when` and `macro` conditions on one line when they fit in `WIDTH` columns; otherwise one
  clause per line with a leading `and`/`or`. At the top level the operator hangs in the gutter
  left of the operands (`when        a` / `        and b`) when there is room for it, else it
  starts the line at the operands' column; nested chains break inside their parentheses, and an
  `any`/`all` body that does not fit goes on its own indented lines;
- minimal parentheses (`not` binds tighter than `and`, `and` than `or`);
- lists on one line when they fit, else one item per line with a trailing comma; example JSON
  likewise, object by object (JSON allows no trailing comma);
- strings re-escaped as JSON (`r"..."` kept where the text can stay raw), numbers as Python's
  shortest round-tripping spelling, paths with backticks only where needed, `rule.severity`
  compared with a bare severity name.

Layout is decided by a small Wadler/Prettier-style document printer: a group is printed flat
when it fits in the rest of the line, otherwise it breaks.

Comments are not in the AST, only in `RuleFile.comments` with their positions. They are attached
to *slots* — declarations, properties, list items of `list` declarations, and the clauses of
`and`/`or` chains — by position: a comment on its own line leads the next slot; a comment after
code trails the slot that ends on its line (or, after an opening `{`/`[`, stays on the header
line; after an opening `(` or an operator, leads what follows). A comment in a place that has no
slot of its own (inside a comparison, inside example JSON, before the first clause) moves up to
the nearest enclosing slot that can carry it — at worst just above the `when`. None is dropped.

Files the parser accepted only by discarding something (a property given twice, an unknown
severity, a non-string tag) are refused (FormatRefusedError) rather than rewritten without it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Union, assert_never

from . import nodes as n
from .diagnostics import Diagnostic
from .parser import (
    DUPLICATE_PROPERTY,
    INVALID_VALUE,
    TOO_DEEP,
    TOO_LARGE,
    CtrSyntaxError,
    parse,
)

WIDTH = 88
INDENT = 4

__all__ = ["WIDTH", "FormatRefusedError", "format_file", "format_text", "format_expr"]


class FormatRefusedError(CtrSyntaxError):
    """The file parses, but only by dropping something the formatter would then lose."""


# ---- the document model -------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Line:
    """A place where a line may break: `flat` when the enclosing group fits, else a newline
    indented to the current indentation plus `offset` (negative for hanging operators)."""

    flat: str = " "
    offset: int = 0
    hard: bool = False


@dataclass(frozen=True, eq=False)
class Nest:
    by: int
    doc: Doc


@dataclass(frozen=True, eq=False)
class Align:
    """Sets the indentation of line breaks inside `doc` to the column where `doc` starts."""

    doc: Doc


@dataclass(frozen=True, eq=False)
class IfBreak:
    broken: Doc
    flat: Doc = ""


@dataclass(frozen=True, eq=False)
class LineSuffix:
    """Text deferred to the end of the current output line (a trailing comment)."""

    text: str


@dataclass(frozen=True, eq=False)
class BreakParent:
    """Forces every enclosing group to break."""


@dataclass(eq=False)
class Group:
    doc: Doc
    hard: bool = field(init=False)

    def __post_init__(self) -> None:
        self.hard = _contains_hard(self.doc)


Doc = Union[str, list["Doc"], Line, Nest, Align, IfBreak, LineSuffix, BreakParent, Group]  # noqa: UP007

HARD = Line("", 0, True)
SOFT = Line("")
BREAK = BreakParent()


def _contains_hard(doc: Doc) -> bool:
    todo: list[Doc] = [doc]
    while todo:
        d = todo.pop()
        if isinstance(d, list):
            todo.extend(d)
        elif isinstance(d, Line):
            if d.hard:
                return True
        elif isinstance(d, BreakParent):
            return True
        elif isinstance(d, Group):
            if d.hard:
                return True
        elif isinstance(d, (Nest, Align)):
            todo.append(d.doc)
        elif isinstance(d, IfBreak):
            todo.append(d.broken)
            todo.append(d.flat)
    return False


_FLAT, _BREAK = 0, 1
_Cmd = tuple[int, int, Doc]


def _fits(first: _Cmd, rest: list[_Cmd], width: int) -> bool:
    todo: list[_Cmd] = [first]
    rest_index = len(rest)
    while width >= 0:
        if not todo:
            if rest_index == 0:
                return True
            rest_index -= 1
            todo.append(rest[rest_index])
            continue
        ind, mode, d = todo.pop()
        if isinstance(d, str):
            width -= len(d)
        elif isinstance(d, list):
            todo.extend((ind, mode, x) for x in reversed(d))
        elif isinstance(d, (Nest, Align)):
            todo.append((ind, mode, d.doc))
        elif isinstance(d, Group):
            todo.append((ind, _BREAK if d.hard else mode, d.doc))
        elif isinstance(d, IfBreak):
            todo.append((ind, mode, d.broken if mode == _BREAK else d.flat))
        elif isinstance(d, Line):
            if mode == _BREAK or d.hard:
                return True
            width -= len(d.flat)
    return False


def render(doc: Doc, width: int = WIDTH) -> str:
    out: list[str] = []
    col = 0
    suffix: list[str] = []
    stack: list[_Cmd] = [(0, _BREAK, doc)]
    while stack:
        ind, mode, d = stack.pop()
        if isinstance(d, str):
            out.append(d)
            col += len(d)
        elif isinstance(d, list):
            stack.extend((ind, mode, x) for x in reversed(d))
        elif isinstance(d, Nest):
            stack.append((ind + d.by, mode, d.doc))
        elif isinstance(d, Align):
            stack.append((col, mode, d.doc))
        elif isinstance(d, Group):
            if mode == _FLAT and not d.hard:
                stack.append((ind, _FLAT, d.doc))
            elif not d.hard and _fits((ind, _FLAT, d.doc), stack, width - col):
                stack.append((ind, _FLAT, d.doc))
            else:
                stack.append((ind, _BREAK, d.doc))
        elif isinstance(d, IfBreak):
            stack.append((ind, mode, d.broken if mode == _BREAK else d.flat))
        elif isinstance(d, LineSuffix):
            suffix.append(d.text)
        elif isinstance(d, Line):
            if mode == _FLAT and not d.hard:
                out.append(d.flat)
                col += len(d.flat)
            else:
                out.extend(suffix)
                suffix.clear()
                col = max(0, ind + d.offset)
                out.append("\n" + " " * col)
    out.extend(suffix)
    return "\n".join(line.rstrip() for line in "".join(out).split("\n"))


# ---- atoms: strings, numbers, paths, JSON ------------------------------------------------------

_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_UNSAFE_CHARS = re.compile("[\\x00-\\x1f\\x7f\\u0085\\u2028\\u2029\\ud800-\\udfff]")
_ESCAPE_MORE = re.compile("[\\u0085\\u2028\\u2029\\ud800-\\udfff]")


def string(value: str, raw: bool = False) -> str:
    """A string literal: raw `r"..."` when it was raw and can stay raw, else JSON-escaped."""
    if raw and '"' not in value and not _UNSAFE_CHARS.search(value):
        return f'r"{value}"'
    text = json.dumps(value, ensure_ascii=False)
    # json.dumps leaves these unescaped; line separators are invisible and lone surrogates
    # cannot be written as UTF-8.
    return _ESCAPE_MORE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def number(value: int | float) -> str:
    if isinstance(value, bool):
        raise TypeError("a bool is not a number")
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        raise ValueError("NaN has no .ctr spelling")
    if math.isinf(value):
        # What an overflowing literal such as 1e999 parses to.
        return "1e999" if value > 0 else "-1e999"
    # repr gives 1e-07; the leading zeros of an exponent are noise.
    return re.sub(r"e([+-]?)0+(?=[0-9])", r"e\1", repr(value))


def scalar(value: n.Value, raw: bool = False) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return string(value, raw)
    if isinstance(value, (int, float)):
        return number(value)
    raise TypeError(f"not a scalar literal: {value!r}")


def _quote_segment(seg: str) -> str:
    if not seg or "`" in seg or "\n" in seg:
        raise ValueError(f"path segment {seg!r} cannot be written in .ctr")
    return f"`{seg}`"


def _segment(seg: str | int, first: bool) -> str:
    if isinstance(seg, int):
        return str(seg)
    if not _PLAIN_NAME.match(seg) or (seg.startswith("__") and seg.endswith("__")):
        return _quote_segment(seg)
    if first and (seg in n.KEYWORDS or seg == "event"):
        return _quote_segment(seg)
    return seg


def path(p: n.Path) -> str:
    segs = p.segments
    if p.anchor == "it":
        return "it" if not segs else "it." + ".".join(_segment(s, False) for s in segs)
    if p.anchor == "event":
        return "event" + "".join("." + _segment(s, False) for s in segs)
    if p.anchor == "rule":
        if not segs:
            raise ValueError("a rule. path needs a field")
        return "rule" + "".join("." + _segment(s, False) for s in segs)
    if not segs:
        raise ValueError("a relative path needs at least one segment")
    if isinstance(segs[0], int):
        # `it.0`: an index of the current element; a path cannot start with a bare digit.
        return "it." + ".".join(_segment(s, False) for s in segs)
    return ".".join(_segment(s, i == 0) for i, s in enumerate(segs))


def json_doc(value: Any) -> Doc:
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [[string(str(k)), ": ", json_doc(v)] for k, v in value.items()]
        return _bracketed("{", items, "}", trailing_comma=False)
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        return _bracketed("[", [json_doc(v) for v in value], "]", trailing_comma=False)
    return scalar(value)


def _bracketed(
    open_: Doc,
    items: Sequence[Doc],
    close: str,
    *,
    trailing_comma: bool = True,
    leading: Sequence[Sequence[str]] = (),
    trailing: Sequence[str | None] = (),
    dangling: Sequence[str] = (),
) -> Doc:
    """`[a, b]` on one line, else one item per line (with a trailing comma where allowed)."""
    body: list[Doc] = []
    last = len(items) - 1
    for i, item in enumerate(items):
        body.append(SOFT if i == 0 else Line(" "))
        for text in leading[i] if i < len(leading) else ():
            body.extend([text, HARD])
        body.append(item)
        if i < last:
            body.append(",")
        elif trailing_comma:
            body.append(IfBreak(",", ""))
        note = trailing[i] if i < len(trailing) else None
        if note is not None:
            body.extend([LineSuffix("  " + note), BREAK])
    for text in dangling:
        body.extend([HARD, text])
    return Group([open_, Nest(INDENT, body), SOFT, close])


# ---- comments and where they go ------------------------------------------------------------


@dataclass(eq=False)
class _Note:
    text: str
    blank_after: bool = False


@dataclass(eq=False)
class _Slot:
    """A place a comment can be attached to: something printed at the start of a line."""

    key: int
    start: int
    end: int
    line: int
    end_line: int
    can_lead: bool = True
    dangling_ok: bool = False
    parent: _Slot | None = None
    children: list[_Slot] = field(default_factory=list)

    def add(self, child: _Slot) -> _Slot:
        child.parent = self
        self.children.append(child)
        return child


@dataclass
class _Comments:
    leading: dict[int, list[_Note]] = field(default_factory=dict)
    trailing: dict[int, str] = field(default_factory=dict)
    dangling: dict[int, list[_Note]] = field(default_factory=dict)
    header: dict[int, str] = field(default_factory=dict)  # after `rule x {` / `list x = [`

    def lead(self, key: int) -> list[_Note]:
        return self.leading.get(key, [])

    def trail(self, key: int) -> str | None:
        return self.trailing.get(key)

    def dangle(self, key: int) -> list[_Note]:
        return self.dangling.get(key, [])


class _Attacher:
    """Builds the slot tree of a file and hands every comment to a slot."""

    def __init__(self, rule_file: n.RuleFile):
        self.given: dict[int, set[str]] = {}
        self.prop_key: dict[tuple[int, str], int] = {}
        self._synthetic = -1
        self.root = _Slot(0, 0, 1 << 62, 1, 1 << 30, can_lead=False, dangling_ok=True)
        for decl in rule_file.decls:
            self._decl(decl)
        self.by_end_line: dict[int, list[_Slot]] = {}
        for slot in self._walk(self.root)[1:]:
            self.by_end_line.setdefault(slot.end_line, []).append(slot)

    # ---- slot tree ----
    def _slot(self, key: int, span: n.Span | None, **kw: Any) -> _Slot | None:
        if span is None or span.end < span.start:
            return None
        return _Slot(key, span.start, span.end, span.line, span.end_line, **kw)

    def _decl(self, decl: n.Decl) -> None:
        slot = self._slot(id(decl), decl.span)
        if slot is None:
            return
        self.root.add(slot)
        if isinstance(decl, n.ListDecl):
            slot.dangling_ok = True
            for item in decl.items.items:
                child = self._slot(id(item), item.span)
                if child is not None:
                    slot.add(child)
        elif isinstance(decl, n.MacroDecl):
            self._expr_children(slot, decl.expr)
        else:
            slot.dangling_ok = True
            self._props(slot, decl)

    def _props(self, slot: _Slot, decl: n.RuleDecl | n.IgnoreDecl | n.RouteDecl) -> None:
        positions: tuple[n.PropSpan, ...] | None = decl.props or None
        examples = decl.examples if isinstance(decl, n.RuleDecl) else ()
        if positions is not None:
            names = [p.name for p in positions]
            if names.count("example") != len(examples):
                positions = None
        if positions is None:
            # Built by a program, not parsed: anchor the properties we know the position of.
            for example in examples:
                child = self._slot(id(example), example.span)
                if child is not None:
                    slot.add(child)
            if decl.when is not None:
                child = self._slot(self._key(decl, "when"), decl.when.span)
                if child is not None:
                    slot.add(child)
                    self._expr_children(child, decl.when)
            slot.children.sort(key=lambda s: s.start)
            return
        self.given[id(decl)] = {p.name for p in positions}
        example_iter = iter(examples)
        seen: set[str] = set()
        for pos in positions:
            if pos.name == "example":
                key = id(next(example_iter))
            elif pos.name in seen:
                continue
            else:
                seen.add(pos.name)
                key = self._key(decl, pos.name)
            child = slot.add(
                _Slot(key, pos.span.start, pos.span.end, pos.span.line, pos.span.end_line)
            )
            if pos.name == "when" and decl.when is not None:
                self._expr_children(child, decl.when)
            elif (isinstance(decl, n.RuleDecl) and decl.stateful is not None
                    and pos.name == decl.stateful.kind):
                for step in decl.stateful.steps:  # a sequence's conditions hold comments too
                    self._expr_children(child, step)

    def _key(self, decl: n.Decl, prop: str) -> int:
        k = (id(decl), prop)
        if k not in self.prop_key:
            self.prop_key[k] = self._synthetic
            self._synthetic -= 1
        return self.prop_key[k]

    def _expr_children(self, slot: _Slot, expr: n.Expr) -> None:
        while isinstance(expr, (n.Not, n.Quantifier)):
            expr = expr.operand if isinstance(expr, n.Not) else expr.body
        if isinstance(expr, (n.And, n.Or)):
            for i, operand in enumerate(expr.operands):
                child = self._slot(id(operand), operand.span, can_lead=i > 0)
                if child is None:
                    continue
                slot.add(child)
                self._expr_children(child, operand)

    # ---- attachment ----
    def attach(self, comments: Sequence[n.Comment]) -> _Comments:
        out = _Comments()
        for c in comments:
            if c.span is None:
                self._dangle(self.root, c.text, out)
                continue
            p, line = c.span.start, c.span.line
            if self._own_line(c):
                self._place_leading(self.root, p, c.text, c.blank_after, out)
                continue
            target = self._trailing_target(p, line)
            if target is not None:
                out.trailing[target.key] = c.text
                continue
            inner = self._innermost(self.root, p)
            if inner.parent is self.root and inner.line == line and inner.dangling_ok:
                out.header[inner.key] = c.text
            else:
                # After an opening `(` or an operator: it is about what follows.
                self._place_leading(self.root, p, c.text, False, out)
        return out

    def _own_line(self, comment: n.Comment) -> bool:
        if comment.own_line is not None:
            return comment.own_line
        span = comment.span  # a comment made by a program: guess from the nodes around it
        assert span is not None
        return span.col == 1 or not any(
            s.end <= span.start for s in self.by_end_line.get(span.line, ())
        )

    def _walk(self, slot: _Slot) -> list[_Slot]:
        out = []
        todo = [slot]
        while todo:
            s = todo.pop()
            out.append(s)
            todo.extend(reversed(s.children))
        return out

    def _trailing_target(self, p: int, line: int) -> _Slot | None:
        best: _Slot | None = None
        # In walk order, so on equal ends the deeper slot (the clause, not its chain) wins.
        for s in self.by_end_line.get(line, ()):
            if s.end <= p and (best is None or s.end >= best.end):
                best = s
        return best

    def _innermost(self, slot: _Slot, p: int) -> _Slot:
        for c in slot.children:
            if c.start <= p < c.end:
                return self._innermost(c, p)
        return slot

    def _place_leading(self, slot: _Slot, p: int, text: str, blank: bool, out: _Comments) -> None:
        for c in slot.children:
            if c.start <= p < c.end:
                if c.children or c.dangling_ok:
                    self._place_leading(c, p, text, blank, out)
                else:
                    self._hoist(c, text, blank, out)
                return
            if c.start > p:
                self._hoist(c, text, blank, out)
                return
        if slot.dangling_ok:
            self._dangle(slot, text, out, blank)
        else:
            self._hoist(slot, text, blank, out)

    def _hoist(self, slot: _Slot, text: str, blank: bool, out: _Comments) -> None:
        s: _Slot | None = slot
        while s is not None and not s.can_lead:
            s = s.parent
        if s is None:
            self._dangle(self.root, text, out, blank)
        else:
            out.leading.setdefault(s.key, []).append(_Note(text, blank))

    def _dangle(self, slot: _Slot, text: str, out: _Comments, blank: bool = False) -> None:
        out.dangling.setdefault(slot.key, []).append(_Note(text, blank))


# ---- the printer ------------------------------------------------------------------------


_EXPR_TYPES = (
    n.Compare,
    n.InTest,
    n.StringTest,
    n.Matches,
    n.Glob,
    n.Exists,
    n.MacroRef,
    n.MacroUse,
    n.ListRef,
    n.BoolConst,
    n.Not,
    n.And,
    n.Or,
    n.Quantifier,
    n.Path,
    n.Literal_,
    n.ListLit,
    n.Call,
)
_NO_KEY = -(1 << 40)  # a key no comment is attached to
_RULE_ORDER = ("severity", "description", "tags", "summary", "enabled", "group_by", "when",
               "count", "distinct", "first_seen", "sequence")
_IGNORE_ORDER = ("reason", "owner", "expires", "rules", "when")
_ROUTE_ORDER = ("when", "to")


class _Printer:
    def __init__(self, comments: _Comments, attacher: _Attacher | None):
        self.c = comments
        self.a = attacher
        self.expr_end = -1

    # ---- comments ----
    def _leading(self, key: int, *, blanks: bool = True) -> list[Doc]:
        out: list[Doc] = []
        for note in self.c.lead(key):
            out.extend([note.text, HARD])
            if blanks and note.blank_after:
                out.append(HARD)
        return out

    def _trailing(self, key: int) -> list[Doc]:
        text = self.c.trail(key)
        return [] if text is None else [LineSuffix("  " + text)]

    # ---- expressions ----
    def expr(self, e: n.Expr, top: bool = False) -> Doc:
        match e:
            case n.And() | n.Or():
                return self._chain(e, top)
            case n.Not():
                return ["not ", self._wrapped(e.operand, isinstance(e.operand, (n.And, n.Or)))]
            case n.Quantifier():
                # The body goes on its own indented lines when it does not fit: quantified
                # paths are long, and aligning the body after them would push it off the page.
                body = Group(["(", Nest(INDENT, [SOFT, self.expr(e.body)]), SOFT, ")"])
                return [e.kind, " ", path(e.path), " ", body]
            case n.Compare():
                return [self.operand(e.left), f" {e.op} ", self._compare_right(e)]
            case n.InTest():
                op = " not in " if e.negated else " in "
                return [self.operand(e.left), op, self.operand(e.right)]
            case n.StringTest():
                return [self.operand(e.left), f" {e.op} ", self.operand(e.right)]
            case n.Matches():
                return [self.operand(e.left), " matches ", self.operand(e.pattern)]
            case n.Glob():
                return [self.operand(e.left), " glob ", self.operand(e.pattern)]
            case n.Exists():
                return [path(e.path), " exists"]
            case n.MacroRef() | n.MacroUse():  # a bound macro prints as its name
                return e.name
            case n.BoolConst():
                return "true" if e.value else "false"
            case n.Path() | n.Literal_() | n.ListLit() | n.Call() | n.ListRef():
                return self.operand(e)
            case _:
                assert_never(e)

    def _wrapped(self, e: n.Expr, parens: bool) -> Doc:
        if not parens:
            return self.expr(e)
        return ["(", Align(self.expr(e)), ")"]

    def _chain(self, e: n.And | n.Or, top: bool) -> Doc:
        op = "and" if isinstance(e, n.And) else "or"
        # Top level: operators hang left of the operands so the operands line up; nested
        # chains put the operator at the chain's own column.
        offset = -(len(op) + 1) if top else 0
        parts: list[Doc] = []
        last = len(e.operands) - 1
        for i, operand in enumerate(e.operands):
            if isinstance(e, n.And):
                parens = isinstance(operand, (n.And, n.Or))
            else:
                parens = isinstance(operand, n.Or)
            if i > 0:
                for note in self.c.lead(id(operand)):
                    parts.extend([Line("", offset, True), note.text])
                parts.extend([Line(" ", offset), op, " "])
            parts.append(self._wrapped(operand, parens))
            note_text = self.c.trail(id(operand))
            if note_text is not None:
                parts.append(LineSuffix("  " + note_text))
                if i < last or operand.span is None or operand.span.end != self.expr_end:
                    parts.append(BREAK)
        return Group(Align(parts))

    def _compare_right(self, e: n.Compare) -> Doc:
        left, right = e.left, e.right
        if (
            isinstance(left, n.Path)
            and left.anchor == "rule"
            and left.segments == ("severity",)
            and isinstance(right, n.Literal_)
            and isinstance(right.value, str)
            and right.value in n.SEVERITY_RANK
        ):
            return right.value
        return self.operand(right)

    def operand(self, o: n.Expr) -> Doc:
        if isinstance(o, n.Path):
            return path(o)
        if isinstance(o, n.ListRef):
            return o.name
        if isinstance(o, n.Literal_):
            return scalar(o.value, o.raw)
        if isinstance(o, n.ListLit):
            return self.list_lit(o)
        if isinstance(o, n.Call):
            args: list[Doc] = []
            for i, a in enumerate(o.args):
                if i:
                    args.append(", ")
                args.append(self.operand(a))
            return [o.name, "(", *args, ")"]
        return self._wrapped(o, True)

    def list_lit(
        self, lit: n.ListLit, with_comments: bool = False, header: str | None = None
    ) -> Doc:
        if not lit.items and not (with_comments and self.c.dangle(id(lit))) and header is None:
            return "[]"
        items: list[Doc] = [
            self.list_lit(i) if isinstance(i, n.ListLit) else scalar(i.value, i.raw)
            for i in lit.items
        ]
        if not with_comments:
            return _bracketed("[", items, "]")
        return _bracketed(
            "[" if header is None else ["[", LineSuffix("  " + header), BREAK],
            items,
            "]",
            leading=[[note.text for note in self.c.lead(id(i))] for i in lit.items],
            trailing=[self.c.trail(id(i)) for i in lit.items],
            dangling=[note.text for note in self.c.dangle(id(lit))],
        )

    # ---- declarations ----
    def decl(self, d: n.Decl) -> Doc:
        if isinstance(d, n.ListDecl):
            # Dangling comments of a list declaration belong inside its brackets.
            if self.c.dangle(id(d)):
                self.c.dangling[id(d.items)] = self.c.dangling.pop(id(d))
            lit = self.list_lit(d.items, with_comments=True, header=self.c.header.get(id(d)))
            return ["list ", d.name, " = ", lit]
        if isinstance(d, n.MacroDecl):
            return ["macro ", d.name, " = ", self.when_expr(d.expr, hang=True)]
        if isinstance(d, n.RuleDecl):
            return self._block("rule", d, self._rule_props(d), d.examples)
        if isinstance(d, n.IgnoreDecl):
            return self._block("ignore", d, self._ignore_props(d), ())
        return self._block("route", d, self._route_props(d), ())

    def when_expr(self, e: n.Expr, hang: bool) -> Doc:
        """A whole condition. With `hang`, the operators of a broken top-level chain sit left
        of the operands (in the gutter after `when` or `macro x =`) so the operands line up."""
        self.expr_end = e.span.end if e.span is not None else -1
        return Align(self.expr(e, top=hang))

    def _given(self, d: n.Decl) -> set[str]:
        if self.a is None:
            return set()
        return self.a.given.get(id(d), set())

    def _rule_props(self, d: n.RuleDecl) -> dict[str, Doc | n.Expr]:
        given = self._given(d)
        props: dict[str, Doc | n.Expr] = {}
        if d.severity_given or "severity" in given or d.severity != "medium":
            props["severity"] = d.severity
        if d.description is not None:
            props["description"] = string(d.description.value, d.description.raw)
        if d.tags or "tags" in given:
            props["tags"] = _bracketed("[", [string(t) for t in d.tags], "]") if d.tags else "[]"
        if d.summary is not None:
            props["summary"] = string(d.summary.value, d.summary.raw)
        if not d.enabled or "enabled" in given:
            props["enabled"] = "true" if d.enabled else "false"
        if d.group_by is not None:
            props["group_by"] = (
                _bracketed("[", [path(p) for p in d.group_by], "]") if d.group_by else "[]"
            )
        if d.when is not None:
            props["when"] = d.when
        if d.stateful is not None:
            props[d.stateful.kind] = self.stateful(d.stateful)
        return {k: props[k] for k in _RULE_ORDER if k in props}

    def stateful(self, s: n.Stateful) -> Doc:
        """The value of a `count` / `distinct` / `first_seen` / `sequence` property."""
        doc: list[Doc] = []
        if s.kind == "distinct" and s.value is not None:
            doc.extend([path(s.value), " "])
        if s.kind == "first_seen" and s.value is not None:
            doc.extend([path(s.value), " "])
        if s.threshold is not None:
            doc.extend([">= ", str(s.threshold), " "])
        if s.key:
            doc.extend(["by ", _bracketed("[", [path(p) for p in s.key], "]"), " "])
        doc.extend(["within ", s.window.text or f"{s.window.seconds}s"])
        for step in s.steps:
            self.expr_end = step.span.end if step.span is not None else -1
            doc.append(Nest(INDENT, [HARD, "then ", Align(self.expr(step))]))
        return doc

    def _ignore_props(self, d: n.IgnoreDecl) -> dict[str, Doc | n.Expr]:
        props: dict[str, Doc | n.Expr] = {}
        for name in ("reason", "owner", "expires"):
            text: n.Text | None = getattr(d, name)
            if text is not None:
                props[name] = string(text.value, text.raw)
        if d.rules is not None:
            props["rules"] = _bracketed("[", list(d.rules), "]") if d.rules else "[]"
        if d.when is not None:
            props["when"] = d.when
        return {k: props[k] for k in _IGNORE_ORDER if k in props}

    def _route_props(self, d: n.RouteDecl) -> dict[str, Doc | n.Expr]:
        props: dict[str, Doc | n.Expr] = {}
        if d.when is not None:
            props["when"] = d.when
        if len(d.to) == 1 and not d.to_is_list:
            props["to"] = string(d.to[0])
        elif d.to or d.to_is_list or "to" in self._given(d):
            props["to"] = _bracketed("[", [string(t) for t in d.to], "]") if d.to else "[]"
        return props

    def _prop_key(self, d: n.Decl, name: str) -> int:
        if self.a is None:
            return _NO_KEY
        return self.a.prop_key.get((id(d), name), _NO_KEY)

    def _block(
        self,
        kind: str,
        d: n.RuleDecl | n.IgnoreDecl | n.RouteDecl,
        props: dict[str, Doc | n.Expr],
        examples: Sequence[n.Example],
    ) -> Doc:
        width = max((len(k) for k in props), default=0) + 1
        body: list[Doc] = []
        for name, prop in props.items():
            key = self._prop_key(d, name)
            if name == "when":
                assert d.when is not None
                op = "and " if isinstance(d.when, n.And) else "or "
                value = self.when_expr(d.when, hang=width - len(name) >= len(op))
            else:
                assert not isinstance(prop, _EXPR_TYPES)
                value = prop
            body.append(HARD)
            body.extend(self._leading(key))
            body.extend([name, " " * (width - len(name)), value])
            body.extend(self._trailing(key))
        for i, ex in enumerate(examples):
            body.append(HARD)
            if i == 0 and props:
                body.append(HARD)
            body.extend(self._leading(id(ex)))
            body.append(self.example(ex))
            body.extend(self._trailing(id(ex)))
        for note in self.c.dangle(id(d)):
            body.extend([HARD, note.text])
        header = self.c.header.get(id(d))
        opening: list[Doc] = [kind, " ", d.name, " {"]
        if header is not None:
            opening.append(LineSuffix("  " + header))
        elif not body:
            return [*opening, "}"]
        return [*opening, Nest(INDENT, body), HARD, "}"]

    def example(self, ex: n.Example) -> Doc:
        verdict = "match" if ex.expect_match else "no match"
        doc: list[Doc] = ["example ", string(ex.name), " ", verdict, " ", json_doc(ex.event)]
        if ex.routes is not None:
            routes = _bracketed("[", [string(r) for r in ex.routes], "]") if ex.routes else "[]"
            doc.extend([" routes ", routes])
        return doc

    def file(self, rule_file: n.RuleFile) -> Doc:
        parts: list[Doc] = []
        for i, d in enumerate(rule_file.decls):
            if i:
                parts.extend([HARD, HARD])
            parts.extend(self._leading(id(d)))
            parts.append(self.decl(d))
            parts.extend(self._trailing(id(d)))
        for i, note in enumerate(self.c.dangle(0)):
            if i == 0 and parts:
                parts.extend([HARD, HARD])
            elif i:
                parts.append(HARD)
            parts.append(note.text)
            if note.blank_after and i + 1 < len(self.c.dangle(0)):
                parts.append(HARD)
        return parts


def format_file(rule_file: n.RuleFile, source: str | None = None) -> str:
    """Print a file canonically. A parsed file's nodes carry what the layout needs (where each
    property and comment was, properties written out with their default value); `source` is
    accepted for compatibility and not read."""
    attacher = _Attacher(rule_file)
    comments = attacher.attach(rule_file.comments)
    text = render(_Printer(comments, attacher).file(rule_file))
    return text + "\n" if text else ""


def format_expr(expr: n.Expr, width: int = WIDTH) -> str:
    """One expression (or path, literal...) in canonical form, for messages and tests. It breaks
    across lines like a `when` starting at column 0 when longer than `width`; pass
    `width=sys.maxsize` for a single line."""
    printer = _Printer(_Comments(), None)
    return render(printer.when_expr(expr, hang=False), width)


_LOSSY = (DUPLICATE_PROPERTY, INVALID_VALUE)


def format_text(text: str, filename: str = "<string>") -> str:
    """Parse and print. Raises CtrSyntaxError when the text does not parse, and
    FormatRefusedError (a CtrSyntaxError) when printing the AST would lose part of the text."""
    result = parse(text, filename)
    for diagnostic in result.diagnostics:
        if diagnostic.code in _LOSSY:
            raise FormatRefusedError(diagnostic)
        if diagnostic.code == TOO_LARGE:  # bounded work: `check` refuses the file anyway
            raise CtrSyntaxError(diagnostic)
    try:
        return format_file(result.file)
    except RecursionError:
        # Printing recurses over the expression; a file nested hundreds of levels deep (which
        # `check` refuses as CTR021 anyway) is reported, not crashed on.
        first = text.split("\n", 1)[0]
        span = n.Span(filename, 1, 1, 1, 1 + min(len(first), 1))
        raise CtrSyntaxError(Diagnostic(
            TOO_DEEP, "error", "the file nests too deeply to format", span,
            "split deeply nested conditions into macros")) from None
