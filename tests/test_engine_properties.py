"""Laws of the engine, checked on generated rules and records:

- the compiled engine (closures, constant folding, dispatch specialisation) agrees with the
  reference interpreter (tests/reference.py) on every rule, ignore and route;
- `a != b` is `not (a == b)` and `x not in L` is `not (x in L)`;
- evaluating never raises, whatever the record.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ctrules import nodes as n
from ctrules.compiler import Scope, compile_expr
from ctrules.ruleset import RuleSet
from tests import strategies as gen
from tests.reference import Reference

TODAY = dt.date(2026, 11, 28)


def _parts(rule_file: n.RuleFile) -> tuple[Reference, list[n.RuleDecl], list[n.IgnoreDecl],
                                           list[n.RouteDecl]]:
    lists = {d.name: d.items.values() for d in rule_file.decls if isinstance(d, n.ListDecl)}
    macros = {d.name: d.expr for d in rule_file.decls if isinstance(d, n.MacroDecl)}
    rules = [d for d in rule_file.decls if isinstance(d, n.RuleDecl)]
    ignores = [d for d in rule_file.decls if isinstance(d, n.IgnoreDecl)]
    routes = [d for d in rule_file.decls if isinstance(d, n.RouteDecl)]
    return Reference(lists, macros), rules, ignores, routes


@given(gen.rule_files(), st.lists(gen.records(), min_size=1, max_size=4))
def test_compiled_rule_set_agrees_with_reference(rule_file: n.RuleFile, records: list[Any]) -> None:
    ref, rules, ignores, routes = _parts(rule_file)
    ruleset = RuleSet([rule_file], today=TODAY)
    live_ignores = [i for i in ignores
                    if i.expires is None or dt.date.fromisoformat(i.expires.value) >= TODAY]
    for record in records:
        alerts = {a.rule: a for a in ruleset.evaluate(record)}
        # A stateful rule never alerts per event: ctrules.stateful decides it (tests/stateful).
        expected = [r.name for r in rules if r.enabled and r.when and not r.stateful
                    and ref.holds(r.when, record)]
        assert sorted(alerts) == sorted(expected)
        for rule in rules:
            if rule.name not in alerts:
                continue
            alert = alerts[rule.name]
            fired = [i.name for i in live_ignores
                     if (i.rules is None or rule.name in i.rules) and i.when
                     and ref.holds(i.when, record)]
            assert list(alert.ignored_by) == fired
            info = {"name": rule.name, "severity": rule.severity, "tags": list(rule.tags)}
            wanted: list[str] = []
            for route in routes:
                if route.when and ref.holds(route.when, record, info):
                    wanted.extend(t for t in route.to if t not in wanted)
            assert ruleset.destinations(alert) == (tuple(wanted) or ("default",))


@given(gen.exprs(3), gen.records())
def test_compiled_expression_agrees_with_reference(expr: n.Expr, record: Any) -> None:
    pred = compile_expr(expr, Scope({}, {}))
    root = record if isinstance(record, dict) else {}
    assert pred(root, root) is Reference().holds(expr, record)


_comparison_sides = st.tuples(gen.paths(), st.one_of(gen.literals(), gen.list_lits(), gen.paths()))


@given(_comparison_sides, gen.records())
def test_not_equal_is_not_equal(sides: tuple[n.Path, n.Operand], record: Any) -> None:
    left, right = sides
    scope = Scope({}, {})
    eq = compile_expr(n.Compare("==", left, right), scope)(record, record)
    ne = compile_expr(n.Compare("!=", left, right), scope)(record, record)
    assert ne is (not eq)


@given(gen.paths(), gen.list_lits(), gen.records())
def test_not_in_is_not_in(left: n.Path, items: n.ListLit, record: Any) -> None:
    scope = Scope({}, {})
    inside = compile_expr(n.InTest(left, items), scope)(record, record)
    outside = compile_expr(n.InTest(left, items, negated=True), scope)(record, record)
    assert outside is (not inside)


@given(gen.rule_files(), gen.json_values())
def test_evaluate_never_raises(rule_file: n.RuleFile, value: Any) -> None:
    for alert in RuleSet([rule_file], today=TODAY).evaluate(value):
        assert isinstance(alert.summary, str)


# Values chosen to collide: every coercion the spec forbids (true/1/1.0/"1"/"true", null/missing,
# a list vs its element) is one draw away, so the law-breaking cases are found quickly.
_POOL = [0, 1, 1.0, -1, 2.5, True, False, None, "1", "true", "", "a", "A", "ab", "10.0.0.1",
         "::ffff:10.0.0.1", [], [1], [True], ["a", "b"], [[1, 2], [3]], {"a": 1}, {}]
_LIT_POOL = [v for v in _POOL if not isinstance(v, (list, dict))]


def _literal(v: Any) -> n.Literal_:
    return n.Literal_(v)


_LISTS = [n.ListLit(()), n.ListLit((n.Literal_(1),)), n.ListLit((n.Literal_(True),)),
          n.ListLit((n.Literal_(None),)), n.ListLit((n.Literal_("a"), n.Literal_("b"))),
          n.ListLit((n.Literal_(1.0), n.Literal_("1"))),
          n.ListLit((n.ListLit((n.Literal_(1), n.Literal_(2))), n.ListLit((n.Literal_(3),))))]
_X = n.Path(("x",))
_LEFTS = [_X, n.Path(("x", 0)), n.Path(("x", "a")), n.Call("lower", (_X,)),
          n.Call("upper", (_X,)), n.Call("len", (_X,))]


def _conditions() -> list[n.Expr]:
    rights: list[n.Operand] = [*map(n.Literal_, _LIT_POOL), *_LISTS, _X]
    out: list[n.Expr] = []
    for left in _LEFTS:
        out += [n.Compare(op, left, right) for op in ("==", "!=", "<", "<=", ">", ">=")
                for right in rights]
        out += [n.InTest(left, items, negated) for items in _LISTS for negated in (False, True)]
        out += [n.StringTest(op, left, right) for op in ("contains", "startswith", "endswith")
                for right in [*map(n.Literal_, _LIT_POOL), *_LISTS]]
        out += [n.Matches(left, n.Literal_(p)) for p in ("^a", "1", "(?i)^A$", "^$")]
        out += [n.Glob(left, n.Literal_(p)) for p in ("a*", "*", "?", "1", "", "*b")]
        out += [n.InTest(left, n.Call("cidr", tuple(map(n.Literal_, nets))), negated)
                for nets in (["10.0.0.0/8"], ["::ffff:0:0/96"], ["0.0.0.0/0", "::/0"])
                for negated in (False, True)]
    out += [n.Exists(p) for p in (_X, n.Path(("x", 0)), n.Path(("x", "a")))]
    return out


def test_every_operator_agrees_with_reference_on_colliding_values() -> None:
    """Exhaustive over the pool: each condition × each record shape (and a missing x)."""
    records: list[Any] = [{}, *({"x": v} for v in _POOL)]
    reference = Reference()
    disagreements = []
    for expr in _conditions():
        pred = compile_expr(expr, Scope({}, {}))
        for record in records:
            if pred(record, record) is not reference.holds(expr, record):
                disagreements.append((expr, record))
    assert not disagreements, disagreements[:5]


_DISPATCH_RULES = """
list names = ["A", "B"]
macro denied = errorCode startswith "AccessDenied"
rule r1 { when eventName == "A" }
rule r2 { when eventName in names and eventSource == "s" }
rule r3 { when eventName == null }
rule r4 { when not eventName == "A" }
rule r5 { when eventName == "A" or errorCode exists }
rule r6 { when denied and userIdentity.type == "Root" }
rule r7 { when userIdentity.type exists and eventName != "B" }
rule r8 { when eventSource == "s" and (eventName startswith "A" or userIdentity.type in ["Root", null]) }
rule r9 { when errorCode == null and userIdentity == null }
rule r10 { when any userIdentity (type == "Root") and eventName in ["A", 1] }
rule r11 { when lower(eventName) == "a" and errorCode != "AccessDenied" }
rule r12 { when eventName == "A" and eventName == "B" }
rule r13 { when userIdentity.type == "Root" or eventName == 1 }
"""
_FIELD_VALUES = [MISSING_ := object(), None, "A", "B", "a", 1, True, ["A"], {"type": "Root"}]


def _dispatch_records() -> list[dict[str, Any]]:
    import itertools

    identities = [MISSING_, None, "Root", {"type": "Root"}, {"type": "IAMUser"}, {},
                  {"type": None}, [{"type": "Root"}], {"type": ["Root"]}]
    out = []
    for source, name, error, ident in itertools.product(
            [MISSING_, "s", None, 1], _FIELD_VALUES, [MISSING_, None, "AccessDenied", "AccessDeniedX", 5],
            identities):
        record = {k: v for k, v in (("eventSource", source), ("eventName", name),
                                    ("errorCode", error), ("userIdentity", ident)) if v is not MISSING_}
        out.append(record)
    return out


def test_dispatch_specialisation_agrees_with_reference() -> None:
    """Every mix of dispatch-field values (strings, null, missing, wrong types, arrays) against
    rules whose conditions the dispatch index decides, partly decides, or cannot decide; each
    record evaluated twice, so both the cache-filling and the cached paths are checked."""
    from ctrules.parser import parse

    rule_file = parse(_DISPATCH_RULES, "dispatch.ctr").file
    ref, rules, _, _ = _parts(rule_file)
    ruleset = RuleSet([rule_file], today=TODAY)
    for record in _dispatch_records():
        expected = sorted(r.name for r in rules if r.when and ref.holds(r.when, record))
        for _ in range(2):
            assert sorted(a.rule for a in ruleset.evaluate(record)) == expected, record
