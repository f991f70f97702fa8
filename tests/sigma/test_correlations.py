"""`ctrules import sigma` on Sigma correlation rules: `event_count`, `value_count` and
`temporal_ordered` become stateful `.ctr` rules whose multi-record examples the stateful engine
confirms; what has no faithful mapping is reported per rule with the reason, and emits nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ctrules import nodes as n
from ctrules.checks import check_sources
from ctrules.formatter import format_text
from ctrules.parser import parse
from ctrules.ruleset import RuleSet
from ctrules.sigma.importer import Imported, import_paths
from ctrules.stateful.examples import example_matches

HERE = Path(__file__).parent / "correlations"


def _by_title(*names: str) -> dict[str, Imported]:
    report = import_paths([HERE / name for name in names])
    return {r.title: r for r in report.results}


def _rule(item: Imported) -> tuple[RuleSet, n.RuleDecl]:
    """The emitted rule: canonical, checks without errors, every example passes."""
    assert item.text is not None and item.name is not None, item.reason
    assert format_text(item.text) == item.text
    _, findings = check_sources([(f"{item.name}.ctr", item.text)])
    assert [d for d in findings if d.is_error] == []
    rule_file = parse(item.text, f"{item.name}.ctr").file
    ruleset = RuleSet([rule_file])
    results = ruleset.run_examples()
    assert {r.expected_match for r in results} == {True, False}
    assert all(r.passed for r in results), [r for r in results if not r.passed]
    (decl,) = [d for d in rule_file.decls if isinstance(d, n.RuleDecl)]
    assert decl.stateful is not None
    return ruleset, decl


def _records(decl: n.RuleDecl, match: bool) -> list[dict[str, Any]]:
    (example,) = [e for e in decl.examples if e.expect_match is match]
    assert isinstance(example.event, list)
    return example.event


def _alerts(ruleset: RuleSet, decl: n.RuleDecl, records: list[dict[str, Any]]) -> bool:
    return example_matches(ruleset, decl, n.Example("probe", True, records))


def test_event_count_is_a_count_clause() -> None:
    items = _by_title("event_count.yml")
    ruleset, decl = _rule(items["Console brute force from one address"])
    assert decl.stateful is not None
    assert (decl.stateful.kind, decl.stateful.threshold, decl.stateful.window.seconds) == (
        "count", 10, 600)
    assert [p.dotted() for p in decl.stateful.key] == ["sourceIPAddress"]
    assert decl.severity == "high" and "attack.t1110" in decl.tags
    assert "count       >= 10 by [sourceIPAddress] within 10m" in (
        items["Console brute force from one address"].text or "")
    match, no_match = _records(decl, True), _records(decl, False)
    assert len(match) == 10 and len(no_match) == 9
    # The examples decide on the window and the key, not on the record count alone.
    shifted = [dict(r, sourceIPAddress=f"203.0.113.{i}") for i, r in enumerate(match)]
    assert not _alerts(ruleset, decl, shifted)
    # generate: false (the default): the referenced rule is not an alert on its own.
    base = items["Failed console login"]
    assert base.text is None and "generate: false" in (base.reason or "")


def test_value_count_is_a_distinct_clause() -> None:
    items = _by_title("value_count.yml")
    ruleset, decl = _rule(items["Many different secrets read by one principal"])
    clause = decl.stateful
    assert clause is not None and clause.value is not None
    # gt 4 is "at least 5"
    assert (clause.kind, clause.value.dotted(), clause.threshold, clause.window.seconds) == (
        "distinct", "requestParameters.secretId", 5, 3600)
    match = _records(decl, True)
    assert len({r["requestParameters"]["secretId"] for r in match}) == 5
    same_secret = [dict(r, requestParameters={"secretId": "one"}) for r in match]
    assert not _alerts(ruleset, decl, same_secret)


def test_temporal_ordered_is_a_sequence_and_generate_true_keeps_the_base_rules() -> None:
    items = _by_title("temporal_ordered.yml")
    ruleset, decl = _rule(items["Backdoor user set up by one principal"])
    clause = decl.stateful
    assert clause is not None
    assert (clause.kind, len(clause.steps), clause.window.seconds) == ("sequence", 3, 1800)
    assert isinstance(decl.when, n.Or) and len(decl.when.operands) == 3
    ordered = _records(decl, True)
    assert [r["eventName"] for r in ordered] == ["CreateUser", "CreateAccessKey",
                                                 "AttachUserPolicy"]
    # A missing middle step breaks the sequence.
    assert not _alerts(ruleset, decl, [ordered[0], ordered[2]])
    # generate: true: each referenced rule is imported too, named after its Sigma name.
    for title, name in [("IAM user created", "iam_user_created"),
                        ("Access key created", "access_key_created"),
                        ("Admin policy attached", "admin_policy_attached")]:
        assert items[title].name == name, items[title].reason


def test_several_referenced_rules_are_an_or(tmp_path: Path) -> None:
    text = (HERE / "unsupported.yml").read_text("utf-8").split("\n---\n")
    bases = "\n---\n".join(text[:2])
    (tmp_path / "policy_churn.yml").write_text(bases + """
