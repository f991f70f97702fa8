"""Pipeline stage 5b — the field index: which rules can match this event, by any field.

`.ctr → parser → nodes → checks → compiler → **index** → RuleSet.evaluate`.

Dispatch on (eventSource, eventName) leaves, per event, the rules that can match that pair. Rules
that do not name their events (a fifth of a real organisation's rules: "anything by this user",
"anything from outside our CIDRs", "any bucket starting with prod-") land in every entry and
would be tested one by one on every event. This module gives each rule a *necessary condition*
that can be looked up — derived from its `when` — and, for a dispatch entry with enough rules,
looks those conditions up in tables, so an event is only tested against the rules whose
condition holds, plus the residual rules that have none. The tables are the rule set's, one per
path, shared by all its entries, and remember (bounded) what each value looked up may satisfy:
most events satisfy none, and what they carry (user agents, addresses, user names) repeats.

A necessary condition is never more than an over-approximation: a rule selected here is still
tested with its own predicate; a rule left out is one that cannot match. Lookups follow the
language exactly — a path through an array reaches every element, strings match strings only
(1 != "1", true != 1), `lower`/`upper` apply to strings and turn anything else into null.
Anything this module does not understand (a quantifier, `!=`, a node type added later) means
"no index condition", which is always safe.
"""

from __future__ import annotations

import ipaddress
import threading
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
#
# The tables belong to the rule set, not to a dispatch entry: rules that do not name their events
# are candidates in every entry (thousands of entries), so one copy of their tables, and one
# memory of what each value looked up, serves all of them. Each distinct condition is a bit; a
# path's lookup turns a value into the bits of the conditions it may satisfy, and an entry keeps
# the bits of its own candidates' conditions (`Indexed.mask`).

Candidate = tuple[Any, Any]  # (rule, predicate), as the rule set keeps them
Mask = int  # bit set: the book's condition with that bit may hold

# Values remembered per path, and the longest remembered (hostile input: millions of distinct
# user agents, megabyte strings), before the memory is cleared and starts again.
_MEMO_LIMIT = 16384
_MEMO_MAX_LEN = 512


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


def _regex_ok(pattern: str) -> bool:
    """Whether RE2 takes `pattern` into a set (one it refuses is tested rule by rule)."""
    try:
        re2.Set.SearchSet(_RE2_OPTIONS).Add(pattern)
    except Exception:  # re2.error
        return False
    return True


class _StringKeys:
    """Every string condition on one (path, mapping): a string value's bits."""

    def __init__(self, mapping: Mapping_):
        self.mapping = _mapper(mapping)
        self.eq: dict[str, Mask] = {}
        self.prefixes: dict[int, dict[str, Mask]] = {}
        self.suffixes: dict[int, dict[str, Mask]] = {}
        self.patterns: list[str] = []
        self.pattern_bits: list[Mask] = []
        self.every_regex: Mask = 0
        self.regex: _RegexSet | None = None  # compiled on first use after a pattern is added

    def add(self, cond: Eq | Affix | Regex, bit: Mask) -> None:
        if isinstance(cond, Eq):
            for v in cond.values:
                self.eq[v] = self.eq.get(v, 0) | bit
        elif isinstance(cond, Affix):
            table = self.suffixes if cond.suffix else self.prefixes
            for needle in cond.needles:
                by_needle = table.setdefault(len(needle), {})
                by_needle[needle] = by_needle.get(needle, 0) | bit
        else:
            self.patterns.append(cond.pattern)
            self.pattern_bits.append(bit)
            self.every_regex |= bit
            self.regex = None

    def bits(self, v: str) -> Mask:
        if self.mapping is not None:
            v = self.mapping(v)
        m = self.eq.get(v, 0)
        for length, table in self.prefixes.items():
            m |= table.get(v[:length], 0)
        for length, table in self.suffixes.items():
            if length <= len(v):
                m |= table.get(v[len(v) - length:], 0)
        if self.patterns:
            regex = self.regex
            if regex is None:
                regex = self.regex = _RegexSet(self.patterns)
            matched = regex.match(v)
            if matched is None:  # the set cannot say: every regex rule is tried
                m |= self.every_regex
            else:
                for i in matched:
                    m |= self.pattern_bits[i]
        return m


class _RegexSet:
    """All patterns of one path in one RE2::Set, plus the always-matching sentinel."""

    def __init__(self, patterns: Sequence[str]):
        self.index: list[int] = []  # set index -> pattern index
        self.set: Any = re2.Set.SearchSet(_RE2_OPTIONS)
        try:
            for i, pattern in enumerate(patterns):
                self.set.Add(pattern)  # `_regex_ok` let only patterns RE2 takes in
                self.index.append(i)
            self.sentinel = len(self.index)
            self.set.Add(_SENTINEL)
            self.set.Compile()
        except Exception:
            self.set = None

    def match(self, text: str) -> list[int] | None:
        """Pattern indexes that match, or None when the set cannot say (all must be tried)."""
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


