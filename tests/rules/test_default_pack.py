"""The default rule pack (rules/*.ctr) and its parity set (rules/compat/): valid, tested,
documented, realistic, covering what the mission names, and inside the noise budget."""

from __future__ import annotations

import gzip
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

import ctrules
from ctrules import catalog, cli
from ctrules import nodes as n
from ctrules.parser import parse
from ctrules.ruleset import default_rule_files

ROOT = Path(__file__).resolve().parent.parent.parent
RULES = ROOT / "rules"
DOC = ROOT / "docs" / "default-rules.md"
PACK_FILES = sorted(RULES.glob("*.ctr"))
ATTACK_TAG = re.compile(r"^attack\.t\d{4}(\.\d{3})?$")


def _decls() -> list[tuple[Path, n.Decl]]:
    out = []
    for path in PACK_FILES:
        for decl in parse(path.read_text(), str(path)).file.decls:
            out.append((path, decl))
    return out


def _rules() -> list[n.RuleDecl]:
    return [d for _, d in _decls() if isinstance(d, n.RuleDecl)]


@pytest.fixture(scope="module")
def pack() -> ctrules.RuleSet:
    return ctrules.load_rules(PACK_FILES)


def test_shipped_pack_is_the_top_level_files() -> None:
    assert [p.name for p in default_rule_files()] == [p.name for p in PACK_FILES]
    assert {p.name for p in PACK_FILES} >= {"identity.ctr", "logging.ctr", "network.ctr",
                                            "storage.ctr", "keys.ctr", "errors.ctr"}


def test_check_is_clean_with_no_warnings() -> None:
    findings, _ = cli.check_paths([RULES])  # the pack and rules/compat together
    assert [f"{d.span}: {d.code} {d.message}" for d in findings] == []


def test_every_example_passes() -> None:
    rs = ctrules.load_rules(RULES)
    results = rs.run_examples()
    assert results and all(r.passed for r in results), [r for r in results if not r.passed]


def test_files_are_canonically_formatted() -> None:
    assert cli.main(["fmt", "--check", str(RULES)]) == 0


def test_ctrules_test_cli_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["test", str(RULES)]) == 0
    out = capsys.readouterr()
    assert re.search(r"\b\d+ passed, 0 failed", out.out + out.err)


@pytest.mark.parametrize("rule", _rules(), ids=lambda r: r.name)
def test_rule_quality_bar(rule: n.RuleDecl) -> None:
    assert rule.severity_given, "severity is a deliberate choice"
    assert rule.description and len(rule.description.value) > 30
    assert rule.summary and "{" in rule.summary.value
    assert rule.tags, "tags"
    assert all(t == t.lower() for t in rule.tags)
    for tag in rule.tags:
        if tag.startswith("attack."):
            assert ATTACK_TAG.match(tag), tag
    verdicts = {e.expect_match for e in rule.examples}
    assert verdicts == {True, False}, "at least one match and one no match example"


def _typed_fields(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    out = []
    if isinstance(value, dict):
        for key, v in value.items():
            path = f"{prefix}.{key}" if prefix else key
            out.append((path, v))
            out.extend(_typed_fields(v, path))
    elif isinstance(value, list):
        for v in value:
            out.extend(_typed_fields(v, prefix))
    return out


_JSON_TYPE = {str: "string", bool: "boolean", int: "number", float: "number", dict: "object",
              list: "array"}


@pytest.mark.parametrize("rule", _rules(), ids=lambda r: r.name)
def test_examples_are_correctly_typed_cloudtrail_records(rule: n.RuleDecl) -> None:
    """readOnly true, not "true"; mfaAuthenticated "false", not false; known sources and names."""
    for example in rule.examples:
        records = example.event if isinstance(example.event, list) else [example.event]
        for record in records:
            for path, value in _typed_fields(record):
                want = catalog.field_type(path)
                if want is None or value is None:
                    continue
                assert _JSON_TYPE[type(value)] == want, (example.name, path, value)
            source, name = record.get("eventSource"), record.get("eventName")
            assert isinstance(source, str) and isinstance(name, str), example.name
            assert catalog.load().emits(source, name), (example.name, source, name)


def test_successful_versus_failed_is_deliberate(pack: ctrules.RuleSet) -> None:
    """Change rules stay quiet on a failed call (it changed nothing; access_denied reports the
    attempt). Alerting on failure is deliberate for the failure rules, root_activity and
    organization_leave_attempted;
    sign-in rules read success from responseElements.ConsoleLogin, not errorCode."""
    exempt = {"access_denied", "console_login_failed", "cloudtrail_tampering_failed",
              "root_activity", "organization_leave_attempted", "root_console_login",
              "console_login_without_mfa"}
    checked = 0
    for rule in _rules():
        if rule.name in exempt or rule.stateful is not None:  # stateful: tests/stateful
            continue
        match = next(e for e in rule.examples if e.expect_match)
        failed = dict(match.event, errorCode="AccessDenied", errorMessage="not authorized")
        assert rule.name not in [a.rule for a in pack.evaluate(failed)], rule.name
        checked += 1
    assert checked >= 30


def _event(source: str, name: str, **extra: Any) -> dict[str, Any]:
    record = {
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE",
                         "arn": "arn:aws:iam::111122223333:user/someone",
                         "accountId": "111122223333", "userName": "someone"},
        "eventTime": "2026-11-02T12:00:00Z", "eventSource": source, "eventName": name,
        "awsRegion": "us-east-1", "sourceIPAddress": "192.0.2.1", "userAgent": "aws-cli/2.15.0",
        "requestParameters": {}, "responseElements": None, "readOnly": False,
        "eventType": "AwsApiCall", "managementEvent": True, "recipientAccountId": "111122223333",
    }
    record.update(extra)
    return record


