"""Pipeline stage 3 (checks) — the rule-set checker: names and binding (duplicates, undefined and
recursive macros, lists, `it`/`rule.` scopes), the types of comparisons, regexes, CIDRs,
templates, ignores and examples. It walks the parsed (unbound) tree, because its findings are
about what was written; the constant analysis (`constants`) reads the bound one.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Literal

import re2

from .. import nodes as n
from ..binding import Binder, list_items, list_name
from ..compiler import glob_matcher
from ..diagnostics import Diagnostic
from ..parser import MAX_STRING_CHARS
from ..templates import parse_template
from .codes import MAX_DEPTH, MAX_EXPANDED_NODES
from .codes import diag as _diag
from .constants import _Constants, _dead_condition
from .constants import shown as _shown
from .types import (
    _KIND_NAMES,
    _NUM,
    _RULE_TYPES,
    _STR,
    EVENT_TYPE,
    RULE_FIELDS,
    TOP_LEVEL_FIELDS,
    TYPE_RULES,
    _literal_kind,
    _render,
    _resolve,
    _Ty,
    left_kind,
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


_FIELD_PATH_RE = re.compile(
    r"(?:event\.)?(?:" + "|".join(sorted(TOP_LEVEL_FIELDS)) + r")(?:\.[A-Za-z0-9_]+)+\Z"
)
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
        conditions = [] if decl.when is None else [("`when`", decl.when)]
        if isinstance(decl, n.RuleDecl) and decl.stateful is not None:
            # A sequence's steps are conditions too: the same limits keep them loadable.
            conditions.extend(("sequence step", step) for step in decl.stateful.steps)
        for what, cond in conditions:
            depth = self.depth(cond)
            if depth > MAX_DEPTH:
                self.emit("CTR021", cond.span,
                          f"this {what} nests {depth} levels deep with macros expanded (the "
                          f"limit is {MAX_DEPTH})", "split the condition into flatter macros")
                return
            size = self.size(cond)
            if size > MAX_EXPANDED_NODES:
                self.too_large = True
                if not any(self.macro_size.get(r.name, 0) > MAX_EXPANDED_NODES
                           for r in _macro_refs(cond)):  # else reported at the macro
                    self.emit("CTR022", cond.span,
                              f"this {what} has {size:,} nodes with macros expanded (the limit "
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
        for step in rule.stateful.steps if rule.stateful else ():  # a sequence's conditions
            self.walk(step, ctx)
            self.check_literals(step)
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
        if isinstance(e.left, n.Path) and e.left.anchor == "rule":
            self.check_rule_field_compare(e, ctx)
            return
        if isinstance(e.right, n.Path) and isinstance(e.left, n.Path) and e.left == e.right \
                and self.right_name_kind(e.right) is None:
            self.emit("CTR110", e.span, f"{_source(e.left)} is compared with itself",
                      "compare it with a literal or another field")
        if isinstance(e.right, n.Literal_) and isinstance(e.right.value, str):
            self.quoted_path(e.right)
        items = self.list_items(e.right)
        if items is not None:
            right_kind = "list"
        elif isinstance(e.right, n.Literal_):
            right_kind = _literal_kind(e.right.value)
        else:
            return
        kind = left_kind(left)
        finding = TYPE_RULES.get((kind, "eq" if e.op in ("==", "!=") else "order", right_kind))
        if finding is None:
            return
        left_src = _source(e.left)  # only for a message: formatting every left side is slow
        value = e.right.value if isinstance(e.right, n.Literal_) else None
        always = "true" if e.op == "!=" else "false"
        if finding == "list-order":
            self.emit("CTR101", e.right.span, "ordering with a list is always false",
                      "order against a number or a string; test membership with `in`",
                      fallback=e.span)
        elif finding == "whole-list":
            self.emit("CTR101", e.right.span,
                      f"{left_src} is {_KIND_NAMES[str(kind)]}; `{e.op}` compares it with "
                      "the whole list as one value, which it never equals",
                      f"to test membership write `{left_src} "
                      f"{'in' if e.op == '==' else 'not in'} ...`", fallback=e.span)
        elif finding == "bool-unordered":
            self.emit("CTR101", e.span, f"{left_src} is a boolean; booleans are not ordered "
                      f"(`{e.op}` is always false)", f"write `{left_src} == true` or `== false`")
        elif finding == "order-kind":
            self.emit("CTR101", e.right.span,
                      f"ordering with {_KIND_NAMES[right_kind]} is always false",
                      "compare numbers with numbers, strings with strings", fallback=e.span)
        else:
            self.emit("CTR101", e.right.span,
                      f"{left_src} is {_KIND_NAMES[str(kind)]}, {_render(value)} is "
                      f"{_KIND_NAMES[right_kind]}: `{e.op}` is always {always}",
                      _retype_hint(left_src, e.op, str(kind), value), fallback=e.span)

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
                self.emit("CTR101", e.left.span, f"{_source(e.left)} is {_KIND_NAMES[left.kind]}; "
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
        if kinds and all(TYPE_RULES.get((left_kind(left), "eq", k)) == "mismatch"
                         for k in kinds):
            wrong = ", ".join(sorted(_KIND_NAMES[k] for k in kinds))
            self.emit("CTR101", right.span,
                      f"{_source(e.left)} is {_KIND_NAMES[left.kind]} but the list holds {wrong}: "
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


def _has_surrogate(value: Any) -> bool:
    return isinstance(value, str) and _SURROGATE.search(value) is not None


def _first_surrogate(value: str) -> str:
    found = _SURROGATE.search(value)
    return f"\\u{ord(found.group()):04x}" if found else ""


def _macro_refs(root: Any) -> Iterator[n.MacroRef]:
    pending = [root]
    while pending:
        e = pending.pop()
        if isinstance(e, n.MacroRef):
            yield e
        pending.extend(n.children(e))


def _describe(op: Any) -> str:
    if isinstance(op, n.Path):
        return op.dotted()
    if isinstance(op, n.Literal_):
        return _render(op.value)
    if isinstance(op, n.Call):
        return f"{op.name}(...)"
    return "the value"


def _source(operand: n.Operand) -> str:
    """An operand as written, for a message."""
    return _shown(operand) or _describe(operand)


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
