"""The stateful clauses as language: parse, check, fmt (idempotent, meaning-preserving), the
truth table of docs/language.md, list examples in `ctrules test`, explain."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ctrules import cli
from ctrules import nodes as n
from ctrules.checks import check_sources
from ctrules.formatter import format_text
from ctrules.parser import parse
from ctrules.ruleset import RuleSet
from ctrules.stateful import MemoryStore, StatefulEngine

SOURCE = """
rule a { when eventName == "X" count >= 3 by [sourceIPAddress] within 10m }
rule b {
  when eventName == "X"   # a comment
  distinct requestParameters.secretId >= 20 by [userIdentity.arn, recipientAccountId,] within 600s
}
rule c { when eventName == "X" first_seen by [userIdentity.arn] within 90d }
rule d { when eventName == "X" first_seen sourceIPAddress by [userIdentity.accessKeyId] within 30d }
rule e { when eventSource == "iam.amazonaws.com"
  sequence by [userIdentity.arn] within 30m
     then eventName == "CreateUser"
     then eventName == "AttachUserPolicy" and requestParameters.policyArn endswith "AdministratorAccess"
}
rule f { when eventName == "X" count >= 1 within 1h }
"""


def test_every_clause_parses_to_its_node() -> None:
    decls = {d.name: d for d in parse(SOURCE).file.decls if isinstance(d, n.RuleDecl)}
    assert decls["a"].stateful == n.Stateful("count", (n.Path(("sourceIPAddress",)),),
                                             n.Duration(600), threshold=3)
    b = decls["b"].stateful
    assert b is not None and b.kind == "distinct" and b.window == n.Duration(600)
    assert b.value == n.Path(("requestParameters", "secretId"))
    d = decls["d"].stateful
    assert d is not None and d.value == n.Path(("sourceIPAddress",)) and d.threshold is None
    e = decls["e"].stateful
    assert e is not None and len(e.steps) == 2
    f = decls["f"].stateful
    assert f is not None and f.key == () and f.window.seconds == 3600


def test_fmt_is_idempotent_and_keeps_the_meaning() -> None:
    once = format_text(SOURCE)
    assert format_text(once) == once
    assert parse(once).file.decls == parse(SOURCE).file.decls
    assert "# a comment" in once
    assert "count >= 3 by [sourceIPAddress] within 10m" in once


def test_the_new_keywords_stay_names_and_old_files_keep_their_meaning() -> None:
    text = 'rule count { when count == 1 and within exists and then == by and distinct != sequence }'
    (rule,) = parse(text).file.decls
    assert isinstance(rule, n.RuleDecl) and rule.stateful is None and rule.name == "count"


def test_two_clauses_are_a_duplicate_property() -> None:
    text = 'rule r { when eventName == "X" count >= 3 within 10m first_seen within 1d }'
    result = parse(text)
    assert [d.code for d in result.diagnostics] == ["CTR003"]


def test_a_macro_in_a_sequence_step_is_checked_and_compiled() -> None:
    text = ('macro created = eventName == "CreateUser"\n'
            'rule r { when eventSource == "iam.amazonaws.com" sequence within 5m '
            'then created then eventName == "DeleteUser" }')
    files, diagnostics = check_sources([("m.ctr", text)])
    assert [d.code for d in diagnostics if d.is_error] == []
    engine = StatefulEngine(RuleSet(files), MemoryStore())
    events = [_ev(1, 0, eventSource="iam.amazonaws.com", eventName="CreateUser"),
              _ev(2, 60, eventSource="iam.amazonaws.com", eventName="DeleteUser")]
    assert len(engine.run(events)) == 1


def _ev(i: int, second: int, **fields: str) -> dict[str, str]:
    minute, sec = divmod(second, 60)
    return {"eventID": f"id{i}", "eventTime": f"2026-01-01T12:{minute:02d}:{sec:02d}Z", **fields}


TABLE_RULE = 'rule r { when eventName == "X" count >= 3 by [sourceIPAddress] within 10m }'


@pytest.mark.parametrize(("minutes", "alerts"), [
    ([1, 2, 3], 1),
    ([1, 2, 3, 4, 5], 1),
    ([8, 9, 11], 0),
    ([1, 2, 3, 11, 12, 13], 2),
    ([3, 1, 2], 1),
])
def test_the_truth_table_of_the_guide(minutes: list[int], alerts: int) -> None:
    files, _ = check_sources([("t.ctr", TABLE_RULE)])
    engine = StatefulEngine(RuleSet(files), MemoryStore())
    events = [_ev(i, m * 60, eventName="X", sourceIPAddress="1.2.3.4")
              for i, m in enumerate(minutes)]
    assert len(engine.run(events)) == alerts


def test_ctrules_test_runs_list_examples(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    records = [_ev(i, i, eventName="X", sourceIPAddress="1.2.3.4") for i in range(3)]
    rule = (TABLE_RULE[:-1] + f' example "three" match {json.dumps(records)}'
            f' example "two" no match {json.dumps(records[:2])}'
            f' example "wrong" match {json.dumps(records[:2])} }}')
    path = tmp_path / "r.ctr"
    path.write_text(rule)
    assert cli.main(["test", str(path)]) == 1
    out = capsys.readouterr().out
    assert "2 passed, 1 failed" in out
    assert 'example "wrong": expected match, got no match' in out


def test_explain_shows_the_state_that_decided(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "r.ctr").write_text(TABLE_RULE)
    events = [_ev(i, i * 60, eventName="X", sourceIPAddress="1.2.3.4") for i in range(4)]
    (tmp_path / "e.json").write_text(json.dumps({"Records": events}))
    assert cli.main(["explain", str(tmp_path / "r.ctr"), str(tmp_path / "e.json")]) == 0
    out = capsys.readouterr().out
    assert "key 1.2.3.4, window from 2026-01-01T12:00:00Z: 4 events (threshold 3: reached)" in out
    assert "ALERT:" in out


def test_run_gives_the_same_alerts_whatever_the_file_order(
        tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    (tmp_path / "r.ctr").write_text(TABLE_RULE)
    events = [_ev(i, i * 60, eventName="X", sourceIPAddress="1.2.3.4") for i in range(6)]
    (tmp_path / "a.json").write_text(json.dumps({"Records": events[3:]}))
    (tmp_path / "b.json").write_text(json.dumps({"Records": events[:3]}))
    outputs = []
    for order in (["a.json", "b.json"], ["b.json", "a.json"]):
        cli.main(["run", "--quiet", str(tmp_path / "r.ctr"), *(str(tmp_path / f) for f in order)])
        outputs.append(capsysbinary.readouterr().out)
    assert outputs[0] == outputs[1]
    (line,) = outputs[0].splitlines()
    assert json.loads(line)["state"]["count"] == 6


def test_explain_and_store_cope_with_odd_keys(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    rules = ('rule w { when eventName == "X" count >= 2 by [userAgent, requestParameters.tags] within 10m }\n'
             'rule f { when eventName == "X" first_seen userAgent by [requestParameters.tags] within 1d }\n')
    (tmp_path / "r.ctr").write_text(rules)
    many = [f"tag-{i:04d}" for i in range(200)]  # fans out: a key far longer than DynamoDB's pk
    events = [dict(_ev(i, i, eventName="X", userAgent="curl|8.0"), requestParameters={"tags": many})
              for i in range(2)]
    (tmp_path / "e.json").write_text(json.dumps({"Records": events}))
    assert cli.main(["explain", str(tmp_path / "r.ctr"), str(tmp_path / "e.json")]) == 0
    out = capsys.readouterr().out
    assert "(a long key, hashed" in out and "2 events (threshold 2: reached)" in out
    assert "value curl|8.0: first seen" in out