# What the mission names (issue 3): each event must raise an alert from the pack.
COVERAGE = [
    ("iam.amazonaws.com", n_) for n_ in (
        "CreateUser", "CreateRole", "UpdateAssumeRolePolicy", "AddUserToGroup", "CreatePolicy",
        "CreatePolicyVersion", "AttachRolePolicy", "PutUserPolicy", "DetachUserPolicy",
        "CreateAccessKey", "CreateLoginProfile", "UpdateLoginProfile", "DeactivateMFADevice",
        "DeleteVirtualMFADevice", "EnableMFADevice", "CreateSAMLProvider", "UpdateSAMLProvider",
        "CreateOpenIDConnectProvider", "DeleteOpenIDConnectProvider")
] + [
    ("ec2.amazonaws.com", n_) for n_ in (
        "AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress", "CreateNetworkAclEntry",
        "ReplaceNetworkAclEntry", "DeleteNetworkAclEntry", "CreateRoute", "ReplaceRoute",
        "AssociateRouteTable", "CreateInternetGateway", "AttachInternetGateway",
        "CreateNatGateway", "CreateVpcPeeringConnection", "AcceptVpcPeeringConnection",
        "DeleteFlowLogs", "DisableEbsEncryptionByDefault")
] + [
    ("s3.amazonaws.com", n_) for n_ in (
        "PutBucketPolicy", "DeleteBucketPolicy", "PutBucketAcl", "DeleteBucketPublicAccessBlock",
        "PutBucketEncryption", "DeleteBucketEncryption", "PutBucketReplication",
        "PutBucketLogging")
] + [
    ("kms.amazonaws.com", "DisableKey"), ("kms.amazonaws.com", "ScheduleKeyDeletion"),
    ("kms.amazonaws.com", "PutKeyPolicy"), ("kms.amazonaws.com", "DeleteImportedKeyMaterial"),
    ("cloudtrail.amazonaws.com", "StopLogging"), ("cloudtrail.amazonaws.com", "DeleteTrail"),
    ("cloudtrail.amazonaws.com", "UpdateTrail"), ("cloudtrail.amazonaws.com", "PutEventSelectors"),
    ("config.amazonaws.com", "StopConfigurationRecorder"),
    ("config.amazonaws.com", "DeleteConfigurationRecorder"),
    ("config.amazonaws.com", "DeleteDeliveryChannel"), ("config.amazonaws.com", "DeleteConfigRule"),
    ("guardduty.amazonaws.com", "DeleteDetector"),
    ("guardduty.amazonaws.com", "DisassociateFromAdministratorAccount"),
    ("guardduty.amazonaws.com", "CreateIPSet"),
    ("securityhub.amazonaws.com", "DisableSecurityHub"),
    ("securityhub.amazonaws.com", "BatchDisableStandards"),
    ("ec2-instance-connect.amazonaws.com", "SendSSHPublicKey"),
    ("logs.amazonaws.com", "DeleteLogGroup"),
]


@pytest.mark.parametrize("source, name", COVERAGE, ids=lambda x: str(x))
def test_coverage(pack: ctrules.RuleSet, source: str, name: str) -> None:
    assert catalog.load().emits(source, name), "a real event name"
    assert pack.evaluate(_event(source, name)), f"no default rule fires on {name}"
    failed = _event(source, name, errorCode="AccessDenied", errorMessage="not authorized")
    assert {a.rule for a in pack.evaluate(failed)} <= {"access_denied",
                                                      "cloudtrail_tampering_failed"}


