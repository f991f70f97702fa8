"""Compliance cases as data (tests/compliance/*.json), in the style of jmespath's suite: each
group gives a record and cases, each a `when` expression with the expected result or the
diagnostic code it must produce. Results are checked against both the compiled engine and the
reference interpreter."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ctrules import nodes as n
from ctrules.checks import check_sources
from ctrules.parser import parse
from ctrules.ruleset import RuleSet
from tests.reference import Reference

HERE = Path(__file__).parent / "compliance"


def _cases() -> list[Any]:
    out = []
    for file in sorted(HERE.glob("*.json")):
        for g, group in enumerate(json.loads(file.read_text())):
            for c, case in enumerate(group["cases"]):
                out.append(pytest.param(group, case, id=f"{file.stem}-{g}-{c}"))
    return out


def _source(group: dict[str, Any], when: str) -> str:
    lists = "".join(f"list {name} = {json.dumps(items)}\n"
                    for name, items in group.get("lists", {}).items())
    return f"{lists}rule under_test {{\n    when {when}\n}}\n"


@pytest.mark.parametrize(("group", "case"), _cases())
def test_compliance(group: dict[str, Any], case: dict[str, Any]) -> None:
    text = _source(group, case["when"])
    files, findings = check_sources([("case.ctr", text)])
    errors = [d for d in findings if d.is_error]
    if "error" in case:
        assert case["error"] in {d.code for d in errors}, findings
        return
    assert not errors, errors
    ruleset = RuleSet(files)
    got = [a.rule for a in ruleset.evaluate(group["given"])] == ["under_test"]
    assert got is case["result"], f"engine: {case['when']}"

    rule_file = parse(text, "case.ctr").file
    lists = {d.name: d.items.values() for d in rule_file.decls if isinstance(d, n.ListDecl)}
    rule = next(d for d in rule_file.decls if isinstance(d, n.RuleDecl))
    assert rule.when is not None
    assert Reference(lists).holds(rule.when, group["given"]) is case["result"], "reference"
