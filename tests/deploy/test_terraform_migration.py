"""Deployment — docs/migrating.md's step 4, planned with the real `terraform` binary.

The old module's layouts (fivexl/terraform-aws-cloudtrail-to-slack 4.2: the bucket notification
without `count`; 4.5: with `count`, optionally with its fan-out SNS topic and the bucket's
EventBridge flag) are applied by a stand-in module holding the same resource addresses, against a
moto server on loopback. The root module is then rewritten the way the guide says — its `module
"ctrules"` block, `moved` / `removed` blocks and extra lines taken verbatim from the document,
only `source` pointed at this checkout — and `terraform plan` must update the notification and
keep the topic: no destroy. A plan with the wrong `moved` address must show the destroy (the race
the guide warns about), so the check can fail.

Needs `terraform` on PATH and a provider mirror holding hashicorp/aws (found as tfrun.py says:
CTRULES_TF_PLUGIN_DIR, the CLI configuration's mirrors, Terraform's local mirror directories,
/opt/tf-plugins); otherwise the tests are skipped with the reason. Nothing leaves the machine.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.support.moto_server import aws_client, moto_server, unique  # noqa: F401

from . import tfrun

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "deploy" / "terraform"
MIGRATING = ROOT / "docs" / "migrating.md"
OLD_FUNCTION = "fivexl-cloudtrail-to-slack"
OLD_TOPIC = f"{OLD_FUNCTION}-s3-notifications"


# --- the guide's snippets --------------------------------------------------------------------


def _step4() -> str:
    text = MIGRATING.read_text(encoding="utf-8")
    start = text.index("## 4. Swap the module block")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def _snippet(marker: str) -> str:
    blocks = [b for b in re.findall(r"```hcl\n(.*?)```", _step4(), re.S) if marker in b]
    assert len(blocks) == 1, f"exactly one hcl block of step 4 contains {marker!r}"
    return blocks[0]


def _module_block(root: Path, extra_lines: str = "") -> str:
    block = _snippet('module "ctrules"')
    # Relative, so Terraform uses the checkout in place (an absolute path is copied without the
    # repository around it, like a git source's subdirectory would not be).
    source = Path(os.path.relpath(MODULE, root)).as_posix()
    block, n = re.subn(r'(?m)^(\s*source\s*=\s*)".*"', rf'\1"{source}"', block)
    assert n == 1
    # The guide's extra lines go inside the block, before its closing brace.
    closing = block.rstrip().rfind("}")
    return block[:closing] + extra_lines + block[closing:]


# --- the old module's layouts ----------------------------------------------------------------

_OLD_VARIABLES = """
variable "bucket" { type = string }
variable "old_lambda_arn" { type = string }
"""

_OLD_42 = """
resource "aws_s3_bucket_notification" "bucket_notification" {
  bucket = var.bucket
  lambda_function {
    lambda_function_arn = var.old_lambda_arn
    events              = ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]
    filter_prefix       = "AWSLogs/"
    filter_suffix       = ".json.gz"
  }
}
"""

_OLD_45_DIRECT = """
resource "aws_s3_bucket_notification" "bucket_notification" {
  count  = 1
  bucket = var.bucket
  lambda_function {
    lambda_function_arn = var.old_lambda_arn
    events              = ["s3:ObjectCreated:*"]
    filter_prefix       = "AWSLogs/"
    filter_suffix       = ".json.gz"
  }
}
"""

_OLD_45_FANOUT = f"""
resource "aws_sns_topic" "s3_notifications" {{
  count = 1
  name  = "{OLD_TOPIC}"
}}

resource "aws_sns_topic_policy" "s3_notifications" {{
  count = 1
  arn   = aws_sns_topic.s3_notifications[0].arn
  policy = jsonencode({{
    Version = "2012-10-17"
    Statement = [{{
      Effect    = "Allow"
      Principal = {{ Service = "s3.amazonaws.com" }}
      Action    = "SNS:Publish"
      Resource  = aws_sns_topic.s3_notifications[0].arn
    }}]
  }})
}}