class _CidrKeys:
    def __init__(self) -> None:
        # (version, prefix length) -> network number -> bits
        self.nets: dict[tuple[int, int], dict[int, Mask]] = {}

    def add(self, cond: Cidr, bit: Mask) -> None:
        for net in cond.networks:
            shift = net.max_prefixlen - net.prefixlen
            table = self.nets.setdefault((net.version, net.prefixlen), {})
            number = int(net.network_address) >> shift
            table[number] = table.get(number, 0) | bit

    def bits(self, v: str) -> Mask:
        parsed = parse_address(v)
        if parsed is None:
            return 0
        version, number, width = parsed
        m = 0
        for (net_version, prefixlen), table in self.nets.items():
            if version == net_version:
                m |= table.get(number >> (width - prefixlen), 0)
        return m


class _PathLookup:
    """Every string and CIDR condition on one path: what each string it reaches may satisfy,
    remembered per string (bounded). Only strings are remembered — 1, true, "1" and ["1"]
    never share an answer; arrays are looked up element by element, as the language reads
    them."""

    def __init__(self, segments: tuple[str | int, ...], lock: threading.Lock):
        self.segments = segments
        self.walk = make_walker(segments)
        self.lock = lock  # the book's: answers are worked out and stored under it
        self.strings: dict[Mapping_, _StringKeys] = {}
        self.cidr: _CidrKeys | None = None
        self.parts: tuple[_StringKeys | _CidrKeys, ...] = ()
        self.memo: dict[str, Mask] = {}  # cleared in place: entries hold this very dict

    def add(self, cond: Eq | Affix | Regex | Cidr, bit: Mask) -> None:
        if isinstance(cond, Cidr):
            if self.cidr is None:
                self.cidr = _CidrKeys()
            self.cidr.add(cond, bit)
        else:
            mapping = cond.key[1]
            if mapping not in self.strings:
                self.strings[mapping] = _StringKeys(mapping)
            self.strings[mapping].add(cond, bit)
        self.parts = (*self.strings.values(), *((self.cidr,) if self.cidr else ()))
        self.memo.clear()  # remembered answers lack the new condition

    def lookup(self, v: str) -> Mask:
        memo = self.memo
        try:
            return memo[v]
        except KeyError:
            pass
        # Under the lock, so no thread stores an answer worked out before another thread's
        # entry added a condition here (and cleared the memory): it would lack that condition.
        with self.lock:
            m = 0
            for part in self.parts:
                m |= part.bits(v)
            if len(v) <= _MEMO_MAX_LEN:
                if len(memo) >= _MEMO_LIMIT:
                    memo.clear()
                memo[v] = m
        return m

    def bits(self, record: Any) -> Mask:
        """The general lookup: whatever the path reaches in `record`, arrays included."""
        v = self.walk(record)
        if type(v) is str:
            return self.lookup(v)
        m = 0
        if type(v) is list or type(v) is Fanout:
            for x in expand(v):
                if type(x) is str:
                    m |= self.lookup(x)
        return m


class _PresentLookup:
    def __init__(self, segments: tuple[str | int, ...]):
        self.walk = make_walker(segments)
        self.mask: Mask = 0

    def bits(self, record: Any) -> Mask:
        return self.mask if present(self.walk(record)) else 0


Lookup = _PathLookup | _PresentLookup


