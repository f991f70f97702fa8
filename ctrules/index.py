"""Pipeline stage 5b — the field index: which rules can match this event, by any field.

`.ctr → parser → nodes → checks → compiler → **index** → RuleSet.evaluate`.

Dispatch on (eventSource, eventName) leaves, per event, the rules that can match that pair. Rules
that do not name their events (a fifth of a real organisation's rules: "anything by this user",
"anything from outside our CIDRs", "any bucket starting with prod-") land in every entry and
would be tested one by one on every event. This module gives each rule a *necessary condition*
that can be looked up — derived from its `when` — and, for a dispatch entry with enough rules,
builds lookup tables over those conditions, so an event is only tested against the rules whose
condition holds, plus the residual rules that have none.

A necessary condition is never more than an over-approximation: a rule selected here is still
tested with its own predicate; a rule left out is one that cannot match. Lookups follow the
language exactly — a path through an array reaches every element, strings match strings only
(1 != "1", true != 1), `lower`/`upper` apply to strings and turn anything else into null.
Anything this module does not understand (a quantifier, `!=`, a node type added later) means
"no index condition", which is always safe.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import re2

from . import nodes as n
from .values import MISSING, Fanout, expand, make_walker, parse_address, present

Mapping_ = tuple[str, ...]  # string functions applied to the path's values, innermost first
Key = tuple[tuple[str | int, ...], Mapping_]

# A dispatch entry with fewer candidate rules than this is tested rule by rule: a handful of
# predicates costs less than walking the lookup tables.
MIN_RULES = 8

_DISPATCHED = {("eventSource",), ("eventName",)}
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False
# Always matches: when RE2::Set runs out of memory it silently reports no match, so a result
# without this pattern means "don't know" and every regex rule is tried.
_SENTINEL = ""
# Entries kept per regex set of what each text matched (cleared when full).
_MEMO_LIMIT = 16384


# ---- necessary conditions --------------------------------------------------------------------


@dataclass(frozen=True)
class Eq:
    key: Key
    values: frozenset[str]


@dataclass(frozen=True)
class Affix:
    key: Key
    suffix: bool
    needles: tuple[str, ...]


@dataclass(frozen=True)
class Regex:
    key: Key
    pattern: str


@dataclass(frozen=True)
class Cidr:
    segments: tuple[str | int, ...]
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]


@dataclass(frozen=True)
class Present:
    segments: tuple[str | int, ...]


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Cond, ...]


Cond = Eq | Affix | Regex | Cidr | Present | AnyOf

_RANK = {Eq: 0, Affix: 1, Cidr: 2, Regex: 3, Present: 5}


def _rank(cond: Cond) -> float:
    if isinstance(cond, AnyOf):
        return max(_rank(p) for p in cond.parts) + 0.5 + len(cond.parts) / 100
    return _RANK[type(cond)]


def _segments(cond: Cond) -> list[tuple[str | int, ...]]:
    if isinstance(cond, AnyOf):
        return [s for p in cond.parts for s in _segments(p)]
    if isinstance(cond, (Cidr, Present)):
        return [cond.segments]
    return [cond.key[0]]


def necessary(expr: n.Expr, lists: Any, macros: Any) -> Cond | None:
    """A condition that holds on every event `expr` matches and that the index can look up,
    or None. `expr` may be parsed or bound (ctrules.binding: `MacroUse`, `ListRef`);
    `lists`/`macros` are the rule set's declared lists and macros (by name), which a parsed
    tree's names refer to."""
    try:
        cond = _Analysis(lists, macros).expr(expr, ())
    except RecursionError:
        return None
    if cond is None or all(s in _DISPATCHED for s in _segments(cond)):
        return None  # eventSource/eventName are dispatched on already
    return cond


