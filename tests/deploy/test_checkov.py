"""Deployment — checkov on the Terraform module and its examples, offline.

checkov runs with --skip-download (no platform API, no policy download) and must report no
failed check at all: every finding is either fixed or suppressed inline with a
`#checkov:skip=CKV_...:justification` comment (test_terraform_hygiene.py requires the
justification). Without a platform API key checkov reports no severities, so "no failure" is
the stricter stand-in for "no HIGH finding".

checkov pins dependencies the project's test environment cannot share, so it lives in its own
virtualenv: `bash tests/deploy/setup_checkov.sh` creates it (CI runs it before pytest). The
executable is found through $CTRULES_CHECKOV, then that virtualenv, then PATH.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from .tf import MODULE, ROOT

VENV_CHECKOV = Path.home() / ".cache" / "ctrules" / "checkov-venv" / "bin" / "checkov"


def _checkov() -> str:
    candidates = [os.environ.get("CTRULES_CHECKOV", ""), str(VENV_CHECKOV), shutil.which("checkov")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    # Not installed yet (a fresh machine): install it into its own virtualenv, as CI does.
    setup = subprocess.run(["bash", str(Path(__file__).with_name("setup_checkov.sh"))],
                           capture_output=True, text=True, timeout=1200)
    assert setup.returncode == 0, f"installing checkov failed:\n{setup.stderr[-2000:]}"
    return setup.stdout.strip().splitlines()[-1]


def _run_checkov() -> list[dict[str, Any]]:
    env = {
        **os.environ,
        # Offline and quiet: no version check, no telemetry, no platform calls.
        "BC_SKIP_MAPPING": "TRUE",
        "CHECKOV_EXPERIMENTAL_IMAGE_REFERENCING": "FALSE",
        "LOG_LEVEL": "WARNING",
    }
    proc = subprocess.run(
        [
            _checkov(),
            "--directory",
            str(MODULE),
            "--framework",
            "terraform",
            "--skip-download",
            "--output",
            "json",
            "--quiet",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    # 0: no failure, 1: failures; anything else is checkov itself breaking.
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    return report if isinstance(report, list) else [report]


def test_checkov_finds_nothing_unsuppressed() -> None:
    reports = _run_checkov()
    terraform = [r for r in reports if r.get("check_type") == "terraform"]
    assert len(terraform) == 1, "checkov scanned the terraform files"
    summary = terraform[0]["summary"]
    failed = terraform[0]["results"].get("failed_checks", [])
    findings = [
        f"{f['check_id']} {f['check_name']} - {f['resource']} ({f['file_path']}:{f['file_line_range']})"
        for f in failed
    ]
    assert summary["failed"] == 0, "\n".join(findings)
    assert summary["parsing_errors"] == 0
    # It really looked: the module has dozens of resources with checks that apply.
    assert summary["passed"] >= 50
    skipped = {f["check_id"] for f in terraform[0]["results"].get("skipped_checks", [])}
    assert skipped <= {"CKV_AWS_28", "CKV_AWS_117", "CKV_AWS_119", "CKV_AWS_272", "CKV_AWS_338"}
