"""Deployment — the deployment and migration guides do what they say.

docs/deploy.md and docs/migrating.md are read by people who will paste their commands: the test
event goes through the real Lambda handler, the documented CI workflow steps and the documented
`ctrules convert` command run as written, every module input is in the reference table, and every
Terraform snippet uses inputs the module declares.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml

from .tf import EXAMPLES, MODULE, ROOT, blocks

DEPLOY = ROOT / "docs" / "deploy.md"
MIGRATING = ROOT / "docs" / "migrating.md"
VARIABLES = {name for _, name, _ in blocks(MODULE, "variable")}
OUTPUTS = {name for _, name, _ in blocks(MODULE, "output")}
BIN = Path(sys.executable).parent


def _section(path: Path, heading: str) -> str:
    text = path.read_text(encoding="utf-8")
    start = text.index(heading)
    following = re.search(r"\n## ", text[start + len(heading) :])
    return text[start : start + len(heading) + following.start()] if following else text[start:]


def _code_blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, re.S)


def _shell_env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "RUNNER_TEMP": str(tmp_path / "runner-temp"),
    }


# --- docs/deploy.md ----------------------------------------------------------------------------


def test_every_module_input_and_output_is_in_the_reference() -> None:
    text = DEPLOY.read_text(encoding="utf-8")
    table = _section(DEPLOY, "## Inputs")
    documented = set(re.findall(r"^\| `([a-z0-9_]+)` \|", table, re.M))
    assert documented == VARIABLES
    for name in OUTPUTS:
        assert f"`{name}`" in text, f"output {name}"


def test_the_test_event_raises_the_documented_alert(monkeypatch: pytest.MonkeyPatch) -> None:
    from ctrules.aws.handler import handle
    from ctrules.aws.runtime import Runtime

    (block,) = _code_blocks(_section(DEPLOY, "## 5. Send a test event"), "json")
    event = json.loads(block)
    # boto3 clients are created (not used) for an EventBridge event; they need a region.
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    runtime = Runtime.build({"CTRULES_RULES": "default", "CTRULES_METRICS_NAMESPACE": ""})
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = handle(runtime, event)
    assert result is None  # what `aws lambda invoke` writes to out.json: null
    alerts = [json.loads(line) for line in out.getvalue().splitlines() if '"rule"' in line]
    assert [a["rule"] for a in alerts] == ["console_login_without_mfa"]
    summary = alerts[0]["summary"]
    assert "arn:aws:iam::111122223333:user/ctrules-deploy-test" in summary
    documented = re.sub(r"\s+", " ", _section(DEPLOY, "## 5. Send a test event"))
    assert "Console login without MFA by arn:aws:iam::111122223333:user/ctrules-deploy-test" in (
        documented.replace("* ", "*")
    ), "the guide quotes the message the test event produces"
    assert summary.startswith("Console login without MFA by")


def _module_calls(text: str) -> list[dict[str, Any]]:
    calls = []
    for block in _code_blocks(text, "hcl"):
        parsed = hcl2.loads(
            block,
            serialization_options=hcl2.SerializationOptions(
                strip_string_quotes=True, with_comments=False, explicit_blocks=False
            ),
        )
        for entry in parsed.get("module", []):
            for name, body in entry.items():
                if name == "ctrules":
                    calls.append(body)
    return calls


@pytest.mark.parametrize("path", [DEPLOY, MIGRATING], ids=lambda p: p.name)
def test_documented_module_blocks_use_declared_inputs(path: Path) -> None:
    calls = _module_calls(path.read_text(encoding="utf-8"))
    assert calls, f"{path.name} shows the module block"
    for call in calls:
        # No release tag exists: the guides pin a commit the reader chooses.
        assert call["source"].endswith("deploy/terraform?ref=<commit>")
        given = set(call) - {"source", "version", "providers"}
        assert given <= VARIABLES
        assert given & {"lambda_zip_path", "build_lambda_package"}


# --- docs/migrating.md -------------------------------------------------------------------------


def _workflow() -> dict[str, Any]:
    blocks = _code_blocks(_section(MIGRATING, "## 3. Check and test"), "yaml")
    (block,) = [b for b in blocks if "jobs:" in b]
    return yaml.safe_load(block)


def test_pre_commit_snippet_names_the_hooks_this_repository_defines() -> None:
    blocks = _code_blocks(_section(MIGRATING, "## 3. Check and test"), "yaml")
    (block,) = [b for b in blocks if "repos:" in b]
    (repo,) = yaml.safe_load(block)["repos"]
    defined = {h["id"] for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert {h["id"] for h in repo["hooks"]} == defined


def test_workflow_snippet_is_a_valid_github_workflow() -> None:
    workflow = _workflow()
    steps = workflow["jobs"]["rules"]["steps"]
    assert workflow["jobs"]["rules"]["runs-on"] == "ubuntu-latest"
    runs = " ".join(step.get("run", "") for step in steps)
    assert "ctrules check --format github rules/" in runs
    assert "ctrules test rules/" in runs


def test_workflow_steps_pass_on_a_good_rules_directory(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLES / "organization-trail" / "rules", tmp_path / "rules")
    (tmp_path / "runner-temp").mkdir()
    for step in _workflow()["jobs"]["rules"]["steps"]:
        script = step.get("run")
        if not script or "pip install" in script:
            continue  # installing from the network is not this test's business
        proc = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=tmp_path,
            env=_shell_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, f"{step['name']}: {proc.stdout}{proc.stderr}"


def test_workflow_fails_and_annotates_a_broken_rule(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "broken.ctr").write_text(
        'rule broken {\n    when eventName == "X" and\n}\n', encoding="utf-8"
    )
    check = next(
        s["run"]
        for s in _workflow()["jobs"]["rules"]["steps"]
        if s.get("run", "").startswith("ctrules check")
    )
    proc = subprocess.run(
        ["bash", "-c", check],
        cwd=tmp_path,
        env=_shell_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert "::error file=rules/broken.ctr" in proc.stdout


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed")
def test_documented_convert_command_runs(tmp_path: Path) -> None:
    (block,) = [
        b
        for b in _code_blocks(_section(MIGRATING, "## 1. Convert the rules"), "sh")
        if "ctrules convert" in b
    ]
    # The whole block, verbatim: a stand-in `aws` prints the old function's environment as
    # `get-function-configuration --query Environment.Variables --output json` does; `jq` is real.
    old_env = {
        "RULES": "event['eventName'] == 'CreateUser'"
        "|event['userIdentity.type'] == 'Root' and event['eventType'] == 'AwsApiCall'",
        "IGNORE_RULES": "event['userIdentity.userName'] == 'ci-terraform'",
        "EVENTS_TO_TRACK": ",".join(f"Tracked{i:02d}LongEventName" for i in range(30)),
        "RULES_SEPARATOR": "|",
        "USE_DEFAULT_RULES": "false",
        "HOOK_URL": "https://hooks.slack.com/services/T0/B0/secret",
    }
    fake_bin = tmp_path / "fake-bin"
    fake_bin.mkdir()
    (fake_bin / "old-env.json").write_text(json.dumps(old_env), encoding="utf-8")
    aws = fake_bin / "aws"
    aws.write_text(f"#!/bin/sh\ncat '{fake_bin / 'old-env.json'}'\n", encoding="utf-8")
    aws.chmod(0o755)
    env = _shell_env(tmp_path)
    env["PATH"] = f"{fake_bin}{os.pathsep}{env['PATH']}"
    proc = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "old-env.json").exists()  # the webhook URL is not left behind
    converted = (tmp_path / "rules" / "converted.ctr").read_text(encoding="utf-8")
    # Two rules split on the old separator, the tracked events, no old defaults ("false").
    assert converted.count("\nrule ") + converted.startswith("rule ") == 3
    assert "Tracked29LongEventName" in converted and "fivexl_" not in converted
    assert "\nignore " in converted
    import ctrules

    assert [d for d in ctrules.check(tmp_path / "rules") if d.is_error] == []


def test_old_variables_table_names_real_inputs() -> None:
    table = _section(MIGRATING, "### Variable by variable")
    new_names = set()
    for row in re.findall(r"^\| (.*?) \| (.*?) \|", table, re.M)[2:]:
        new_names |= set(re.findall(r"`([a-z0-9_]+)`", row[1]))
    assert new_names, "the table maps old inputs to new ones"
    assert new_names - VARIABLES - {"slack_hook_url_param_name", "slack_channel_id"} == set()


def test_migration_moved_blocks_name_resources_the_module_declares() -> None:
    # Static twin of tests/deploy/test_terraform_migration.py (which needs terraform and a
    # provider mirror): every `moved` target is a counted resource of the module, addressed [0];
    # both layouts of the old notification (before 4.4.0 without, from 4.4.0 with an index) and
    # the fan-out topic are covered.
    from .tf import typed_blocks

    declared = {
        f"{rtype}.{name}": body for _, rtype, name, body in typed_blocks(MODULE, "resource")
    }
    step4 = _section(MIGRATING, "## 4. Swap the module block")
    moved_from, removed = [], []
    for block in _code_blocks(step4, "hcl"):
        if "moved {" not in block and "removed {" not in block:
            continue
        parsed = hcl2.loads(block, serialization_options=hcl2.SerializationOptions(
            strip_string_quotes=True, with_comments=False, explicit_blocks=False))
        for moved in parsed.get("moved", []):
            target = moved["to"].removeprefix("${").removesuffix("}")
            module, resource = target.split(".", 2)[1], target.split(".", 2)[2]
            assert module == "ctrules" and resource.endswith("[0]"), target
            body = declared[resource.removesuffix("[0]")]
            assert "count" in body, f"{resource} is counted, so [0]"
            moved_from.append(moved["from"].removeprefix("${").removesuffix("}"))
        removed += [r["from"] for r in parsed.get("removed", [])]
    old = "module.cloudtrail_to_slack."
    assert set(moved_from) == {
        old + "aws_s3_bucket_notification.bucket_notification",
        old + "aws_s3_bucket_notification.bucket_notification[0]",
        old + "aws_sns_topic.s3_notifications[0]",
        old + "aws_sns_topic_policy.s3_notifications[0]",
    }
    assert [r.removeprefix("${").removesuffix("}") for r in removed] == [
        old + "aws_s3_bucket_notification.bucket_notification"
    ]
