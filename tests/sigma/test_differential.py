"""Differential: every imported Sigma rule decides generated records like the Sigma detection.

The `.ctr` side is the importer's output text, parsed, compiled and run through
`RuleSet.evaluate` (dispatch index included). The Sigma side is `oracle.matches`, written in
this directory from the Sigma specification on pySigma's parse of a fresh copy of the YAML.
Records are generated around each rule's own values (case variants, prefixes and suffixes,
typed twins, null, missing, arrays, arbitrary text).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample
from sigma.collection import SigmaCollection

from ctrules import nodes as n
from ctrules.compiler import Scope, compile_expr
from ctrules.parser import parse
from ctrules.ruleset import RuleSet
from ctrules.sigma.importer import import_paths

from . import oracle

HERE = Path(__file__).parent
CONSTRUCTS = sorted((HERE / "constructs").glob("*.yml"))
SIGMAHQ = sorted((HERE / "sigmahq").glob("*.yml"))

# Strings around the regexes' boundaries (a regex's own text is no sample of what it matches).
REGEX_SAMPLES = {
    "requestParameters.prefix": ["Logs*x/", "logs*X/2024", "Logsx?/", "Logs*/", "Logs**/a\nb"],
    "userIdentity.arn": [
        "arn:aws:sts::123:assumed-role/admin", "ARN:aws:sts::123:assumed-role/x",
        "x arn:aws:sts::123:assumed-role/", "arn:aws:sts::12:assumed-role/",
        "arn:aws:sts::111122223333:assumed-role/aws:ec2-instance/i-0abc",
        "arn:aws:sts::111122223333:assumed-role/AWS:x", "a:assumed-role/aws:b",
        ":assumed-role/aws:b", "arn:aws:iam::111122223333:user/alice",
    ],
    "userAgent": [
        "python-requests/2.31.0", "PYTHON-REQUESTS/2.1", "python-requests/2.", "x python-requests/2.9",
        "Boto3/1.34 Python/3.11.4", "boto3/python/3.x", "Boto3/Python/3.", "aws-cli/2 cli",
        "AWS CLI", "TruffleHog", "trufflehog/3", "S3 Browser 11", "Jersey/${project.version}",
    ],
}

MISSING: Any = object()


def _translated(path: Path) -> tuple[Any, RuleSet, str, list[dict[str, Any]]]:
    """The fresh pySigma rule, the compiled import, its text, and its example records (used
    only as starting points for generated records, never as verdicts)."""
    report = import_paths([path])
    (item,) = report.results
    assert item.text is not None, item.reason
    rule_file = parse(item.text, f"{item.name}.ctr").file
    (rule,) = SigmaCollection.from_yaml(path.read_text("utf-8")).rules
    seeds = [ex.event for d in rule_file.decls if isinstance(d, n.RuleDecl) for ex in d.examples]
    return rule, RuleSet([rule_file]), item.text, seeds


def _importable(paths: list[Path]) -> list[Path]:
    return [p for p in paths if import_paths([p]).results[0].translated]


def _records(rule: Any, seeds: list[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """A seed (empty, or one of the rule's example records) with some detection fields
    replaced, removed or added: most records sit near the rule's decision boundary."""
    pools = oracle.samples(rule)
    for field in list(pools):
        pools[field] += REGEX_SAMPLES.get(field, [])

    def values(pool: list[Any]) -> st.SearchStrategy[Any]:
        scalar = st.one_of(
            st.sampled_from(pool) if pool else st.nothing(),
            st.none(),
            st.booleans(),
            st.integers(-3, 600),
            st.text(alphabet="abcxyzABCXYZ-_:/. 019", max_size=10),
        )
        return st.one_of(
            st.just(MISSING), scalar, scalar, scalar, st.lists(scalar, max_size=3),
        )

    fields = sorted(pools)

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        record: dict[str, Any] = copy.deepcopy(draw(st.sampled_from([{}, *seeds])))
        for field in fields:
            if record and draw(st.integers(0, 2)):
                continue  # keep the seed's value
            value = draw(values(pools[field]))
            if value is MISSING:
                _delete(record, field.split("."))
            else:
                _set(record, field.split("."), value)
        return record

    return build()


def _delete(record: dict[str, Any], segs: list[str]) -> None:
    node: Any = record
    for seg in segs[:-1]:
        node = node.get(seg) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(segs[-1], None)


def _set(record: dict[str, Any], segs: list[str], value: Any) -> None:
    node: Any = record
    for seg in segs[:-1]:
        if not isinstance(node.get(seg), dict):
            node[seg] = {}
        node = node[seg]
    node[segs[-1]] = value


def _check_differential(path: Path) -> None:
    rule, ruleset, _, seeds = _translated(path)

    @settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
    @given(_records(rule, seeds))
    def agree(record: dict[str, Any]) -> None:
        expected = oracle.matches(rule, record)
        got = bool(ruleset.evaluate(record))
        assert got == expected, (record, expected, got)

    agree()


@pytest.mark.parametrize("path", CONSTRUCTS and _importable(CONSTRUCTS), ids=lambda p: p.stem)
def test_construct_rules_decide_like_sigma(path: Path) -> None:
    _check_differential(path)


@pytest.mark.parametrize("path", SIGMAHQ and _importable(SIGMAHQ), ids=lambda p: p.stem)
def test_sigmahq_rules_decide_like_sigma(path: Path) -> None:
    _check_differential(path)


def test_every_supported_construct_is_covered() -> None:
    """The construct rules translate (a regression here would silently shrink the differential)."""
    assert len(_importable(CONSTRUCTS)) == 11


def _replace(e: Any, old: Any, new: Any) -> Any:
    if e == old:
        return new
    if isinstance(e, (n.And, n.Or)):
        return type(e)(tuple(_replace(x, old, new) for x in e.operands))
    if isinstance(e, n.Not):
        return n.Not(_replace(e.operand, old, new))
    return e


@pytest.mark.parametrize(("construct", "old", "new"), [
    # dropping case-insensitivity
    ("equality_case", n.Compare("==", n.Call("lower", (n.Path(("userAgent",)),)),
                                n.Literal_("trufflehog")),
     n.Compare("==", n.Path(("userAgent",)), n.Literal_("TruffleHog"))),
    # forgetting that 'false' also means the JSON boolean
    ("typed_values", n.Compare("==", n.Path(("requestParameters", "enable")), n.Literal_(False)),
     n.BoolConst(False)),
    # `null` as "null only", forgetting "missing"
    ("null_empty", n.Compare("==", n.Path(("errorCode",)), n.Literal_(None)),
     n.And((n.Exists(n.Path(("errorCode",))),
            n.Compare("==", n.Path(("errorCode",)), n.Literal_(None))))),
])
def test_the_differential_catches_a_wrong_translation(construct: str, old: Any, new: Any) -> None:
    """The oracle is not a copy of the importer: a plausible mistake is found as a counterexample."""
    path = HERE / "constructs" / f"{construct}.yml"
    rule, _, text, seeds = _translated(path)
    (decl,) = [d for d in parse(text).file.decls if isinstance(d, n.RuleDecl)]
    assert decl.when is not None
    mutated = _replace(decl.when, old, new)
    assert mutated != decl.when, "the mutation must apply to the translation"
    wrong = compile_expr(mutated, Scope(lists={}, macros={}))
    try:
        counterexample = find(
            _records(rule, seeds),
            lambda r: bool(wrong(r, r)) != oracle.matches(rule, r),
            settings=settings(max_examples=2000, database=None),
        )
    except NoSuchExample:  # pragma: no cover - the assertion below says what happened
        counterexample = None
    assert counterexample is not None
