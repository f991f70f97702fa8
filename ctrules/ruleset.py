"""Pipeline stage 5 — the rule set: compiled rules, ignores and routes behind `evaluate`.

`RuleSet` is built from checked AST files (see `load_rules`): it compiles every rule, ignore and
route once, and keeps a dispatch cache keyed by (eventSource, eventName) so each event is tested
only against the rules that can match it. `evaluate` never raises.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

import orjson

from . import nodes as n
from .alerts import Alert, AlertSource, matched
from .compiler import (
    DISPATCH_PATHS,
    RULE_KEY,
    Pred,
    Residual,
    Scope,
    always,
    compile_expr,
    dispatch_residual,
    mentions_paths,
    required_event_names,
)
from .diagnostics import Diagnostic, RuleSetError
from .gcpause import gc_paused
from .index import Indexed, decode_paths, index_candidates, necessary
from .templates import parse_template
from .values import MISSING, Fanout, expand, make_walker

log = logging.getLogger("ctrules")

DEFAULT_DESTINATION = "default"
_DISPATCH_CACHE_LIMIT = 65536
EXPIRED_IGNORE = "CTR017"


@dataclass(frozen=True)
class RuleInfo:
    """What the rest of the pipeline may know about a rule (never its compiled closures)."""

    name: str
    severity: str
    description: str
    tags: tuple[str, ...]
    enabled: bool
    group_by: tuple[str, ...] | None
    span: n.Span | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ExampleResult:
    rule: str
    example: str
    expected_match: bool
    matched: bool
    span: n.Span | None
    expected_routes: tuple[str, ...] | None = None
    routes: tuple[str, ...] | None = None

    @property
    def passed(self) -> bool:
        if self.matched != self.expected_match:
            return False
        if self.expected_routes is not None:
            return set(self.expected_routes) == set(self.routes or ())
        return True


Renderer = Callable[[Mapping[str, Any]], str]


@dataclass
class _Rule:
    info: RuleInfo
    decl: n.RuleDecl
    pred: Pred
    residual: Residual  # specialised on every dispatch field
    residual_by_name: Residual  # on eventSource and eventName only
    uses_more_fields: bool  # has conditions on errorCode / userIdentity.type
    summary: Renderer
    group_key: Callable[[Mapping[str, Any]], tuple[str, ...]]
    ignores: tuple[_Ignore, ...] = ()
    order: int = 0
    needs: Any = None  # the field index's necessary condition (ctrules.index), or None
    source: AlertSource | None = None  # what its alerts share (made on the first one)


@dataclass
class _Ignore:
    name: str
    decl: n.IgnoreDecl
    pred: Pred


@dataclass
class _Route:
    name: str
    decl: n.RouteDecl
    pred: Pred


class RuleSet:
    """A compiled, immutable rule set. Build it with `ctrules.load_rules`."""

    def __init__(self, files: Sequence[n.RuleFile], today: dt.date | None = None,
                 use_index: bool = True):
        lists: dict[str, n.ListLit] = {}
        macros: dict[str, n.MacroDecl] = {}
        rules: list[n.RuleDecl] = []
        ignores: list[n.IgnoreDecl] = []
        routes: list[n.RouteDecl] = []
        for f in files:
            for d in f.decls:
                if isinstance(d, n.ListDecl):
                    lists[d.name] = d.items
                elif isinstance(d, n.MacroDecl):
                    macros[d.name] = d
                elif isinstance(d, n.RuleDecl):
                    rules.append(d)
                elif isinstance(d, n.IgnoreDecl):
                    ignores.append(d)
                elif isinstance(d, n.RouteDecl):
                    routes.append(d)
        self.files = tuple(files)
        self.scope = Scope(lists, macros)
        route_scope = Scope(lists, macros, in_route=True)
        today = today or dt.date.today()
        self.expired_ignores: tuple[str, ...] = tuple(
            i.name for i in ignores if _expired(i, today))
        self._ignores = [
            _Ignore(i.name, i, compile_expr(i.when, self.scope))
            for i in ignores if i.when is not None and i.name not in self.expired_ignores
        ]
        self._routes = [
            _Route(r.name, r, compile_expr(r.when, route_scope))
            for r in routes if r.when is not None
        ]
        self._rules: list[_Rule] = []
        for decl in rules:
            if decl.when is None:
                continue
            self._rules.append(self._compile_rule(decl, len(self._rules)))
        self._by_name = {r.info.name: r for r in self._rules}
        # The field index (ctrules.index): off only to test that it changes nothing.
        self._use_index = use_index
        self._regex_sets: dict[tuple[str, ...], Any] = {}
        for rule in self._rules:
            if use_index and rule.decl.when is not None:
                rule.needs = necessary(self.scope.bind(rule.decl.when), lists, macros)
        # Stateful rules alert on what events add up to, not per event: `ctrules.stateful`.
        self._enabled = tuple(r for r in self._rules if r.info.enabled and not r.decl.stateful)
        self._dispatch: dict[tuple[Any, Any], Candidates | Indexed | _SecondLevel] = {}
        # evaluate's view of both levels, by all four dispatch values (None: no candidate).
        self._flat: dict[tuple[Any, ...], Candidates | Indexed | None] = {}
        self._explained: dict[tuple[str, int], Any] = {}  # RuleSet.why's compiled clauses
        # Rules indexed by the eventNames they require, so a new dispatch key only specialises
        # the rules that can match its name.
        self._by_event_name: dict[str, list[_Rule]] = {}
        self._any_event_name: list[_Rule] = []
        for rule in self._enabled:
            names = required_event_names(rule.decl.when, self.scope)  # type: ignore[arg-type]
            if names is None:
                self._any_event_name.append(rule)
            for name in names or ():
                self._by_event_name.setdefault(name, []).append(rule)

    def _compile_rule(self, decl: n.RuleDecl, order: int) -> _Rule:
        assert decl.when is not None
        info = RuleInfo(
            name=decl.name,
            severity=decl.severity,
            description=decl.description.value if decl.description else "",
            tags=decl.tags,
            enabled=decl.enabled,
            group_by=tuple(_dotted(p) for p in decl.group_by) if decl.group_by else None,
            span=decl.span,
        )
        filename = decl.span.file if decl.span else "<rules>"
        summary = _compile_template(decl.summary, filename, decl.name)
        ignores = tuple(
            i for i in self._ignores if i.decl.rules is None or decl.name in i.decl.rules)
        return _Rule(
            info=info,
            decl=decl,
            pred=compile_expr(decl.when, self.scope),
            residual=dispatch_residual(decl.when, self.scope),
            residual_by_name=dispatch_residual(decl.when, self.scope, DISPATCH_PATHS[:2]),
            uses_more_fields=mentions_paths(decl.when, self.scope, DISPATCH_PATHS[2:]),
            summary=summary,
            group_key=_compile_group_key(decl),
            ignores=ignores,
            order=order,
        )

    # ---- evaluation ----------------------------------------------------------------------

    def evaluate(self, event: Any) -> list[Alert]:
        """Every enabled rule that matches `event`, as alerts. Suppressed alerts are included,
        with `ignored_by` naming the ignores that fired; deliver only `not alert.ignored`."""
        record = event if type(event) is dict else _as_record(event)
        # The per-event hot path, inline: one lookup on all four dispatch fields (filled from
        # the two-level dispatch on first sight of a key, see `_find`).
        identity = record.get("userIdentity")
        try:
            found = self._flat[(record.get("eventSource", MISSING),
                                record.get("eventName", MISSING),
                                record.get("errorCode", MISSING),
                                identity.get("type", MISSING) if type(identity) is dict
                                else MISSING if identity is None else _NOT_A_DICT)]
        except (KeyError, TypeError):
            found = self._find(record)
        if found is None:
            return []
        if type(found) is Indexed:
            found = found.select(record)
        return self._matches(found, record)  # type: ignore[arg-type]  # Indexed resolved

    def evaluate_many(self, records: Iterable[Any]) -> Iterator[tuple[Any, list[Alert]]]:
        """`evaluate` over many records: (record, alerts) for each record that has alerts
        (suppressed ones included), in order, skipping records without any. The alerts are
        those `evaluate(record)` gives; `record` is the dict they were evaluated on (the record
        itself when it is a dict). One loop over the dispatch table instead of a call per
        record (what `ctrules run` and the consumer use); an iterator is consumed lazily."""
        flat = self._flat
        find = self._find
        matches = self._matches
        missing = MISSING
        not_a_dict = _NOT_A_DICT
        indexed = Indexed
        for event in records:
            record = event if type(event) is dict else _as_record(event)
            identity = record.get("userIdentity")
            try:
                found = flat[(record.get("eventSource", missing),
                              record.get("eventName", missing),
                              record.get("errorCode", missing),
                              identity.get("type", missing) if type(identity) is dict
                              else missing if identity is None else not_a_dict)]
            except (KeyError, TypeError):
                found = find(record)
            if found is None:
                continue
            if type(found) is indexed:
                found = found.select(record)
                if not found:
                    continue
            alerts = matches(found, record)  # type: ignore[arg-type]  # Indexed resolved
            if alerts:
                yield record, alerts

    def _matches(self, found: Candidates, record: dict[str, Any]) -> list[Alert]:
        alerts: list[Alert] = []
        ignore_results: dict[str, bool] | None = None  # made on the first hit: most events miss
        for rule, pred in found:
            try:
                hit = pred(record, record)
            except Exception:  # evaluating never raises; a crash here is our bug, so say so
                log.exception("rule %s crashed on event %s", rule.info.name, record.get("eventID"))
                continue
            if hit:
                if rule.ignores:
                    if ignore_results is None:
                        ignore_results = {}
                    alerts.append(self._alert(rule, record, ignore_results))
                else:
                    alerts.append(matched(rule.source or _alert_source(rule), record, ()))
        return alerts

    def matching(self, event: Any) -> list[str]:
        """`[a.rule for a in evaluate(event) if not a.ignored]`, without building the alerts
        (no summary, no group key): the stateful engine's per-event selection."""
        record = event if type(event) is dict else _as_record(event)
        found = self._dispatched(record)
        if type(found) is Indexed:
            found = found.select(record)
        if not found:
            return []
        names: list[str] = []
        fired: dict[str, Any] = {}  # each ignore evaluated at most once per event
        for rule, pred in found:  # type: ignore[union-attr]  # Indexed was resolved above
            try:
                if not pred(record, record):
                    continue
            except Exception:  # as in `evaluate`: never raises; a crash here is our bug
                log.exception("rule %s crashed on event %s", rule.info.name, record.get("eventID"))
                continue
            for ignore in rule.ignores:
                hit = fired.get(ignore.name)
                if hit is None:
                    try:
                        hit = fired[ignore.name] = ignore.pred(record, record)
                    except Exception:
                        log.exception("ignore %s crashed", ignore.name)
                        hit = fired[ignore.name] = False
                if hit:
                    break
            else:
                names.append(rule.info.name)
        return names

    def _dispatched(self, record: dict[str, Any]) -> Candidates | Indexed | None:
        """The flat dispatch table's answer for `record` (what `evaluate` reads inline)."""
        identity = record.get("userIdentity")
        try:
            return self._flat[(record.get("eventSource", MISSING),
                               record.get("eventName", MISSING),
                               record.get("errorCode", MISSING),
                               identity.get("type", MISSING) if type(identity) is dict
                               else MISSING if identity is None else _NOT_A_DICT)]
        except (KeyError, TypeError):
            return self._find(record)

    def _find(self, record: dict[str, Any]) -> Candidates | Indexed | None:
        """The dispatch result for a record whose four dispatch values are not in the flat
        table yet (or cannot key it): looked up in the two levels, and kept under those values
        when they can be a key. None stands for "no candidate rule" (the common answer)."""
        found = self._lookup(record)
        key = _dispatch_key(record)
        if key is not None:
            if len(self._flat) >= _DISPATCH_CACHE_LIMIT:
                self._flat.clear()
            self._flat[key] = found if found else None  # an Indexed always has candidates
        return found if found else None

    def may_match(self, record: dict[str, Any]) -> bool:
        """Whether any enabled rule is a candidate for `record`: the dispatch and index stages
        of `evaluate` only, reading only the fields `decode_fields` names (so a record holding
        just those fields gets the same answer as the whole record)."""
        found = self._dispatched(record)
        if found is None:
            return False
        if type(found) is Indexed:
            return bool(found.select(record))
        return True

    def dispatch_verdict(self, record: dict[str, Any]) -> bool | None:
        """`may_match` from the dispatch fields (DISPATCH_PATHS) alone, for the lazy reader:
        False when no rule can match, True when some rule is a candidate, None when that
        depends on the field index (`may_match` on a record holding its fields decides)."""
        found = self._lookup(record)
        if not found:
            return False
        return None if type(found) is Indexed and not found.residual_only else True

    def _lookup(self, record: dict[str, Any]) -> Candidates | Indexed:
        """The dispatch stages (`evaluate` reads their answers through its flat table). Most
        events stop at the first level (no rule can match their eventSource/eventName); the
        rest look up the second level on errorCode and userIdentity.type where a candidate
        rule cares."""
        get = record.get
        try:
            found = self._dispatch[(get("eventSource", MISSING), get("eventName", MISSING))]
        except (KeyError, TypeError):
            found = self._by_source_and_name(record)
        if type(found) is _SecondLevel:
            table = found
            identity = get("userIdentity")
            try:
                return table[(get("errorCode", MISSING),
                              identity.get("type", MISSING) if type(identity) is dict
                              else MISSING if identity is None else _NOT_A_DICT)]
            except (KeyError, TypeError):
                return self._by_all_fields(table, record)
        return found  # type: ignore[return-value]  # a _SecondLevel was resolved above

    def decode_paths(self) -> frozenset[tuple[str | int, ...]]:
        """The paths of a record that `may_match` reads (ctrules.sources.lazy decodes only
        these to decide whether a record needs decoding at all)."""
        return frozenset([*DISPATCH_PATHS, *decode_paths(r.needs for r in self._enabled)])

    def _by_source_and_name(self, record: dict[str, Any]) -> Candidates | Indexed | _SecondLevel:
        """First level: the rules that can match this (eventSource, eventName). When none of
        them has conditions on the other dispatch fields, that is the answer; otherwise a
        second-level table, filled per (errorCode, userIdentity.type) by `_by_all_fields`."""
        key = _dispatch_key(record)
        if key is None:
            return tuple((r, r.pred) for r in self._enabled)
        source, name = key[:2]
        found = self._dispatch.get((source, name))
        if found is None:
            found = self._specialise(self._named(name), _probe(key[:2] + (MISSING, MISSING)),
                                     by_name=True)
            if any(rule.uses_more_fields for rule, _ in found):
                found = _SecondLevel(tuple(rule for rule, _ in found))
            else:
                found = self._indexed(found)
            if len(self._dispatch) >= _DISPATCH_CACHE_LIMIT:
                self._dispatch.clear()
            self._dispatch[(source, name)] = found
        return found

    def _by_all_fields(self, table: _SecondLevel, record: dict[str, Any]) -> Candidates | Indexed:
        key = _dispatch_key(record)
        if key is None:
            return tuple((r, r.pred) for r in table.rules)
        found = self._indexed(self._specialise(table.rules, _probe(key), by_name=False))
        if len(table) < _DISPATCH_CACHE_LIMIT:
            table[key[2:]] = found
        return found

    def _indexed(self, found: Candidates) -> Candidates | Indexed:
        if not self._use_index:
            return found
        return index_candidates(found, [rule.needs for rule, _ in found], self._regex_sets)

    def _named(self, name: Any) -> list[_Rule]:
        named = self._by_event_name.get(name, ()) if type(name) is str else ()
        return sorted((*named, *self._any_event_name), key=lambda r: r.order)

    @staticmethod
    def _specialise(rules: Iterable[_Rule], probe: dict[str, Any], by_name: bool) -> Candidates:
        specialised = []
        for rule in rules:
            left = (rule.residual_by_name if by_name else rule.residual)(probe)
            if left is not False:
                specialised.append((rule, always if left is True else left))
        return tuple(specialised)

    def _candidates(self, record: dict[str, Any]) -> Candidates:
        found = self._by_source_and_name(record)
        if isinstance(found, _SecondLevel):
            found = self._by_all_fields(found, record)
        return found.select(record) if isinstance(found, Indexed) else found

    def _alert(self, rule: _Rule, record: dict[str, Any], memo: dict[str, bool]) -> Alert:
        fired = []
        for ignore in rule.ignores:
            hit = memo.get(ignore.name)
            if hit is None:
                try:
                    hit = ignore.pred(record, record)
                except Exception:
                    log.exception("ignore %s crashed", ignore.name)
                    hit = False
                memo[ignore.name] = hit
            if hit:
                fired.append(ignore.name)
        return matched(rule.source or _alert_source(rule), record, tuple(fired))

    def candidates_for(self, event: Any) -> tuple[str, ...]:
        """The names of the rules the dispatch index tests `event` against (for explain/bench)."""
        record = event if type(event) is dict else _as_record(event)
        return tuple(r.info.name for r, _ in self._candidates(record))

    # ---- routing -------------------------------------------------------------------------

    def destinations(self, alert: Alert) -> tuple[str, ...]:
        """Every route whose `when` holds gets the alert; none → the default destination."""
        rule = self._by_name.get(alert.rule)
        context = dict(alert.event) if isinstance(alert.event, Mapping) else {}
        context[RULE_KEY] = {
            "name": alert.rule,
            "severity": alert.severity,
            "tags": list(rule.info.tags if rule else alert.tags),
        }
        out: list[str] = []
        for route in self._routes:
            try:
                hit = route.pred(context, context)
            except Exception:
                log.exception("route %s crashed", route.name)
                continue
            if hit:
                out.extend(t for t in route.decl.to if t not in out)
        return tuple(out) if out else (DEFAULT_DESTINATION,)

    # ---- introspection -------------------------------------------------------------------

    @property
    def rules(self) -> tuple[RuleInfo, ...]:
        return tuple(r.info for r in self._rules)

    def rule(self, name: str) -> RuleInfo:
        return self._by_name[name].info

    @property
    def ignore_names(self) -> tuple[str, ...]:
        return tuple(i.name for i in self._ignores)

    @property
    def route_names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self._routes)

    def rule_decl(self, name: str) -> n.RuleDecl:
        return self._by_name[name].decl

    @property
    def stateful_decls(self) -> tuple[n.RuleDecl, ...]:
        """The enabled stateful rules (`ctrules.stateful.StatefulEngine` evaluates them)."""
        return tuple(r.decl for r in self._rules if r.decl.stateful and r.info.enabled)

    def stateful_summary(self, name: str, record: Mapping[str, Any],
                         state: Mapping[str, Any]) -> str:
        """A stateful rule's summary; `{state.count}`, `{state.values}`, ... name its state."""
        return self._by_name[name].summary({**record, "state": dict(state)})

    def run_examples(self) -> list[ExampleResult]:
        """Every `example` against its rule's `when` alone (ignores and `enabled` don't apply)."""
        results = []
        for rule in self._rules:
            for ex in rule.decl.examples:
                if rule.decl.stateful or isinstance(ex.event, list):
                    from .stateful.examples import example_matches

                    results.append(ExampleResult(rule.info.name, ex.name, ex.expect_match,
                                                 example_matches(self, rule.decl, ex), ex.span))
                    continue
                record = ex.event if isinstance(ex.event, dict) else {}
                matched = bool(rule.pred(record, record))
                routes = None
                if ex.routes is not None:
                    alert = self._alert(rule, record, {})
                    routes = self.destinations(alert)
                results.append(ExampleResult(
                    rule.info.name, ex.name, ex.expect_match, matched, ex.span, ex.routes, routes))
        return results

    def why(self, alert: Alert) -> list[str]:
        """Short lines saying which clauses decided that `alert`'s rule matched."""
        from .explain import explain_rule

        rule = self._by_name.get(alert.rule)
        if rule is None:
            return []
        trace = explain_rule(rule.decl, self.scope, dict(alert.event), self._explained)
        return trace.deciding_lines()


