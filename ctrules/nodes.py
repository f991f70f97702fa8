"""Pipeline stage 2 — the AST.

`.ctr text → parser → **nodes** → checks → compiler → RuleSet`.

Every node is a frozen dataclass. Its `span` (where it came from) is excluded from equality and
hashing, so two parses of differently laid-out text compare equal when they mean the same thing;
that is what the formatter's round-trip law `parse(fmt(x)) == parse(x)` relies on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Union, assert_never

SEVERITIES: tuple[str, ...] = ("info", "low", "medium", "high", "critical")
SEVERITY_RANK: dict[str, int] = {name: rank for rank, name in enumerate(SEVERITIES)}

KEYWORDS: frozenset[str] = frozenset(
    "list macro rule ignore route when severity description summary tags enabled example match "
    "no reason owner expires rules to and or not in contains startswith endswith matches glob "
    "exists any all it true false null".split()
)
# `group_by` and `routes` are ctrules extensions (docs/language.md); they are keywords only where
# a property can start, so they stay valid as names and path segments.

FUNCTIONS: dict[str, int] = {"lower": 1, "upper": 1, "len": 1}
"""Value functions usable on the left of a comparison, with their arity. `cidr` is not here:
it is only valid after `in`/`not in` and takes one or more literal strings."""


@dataclass(frozen=True)
class Span:
    file: str
    line: int
    col: int
    end_line: int
    end_col: int
    start: int = 0
    end: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


def _span() -> Any:
    return field(default=None, compare=False, hash=False, repr=False)


def _written(default: Any) -> Any:
    """How something was written (not what it means): kept for tools, ignored by equality."""
    return field(default=default, compare=False, hash=False, repr=False)


Scalar = Union[str, int, float, bool, None]
Value = Union[Scalar, tuple["Value", ...]]

Anchor = Literal["rel", "event", "it", "rule"]
"""Where a path starts: `rel` at the current element (the record outside `any`/`all`),
`event` at the root record (`event.x`), `it` is the current element itself, `rule` is the
alert's rule (routes only)."""


# ---- expressions ------------------------------------------------------------------------


@dataclass(frozen=True)
class Path:
    segments: tuple[str | int, ...]
    anchor: Anchor = "rel"
    span: Span | None = _span()
    written_it: bool = _written(False)
    """Written with an `it.` prefix (`it.x` means the same path as `x`)."""
    quoted: tuple[bool, ...] = _written(())
    """Per segment, whether it was written in backticks (empty when not parsed from text)."""

    def dotted(self) -> str:
        return ".".join(str(s) for s in self.segments)

    def is_bare_name(self) -> bool:
        """A one-segment path written as a plain name (`x`, not `` `x` ``, `it.x`, `event.x`):
        what can name a macro or a declared list."""
        return (self.anchor == "rel" and len(self.segments) == 1
                and isinstance(self.segments[0], str) and not self.written_it
                and not (self.quoted and self.quoted[0]))


@dataclass(frozen=True)
class Literal_:
    value: Value
    raw: bool = field(default=False, compare=False)
    span: Span | None = _span()
    # Python says True == 1 == 1.0; the language does not, so neither may two ASTs.
    kind: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", _value_kind(self.value))


def _value_kind(value: Value) -> str:
    if isinstance(value, tuple):
        return "list[" + ",".join(_value_kind(v) for v in value) + "]"
    return type(value).__name__


@dataclass(frozen=True)
class ListLit:
    items: tuple[Literal_ | ListLit, ...]
    span: Span | None = _span()

    def values(self) -> tuple[Value, ...]:
        return tuple(i.value if isinstance(i, Literal_) else i.values() for i in self.items)


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Expr, ...]
    span: Span | None = _span()


CompareOp = Literal["==", "!=", "<", "<=", ">", ">="]
StringOp = Literal["contains", "startswith", "endswith"]


@dataclass(frozen=True)
class Compare:
    op: CompareOp
    left: Operand
    right: Operand
    span: Span | None = _span()


@dataclass(frozen=True)
class InTest:
    left: Operand
    right: Operand  # ListLit, Path (a declared list name or a path), or Call("cidr")
    negated: bool = False
    span: Span | None = _span()


@dataclass(frozen=True)
class StringTest:
    op: StringOp
    left: Operand
    right: Operand
    span: Span | None = _span()


@dataclass(frozen=True)
class Matches:
    left: Operand
    pattern: Literal_
    span: Span | None = _span()


@dataclass(frozen=True)
class Glob:
    left: Operand
    pattern: Literal_
    span: Span | None = _span()


@dataclass(frozen=True)
class Exists:
    path: Path
    span: Span | None = _span()


@dataclass(frozen=True)
class MacroRef:
    name: str
    span: Span | None = _span()


@dataclass(frozen=True)
class BoolConst:
    value: bool
    span: Span | None = _span()


@dataclass(frozen=True)
class Not:
    operand: Expr
    span: Span | None = _span()


@dataclass(frozen=True)
class And:
    operands: tuple[Expr, ...]
    span: Span | None = _span()


@dataclass(frozen=True)
class Or:
    operands: tuple[Expr, ...]
    span: Span | None = _span()


@dataclass(frozen=True)
class Quantifier:
    kind: Literal["any", "all"]
    path: Path
    body: Expr
    span: Span | None = _span()


# ---- bound nodes: what `ctrules.binding` puts where a name was ------------------------------