class _Analysis:
    def __init__(self, lists: Any, macros: Any):
        self.lists = lists
        self.macros = macros
        # A bound macro body is one object shared by every use (ctrules.binding); its
        # condition is worked out once, so `m0 = m1 and m1`, ... stays linear.
        self.bodies: dict[int, Cond | None] = {}

    def expr(self, e: Any, expanding: tuple[str, ...]) -> Cond | None:
        kind = type(e)
        if kind is n.MacroUse:  # the bound tree: index through the macro's body
            body = id(e.body)
            if body not in self.bodies:
                self.bodies[body] = self.expr(e.body, expanding)
            return self.bodies[body]
        if kind is n.MacroRef:  # unbound: a parsed tree, or a macro that does not exist
            macro = self.macros.get(e.name)
            if macro is None or e.name in expanding:
                return None
            return self.expr(macro.expr, (*expanding, e.name))
        if kind is n.And:
            found = [c for c in (self.expr(o, expanding) for o in e.operands) if c is not None]
            useful = [c for c in found if not all(s in _DISPATCHED for s in _segments(c))]
            return min(useful or found, key=_rank, default=None)
        if kind is n.Or:
            parts: list[Cond] = []
            for operand in e.operands:
                c = self.expr(operand, expanding)
                if c is None:
                    return None
                parts.extend(c.parts if isinstance(c, AnyOf) else (c,))
            return AnyOf(tuple(parts)) if len(parts) != 1 else parts[0]
        if kind is n.Compare:
            return self.compare(e)
        if kind is n.InTest:
            return self.in_test(e)
        if kind is n.StringTest:
            return self.string_test(e)
        if kind is n.Matches:
            key = self.subject(e.left)
            if key is None or type(e.pattern.value) is not str:
                return None
            return Regex(key, e.pattern.value)
        if kind is n.Exists:
            segments = self.path(e.path)
            return None if segments is None else Present(segments)
        return None  # not, quantifiers, constants, anything new: no index condition

    def path(self, p: Any) -> tuple[str | int, ...] | None:
        # Only at the top level (never inside any/all, which this analysis does not enter)
        # are `x` and `event.x` the same field.
        if type(p) is not n.Path or p.anchor not in ("rel", "event") or not p.segments:
            return None
        return p.segments

    def subject(self, operand: Any) -> Key | None:
        """`path`, or `lower(...)`/`upper(...)` around one: the path and the mappings."""
        if type(operand) is n.Call and operand.name in ("lower", "upper") \
                and len(operand.args) == 1:
            inner = self.subject(operand.args[0])
            return None if inner is None else (inner[0], (*inner[1], operand.name))
        segments = self.path(operand)
        return None if segments is None else (segments, ())

    def strings(self, operand: Any) -> tuple[str, ...] | None:
        """The strings of a list literal or declared list, if it holds nothing else."""
        items: Any = None
        if type(operand) is n.ListLit:
            items = operand
        elif type(operand) is n.ListRef:  # the bound tree: a declared list, resolved
            items = operand.items
        elif (type(operand) is n.Path and operand.anchor == "rel" and len(operand.segments) == 1
              and operand.segments[0] in self.lists):
            items = self.lists[operand.segments[0]]
        if items is None:
            return None
        values = items.values()
        if not values or not all(type(v) is str for v in values):
            return None
        return tuple(values)

    def compare(self, e: n.Compare) -> Cond | None:
        if e.op != "==" or type(e.right) is not n.Literal_ or type(e.right.value) is not str:
            return None
        key = self.subject(e.left)
        return None if key is None else Eq(key, frozenset([e.right.value]))

    def in_test(self, e: n.InTest) -> Cond | None:
        if e.negated:
            return None
        if type(e.right) is n.Call:
            segments = self.path(e.left)
            if e.right.name != "cidr" or segments is None:
                return None
            networks = []
            for arg in e.right.args:
                if type(arg) is not n.Literal_ or type(arg.value) is not str:
                    return None
                try:
                    networks.append(ipaddress.ip_network(arg.value, strict=False))
                except ValueError:
                    return None
            return Cidr(segments, tuple(networks)) if networks else None
        values = self.strings(e.right)
        key = self.subject(e.left)
        if values is None or key is None:
            return None
        return Eq(key, frozenset(values))

    def string_test(self, e: n.StringTest) -> Cond | None:
        if e.op == "contains":
            return None
        if type(e.right) is n.Literal_:
            if type(e.right.value) is not str:
                return None
            needles: tuple[str, ...] | None = (e.right.value,)
        else:
            needles = self.strings(e.right)
        key = self.subject(e.left)
        if needles is None or key is None:
            return None
        return Affix(key, e.op == "endswith", needles)


# ---- lookup tables ---------------------------------------------------------------------------

Candidate = tuple[Any, Any]  # (rule, predicate), as the rule set keeps them
Positions = set[int]


def _mapper(mapping: Mapping_) -> Callable[[str], str] | None:
    if not mapping:
        return None
    funcs = [str.lower if m == "lower" else str.upper for m in mapping]
    if len(funcs) == 1:
        return funcs[0]

    def apply(v: str) -> str:
        for f in funcs:
            v = f(v)
        return v

    return apply


