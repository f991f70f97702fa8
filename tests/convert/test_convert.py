"""`ctrules convert`: converted rules give the old tool's verdicts, event by event.

The oracle (tests/convert/oracle.py) runs the original Python strings the way the old Lambda
did; ctrules runs the converted `.ctr`. They must agree on every labelled fivexl case, on every
record of the real-log corpus, and on a set of adversarial records (missing keys, nulls, wrong
types) that exercise the "a rule that raises does not match" behaviour.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

import ctrules
from ctrules import cli
from ctrules.convert import (
    FIVEXL_DEFAULT_RULES,
    Untranslatable,
    convert,
    events_to_track_rule,
    fivexl_default_rules,
    translate,
)
from ctrules.parser import parse

from .oracle import flatten_json, old_should_process, old_verdict

HERE = Path(__file__).resolve().parent
CASES = [json.loads(line) for line in (HERE / "corpus" / "fivexl_cases.jsonl").read_text().splitlines()
         if line.strip()]
REAL_DIR = HERE.parent / "rules" / "corpus"


def _real_events() -> list[dict[str, Any]]:
    events = []
    for path in sorted(REAL_DIR.glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            events.extend(json.loads(line) for line in fh if line.strip())
    return events


REAL_EVENTS = _real_events()

# Strings people write, plus ones built to hit every raising path of the translation.
EXTRA_RULES = [
    'event["eventName"] in ("DeleteBucket", "PutBucketPolicy")',
    'event["eventName"] not in ["GetObject", "HeadObject"]',
    'event.get("requestParameters.bucketName", "").endswith("-prod")',
    'not event.get("requestParameters.bucketName").startswith("logs")',
    'not event["requestParameters.bucketName"].startswith(("logs", "tmp"))',
    'event.get("userIdentity.sessionContext.attributes.mfaAuthenticated") == "false"',
    'event.get("readOnly") == False and event["eventSource"] == "s3.amazonaws.com"',
    '"errorCode" in event or event["eventName"] == "ConsoleLogin"',
    '"errorCode" not in event and event["eventName"].startswith("Delete")',
    'event["userIdentity.invokedBy"] != "cloudtrail.amazonaws.com" or event["readOnly"] == True',
    'event.get("userIdentity.userName", "x").lower() == "admin"',
    'event["eventName"].upper() == "CONSOLELOGIN"',
    '"ADMIN" not in event.get("requestParameters.roleArn", "").upper()',
    'event["awsRegion"] == event["requestParameters.region"]',
    'event.get("awsRegion") != event.get("requestParameters.region")',
    'not (event["eventName"] == "ConsoleLogin" or event["errorCode"] == "AccessDenied")',
    'event.get("errorCode", "") == ""',
    'event.get("requestParameters.maxResults", 0) > 50',
    'event["resources.0.type"] == "AWS::S3::Bucket"',
    '"Admin" in event["requestParameters.policyArn"] and not event["readOnly"] == True',
    '"x" == event.get("nope", "x")',
    'True',
    'event.get("errorCode", "").startswith(())',
]

TRICKY_EVENTS: list[Any] = [
    {},
    {"eventName": None},
    {"eventName": 5, "errorCode": None},
    {"eventName": "DeleteBucket", "eventSource": "s3.amazonaws.com", "readOnly": False,
     "requestParameters": {"bucketName": None, "region": "eu-west-1"}, "awsRegion": "eu-west-1"},
    {"eventName": "GetObject", "requestParameters": {"bucketName": 7}, "errorCode": ""},
    {"eventName": "ConsoleLogin", "userIdentity": {"userName": "ADMIN",
                                                    "invokedBy": "cloudtrail.amazonaws.com"},
     "readOnly": True, "additionalEventData": {"MFAUsed": None}},
    {"eventName": "DeleteTrail", "requestParameters": {"bucketName": "logs-1", "maxResults": 51,
                                                       "roleArn": "arn:aws:iam::1:role/Admin",
                                                       "policyArn": None},
     "resources": [{"type": "AWS::S3::Bucket"}], "userIdentity": {"userName": 3}},
    {"eventName": "PutBucketPolicy", "requestParameters": {"bucketName": "tmp-prod",
                                                           "maxResults": "many",
                                                           "policyArn": "AdminAccess"},
     "errorCode": "AccessDenied", "readOnly": 0},
    {"eventName": "ListBuckets", "requestParameters": None, "resources": []},
    ["not", "an", "object"],
]


def _ctr_rule_set(tmp_path: Path, named: list[tuple[str, str]]) -> ctrules.RuleSet:
    """One rule per translated string, so each string's verdict can be read off the alerts."""
    lines = []
    for name, text in named:
        lines.append(f"rule {name} {{\n    when {translate(text)}\n}}\n")
    path = tmp_path / "translated.ctr"
    path.write_text("\n".join(lines))
    return ctrules.load_rules(path)


