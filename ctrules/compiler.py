"""Pipeline stage 4 — the compiler: checked AST → Python closures.

Each expression compiles once, at load, into a closure `pred(root, current) -> bool` (`current`
is the element inside `any`/`all`, the record elsewhere). No source text is generated and nothing
is evaluated: closures are composed from the functions below. Constants fold at compile time
(`x in []` is false, `and` with a false operand is false), regexes and CIDRs are compiled once,
and macros and list names are resolved once.

The compiler also derives, per rule, a *dispatch approximation*: a three-valued function of the
record's `eventSource` and `eventName` only, which says whether the rule can possibly match an
event with those two values. `RuleSet` uses it to test each event only against the rules that can
match it.
"""

from __future__ import annotations

import ipaddress
import operator
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, assert_never

import re2

from . import nodes as n
from .binding import Binder, list_items
from .gcpause import gc_paused
from .values import (
    MISSING,
    Fanout,
    cidr_test,
    equal,
    expand,
    length,
    make_walker,
    ordered,
    present,
    raw_values,
)

Pred = Callable[[Any, Any], bool]
Values = Callable[[Any, Any], list[Any]]
Compiled = Pred | bool  # a bool is a folded constant
StrMap = Callable[[str], str]

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a bad pattern is a diagnostic, not noise on stderr

RULE_KEY = "\x00rule"
"""Where route predicates find `rule.*`: a key no CloudTrail record can have."""

DISPATCH_PATHS: tuple[tuple[str, ...], ...] = (
    ("eventSource",), ("eventName",), ("errorCode",), ("userIdentity", "type"))
"""The fields an event is dispatched on: each rule is specialised for their values (few distinct
values in practice, and the ones rule conditions are mostly about)."""


class CompileError(Exception):
    """The AST is not valid (the checker reports these as diagnostics before compiling)."""


@dataclass(frozen=True)
class Scope:
    """A rule set's names. Every function here takes parsed or bound expressions: it binds them
    (`ctrules.binding`) first, once per expression."""

    lists: Mapping[str, n.ListLit]
    macros: Mapping[str, n.MacroDecl]
    in_route: bool = False
    binder: Binder = field(init=False, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "binder", Binder(self.lists, self.macros))

    def bind(self, expr: n.Expr) -> n.Expr:
        return self.binder.bind(expr)


def compile_expr(expr: n.Expr, scope: Scope) -> Pred:
    """The predicate for `expr`, constants included (as constant functions)."""
    with gc_paused():
        compiled = _Compiler(scope).expr(scope.bind(expr))
    return _as_pred(compiled)


def compile_folded(expr: n.Expr, scope: Scope) -> Compiled:
    """Like compile_expr, but a constant expression comes back as a bool."""
    with gc_paused():
        return _Compiler(scope).expr(scope.bind(expr))


def _as_pred(compiled: Compiled) -> Pred:
    if compiled is True:
        return always
    if compiled is False:
        return never
    assert callable(compiled)
    return compiled


def always(root: Any, cur: Any) -> bool:
    return True


def never(root: Any, cur: Any) -> bool:
    return False


# ---- literal sets: `in` with the no-coercion equality ---------------------------------------


class LiteralSet:
    """Membership with `equal` semantics, in O(1) for scalars (true is not 1, 1 is 1.0)."""

    def __init__(self, items: Iterable[Any]):
        self.strings: set[str] = set()
        self.numbers: set[int | float] = set()
        self.bools: set[bool] = set()
        self.others: list[Any] = []
        for item in items:
            if type(item) is str:
                self.strings.add(item)
            elif type(item) is bool:
                self.bools.add(item)
            elif type(item) in (int, float):
                self.numbers.add(item)
            elif item is not None:  # `x in [null]` is false: null never matches
                self.others.append(item)
        self.only_strings = not (self.numbers or self.bools or self.others)

    def __contains__(self, value: Any) -> bool:
        t = type(value)
        if t is str:
            return value in self.strings
        if t is bool:
            return value in self.bools
        if t is int or t is float:
            return value in self.numbers
        if value is None:
            return False
        return any(equal(value, other) for other in self.others)


