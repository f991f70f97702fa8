"""The schema-aware lint (ctrules.checks.schema_lint, CTR114–CTR116) and the schema it reads.

A misspelt field is valid `.ctr` that never matches; these tests pin down that such typos are
reported where they are written, with the name that was meant — and that nothing a real rule
writes is reported: the default pack, every valid rule text in the repository, every path the
schema itself describes, and every key a real CloudTrail record of a known event has.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ctrules import schema
from ctrules.checks import check_sources, load_sources
from ctrules.diagnostics import Diagnostic

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_CODES = {"CTR114", "CTR115", "CTR116"}


def _schema_findings(text: str) -> list[Diagnostic]:
    _, diagnostics = check_sources([("t.ctr", text)])
    return [d for d in diagnostics if d.code in SCHEMA_CODES]


def _where(text: str) -> list[tuple[str, int, int, int]]:
    return [(d.code, d.span.line, d.span.col, d.span.end_col) for d in _schema_findings(text)]


# ---- typos are reported at the misspelt name, with the name meant -----------------------------


@pytest.mark.parametrize(("when", "typo", "meant"), [
    ('userIdentiy.type == "Root"', "userIdentiy", "userIdentity"),
    ('eventNmae == "StopLogging"', "eventNmae", "eventName"),
    ("userIdentity.sessionContext.sessionIsuer.arn exists", "sessionIsuer", "sessionIssuer"),
    ('event.userIdentity.tpye == "Root"', "tpye", "type"),
    ('userIdentity.sessionContext.attributes.mfaAuthenticatd == "false"', "mfaAuthenticatd",
     "mfaAuthenticated"),
    ('tlsDetails.tlsversion == "TLSv1"', "tlsversion", "tlsVersion"),
    ('resources.ARn startswith "arn:aws:s3:::"', "ARn", "ARN"),
    ("resources.0.acountId exists", "acountId", "accountId"),
    ('any resources (tpye == "AWS::S3::Bucket")', "tpye", "type"),
    ('any resources (it.tpye == "AWS::S3::Bucket")', "tpye", "type"),
    ('all resources (event.eventNmae == "GetObject")', "eventNmae", "eventName"),
    ('lower(userIdentity.userNmae) == "ci"', "userNmae", "userName"),
    ('eventName == "ConsoleLogin" and additionalEventData.MFAused == "No"', "MFAused", "MFAUsed"),
    ('responseElements.consoleLogin == "Failure"', "consoleLogin", "ConsoleLogin"),
    ("userIdentity.onBehalfOf.identitystoreArn exists", "identitystoreArn", "identityStoreArn"),
])
def test_a_misspelt_field_is_reported_at_the_name_with_the_name_meant(
        when: str, typo: str, meant: str) -> None:
    text = f"rule r {{ when {when} }}"
    found = _schema_findings(text)
    col = text.index(typo) + 1
    assert [(d.code, d.span.line, d.span.col, d.span.end_col) for d in found] == [
        ("CTR114", 1, col, col + len(typo))], found
    assert f"did you mean {meant!r}?" in found[0].message
    assert found[0].hint is not None and meant in found[0].hint


def test_typos_in_a_multi_line_rule_point_at_their_line() -> None:
    text = ('rule r {\n'
            '    when eventSource == "cloudtrail.amazonaws.com"\n'
            '     and eventNmae in ["StopLogging", "DeleteTrail"]\n'
            '     and userIdentity.sesionContext.sessionIssuer.arn exists\n'
            '}\n')
    assert _where(text) == [("CTR114", 3, 10, 19), ("CTR114", 4, 23, 36)]


def test_a_misspelt_placeholder_is_reported_in_the_summary() -> None:
    text = ('rule r {\n'
            '    summary "{eventNmae} by {userIdentity.arn} on {requestParameters.nmae}"\n'
            '    when eventSource == "cloudtrail.amazonaws.com" and eventName == "StopLogging"\n'
            '}\n')
    found = _schema_findings(text)
    line = text.splitlines()[1]
    assert [(d.code, d.span.line, d.span.col) for d in found] == [
        ("CTR115", 2, line.index("eventNmae") + 1), ("CTR115", 2, line.index("nmae}") + 1)]
    assert "'eventName'" in found[0].message and "'name'" in found[1].message


def test_a_placeholder_with_escapes_in_the_summary_points_at_the_summary() -> None:
    text = 'rule r {\n    summary "a\\tb {eventNmae}"\n    when eventName == "StopLogging"\n}\n'
    assert _where(text) == [("CTR115", 2, 13, 31)]


def test_group_by_paths_are_checked() -> None:
    text = 'rule r { group_by [userIdentity.ar] when eventName == "StopLogging" }'
    assert [d.code for d in _schema_findings(text)] == ["CTR114"]


# ---- requestParameters keys of the rule's events ------------------------------------------------


@pytest.mark.parametrize("text", [
    'rule r { when eventName == "CreateUser" and eventSource == "iam.amazonaws.com"'
    ' and requestParameters.userNmae == "x" }',
    'rule r { when eventSource == "iam.amazonaws.com" and eventName in ["CreateUser", "DeleteUser"]'
    ' and requestParameters.userNmae == "x" }',
    'list user_events = ["CreateUser", "DeleteUser"]\n'
    'rule r { when eventSource == "iam.amazonaws.com" and eventName in user_events'
    ' and requestParameters.userNmae == "x" }',
    'macro user_change = eventSource == "iam.amazonaws.com" and eventName == "DeleteUser"\n'
    'rule r { when user_change and requestParameters.userNmae == "x" }',
    'macro bad_user = requestParameters.userNmae == "x"\n'
    'rule r { when eventSource == "iam.amazonaws.com" and eventName == "DeleteUser" and bad_user }',
    'rule r { when eventSource == "iam.amazonaws.com" and ((eventName == "CreateUser"'
    ' and requestParameters.userNmae == "x") or eventName == "CreateRole") }',
    'rule r { when eventSource == "iam.amazonaws.com" and (eventName == "CreateUser"'
    ' or eventName == "DeleteUser") and requestParameters.userNmae == "x" }',
    'rule r { when eventSource == "iam.amazonaws.com" and eventName == "CreateUser"'
    ' and requestParameters.username == "x" }',
])
def test_a_misspelt_request_parameter_of_pinned_events_is_reported(text: str) -> None:
    found = _schema_findings(text)
    assert [d.code for d in found] == ["CTR114"], found
    assert "did you mean 'userName'?" in found[0].message


def test_request_parameters_of_services_whose_keys_come_from_api_models() -> None:
    cases = {
        'eventSource == "cloudtrail.amazonaws.com" and eventName == "StopLogging"'
        ' and requestParameters.nmae == "t"': "name",
        'eventSource == "kms.amazonaws.com" and eventName == "ScheduleKeyDeletion"'
        ' and requestParameters.pendingWindowInDay < 7': "pendingWindowInDays",
        'eventSource == "rds.amazonaws.com" and eventName == "ModifyDBInstance"'
        ' and requestParameters.publiclyAcessible == true': "publiclyAccessible",
        'eventSource == "secretsmanager.amazonaws.com" and eventName == "GetSecretValue"'
        ' and requestParameters.secretID exists': "secretId",
        # no eventSource: every source that emits the name has known keys
        'eventName == "StopLogging" and requestParameters.nmae == "t"': "name",
    }
    for when, meant in cases.items():
        found = _schema_findings(f"rule r {{ when {when} }}")
        assert [d.code for d in found] == ["CTR114"], (when, found)
        assert f"did you mean {meant!r}?" in found[0].message, found[0].message


@pytest.mark.parametrize("when", [
    # the events are not pinned: any event could have the key
    'requestParameters.userNmae == "x"',
    'eventName != "CreateUser" and requestParameters.userNmae == "x"',
    'not (eventName in ["CreateUser"]) and requestParameters.userNmae == "x"',
    '(eventName == "CreateUser" or eventSource == "iam.amazonaws.com")'
    ' and requestParameters.userNmae == "x"',
    'eventName startswith "Create" and requestParameters.userNmae == "x"',
    # a known event, a key far from every known one (CloudTrail adds keys of its own)
    'eventSource == "iam.amazonaws.com" and eventName == "CreateUser"'
    ' and requestParameters.requestedBy == "x"',
    # keys known only from real records (S3, EC2): a near miss may be a real key
    'eventSource == "s3.amazonaws.com" and eventName == "PutBucketPolicy"'
    ' and requestParameters.bucketNam == "x"',
    'eventSource == "ec2.amazonaws.com" and eventName == "RunInstances"'
    ' and requestParameters.instanceSet exists',
    # an event name some source emits without known keys (sso ConsoleLogin)
    'eventName == "ConsoleLogin" and responseElements.ConsoleLogn == "Failure"',
    # deeper than the first key, and inside any/all, nothing is second-guessed
    'eventSource == "iam.amazonaws.com" and eventName == "CreateUser"'
    ' and requestParameters.tags.kye == "x"',
    'eventSource == "iam.amazonaws.com" and eventName == "CreateUser"'
    ' and any requestParameters.tags (kye == "owner")',
    # unknown fields with nothing close: test records and enrichment use fields of their own
    "s exists and obj.x == 1 and missing.path exists and userIdentity.type.x exists",
    'any resources (any it.tags (it == "x") or all `tags` (it != null))',
])
def test_no_finding_where_the_schema_cannot_know(when: str) -> None:
    assert _schema_findings(f"rule r {{ when {when} }}") == []


def test_a_key_differing_only_in_case_is_reported_even_for_events_known_from_records() -> None:
    found = _schema_findings('rule r { when eventSource == "s3.amazonaws.com" and '
                             'eventName == "PutBucketPolicy" and requestParameters.bucketname '
                             '== "x" }')
    assert [d.code for d in found] == ["CTR114"]
    assert "did you mean 'bucketName'?" in found[0].message


def test_route_rule_fields_are_not_paths() -> None:
    text = ('rule r { when eventName == "StopLogging" }\n'
            'route pager { when rule.severity >= high and eventNmae exists to "pager" }')
    col = text.splitlines()[1].index("eventNmae") + 1
    assert _where(text) == [("CTR114", 2, col, col + 9)]


# ---- field names as values --------------------------------------------------------------------


@pytest.mark.parametrize(("when", "col"), [
    ('eventName == "eventSource"', 28),
    ('eventSource != "eventName"', 30),
    ('event.userIdentity.type in ["Root", "userIdentity"]', 51),
    ('errorCode == "errorMessage"', 28),
])
def test_a_field_name_written_as_a_value_is_reported(when: str, col: int) -> None:
    found = _schema_findings(f"rule r {{ when {when} }}")
    assert [(d.code, d.span.col) for d in found] == [("CTR116", col)], found


@pytest.mark.parametrize("when", [
    'errorMessage != "requestParameters"',  # free text
    'userAgent == "eventSource"',
    'addendum.updatedFields == "sourceIPAddress"',  # its values are field names
    'any insightDetails.insightContext.attributions (attribute == "userAgent")',
    'eventName == "ConsoleLogin"',  # a key of responseElements, but a real event name
    'requestParameters.field == "eventName"',  # CloudTrail's own selectors name fields
    'eventName contains "eventSource"',  # not an equality
])
def test_values_that_may_legitimately_be_field_names_are_not_reported(when: str) -> None:
    assert [d for d in _schema_findings(f"rule r {{ when {when} }}") if d.code == "CTR116"] == []


# ---- no finding on what the project ships and tests -------------------------------------------


def _rule_texts() -> list[tuple[str, str]]:
    texts: list[tuple[str, str]] = []
    for path in sorted(ROOT.rglob("*.ctr")):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in (".venv", "build") or "broken" in rel.parts:
            continue
        texts.append((str(rel), path.read_text("utf-8")))
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        blocks = re.findall(r"```(?:ctr)?\n(.*?)```", path.read_text("utf-8"), re.S)
        for i, block in enumerate(blocks):
            if re.search(r"^\s*(rule|macro|ignore|route|list)\s", block, re.M) \
                    and "CTR1" not in block:  # diagnostics.md shows findings on purpose
                texts.append((f"{path.relative_to(ROOT)}#{i}", block))
    for path in sorted((ROOT / "tests" / "compliance").glob("*.json")):
        for g, group in enumerate(json.loads(path.read_text("utf-8"))):
            lists = "".join(f"list {name} = {json.dumps(items)}\n"
                            for name, items in group.get("lists", {}).items())
            for c, case in enumerate(group["cases"]):
                texts.append((f"{path.relative_to(ROOT)}#{g}.{c}",
                              f"{lists}rule under_test {{\n    when {case['when']}\n}}\n"))
    return texts


def test_nothing_the_project_ships_or_tests_is_reported() -> None:
    texts = _rule_texts()
    assert len(texts) > 150
    found = [f"{name}: {d.span.line}:{d.span.col} {d.code} {d.message}"
             for name, text in texts for d in _schema_findings(text)]
    assert found == []


@pytest.mark.parametrize("where", ["rules", "tests/checks/valid", "bench/rules",
                                   "deploy/terraform/examples", "tests/consumer/rules"])
def test_rule_sets_checked_as_a_whole_have_no_schema_finding(where: str) -> None:
    _, diagnostics = check_sources(load_sources([ROOT / where]))
    assert [d for d in diagnostics if d.code in SCHEMA_CODES] == []


def test_the_default_pack_stays_warning_free() -> None:
    _, diagnostics = check_sources(load_sources([ROOT / "rules"]))
    assert diagnostics == []


def test_no_real_request_key_would_be_reported_from_the_api_model_alone() -> None:
    """The trust put in the API models, held out against real records: every requestParameters
    key a real record of a modelled event has is one of the model's spellings, or far from all
    of them — so it would not be reported even if the records had not been learned."""
    checked = 0
    for _source, _name, event in schema.known_events():
        if not event.request:
            continue
        model = frozenset().union(*map(schema.spellings, event.request))
        for key in event.seen.get("requestParameters", ()):
            checked += 1
            assert key in model or schema.suggest(key, model) is None, (_source, _name, key)
    assert checked > 250


def test_every_field_of_a_real_record_is_in_the_schema_where_cloudtrail_defines_it() -> None:
    """The closed parts of the layout are complete for the real-log corpora: no field a real
    record has could be reported as a misspelling."""
    unknown: set[str] = set()

    def walk(value: object, ty: schema.FieldType | None, where: str) -> None:
        if ty is None:
            return
        if ty.kind == "arr" and isinstance(value, list):
            for item in value:
                walk(item, ty.elem, where + "[]")
        elif ty.kind == "obj" and isinstance(value, dict) and ty.fields is not None:
            for key, sub in value.items():
                if key in ty.fields:
                    walk(sub, ty.fields[key], f"{where}.{key}")
                elif ty.closed:
                    unknown.add(f"{where}.{key}")

    corpus = ROOT.parent / "shared" / "corpus" / "real"
    records = 0
    for path in sorted(corpus.glob("*.jsonl")):
        for line in path.read_text("utf-8").splitlines():
            records += 1
            walk(json.loads(line), schema.RECORD, "")
    assert records > 2500
    assert unknown == set()


# ---- paths the schema describes are never reported --------------------------------------------

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _write(segment: str | int, first: bool) -> str:
    if isinstance(segment, int):
        return str(segment)
    keyword = first and segment in {"any", "all", "it", "rule", "event", "in", "not", "and", "or"}
    return segment if _PLAIN.match(segment) and not keyword else f"`{segment}`"


@st.composite
def schema_paths(draw: st.DrawFn) -> list[str | int]:
    """A path through the record layout: known fields, array indexes or not."""
    ty: schema.FieldType | None = schema.RECORD
    out: list[str | int] = []
    while ty is not None:
        if ty.kind == "arr":
            if draw(st.booleans()):
                out.append(draw(st.integers(0, 3)))
            ty = ty.elem
            continue
        if ty.kind != "obj" or not ty.fields or (out and draw(st.booleans())):
            break
        name = draw(st.sampled_from(sorted(ty.fields)))
        out.append(name)
        ty = ty.fields[name]
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=schema_paths(), event_prefix=st.booleans())
def test_paths_from_the_schema_are_never_reported(path: list[str | int],
                                                  event_prefix: bool) -> None:
    written = ("event." if event_prefix else "") + ".".join(
        _write(s, i == 0) for i, s in enumerate(path))
    text = (f'rule r {{\n    summary "{{{written}}}"\n    group_by [{written}]\n'
            f'    when {written} exists and {written} != null\n}}\n')
    assert _schema_findings(text) == []


@functools.cache
def _trusted_events() -> list[tuple[str, str, tuple[str, ...]]]:
    return sorted((source, name, event.request) for source, name, event in schema.known_events()
                  if event.request)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_request_keys_from_the_api_models_are_never_reported(data: st.DataObject) -> None:
    source, name, members = data.draw(st.sampled_from(_trusted_events()))
    key = data.draw(st.sampled_from(sorted(set().union(*map(schema.spellings, members)))))
    text = (f'rule r {{ when eventSource == "{source}" and eventName == "{name}"'
            f" and requestParameters.`{key}` exists }}")
    assert _schema_findings(text) == []


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_a_swapped_pair_of_letters_in_a_field_name_is_reported(data: st.DataObject) -> None:
    assert schema.RECORD.fields is not None
    name = data.draw(st.sampled_from(sorted(n for n in schema.RECORD.fields if len(n) >= 6)))
    i = data.draw(st.integers(0, len(name) - 2))
    typo = name[:i] + name[i + 1] + name[i] + name[i + 2:]
    if typo == name or typo in schema.RECORD.fields:
        return
    found = _schema_findings(f"rule r {{ when {typo} exists }}")
    assert [(d.code, d.span.col) for d in found] == [("CTR114", 15)]


# ---- the schema module and its data ------------------------------------------------------------


def test_the_shipped_schema_is_what_the_build_script_writes() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import build_schema
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    shipped = (ROOT / "ctrules" / "data" / "schema.json").read_text("utf-8")
    assert build_schema.render(build_schema.build()) == shipped, (
        "ctrules/data/schema.json is stale: run scripts/build_schema.py")


def test_the_schema_layout() -> None:
    assert {"eventName", "userIdentity", "requestParameters", "tlsDetails", "resources",
            "eventContext"} <= schema.TOP_LEVEL_FIELDS
    assert schema.field_type("userIdentity.sessionContext.sessionIssuer.arn") == "string"
    assert schema.field_type("userIdentity.onBehalfOf.identityStoreArn") == "string"
    assert schema.field_type("readOnly") == "boolean"
    assert schema.field_type(("resources", 0, "type")) == "string"
    assert schema.field_type("insightDetails.insightContext.statistics.baseline.average") == \
        "number"
    assert schema.field_type("requestParameters") == "object"
    assert schema.field_type("requestParameters.bucketName") is None
    user = (schema.RECORD.fields or {})["userIdentity"]
    assert user.closed and not (schema.RECORD.fields or {})["requestParameters"].closed


def test_spellings_and_suggestions() -> None:
    assert schema.spellings("UserName") == {"UserName", "userName"}
    assert schema.spellings("ARN") == {"ARN", "aRN", "arn"}
    assert schema.spellings("DBInstanceIdentifier") >= {"dBInstanceIdentifier",
                                                        "dbInstanceIdentifier"}
    keys = frozenset({"UserName", "userName", "Path", "path"})
    assert schema.suggest("username", keys, prefer=frozenset({"userName"})) == "userName"
    assert schema.suggest("usrName", keys, prefer=frozenset({"userName"})) == "userName"
    assert schema.suggest("eventNmae", schema.TOP_LEVEL_FIELDS) == "eventName"
    assert schema.suggest("eventNmae", schema.TOP_LEVEL_FIELDS, fuzzy=False) is None
    assert schema.suggest("tags", schema.TOP_LEVEL_FIELDS) is None
    assert schema.suggest("arn", frozenset({"ARN", "type"})) == "ARN"


def test_a_macro_used_twice_in_each_of_a_chain_is_walked_once_per_context(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """m1 = m0 and (m0 or ...), m2 = m1 and (m1 or ...), ...: 2^60 expansions if each use were
    walked; the lint walks each macro once per context and still reports the typo in m0."""
    from ctrules.checks import schema_lint as checks_schema
    from ctrules.parser import parse

    lines = ['macro m0 = eventName == "StopLogging" and requestParameters.nmae exists']
    lines += [f"macro m{i} = m{i - 1} and (m{i - 1} or userIdentity.arn exists)"
              for i in range(1, 60)]
    lines.append("rule r { when m59 }")
    rule_file = parse("\n".join(lines), "chain.ctr").file
    calls = 0
    real = checks_schema._check_path

    def counting(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        if calls > 1000:
            raise AssertionError("macro uses are expanded again and again")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(checks_schema, "_check_path", counting)
    found = checks_schema.schema_findings([rule_file])
    assert [(d.code, d.span.line) for d in found] == [("CTR114", 1)]
