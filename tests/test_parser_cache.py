"""The parser's tables are cached between processes (ctrules/parser_cache.py): written to a
private cache directory, read back, never read from a directory others can write to."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ctrules import parser
from ctrules.parser_cache import cache_dir, parser_cache

TEXT = "# a comment the formatter keeps\nrule r {\n    when eventName == \"X\"\n}\n"


def test_tables_are_written_then_read_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CTRULES_CACHE_DIR", str(tmp_path / "cache"))
    first = parser._lark.__wrapped__()  # type: ignore[attr-defined]
    files = list((tmp_path / "cache").iterdir())
    assert len(files) == 1 and files[0].stat().st_size > 1000
    before = files[0].stat().st_mtime_ns
    second = parser._lark.__wrapped__()  # type: ignore[attr-defined]
    assert files[0].stat().st_mtime_ns == before  # loaded, not rebuilt and rewritten
    assert first is not second
    monkeypatch.setattr(parser, "_lark", lambda: second)
    result = parser.parse(TEXT, "t.ctr")
    assert [c.text for c in result.file.comments] == ["# a comment the formatter keeps"]


def test_a_directory_others_can_write_to_is_not_used(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    monkeypatch.setenv("CTRULES_CACHE_DIR", str(shared))
    assert cache_dir() is None
    assert parser_cache("grammar") is False
    monkeypatch.setenv("CTRULES_CACHE_DIR", "")
    assert parser_cache("grammar") is False


def test_an_unwritable_location_means_no_cache(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("CTRULES_CACHE_DIR", str(blocker / "cache"))
    assert parser_cache("grammar") is False
    lark = parser._lark.__wrapped__()  # type: ignore[attr-defined]
    assert lark.parse(TEXT, start="start") is not None
