"""The CloudTrail catalog (ctrules/data/catalog.json) and the CTR107/CTR108 lint built on it."""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import botocore
import pytest

from ctrules import catalog, cli, schema
from ctrules.checks_cloudtrail import cloudtrail_findings
from ctrules.parser import parse

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import build_catalog  # noqa: E402


def test_catalog_is_current_for_the_installed_botocore() -> None:
    shipped = (ROOT / "ctrules" / "data" / "catalog.json").read_text("utf-8")
    assert build_catalog.render(build_catalog.build()) == shipped, (
        "ctrules/data/catalog.json is stale: run scripts/build_catalog.py")
    assert catalog.load().botocore_version == botocore.__version__


@pytest.mark.parametrize("source, name", [
    ("cloudtrail.amazonaws.com", "StopLogging"),
    ("signin.amazonaws.com", "ConsoleLogin"),
    ("signin.amazonaws.com", "CheckMfa"),
    ("signin.amazonaws.com", "SwitchRole"),
    ("signin.amazonaws.com", "GetSigninToken"),
    ("signin.amazonaws.com", "ExitRole"),
    ("signin.amazonaws.com", "RenewRole"),
    ("signin.amazonaws.com", "CredentialChallenge"),
    ("signin.amazonaws.com", "CredentialVerification"),
    ("signin.amazonaws.com", "UserAuthentication"),
    ("lambda.amazonaws.com", "UpdateFunctionCode20150331v2"),
    ("lambda.amazonaws.com", "UpdateFunctionConfiguration20150331v2"),
    ("lambda.amazonaws.com", "PutFunctionConcurrency20171031"),
    ("lambda.amazonaws.com", "CreateFunction20150331"),
    ("ec2-instance-connect.amazonaws.com", "SendSSHPublicKey"),
    ("s3.amazonaws.com", "PutBucketPublicAccessBlock"),
    ("s3.amazonaws.com", "ListAccessPoints"),  # an S3 Control operation, logged as s3
    ("ecr.amazonaws.com", "GetAuthorizationToken"),  # endpointPrefix api.ecr
    ("ses.amazonaws.com", "SendEmail"),  # endpointPrefix email
    ("sso.amazonaws.com", "GetRoleCredentials"),  # endpointPrefix portal.sso
    ("iam.amazonaws.com", "CreateUser"),
])
def test_known_pairs(source: str, name: str) -> None:
    assert catalog.load().emits(source, name) is True


def test_every_record_of_the_real_corpus_is_in_the_catalog() -> None:
    cat = catalog.load()
    missing = set()
    for path in sorted((ROOT / "tests" / "rules" / "corpus").glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                record = json.loads(line)
                source, name = record.get("eventSource"), record.get("eventName")
                if source is not None and not cat.emits(source, name):
                    missing.add((source, name))
    assert not missing


def test_unknown_source_and_field_types() -> None:
    cat = catalog.load()
    assert cat.emits("cloudtrial.amazonaws.com", "StopLogging") is None
    assert schema.field_type("readOnly") == "boolean"
    assert schema.field_type("managementEvent") == "boolean"
    assert schema.field_type("userIdentity.sessionContext.attributes.mfaAuthenticated") == "string"
    assert schema.field_type("sessionCredentialFromConsole") == "string"
    assert schema.field_type("resources.0.ARN") == "string"
    assert schema.field_type(("resources", 0, "ARN")) == "string"
    assert schema.field_type("resources") == "array"
    assert schema.field_type("resources.0") is None
    assert schema.field_type("requestParameters.bucketName") is None
    assert catalog.suggest_event_name("StopLoging") == "StopLogging"
    assert catalog.suggest_event_name("stoplogging") == "StopLogging"
    assert catalog.suggest_event_name("Xyzzyplugh") is None


def _findings(text: str) -> list[tuple[str, int, str]]:
    result = parse(text, "t.ctr")
    return [(d.code, d.span.line, d.message) for d in cloudtrail_findings([result.file])]


def test_ctr107_unknown_event_name_with_suggestion() -> None:
    found = _findings('rule r {\n  when eventName == "StopLoging"\n}\n')
    assert found == [("CTR107", 2, "no AWS service emits eventName 'StopLoging'; "
                                   "did you mean StopLogging?")]


def test_ctr107_in_lists_macros_and_startswith() -> None:
    text = (
        'list names = ["DeleteTrail",\n "DeleteTrial2"]\n'
        'macro m = event.eventName in names\n'
        'rule r { when m and eventName startswith "Xyzzy" }\n'
        'rule s { when eventSource == "cloudtrial.amazonaws.com" }\n'
    )
    found = _findings(text)
    assert [(c, line) for c, line, _ in found] == [("CTR107", 2), ("CTR107", 4), ("CTR107", 5)]
    assert "did you mean cloudtrail.amazonaws.com?" in found[2][2]
    assert "starts with 'Xyzzy'" in found[1][2]


def test_ctr107_ignores_paths_inside_any() -> None:
    # Inside `any`, a bare `eventName` is a field of the element, not the record's eventName.
    assert _findings('rule r { when any resources (eventName == "nope") }') == []
    assert [c for c, _, _ in _findings('rule r { when any resources (event.eventName == "nope") }')] \
        == ["CTR107"]


def test_ctr108_event_name_from_another_source() -> None:
    text = (
        'macro ct = eventSource == "cloudtrail.amazonaws.com"\n'
        'rule r {\n  when ct\n   and eventName in ["StopLogging", "GetObject"]\n}\n'
        'rule ok { when eventSource in ["s3.amazonaws.com", "cloudtrail.amazonaws.com"] '
        'and eventName in ["StopLogging", "GetObject"] }\n'
        'rule branches { when (eventSource == "s3.amazonaws.com" and eventName == "GetObject")'
        ' or (eventSource == "kms.amazonaws.com" and eventName == "Decrypt") }\n'
        'rule bad_branch { when (eventSource == "s3.amazonaws.com" and eventName == "Decrypt")'
        ' or eventName == "GetObject" }\n'
    )
    found = _findings(text)
    assert [(c, line) for c, line, _ in found] == [("CTR108", 4), ("CTR108", 8)]
    assert "rule r requires eventSource cloudtrail.amazonaws.com" in found[0][2]
    assert "'GetObject'" in found[0][2] and "s3.amazonaws.com" in found[0][2]
    assert "rule bad_branch" in found[1][2] and "kms.amazonaws.com" in found[1][2]


def test_ctr108_not_reported_for_unknown_sources() -> None:
    assert [c for c, _, _ in _findings(
        'rule r { when eventSource == "custom.example.com" and eventName == "StopLogging" }')] \
        == ["CTR107"]


def test_findings_reach_ctrules_check(tmp_path: Path) -> None:
    path = tmp_path / "typo.ctr"
    path.write_text('rule r {\n  when eventSource == "cloudtrail.amazonaws.com"\n'
                    '   and eventName == "StopLoging"\n}\n')
    findings, _ = cli.check_paths([path])
    assert "CTR107" in {d.code for d in findings}
    assert all(not d.is_error for d in findings if d.code in ("CTR107", "CTR108"))