# ---- helpers ---------------------------------------------------------------------------------


_NOT_A_DICT: list[Any] = []  # unhashable: a key holding it goes the slow way

Candidates = tuple[tuple[_Rule, Pred], ...]


class _SecondLevel(dict[tuple[Any, Any], "Candidates | Indexed"]):
    """Dispatch entries of one (eventSource, eventName), by (errorCode, userIdentity.type)."""

    def __init__(self, rules: tuple[_Rule, ...]):
        super().__init__()
        self.rules = rules
_KEY_TYPES = (str, type(None))


def _alert_source(rule: _Rule) -> AlertSource:
    """What every alert of `rule` shares (made once, on its first alert)."""
    info = rule.info
    rule.source = AlertSource(info.name, info.severity, info.tags, info.description,
                              rule.summary, rule.group_key)
    return rule.source


def _dispatch_key(record: dict[str, Any]) -> tuple[Any, ...] | None:
    """The values of DISPATCH_PATHS, or None when one is of a type the cache cannot key on
    (only strings, null and missing are: 1 == True would make two keys one)."""
    identity = record.get("userIdentity", MISSING)
    if type(identity) is dict:
        identity_type = identity.get("type", MISSING)
    elif isinstance(identity, list):
        return None  # `userIdentity.type` would fan out over the array
    else:
        identity_type = MISSING
    key = (record.get("eventSource", MISSING), record.get("eventName", MISSING),
           record.get("errorCode", MISSING), identity_type)
    if all(v is MISSING or isinstance(v, _KEY_TYPES) for v in key):
        return key
    return None


