"""Golden tests for `ctrules fmt`: each `NAME.in.ctr` formats to exactly `NAME.out.ctr`.

Every pair also checks the formatter's laws on real-looking input: the output is a fixed point,
it parses to the same AST as the input, and it carries every comment of the input.
To accept new expected outputs after an intended layout change:
`CTRULES_UPDATE_GOLDEN=1 .venv/bin/pytest tests/fmt` (then review the diff).
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from ctrules.formatter import FormatRefusedError, format_file, format_text
from ctrules.parser import CtrSyntaxError, parse
from tests.strategies import ast_key

HERE = Path(__file__).parent
INPUTS = sorted(HERE.glob("*.in.ctr"))
UPDATE = os.environ.get("CTRULES_UPDATE_GOLDEN") == "1"


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_there_are_enough_golden_pairs() -> None:
    assert len(INPUTS) >= 12
    for src in INPUTS:
        assert src.with_name(src.name.replace(".in.ctr", ".out.ctr")).exists() or UPDATE, src


@pytest.mark.parametrize("src", INPUTS, ids=lambda p: p.name.removesuffix(".in.ctr"))
def test_golden(src: Path) -> None:
    text = _read(src)
    expected_path = src.with_name(src.name.replace(".in.ctr", ".out.ctr"))
    got = format_text(text, src.name)
    if UPDATE:
        expected_path.write_text(got, encoding="utf-8")
    assert got == _read(expected_path)


@pytest.mark.parametrize("src", INPUTS, ids=lambda p: p.name.removesuffix(".in.ctr"))
def test_golden_laws(src: Path) -> None:
    text = _read(src)
    once = format_text(text, src.name)
    assert format_text(once, src.name) == once, "not idempotent"
    before, after = parse(text, src.name).file, parse(once, src.name).file
    assert ast_key(after) == ast_key(before)
    assert Counter(c.text for c in after.comments) == Counter(c.text for c in before.comments)
    # The expected outputs are themselves canonical.
    expected = src.with_name(src.name.replace(".in.ctr", ".out.ctr"))
    if expected.exists():
        assert format_text(_read(expected), expected.name) == _read(expected)


def test_syntax_error_propagates() -> None:
    with pytest.raises(CtrSyntaxError) as info:
        format_text('rule x {\n    when eventName = "X"\n}\n', "bad.ctr")
    assert (info.value.diagnostic.span.line, info.value.diagnostic.span.col) == (2, 20)


@pytest.mark.parametrize(
    "text",
    [
        "rule x { when a == 1 when b == 2 }",  # the second `when` would be lost
        "rule x { severity hgih when a == 1 }",  # the unknown severity would become medium
        'rule x { tags [1, "a"] when a == 1 }',  # the non-string tag would vanish
    ],
)
def test_refuses_what_it_would_lose(text: str) -> None:
    with pytest.raises(FormatRefusedError):
        format_text(text, "lossy.ctr")


def test_empty_and_comment_only_files() -> None:
    assert format_text("", "e.ctr") == ""
    assert format_text("\n\n  \n", "e.ctr") == ""
    assert (
        format_text("  # just a note\n\n\n# another\n", "c.ctr") == "# just a note\n\n# another\n"
    )


def test_format_file_without_source_keeps_comments() -> None:
    text = "# lead\nrule x {\n    when a == 1  # why\n         and b == 2\n}\n# end\n"
    rule_file = parse(text, "x.ctr").file
    out = format_file(rule_file)
    for comment in ("# lead", "# why", "# end"):
        assert comment in out
    assert ast_key(parse(out).file) == ast_key(rule_file)


def test_crlf_and_tabs() -> None:
    text = "rule x {\r\n\twhen a == 1\t# c\r\n}\r\n"
    assert format_text(text) == "rule x {\n    when a == 1  # c\n}\n"


def test_deep_nesting_formats() -> None:
    depth = 60
    text = "rule deep { when " + "(" * depth + "a == 1 or b == 2" + ")" * depth + " }"
    out = format_text(text)
    assert format_text(out) == out
    assert ast_key(parse(out).file) == ast_key(parse(text).file)