# ---- the compiler -------------------------------------------------------------------------


class _Compiler:
    """Compiles a bound expression (see `Scope.bind`)."""

    def __init__(self, scope: Scope):
        self.scope = scope
        # Each macro compiles once per expression and its closure is shared by every use: a
        # macro compiles to the same closure wherever it is used (closures take the current
        # element as an argument), and `m0 = m1 and m1`, `m1 = m2 and m2`, ... would otherwise
        # compile 2^depth copies.
        self.compiled_macros: dict[str, Compiled] = {}

    def expr(self, e: n.Expr) -> Compiled:
        match e:
            case n.BoolConst():
                return e.value
            case n.MacroUse():
                return self._macro(e)
            case n.MacroRef():  # left unbound: no such macro, or a cycle
                if e.name in self.scope.macros:
                    raise CompileError(f"recursive macro {e.name!r}")
                raise CompileError(f"undefined macro {e.name!r}")
            case n.Not():
                return self._not(e)
            case n.And():
                return self._and(e)
            case n.Or():
                return self._or(e)
            case n.Quantifier():
                return self._quantifier(e)
            case n.Compare():
                return self._compare(e)
            case n.InTest():
                return self._intest(e)
            case n.StringTest():
                return self._stringtest(e)
            case n.Matches():
                return self._matches(e)
            case n.Glob():
                return self._glob(e)
            case n.Exists():
                return self._exists(e)
            case n.Path():
                raise CompileError("a path is not a condition")
            case n.Literal_() | n.ListLit() | n.Call() | n.ListRef():
                raise CompileError(f"{type(e).__name__} is not a condition")
            case _:
                assert_never(e)

    # boolean structure
    def _macro(self, e: n.MacroUse) -> Compiled:
        done = self.compiled_macros.get(e.name)
        if done is None:
            # Macros are inlined where used, so inside `any`/`all` their bare paths are relative
            # to the element, exactly as if the text were written there.
            done = self.compiled_macros[e.name] = self.expr(e.body)
        return done

    def _not(self, e: n.Not) -> Compiled:
        inner = self.expr(e.operand)
        if isinstance(inner, bool):
            return not inner
        return lambda r, c: not inner(r, c)

    def _and(self, e: n.And) -> Compiled:
        parts: list[Pred] = []
        for operand in e.operands:
            compiled = self.expr(operand)
            if compiled is False:
                return False
            if compiled is not True:
                parts.append(compiled)
        return _chain_and(parts)

    def _or(self, e: n.Or) -> Compiled:
        parts: list[Pred] = []
        # `x == "a" or x == "b" or x in [...]` on one subject is one set lookup.
        equalities = [self.string_equality(operand) for operand in e.operands]
        subjects = Counter(found[0] for found in equalities if found is not None)
        merged: dict[n.Operand, set[str]] = {}
        for operand, found in zip(e.operands, equalities, strict=True):
            if found is not None and subjects[found[0]] > 1:
                merged.setdefault(found[0], set()).update(found[1])
                continue
            compiled = self.expr(operand)
            if compiled is True:
                return True
            if compiled is not False:
                parts.append(compiled)
        for subject, strings in merged.items():
            parts.append(self.string_pred(subject, frozenset(strings).__contains__))
        return _chain_or(parts)

    def string_equality(self, e: n.Expr) -> tuple[n.Operand, tuple[str, ...]] | None:
        """(subject, strings) when `e` holds exactly when the subject equals one of them."""
        if isinstance(e, n.Compare) and e.op == "==" and isinstance(e.right, n.Literal_) \
                and type(e.right.value) is str:
            subject, strings = e.left, (e.right.value,)  # type: tuple[n.Operand, tuple[str, ...]]
        elif isinstance(e, n.InTest) and not e.negated and not isinstance(e.right, n.Call):
            items = self.resolve_list(e.right)
            if items is None:
                return None
            values = items.values()
            if not values or not all(type(v) is str for v in values):
                return None
            subject, strings = e.left, tuple(str(v) for v in values)
        else:
            return None
        found = self.string_subject(subject)
        if found is None or found[0].anchor == "rule":
            return None
        return subject, strings

    def _quantifier(self, e: n.Quantifier) -> Compiled:
        elements = self.elements(e.path)
        body = self.expr(e.body)
        if e.kind == "any":
            if body is False:
                return False
            if body is True:
                return lambda r, c: bool(elements(r, c))
            fn = body
            return lambda r, c: any(fn(r, x) for x in elements(r, c))
        if body is True:
            return True
        if body is False:
            return lambda r, c: not elements(r, c)
        fn = body
        return lambda r, c: all(fn(r, x) for x in elements(r, c))

    def elements(self, path: n.Path) -> Values:
        """The elements `any`/`all` range over: non-null values, arrays expanded."""
        reach = self.reach(path)

        def elements(r: Any, c: Any) -> list[Any]:
            return [v for v in expand(reach(r, c)) if v is not None]

        return elements

    # paths
    def reach(self, path: n.Path) -> Callable[[Any, Any], Any]:
        return reach(path)

    def values(self, operand: n.Operand) -> Values:
        """The values a comparison sees on one side (expanded; [None] when nothing)."""
        if isinstance(operand, n.Path):
            reach = self.reach(operand)
            return lambda r, c: expand(reach(r, c))
        if isinstance(operand, n.Call):
            return self.call(operand)
        if isinstance(operand, n.Literal_):
            value = operand.value
            return lambda r, c: [value]
        raise CompileError(f"{type(operand).__name__} cannot be compared here")

    def call(self, call: n.Call) -> Values:
        if len(call.args) != 1:
            raise CompileError(f"{call.name}() takes one argument")
        arg = call.args[0]
        if call.name == "len":
            if isinstance(arg, n.Path):
                reach = self.reach(arg)
                return lambda r, c: [length(v) for v in raw_values(reach(r, c))]
            inner = self.values(arg)  # type: ignore[arg-type]
            return lambda r, c: [length(v) for v in inner(r, c)]
        inner = self.values(arg)  # type: ignore[arg-type]
        if call.name == "lower":
            return lambda r, c: [v.lower() if type(v) is str else None for v in inner(r, c)]
        if call.name == "upper":
            return lambda r, c: [v.upper() if type(v) is str else None for v in inner(r, c)]
        raise CompileError(f"unknown function {call.name!r}")

    def resolve_list(self, operand: n.Operand) -> n.ListLit | None:
        """The list a (bound) right-hand operand stands for, if it is one."""
        return list_items(operand)

    def string_subject(self, operand: n.Operand) -> tuple[n.Path, StrMap | None] | None:
        """`path`, `lower(path)`, `upper(lower(path))`...: a path and the string mapping applied
        to each of its string values (non-strings give null, which no string test accepts)."""
        if isinstance(operand, n.Path):
            return operand, None
        if (isinstance(operand, n.Call) and operand.name in ("lower", "upper")
                and len(operand.args) == 1):
            inner = self.string_subject(operand.args[0])  # type: ignore[arg-type]
            if inner is None:
                return None
            path, before = inner
            case: StrMap = str.lower if operand.name == "lower" else str.upper
            if before is None:
                return path, case
            return path, lambda v: case(before(v))
        return None

    def string_pred(self, operand: n.Operand, test: Callable[[str], bool]) -> Pred:
        """The hot path for `path OP literal` on strings (==, in, startswith, ...), also through
        lower()/upper().

        Reads a one-key path inline (no call), and calls the test — a C-level callable where
        possible — only on strings; arrays and fan-outs take the general route.
        """
        subject = self.string_subject(operand)
        assert subject is not None
        path, mapping = subject
        scalar_ok = test if mapping is None else (lambda v: test(mapping(v)))
        if path.anchor == "it":
            def on_element(r: Any, c: Any) -> bool:
                if type(c) is str:
                    return scalar_ok(c)
                return False

            return on_element
        use_root = path.anchor != "rel"
        segments = (RULE_KEY, *path.segments) if path.anchor == "rule" else path.segments
        if len(segments) == 1 and isinstance(segments[0], str):
            key = segments[0]

            def one_key(r: Any, c: Any) -> bool:
                o = r if use_root else c
                v = o.get(key, MISSING) if type(o) is dict else MISSING
                if type(v) is str:
                    return scalar_ok(v)
                if type(v) is list:
                    return any(type(x) is str and scalar_ok(x) for x in expand(v))
                return False

            return one_key
        walk = make_walker(segments)

        def walked(r: Any, c: Any) -> bool:
            v = walk(r if use_root else c)
            if type(v) is str:
                return scalar_ok(v)
            if type(v) is list or type(v) is Fanout:
                return any(type(x) is str and scalar_ok(x) for x in expand(v))
            return False

        return walked

    # conditions
    def _exists(self, e: n.Exists) -> Compiled:
        reach = self.reach(e.path)
        return lambda r, c: present(reach(r, c))

    def _compare(self, e: n.Compare) -> Compiled:
        if (self.scope.in_route and isinstance(e.left, n.Path) and e.left.anchor == "rule"
                and e.left.segments == ("severity",) and isinstance(e.right, n.Literal_)
                and e.right.value in n.SEVERITY_RANK):
            return self._severity_compare(e.op, n.SEVERITY_RANK[str(e.right.value)])
        if e.op in ("==", "!="):
            pred = self._equals(e.left, e.right)
            if e.op == "==":
                return pred
            if isinstance(pred, bool):
                return not pred
            return lambda r, c: not pred(r, c)
        op = e.op
        left = self.values(e.left)
        if isinstance(e.right, n.Literal_):
            bound = e.right.value
            if type(bound) not in (int, float, str):
                return False
            return lambda r, c: any(ordered(op, v, bound) for v in left(r, c))
        if self.resolve_list(e.right) is not None:
            return False  # a list is neither a number nor a string
        right = self.values(e.right)
        return lambda r, c: any(ordered(op, a, b) for a in left(r, c) for b in right(r, c))

    def _severity_compare(self, op: str, rank: int) -> Compiled:
        walk = make_walker((RULE_KEY, "severity"))

        def pred(r: Any, c: Any) -> bool:
            severity = walk(r)
            if type(severity) is not str or severity not in n.SEVERITY_RANK:
                return False
            mine = n.SEVERITY_RANK[severity]
            if op == "==":
                return mine == rank
            if op == "!=":
                return mine != rank
            return ordered(op, mine, rank)

        return pred

    def _equals(self, left: n.Operand, right: n.Operand) -> Compiled:
        as_list = self.resolve_list(right)
        if as_list is not None:
            # `x == [..]` compares with the list as one value, never the expanded elements.
            target = as_list.values()
            if isinstance(left, n.Path):
                reach = self.reach(left)
                return lambda r, c: any(equal(v, target) for v in raw_values(reach(r, c)))
            values = self.values(left)
            return lambda r, c: any(equal(v, target) for v in values(r, c))
        if (isinstance(right, n.Literal_) and type(right.value) is str
                and self.string_subject(left) is not None):
            return self.string_pred(left, right.value.__eq__)
        if isinstance(right, n.Literal_) and isinstance(left, n.Path):
            return self._path_equals_literal(left, right.value)
        lhs = self.values(left)
        if isinstance(right, n.Literal_):
            lit = right.value
            return lambda r, c: any(equal(v, lit) for v in lhs(r, c))
        rhs = self.values(right)
        return lambda r, c: any(equal(a, b) for a in lhs(r, c) for b in rhs(r, c))

    def _path_equals_literal(self, path: n.Path, lit: Any) -> Compiled:
        """The hot path: `eventName == "X"` costs a dict lookup and one comparison."""
        if type(lit) is str:
            return self.string_pred(path, lit.__eq__)
        reach = self.reach(path)
        if lit is None:

            def eq_null(r: Any, c: Any) -> bool:
                v = reach(r, c)
                if v is None or v is MISSING:
                    return True
                if type(v) is list or type(v) is Fanout:
                    return None in expand(v)
                return False

            return eq_null
        return lambda r, c: any(equal(v, lit) for v in expand(reach(r, c)))

    def _intest(self, e: n.InTest) -> Compiled:
        pred = self._membership(e.left, e.right)
        if not e.negated:
            return pred
        if isinstance(pred, bool):
            return not pred
        return lambda r, c: not pred(r, c)

    def _membership(self, left: n.Operand, right: n.Operand) -> Compiled:
        if isinstance(right, n.Call):
            return self._in_cidr(left, right)
        as_list = self.resolve_list(right)
        if as_list is not None:
            members = LiteralSet(as_list.values())
            if not (members.strings or members.numbers or members.bools or members.others):
                return False
            if members.only_strings and self.string_subject(left) is not None:
                return self.string_pred(left, frozenset(members.strings).__contains__)
            if isinstance(left, n.Path):
                reach = self.reach(left)
                return lambda r, c: any(v in members for v in expand(reach(r, c)))
            values = self.values(left)
            return lambda r, c: any(v in members for v in values(r, c))
        # `x in otherPath`: some value of x equals some value the other path reaches.
        lhs = self.values(left)
        rhs = self.values(right)

        def in_path(r: Any, c: Any) -> bool:
            pool = [v for v in rhs(r, c) if v is not None]
            return any(a is not None and any(equal(a, b) for b in pool) for a in lhs(r, c))

        return in_path

    def _in_cidr(self, left: n.Operand, call: n.Call) -> Compiled:
        if call.name != "cidr":
            raise CompileError(f"only cidr(...) can follow 'in', not {call.name}()")
        networks = []
        for arg in call.args:
            if not (isinstance(arg, n.Literal_) and isinstance(arg.value, str)):
                raise CompileError("cidr() takes strings")
            try:
                networks.append(ipaddress.ip_network(arg.value, strict=False))
            except ValueError as exc:
                raise CompileError(f"invalid CIDR {arg.value!r}: {exc}") from None
        if not networks:
            return False
        test = cidr_test(networks)
        if isinstance(left, n.Path) and left.anchor != "it":
            return self.string_pred(left, test)  # strings only, arrays expanded, as below
        values = self.values(left)

        def in_cidr(r: Any, c: Any) -> bool:
            return any(type(v) is str and test(v) for v in values(r, c))

        return in_cidr

    def _stringtest(self, e: n.StringTest) -> Compiled:
        needles_list = self.resolve_list(e.right)
        if needles_list is not None:
            needles: tuple[str, ...] | None = tuple(
                v for v in needles_list.values() if type(v) is str)
            if not needles:
                return False
        elif isinstance(e.right, n.Literal_):
            if type(e.right.value) is not str:
                return False
            needles = (e.right.value,)
        else:
            needles = None
        op = e.op
        left = self.values(e.left)
        if needles is not None and self.string_subject(e.left) is not None:
            if op == "contains":
                if len(needles) == 1:
                    within = operator.methodcaller("__contains__", needles[0])
                    return self.string_pred(e.left, within)
                several = needles
                return self.string_pred(e.left, lambda v: any(s in v for s in several))
            return self.string_pred(e.left, operator.methodcaller(op, needles))
        if needles is not None:
            fixed = needles
            if op == "startswith":
                return lambda r, c: any(type(v) is str and v.startswith(fixed) for v in left(r, c))
            if op == "endswith":
                return lambda r, c: any(type(v) is str and v.endswith(fixed) for v in left(r, c))
            return lambda r, c: any(
                type(v) is str and any(s in v for s in fixed) for v in left(r, c))
        right = self.values(e.right)

        def dynamic(r: Any, c: Any) -> bool:
            subs = tuple(v for v in right(r, c) if type(v) is str)
            if not subs:
                return False
            for v in left(r, c):
                if type(v) is not str:
                    continue
                if op == "startswith" and v.startswith(subs):
                    return True
                if op == "endswith" and v.endswith(subs):
                    return True
                if op == "contains" and any(s in v for s in subs):
                    return True
            return False

        return dynamic

    def _matches(self, e: n.Matches) -> Compiled:
        pattern = str(e.pattern.value)
        try:
            regex = re2.compile(pattern, _RE2_OPTIONS)
        except Exception as exc:  # re2.error; the checker reports it as CTR014
            raise CompileError(f"invalid regex {pattern!r}: {exc}") from None
        search = regex.search
        if self.string_subject(e.left) is not None:
            return self.string_pred(e.left, lambda v: search(v) is not None)
        left = self.values(e.left)
        return lambda r, c: any(type(v) is str and search(v) is not None for v in left(r, c))

    def _glob(self, e: n.Glob) -> Compiled:
        test = glob_matcher(str(e.pattern.value))
        if self.string_subject(e.left) is not None:
            return self.string_pred(e.left, test)
        left = self.values(e.left)
        return lambda r, c: any(type(v) is str and test(v) for v in left(r, c))