def _probe(key: tuple[Any, ...]) -> dict[str, Any]:
    """A record holding just the dispatch values of `key` (missing ones left out)."""
    source, name, error, identity_type = key
    probe = {k: v for k, v in (("eventSource", source), ("eventName", name),
                               ("errorCode", error)) if v is not MISSING}
    if identity_type is not MISSING:
        probe["userIdentity"] = {"type": identity_type}
    return probe


def _as_record(event: Any) -> dict[str, Any]:
    # A JSON value that is not an object is a record in which every path is missing.
    if isinstance(event, Mapping):
        return dict(event)
    return {}


def _expired(ignore: n.IgnoreDecl, today: dt.date) -> bool:
    from .checks import expiry_date

    expires = expiry_date(ignore)
    return expires is not None and expires < today


def _dotted(path: n.Path) -> str:
    prefix = "event." if path.anchor == "event" else ""
    return prefix + ".".join(str(s) for s in path.segments)


def render_value(reached: Any) -> str:
    """Template rendering of what a path reached: `-` for missing/null, strings as they are,
    anything else as compact JSON; several values joined with `, `."""
    kind = type(reached)
    if kind is str:
        return reached  # type: ignore[no-any-return]
    if reached is MISSING or reached is None:
        return "-"
    if kind is not list and kind is not Fanout:
        return _render_one(reached)
    return ", ".join([_render_one(v) for v in expand(reached)])