def _all_rule_strings() -> list[str]:
    strings: list[str] = [text for _, text in fivexl_default_rules()]
    strings += json.loads((HERE / "corpus" / "default_rules.json").read_text())["default_rules"]
    for case in CASES:
        if isinstance(case["rules"], list):
            strings += case["rules"]
        strings += case["ignore_rules"]
    strings.append(events_to_track_rule("StopLogging, DeleteTrail,ConsoleLogin"))
    strings += EXTRA_RULES
    out: list[str] = []
    for s in strings:
        if s not in out:
            out.append(s)
    return out


def test_embedded_defaults_are_the_corpus_strings() -> None:
    corpus = json.loads((HERE / "corpus" / "default_rules.json").read_text())
    assert corpus["function_name"] == "fivexl-cloudtrail-to-slack"
    assert [t for _, t in fivexl_default_rules(corpus["function_name"])] == corpus["default_rules"]
    assert len(FIVEXL_DEFAULT_RULES) == 9


def test_every_translatable_string_gives_the_old_verdict_on_every_event(tmp_path: Path) -> None:
    strings = _all_rule_strings()
    named = []
    for i, text in enumerate(strings):
        try:
            translate(text)
        except Untranslatable:
            assert text == "invalid syntax", text  # the one deliberately broken case string
            continue
        named.append((f"r{i}", text))
    assert len(named) == len(strings) - 1
    rs = _ctr_rule_set(tmp_path, named)
    events = [c["event"] for c in CASES] + REAL_EVENTS + TRICKY_EVENTS
    mismatches = []
    fired = 0
    for event in events:
        got = {a.rule for a in rs.evaluate(event)}
        flat = flatten_json(event) if isinstance(event, dict) else {}
        for name, text in named:
            want = old_verdict(text, event, flat)
            fired += want
            if (name in got) != want:
                mismatches.append((text, want, json.dumps(event)[:200]))
    assert not mismatches, mismatches[:5]
    assert fired > 100  # the comparison is not vacuous


def test_fivexl_cases_whole_configuration(tmp_path: Path) -> None:
    """Each labelled case, as the old Lambda configured it: rules, ignore rules, defaults."""
    for i, case in enumerate(CASES):
        use_default = case["rules"] == "default_rules"
        custom = [] if use_default else case["rules"]
        conv = convert(custom, case["ignore_rules"], use_default_rules=use_default)
        path = tmp_path / f"case{i}.ctr"
        path.write_text(conv.text)
        rs = ctrules.load_rules(path)
        alerts = rs.evaluate(case["event"])
        processed = any(not a.ignored for a in alerts)
        old_rules = [t for _, t in fivexl_default_rules()] if use_default else custom
        want, want_ignored = old_should_process(case["event"], old_rules, case["ignore_rules"])
        assert want == case["expected"], case["test_name"]  # the oracle agrees with the label
        assert processed == case["expected"], case["test_name"]
        if case["expected_is_ignored"]:
            assert want_ignored
            # The event is dropped: every rule that matched is suppressed by the ignore.
            assert all(a.ignored for a in alerts), case["test_name"]
        untranslatable = [p.source for p in conv.problems]
        assert untranslatable in ([], ["invalid syntax"]), case["test_name"]


