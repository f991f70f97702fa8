"""`x == "a" or x == "b" or x in [...]` compiles to one set lookup (compiler `_or`); it must
mean exactly what the clauses mean one by one (tests/reference.py), whatever x reaches."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ctrules import nodes as n
from ctrules.compiler import Scope, _Compiler, compile_expr
from ctrules.parser import parse
from tests.reference import Reference

SUBJECTS = ["userName", "lower(userName)", "upper(lower(userName))", "a.b", "event.userName"]
VALUES = ["alice", "Alice", "ALICE", "", "1", "bob"]


@st.composite
def clause(draw: st.DrawFn) -> str:
    subject = draw(st.sampled_from(SUBJECTS))
    if draw(st.booleans()):
        return f"{subject} == {json.dumps(draw(st.sampled_from(VALUES)))}"
    items = draw(st.lists(st.sampled_from(VALUES), min_size=1, max_size=3))
    if draw(st.integers(0, 3)) == 0:
        return f"{subject} in [{', '.join(json.dumps(i) for i in items)}, 1]"  # not merged
    return f"{subject} in [{', '.join(json.dumps(i) for i in items)}]"


def values() -> st.SearchStrategy[Any]:
    text = st.sampled_from(VALUES)
    return st.one_of(text, st.lists(st.one_of(text, st.integers(0, 1), st.none())),
                     st.just(1), st.just(True), st.none(), st.just({"x": "alice"}))


@given(st.lists(clause(), min_size=2, max_size=6), values(), values())
def test_merged_or_agrees_with_the_reference(clauses: list[str], name: Any, ab: Any) -> None:
    rule = parse(f"rule r {{\n    when {' or '.join(clauses)}\n}}\n").file.decls[0]
    assert isinstance(rule, n.RuleDecl) and rule.when is not None
    record = {"userName": name, "a": [{"b": ab}, {"b": "bob"}] if isinstance(ab, str) else {"b": ab}}
    pred = compile_expr(rule.when, Scope({}, {}))
    assert pred(record, record) == Reference().holds(rule.when, record)


def test_equalities_on_one_subject_become_one_lookup() -> None:
    rule = parse('rule r {\n    when x == "a" or x == "b" or x in ["c"] or y == "d"\n}\n')
    when = rule.file.decls[0].when  # type: ignore[union-attr]
    compiler = _Compiler(Scope({}, {}))
    assert [compiler.string_equality(o) is not None for o in when.operands] == [True] * 4
    pred = compile_expr(when, Scope({}, {}))
    assert [pred(r, r) for r in ({"x": "c"}, {"x": ["z", "b"]}, {"y": "d"}, {"x": "d"})] == \
        [True, True, True, False]