def _render_one(value: Any) -> str:
    if value is None:
        return "-"
    if type(value) is str:
        return value
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return str(value)


def _compile_template(text: n.Text | None, filename: str, rule_name: str) -> Renderer:
    if text is None:
        default = f"{rule_name}: " + "{eventName} by {userIdentity.arn} in {recipientAccountId}"
        text = n.Text(default)
    template, problems = parse_template(text, filename)
    if problems:
        raise RuleSetError(problems)
    parts: list[str | Callable[[Any], Any]] = []
    for part in template.parts:
        if isinstance(part, str):
            parts.append(part)
        else:
            parts.append(make_walker(part.segments))

    def render(record: Mapping[str, Any]) -> str:
        return "".join([p if type(p) is str else render_value(p(record))  # type: ignore[operator]
                        for p in parts])

    return render


_PRINCIPAL = make_walker(("userIdentity", "arn"))
_PRINCIPAL_ID = make_walker(("userIdentity", "principalId"))
_EVENT_NAME = make_walker(("eventName",))
_ACCOUNT = make_walker(("recipientAccountId",))


def _compile_group_key(decl: n.RuleDecl) -> Callable[[Mapping[str, Any]], tuple[str, ...]]:
    name = decl.name
    if decl.group_by:
        walkers = [make_walker(p.segments) for p in decl.group_by]
        return lambda rec: (name, *(render_value(w(rec)) for w in walkers))

    def default_key(rec: Mapping[str, Any]) -> tuple[str, ...]:
        principal = _PRINCIPAL(rec)
        if principal is MISSING or principal is None:
            principal = _PRINCIPAL_ID(rec)
        return (name, render_value(principal), render_value(_EVENT_NAME(rec)),
                render_value(_ACCOUNT(rec)))

    return default_key