def test_compat_pack_matches_the_original_defaults() -> None:
    """rules/compat/fivexl.ctr (hand-written) is faithful to the nine original strings."""
    rs = ctrules.load_rules(Path(ctrules.__file__).resolve().parent.parent / "rules" / "compat")
    names = [name for name, _ in fivexl_default_rules()]
    mismatches = []
    for event in [c["event"] for c in CASES] + REAL_EVENTS + TRICKY_EVENTS:
        got = {a.rule for a in rs.evaluate(event)}
        for name, text in fivexl_default_rules():
            if (name in got) != old_verdict(text, event):
                mismatches.append((name, json.dumps(event)[:200]))
    assert not mismatches, mismatches[:5]
    assert {r.name for r in rs.rules} >= set(names)


def test_documented_difference_for_catalog_typed_fields(tmp_path: Path) -> None:
    """docs/converting.md: a field the catalog types as a string is assumed to hold a string.

    `"x" not in event.get("userIdentity.arn", "")` raises in Python when the ARN is JSON null, so
    the old tool did not match; the converted rule (kept readable, without a type guard) does.
    CloudTrail never writes a null ARN, which is why the converter makes this trade."""
    rule = '"assumed-role/AWSReservedSSO" not in event.get("userIdentity.arn", "")'
    assert translate(rule) == 'not userIdentity.arn contains "assumed-role/AWSReservedSSO"'
    event = {"userIdentity": {"arn": None}}
    assert old_verdict(rule, event) is False
    rs = _ctr_rule_set(tmp_path, [("r", rule)])
    assert [a.rule for a in rs.evaluate(event)] == ["r"]
    # For a field the catalog does not type, the guard is kept and the verdicts agree.
    other = '"x" not in event.get("requestParameters.roleArn", "")'
    assert 'glob "*"' in translate(other)


@pytest.mark.parametrize("text, fragment", [
    ("len(event) > 3", "function or method call"),
    ('event["a"] == event["b"] == event["c"]', "chained comparison"),
    ("[x for x in event]", "comprehension"),
    ('event["eventName"] + "x" == "y"', "arithmetic"),
    ('__import__("os").system("id")', "function or method call"),
    ('event["userIdentity"]', "truthiness"),
    ('event.get("k", "") in "abc"', "membership of a field in a string"),
    ("invalid syntax", "not valid Python"),
    ('event[k] == "x"', "not a string literal"),
    ("os.environ", "attribute"),
])
def test_untranslatable_constructs_are_named(text: str, fragment: str) -> None:
    with pytest.raises(Untranslatable, match=fragment):
        translate(text)


def test_conversion_keeps_what_it_cannot_translate() -> None:
    conv = convert(['event["eventName"] == "DeleteBucket"', "len(event) > 1"],
                   ['event["eventName"] == "ConsoleLogin" and event["x"]'])
    assert conv.rules == ["delete_bucket"]
    assert [p.name for p in conv.problems] == ["custom_rule_2", "ignore_rule_1"]
    assert "# original: len(event) > 1" in conv.text
    assert "could not translate rule 2 (custom_rule_2)" in conv.text
    parse(conv.text, "converted.ctr")  # what it did write is valid


