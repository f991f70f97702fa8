"""The pre-commit hooks (.pre-commit-hooks.yaml) in a rules repository the way users have one:
its own rules, plus `.terraform/` (after `terraform init` it holds a copy of the ctrules
repository, test fixtures and broken examples included), a `.venv/` and a git-ignored build
directory. `pre-commit try-repo` installs the hooks from this checkout and must report only the
repository's own rules.

`pre-commit` (test extra) builds a virtualenv and pip-installs this checkout into it: the test
needs the package index the rest of the suite's install used."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]

GOOD = """\
rule trail_deleted {
    severity high
    summary  "{userIdentity.arn} called {eventName}"
    when     eventName == "DeleteTrail"

    example "hit" match {"eventName": "DeleteTrail"}
    example "miss" no match {"eventName": "CreateTrail"}
}
"""


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture
def rules_repo(tmp_path: Path) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "infra"
    (repo / "rules").mkdir(parents=True)
    (repo / "rules" / "mine.ctr").write_text(GOOD)
    # What `terraform init` leaves: the module source, i.e. this repository with its fixtures
    # (tests/checks/broken holds files that fail check on purpose; rules/ duplicates names).
    copy = repo / ".terraform" / "modules" / "ctrules"
    shutil.copytree(ROOT / "rules", copy / "rules")
    shutil.copytree(ROOT / "tests" / "checks" / "broken", copy / "tests" / "checks" / "broken")
    (repo / ".terraform" / "modules" / "ctrules" / "rules" / "dup.ctr").write_text(GOOD)
    (repo / ".venv" / "lib").mkdir(parents=True)
    (repo / ".venv" / "lib" / "broken.ctr").write_text("rule {\n")
    (repo / "build").mkdir()
    (repo / "build" / "broken.ctr").write_text("rule {\n")
    (repo / ".gitignore").write_text("build/\n")
    _git(repo, "init", "-q")
    _git(repo, "add", ".gitignore", "rules")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "rules")
    return repo


def test_hook_definitions() -> None:
    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"ctrules-check", "ctrules-fmt", "ctrules-test"}
    for hook in hooks.values():
        assert hook["files"] == r"\.ctr$" and hook["language"] == "python"
    # The whole rule set (one namespace), through the directory walk that skips what is not
    # the repository's.
    for name in ("ctrules-check", "ctrules-test"):
        assert hooks[name]["pass_filenames"] is False and hooks[name]["args"] == ["."]


def test_check_and_test_of_dot_see_only_the_repositorys_rules(
    rules_repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ctrules.cli import main

    monkeypatch.chdir(rules_repo)
    assert main(["check", "."]) == 0
    assert capsys.readouterr().out == "All checks passed: 1 file, 1 rule\n"
    assert main(["test", "."]) == 0
    assert capsys.readouterr().out.strip() == "2 passed, 0 failed"


def test_pre_commit_try_repo_reports_only_the_repositorys_rules(rules_repo: Path) -> None:
    pre_commit = shutil.which("pre-commit", path=str(Path(sys.executable).parent))
    if pre_commit is None:
        pytest.skip("pre-commit is not installed (pip install -e '.[test]')")
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(rules_repo.parent / "pre-commit-home"),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    done = subprocess.run(
        [pre_commit, "try-repo", str(ROOT), "--all-files", "--verbose"],
        cwd=rules_repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "All checks passed: 1 file, 1 rule" in out
    assert "2 passed, 0 failed" in out
    assert ".terraform" not in out and ".venv" not in out and "build/" not in out