def reach(path: n.Path) -> Callable[[Any, Any], Any]:
    """What `path` reaches (a value, MISSING or a Fanout) from (root, current)."""
    if path.anchor == "it":
        return lambda r, c: c
    if path.anchor == "rule":
        walk = make_walker((RULE_KEY, *path.segments))
        return lambda r, c: walk(r)
    walk = make_walker(path.segments)
    if path.anchor == "event":
        return lambda r, c: walk(r)
    return lambda r, c: walk(c)


def glob_matcher(pattern: str) -> Callable[[str], bool]:
    """`*` is any run of characters (crossing `/`), `?` one character; the rest is literal."""
    if "?" not in pattern:
        stars = pattern.count("*")
        if stars == 0:
            return lambda s: s == pattern
        if stars == 1 and pattern.endswith("*"):
            prefix = pattern[:-1]
            return lambda s: s.startswith(prefix)
        if stars == 1 and pattern.startswith("*"):
            suffix = pattern[1:]
            return lambda s: s.endswith(suffix)
        if stars == 2 and pattern.startswith("*") and pattern.endswith("*") and len(pattern) > 1:
            middle = pattern[1:-1]
            return lambda s: middle in s
    regex = "".join(
        ".*" if ch == "*" else "." if ch == "?" else _re2_escape(ch) for ch in pattern)
    compiled = re2.compile(r"(?s)\A(?:" + regex + r")\z", _RE2_OPTIONS)
    return lambda s: compiled.search(s) is not None


