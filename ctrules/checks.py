"""Pipeline stage 3 — the checker: parsed rule files → every finding about the rule set.

`.ctr text → parser → nodes → **checks** → compiler → RuleSet`.

`check_sources` parses each file (a syntax error in one file is a CTR001 finding and the others are
still checked), then looks at the whole rule set at once: names are one namespace across files,
macros are expanded where they are used, and every finding is collected (nothing stops at the
first). `ctrules check` prints the findings; `ctrules.load_rules` refuses a rule set that has any
error (an expired ignore aside, see docs/diagnostics.md), so the compiler only ever sees rule sets
this module has passed.

Beyond validity, it knows the documented types of CloudTrail fields (type-mismatch warnings) and
runs a small three-valued constant analysis over `when`s (never/always-matching rules): sound for
well-formed CloudTrail records, it claims a constant only when it holds for every such record.

Every code lives in `CODES` (code → name, severity, one-line doc) and is documented with an example
and its fix in docs/diagnostics.md. Codes never change meaning; new checks get new codes.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import ipaddress
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path as FsPath
from typing import Any, Literal

import re2
from lark.exceptions import VisitError

from . import nodes as n
from .binding import Binder, list_items, list_name
from .compiler import glob_matcher
from .diagnostics import Diagnostic, Level, sort_key
from .formatter import format_expr
from .gcpause import gc_paused
from .parser import MAX_STRING_CHARS, CtrSyntaxError, parse
from .templates import parse_template

# ---- the code table -------------------------------------------------------------------------


MAX_DEPTH = 100
"""How deeply a `when` may nest (and/or/not/any/all, macros expanded). Real rules stay under 20;
the limit keeps every later stage (compiler, explain) far from Python's recursion limit."""

MAX_EXPANDED_NODES = 100_000
"""How many nodes (conditions, junctions, operands) a `when` may have with its macros expanded.
A macro used twice counts twice: that is what evaluation and explain walk, so a chain such as
`m0 = m1 and m1`, `m1 = m2 and m2`, ... doubles per level. The default pack's largest rule has
a few hundred; 100,000 keeps loading and evaluating any accepted rule set bounded."""


@dataclass(frozen=True)
class CodeInfo:
    name: str
    severity: Level
    doc: str


CODES: Mapping[str, CodeInfo] = {
    # reported by the parser (ctrules/parser.py)
    "CTR001": CodeInfo("syntax-error", "error", "The text is not valid .ctr (or not UTF-8)."),
    "CTR003": CodeInfo("duplicate-property", "error", "A property is given twice in one block."),
    "CTR004": CodeInfo("missing-property", "error",
                       "A rule/ignore/route has no `when`, an ignore no `reason`, a route no "
                       "`to`."),
    "CTR006": CodeInfo("invalid-value", "error",
                       "A property or string has a value it cannot take (e.g. an unknown "
                       "severity, a lone surrogate)."),
    "CTR012": CodeInfo("unknown-function", "error",
                       "A call to a function that does not exist (only lower, upper, len, cidr)."),
    "CTR013": CodeInfo("bad-call", "error", "A function called with the wrong arguments."),
    # reported here
    "CTR002": CodeInfo("duplicate-name", "error",
                       "A name is declared twice in the rule set (all files share one namespace)."),
    "CTR005": CodeInfo("reserved-name", "error",
                       "A list or macro is named like a top-level CloudTrail field."),
    "CTR007": CodeInfo("it-outside-quantifier", "error",
                       "`it` is used outside any/all, where there is no current element."),
    "CTR008": CodeInfo("rule-field-outside-route", "error",
                       "`rule.…` is used outside a route `when` (it describes the alert's rule)."),
    "CTR009": CodeInfo("unknown-rule-field", "error",
                       "A route uses `rule.X` other than rule.name, rule.severity, rule.tags."),
    "CTR010": CodeInfo("undefined-name", "error",
                       "A bare-name condition that is not a macro, or an unknown rule in `rules`."),
    "CTR011": CodeInfo("recursive-macro", "error", "Macros refer to each other in a cycle."),
    "CTR014": CodeInfo("invalid-regex", "error", "A `matches` pattern that RE2 rejects."),
    "CTR015": CodeInfo("invalid-cidr", "error", "A cidr(...) argument that is not a network."),
    "CTR016": CodeInfo("invalid-template", "error",
                       "A summary placeholder that is not a field path, or a lone/empty brace."),
    "CTR017": CodeInfo("expired-ignore", "error", "An ignore whose `expires` date has passed."),
    "CTR018": CodeInfo("invalid-date", "error", "`expires` is not an ISO date YYYY-MM-DD."),
    "CTR019": CodeInfo("wrong-kind-of-name", "error",
                       "A name is used as the wrong kind: a list as a condition, a macro as a "
                       "list or value, a non-rule in an ignore's `rules`."),
    "CTR020": CodeInfo("invalid-group-by", "error",
                       "A group_by entry that is not a path of the event."),
    "CTR021": CodeInfo("too-deep", "error",
                       f"A condition nests more than {MAX_DEPTH} levels (macros expanded), or "
                       "a file nests too deeply to parse."),
    "CTR022": CodeInfo("too-large", "error",
                       f"A condition with more than {MAX_EXPANDED_NODES:,} nodes (macros "
                       "expanded), a string or number literal over the size limit, or a glob "
                       "too large to compile."),
    "CTR023": CodeInfo("bidi-control", "error",
                       "A bidirectional control character (U+202A-U+202E, U+2066-U+2069), "
                       "which can make a rule display differently from what it means."),
    "CTR101": CodeInfo("type-mismatch", "warning",
                       "A known field or function result compared with a literal of another "
                       "type (always false)."),
    "CTR102": CodeInfo("quoted-path", "warning",
                       "A string literal that looks like a field path on the right of a "
                       "comparison."),
    "CTR103": CodeInfo("unowned-ignore", "warning", "An ignore without an `owner`."),
    "CTR104": CodeInfo("missing-examples", "warning",
                       "A rule without at least one `match` and one `no match` example."),
    "CTR105": CodeInfo("never-matches", "warning", "A `when` that can never be true."),
    "CTR106": CodeInfo("always-matches", "warning",
                       "A rule or ignore `when` that is true for every event."),
    "CTR107": CodeInfo("unknown-event-name", "warning",
                       "An eventName no AWS service emits, or an unknown eventSource "
                       "(ctrules.checks_cloudtrail)."),
    "CTR108": CodeInfo("event-source-mismatch", "warning",
                       "An eventName that the eventSource the same rule requires never emits "
                       "(ctrules.checks_cloudtrail)."),
    "CTR109": CodeInfo("undeclared-list", "warning",
                       "`in NAME` where NAME is no declared list (it is read as a field)."),
    "CTR110": CodeInfo("self-comparison", "warning", "A comparison of a value with itself."),
    "CTR111": CodeInfo("unknown-rule-name", "warning",
                       "A route compares rule.name with a name no rule has."),
    "CTR112": CodeInfo("not-a-severity", "warning",
                       "A route compares rule.severity with something that is not a severity."),
    "CTR113": CodeInfo("dead-condition", "warning",
                       "One condition is the same for every event (e.g. lower(x) == \"Admin\", "
                       "x in []), though the `when` around it is not."),
}

TOP_LEVEL_FIELDS: frozenset[str] = frozenset(
    "eventVersion userIdentity eventTime eventSource eventName awsRegion sourceIPAddress "
    "userAgent errorCode errorMessage requestParameters responseElements additionalEventData "
    "requestID eventID readOnly resources eventType apiVersion managementEvent "
    "recipientAccountId serviceEventDetails sharedEventID vpcEndpointId vpcEndpointAccountId "
    "eventCategory addendum sessionCredentialFromConsole edgeDeviceDetails tlsDetails "
    "insightDetails".split()
)

