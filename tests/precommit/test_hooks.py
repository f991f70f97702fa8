"""The pre-commit hooks (.pre-commit-hooks.yaml) in a rules repository the way users have one:
its own rules, plus `.terraform/` (after `terraform init` it holds a copy of the ctrules
repository, test fixtures and broken examples included), a `.venv/` and a git-ignored build
directory. `pre-commit try-repo` installs the hooks from this checkout and must report only the
repository's own rules.

`pre-commit` (test extra) builds a virtualenv and pip-installs this checkout into it. Offline: pip
reads no configuration and no index, only a wheelhouse of the dependencies repacked from this
test environment (wheelhouse.py); ctrules itself is built from the clone with the setuptools
virtualenv seeds. Where the machine allows it, the run is in a network namespace of its own, so
a stray download fails the test instead of passing unnoticed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from . import wheelhouse

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


def _without_network() -> list[str]:
    """`unshare` prefix that gives the command no network at all, or [] where it cannot."""
    unshare = shutil.which("unshare")
    for prefix in ([unshare, "--net"], [unshare, "--map-root-user", "--net"]) if unshare else []:
        probe = subprocess.run([*prefix, "true"], capture_output=True)
        if probe.returncode == 0:
            return prefix
    return []


@pytest.fixture(scope="session")
def offline_wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        import packaging  # noqa: F401  (wheelhouse.py reads requirements with it)
    except ImportError:
        pytest.skip("no offline wheelhouse: the packaging library is not installed")
    directory = tmp_path_factory.mktemp("wheelhouse")
    try:
        wheelhouse.build("ctrules", directory)
    except LookupError as err:
        pytest.skip(f"no offline wheelhouse of ctrules' dependencies: {err}")
    return directory


def test_pre_commit_try_repo_reports_only_the_repositorys_rules(
    rules_repo: Path, offline_wheels: Path
) -> None:
    pre_commit = shutil.which("pre-commit", path=str(Path(sys.executable).parent))
    if pre_commit is None:
        pytest.skip("pre-commit is not installed (pip install -e '.[test]')")
    # None of the machine's pip or virtualenv settings (index URLs, find-links, constraints).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "VIRTUALENV_"))}
    env.update(
        PRE_COMMIT_HOME=str(rules_repo.parent / "pre-commit-home"),
        PIP_CONFIG_FILE=os.devnull,
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=str(offline_wheels),
        # Build ctrules with the setuptools virtualenv seeds (from its bundled wheel, also on
        # Python >= 3.12 where it seeds none by default) instead of fetching the build
        # requirements; pip reads this variable inverted: "0" turns isolation off.
        PIP_NO_BUILD_ISOLATION="0",
        VIRTUALENV_SETUPTOOLS="bundle",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        VIRTUALENV_NO_PERIODIC_UPDATE="1",
    )
    done = subprocess.run(
        [*_without_network(), pre_commit, "try-repo", str(ROOT), "--all-files", "--verbose"],
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
