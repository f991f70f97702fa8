"""The wheel carries the grammar and the default rules, and the installed package uses them
from its own location: build it, install it into a fresh venv, and run `ctrules check` on the
shipped rules from another working directory."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(ROOT)],
                   check=True, timeout=600)
    (whl,) = out.glob("ctrules-*.whl")
    return whl


def test_wheel_contains_grammar_and_rules(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "ctrules/grammar/ctr.lark" in names
    assert "ctrules/data/ctr_parser.json" in names  # the parser's tables: no cache needed
    assert "ctrules/py.typed" in names
    shipped_rules = {n for n in names if n.startswith("ctrules/rules/") and n.endswith(".ctr")}
    repo_rules = {f"ctrules/rules/{p.relative_to(ROOT / 'rules').as_posix()}"
                  for p in (ROOT / "rules").rglob("*.ctr")}
    assert shipped_rules == repo_rules


def test_installed_wheel_checks_its_shipped_rules(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)], check=True, timeout=900)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run(
        [str(python), "-c", "import ctrules.ruleset as r; print(r.default_rules_path())"],
        cwd=elsewhere, check=True, capture_output=True, text=True).stdout.strip()
    assert str(ROOT) not in where and "site-packages" in where
    check = subprocess.run([str(env_dir / "bin" / "ctrules"), "check", where],
                           cwd=elsewhere, capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stdout + check.stderr
    run = subprocess.run([str(env_dir / "bin" / "ctrules"), "run", "--quiet"],
                         cwd=elsewhere, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