def _re2_escape(ch: str) -> str:
    if ch.isalnum() or ch == "_" or ord(ch) > 127:
        return ch
    return "\\" + ch


def _and2(a: Pred, b: Pred) -> Pred:
    return lambda r, c: a(r, c) and b(r, c)


def _and3(a: Pred, b: Pred, d: Pred) -> Pred:
    return lambda r, c: a(r, c) and b(r, c) and d(r, c)


def _or2(a: Pred, b: Pred) -> Pred:
    return lambda r, c: a(r, c) or b(r, c)


def _or3(a: Pred, b: Pred, d: Pred) -> Pred:
    return lambda r, c: a(r, c) or b(r, c) or d(r, c)


def _chain(parts: list[Pred], two: Callable[[Pred, Pred], Pred],
           three: Callable[[Pred, Pred, Pred], Pred]) -> Pred:
    """One closure for a junction of `parts`, in order. Long chains group three at a time, level
    by level: no generator per evaluation, and nesting (the stack an evaluation needs) grows
    with log3 of the length, so a 5,000-clause `or` nests 8 deep, not 2,500."""
    while len(parts) > 1:
        grouped: list[Pred] = []
        for i in range(0, len(parts), 3):
            group = parts[i:i + 3]
            if len(group) == 3:
                grouped.append(three(*group))
            elif len(group) == 2:
                grouped.append(two(*group))
            else:
                grouped.append(group[0])
        parts = grouped
    return parts[0]