@pytest.mark.parametrize("event, rule", [
    (_event("s3.amazonaws.com", "PutBucketPublicAccessBlock", requestParameters={
        "bucketName": "b", "PublicAccessBlockConfiguration": {
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
            "RestrictPublicBuckets": False}}), "s3_public_access_block_removed"),
    (_event("ec2.amazonaws.com", "ModifySnapshotAttribute", requestParameters={
        "snapshotId": "snap-1", "createVolumePermission": {"add": {"items": [{"group": "all"}]}},
        "attributeType": "CREATE_VOLUME_PERMISSION"}), "ebs_snapshot_shared"),
    (_event("rds.amazonaws.com", "ModifyDBClusterSnapshotAttribute", requestParameters={
        "dBClusterSnapshotIdentifier": "c", "attributeName": "restore", "valuesToAdd": ["all"]}),
     "rds_snapshot_shared"),
    (_event("guardduty.amazonaws.com", "UpdateDetector",
            requestParameters={"detectorId": "d", "enable": False}), "guardduty_disabled"),
    (_event("ec2.amazonaws.com", "ModifySecurityGroupRules", requestParameters={
        "ModifySecurityGroupRulesRequest": {"GroupId": "sg-1", "SecurityGroupRule": {
            "tag": 1, "SecurityGroupRuleId": "sgr-1", "SecurityGroupRule": {
                "IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389, "CidrIpv4": "0.0.0.0/0"}}}}),
     "security_group_opened_to_internet"),
    (_event("lambda.amazonaws.com", "DeleteFunction20150331",
            requestParameters={"functionName": "ctrules"}), "alerting_lambda_tampered"),
    (_event("iam.amazonaws.com", "AttachGroupPolicy", requestParameters={
        "groupName": "devs", "policyArn": "arn:aws:iam::aws:policy/IAMFullAccess"}),
     "iam_admin_policy_attached"),
])
def test_specific_detections(pack: ctrules.RuleSet, event: dict[str, Any], rule: str) -> None:
    assert rule in [a.rule for a in pack.evaluate(event)]


def test_anonymous_s3_scanning_is_quiet(pack: ctrules.RuleSet) -> None:
    probe = _event("s3.amazonaws.com", "GetObject", readOnly=True, errorCode="AccessDenied",
                   errorMessage="Access Denied",
                   userIdentity={"type": "AWSAccount", "principalId": "",
                                 "accountId": "ANONYMOUS_PRINCIPAL"},
                   requestParameters={"bucketName": "b", "key": "backup.sql"})
    assert pack.evaluate(probe) == []


def test_sso_console_login_is_not_a_missing_mfa(pack: ctrules.RuleSet) -> None:
    login = _event("signin.amazonaws.com", "ConsoleLogin", eventType="AwsConsoleSignIn",
                   responseElements={"ConsoleLogin": "Success"},
                   additionalEventData={"MFAUsed": "No"},
                   userIdentity={"type": "AssumedRole", "accountId": "111122223333",
                                 "arn": "arn:aws:sts::111122223333:assumed-role/"
                                        "AWSReservedSSO_Admin_0123456789abcdef/a@example.com"})
    assert pack.evaluate(login) == []


def test_sample_log_fires_default_rules(tmp_path: Path) -> None:
    from ctrules.sources.logfile import iter_records

    data = (RULES / "samples" / "sample.json.gz").read_bytes()
    records = [r for r in iter_records(data, "sample.json.gz") if isinstance(r, dict)]
    assert 50 <= len(records) <= 200
    with gzip.open(RULES / "samples" / "sample.json.gz", "rt") as fh:
        assert len(json.load(fh)["Records"]) == len(records)
    rs = ctrules.load_default_rules()
    fired = {a.rule for r in records for a in rs.evaluate(r)}
    assert {"iam_admin_policy_attached", "cloudtrail_logging_stopped", "access_denied",
            "console_login_without_mfa", "rds_snapshot_shared"} <= fired
    assert sum(1 for r in records if not rs.evaluate(r)) >= 20  # and some quiet traffic


# ---- the noise budget -----------------------------------------------------------------------

sys.path.insert(0, str(ROOT / "scripts"))
import noise_table  # noqa: E402

# Rules allowed above 1% of the corpus, each justified in docs/default-rules.md.
JUSTIFIED = {"access_denied", "route_table_changed"}


def _doc_table(heading: str) -> dict[str, tuple[str, int, int]]:
    text = DOC.read_text()
    section = text.split(heading, 1)[1]
    rows = {}
    for line in section.splitlines()[1:]:
        if line.startswith("#"):
            break
        m = re.match(r"\| `(\w+)` \| (\w+) \| (\d+) \| [\d.]+% \| (\d+) \|", line)
        if m:
            rows[m.group(1)] = (m.group(2), int(m.group(3)), int(m.group(4)))
    return rows


def test_noise_budget_and_documented_table() -> None:
    total, _, rows = noise_table.noise_rows()
    assert total == 2922
    documented = _doc_table("### Noise: the default pack")
    for name, severity, count, groups in rows:
        assert documented.get(name) == (severity, count, groups), f"docs table stale for {name}"
        if count > total / 100:
            assert name in JUSTIFIED, f"{name} fires on {count}/{total} records"
            assert f"`{name}`" in DOC.read_text().split("### Why some rules are above 1%")[1]
    assert len(documented) == len(rows)


def test_every_rule_is_in_the_rule_list() -> None:
    text = DOC.read_text()
    for rule in _rules():
        assert f"| `{rule.name}` | {rule.severity} |" in text, rule.name