RULE_FIELDS: frozenset[str] = frozenset({"name", "severity", "tags"})

ExtraCheck = Callable[[list[n.RuleFile]], list[Diagnostic]]
EXTRA_CHECKS: list[ExtraCheck] = []
"""Further checks run after the built-in ones (each gets every parsed file). The CloudTrail
catalog checks in `ctrules.checks_cloudtrail` are added automatically when that module exists."""

_CLOUDTRAIL_CHECKS = "ctrules.checks_cloudtrail"


def _extra_checks() -> list[ExtraCheck]:
    checks = list(EXTRA_CHECKS)
    # Only a missing module is skipped; a module that exists but fails to import is a bug that
    # must surface, so this does not catch ImportError around the import itself.
    if importlib.util.find_spec(_CLOUDTRAIL_CHECKS) is not None:
        module = importlib.import_module(_CLOUDTRAIL_CHECKS)
        found = getattr(module, "cloudtrail_findings", None)
        if callable(found):
            checks.append(found)
    return checks


# ---- public API ----------------------------------------------------------------------------


def load_sources(paths: Sequence[str | FsPath]) -> list[tuple[str, str]]:
    """Read rule files: `(filename, text)` pairs, directories searched recursively for `*.ctr`.

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
            files = sorted((p for p in path.rglob("*.ctr") if p.is_file()),
                           key=lambda p: p.relative_to(path).as_posix())
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
    sources: Sequence[tuple[str, str]], today: date | None = None
) -> tuple[list[n.RuleFile], list[Diagnostic]]:
    """Parse and check a whole rule set; returns the parsed files and ALL findings, sorted."""
    with gc_paused():
        return _check_sources(sources, today)


def _check_sources(
    sources: Sequence[tuple[str, str]], today: date | None
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
    if not any(d.code == "CTR021" for d in diagnostics) and not checker.too_large:
        for extra in _extra_checks():
            diagnostics.extend(extra(files))
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


def _diag(code: str, span: n.Span, message: str, hint: str | None = None) -> Diagnostic:
    return Diagnostic(code, CODES[code].severity, message, span, hint)


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


# ---- field types ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Ty:
    kind: Literal["str", "bool", "num", "obj", "arr"]
    fields: Mapping[str, _Ty] | None = None  # obj: known keys; None = keys vary (no findings)
    elem: _Ty | None = None  # arr


_STR = _Ty("str")
_BOOL = _Ty("bool")
_NUM = _Ty("num")
_ANYOBJ = _Ty("obj")


def _obj(**fields: _Ty) -> _Ty:
    return _Ty("obj", fields)


_ISSUER = _obj(type=_STR, principalId=_STR, arn=_STR, accountId=_STR, userName=_STR)
_USER_IDENTITY = _obj(
    type=_STR, principalId=_STR, arn=_STR, accountId=_STR, accessKeyId=_STR, userName=_STR,
    invokedBy=_STR, identityProvider=_STR, credentialId=_STR,
    onBehalfOf=_obj(userId=_STR, identityStoreArn=_STR),
    sessionContext=_obj(
        sourceIdentity=_STR, ec2RoleDelivery=_STR, assumedRoot=_STR, sessionIssuer=_ISSUER,
        # CloudTrail writes these two as strings ("true"/"false", an ISO time).
        attributes=_obj(creationDate=_STR, mfaAuthenticated=_STR),
        webIdFederationData=_obj(federatedProvider=_STR, attributes=_ANYOBJ),
    ),
)

# The documented shape of a CloudTrail record. Objects whose keys vary by API (requestParameters,
# responseElements, ...) have no field list, so nothing under them is second-guessed.
EVENT_TYPE: _Ty = _obj(
    eventVersion=_STR, userIdentity=_USER_IDENTITY, eventTime=_STR, eventSource=_STR,
    eventName=_STR, awsRegion=_STR, sourceIPAddress=_STR, userAgent=_STR, errorCode=_STR,
    errorMessage=_STR, requestID=_STR, eventID=_STR, readOnly=_BOOL, eventType=_STR,
    apiVersion=_STR, managementEvent=_BOOL, recipientAccountId=_STR, sharedEventID=_STR,
    vpcEndpointId=_STR, vpcEndpointAccountId=_STR, eventCategory=_STR,
    sessionCredentialFromConsole=_STR,
    resources=_Ty("arr", elem=_obj(ARN=_STR, accountId=_STR, type=_STR)),
    addendum=_obj(reason=_STR, updatedFields=_STR, originalRequestID=_STR, originalEventID=_STR),
    tlsDetails=_obj(tlsVersion=_STR, cipherSuite=_STR, clientProvidedHostHeader=_STR),
    # Per-event objects: only the keys CloudTrail documents for every event that has them.
    additionalEventData=_obj(MFAUsed=_STR, LoginTo=_STR, MobileVersion=_STR),
    requestParameters=_ANYOBJ, responseElements=_ANYOBJ,
    serviceEventDetails=_ANYOBJ, edgeDeviceDetails=_ANYOBJ, insightDetails=_ANYOBJ,
)

_RULE_TYPES: Mapping[str, _Ty] = {"name": _STR, "severity": _STR, "tags": _STR}

_KIND_NAMES = {"str": "a string", "bool": "a boolean", "num": "a number", "obj": "an object",
               "arr": "an array", "null": "null", "list": "a list"}


def _step(ty: _Ty, seg: str | int) -> tuple[_Ty | None, bool]:
    """One path segment; returns the type reached and whether an array was crossed."""
    crossed = False
    if ty.kind == "arr" and ty.elem is not None:
        crossed = True
        if isinstance(seg, int):
            return ty.elem, True
        ty = ty.elem
    if ty.kind == "obj" and ty.fields is not None and isinstance(seg, str):
        return ty.fields.get(seg), crossed
    return None, crossed


def _resolve(start: _Ty | None, segments: Sequence[str | int]) -> tuple[_Ty | None, bool]:
    """The type of the values a path reaches (arrays at the end expanded) and whether the path
    can reach several values."""
    ty = start
    multi = False
    for seg in segments:
        if ty is None:
            return None, multi
        ty, crossed = _step(ty, seg)
        multi = multi or crossed
    while ty is not None and ty.kind == "arr":
        multi = True
        ty = ty.elem
    return ty, multi


def _literal_kind(value: n.Value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "num"
    if isinstance(value, str):
        return "str"
    return "list"


def _value_key(value: n.Value) -> Any:
    """A hashable key with `==` semantics of the language (1 == 1.0, true != 1)."""
    kind = _literal_kind(value)
    if kind == "list":
        assert isinstance(value, tuple)
        return ("list", tuple(_value_key(v) for v in value))
    return (kind, value)


def _render(value: n.Value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, tuple):
        return "[" + ", ".join(_render(v) for v in value) + "]"
    return repr(value)


_FIELD_PATH_RE = re.compile(
    r"(?:event\.)?(?:" + "|".join(sorted(TOP_LEVEL_FIELDS)) + r")(?:\.[A-Za-z0-9_]+)+\Z"
)
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")


def expiry_date(ignore: n.IgnoreDecl) -> date | None:
    """The ignore's `expires` date, or None when it has none or it is not a YYYY-MM-DD date."""
    if ignore.expires is None or not _ISO_DATE.match(ignore.expires.value):
        return None
    try:
        return date.fromisoformat(ignore.expires.value)
    except ValueError:
        return None