def _chain_and(parts: list[Pred]) -> Compiled:
    return _chain(parts, _and2, _and3) if parts else True


def _chain_or(parts: list[Pred]) -> Compiled:
    return _chain(parts, _or2, _or3) if parts else False


# ---- dispatch: specialising a rule for one (eventSource, eventName) ---------------------------

Residual = Callable[[dict[str, Any]], "bool | Pred"]
"""Given a record holding only the dispatch fields, either a decided bool or the predicate
that is left to evaluate for events with those values."""


def required_event_names(expr: n.Expr, scope: Scope) -> frozenset[str] | None:
    """The eventNames `expr` can only match (from `eventName == "X"` / `eventName in [...]`
    conditions it requires), or None when it may match any. Used to index rules by name."""
    return _names(scope.bind(expr), {})


def _names(e: n.Expr, memo: dict[str, frozenset[str] | None]) -> frozenset[str] | None:
    match e:
        case n.MacroUse():
            if e.name not in memo:  # once per macro, however often the rule uses it
                memo[e.name] = _names(e.body, memo)
            return memo[e.name]
        case n.And():
            found = [x for x in (_names(o, memo) for o in e.operands) if x is not None]
            return frozenset.intersection(*found) if found else None
        case n.Or():
            parts = [_names(o, memo) for o in e.operands]
            if any(p is None for p in parts):
                return None
            return frozenset().union(*[p for p in parts if p is not None])
        case n.BoolConst():
            return None if e.value else frozenset()
        case n.Compare() | n.InTest() if _is_event_name(e.left):
            if isinstance(e, n.Compare):
                if e.op == "==" and isinstance(e.right, n.Literal_):
                    # `eventName == null` matches records without a name: not indexable by name.
                    return frozenset([e.right.value]) if isinstance(e.right.value, str) else None
                return None
            items = list_items(e.right)
            if items is not None and not e.negated:
                return frozenset(v for v in items.values() if isinstance(v, str))
            return None
        case _:
            return None


