"""Deployment checks — running the real `terraform` binary offline (migration, module tests).

Finds `terraform` on PATH and a provider mirror holding hashicorp/aws (the module needs no other
provider): CTRULES_TF_PLUGIN_DIR when set, else the filesystem mirrors and plugin cache named in
the Terraform CLI configuration (TF_CLI_CONFIG_FILE or ~/.terraformrc), Terraform's implicit
local mirror directories, then /opt/tf-plugins. Without both the tests skip with the reason.
Terraform gets a CLI configuration of its own that installs from that mirror only, so nothing
leaves the machine.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

PLUGIN_ENV = "CTRULES_TF_PLUGIN_DIR"
PROVIDERS = ("hashicorp/aws",)


def _configured_mirrors() -> list[Path]:
    config = os.environ.get("TF_CLI_CONFIG_FILE") or str(Path.home() / ".terraformrc")
    try:
        text = Path(config).read_text(encoding="utf-8")
    except OSError:
        return []
    paths = re.findall(r'filesystem_mirror\s*\{[^}]*?\bpath\s*=\s*"([^"]+)"', text)
    paths += re.findall(r'(?m)^\s*plugin_cache_dir\s*=\s*"([^"]+)"', text)
    return [Path(os.path.expanduser(p)) for p in paths]


def candidate_mirrors() -> list[Path]:
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return [
        *_configured_mirrors(),
        Path.home() / ".terraform.d" / "plugins",
        data_home / "terraform" / "plugins",
        Path("/usr/local/share/terraform/plugins"),
        Path("/usr/share/terraform/plugins"),
        Path("/opt/tf-plugins"),
    ]


def _missing(mirror: Path) -> list[str]:
    return [p for p in PROVIDERS if not (mirror / "registry.terraform.io" / p).is_dir()]


def toolchain() -> tuple[str, Path]:
    """(terraform executable, provider mirror), or skip saying what is missing."""
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("terraform is not on PATH: the module is only checked statically")
    named = os.environ.get(PLUGIN_ENV, "")
    if named:
        missing = _missing(Path(named))
        if missing:
            pytest.skip(f"{PLUGIN_ENV}={named} lacks {', '.join(missing)}")
        return terraform, Path(named)
    candidates = candidate_mirrors()
    for mirror in candidates:
        if not _missing(mirror):
            return terraform, mirror
    pytest.skip(
        f"no provider mirror holds {' and '.join(PROVIDERS)}: set {PLUGIN_ENV} to one "
        f"(`terraform providers mirror DIR` builds it); looked in "
        + ", ".join(str(c) for c in candidates)
    )


def write_cli_config(path: Path, mirror: Path) -> Path:
    """A CLI configuration that installs providers from `mirror` and nowhere else."""
    path.write_text(
        f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror.as_posix()}"\n'
        '  }\n  direct {\n    exclude = ["*/*/*"]\n  }\n}\n'
    )
    return path


_SERVICES = (
    "cloudwatch", "dynamodb", "events", "iam", "kms", "lambda", "logs", "s3", "secretsmanager",
    "sns", "sqs", "ssm", "sts",
)  # fmt: skip


def provider_block(endpoint: str) -> str:
    """The aws provider pointed at the moto server, with dummy credentials."""
    endpoints = "\n".join(f'    {s} = "{endpoint}"' for s in _SERVICES)
    return f"""
terraform {{
  required_providers {{
    aws = {{ source = "hashicorp/aws" }}
  }}
}}

provider "aws" {{
  region                      = "us-east-1"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  s3_use_path_style           = true
  endpoints {{
{endpoints}
  }}
}}
"""


class Workspace:
    """One root module directory, its state, and terraform run against the moto server."""

    def __init__(self, path: Path, terraform: str, mirror: Path, endpoint: str) -> None:
        self.path, self.terraform, self.endpoint = path, terraform, endpoint
        cli_config = write_cli_config(path / "terraformrc", mirror)
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(path),
            "TF_CLI_CONFIG_FILE": str(cli_config),
            "TF_IN_AUTOMATION": "1",
            "CHECKPOINT_DISABLE": "1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def run(self, *args: str, codes: tuple[int, ...] = (0,)) -> str:
        done = subprocess.run(
            [self.terraform, *args],
            cwd=self.path,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode in codes, (
            f"terraform {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        )
        return done.stdout

    def write(self, main: str) -> None:
        (self.path / "main.tf").write_text(provider_block(self.endpoint) + main)

    def plan(self, *args: str) -> list[dict[str, Any]]:
        """init, plan, and the plan's resource changes."""
        self.run("init", "-input=false", "-no-color")
        self.run("plan", "-input=false", "-no-color", "-out=plan.bin", *args)
        shown = json.loads(self.run("show", "-json", "plan.bin"))
        return list(shown.get("resource_changes", []))