_ASCII_UPPER = re.compile(r"[A-Z]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_ASCII_LOWER = re.compile(r"[a-z]")

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # the finding carries RE2's message; don't also log it


# ---- the checker -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Ctx:
    where: Literal["rule", "ignore", "route", "macro"]
    decl: str
    depth: int = 0  # any/all nesting
    elem: _Ty | None = EVENT_TYPE  # the type of the current element (the record at depth 0)
    # conditions found constant while walking the declaration: (condition, value, why)
    dead: list[tuple[n.Expr, bool, str]] = field(default_factory=list, compare=False)


@dataclass
class _MacroFacts:
    refs: list[n.MacroRef] = field(default_factory=list)
    top_refs: list[str] = field(default_factory=list)  # macros used outside any/all in the body
    it_use: n.Span | None = None  # `it` outside any/all in the body
    rule_use: n.Span | None = None  # `rule.…` in the body


_Decl = n.ListDecl | n.MacroDecl | n.RuleDecl | n.IgnoreDecl | n.RouteDecl
_KIND_OF = {n.ListDecl: "list", n.MacroDecl: "macro", n.RuleDecl: "rule",
            n.IgnoreDecl: "ignore", n.RouteDecl: "route"}


class _Checker:
    def __init__(self, files: list[n.RuleFile], texts: Mapping[str, str] | None, today: date,
                 broken_names: set[str]):
        # `texts` (the sources) is not read: the nodes carry everything that was written. It
        # stays in the signature for the callers that pass it.
        self.files = files
        self.today = today
        self.broken_names = broken_names
        self.out: list[Diagnostic] = []
        self.decls: dict[str, tuple[_Decl, n.Span]] = {}
        self.lists: dict[str, n.ListDecl] = {}
        self.macros: dict[str, n.MacroDecl] = {}
        self.rules: dict[str, n.RuleDecl] = {}
        self.facts: dict[str, _MacroFacts] = {}
        self._trans: dict[str, tuple[n.Span | None, n.Span | None]] = {}
        self.macro_depth: dict[str, int] = {}
        self.macro_size: dict[str, int] = {}
        self.too_large = False  # some expression exceeds MAX_EXPANDED_NODES
        self.binder = Binder({}, {})  # set once the names are collected

    def emit(self, code: str, span: n.Span | None, message: str, hint: str | None = None,
             fallback: n.Span | None = None) -> None:
        where = span or fallback
        if where is None:
            where = n.Span("<unknown>", 1, 1, 1, 1)
        self.out.append(_diag(code, where, message, hint))

    @staticmethod
    def name_span(decl: _Decl) -> n.Span | None:
        return decl.name_span or decl.span

    # ---- driver ----
    def run(self) -> list[Diagnostic]:
        self.collect_names()
        for name, macro in self.macros.items():
            self.facts[name] = self.macro_facts(macro)
        self.summarize_macros(self.order_macros())
        for file in self.files:
            for decl in file.decls:
                try:
                    self.check_decl(decl)
                except RecursionError:
                    # Only reachable past MAX_DEPTH, which is reported on its own; say so here
                    # too rather than crash or stay silent.
                    self.emit("CTR021", self.name_span(decl),
                              f"{_KIND_OF[type(decl)]} {decl.name} is nested too deeply to check",
                              "split the condition into flatter macros")
        return self.out

    def check_literals(self, root: Any) -> None:
        """Strings must be text: a lone UTF-16 surrogate (`"\\ud800"`, which JSON escapes can
        spell) cannot be encoded, matched by RE2 or sent to Slack."""
        pending = [root]
        while pending:
            e = pending.pop()
            if isinstance(e, (n.Literal_, n.Text)) and _has_surrogate(e.value):
                self.emit("CTR006", e.span, "the string contains a lone surrogate "
                          f"({_first_surrogate(str(e.value))}), which is not text",
                          "write the character itself, or a valid \\u escape pair")
            elif isinstance(e, n.ListLit):
                pending.extend(e.items)
            elif isinstance(e, (n.Matches, n.Glob)):
                pending.extend((e.left, e.pattern))
            elif e is not None and not isinstance(e, n.Text):
                pending.extend(n.children(e))

    def check_decl(self, decl: _Decl) -> None:
        if isinstance(decl, n.ListDecl):
            self.check_literals(decl.items)
        elif isinstance(decl, n.RuleDecl) and decl.summary is not None:
            self.check_literals(decl.summary)
        if not isinstance(decl, n.ListDecl):
            self.check_literals(decl.expr if isinstance(decl, n.MacroDecl) else decl.when)
        if isinstance(decl, n.MacroDecl):
            if (self.macro_depth.get(decl.name, 0) <= MAX_DEPTH  # else reported already
                    and self.macro_size.get(decl.name, 0) <= MAX_EXPANDED_NODES):
                ctx = _Ctx("macro", decl.name)
                self.walk(decl.expr, ctx)
                self.report_dead(ctx.dead)
            return
        if isinstance(decl, n.ListDecl):
            return
        if decl.when is not None:
            depth = self.depth(decl.when)
            if depth > MAX_DEPTH:
                self.emit("CTR021", decl.when.span,
                          f"this `when` nests {depth} levels deep with macros expanded (the "
                          f"limit is {MAX_DEPTH})", "split the condition into flatter macros")
                return
            size = self.size(decl.when)
            if size > MAX_EXPANDED_NODES:
                self.too_large = True
                if not any(self.macro_size.get(r.name, 0) > MAX_EXPANDED_NODES
                           for r in _macro_refs(decl.when)):  # else reported at the macro
                    self.emit("CTR022", decl.when.span,
                              f"this `when` has {size:,} nodes with macros expanded (the limit "
                              f"is {MAX_EXPANDED_NODES:,})",
                              "a macro used several times is copied at each use; use it once, "
                              "or test a list with `in`")
                return
        if isinstance(decl, n.RuleDecl):
            self.check_rule(decl)
        elif isinstance(decl, n.IgnoreDecl):
            self.check_ignore(decl)
        else:
            self.check_route(decl)

    def collect_names(self) -> None:
        for file in self.files:
            for decl in file.decls:
                span = self.name_span(decl)
                kind = _KIND_OF[type(decl)]
                first = self.decls.get(decl.name)
                if first is not None:
                    first_decl, first_span = first
                    self.emit("CTR002", span,
                              f"{kind} {decl.name!r} is already declared "
                              f"(as {_KIND_OF[type(first_decl)]} at {first_span})",
                              f"rename one of them; the first is at {first_span}")
                    continue
                self.decls[decl.name] = (decl, span or n.Span(file.path, 1, 1, 1, 1))
                if isinstance(decl, (n.ListDecl, n.MacroDecl)) and decl.name in TOP_LEVEL_FIELDS:
                    self.emit("CTR005", span,
                              f"{kind} {decl.name!r} has the name of a CloudTrail field",
                              f"rename it, e.g. {decl.name}_{'values' if kind == 'list' else 'x'}")
                if isinstance(decl, n.ListDecl):
                    self.lists[decl.name] = decl
                elif isinstance(decl, n.MacroDecl):
                    self.macros[decl.name] = decl
                elif isinstance(decl, n.RuleDecl):
                    self.rules[decl.name] = decl

        self.binder = Binder({name: d.items for name, d in self.lists.items()}, self.macros)

    # ---- macros ----
    def macro_facts(self, macro: n.MacroDecl) -> _MacroFacts:
        facts = _MacroFacts()
        # Iterative: this runs before the depth limit is known to hold.
        pending: list[tuple[Any, int]] = [(macro.expr, 0)]  # (node, any/all nesting)
        while pending:
            e, depth = pending.pop()
            if isinstance(e, n.MacroRef):
                facts.refs.append(e)
                if depth == 0:
                    facts.top_refs.append(e.name)
            elif isinstance(e, n.Quantifier):
                pending.append((e.body, depth + 1))
                pending.append((e.path, depth))
            elif isinstance(e, n.Path):
                if depth == 0 and (e.anchor == "it" or e.written_it):
                    facts.it_use = facts.it_use or e.span
                if e.anchor == "rule":
                    facts.rule_use = facts.rule_use or e.span
            else:
                pending.extend((child, depth) for child in reversed(n.children(e)))
        return facts

    def transitive(self, name: str) -> tuple[n.Span | None, n.Span | None]:
        """(an `it` use outside any/all, a `rule.` use) in the macro or the macros it uses."""
        return self._trans.get(name, (None, None))

    def order_macros(self) -> list[str]:
        """Macros in dependency order (each after the macros it uses), reporting every cycle
        once. Iterative, so that a long chain of macros cannot exhaust Python's stack."""
        graph = {name: [r.name for r in f.refs if r.name in self.macros]
                 for name, f in self.facts.items()}
        state: dict[str, int] = {}  # 1 = on the DFS path, 2 = done
        order: list[str] = []
        reported: set[frozenset[str]] = set()
        for root in self.macros:
            if root in state:
                continue
            state[root] = 1
            path = [root]
            pending = [iter(graph[root])]
            while pending:
                target = next(pending[-1], None)
                if target is None:
                    done = path.pop()
                    pending.pop()
                    state[done] = 2
                    order.append(done)
                elif state.get(target) == 1:
                    cycle = path[path.index(target):]
                    if frozenset(cycle) not in reported:
                        reported.add(frozenset(cycle))
                        self.report_cycle(cycle)
                elif target not in state:
                    state[target] = 1
                    path.append(target)
                    pending.append(iter(graph[target]))
        return order

    def summarize_macros(self, order: list[str]) -> None:
        """Per macro, with the macros it uses folded in: `it`/`rule.` uses and nesting depth."""
        for name in order:
            facts = self.facts[name]
            it_use, rule_use = facts.it_use, facts.rule_use
            for ref in facts.refs:
                # not computed yet only for a reference that closes a cycle (reported already)
                sub_it, sub_rule = self._trans.get(ref.name, (None, None))
                if ref.name in facts.top_refs:  # `it` under an any/all of this macro is bound
                    it_use = it_use or sub_it
                rule_use = rule_use or sub_rule
            self._trans[name] = (it_use, rule_use)
            self.macro_depth[name] = self.depth(self.macros[name].expr)
            self.macro_size[name] = self.size(self.macros[name].expr)
            if self.macro_size[name] > MAX_EXPANDED_NODES and all(
                    self.macro_size.get(r.name, 0) <= MAX_EXPANDED_NODES for r in facts.refs):
                self.too_large = True
                self.emit("CTR022", self.name_span(self.macros[name]),
                          f"macro {name} expands to {self.macro_size[name]:,} nodes with the "
                          f"macros it uses expanded (the limit is {MAX_EXPANDED_NODES:,})",
                          "a macro used several times is copied at each use; use it once, or "
                          "test a list with `in`")
            if self.macro_depth[name] > MAX_DEPTH and all(
                    self.macro_depth.get(r.name, 0) <= MAX_DEPTH for r in facts.refs):
                self.emit("CTR021", self.name_span(self.macros[name]),
                          f"macro {name} nests {self.macro_depth[name]} levels deep with the "
                          f"macros it uses expanded (the limit is {MAX_DEPTH})",
                          "split the condition into flatter macros")

    def size(self, root: Any) -> int:
        """Node count of an expression with macros expanded (each use counts the whole macro),
        from the sizes of the macros it uses: linear, however often they are shared."""
        total = 0
        pending: list[Any] = [root]
        while pending:
            e = pending.pop()
            total += self.macro_size.get(e.name, 0) if isinstance(e, n.MacroRef) else 1
            pending.extend(n.children(e))
        return total

    def depth(self, root: Any) -> int:
        """Nesting depth of an expression with macros expanded (as the compiler inlines them).
        Iterative, so that it can measure what is too deep to recurse over."""
        deepest = 0
        pending: list[tuple[Any, int]] = [(root, 1)]
        while pending:
            e, level = pending.pop()
            if isinstance(e, n.MacroRef):
                level += self.macro_depth.get(e.name, 0)
            deepest = max(deepest, level)
            pending.extend((child, level + 1) for child in n.children(e))
        return deepest

    def report_cycle(self, cycle: list[str]) -> None:
        """One finding per cycle, at the reference made by its first-declared macro."""
        positions = {name: i for i, name in enumerate(self.macros)}
        start = min(range(len(cycle)), key=lambda i: positions[cycle[i]])
        rotated = cycle[start:] + cycle[:start]
        made_in, target = rotated[0], rotated[1 % len(rotated)]
        ref_span = next((r.span for r in self.facts[made_in].refs if r.name == target), None)
        path = " -> ".join([*rotated, rotated[0]])
        self.emit("CTR011", ref_span, f"recursive macro: {path}",
                  "a macro may use other macros, but never itself, directly or through others",
                  fallback=self.macros[made_in].span)

    # ---- declarations ----
    def check_rule(self, rule: n.RuleDecl) -> None:
        ctx = _Ctx("rule", rule.name)
        if rule.when is not None:
            self.walk(rule.when, ctx)
            self.check_constant(rule.when, f"rule {rule.name}", True, ctx.dead)
        if rule.summary is not None:
            self.check_template(rule.summary, rule)
        for gpath in rule.group_by or ():
            if gpath.anchor == "rule":
                self.emit("CTR020", gpath.span, "group_by takes paths of the event, not rule.…",
                          "alerts are grouped per rule already; name event fields here")
            elif gpath.anchor == "it" or gpath.written_it:
                self.emit("CTR020", gpath.span, "`it` means nothing in group_by",
                          "name a field of the event, e.g. userIdentity.arn")
        has_match = any(e.expect_match for e in rule.examples)
        has_no_match = any(not e.expect_match for e in rule.examples)
        if not (has_match and has_no_match):
            missing = ("examples (it needs a `match` and a `no match` one)"
                       if not (has_match or has_no_match)
                       else "`no match` example" if has_match else "`match` example")
            self.emit("CTR104", self.name_span(rule), f"rule {rule.name} has no {missing}",
                      'add `example "..." match {...}` and `example "..." no match {...}` — '
                      "`ctrules test` runs them")

    def check_template(self, text: n.Text, rule: n.RuleDecl) -> None:
        filename = text.span.file if text.span else (rule.span.file if rule.span else "<string>")
        template, problems = parse_template(text, filename)
        self.out.extend(problems)
        for part in template.parts:
            if isinstance(part, n.Path):
                if part.anchor == "rule":
                    self.emit("CTR016", part.span, "a placeholder names a field of the event",
                              "rule.… is only for routes; write the rule's text directly",
                              fallback=text.span)
                elif part.anchor == "it":
                    self.emit("CTR016", part.span, "`it` means nothing in a summary",
                              "name a field of the event, e.g. {userIdentity.arn}",
                              fallback=text.span)
                elif part.written_it:  # `{it.x}`: the path x, written as if in any/all
                    self.emit("CTR016", text.span, "`it` means nothing in a summary",
                              "name a field of the event, e.g. {userIdentity.arn}")

    def check_ignore(self, ignore: n.IgnoreDecl) -> None:
        name_span = self.name_span(ignore)
        if ignore.when is not None:
            ctx = _Ctx("ignore", ignore.name)
            self.walk(ignore.when, ctx)
            self.check_constant(ignore.when, f"ignore {ignore.name}", True, ctx.dead)
        for i, rule_name in enumerate(ignore.rules or ()):
            span = ignore.rule_spans[i] if i < len(ignore.rule_spans) else name_span
            if rule_name in self.rules or rule_name in self.broken_names:
                continue
            other = self.decls.get(rule_name)
            if other is not None:
                self.emit("CTR019", span,
                          f"{rule_name!r} is a {_KIND_OF[type(other[0])]}, not a rule",
                          "`rules` lists the rules this ignore silences", fallback=name_span)
            else:
                self.emit("CTR010", span, f"no rule named {rule_name!r}",
                          _did_you_mean(rule_name, self.rules) or
                          "`rules` lists the rules this ignore silences", fallback=name_span)
        if ignore.owner is None:
            self.emit("CTR103", name_span, f"ignore {ignore.name} has no owner",
                      'add `owner "team-name"` so someone reviews it')
        if ignore.expires is not None:
            raw = ignore.expires.value
            parsed = expiry_date(ignore)
            if parsed is None:
                self.emit("CTR018", ignore.expires.span, f"expires {raw!r} is not a date",
                          'write an ISO date: expires "2027-06-30"', fallback=name_span)
            elif parsed < self.today:
                self.emit("CTR017", ignore.expires.span,
                          f"ignore {ignore.name} expired on {parsed.isoformat()}",
                          "review it: delete the ignore, or set a new `expires` date",
                          fallback=name_span)

    def check_route(self, route: n.RouteDecl) -> None:
        if route.when is not None:
            ctx = _Ctx("route", route.name)
            self.walk(route.when, ctx)
            # A constant-true route is the usual catch-all ("everything also goes to X").
            self.check_constant(route.when, f"route {route.name}", False, ctx.dead)

    # ---- expressions ----
    def walk(self, e: n.Expr, ctx: _Ctx) -> None:
        if isinstance(e, (n.And, n.Or)):
            for child in e.operands:
                self.walk(child, ctx)
        elif isinstance(e, n.Not):
            self.walk(e.operand, ctx)
        elif isinstance(e, n.MacroRef):
            self.check_macro_ref(e, ctx)
        elif isinstance(e, n.Quantifier):
            elem = self.check_path(e.path, ctx)
            self.walk(e.body, replace(ctx, depth=ctx.depth + 1, elem=elem))
        elif isinstance(e, (n.Compare, n.InTest, n.StringTest, n.Glob)):
            dead = _dead_condition(e, self.list_items)
            if dead is not None:
                ctx.dead.append((e, *dead))
            if isinstance(e, n.Compare):
                self.check_compare(e, ctx)
            elif isinstance(e, n.InTest):
                self.check_in(e, ctx)
            elif isinstance(e, n.StringTest):
                self.check_string_test(e, ctx)
            else:
                left = self.operand_type(e.left, ctx)
                self.string_left(left, e.left, "glob", e.span)
                self.check_glob(e)
        elif isinstance(e, n.Matches):
            left = self.operand_type(e.left, ctx)
            self.string_left(left, e.left, "matches", e.span)
            if _has_surrogate(e.pattern.value):
                return  # CTR006, from check_literals
            try:
                re2.compile(str(e.pattern.value), _RE2_OPTIONS)
            except re2.error as err:
                detail = err.args[0] if err.args else err
                if isinstance(detail, bytes):
                    detail = detail.decode("utf-8", "replace")
                self.emit("CTR014", e.pattern.span, f"invalid regex: {detail}",
                          "RE2 syntax: no backreferences or lookaround; "
                          'write regexes as raw strings r"..."', fallback=e.span)
        elif isinstance(e, n.Exists):
            self.check_path(e.path, ctx)

    def check_glob(self, e: n.Glob) -> None:
        """A glob compiles to an RE2 program (`?` and `*` become `.`/`.*`), which RE2 refuses
        past its memory budget: refuse it here, not at load."""
        if _has_surrogate(e.pattern.value) or len(str(e.pattern.value)) > MAX_STRING_CHARS:
            return  # CTR006 / CTR022 from the parser
        try:
            glob_matcher(str(e.pattern.value))
        except re2.error as err:
            self.emit("CTR022", e.pattern.span, f"the glob pattern is too large to compile: {err}",
                      "use fewer `?`/`*`, or a `matches` regex with counted repetition",
                      fallback=e.span)

    def check_macro_ref(self, e: n.MacroRef, ctx: _Ctx) -> None:
        if e.name in self.macros:
            if ctx.where == "macro":
                return  # judged where the macro is used
            it_use, rule_use = self.transitive(e.name)
            if it_use is not None and ctx.depth == 0:
                self.emit("CTR007", e.span,
                          f"macro {e.name} uses `it`, which only means something inside any/all",
                          f"`it` is at {it_use}")
            if rule_use is not None and ctx.where != "route":
                self.emit("CTR008", e.span,
                          f"macro {e.name} uses rule.…, which only routes can use",
                          f"rule.… is at {rule_use}")
            return
        if e.name in self.lists:
            self.emit("CTR019", e.span, f"{e.name!r} is a list, not a condition",
                      f"test a field against it: `eventName in {e.name}`")
            return
        if e.name in self.decls:
            kind = _KIND_OF[type(self.decls[e.name][0])]
            self.emit("CTR019", e.span, f"{e.name!r} is a {kind}, not a condition",
                      "a bare name as a condition must be a macro")
            return
        if e.name in self.broken_names:
            return
        if e.name in TOP_LEVEL_FIELDS or not _did_you_mean(e.name, self.macros):
            example = {"readOnly": "readOnly == true", "managementEvent": "managementEvent == true"}
            self.emit("CTR010", e.span,
                      f"{e.name!r} is not a macro; a bare name is not a condition",
                      "there is no truthiness: compare it, e.g. "
                      f"`{example.get(e.name, 'readOnly == true')}` or `{e.name} exists`")
        else:
            self.emit("CTR010", e.span, f"no macro named {e.name!r}",
                      _did_you_mean(e.name, self.macros))

    def check_path(self, p: n.Path, ctx: _Ctx) -> _Ty | None:
        """Anchor rules for one path; returns the type of what it reaches when known."""
        if p.anchor == "it" or (ctx.depth == 0 and p.written_it):
            if ctx.depth == 0:
                if ctx.where != "macro":  # macros: judged where they are used
                    self.emit("CTR007", p.span, "`it` is only defined inside any/all",
                              "outside any/all, write the field path itself")
                return None
            if p.anchor == "it":
                return ctx.elem
        if p.anchor == "rule":
            if ctx.where not in ("route", "macro"):
                self.emit("CTR008", p.span, "rule.… is only available in a route's `when`",
                          "in a rule or ignore, test fields of the event")
                return None
            field_name = p.segments[0] if p.segments else ""
            if len(p.segments) != 1 or field_name not in RULE_FIELDS:
                self.emit("CTR009", p.span, f"rule.{p.dotted()} does not exist",
                          "routes can use rule.name, rule.severity and rule.tags")
                return None
            return _RULE_TYPES[str(field_name)]
        start = EVENT_TYPE if p.anchor == "event" else ctx.elem
        return _resolve(start, p.segments)[0]

    def operand_type(self, op: n.Operand, ctx: _Ctx) -> _Ty | None:
        if isinstance(op, n.Path):
            return self.check_path(op, ctx)
        if isinstance(op, n.Call):
            arg_types = [self.operand_type(a, ctx) if isinstance(a, (n.Path, n.Call)) else None
                         for a in op.args]
            if op.name in ("lower", "upper"):
                arg = arg_types[0] if arg_types else None
                if arg is not None and arg.kind != "str":
                    self.emit("CTR101", op.span,
                              f"{op.name}() of {_KIND_NAMES[arg.kind]} is always null",
                              f"{op.name}() applies to strings")
                return _STR
            if op.name == "len":
                return _NUM
        return None

    def list_items(self, right: n.Operand) -> tuple[n.Value, ...] | None:
        """The values of the list a right-hand operand stands for (the binder's rule)."""
        found = list_items(self.binder.right(right))
        return None if found is None else found.values()

    def right_name_kind(self, right: n.Operand) -> str | None:
        """For a one-segment name on the right: 'list', 'macro', another kind, or None."""
        name = list_name(right, self.decls)
        return None if name is None else _KIND_OF[type(self.decls[name][0])]

    def check_right_path(self, right: n.Operand, ctx: _Ctx) -> _Ty | None:
        """Checks a path on the right; returns its type when it is a plain field path."""
        if not isinstance(right, n.Path):
            return None
        kind = self.right_name_kind(right)
        if kind == "list":
            return None
        if kind == "macro":
            self.emit("CTR019", right.span, f"{right.dotted()!r} is a macro, not a value",
                      "a macro is a condition: use it on its own, e.g. `and " +
                      f"{right.dotted()}`")
            return None
        return self.check_path(right, ctx)

    def check_compare(self, e: n.Compare, ctx: _Ctx) -> None:
        left = self.operand_type(e.left, ctx)
        self.check_right_path(e.right, ctx)
        left_src = _shown(e.left) or _describe(e.left)
        if isinstance(e.left, n.Path) and e.left.anchor == "rule":
            self.check_rule_field_compare(e, ctx)
            return
        if isinstance(e.right, n.Path) and isinstance(e.left, n.Path) and e.left == e.right \
                and self.right_name_kind(e.right) is None:
            self.emit("CTR110", e.span, f"{left_src} is compared with itself",
                      "compare it with a literal or another field")
        if isinstance(e.right, n.Literal_) and isinstance(e.right.value, str):
            self.quoted_path(e.right)
        items = self.list_items(e.right)
        if items is not None and e.op not in ("==", "!="):
            self.emit("CTR101", e.right.span, "ordering with a list is always false",
                      "order against a number or a string; test membership with `in`",
                      fallback=e.span)
            return
        if left is None:
            return
        if items is not None:
            if left.kind in ("str", "bool", "num"):
                self.emit("CTR101", e.right.span,
                          f"{left_src} is {_KIND_NAMES[left.kind]}; `{e.op}` compares it with "
                          "the whole list as one value, which it never equals",
                          f"to test membership write `{left_src} "
                          f"{'in' if e.op == '==' else 'not in'} ...`", fallback=e.span)
            return
        if not isinstance(e.right, n.Literal_):
            return
        value = e.right.value
        kind = _literal_kind(value)
        if e.op in ("==", "!="):
            if kind == "null" or kind == left.kind or (left.kind == "obj" and left.fields is None):
                return
            self.emit("CTR101", e.right.span,
                      f"{left_src} is {_KIND_NAMES[left.kind]}, {_render(value)} is "
                      f"{_KIND_NAMES[kind]}: `{e.op}` is always "
                      f"{'false' if e.op == '==' else 'true'}",
                      _retype_hint(left_src, e.op, left.kind, value), fallback=e.span)
            return
        # ordering
        if left.kind == "bool":
            self.emit("CTR101", e.span, f"{left_src} is a boolean; booleans are not ordered "
                      f"(`{e.op}` is always false)", f"write `{left_src} == true` or `== false`")
        elif kind not in ("num", "str"):
            self.emit("CTR101", e.right.span,
                      f"ordering with {_KIND_NAMES[kind]} is always false",
                      "compare numbers with numbers, strings with strings", fallback=e.span)
        elif left.kind in ("num", "str") and kind != left.kind:
            self.emit("CTR101", e.right.span,
                      f"{left_src} is {_KIND_NAMES[left.kind]}, {_render(value)} is "
                      f"{_KIND_NAMES[kind]}: `{e.op}` is always false",
                      _retype_hint(left_src, e.op, left.kind, value), fallback=e.span)

    def check_rule_field_compare(self, e: n.Compare, ctx: _Ctx) -> None:
        assert isinstance(e.left, n.Path)
        if ctx.where not in ("route", "macro") or e.left.segments not in (("severity",),
                                                                          ("name",)):
            return
        field_name = e.left.segments[0]
        if field_name == "severity":
            ok = isinstance(e.right, n.Literal_) and e.right.value in n.SEVERITY_RANK
            if not ok:
                shown = _shown(e.right) or _describe(e.right)
                self.emit("CTR112", e.right.span, f"{shown} is not a severity, so this "
                          "comparison never holds",
                          "compare rule.severity with " + ", ".join(n.SEVERITIES),
                          fallback=e.span)
        elif isinstance(e.right, n.Literal_) and isinstance(e.right.value, str) \
                and e.op in ("==", "!="):
            self.unknown_rule_names([(e.right.value, e.right.span)], e.span)

    def unknown_rule_names(self, names: Iterable[tuple[n.Value, n.Span | None]],
                           fallback: n.Span | None) -> None:
        for value, span in names:
            if isinstance(value, str) and value not in self.rules \
                    and value not in self.broken_names:
                self.emit("CTR111", span, f"no rule is named {value!r}",
                          _did_you_mean(value, self.rules), fallback=fallback)

    def check_in(self, e: n.InTest, ctx: _Ctx) -> None:
        left = self.operand_type(e.left, ctx)
        left_src = _shown(e.left) or _describe(e.left)
        right = e.right
        if isinstance(right, n.Call):
            for arg in right.args:
                if isinstance(arg, n.Literal_) and isinstance(arg.value, str):
                    try:
                        ipaddress.ip_network(arg.value, strict=False)
                    except ValueError:
                        self.emit("CTR015", arg.span, f"invalid CIDR {arg.value!r}",
                                  'write a network such as "10.0.0.0/8" or "2001:db8::/32"',
                                  fallback=e.span)
            if left is not None and left.kind != "str":
                self.emit("CTR101", e.left.span, f"{left_src} is {_KIND_NAMES[left.kind]}; "
                          "cidr() matches IP address strings only", fallback=e.span)
            return
        kind = self.right_name_kind(right)
        if kind is not None and kind != "list":
            self.emit("CTR019", right.span, f"{_shown(right)!r} is a {kind}, not a list",
                      "after `in` comes a list literal, a declared list or cidr(...)",
                      fallback=e.span)
            return
        if (isinstance(right, n.Path) and kind is None and right.anchor == "rel"
                and len(right.segments) == 1 and right.is_bare_name()
                and right.segments[0] not in TOP_LEVEL_FIELDS and ctx.depth == 0
                and str(right.segments[0]) not in self.broken_names):
            name = str(right.segments[0])
            self.emit("CTR109", right.span,
                      f"no list named {name!r}; it is read as the field {name!r}",
                      _did_you_mean(name, self.lists) or f"declare it: list {name} = [...]")
        if isinstance(right, n.Path) and kind is None:
            self.check_path(right, ctx)
        items = self.list_items(right)
        if isinstance(e.left, n.Path) and e.left.anchor == "rule":
            if ctx.where in ("route", "macro") and items is not None:
                if e.left.segments == ("severity",):
                    for item in items:
                        if item not in n.SEVERITY_RANK:
                            self.emit("CTR112", right.span, f"{_render(item)} is not a severity",
                                      "one of " + ", ".join(n.SEVERITIES), fallback=e.span)
                elif e.left.segments == ("name",):
                    self.unknown_rule_names([(v, right.span) for v in items], e.span)
            return
        if left is None or items is None:
            return
        kinds = {_literal_kind(v) for v in items} - {"null"}
        if left.kind == "obj" and left.fields is None:
            return
        if kinds and left.kind not in kinds:
            wrong = ", ".join(sorted(_KIND_NAMES[k] for k in kinds))
            self.emit("CTR101", right.span,
                      f"{left_src} is {_KIND_NAMES[left.kind]} but the list holds {wrong}: "
                      f"`{'not in' if e.negated else 'in'}` is always "
                      f"{'true' if e.negated else 'false'}",
                      "write the list items as " + _KIND_NAMES[left.kind] + "s"
                      if left.kind in ("str", "bool", "num") else None, fallback=e.span)

    def check_string_test(self, e: n.StringTest, ctx: _Ctx) -> None:
        left = self.operand_type(e.left, ctx)
        self.string_left(left, e.left, e.op, e.span)
        right = e.right
        self.check_right_path(right, ctx)
        if isinstance(right, n.Literal_):
            if isinstance(right.value, str):
                self.quoted_path(right)
            else:
                self.emit("CTR101", right.span,
                          f"`{e.op}` needs a string; {_render(right.value)} is "
                          f"{_KIND_NAMES[_literal_kind(right.value)]} (always false)",
                          f'write it as a string: "{right.value}"'
                          if right.value is not None else None, fallback=e.span)
            return
        items = self.list_items(right)
        if items is not None:
            bad = [v for v in items if not isinstance(v, str)]
            if bad:
                self.emit("CTR101", right.span,
                          f"`{e.op}` needs strings; {', '.join(_render(v) for v in bad)} "
                          "never match", "quote them", fallback=e.span)

    def string_left(self, left: _Ty | None, operand: n.Operand, op: str,
                    span: n.Span | None) -> None:
        if left is None or left.kind == "str" or (left.kind == "obj" and left.fields is None):
            return
        shown = _shown(operand) or _describe(operand)
        self.emit("CTR101", operand.span,
                  f"{shown} is {_KIND_NAMES[left.kind]}; `{op}` only applies to strings "
                  "(always false)", None, fallback=span)

    def quoted_path(self, lit: n.Literal_) -> None:
        value = lit.value
        if isinstance(value, str) and not lit.raw and _FIELD_PATH_RE.match(value):
            self.emit("CTR102", lit.span,
                      f"{_render(value)} is a string that looks like a field path",
                      f"remove the quotes to compare two fields: {value}")

    # ---- constant `when`s ----
    def check_constant(self, when: n.Expr, what: str, report_true: bool,
                       dead: list[tuple[n.Expr, bool, str]]) -> None:
        analysis = _Constants(self.list_items)
        bound = self.binder.bind(when)
        value = analysis.const(bound, True, False)
        if value is False:
            self.emit("CTR105", when.span, f"{what} can never match: its `when` is always false",
                      analysis.why_false(bound))
        elif value is True and report_true:
            self.emit("CTR106", when.span, f"{what} matches every event: its `when` is always true",
                      "narrow it with a test on eventSource/eventName")
        if value is None:
            self.report_dead(dead)

    def const(self, e: n.Expr, pol: bool, expanding: tuple[str, ...] = (),
              nested: bool = False) -> bool | None:
        """The constant analysis of one expression (see `_Constants.const`)."""
        return _Constants(self.list_items).const(self.binder.bind(e), pol, nested)

    def report_dead(self, dead: list[tuple[n.Expr, bool, str]]) -> None:
        for cond, always, reason in dead:
            shown = _shown(cond)
            hint = "fix or remove the condition"
            if (isinstance(cond, n.Compare) and isinstance(cond.left, n.Call)
                    and cond.left.name in ("lower", "upper")
                    and isinstance(cond.right, n.Literal_) and isinstance(cond.right.value, str)):
                fixed = (cond.right.value.lower() if cond.left.name == "lower"
                         else cond.right.value.upper())
                hint = f"{_shown(cond.left)} {cond.op} {_render(fixed)}"
            self.emit("CTR113", cond.span,
                      f"`{shown}` is always {'true' if always else 'false'}: {reason}", hint)


class _Constants:
    """The three-valued constant analysis of one bound `when` (macros are MacroUse nodes)."""

    def __init__(self, list_items: Callable[[n.Operand], tuple[n.Value, ...] | None]):
        self.list_items = list_items
        self.conflict: Any = None  # the field whose tests contradicted, for CTR105's hint

    def why_false(self, when: n.Expr) -> str:
        for leaf, pol in self.leaves(when, True, True):
            if self.const(leaf, pol, False) is False:
                reason = _why_atom_false(leaf)
                if leaf is when and reason:
                    return reason
                return f"`{_shown(leaf)}` is never true" + (f": {reason}" if reason else "")
        if self.conflict is not None:
            name = ".".join(str(s) for s in self.conflict)
            return f"the tests of {name} contradict each other ({name} holds one value)"
        return "look for an empty list, contradictory tests of one field, or `false`"

    def const(self, e: n.Expr, pol: bool, nested: bool) -> bool | None:
        """Three-valued: True/False when `e` (`not e` if pol is False) has that value for every
        well-formed CloudTrail record, None when it depends on the record. `nested`: inside
        any/all, where bare paths start at an element."""
        match e:
            case n.BoolConst():
                return e.value == pol
            case n.Not():
                return self.const(e.operand, not pol, nested)
            case n.MacroUse():
                return self.const(e.body, pol, nested)
            case n.And() | n.Or():
                conj = isinstance(e, n.And) == pol
                return self.combine(list(self.leaves(e, pol, conj)), conj, nested)
            case n.Quantifier():
                body = self.const(e.body, True, True)
                value: bool | None = None
                if e.kind == "any" and body is False:
                    value = False
                elif e.kind == "all" and body is True:
                    value = True
                return None if value is None else value == pol
        atom = _atom_const(e, self.list_items)
        return None if atom is None else atom == pol

    def leaves(self, e: n.Expr, pol: bool, conj: bool) -> Iterator[tuple[n.Expr, bool]]:
        """The operands of one n-ary conjunction (conj) or disjunction, through `not`, nested
        and/or of the same meaning, and macros."""
        if isinstance(e, n.Not):
            yield from self.leaves(e.operand, not pol, conj)
        elif isinstance(e, n.MacroUse):
            yield from self.leaves(e.body, pol, conj)
        elif isinstance(e, (n.And, n.Or)) and (isinstance(e, n.And) == pol) == conj:
            for child in e.operands:
                yield from self.leaves(child, pol, conj)
        else:
            yield e, pol

    def combine(self, leaves: list[tuple[n.Expr, bool]], conj: bool,
                nested: bool) -> bool | None:
        values = [self.const(e, pol, nested) for e, pol in leaves]
        absorbing = not conj  # False absorbs a conjunction, True a disjunction
        if absorbing in values:
            return absorbing
        if all(v == conj for v in values):
            return conj
        groups: dict[Any, list[tuple[frozenset[Any] | None, frozenset[Any]]]] = {}
        for (e, pol), v in zip(leaves, values, strict=True):
            if v is not None:
                continue
            constraint = self.constraint(e, pol, nested)
            if constraint is not None:
                field_key, allowed, excluded = constraint
                groups.setdefault(field_key, []).append((allowed, excluded))
        for key, constraints in groups.items():
            if conj:
                allowed_all: frozenset[Any] | None = None
                excluded_any: set[Any] = set()
                for allowed, excluded in constraints:
                    if allowed is not None:
                        allowed_all = allowed if allowed_all is None else allowed_all & allowed
                    excluded_any |= excluded
                if allowed_all is not None and not (allowed_all - excluded_any):
                    self.conflict = self.conflict or key
                    return False
            else:
                # The disjunction fails for a value v iff v is in every excluded set and in no
                # allowed set; with no negative test at all it fails for most values.
                negatives = [ex for al, ex in constraints if al is None]
                if not negatives:
                    continue
                fails = frozenset.intersection(*negatives)
                covered: set[Any] = set()
                for allowed, _ in constraints:
                    if allowed is not None:
                        covered |= allowed
                if fails <= covered:
                    return True
        return None

    def constraint(self, e: n.Expr, pol: bool, nested: bool
                   ) -> tuple[Any, frozenset[Any] | None, frozenset[Any]] | None:
        """`e` (or `not e`) as "the single value of field K is in / not in a set", for fields
        that hold one scalar value in every CloudTrail record."""
        if isinstance(e, n.Compare) and e.op in ("==", "!=") and isinstance(e.right, n.Literal_):
            key = _scalar_key(e.left, nested)
            if key is None:
                return None
            values = frozenset({_value_key(e.right.value)})
            positive = (e.op == "==") == pol
        elif isinstance(e, n.InTest) and not isinstance(e.right, n.Call):
            key = _scalar_key(e.left, nested)
            items = self.list_items(e.right)
            if key is None or items is None:
                return None
            # `in` is false for a null value, so null is never a member.
            values = frozenset(_value_key(v) for v in items if v is not None)
            positive = (not e.negated) == pol
        else:
            return None
        return (key, values, frozenset()) if positive else (key, None, values)


def _scalar_key(op: n.Operand, nested: bool) -> tuple[str | int, ...] | None:
    """A field that holds at most one scalar in every CloudTrail record (eventName, readOnly,
    userIdentity.arn, ...), keyed independently of an `event.` prefix; None otherwise. Inside
    any/all only `event.` paths qualify (bare ones start at an element)."""
    if not isinstance(op, n.Path) or not op.segments:
        return None
    if not (op.anchor == "event" or (op.anchor == "rel" and not nested)):
        return None
    ty, multi = _resolve(EVENT_TYPE, op.segments)
    if ty is None or multi or ty.kind not in ("str", "bool", "num"):
        return None
    return op.segments


def _atom_const(e: n.Expr, list_items: Callable[[n.Operand], tuple[n.Value, ...] | None]
                ) -> bool | None:
    """A condition that has the same value for every record."""
    if isinstance(e, n.InTest):
        if isinstance(e.right, n.Call):
            return None
        items = list_items(e.right)
        if items is None:
            return None
        possible = [v for v in items if v is not None]
        if not possible:
            return e.negated
        member = _function_can_equal(e.left, possible)
        if member is False:
            return e.negated
        return None
    if isinstance(e, n.Compare) and e.op not in ("==", "!=") and list_items(e.right) is not None:
        return False  # a list is neither a number nor a string
    if isinstance(e, n.Compare) and isinstance(e.right, n.Literal_):
        value = e.right.value
        if e.op in ("==", "!="):
            if value is None:
                return None
            can = _function_can_equal(e.left, [value])
            if can is False:
                return e.op == "!="
            return None
        if isinstance(e.left, n.Call) and e.left.name == "len":
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                return False
            if (e.op == "<" and value <= 0) or (e.op == "<=" and value < 0):
                return False
        if not isinstance(value, (int, float, str)) or isinstance(value, bool):
            return False  # ordering with null, a boolean or a list
        return None
    if isinstance(e, n.StringTest):
        if isinstance(e.right, n.Literal_):
            needles: list[n.Value] = [e.right.value]
        else:
            found = list_items(e.right)
            if found is None:
                return None
            needles = list(found)
        strings = [v for v in needles if isinstance(v, str)]
        if not strings:
            return False
        if isinstance(e.left, n.Call) and e.left.name in ("lower", "upper"):
            if all(_case_impossible(e.left.name, s) for s in strings):
                return False
        return None
    if isinstance(e, n.Glob) and isinstance(e.left, n.Call) and e.left.name in ("lower", "upper"):
        if _case_impossible(e.left.name, str(e.pattern.value)):
            return False
    return None


def _dead_condition(e: n.Expr, list_items: Callable[[n.Operand], tuple[n.Value, ...] | None]
                    ) -> tuple[bool, str] | None:
    """(its value, why) for a condition that is the same for every record for a reason other
    than a type mismatch (those are CTR101)."""
    value = _atom_const(e, list_items)
    if value is None:
        return None
    left = getattr(e, "left", None)
    case = (f"{left.name}() never returns {'capital' if left.name == 'lower' else 'small'} "
            "letters") if isinstance(left, n.Call) and left.name in ("lower", "upper") else None
    if isinstance(e, n.InTest):
        items = list_items(e.right) or ()
        if not [v for v in items if v is not None]:
            return value, "the list is empty" if not items else "`in` never matches null"
        return (value, case) if case else None
    if isinstance(e, n.Compare) and isinstance(e.right, n.Literal_):
        literal = e.right.value
        if case and isinstance(literal, str):
            return value, case
        if isinstance(left, n.Call) and left.name == "len" and isinstance(literal, (int, float)) \
                and not isinstance(literal, bool):
            return value, "len() is a count: a whole number, never negative"
        return None
    if isinstance(e, n.StringTest):
        needles = list_items(e.right)
        if needles is not None and not needles:
            return value, "the list is empty"
        return (value, case) if case else None
    if isinstance(e, n.Glob) and case:
        return value, case
    return None


def _why_atom_false(e: n.Expr) -> str | None:
    if isinstance(e, n.BoolConst):
        return None
    if isinstance(e, n.InTest):
        return "the list has no members a value can be in"
    left = getattr(e, "left", None)
    if isinstance(left, n.Call):
        if left.name == "lower":
            return "lower() never returns capital letters"
        if left.name == "upper":
            return "upper() never returns small letters"
        if left.name == "len":
            return "len() is a count: a whole number, never negative"
    if isinstance(e, n.StringTest):
        return f"`{e.op}` needs a string to look for"
    if isinstance(e, n.Compare):
        return "ordering is false with null, booleans and lists"
    return None


def _has_surrogate(value: Any) -> bool:
    return isinstance(value, str) and _SURROGATE.search(value) is not None


def _first_surrogate(value: str) -> str:
    found = _SURROGATE.search(value)
    return f"\\u{ord(found.group()):04x}" if found else ""


def _function_can_equal(left: n.Operand, values: Sequence[n.Value]) -> bool | None:
    """False when a function result can equal none of `values`; None when it may."""
    if not isinstance(left, n.Call):
        return None
    if left.name == "len":
        return None if any(
            isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 and v == int(v)
            for v in values) else False
    if left.name in ("lower", "upper"):
        return None if any(
            isinstance(v, str) and not _case_impossible(left.name, v) for v in values) else False
    return None


def _case_impossible(function: str, text: str) -> bool:
    """lower(x) never holds an ASCII capital, upper(x) never an ASCII small letter (the test
    suite checks this for every code point)."""
    pattern = _ASCII_UPPER if function == "lower" else _ASCII_LOWER
    return pattern.search(text) is not None


def _macro_refs(root: Any) -> Iterator[n.MacroRef]:
    pending = [root]
    while pending:
        e = pending.pop()
        if isinstance(e, n.MacroRef):
            yield e
        pending.extend(n.children(e))


def _shown(node: n.Expr) -> str:
    """A node as `fmt` writes it, for messages."""
    return format_expr(node, sys.maxsize)


def _describe(op: Any) -> str:
    if isinstance(op, n.Path):
        return op.dotted()
    if isinstance(op, n.Literal_):
        return _render(op.value)
    if isinstance(op, n.Call):
        return f"{op.name}(...)"
    return "the value"


def _retype_hint(left_src: str, op: str, kind: str, value: n.Value) -> str | None:
    if kind == "bool" and value in ("true", "false"):
        return f"{left_src} {op} {value}"
    if kind == "str" and isinstance(value, (bool, int, float)):
        return f"{left_src} {op} {_render(_render(value))}"
    if kind == "num" and isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return f"{left_src} {op} {int(number) if number.is_integer() else number}"
    return None


def _did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.75)
    return f"did you mean {close[0]!r}?" if close else None
