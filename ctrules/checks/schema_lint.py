"""Pipeline stage 3 (checks) — schema-aware lint: field paths checked against the CloudTrail schema.

`.ctr text → parser → nodes → **checks** → compiler → RuleSet`. A misspelt field name is valid
`.ctr` — the path is simply missing from every record, so the rule never matches, the worst
failure a detection rule can have. These warnings compare the paths a rule set uses with
`ctrules.schema`:

* CTR114 unknown-field — a path through a part of the record CloudTrail defines (closed:
  `userIdentiy.type`, `userIdentity.sessionContext.sessionIsuer.arn`, `eventNmae`), or a key of
  `requestParameters`/`responseElements`/`additionalEventData` that the events the rule is
  pinned to (`eventName == "..."` / `in [...]`) do not have, when a known key is close to it.
* CTR115 unknown-placeholder — the same for a `{path}` placeholder in a rule's `summary`.
* CTR116 field-name-as-value — `eventName == "eventSource"`: a CloudTrail field compared with a
  string that is the name of a top-level field rather than a value.

Paths are followed the way the compiler reads them: through arrays (`resources.ARN`,
`resources.0.ARN`), relative to the element inside `any`/`all`, `event.` from the root, macros
expanded where they are used, and a one-segment name on the right is a declared list when one
has that name. Where the schema cannot know (open objects, events without known keys, an
element of unknown type) nothing is reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from .. import nodes as n
from .. import schema
from ..diagnostics import Diagnostic
from ..templates import parse_template

UNKNOWN_FIELD = "CTR114"
UNKNOWN_PLACEHOLDER = "CTR115"
FIELD_NAME_AS_VALUE = "CTR116"

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_EVENT_NAME = ("eventName",)
_EVENT_SOURCE = ("eventSource",)


@dataclass(frozen=True)
class _Pins:
    """What the enclosing conditions require of the record: its eventName / eventSource is one
    of these (None: not pinned)."""

    names: frozenset[str] | None = None
    sources: frozenset[str] | None = None

    def narrow(self, other: _Pins) -> _Pins:
        return _Pins(_meet(self.names, other.names), _meet(self.sources, other.sources))


def _meet(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    if a is None or b is None:
        return a if b is None else b
    return a & b


def _join(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    return None if a is None or b is None else a | b


@dataclass(frozen=True)
class _Ctx:
    elem: schema.FieldType | None = schema.RECORD  # what a relative path starts at
    depth: int = 0  # any/all nesting
    pins: _Pins = _Pins()
    expanding: frozenset[str] = frozenset()  # macros being expanded (a cycle is CTR011)
    code: str = UNKNOWN_FIELD


class _Scope:
    def __init__(self, files: Sequence[n.RuleFile]):
        self.lists: dict[str, n.ListDecl] = {}
        self.macros: dict[str, n.MacroDecl] = {}
        # A macro's pins and findings, per the context it is used in: macros using a macro
        # twice (m2 = m1 and m1, ...) would otherwise be expanded exponentially often.
        self.pins_memo: dict[tuple[str, bool], _Pins] = {}
        self.walked: set[tuple[str, int, bool, _Pins, str]] = set()
        for f in files:
            for decl in f.decls:
                if isinstance(decl, n.ListDecl):
                    self.lists.setdefault(decl.name, decl)
                elif isinstance(decl, n.MacroDecl):
                    self.macros.setdefault(decl.name, decl)

    def is_list_name(self, op: n.Operand) -> bool:
        return (isinstance(op, n.Path) and op.anchor == "rel" and len(op.segments) == 1
                and op.segments[0] in self.lists)

    def strings(self, op: n.Operand) -> list[tuple[str, n.Span | None]] | None:
        """The string literals an operand stands for (a literal, a list, a declared list)."""
        if isinstance(op, n.Literal_):
            return [(op.value, op.span)] if isinstance(op.value, str) else []
        if isinstance(op, n.ListLit):
            return [(i.value, i.span) for i in op.items
                    if isinstance(i, n.Literal_) and isinstance(i.value, str)]
        if self.is_list_name(op):
            assert isinstance(op, n.Path)
            return self.strings(self.lists[str(op.segments[0])].items)
        return None


def schema_findings(files: list[n.RuleFile]) -> list[Diagnostic]:
    """CTR114–CTR116 warnings for a whole rule set (all files share one namespace)."""
    scope = _Scope(files)
    found: dict[tuple[str, str, int, int, str], Diagnostic] = {}
    for f in files:
        for decl in f.decls:
            for d in _decl_findings(decl, scope):
                found.setdefault((d.code, d.span.file, d.span.line, d.span.col, d.message), d)
    return sorted(found.values(), key=lambda d: (d.span.file, d.span.line, d.span.col, d.code))


def _decl_findings(decl: n.Decl, scope: _Scope) -> Iterator[Diagnostic]:
    # Macros are judged where they are used: the same body can be about the record or, inside
    # any/all, about an element.
    if not isinstance(decl, (n.RuleDecl, n.IgnoreDecl, n.RouteDecl)) or decl.when is None:
        return
    root = _Ctx(pins=_pins(decl.when, scope, 0, frozenset()))
    yield from _walk(decl.when, root, scope)
    if isinstance(decl, n.RuleDecl):
        for path in decl.group_by or ():
            if path.anchor in ("rel", "event"):
                yield from _check_path(path, root, scope).findings
        if decl.summary is not None:
            yield from _placeholders(decl.summary, replace(root, code=UNKNOWN_PLACEHOLDER), scope)


def _placeholders(text: n.Text, ctx: _Ctx, scope: _Scope) -> Iterator[Diagnostic]:
    filename = text.span.file if text.span else "<string>"
    template, _ = parse_template(text, filename)  # bad placeholders are CTR016's
    for part in template.parts:
        if isinstance(part, n.Path) and part.anchor in ("rel", "event"):
            if part.span is None:
                part = replace(part, span=text.span)
            yield from _check_path(part, ctx, scope).findings


# ---- pins ---------------------------------------------------------------------------------


def _is_root(op: n.Operand, field: tuple[str, ...], depth: int) -> bool:
    if not isinstance(op, n.Path) or op.segments != field:
        return False
    return op.anchor == "event" or (op.anchor == "rel" and depth == 0)


def _pins(e: n.Expr, scope: _Scope, depth: int, expanding: frozenset[str]) -> _Pins:
    """The eventNames/eventSources every record matching `e` has."""
    if isinstance(e, n.MacroRef):
        macro = scope.macros.get(e.name)
        if macro is None or e.name in expanding:
            return _Pins()
        key = (e.name, depth == 0)
        if key not in scope.pins_memo:
            scope.pins_memo[key] = _pins(macro.expr, scope, depth, expanding | {e.name})
        return scope.pins_memo[key]
    if isinstance(e, n.And):
        out = _Pins()
        for operand in e.operands:
            out = out.narrow(_pins(operand, scope, depth, expanding))
        return out
    if isinstance(e, n.Or):
        parts = [_pins(operand, scope, depth, expanding) for operand in e.operands]
        names, sources = parts[0].names, parts[0].sources
        for p in parts[1:]:
            names, sources = _join(names, p.names), _join(sources, p.sources)
        return _Pins(names, sources)
    values: list[tuple[str, n.Span | None]] | None = None
    left: n.Operand | None = None
    if isinstance(e, n.Compare) and e.op == "==" and isinstance(e.right, n.Literal_):
        left, values = e.left, scope.strings(e.right)
    elif isinstance(e, n.InTest) and not e.negated and not isinstance(e.right, n.Call):
        left, values = e.left, scope.strings(e.right)
    if left is None or values is None:
        return _Pins()
    pinned = frozenset(v for v, _ in values)
    if _is_root(left, _EVENT_NAME, depth):
        return _Pins(names=pinned)
    if _is_root(left, _EVENT_SOURCE, depth):
        return _Pins(sources=pinned)
    return _Pins()


# ---- walking ------------------------------------------------------------------------------


def _walk(e: n.Expr, ctx: _Ctx, scope: _Scope) -> Iterator[Diagnostic]:
    if isinstance(e, n.And):
        inner = replace(ctx, pins=ctx.pins.narrow(_pins(e, scope, ctx.depth, ctx.expanding)))
        for operand in e.operands:
            yield from _walk(operand, inner, scope)
    elif isinstance(e, n.Or):
        for operand in e.operands:
            yield from _walk(operand, ctx, scope)
    elif isinstance(e, n.Not):
        yield from _walk(e.operand, ctx, scope)
    elif isinstance(e, n.MacroRef):
        macro = scope.macros.get(e.name)
        if macro is not None and e.name not in ctx.expanding:
            # What a body yields depends on where it starts (the element type; the record or
            # an element inside any/all), the pins and the code, not on the rest of `ctx`; a
            # second walk in the same context would only repeat findings already made.
            key = (e.name, id(ctx.elem), ctx.depth == 0, ctx.pins, ctx.code)
            if key not in scope.walked:
                scope.walked.add(key)
                expanding = ctx.expanding | {e.name}
                pins = ctx.pins.narrow(_pins(e, scope, ctx.depth, ctx.expanding))
                yield from _walk(macro.expr, replace(ctx, pins=pins, expanding=expanding), scope)
    elif isinstance(e, n.Quantifier):
        reach = _check_path(e.path, ctx, scope)
        yield from reach.findings
        elem = reach.ty
        while elem is not None and elem.kind == "arr":
            elem = elem.elem
        yield from _walk(e.body, replace(ctx, elem=elem, depth=ctx.depth + 1), scope)
    elif isinstance(e, n.Exists):
        yield from _check_path(e.path, ctx, scope).findings
    elif isinstance(e, (n.Matches, n.Glob)):
        yield from _operand(e.left, ctx, scope)
    elif isinstance(e, (n.Compare, n.InTest, n.StringTest)):
        yield from _operand(e.left, ctx, scope)
        right = e.right
        # A one-segment name on the right is a declared list if one has that name; after `in`
        # an undeclared one is CTR109's business.
        if isinstance(right, n.Path) and not scope.is_list_name(right) and not (
                isinstance(e, n.InTest) and right.anchor == "rel" and len(right.segments) == 1):
            yield from _operand(right, ctx, scope)
        if isinstance(e, n.Compare) and e.op in ("==", "!=") or isinstance(e, n.InTest):
            yield from _field_name_values(e, ctx, scope)


def _operand(op: n.Operand, ctx: _Ctx, scope: _Scope) -> Iterator[Diagnostic]:
    if isinstance(op, n.Path):
        yield from _check_path(op, ctx, scope).findings
    elif isinstance(op, n.Call):
        for arg in op.args:
            if isinstance(arg, (n.Path, n.Call)):
                yield from _operand(arg, ctx, scope)


def _field_name_values(e: n.Compare | n.InTest, ctx: _Ctx, scope: _Scope) -> Iterator[Diagnostic]:
    if not isinstance(e.left, n.Path) or not (
            e.left.anchor == "event" or (e.left.anchor == "rel" and ctx.depth == 0)):
        return  # inside any/all a relative path starts at an element: not judged
    if tuple(s for s in e.left.segments if isinstance(s, str)) not in schema.NAME_VALUED:
        return
    for value, span in scope.strings(e.right) or ():
        if value in schema.TOP_LEVEL_FIELDS:
            shown = ("event." if e.left.anchor == "event" else "") + e.left.dotted()
            yield Diagnostic(
                FIELD_NAME_AS_VALUE, "warning",
                f'"{value}" is the name of a CloudTrail field, not a value {shown} takes',
                span or e.span or _nowhere(),
                f"compare {shown} with a value it holds; to compare with the field itself, "
                f"write {value} without quotes")


# ---- one path -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Checked:
    """Where a path led: the type it reaches (None when unknown), and what is wrong with it."""

    ty: schema.FieldType | None
    findings: tuple[Diagnostic, ...]


def _check_path(path: n.Path, ctx: _Ctx, scope: _Scope) -> _Checked:
    """Follow `path` through the schema; report the first segment that cannot be there."""
    if path.anchor == "event":
        ty: schema.FieldType | None = schema.RECORD
        at_record = True
    elif path.anchor == "rel":
        ty, at_record = ctx.elem, ctx.elem is schema.RECORD
    else:
        return _Checked(None, ())
    segments = path.segments
    for i, seg in enumerate(segments):
        if ty is None:
            return _Checked(None, ())
        parent = ty
        if parent.kind == "arr":
            if isinstance(seg, int):
                ty = parent.elem
                continue
            while parent.kind == "arr" and parent.elem is not None:
                parent = parent.elem
        if parent.kind != "obj":
            # Past a leaf (`userIdentity.type.x`): never present, but also what the language's
            # own tests write on purpose, and there is nothing to suggest.
            return _Checked(None, ())
        if isinstance(seg, int):
            return _Checked(None, ())  # an index into an object: missing, not a typo
        known = parent.fields or {}
        if seg in known:
            ty = known[seg]
            continue
        if parent.closed:
            # Only a near miss is reported: test suites and enrichment pipelines use fields
            # of their own (`s`, `tags`), and "did you mean" is what makes the finding useful.
            hint = schema.suggest(seg, frozenset(known))
            if hint is None:
                return _Checked(None, ())
            return _Checked(None, (_unknown(path, i, ctx, hint, parent is schema.RECORD
                                                   and at_record and i == 0),))
        # An open object: its keys vary by event.
        finding = None
        if at_record and i == 1 and segments[0] in schema.PARTS:
            finding = _event_key(path, i, seg, str(segments[0]), ctx, frozenset(known))
        elif known:
            hint = schema.suggest(seg, frozenset(known), fuzzy=False)
            if hint is not None:
                finding = _unknown(path, i, ctx, hint, False)
        return _Checked(None, (finding,) if finding else ())
    return _Checked(ty, ())


def _event_key(path: n.Path, i: int, key: str, part: str, ctx: _Ctx,
               common: frozenset[str]) -> Diagnostic | None:
    """A key of requestParameters/responseElements/additionalEventData, judged by the keys the
    pinned events have; without them, only a letter-case slip of a key many events share."""
    names = ctx.pins.names
    known = schema.event_keys(part, ctx.pins.sources, sorted(names)) if names else None
    if known is None:
        hint = schema.suggest(key, common, fuzzy=False) if key not in common else None
        return None if hint is None else _unknown(path, i, ctx, hint, False)
    if key in known.keys:
        return None
    hint = schema.suggest(key, known.keys | common, fuzzy=known.trusted,
                          prefer=known.preferred | common)
    if hint is None:
        return None
    assert names is not None
    events = " / ".join(sorted(names)[:3]) + (" / ..." if len(names) > 3 else "")
    return _diag(ctx.code, _segment_span(path, i),
                 f"{part} of {events} has no key {key!r}; did you mean {hint!r}?",
                 _fix(path, i, hint))


def _unknown(path: n.Path, i: int, ctx: _Ctx, hint: str, top: bool) -> Diagnostic:
    seg = str(path.segments[i])
    where = "a CloudTrail record" if top else (
        "the element" if i == 0 and path.anchor == "rel" else
        ".".join(str(s) for s in path.segments[:i]))
    what = "placeholder" if ctx.code == UNKNOWN_PLACEHOLDER else "field"
    message = f"unknown {what}: {where} has no field {seg!r}; did you mean {hint!r}?"
    return _diag(ctx.code, _segment_span(path, i), message, _fix(path, i, hint))


def _fix(path: n.Path, i: int, hint: str) -> str:
    segments = list(path.segments)
    segments[i] = hint
    return "did you mean " + ("event." if path.anchor == "event" else "") + ".".join(
        _written(s, j) for j, s in enumerate(segments)) + "?"


def _diag(code: str, span: n.Span, message: str, hint: str | None) -> Diagnostic:
    return Diagnostic(code, "warning", message, span, hint)


# ---- positions ----------------------------------------------------------------------------


def _written(seg: str | int, index: int) -> str:
    """How a segment is written when it needs no more than the grammar asks."""
    if isinstance(seg, int):
        return str(seg)
    if _PLAIN.match(seg) and not (index == 0 and seg in n.KEYWORDS):
        return seg
    return f"`{seg}`"


def _segment_span(path: n.Path, i: int) -> n.Span:
    """The span of segment `i`. The AST keeps only the whole path's span, so the segment is
    located by laying the path out as written without optional backticks or spaces (`it.` /
    `event.` prefixes included); a path written otherwise gets its whole span."""
    span = path.span or _nowhere()
    if span.line != span.end_line:
        return span
    words = [_written(s, j) for j, s in enumerate(path.segments)]
    body = sum(len(w) for w in words) + max(len(words) - 1, 0)
    width = span.end_col - span.col
    prefixes = {"event": ("event.",), "rel": ("", "it.")}.get(path.anchor, ("",))
    for prefix in prefixes:
        if len(prefix) + body == width:
            offset = len(prefix) + sum(len(w) + 1 for w in words[:i])
            size = len(words[i])
            return n.Span(span.file, span.line, span.col + offset, span.line,
                          span.col + offset + size, span.start + offset,
                          span.start + offset + size)
    return span


def _nowhere() -> n.Span:
    return n.Span("<unknown>", 1, 1, 1, 1)