def _strings(walk: Callable[[Any], Any], record: Any) -> list[str]:
    """The strings a path reaches, as `==`/`startswith`/`matches` see them."""
    v = walk(record)
    if type(v) is str:
        return [v]
    if type(v) is list or type(v) is Fanout:
        return [x for x in expand(v) if type(x) is str]
    return []


# A table's lookup for one record (a dict): the positions it selects, or None/empty.
Probe = Callable[[dict[str, Any]], "Iterable[int] | None"]


def _probe(segments: tuple[str | int, ...], one: Callable[[str], Iterable[int] | None],
           slow: Callable[[Any], Iterable[int]]) -> Probe:
    """A probe reading a one- or two-key path inline and calling `one` on a string value;
    anything else (arrays, fan-outs, other types, longer paths) goes to `slow`, the table's
    general `select`. A missing field and null select nothing (no string to look up)."""
    if len(segments) == 1 and type(segments[0]) is str:
        key = segments[0]

        def probe1(record: dict[str, Any]) -> Iterable[int] | None:
            v = record.get(key)
            if type(v) is str:
                return one(v)
            if v is None:
                return None
            return slow(record)

        return probe1
    if len(segments) == 2 and type(segments[0]) is str and type(segments[1]) is str:
        k1, k2 = str(segments[0]), str(segments[1])

        def probe2(record: dict[str, Any]) -> Iterable[int] | None:
            o = record.get(k1)
            if type(o) is dict:
                v = o.get(k2)
                if type(v) is str:
                    return one(v)
                if v is None:
                    return None
            elif o is None:
                return None
            return slow(record)

        return probe2
    return slow


class _StringTable:
    """Every string condition on one (path, mapping)."""

    def __init__(self, key: Key):
        self.key = key
        self.walk = make_walker(key[0])
        self.mapping = _mapper(key[1])
        self.eq: dict[str, list[int]] = {}
        self.prefixes: dict[int, dict[str, list[int]]] = {}
        self.suffixes: dict[int, dict[str, list[int]]] = {}
        self.patterns: list[tuple[str, int]] = []
        self.regex: Any = None
        self.regex_rules: list[int] = []  # position of each pattern in the set
        self.every_regex_rule: list[int] = []
        self.one: Callable[[str, Positions], None] | None = None  # made on first use

    def add(self, cond: Eq | Affix | Regex, pos: int) -> None:
        if isinstance(cond, Eq):
            for v in cond.values:
                self.eq.setdefault(v, []).append(pos)
        elif isinstance(cond, Affix):
            table = self.suffixes if cond.suffix else self.prefixes
            for needle in cond.needles:
                table.setdefault(len(needle), {}).setdefault(needle, []).append(pos)
        else:
            self.patterns.append((cond.pattern, pos))

    def finish(self, cache: dict[tuple[str, ...], Any]) -> list[int]:
        """Compile the regex set; returns positions that could not go into it (always tried)."""
        if not self.patterns:
            return []
        unindexed: list[int] = []
        patterns = tuple(p for p, _ in self.patterns)
        compiled = cache.get(patterns)
        if compiled is None:
            compiled = _RegexSet(patterns)
            cache[patterns] = compiled
        self.regex = compiled
        for i, (_, pos) in enumerate(self.patterns):
            if compiled.added[i]:
                self.regex_rules.append(pos)
            else:
                self.regex_rules.append(-1)
                unindexed.append(pos)
        self.every_regex_rule = [p for _, p in self.patterns]
        return unindexed

    def _one(self) -> Callable[[str, Positions], None]:
        """The lookups for one string value, with only the parts this table has (the common
        case, `==`/`in` alone, is one dict lookup)."""
        eq, prefixes, suffixes, regex = self.eq, self.prefixes, self.suffixes, self.regex
        mapping = self.mapping
        regex_rules, every_regex_rule = self.regex_rules, self.every_regex_rule
        if not prefixes and not suffixes and regex is None:
            if mapping is None:
                def eq_only(v: str, out: Positions) -> None:
                    hit = eq.get(v)
                    if hit:
                        out.update(hit)

                return eq_only

            def eq_mapped(v: str, out: Positions) -> None:
                hit = eq.get(mapping(v))
                if hit:
                    out.update(hit)

            return eq_mapped

        def every_kind(v: str, out: Positions) -> None:
            if mapping is not None:
                v = mapping(v)
            if eq:
                hit = eq.get(v)
                if hit:
                    out.update(hit)
            for length, table in prefixes.items():
                hit = table.get(v[:length])
                if hit:
                    out.update(hit)
            for length, table in suffixes.items():
                if length <= len(v):
                    hit = table.get(v[len(v) - length:])
                    if hit:
                        out.update(hit)
            if regex is not None:
                matched = regex.match(v)
                if matched is None:
                    out.update(every_regex_rule)
                else:
                    out.update(regex_rules[i] for i in matched if regex_rules[i] >= 0)

        return every_kind

    def select(self, record: Any, out: Positions) -> None:
        one = self.one
        if one is None:
            one = self.one = self._one()
        v = self.walk(record)
        if type(v) is str:
            one(v, out)
        elif type(v) is list or type(v) is Fanout:
            for x in expand(v):
                if type(x) is str:
                    one(x, out)

    def probe(self) -> Probe:
        """`select` for the common case, a string value, without building a set."""
        eq, mapping = self.eq, self.mapping
        if not self.prefixes and not self.suffixes and self.regex is None:
            if mapping is None:
                return _probe(self.key[0], eq.get, self._slow)

            def eq_mapped(v: str) -> Iterable[int] | None:
                return eq.get(mapping(v))

            return _probe(self.key[0], eq_mapped, self._slow)
        if not eq and not self.suffixes and self.regex is None:
            prefixes = tuple(self.prefixes.items())

            def prefixes_only(v: str) -> Iterable[int] | None:
                if mapping is not None:
                    v = mapping(v)
                out: list[int] | None = None
                for length, table in prefixes:
                    hit = table.get(v[:length])
                    if hit:
                        out = hit if out is None else [*out, *hit]
                return out

            return _probe(self.key[0], prefixes_only, self._slow)
        if not eq and not self.prefixes and not self.suffixes:
            regex, regex_rules = self.regex, self.regex_rules
            every_regex_rule = self.every_regex_rule

            def regex_only(v: str) -> Iterable[int] | None:
                if mapping is not None:
                    v = mapping(v)
                matched = regex.match(v)
                if matched is None:
                    return every_regex_rule
                if not matched:
                    return None
                return [regex_rules[i] for i in matched if regex_rules[i] >= 0]

            segments = self.key[0]
            return _probe(segments, regex_only, self._slow)
        one = self._one()

        def every_kind(v: str) -> Iterable[int] | None:
            out: Positions = set()
            one(v, out)
            return out

        return _probe(self.key[0], every_kind, self._slow)

    def _slow(self, record: Any) -> Positions:
        out: Positions = set()
        self.select(record, out)
        return out


