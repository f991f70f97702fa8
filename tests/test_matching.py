"""`RuleSet.matching` is `evaluate` without the alerts: the names of the rules that match and
that no ignore suppresses, in `evaluate`'s order — differential, on every corpus record (with
the field index on every dispatch entry, as tests/test_index.py does) and on generated rule sets
and events, with and without ignores."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ctrules.ruleset import RuleSet, load_default_rules
from ctrules.stateful import MemoryStore, StatefulEngine
from tests.test_index import (
    RULE_SETS,
    _parse,
    corpus_records,
    events,
    index_every_entry,  # noqa: F401  # the fixture applies here too
    rule_texts,
)


def _unignored(rs: RuleSet, record: Any) -> list[str]:
    return [a.rule for a in rs.evaluate(record) if not a.ignored]


# Ignores that fire on the corpora: one for every rule, one for a few.
IGNORES = """
ignore read_only_noise {
    reason "test"
    owner  "test"
    when   errorCode exists and userIdentity.type == "AssumedRole"
}
ignore some_rules {
    reason "test"
    owner  "test"
    rules  [root_activity, console_login_without_mfa, iam_principal_changed]
    when   sourceIPAddress startswith "1"
}
"""


def _selection() -> RuleSet:
    return StatefulEngine(load_default_rules(), MemoryStore()).selector


def _rule_sets(name: str) -> list[RuleSet]:
    if name == "stateful-selection":  # the stateful rules' `when`s with the pack's ignores
        return [_selection()]
    files = RULE_SETS[name]()
    if name == "default":
        files = [*files, _parse(IGNORES)]
    return [RuleSet(files, use_index=use) for use in (True, False)]


@pytest.mark.parametrize("name", [*sorted(RULE_SETS), "stateful-selection"])
def test_matching_is_evaluate_without_the_ignored_on_the_corpora(name: str) -> None:
    rule_sets = _rule_sets(name)
    records = list(corpus_records())
    matched = ignored = 0
    for rs in rule_sets:
        for record in records:
            expected = _unignored(rs, record)
            assert rs.matching(record) == expected, record.get("eventID")
            matched += len(expected)
            ignored += sum(1 for a in rs.evaluate(record) if a.ignored)
    assert matched > 0  # the comparison saw matches, not only silence
    if name == "default":
        assert ignored > 0  # ... and ignores that fired


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_texts(), st.lists(events(), min_size=1, max_size=6), st.booleans())
def test_matching_agrees_with_evaluate_on_generated_rules(text: str, records: list[Any],
                                                          use_index: bool) -> None:
    rs = RuleSet([_parse(text)], use_index=use_index)
    for record in records:
        assert rs.matching(record) == _unignored(rs, record)


def test_matching_reads_a_non_object_record_as_evaluate_does() -> None:
    rs = RuleSet([_parse('rule r {\n    when not eventName exists\n}\n')])
    for value in ([], "x", 1, None):
        assert rs.matching(value) == _unignored(rs, value) == ["r"]