def blocking(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Errors that stop a rule set from loading. An expired ignore fails `check` (so CI makes
    someone decide) but does not stop production alerting: at run time it simply stops
    applying, which fails open — alerts flow again."""
    return [d for d in diagnostics if d.is_error and d.code != EXPIRED_IGNORE]


class EmptyRuleSet(RuleSetError):
    """The paths hold nothing (no .ctr file, only empty ones, /dev/null): alerting would
    silently never fire, so loading refuses. (Files of routes or ignores alone load: they are
    overlays for a pack loaded with them.)"""

    def __init__(self, where: str):
        super().__init__([])
        self.args = (f"{where}: no rules found (no .ctr files, or only empty ones)",)


def load_rules(path: str | FsPath | Sequence[str | FsPath]) -> RuleSet:
    """Check and compile a rule set (a .ctr file, a directory searched recursively, or several).
    Raises RuleSetError with every diagnostic when the rule set has errors: never half-loads."""
    from .checks import check_sources, load_sources

    paths = [path] if isinstance(path, (str, FsPath)) else list(path)
    with gc_paused():  # nothing built here is garbage; see ctrules.gcpause
        return _load(paths, check_sources(load_sources(paths), catalog=False))


def _load(paths: list[str | FsPath],
          checked: tuple[list[n.RuleFile], list[Diagnostic]]) -> RuleSet:
    files, diagnostics = checked
    errors = blocking(diagnostics)
    if errors:
        raise RuleSetError(errors)
    if not any(f.decls for f in files):
        raise EmptyRuleSet(", ".join(str(p) for p in paths))
    for d in diagnostics:
        if d.code == EXPIRED_IGNORE:
            log.warning("%s: %s (the ignore no longer applies)", d.span, d.message)
    return RuleSet(files)


def default_rules_path() -> FsPath:
    """Where the shipped default pack is installed (package data of ctrules.rules)."""
    from importlib import resources

    return FsPath(str(resources.files("ctrules.rules")))


def default_rule_files() -> list[FsPath]:
    """The default pack: the top-level .ctr files (rules/compat/ is the parity set, opt-in)."""
    return sorted(default_rules_path().glob("*.ctr"))


def load_default_rules() -> RuleSet:
    return load_rules(default_rule_files())