class _Book:
    """The lookups of one rule set: a bit per distinct condition, a lookup per path. Workers
    may evaluate one rule set in parallel: conditions are added and answers worked out under
    `lock` (reading a remembered answer needs no lock)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.bits: dict[Cond, Mask | None] = {}
        self.count = 0
        self.paths: dict[tuple[str | int, ...], _PathLookup] = {}
        self.presents: dict[tuple[str | int, ...], _PresentLookup] = {}

    def bit(self, cond: Cond) -> Mask | None:
        """`cond`'s bit, registering it on first sight; None when it cannot be looked up.
        (This and `lookups` run under `lock`.)"""
        try:
            return self.bits[cond]
        except KeyError:
            pass
        parts = _parts(cond)
        if any(isinstance(p, Regex) and not _regex_ok(p.pattern) for p in parts):
            self.bits[cond] = None
            return None
        bit = self.bits[cond] = 1 << self.count
        self.count += 1
        for part in parts:
            if isinstance(part, Present):
                self.present(part.segments).mask |= bit
            else:
                self.path(part).add(part, bit)
        return bit

    def lookups(self, cond: Cond) -> list[Lookup]:
        """The lookups that answer for `cond` (registered)."""
        return [self.present(p.segments) if isinstance(p, Present) else self.path(p)
                for p in _parts(cond)]

    def present(self, segments: tuple[str | int, ...]) -> _PresentLookup:
        found = self.presents.get(segments)
        if found is None:
            found = self.presents[segments] = _PresentLookup(segments)
        return found

    def path(self, cond: Eq | Affix | Regex | Cidr) -> _PathLookup:
        segments = cond.segments if isinstance(cond, Cidr) else cond.key[0]
        found = self.paths.get(segments)
        if found is None:
            found = self.paths[segments] = _PathLookup(segments, self.lock)
        return found


def _parts(cond: Cond) -> tuple[Eq | Affix | Regex | Cidr | Present, ...]:
    return cond.parts if isinstance(cond, AnyOf) else (cond,)  # type: ignore[return-value]


_BOOK = ("ctrules.index", "book")  # where a rule set's shared dict keeps its `_Book`


class Indexed:
    """A dispatch entry's candidates behind the rule set's lookups: `select(record)` gives the
    ones to test, in rule order."""

    __slots__ = ("candidates", "residual", "residual_only", "mask", "by_bit", "lookups", "one",
                 "two", "general")

    def __init__(self, candidates: tuple[Candidate, ...], conds: Sequence[Cond | None],
                 shared: dict[Any, Any]):
        self.candidates = candidates
        book: _Book = shared.get(_BOOK) or shared.setdefault(_BOOK, _Book())
        residual: list[int] = []
        mask = 0
        by_bit: dict[Mask, list[int]] = {}
        lookups: dict[int, Lookup] = {}
        with book.lock:
            for pos, cond in enumerate(conds):
                bit = None if cond is None else book.bit(cond)
                if bit is None or cond is None:
                    residual.append(pos)
                    continue
                mask |= bit
                by_bit.setdefault(bit, []).append(pos)
                for lookup in book.lookups(cond):
                    lookups.setdefault(id(lookup), lookup)
        self.residual = frozenset(residual)
        self.residual_only = tuple(candidates[p] for p in residual)
        self.mask = mask
        self.by_bit = by_bit
        self.lookups = tuple(lookups.values())
        # Paths of one or two keys are read inline by `select` (the common case: one dict
        # lookup per path on the remembered answers); the rest answer through `bits`.
        one: list[tuple[str, dict[str, Mask], _PathLookup]] = []
        two: list[tuple[str, str, dict[str, Mask], _PathLookup]] = []
        general: list[Lookup] = []
        for lookup in self.lookups:
            segments = lookup.segments if type(lookup) is _PathLookup else ()
            if type(lookup) is not _PathLookup or not all(type(s) is str for s in segments):
                general.append(lookup)
            elif len(segments) == 1:
                one.append((str(segments[0]), lookup.memo, lookup))
            elif len(segments) == 2:
                two.append((str(segments[0]), str(segments[1]), lookup.memo, lookup))
            else:
                general.append(lookup)
        self.one = tuple(one)
        self.two = tuple(two)
        self.general = tuple(general)

    def select(self, record: Any) -> tuple[Candidate, ...]:
        hits = 0
        if type(record) is dict:
            for key, memo, lookup in self.one:
                v = record.get(key)
                if type(v) is str:
                    try:
                        hits |= memo[v]
                    except KeyError:
                        hits |= lookup.lookup(v)
                elif v is not None:  # an array (or another type: no string, no bits)
                    hits |= lookup.bits(record)
            for k1, k2, memo, lookup in self.two:
                o = record.get(k1)
                if type(o) is dict:
                    v = o.get(k2)
                    if type(v) is str:
                        try:
                            hits |= memo[v]
                        except KeyError:
                            hits |= lookup.lookup(v)
                    elif v is not None:
                        hits |= lookup.bits(record)
                elif o is not None:  # an array, or a string or number in the way
                    hits |= lookup.bits(record)
            for other in self.general:
                hits |= other.bits(record)
        else:
            for other in self.lookups:
                hits |= other.bits(record)
        hits &= self.mask
        if not hits:
            return self.residual_only
        positions = set(self.residual)
        by_bit = self.by_bit
        while hits:
            low = hits & -hits
            positions.update(by_bit[low])
            hits ^= low
        candidates = self.candidates
        return tuple([candidates[p] for p in sorted(positions)])

    def __len__(self) -> int:
        return len(self.candidates)


def index_candidates(candidates: tuple[Candidate, ...], conds: Iterable[Cond | None],
                     shared: dict[Any, Any]) -> tuple[Candidate, ...] | Indexed:
    """The candidates as they are when indexing would not pay, else behind an `Indexed`.
    `shared` is the rule set's own dict, the same for all its entries: the lookups live
    there."""
    conds = list(conds)
    if len(candidates) < MIN_RULES or sum(c is not None for c in conds) < MIN_RULES // 2:
        return candidates
    return Indexed(candidates, conds, shared)


def decode_paths(conds: Iterable[Cond | None]) -> set[tuple[str | int, ...]]:
    """The paths the index reads (for a decoder that decodes only what is read)."""
    out: set[tuple[str | int, ...]] = set()
    for cond in conds:
        if cond is not None:
            out.update(_segments(cond))
    return out


__all__ = ["MISSING", "Cond", "Indexed", "decode_paths", "index_candidates", "necessary"]
