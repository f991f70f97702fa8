"""Property: any Sigma rule built from SigmaHQ-style constructs imports cleanly and decides like
Sigma, or is reported with a reason — never a crash, never a half-translated rule.

Hypothesis writes the rules: selections of CloudTrail fields with modifiers (`contains`,
`startswith`, `endswith`, `all`, `re`, `cidr`, `exists`, `cased`), lists, null and empty values,
combined by `1 of` / `all of` / `and not` conditions. Each imported rule must check clean, its
examples must pass and must agree with the independent Sigma evaluation (`oracle.py`), and it
must agree with that evaluation on generated records.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sigma.collection import SigmaCollection

from ctrules import nodes as n
from ctrules.checks import check_sources
from ctrules.parser import parse
from ctrules.ruleset import RuleSet
from ctrules.sigma.importer import import_paths

from . import oracle

FIELDS = ["eventName", "eventSource", "userAgent", "userIdentity.type", "errorCode",
          "requestParameters.bucketName", "sourceIPAddress", "userIdentity.arn"]
WORDS = ["Stop", "Logging", "aws", "CLI", "s3", "Root", "a-b", "443", "false", "x.y"]
REGEXES = ["^Stop", "Log+ing$", "[0-9]{3}", "(?:aws|gcp)-cli", "a.b"]
CIDRS = ["10.0.0.0/8", "192.168.1.0/24", "2001:db8::/32"]
IPS = ["10.1.2.3", "192.168.1.9", "192.168.2.9", "2001:db8::1", "8.8.8.8", "x"]


@st.composite
def detection_item(draw: st.DrawFn) -> tuple[str, Any]:
    field = draw(st.sampled_from(FIELDS))
    kind = draw(st.sampled_from(["plain", "list", "contains", "startswith", "endswith", "all",
                                 "re", "cidr", "exists", "null", "empty", "cased", "wildcard"]))
    word = st.sampled_from(WORDS)
    if kind == "plain":
        return field, draw(word)
    if kind == "list":
        return field, draw(st.lists(word, min_size=2, max_size=3, unique=True))
    if kind in ("contains", "startswith", "endswith"):
        return f"{field}|{kind}", draw(st.one_of(word, st.lists(word, min_size=2, max_size=2,
                                                                unique=True)))
    if kind == "all":
        return f"{field}|contains|all", draw(st.lists(word, min_size=2, max_size=2, unique=True))
    if kind == "re":
        return f"{field}|re", draw(st.sampled_from(REGEXES))
    if kind == "cidr":
        return "sourceIPAddress|cidr", draw(st.sampled_from(CIDRS))
    if kind == "exists":
        return f"{field}|exists", draw(st.booleans())
    if kind == "null":
        return field, None
    if kind == "empty":
        return field, ""
    if kind == "cased":
        return f"{field}|cased", draw(word)
    return field, draw(word) + "*" + draw(word) + "?"


@st.composite
def sigma_rule(draw: st.DrawFn) -> dict[str, Any]:
    names = ["selection_a", "selection_b", "filter_main"]
    detection: dict[str, Any] = {}
    for name in names:
        items = draw(st.lists(detection_item(), min_size=1, max_size=3,
                              unique_by=lambda kv: kv[0]))
        detection[name] = dict(items)
    detection["condition"] = draw(st.sampled_from([
        "selection_a", "1 of selection_*", "all of selection_*",
        "selection_a and not filter_main", "1 of selection_* and not 1 of filter_*",
        "selection_a or (selection_b and not filter_main)", "not selection_a",
    ]))
    return {
        "title": "Generated rule",
        "id": "6c7f2a10-0000-4000-8000-00000000ffff",
        "status": "test",
        "author": "hypothesis",
        "logsource": {"product": "aws", "service": "cloudtrail"},
        "detection": detection,
        "level": draw(st.sampled_from(["informational", "low", "medium", "high", "critical"])),
        "tags": ["attack.t1078"],
    }


def _record_values() -> st.SearchStrategy[Any]:
    scalar = st.one_of(st.sampled_from(WORDS + IPS), st.sampled_from(WORDS).map(str.upper),
                       st.sampled_from(WORDS).map(lambda w: "x" + w + "y"), st.none(),
                       st.booleans(), st.integers(400, 450), st.just(""))
    return st.one_of(scalar, st.lists(scalar, max_size=2))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(rule_dict=sigma_rule(), records=st.lists(
    st.dictionaries(st.sampled_from(FIELDS), _record_values(), max_size=6), min_size=5,
    max_size=5))
def test_generated_sigma_rules(tmp_path_factory: pytest.TempPathFactory, rule_dict: dict[str, Any],
                               records: list[dict[str, Any]]) -> None:
    path = tmp_path_factory.mktemp("gen") / "generated_rule.yml"
    text = yaml.safe_dump(rule_dict, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    (item,) = import_paths([path]).results
    if item.text is None:
        # Only a detection that cannot match anything may fail to produce examples.
        assert item.reason
        assert "could not build a record" in item.reason, item.reason
        return
    _, findings = check_sources([("generated_rule.ctr", item.text)])
    assert [d for d in findings if d.is_error] == []
    rule_file = parse(item.text, "generated_rule.ctr").file
    ruleset = RuleSet([rule_file])
    assert all(r.passed for r in ruleset.run_examples())
    (rule,) = SigmaCollection.from_yaml(text).rules
    (decl,) = rule_file.decls
    assert isinstance(decl, n.RuleDecl)
    for record in [ex.event for ex in decl.examples] + [_nest(r) for r in records]:
        assert bool(ruleset.evaluate(record)) == oracle.matches(rule, record), (item.text, record)


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in flat.items():
        node = out
        *parents, last = key.split(".")
        for seg in parents:
            if not isinstance(node.get(seg), dict):
                node[seg] = {}
            node = node[seg]
        node[last] = value
    return out
