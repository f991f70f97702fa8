"""`ctrules fmt` on real files: rewriting, --check, --diff, directories, stdin, syntax errors."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from ctrules.cli import main

MESSY = "rule   r{when a==1 and b==2   # why\nseverity high}\n"
CLEAN = "rule r {\n    severity high\n    when     a == 1 and b == 2  # why\n}\n"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_rewrites_in_place(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = _write(tmp_path / "a.ctr", MESSY)
    assert main(["fmt", str(f)]) == 0
    assert f.read_text(encoding="utf-8") == CLEAN
    assert "reformatted" in capsys.readouterr().err
    assert main(["fmt", str(f)]) == 0  # second run: nothing to do
    assert f.read_text(encoding="utf-8") == CLEAN


def test_check_lists_files_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dirty = _write(tmp_path / "rules" / "dirty.ctr", MESSY)
    _write(tmp_path / "rules" / "sub" / "clean.ctr", CLEAN)
    _write(tmp_path / "rules" / "notes.txt", "not a rule file {")
    assert main(["fmt", "--check", str(tmp_path / "rules")]) == 1
    out = capsys.readouterr().out
    assert out.strip() == f"would reformat {dirty}"
    assert dirty.read_text(encoding="utf-8") == MESSY

    dirty.write_text(CLEAN, encoding="utf-8")
    assert main(["fmt", "--check", str(tmp_path / "rules")]) == 0


def test_directories_are_searched_recursively(tmp_path: Path) -> None:
    deep = _write(tmp_path / "a" / "b" / "c" / "deep.ctr", MESSY)
    assert main(["fmt", str(tmp_path)]) == 0
    assert deep.read_text(encoding="utf-8") == CLEAN


def test_diff_prints_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = _write(tmp_path / "a.ctr", MESSY)
    assert main(["fmt", "--diff", str(f)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"--- {f} (original)\n+++ {f} (formatted)\n")
    assert "+    when     a == 1 and b == 2  # why\n" in out
    assert f.read_text(encoding="utf-8") == MESSY
    assert main(["fmt", "--diff", "--check", str(f)]) == 1


def test_syntax_error_is_reported_with_caret_and_file_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _write(tmp_path / "bad.ctr", 'rule r {\n    when eventName = "X"\n}\n')
    good = _write(tmp_path / "good.ctr", MESSY)
    assert main(["fmt", str(bad), str(good)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:2:20: CTR001 error: unexpected '='" in err
    assert '    when eventName = "X"\n                       ^' in err
    assert bad.read_text(encoding="utf-8") == 'rule r {\n    when eventName = "X"\n}\n'
    assert good.read_text(encoding="utf-8") == CLEAN  # the other file is still formatted


def test_lossy_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = "rule r { when a == 1 when b == 2 }\n"
    f = _write(tmp_path / "dup.ctr", text)
    assert main(["fmt", str(f)]) == 1
    assert "CTR003" in capsys.readouterr().err
    assert f.read_text(encoding="utf-8") == text


def test_missing_path_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fmt", str(tmp_path / "nope.ctr")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_not_utf8_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "latin1.ctr"
    f.write_bytes(b'rule r { when a == "\xe9" }\n')
    assert main(["fmt", str(f)]) == 1
    assert "cannot read" in capsys.readouterr().err
    assert f.read_bytes() == b'rule r { when a == "\xe9" }\n'


def test_keeps_file_mode(tmp_path: Path) -> None:
    f = _write(tmp_path / "a.ctr", MESSY)
    f.chmod(0o640)
    assert main(["fmt", str(f)]) == 0
    assert f.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["a.ctr"]  # no temporary files left


def test_stdin_to_stdout(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(MESSY))
    assert main(["fmt", "-"]) == 0
    assert capsys.readouterr().out == CLEAN
    monkeypatch.setattr(sys, "stdin", io.StringIO(MESSY))
    assert main(["fmt", "--check", "-"]) == 1
    monkeypatch.setattr(sys, "stdin", io.StringIO(CLEAN))
    assert main(["fmt", "--check", "-"]) == 0


def test_runs_as_a_process(tmp_path: Path) -> None:
    f = _write(tmp_path / "a.ctr", MESSY)
    code = "import sys; from ctrules.cli import main; sys.exit(main(sys.argv[1:]))"
    run = subprocess.run(
        [sys.executable, "-c", code, "fmt", "--check", str(f)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 1, run.stderr
    assert run.stdout == f"would reformat {f}\n"