class _RegexSet:
    """All patterns of one path in one RE2::Set, plus the always-matching sentinel."""

    def __init__(self, patterns: Sequence[str]):
        self.added: list[bool] = []
        self.index: list[int] = []  # set index -> pattern index
        # User agents and the like repeat: a matched text is not matched again (bounded).
        self.memo: dict[str, list[int] | None] = {}
        self.set: Any = re2.Set.SearchSet(_RE2_OPTIONS)
        for i, pattern in enumerate(patterns):
            try:
                self.set.Add(pattern)
            except Exception:  # re2.error: tested rule by rule instead
                self.added.append(False)
                continue
            self.added.append(True)
            self.index.append(i)
        self.sentinel = len(self.index)
        try:
            self.set.Add(_SENTINEL)
            self.set.Compile()
        except Exception:
            self.set = None

    def match(self, text: str) -> list[int] | None:
        """Pattern indexes that match, or None when the set cannot say (all must be tried).
        The list is shared: callers only read it."""
        memo = self.memo
        try:
            return memo[text]
        except KeyError:
            pass
        found = self._match(text)
        if len(memo) >= _MEMO_LIMIT:
            memo.clear()
        memo[text] = found
        return found

    def _match(self, text: str) -> list[int] | None:
        if self.set is None:
            return None
        try:
            found = self.set.Match(text)
        except Exception:
            return None
        if not found or self.sentinel not in found:
            return None
        index = self.index
        return [index[i] for i in found if i != self.sentinel]