---
title: Policy churn by one principal
id: 6c7f2a10-0000-4000-8000-0000000000ff
author: ctrules tests
correlation:
    type: event_count
    rules: [bucket_policy_changed, bucket_policy_deleted]
    group-by: [userIdentity.arn, requestParameters.bucketName]
    timespan: 5m
    condition:
        gt: 3
level: medium
""", "utf-8")
    items = {r.title: r for r in import_paths([tmp_path]).results}
    ruleset, decl = _rule(items["Policy churn by one principal"])
    assert isinstance(decl.when, n.Or) and len(decl.when.operands) == 2
    assert decl.stateful is not None and decl.stateful.threshold == 4
    names = {r["eventName"] for r in _records(decl, True)}
    assert names == {"PutBucketPolicy", "DeleteBucketPolicy"}


UNSUPPORTED = {
    "Fewer than three policy changes": "condition lt: 3",
    "Exactly three policy changes": "condition eq: 3",
    "Between three and five policy changes": "correlation.condition: Sigma correlation "
                                             "condition must have exactly one condition item",
    "Policy changes over two days": "timespan 2d is outside the window a .ctr count allows "
                                    "(1s to 1d)",
    "Policy changed then deleted over two hours": "timespan 2h is outside the window a .ctr "
                                                  "sequence allows (1s to 1h)",
    "Policy changes per source host": "group-by field 'src_ip' is not a CloudTrail record field",
    "Policy changes grouped by a whole object": "group-by field 'userIdentity' is a JSON object",
    "Policy changed and deleted in any order": "correlation (temporal): the rules may occur in "
                                               "any order",
    "Policy changes of a rule not given": "the rule 'no_such_rule' it names is not among the "
                                          "imported files",
    "Sum of policy sizes": "correlation (value_sum)",
    "Policy changed then deleted, by an extended condition": "an extended (boolean) temporal "
                                                             "condition",
    "Policy changed then deleted, by aliased fields": "field aliases",
}


@pytest.mark.parametrize("title", sorted(UNSUPPORTED))
def test_unsupported_correlations_are_reported_with_the_reason(title: str) -> None:
    items = _by_title("unsupported.yml")
    item = items[title]
    assert item.text is None and item.name is None
    assert UNSUPPORTED[title] in (item.reason or ""), item.reason


def test_unsupported_file_emits_nothing() -> None:
    report = import_paths([HERE / "unsupported.yml"])
    assert report.translated == []
    assert len(report.results) == len(UNSUPPORTED) + 2  # and the two referenced rules


# ---- property: any in-range correlation imports with passing examples; out of range is a reason


BASE_NAMES = ["PutBucketPolicy", "DeleteBucketPolicy", "PutBucketAcl", "PutBucketCors"]
GROUP_FIELDS = ["userIdentity.arn", "sourceIPAddress", "awsRegion",
                "requestParameters.bucketName"]
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@st.composite
def correlation_file(draw: st.DrawFn) -> tuple[str, str, int, int]:
    kind = draw(st.sampled_from(["event_count", "value_count", "temporal_ordered"]))
    steps = draw(st.integers(2, 4)) if kind == "temporal_ordered" else draw(st.integers(1, 2))
    docs = []
    for i in range(steps):
        docs.append(yaml.safe_dump({
            "title": f"Base {i}", "id": f"6c7f2a10-0000-4000-8000-0000000001{i:02d}",
            "name": f"base_{i}", "status": "test",
            "logsource": {"product": "aws", "service": "cloudtrail"},
            "detection": {"selection": {"eventSource": "s3.amazonaws.com",
                                        "eventName": BASE_NAMES[i]},
                          "condition": "selection"},
            "level": "low"}))
    unit = draw(st.sampled_from(sorted(UNITS)))
    amount = draw(st.integers(1, 50))
    seconds = amount * UNITS[unit]
    group = draw(st.lists(st.sampled_from(GROUP_FIELDS[:3]), max_size=2, unique=True))
    correlation: dict[str, Any] = {"type": kind, "rules": [f"base_{i}" for i in range(steps)],
                                   "timespan": f"{amount}{unit}"}
    if group:
        correlation["group-by"] = group
    threshold = 0
    if kind != "temporal_ordered":
        op = draw(st.sampled_from(["gte", "gt"]))
        count = draw(st.integers(1, 25))
        threshold = count + (op == "gt")
        correlation["condition"] = {op: count}
        if kind == "value_count":
            correlation["condition"]["field"] = "requestParameters.bucketName"
    docs.append(yaml.safe_dump({"title": "The correlation",
                                "id": "6c7f2a10-0000-4000-8000-0000000001ff",
                                "correlation": correlation, "level": "high"}))
    return kind, "---\n".join(docs), seconds, threshold


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(case=correlation_file())
def test_in_range_correlations_import_and_their_examples_pass(
        tmp_path_factory: pytest.TempPathFactory, case: tuple[str, str, int, int]) -> None:
    kind, text, seconds, threshold = case
    folder = tmp_path_factory.mktemp("sigma")
    (folder / "corr.yml").write_text(text, "utf-8")
    (item,) = [r for r in import_paths([folder]).results if r.title == "The correlation"]
    limit = 3600 if kind == "temporal_ordered" else 86400
    if seconds > limit:
        assert item.text is None and "timespan" in (item.reason or ""), item.reason
        return
    ruleset, decl = _rule(item)
    assert decl.stateful is not None and decl.stateful.window.seconds == seconds
    if kind != "temporal_ordered":
        assert decl.stateful.threshold == threshold
        assert len(_records(decl, True)) == threshold


# ---- references across files, and referenced rules that fail -----------------------------------


CORRELATION = """
title: {title}
id: 6c7f2a10-0000-4000-8000-0000000002{n:02d}
correlation:
    type: {kind}
    rules: [{rules}]
    group-by: [userIdentity.arn]
    timespan: 10m
    condition: {{gte: 3{field}}}
