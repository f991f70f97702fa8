"""Property tests of the formatter and of the parser's failure mode.

- printing a generated AST and parsing the text gives the same AST back (`ast_key`, which keeps
  `true`, `1` and `1.0` apart), and `fmt` is a fixed point on its own output;
- comments sprinkled over formatted text (trailing and on their own lines) all survive, in the
  same order, without changing the AST, and the result is again a fixed point;
- random text either parses or raises CtrSyntaxError whose line/column are inside the text —
  never another exception; when it parses, the formatter laws hold for it too.

The settings are derandomized (a fixed seed) with modest example counts so the module runs in
well under 30 s on 2 cores; raise `CTRULES_FMT_EXAMPLES` to search harder locally.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ctrules import nodes as n
from ctrules.fmt_cli import run_fmt
from ctrules.formatter import FormatRefusedError, format_expr, format_file, format_text
from ctrules.parser import CtrSyntaxError, parse
from tests.strategies import ast_key, exprs, rule_files

_SCALE = int(os.environ.get("CTRULES_FMT_EXAMPLES", "1"))

FMT = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=60 * _SCALE,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("ctrules-fmt", FMT)
# Random text is cheap to try and is where the parser's odd corners are.
FMT_TEXT = settings(FMT, max_examples=1000 * _SCALE)

REPO = Path(__file__).resolve().parent.parent


def _laws(text: str, *, ordered: bool = False) -> str:
    """Check idempotence and round trip for text that parses; return the formatted text.
    Every comment survives; with `ordered`, also in the same order (true when the text is
    already in canonical order: the formatter reorders properties, comments move along)."""
    before = parse(text, "t.ctr").file
    once = format_text(text, "t.ctr")
    after = parse(once, "t.ctr").file
    assert ast_key(after) == ast_key(before)
    texts_before, texts_after = [c.text for c in before.comments], [c.text for c in after.comments]
    if ordered:
        assert texts_after == texts_before
    else:
        assert Counter(texts_after) == Counter(texts_before)
    assert format_text(once, "t.ctr") == once
    return once


@FMT
@given(rule_files())
def test_printing_an_ast_parses_back_to_it(rule_file: n.RuleFile) -> None:
    text = format_file(rule_file)
    parsed = parse(text, "generated.ctr")
    assert [d.code for d in parsed.diagnostics] == []
    assert ast_key(parsed.file) == ast_key(rule_file)
    assert format_text(text, "generated.ctr") == text


@FMT
@given(exprs(4))
def test_deeper_expressions_round_trip(expr: n.Expr) -> None:
    text = f"rule r {{\n    when {format_expr(expr)}\n}}\n"
    decl = parse(text).file.decls[0]
    assert isinstance(decl, n.RuleDecl)
    assert ast_key(decl.when) == ast_key(expr)


def _sprinkle(text: str, picks: list[tuple[int, int]]) -> str:
    """Add comments to formatted text: kind 0 trails a line, 1 goes on its own line before it,
    2 adds a blank line (so the comment placement sees blank lines too)."""
    lines = text.split("\n")
    out: list[str] = []
    marks = dict(picks)
    for i, line in enumerate(lines):
        kind = marks.get(i)
        if kind == 1:
            out.append(f"# own {i}")
        elif kind == 2:
            out.append("")
        out.append(line + (f"  # trail {i}" if kind == 0 and line.strip() else ""))
    return "\n".join(out)


@FMT
@given(rule_files(max_decls=2), st.data())
def test_comments_anywhere_survive(rule_file: n.RuleFile, data: st.DataObject) -> None:
    text = format_file(rule_file)
    count = text.count("\n")
    picks = data.draw(
        st.lists(st.tuples(st.integers(0, max(0, count - 1)), st.integers(0, 2)), max_size=12)
    )
    commented = _sprinkle(text, picks)
    once = _laws(commented, ordered=True)
    assert ast_key(parse(once).file) == ast_key(rule_file)


_GOLDEN_INPUTS = sorted((REPO / "tests" / "fmt").glob("*.in.ctr"))


@FMT
@given(st.sampled_from(_GOLDEN_INPUTS), st.data())
def test_comments_sprinkled_over_hand_written_files_survive(
    path: Path, data: st.DataObject
) -> None:
    """The golden inputs are laid out by hand (one-liners, odd breaks), unlike format_file's
    output: comments on any of their lines must survive too."""
    text = path.read_text(encoding="utf-8")
    count = text.count("\n")
    picks = data.draw(
        st.lists(st.tuples(st.integers(0, max(0, count - 1)), st.integers(0, 2)), max_size=10)
    )
    commented = _sprinkle(text, picks)
    once = _laws(commented)
    assert ast_key(parse(once).file) == ast_key(parse(text).file)


_ALPHABET = st.sampled_from(
    list("abcdefrtuwxyz_AZ019 \t\n\r\"'`#.,()[]{}=!<>-+*:\\/$é")
    + [
        "rule",
        "when",
        "and",
        "or",
        "not",
        "in",
        "list",
        "macro",
        "example",
        "match",
        "no",
        "any",
        "all",
        "it",
        "event.",
        "exists",
        "==",
        'r"',
        "true",
        "null",
        "1.5e3",
        "\\u00e9",
    ]
)


def _assert_parses_or_points_inside(text: str) -> None:
    try:
        result = parse(text, "random.ctr")
    except CtrSyntaxError as exc:
        span = exc.diagnostic.span
        lines = text.split("\n")
        assert 1 <= span.line <= len(lines), (span, text)
        assert 1 <= span.col <= len(lines[span.line - 1]) + 1, (span, text)
        assert exc.diagnostic.message
        return
    if not any(d.code in ("CTR003", "CTR006") for d in result.diagnostics):
        _laws(text)
    else:
        try:
            format_text(text)
        except FormatRefusedError:
            pass
        else:
            raise AssertionError("a lossy file was formatted")


@FMT_TEXT
@given(st.text(alphabet=list("abcxyz_019 \t\n\r\"'`#.,()[]{}=!<>-:\\é"), max_size=60))
def test_random_characters_parse_or_fail_inside_the_input(text: str) -> None:
    _assert_parses_or_points_inside(text)


@FMT_TEXT
@given(st.lists(_ALPHABET, max_size=40).map(" ".join))
def test_random_token_soup_parses_or_fails_inside_the_input(text: str) -> None:
    _assert_parses_or_points_inside(text)


@FMT
@given(rule_files(max_decls=2), st.data())
def test_damaged_files_parse_or_fail_inside_the_input(
    rule_file: n.RuleFile, data: st.DataObject
) -> None:
    """Near-valid text (a formatted file with a slice cut out) finds the deep error paths."""
    text = format_file(rule_file)
    start = data.draw(st.integers(0, len(text)))
    stop = data.draw(st.integers(start, min(len(text), start + 12)))
    _assert_parses_or_points_inside(text[:start] + text[stop:])


def test_default_rules_are_fmt_clean() -> None:
    """`ctrules fmt --check rules/` passes (trivially while the pack has no files yet)."""
    assert run_fmt([str(REPO / "rules")], check=True) == 0


def test_compliance_and_corpus_rule_files_format_lawfully() -> None:
    """Every .ctr file in the repository obeys the formatter laws (golden inputs included)."""
    roots = [REPO / d for d in ("rules", "tests", "docs", "deploy", "examples")]
    files = sorted(p for root in roots if root.is_dir() for p in root.rglob("*.ctr"))
    checked = 0
    for path in files:
        text = path.read_text(encoding="utf-8")
        try:
            parse(text, str(path))
        except CtrSyntaxError:
            continue  # deliberately broken inputs of other suites
        try:
            _laws(text)
        except FormatRefusedError:
            continue
        checked += 1
    assert checked >= 12


def test_deeply_nested_input_parses_or_is_a_syntax_error() -> None:
    """Hostile nesting must not escape as RecursionError/VisitError (the parser's contract)."""
    depth = 3000
    texts = [
        "rule x { when " + "not " * depth + "a == 1 }",
        "rule x { when " + "any a (" * depth + "b == 1" + ")" * depth + " }",
        'rule x { when a == 1 example "e" match ' + '{"a": ' * depth + "1" + "}" * depth + " }",
        "rule x { when a in " + "[" * depth + "1" + "]" * depth + " }",
    ]
    for text in texts:
        _assert_parses_or_points_inside(text)