class _CidrTable:
    def __init__(self, segments: tuple[str | int, ...]):
        self.segments = segments
        self.walk = make_walker(segments)
        # (version, prefix length) -> network number -> positions
        self.nets: dict[tuple[int, int], dict[int, list[int]]] = {}

    def add(self, cond: Cidr, pos: int) -> None:
        for net in cond.networks:
            shift = net.max_prefixlen - net.prefixlen
            table = self.nets.setdefault((net.version, net.prefixlen), {})
            table.setdefault(int(net.network_address) >> shift, []).append(pos)

    def select(self, record: Any, out: Positions) -> None:
        for v in _strings(self.walk, record):
            parsed = parse_address(v)
            if parsed is None:
                continue
            version, number, bits = parsed
            for (net_version, prefixlen), table in self.nets.items():
                if version == net_version:
                    hit = table.get(number >> (bits - prefixlen))
                    if hit:
                        out.update(hit)

    def probe(self) -> Probe:
        nets = tuple((version, prefixlen, table)
                     for (version, prefixlen), table in self.nets.items())

        def one(v: str) -> Iterable[int] | None:
            parsed = parse_address(v)
            if parsed is None:
                return None
            version, number, bits = parsed
            out: list[int] | None = None
            for net_version, prefixlen, table in nets:
                if version == net_version:
                    hit = table.get(number >> (bits - prefixlen))
                    if hit:
                        out = hit if out is None else [*out, *hit]
            return out

        return _probe(self.segments, one, self._slow)

    def _slow(self, record: Any) -> Positions:
        out: Positions = set()
        self.select(record, out)
        return out


class _PresentTable:
    def __init__(self, segments: tuple[str | int, ...]):
        self.walk = make_walker(segments)
        self.rules: list[int] = []

    def select(self, record: Any, out: Positions) -> None:
        if present(self.walk(record)):
            out.update(self.rules)

    def probe(self) -> Probe:
        walk, rules = self.walk, self.rules

        def present_probe(record: Any) -> Iterable[int] | None:
            return rules if present(walk(record)) else None

        return present_probe


class Indexed:
    """A dispatch entry's candidates behind lookup tables: `select(record)` gives the ones to
    test, in rule order."""

    __slots__ = ("candidates", "tables", "residual", "residual_only", "probes")

    def __init__(self, candidates: tuple[Candidate, ...], conds: Sequence[Cond | None],
                 regex_cache: dict[tuple[str, ...], Any]):
        self.candidates = candidates
        strings: dict[Key, _StringTable] = {}
        cidrs: dict[tuple[str | int, ...], _CidrTable] = {}
        presents: dict[tuple[str | int, ...], _PresentTable] = {}
        residual: list[int] = []

        def add(cond: Cond, pos: int) -> None:
            if isinstance(cond, AnyOf):
                for part in cond.parts:
                    add(part, pos)
            elif isinstance(cond, Cidr):
                cidrs.setdefault(cond.segments, _CidrTable(cond.segments)).add(cond, pos)
            elif isinstance(cond, Present):
                table = presents.setdefault(cond.segments, _PresentTable(cond.segments))
                table.rules.append(pos)
            else:
                strings.setdefault(cond.key, _StringTable(cond.key)).add(cond, pos)

        for pos, cond in enumerate(conds):
            if cond is None:
                residual.append(pos)
            else:
                add(cond, pos)
        for table in strings.values():
            residual.extend(table.finish(regex_cache))
        self.tables: tuple[Any, ...] = (*strings.values(), *cidrs.values(), *presents.values())
        self.residual = frozenset(residual)
        self.residual_only = tuple(candidates[p] for p in sorted(self.residual))
        self.probes = tuple(table.probe() for table in self.tables)

    def select(self, record: Any) -> tuple[Candidate, ...]:
        hits: Positions | None = None
        if type(record) is dict:
            for probe in self.probes:
                found = probe(record)
                if found:
                    if hits is None:
                        hits = set(found)
                    else:
                        hits.update(found)
        else:
            hits = set()
            for table in self.tables:
                table.select(record, hits)
        if not hits:
            return self.residual_only
        hits.update(self.residual)
        candidates = self.candidates
        return tuple([candidates[p] for p in sorted(hits)])

    def __len__(self) -> int:
        return len(self.candidates)


def index_candidates(candidates: tuple[Candidate, ...], conds: Iterable[Cond | None],
                     regex_cache: dict[tuple[str, ...], Any]) -> tuple[Candidate, ...] | Indexed:
    """The candidates as they are when indexing would not pay, else behind an `Indexed`."""
    conds = list(conds)
    if len(candidates) < MIN_RULES or sum(c is not None for c in conds) < MIN_RULES // 2:
        return candidates
    return Indexed(candidates, conds, regex_cache)


def decode_paths(conds: Iterable[Cond | None]) -> set[tuple[str | int, ...]]:
    """The paths the index reads (for a decoder that decodes only what is read)."""
    out: set[tuple[str | int, ...]] = set()
    for cond in conds:
        if cond is not None:
            out.update(_segments(cond))
    return out


__all__ = ["MISSING", "Cond", "Indexed", "decode_paths", "index_candidates", "necessary"]
