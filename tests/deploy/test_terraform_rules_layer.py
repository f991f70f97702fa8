"""Deployment — the module's rules layer (rules.tf), built and published by the real `terraform`.

A root module calls the module with a rules_dir, a site file and var.configuration; a targeted
apply against the moto server on loopback builds the zip (scripts/build_rules_layer.py, from the
manifest Terraform writes) and publishes the layer version. The published zip must load the way the runtime loads CTRULES_RULES=/opt/ctrules-rules; planning again must
change nothing, and editing a rule must name a new zip and replace the layer version.

Needs `terraform` and a local hashicorp/aws mirror (tfrun.py); otherwise skipped with the reason.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest

import ctrules
from tests.support.moto_server import aws_client, moto_server  # noqa: F401

from . import tfrun
from .tf import MODULE, ROOT

LAYER = "module.ctrules.aws_lambda_layer_version.rules[0]"
BUILD = "module.ctrules.terraform_data.rules_layer[0]"
# The pack's site.ctr replaced: its macros (from the module's tftest site file) and a marker rule.
SITE = (
    (MODULE / "tests" / "site.ctr").read_text(encoding="utf-8")
    + """
rule site_marker {
    severity low
    when eventName == "SiteMarker"
    example "hit" match {"eventName": "SiteMarker"}
    example "miss" no match {"eventName": "Other"}
}
"""
)


def _root_module(ws: tfrun.Workspace, function_name: str) -> None:
    rules = ws.path / "rules"
    shutil.copytree(
        ROOT / "deploy" / "terraform" / "examples" / "organization-trail" / "rules", rules
    )
    (ws.path / "site.ctr").write_text(SITE)
    source = Path(os.path.relpath(MODULE, ws.path)).as_posix()
    zip_path = Path(os.path.relpath(MODULE / "tests" / "fake-lambda.zip", ws.path)).as_posix()
    ws.write(
        f"""
module "ctrules" {{
  source                            = "{source}"
  function_name                     = "{function_name}"
  lambda_zip_path                   = "{zip_path}"
  cloudtrail_logs_s3_bucket_name    = "trail-bucket"
  default_slack_hook_url_param_name = "/ctrules/slack/default"
  rules_dir                         = "${{path.module}}/rules"
  site_rules_file                   = "${{path.module}}/site.ctr"
  configuration = [
    {{ accounts = ["111111111111"], slack_hook_url_param_name = "/ctrules/slack/prod", name = "prod" }},
  ]
}}
"""
    )


def _changes(ws: tfrun.Workspace) -> dict[str, list[str]]:
    changes: list[dict[str, Any]] = ws.plan(f"-target={LAYER}")
    return {c["address"]: c["change"]["actions"] for c in changes}


@pytest.fixture
def workspace(tmp_path: Path, moto_server: str) -> tfrun.Workspace:  # noqa: F811
    terraform, mirror = tfrun.toolchain()
    return tfrun.Workspace(tmp_path, terraform, mirror, moto_server)


def test_rules_layer_is_built_published_and_stable(
    workspace: tfrun.Workspace, tmp_path: Path
) -> None:
    ws = workspace
    _root_module(ws, "ctrules-layer-test")
    assert _changes(ws) == {BUILD: ["create"], LAYER: ["create"]}
    ws.run("apply", "-input=false", "-no-color", "-auto-approve", "plan.bin")

    # Lambda holds the zip that was built (moto gives no download URL: compare the hash).
    lam = aws_client(ws.endpoint, "lambda")
    (version,) = lam.list_layer_versions(LayerName="ctrules-layer-test-rules")["LayerVersions"]
    content = lam.get_layer_version(
        LayerName="ctrules-layer-test-rules", VersionNumber=version["Version"]
    )["Content"]
    (built,) = (ws.path / ".terraform" / "ctrules").glob("ctrules-layer-test-rules-*.zip")
    data = built.read_bytes()
    assert content["CodeSha256"] == base64.b64encode(hashlib.sha256(data).digest()).decode()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = set(zf.namelist())
        zf.extractall(tmp_path / "opt")
    assert "ctrules-rules/custom/organization.ctr" in names
    assert "ctrules-rules/terraform-configuration-routes.ctr" in names
    assert "ctrules-rules/default/identity.ctr" in names
    assert (tmp_path / "opt" / "ctrules-rules" / "default" / "site.ctr").read_text() == SITE
    rs = ctrules.load_rules(tmp_path / "opt" / "ctrules-rules")
    assert rs.rule("org_leave_organization").name == "org_leave_organization"
    assert rs.rule("site_marker").name == "site_marker"

    # Unchanged rules: nothing to do, even without the zip (a fresh checkout).
    built.unlink()
    assert _changes(ws) == {BUILD: ["no-op"], LAYER: ["no-op"]}

    # An edited rule: a new zip name, so a rebuild and a new layer version.
    (ws.path / "site.ctr").write_text(SITE.replace("severity low", "severity medium"))
    changes = _changes(ws)
    assert changes[BUILD] == ["delete", "create"] and changes[LAYER] == ["delete", "create"]