def _is_event_name(operand: n.Operand) -> bool:
    return (isinstance(operand, n.Path) and operand.anchor in ("rel", "event")
            and operand.segments == ("eventName",))


def dispatch_residual(expr: n.Expr, scope: Scope,
                      known: tuple[tuple[str, ...], ...] = DISPATCH_PATHS) -> Residual:
    """Partially evaluates `expr` for known values of the DISPATCH_PATHS.

    Conditions whose paths are all dispatch paths are decided exactly (the real record has the
    same values there); every other condition stays, as its already compiled closure. The
    result is False (the rule cannot match: it is not even tried), True (it matches every such
    event), or the smaller predicate left over — so `eventSource == "x" and eventName == "Y"
    and userIdentity.type == "Root"` costs nothing more for events of x/Y by other callers.
    """
    with gc_paused():
        return _Residual(scope, known).expr(scope.bind(expr))


def mentions_paths(expr: n.Expr, scope: Scope, wanted: tuple[tuple[str, ...], ...]) -> bool:
    """Whether `expr` (macros expanded) has a condition on one of the `wanted` paths."""
    seen: list[n.Path] = []
    visited: set[str] = set()
    pending = [scope.bind(expr)]
    while pending:
        e = pending.pop()
        match e:
            case n.MacroUse():
                if e.name not in visited:  # a second use of a macro reads no new paths
                    visited.add(e.name)
                    pending.append(e.body)
            case n.And() | n.Or() | n.Not():
                pending.extend(n.children(e))
            case _:
                seen.extend(_condition_paths(e) or ())
    return any(p.anchor in ("rel", "event") and p.segments in wanted for p in seen)


