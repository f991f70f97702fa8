"""The resolved tree (issue 14): what the parser keeps of the text, and the one bind pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctrules import nodes as n
from ctrules.binding import Binder
from ctrules.compiler import Scope, compile_expr
from ctrules.formatter import format_file, format_text
from ctrules.parser import parse

GOLDEN = sorted((Path(__file__).parent.parent / "fmt").glob("*.in.ctr"))


def _decls(text: str) -> tuple[n.Decl, ...]:
    return parse(text, "t.ctr").file.decls


def test_paths_keep_how_they_were_written() -> None:
    (macro,) = _decls("macro m = any resources (it.type == `type`)")
    assert isinstance(macro, n.MacroDecl) and isinstance(macro.expr, n.Quantifier)
    body = macro.expr.body
    assert isinstance(body, n.Compare)
    left, right = body.left, body.right
    assert isinstance(left, n.Path) and isinstance(right, n.Path)
    assert left.written_it and not right.written_it
    assert right.quoted == (True,) and left.quoted == (False,)
    assert left == n.Path(("type",))  # how it was written does not change what it means
    assert not right.is_bare_name()


def test_declarations_keep_name_and_property_spans() -> None:
    (rule,) = _decls('rule  # why\n  r {\n  severity high\n  when eventName == "X"\n}\n')
    assert isinstance(rule, n.RuleDecl)
    assert rule.name_span is not None and (rule.name_span.line, rule.name_span.col) == (2, 3)
    assert [(p.name, p.keyword.line, p.span.end_line) for p in rule.props] == [
        ("severity", 3, 3), ("when", 4, 4)]


def test_children_cover_every_operand() -> None:
    (macro,) = _decls('macro m = not (lower(x) == "a" or y in [1, 2])')
    assert isinstance(macro, n.MacroDecl)
    seen, pending = [], [macro.expr]
    while pending:
        e = pending.pop()
        seen.append(type(e).__name__)
        pending.extend(n.children(e))
    assert sorted(seen) == sorted(
        ["Not", "Or", "Compare", "Call", "Path", "Literal_", "InTest", "Path", "ListLit"])


def test_binding_shares_one_body_per_macro_and_resolves_list_names() -> None:
    levels = 40
    text = "".join(f"macro m{i} = m{i + 1} and m{i + 1}\n" for i in range(levels))
    text += f'macro m{levels} = eventName in names\nlist names = ["A"]\n'
    decls = _decls(text)
    lists = {d.name: d.items for d in decls if isinstance(d, n.ListDecl)}
    macros = {d.name: d for d in decls if isinstance(d, n.MacroDecl)}
    bound = Binder(lists, macros).bind(n.MacroRef("m0"))
    distinct: dict[int, n.Expr] = {}
    pending = [bound]
    while pending:  # walks the DAG once per node, not once per path (2^40)
        e = pending.pop()
        if id(e) not in distinct:
            distinct[id(e)] = e
            pending.extend(n.children(e))
    uses = [e for e in distinct.values() if isinstance(e, n.MacroUse)]
    assert len({u.name for u in uses}) == levels + 1
    refs = [e for e in distinct.values() if isinstance(e, n.ListRef)]
    assert [(r.name, r.items.values()) for r in refs] == [("names", ("A",))]
    # Compiling is linear too (evaluating a true `m0` would take 2^40 steps: that is what
    # `check` refuses as CTR022; a false one stops at the first leaf).
    pred = compile_expr(n.MacroRef("m0"), Scope(lists, macros))
    assert pred({"eventName": "B"}, {"eventName": "B"}) is False
    pred = compile_expr(n.MacroRef(f"m{levels - 8}"), Scope(lists, macros))
    assert pred({"eventName": "A"}, {"eventName": "A"}) is True


def test_undefined_and_recursive_macros_stay_unbound() -> None:
    decls = _decls("macro a = b\nmacro b = a\n")
    macros = {d.name: d for d in decls if isinstance(d, n.MacroDecl)}
    bound = Binder({}, macros).bind(n.MacroRef("a"))
    assert isinstance(bound, n.MacroUse) and isinstance(bound.body, n.MacroUse)
    assert bound.body.body == n.MacroRef("a")
    assert Binder({}, macros).bind(n.MacroRef("zzz")) == n.MacroRef("zzz")


def test_sequence_steps_are_bound_like_a_when() -> None:
    decls = _decls(
        'list starts = ["StartA"]\nmacro ends = eventName == "End"\n'
        "rule chain {\n    when eventName != \"Z\"\n    sequence by [p] within 5m\n"
        "        then eventName in starts\n        then ends\n}\n")
    lists = {d.name: d.items for d in decls if isinstance(d, n.ListDecl)}
    macros = {d.name: d for d in decls if isinstance(d, n.MacroDecl)}
    (rule,) = [d for d in decls if isinstance(d, n.RuleDecl)]
    assert rule.stateful is not None
    first, second = Binder(lists, macros).bind_stateful(rule.stateful).steps
    assert isinstance(first, n.InTest) and first.right == n.ListRef("starts", lists["starts"])
    assert isinstance(second, n.MacroUse) and second.name == "ends"
    assert isinstance(second.body, n.Compare)


def test_a_sequence_with_a_macro_and_a_list_alerts() -> None:
    from ctrules.checks import check_sources
    from ctrules.ruleset import RuleSet
    from ctrules.stateful import MemoryStore, StatefulEngine

    text = ('list starts = ["StartA"]\nmacro ends = eventName == "End"\n'
            "rule chain {\n    when eventName != \"Z\"\n    sequence by [p] within 5m\n"
            "        then eventName in starts\n        then ends\n}\n")
    files, diagnostics = check_sources([("s.ctr", text)])
    assert not [d for d in diagnostics if d.is_error], diagnostics
    engine = StatefulEngine(RuleSet(files), MemoryStore())

    def record(name: str, i: int) -> dict[str, object]:
        return {"eventName": name, "p": "x", "eventID": f"e{i}",
                "eventTime": f"2026-01-01T00:0{i}:00Z"}

    alerts = engine.run([record("StartA", 1), record("End", 2)])
    assert [a.rule for a in alerts] == ["chain"]
    fresh = StatefulEngine(RuleSet(files), MemoryStore())  # the first step (a list) must hold
    assert fresh.run([record("Other", 1), record("End", 2)]) == []


@pytest.mark.parametrize("case", GOLDEN, ids=[p.name for p in GOLDEN])
def test_the_formatter_needs_only_the_nodes(case: Path) -> None:
    text = case.read_text("utf-8")
    assert format_file(parse(text, str(case)).file) == format_text(text, str(case))