@dataclass(frozen=True)
class MacroUse:
    """A use of a macro, bound to its declaration's (bound) body. The body is shared by every use
    of the macro, so a bound tree is a DAG as small as the text; equality is by name, which is
    what the text says."""

    name: str
    body: Expr = field(compare=False, hash=False, repr=False)
    span: Span | None = _span()


@dataclass(frozen=True)
class ListRef:
    """A declared list's name on the right of a comparison, bound to the list's items."""

    name: str
    items: ListLit = field(compare=False, hash=False, repr=False)
    span: Span | None = _span()


Operand = Union[Path, Literal_, ListLit, Call, ListRef]
Condition = Union[Compare, InTest, StringTest, Matches, Glob, Exists]
Expr = Union[
    Condition, MacroRef, BoolConst, Not, And, Or, Quantifier, Path, Literal_, ListLit, Call,
    MacroUse, ListRef,
]


def children(e: Expr) -> tuple[Expr, ...]:
    """The sub-expressions and operands of a node, in written order: the one place that knows
    the shape of every node. List items and `matches`/`glob` patterns are values, not children,
    and a macro reference's body belongs to its declaration (a bound MacroUse's is its child)."""
    match e:
        case And() | Or():
            return e.operands
        case MacroUse():
            return (e.body,)
        case Not():
            return (e.operand,)
        case Compare() | InTest() | StringTest():
            return (e.left, e.right)
        case Matches() | Glob():
            return (e.left,)
        case Exists():
            return (e.path,)
        case Call():
            return e.args
        case Quantifier():
            return (e.path, e.body)
        case MacroRef() | BoolConst() | Path() | Literal_() | ListLit() | ListRef():
            return ()
        case _:
            assert_never(e)


# ---- declarations -----------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    name: str
    expect_match: bool
    event: dict[str, Any] | list[dict[str, Any]] = field(hash=False)
    """One record, or (a ctrules extension) a list of records run through the rule together."""
    routes: tuple[str, ...] | None = None
    span: Span | None = _span()


@dataclass(frozen=True)
class PropSpan:
    """Where one property of a block was written: its keyword, and the whole property."""

    name: str
    keyword: Span
    span: Span


@dataclass(frozen=True)
class ListDecl:
    name: str
    items: ListLit
    span: Span | None = _span()
    name_span: Span | None = _span()


@dataclass(frozen=True)
class MacroDecl:
    name: str
    expr: Expr
    span: Span | None = _span()
    name_span: Span | None = _span()


@dataclass(frozen=True)
class Text:
    """A string property (description, summary, reason, ...) with where it was written."""

    value: str
    raw: bool = field(default=False, compare=False)
    span: Span | None = _span()


# ---- stateful rules (ctrules extension) -------------------------------------------------

StatefulKind = Literal["count", "distinct", "first_seen", "sequence"]
DURATION_UNITS: dict[str, int] = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Duration:
    """`10m`, `90d`: compared by length, so `600s` and `10m` are one duration."""

    seconds: int
    text: str = field(default="", compare=False)
    span: Span | None = _span()


@dataclass(frozen=True)
class Stateful:
    """A rule's state clause (`count`, `distinct`, `first_seen` or `sequence`): the rule
    alerts on what the events its `when` selects add up to, per `key`, within `window`."""

    kind: StatefulKind
    key: tuple[Path, ...]
    window: Duration
    threshold: int | None = None  # count / distinct: at least this many
    value: Path | None = None  # distinct: the path counted; first_seen: the value per key
    steps: tuple[Expr, ...] = ()  # sequence: each a condition, in event-time order
    threshold_span: Span | None = _span()
    span: Span | None = _span()


@dataclass(frozen=True)
class RuleDecl:
    name: str
    when: Expr | None
    severity: str = "medium"
    description: Text | None = None
    summary: Text | None = None
    tags: tuple[str, ...] = ()
    enabled: bool = True
    group_by: tuple[Path, ...] | None = None
    examples: tuple[Example, ...] = ()
    span: Span | None = _span()
    severity_given: bool = field(default=False, compare=False)
    stateful: Stateful | None = None
    name_span: Span | None = _span()
    props: tuple[PropSpan, ...] = _written(())
    """Every property as written, in order (empty when the node was not parsed from text)."""


@dataclass(frozen=True)
class IgnoreDecl:
    name: str
    when: Expr | None
    reason: Text | None = None
    owner: Text | None = None
    expires: Text | None = None
    rules: tuple[str, ...] | None = None
    span: Span | None = _span()
    rule_spans: tuple[Span | None, ...] = field(default=(), compare=False, hash=False, repr=False)
    name_span: Span | None = _span()
    props: tuple[PropSpan, ...] = _written(())


@dataclass(frozen=True)
class RouteDecl:
    name: str
    when: Expr | None
    to: tuple[str, ...] = ()
    to_is_list: bool = field(default=False, compare=False)
    span: Span | None = _span()
    name_span: Span | None = _span()
    props: tuple[PropSpan, ...] = _written(())


Decl = Union[ListDecl, MacroDecl, RuleDecl, IgnoreDecl, RouteDecl]


@dataclass(frozen=True)
class Comment:
    text: str  # including the leading '#'
    span: Span | None = _span()
    own_line: bool | None = _written(None)
    """Only blanks before it on its line (None: not known, the node was not parsed from text)."""
    blank_after: bool = _written(False)
    """The line after it is blank."""


@dataclass(frozen=True)
class RuleFile:
    path: str
    decls: tuple[Decl, ...]
    comments: tuple[Comment, ...] = field(default=(), compare=False)