class _Residual:
    def __init__(self, scope: Scope, known: tuple[tuple[str, ...], ...]):
        self.scope = scope
        self.known = known
        self.macros: dict[str, Residual] = {}  # one residual per macro, shared by its uses

    def expr(self, e: n.Expr) -> Residual:
        match e:
            case n.BoolConst():
                value = e.value
                return lambda rec: value
            case n.MacroUse():
                if e.name not in self.macros:
                    self.macros[e.name] = self.expr(e.body)
                return self.macros[e.name]
            case n.Not():
                inner = self.expr(e.operand)

                def not_(rec: dict[str, Any]) -> bool | Pred:
                    v = inner(rec)
                    if isinstance(v, bool):
                        return not v
                    return _negate(v)

                return not_
            case n.And() | n.Or():
                parts = self._parts(e)
                decisive = isinstance(e, n.Or)  # the value that decides: True for or
                chain = _chain_or if decisive else _chain_and

                def junction(rec: dict[str, Any]) -> bool | Pred:
                    left: list[Pred] = []
                    for part in parts:
                        v = part(rec)
                        if v is decisive:
                            return decisive
                        if not isinstance(v, bool):
                            left.append(v)
                    return chain(left)

                return junction
        if _only_dispatch_fields(e, self.known):
            pred = _as_pred(_Compiler(self.scope).expr(e))
            return lambda rec: bool(pred(rec, rec))
        compiled = _Compiler(self.scope).expr(e)
        return lambda rec: compiled


    def _parts(self, e: n.And | n.Or) -> list[Residual]:
        """The operands' residuals. Operands that read no dispatch field have one answer for
        every probe (their compiled closure): they compile together, as one junction, so a
        5,000-clause `or` compiles once rather than once per clause, and `x == "a" or x == "b"
        ...` stays one set test (the order of pure tests in a junction does not matter)."""
        flags = [self._fixed(o) for o in e.operands]
        fixed = [o for o, flag in zip(e.operands, flags, strict=True) if flag]
        if len(fixed) < 2:
            return [self.expr(o) for o in e.operands]
        parts = [self.expr(o) for o, flag in zip(e.operands, flags, strict=True) if not flag]
        together = _Compiler(self.scope).expr(type(e)(tuple(fixed), e.span))
        parts.append(lambda rec: together)
        return parts

    def _fixed(self, e: n.Expr) -> bool:
        # What `expr` turns into a constant residual (the last line of `expr`).
        return not isinstance(e, (n.BoolConst, n.MacroUse, n.Not, n.And, n.Or)) \
            and not _only_dispatch_fields(e, self.known)


def _negate(pred: Pred) -> Pred:
    return lambda r, c: not pred(r, c)


def _only_dispatch_fields(e: n.Expr, known: tuple[tuple[str, ...], ...]) -> bool:
    paths = _condition_paths(e)
    return bool(paths) and all(
        p.anchor in ("rel", "event") and p.segments in known for p in paths or ())


def condition_paths(e: n.Expr, scope: Scope) -> list[n.Path] | None:
    """The field paths a plain condition reads (declared list names are not paths), or None
    when `e` is not a plain condition (a quantifier, a macro, a boolean junction)."""
    return _condition_paths(scope.bind(e))


def _condition_paths(e: n.Expr) -> list[n.Path] | None:
    out: list[n.Path] = []

    def visit(node: n.Expr) -> bool:
        match node:
            case n.Path():
                out.append(node)
                return True
            case n.Compare() | n.StringTest() | n.InTest() | n.Matches() | n.Glob() \
                    | n.Exists() | n.Call():
                return all(visit(child) for child in n.children(node))
            case n.Literal_() | n.ListLit() | n.ListRef():
                return True
            case _:
                return False

    return out if visit(e) else None