"""


def _write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text, "utf-8")


def test_referenced_rule_in_another_file(tmp_path: Path) -> None:
    base = (HERE / "unsupported.yml").read_text("utf-8").split("\n---\n")[0]
    _write(tmp_path, "a_base.yml", base)
    _write(tmp_path, "z_correlation.yml", CORRELATION.format(
        title="Policy changes", n=1, kind="event_count", rules="bucket_policy_changed",
        field=""))
    items = {r.title: r for r in import_paths([tmp_path]).results}
    _, decl = _rule(items["Policy changes"])
    assert decl.name == "z_correlation"


def test_referenced_rule_that_cannot_be_translated_is_the_reason(tmp_path: Path) -> None:
    _write(tmp_path, "keywords.yml", """
title: Keyword search
id: 6c7f2a10-0000-4000-8000-000000000301
name: keyword_search
logsource: {product: aws, service: cloudtrail}
detection:
    keywords: [secret]
    condition: keywords
""")
    _write(tmp_path, "corr.yml", CORRELATION.format(
        title="Many keyword hits", n=2, kind="event_count", rules="keyword_search", field=""))
    items = {r.title: r for r in import_paths([tmp_path]).results}
    reason = items["Many keyword hits"].reason or ""
    assert items["Many keyword hits"].text is None
    assert "referenced rule 'Keyword search' cannot be translated: " in reason, reason


def test_value_count_of_a_fixed_value_is_reported(tmp_path: Path) -> None:
    """The detection fixes the counted field, so no N distinct values can match: the importer
    says so rather than emitting a rule whose examples cannot pass."""
    _write(tmp_path, "corr.yml", (HERE / "unsupported.yml").read_text("utf-8").split(
        "\n---\n")[0] + "\n---\n" + CORRELATION.format(
        title="Distinct event names", n=3, kind="value_count", rules="bucket_policy_changed",
        field=", field: eventName"))
    items = {r.title: r for r in import_paths([tmp_path]).results}
    item = items["Distinct event names"]
    assert item.text is None
    assert "different values of 'eventName'" in (item.reason or ""), item.reason
