"""Properties of the checker over generated rule sets (tests/strategies.py).

- `check_sources` never raises, and a generated (valid) rule set has no errors.
- Valid files with random damage give findings (with positions inside the file), never
  exceptions.
- The constant analysis behind CTR105/CTR106 is sound: whenever it says a `when` is always false
  (or always true), the reference interpreter agrees on every generated record whose documented
  scalar fields are single values — the assumption docs/diagnostics.md states.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ctrules import checks
from ctrules import nodes as n
from ctrules.formatter import format_file
from ctrules.parser import parse
from tests import strategies as gen
from tests.reference import Reference

TODAY = date(2026, 6, 1)
PROFILE = settings(max_examples=40, deadline=None, derandomize=True,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
# Generated ignores may carry an expiry date in the past; that is their only expected error.
ALLOWED_ERRORS = {"CTR017"}


def _well_formed(value: Any, ty: Any = checks.EVENT_TYPE) -> Any:
    """The record with every documented scalar field (and documented object on the way to one)
    holding at most one value: arrays there become null."""
    if ty is None or not isinstance(value, dict) or ty.kind != "obj" or ty.fields is None:
        return value
    out = dict(value)
    for key, sub in ty.fields.items():
        if key not in out:
            continue
        if sub.kind in ("str", "bool", "num") and isinstance(out[key], list):
            out[key] = None
        elif sub.kind == "obj" and sub.fields is not None:
            out[key] = None if isinstance(out[key], list) else _well_formed(out[key], sub)
    return out


@PROFILE
@given(gen.rule_files(max_decls=2))
def test_generated_rule_sets_check_without_errors(rule_file: n.RuleFile) -> None:
    text = format_file(rule_file)
    _, findings = checks.check_sources([("generated.ctr", text)], today=TODAY)
    errors = [d for d in findings if d.is_error and d.code not in ALLOWED_ERRORS]
    assert not errors, "\n".join(f"{d.span}: {d.code} {d.message}" for d in errors) + "\n" + text


@PROFILE
@given(gen.rule_files(max_decls=2), st.lists(gen.records(), min_size=1, max_size=4))
def test_constant_verdicts_are_sound(rule_file: n.RuleFile, records: list[Any]) -> None:
    text = format_file(rule_file)
    parsed = parse(text, "generated.ctr").file
    checker = checks._Checker([parsed], {"generated.ctr": text}, TODAY, set())
    checker.collect_names()
    lists = {d.name: d.items.values() for d in parsed.decls if isinstance(d, n.ListDecl)}
    macros = {d.name: d.expr for d in parsed.decls if isinstance(d, n.MacroDecl)}
    reference = Reference(lists, macros)
    for decl in parsed.decls:
        if not isinstance(decl, (n.RuleDecl, n.IgnoreDecl)) or decl.when is None:
            continue
        verdict = checker.const(decl.when, True, (), False)
        if verdict is None:
            continue
        for record in records:
            assert reference.holds(decl.when, _well_formed(record)) is verdict, (
                f"{decl.name}: checker says always {verdict}\n{text}\n{record}")


def test_well_formed_keeps_one_value_per_scalar_field() -> None:
    record = {"eventName": ["A", "B"], "userIdentity": [{"arn": "x"}],
              "resources": [{"type": "A"}, {"type": "B"}], "requestParameters": {"a": [1]}}
    assert _well_formed(record) == {"eventName": None, "userIdentity": None,
                                    "resources": [{"type": "A"}, {"type": "B"}],
                                    "requestParameters": {"a": [1]}}


_VALID_TEXTS = [p.read_text("utf-8") for p in sorted((Path(__file__).parent / "valid").glob("*.ctr"))]
_PIECES = ["(", ")", "not ", " and ", " or ", "it.", "rule.", "event.", "{", "}", '"', "`",
           " in ", "[]", "any resources (", "all x (", "macro m = m\n", "lower(", "len(", "cidr(",
           "\\ud800", "==", " exists", "#", "\n", "r\"", "0.", "true", "null", ","]


@st.composite
def _mutated(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(_VALID_TEXTS))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        if draw(st.booleans()):
            text = text[:at] + draw(st.sampled_from(_PIECES)) + text[at:]
        else:
            text = text[:at] + text[at + draw(st.integers(1, 12)):]
    return text


@settings(PROFILE, max_examples=150)
@given(_mutated())
def test_mutated_files_give_findings_never_exceptions(text: str) -> None:
    _, findings = checks.check_sources([("m.ctr", text), ("ok.ctr", 'list other = ["x"]')],
                                       today=TODAY)
    lines = text.count("\n") + 1
    for d in findings:
        assert d.code in checks.CODES
        if d.span.file == "m.ctr":
            assert 1 <= d.span.line <= lines + 1 and d.span.col >= 1, d