def test_converted_output_is_valid_and_canonical(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "converted.ctr"
    code = cli.main(["convert", "--use-default-rules", "--separator", ";",
                     "--rules", 'event["eventName"] == "DeleteBucket";"Admin" in event.get("requestParameters.roleArn", "")',
                     "--ignore-rules", '"123456789012:root" in event.get("userIdentity.arn", "")',
                     "--events-to-track", "StopLogging,DeleteTrail", "-o", str(out)])
    assert code == 0
    assert "converted 12 rules and 1 ignore rules; 0 could not be translated" in capsys.readouterr().err
    assert cli.main(["fmt", "--check", str(out)]) == 0
    findings, _ = cli.check_paths([out])
    assert not [d for d in findings if d.is_error]
    rs = ctrules.load_rules(out)
    assert "tracked_events" in {r.name for r in rs.rules}
    assert [a.rule for a in rs.evaluate({"eventName": "DeleteTrail"})] == ["tracked_events"]


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                        monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli.main(["convert"]) == 2
    assert "nothing to convert" in capsys.readouterr().err
    assert cli.main(["convert", "--rules", "len(event) > 0", "-o", str(tmp_path / "x.ctr")]) == 1
    err = capsys.readouterr().err
    assert "could not translate rule 1 (custom_rule_1)" in err and "len(event)" in err
    monkeypatch.setenv("RULES", 'event["eventName"] == "CreateKey"|event["eventName"] == "DeleteKey"')
    monkeypatch.setenv("RULES_SEPARATOR", "|")
    monkeypatch.setenv("USE_DEFAULT_RULES", "false")
    assert cli.main(["convert", "--from-env"]) == 0
    captured = capsys.readouterr()
    assert "rule create_key" in captured.out and "rule delete_key" in captured.out
    # Since the old module's 4.2.0 "false" means off (it parses the value).
    assert "fivexl_" not in captured.out


@pytest.mark.parametrize(
    ("value", "defaults"),
    [("false", False), ("False", False), ("0", False), ("no", False), ("off", False), ("", False),
     (" FALSE ", False), ("true", True), ("True", True), ("1", True), ("yes", True)],
)
def test_use_default_rules_spellings(value: str, defaults: bool, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RULES", 'event["eventName"] == "CreateKey"')
    monkeypatch.setenv("USE_DEFAULT_RULES", value)
    assert cli.main(["convert", "--from-env"]) == 0
    out = capsys.readouterr().out
    assert ("rule fivexl_root_activity" in out) is defaults


def test_wrong_separator_suggests_the_right_one(capsys: pytest.CaptureFixture[str]) -> None:
    rules = ('event["eventName"] in ["CreateUser", "DeleteUser"]|'
             'event.get("errorCode", "").startswith(("AccessDenied", "Unauthorized"))')
    assert cli.main(["convert", "--rules", rules]) == 1  # split on "," as the old default did
    err = capsys.readouterr().err
    assert "RULES split on ',' gives pieces that are not valid Python" in err
    assert "try --separator '|'" in err
    assert cli.main(["convert", "--rules", rules, "--separator", "|"]) == 0
    assert "try --separator" not in capsys.readouterr().err


def test_long_events_to_track_is_canonical(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = ",".join(f"Event{i:03d}WithALongName" for i in range(40))
    out = tmp_path / "tracked.ctr"
    assert cli.main(["convert", "--events-to-track", events, "-o", str(out)]) == 0
    assert cli.main(["fmt", "--check", str(out)]) == 0, out.read_text()
    rs = ctrules.load_rules(out)
    assert [a.rule for a in rs.evaluate({"eventName": "Event039WithALongName"})] == ["tracked_events"]
    assert rs.evaluate({"eventName": "Event040WithALongName"}) == []


def test_rules_file_with_a_trailing_newline(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "old-rules.txt"
    # As `jq -r .RULES` writes it: the value, a trailing comma the old tool ignored, a newline.
    rules.write_text('event["eventName"] == "CreateKey",event["eventName"] == "DeleteKey",\n')
    assert cli.main(["convert", "--rules-file", str(rules)]) == 0
    out = capsys.readouterr().out
    assert "rule create_key" in out and "rule delete_key" in out