resource "aws_s3_bucket_notification" "bucket_notification" {{
  count  = 1
  bucket = var.bucket
  topic {{
    topic_arn     = aws_sns_topic.s3_notifications[0].arn
    events        = ["s3:ObjectCreated:*"]
    filter_prefix = "AWSLogs/"
    filter_suffix = ".json.gz"
  }}
  eventbridge = true
  depends_on  = [aws_sns_topic_policy.s3_notifications]
}}
"""

Workspace = tfrun.Workspace


@pytest.fixture
def workspace(tmp_path: Path, moto_server: str) -> Workspace:  # noqa: F811
    terraform, mirror = tfrun.toolchain()
    return Workspace(tmp_path, terraform, mirror, moto_server)


def _apply_old(ws: Workspace, layout: str) -> str:
    bucket = unique("trail")
    aws_client(ws.endpoint, "s3").create_bucket(Bucket=bucket)
    old = ws.path / "old"
    old.mkdir()
    (old / "main.tf").write_text(_OLD_VARIABLES + layout)
    old_lambda = f"arn:aws:lambda:us-east-1:123456789012:function:{OLD_FUNCTION}"
    ws.write(
        f'module "cloudtrail_to_slack" {{\n  source = "./old"\n  bucket = "{bucket}"\n'
        f'  old_lambda_arn = "{old_lambda}"\n}}\n'
    )
    ws.run("init", "-input=false", "-no-color")
    ws.run("apply", "-input=false", "-no-color", "-auto-approve")
    return bucket


def _migrate(ws: Workspace, bucket: str, *snippets: str, extra_lines: str = "") -> list[Any]:
    (ws.path / "rules").mkdir()
    shutil.copy(ROOT / "tests" / "checks" / "valid" / "keywords_and_paths.ctr", ws.path / "rules")
    module = _module_block(ws.path, extra_lines).replace('"my-cloudtrail-bucket"', f'"{bucket}"')
    ws.write(module + "\n" + "\n".join(snippets))
    return ws.plan()


def _change(changes: list[dict[str, Any]], address: str) -> dict[str, Any]:
    found = [c for c in changes if c["address"] == address]
    assert found, f"{address} is in the plan: {[c['address'] for c in changes]}"
    return found[0]


def _destroys(changes: list[dict[str, Any]], types: tuple[str, ...]) -> list[str]:
    return [
        c["address"]
        for c in changes
        if c["type"] in types and "delete" in c["change"]["actions"]
    ]


NOTIFICATION = "module.ctrules.aws_s3_bucket_notification.cloudtrail[0]"
KEPT = ("aws_s3_bucket_notification", "aws_sns_topic", "aws_sns_topic_policy")


def test_old_4_2_layout_hands_the_notification_over_in_place(workspace: Workspace) -> None:
    bucket = _apply_old(workspace, _OLD_42)
    changes = _migrate(workspace, bucket, _snippet("# Old module before 4.4.0"))
    assert _destroys(changes, KEPT) == []
    note = _change(changes, NOTIFICATION)
    assert note["previous_address"] == (
        "module.cloudtrail_to_slack.aws_s3_bucket_notification.bucket_notification"
    )
    assert note["change"]["actions"] == ["update"]
    # Now the module's queue, not the old function.
    after = note["change"]["after"]
    assert after["lambda_function"] == [] and len(after["queue"]) == 1


def test_old_4_5_layout_needs_the_index(workspace: Workspace) -> None:
    bucket = _apply_old(workspace, _OLD_45_DIRECT)
    changes = _migrate(workspace, bucket, _snippet("# Old module 4.4.0 and later"))
    assert _destroys(changes, KEPT) == []
    note = _change(changes, NOTIFICATION)
    assert note["previous_address"].endswith("aws_s3_bucket_notification.bucket_notification[0]")
    assert note["change"]["actions"] == ["update"]


def test_old_4_5_layout_with_the_pre_4_4_address_races(workspace: Workspace) -> None:
    # What the guide warns about: the moved block does not match, so delete + create.
    bucket = _apply_old(workspace, _OLD_45_DIRECT)
    changes = _migrate(workspace, bucket, _snippet("# Old module before 4.4.0"))
    assert _destroys(changes, KEPT) == [
        "module.cloudtrail_to_slack.aws_s3_bucket_notification.bucket_notification[0]"
    ]


def test_old_4_5_fanout_keeps_the_topic_and_the_eventbridge_flag(workspace: Workspace) -> None:
    bucket = _apply_old(workspace, _OLD_45_FANOUT)
    lines = _snippet("create_s3_sns_topic = true")
    lines = re.sub(r'(s3_sns_topic_name\s*=\s*)"[^"]*"', rf'\1"{OLD_TOPIC}"', lines)
    lines += "  s3_eventbridge_notifications = true\n"
    changes = _migrate(
        workspace,
        bucket,
        _snippet("# Old module 4.4.0 and later"),
        _snippet("aws_sns_topic.s3_notifications[0]"),
        extra_lines=lines,
    )
    assert _destroys(changes, KEPT) == []
    topic = _change(changes, "module.ctrules.aws_sns_topic.s3_fanout[0]")
    assert topic["previous_address"] == "module.cloudtrail_to_slack.aws_sns_topic.s3_notifications[0]"
    assert topic["change"]["actions"] in (["no-op"], ["update"])
    assert topic["change"]["after"]["name"] == OLD_TOPIC
    note = _change(changes, NOTIFICATION)
    assert note["change"]["actions"] in (["no-op"], ["update"])
    assert note["change"]["after"]["eventbridge"] is True
    assert len(note["change"]["after"]["topic"]) == 1


def test_module_validates_and_its_terraform_tests_pass(tmp_path: Path) -> None:
    """`terraform validate` and `terraform test` (deploy/terraform/tests, mocked providers) on
    a copy of the checkout, so no lock file or .terraform/ lands in the repository."""
    terraform, mirror = tfrun.toolchain()
    copy = tmp_path / "repo"
    for part in ("deploy/terraform", "rules", "ctrules", "grammar", "scripts"):
        shutil.copytree(
            ROOT / part, copy / part, ignore=shutil.ignore_patterns(".terraform*", "__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    ws = Workspace(copy / "deploy" / "terraform", terraform, mirror, "http://127.0.0.1:9")
    (ws.path / "terraformrc").unlink()  # the CLI config lives outside the module
    ws.env["TF_CLI_CONFIG_FILE"] = str(tfrun.write_cli_config(tmp_path / "terraformrc", mirror))
    ws.run("init", "-backend=false", "-input=false", "-no-color")
    ws.run("validate", "-no-color")
    out = ws.run("test", "-no-color")
    assert "0 failed" in out
