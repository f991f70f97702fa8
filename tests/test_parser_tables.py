"""The parser's LALR tables ship in the package (ctrules/data/ctr_parser.json, built from
grammar/ctr.lark by scripts/build_parser.py), and an example's JSON is read whole by a JSON
decoder where it is plain JSON: neither may change what any text parses to, or any message."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lark import Lark

from ctrules import parser

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import build_parser  # noqa: E402

CALLBACKS = {"COMMENT": parser._collect_comment}


def test_shipped_tables_are_current() -> None:
    assert build_parser.is_current(), (
        "ctrules/data/ctr_parser.json is stale: run scripts/build_parser.py")
    assert parser.shipped_parser(parser.grammar_text(), CALLBACKS) is not None


def test_tables_of_another_grammar_are_not_used() -> None:
    edited = parser.grammar_text().replace('WHEN: "when"', 'WHEN: "whenever"')
    assert parser.shipped_parser(edited, CALLBACKS) is None


def test_the_check_finds_stale_tables(tmp_path: Path) -> None:
    stale = tmp_path / "ctr_parser.json"
    tables = json.loads((ROOT / "ctrules" / parser.TABLES).read_text("utf-8"))
    tables["grammar_sha256"] = "0" * 64
    stale.write_text(json.dumps(tables))
    assert not build_parser.is_current(stale)
    assert build_parser.is_current()


def _built() -> Lark:
    return Lark(parser.grammar_text(), lexer_callbacks=CALLBACKS, **parser.LARK_OPTIONS)


@contextmanager
def _using(lark: Lark) -> Iterator[None]:
    saved = parser._lark
    parser._lark = lambda: lark  # type: ignore[assignment]
    try:
        yield
    finally:
        parser._lark = saved  # type: ignore[assignment]


def _outcome(text: str) -> Any:
    try:
        result = parser.parse(text, "t.ctr")
    except parser.CtrSyntaxError as err:
        return ("error", err.diagnostic)
    return ("ok", result.file, result.diagnostics)


TOKEN_BY_TOKEN = _built()  # the grammar's own rules for examples (no JSON_EXAMPLE tokens)
SHIPPED_WHOLE = parser._lark()
BUILT_WHOLE = _built()
parser._read_examples_whole(BUILT_WHOLE)


def _all_ways(text: str) -> list[Any]:
    outcomes = []
    for lark in (TOKEN_BY_TOKEN, SHIPPED_WHOLE, BUILT_WHOLE):
        with _using(lark):
            outcomes.append(_outcome(text))
    return outcomes


def _rule_files() -> list[Path]:
    return sorted(p for where in ("rules", "tests", "bench/rules") for p in (ROOT / where).rglob("*.ctr"))


@pytest.mark.parametrize("path", _rule_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_rule_file_parses_the_same_every_way(path: Path) -> None:
    text = path.read_text("utf-8", errors="replace")
    token_by_token, *others = _all_ways(text)
    assert all(o == token_by_token for o in others)


def _example(json_text: str, routes: str = "") -> str:
    return (f'rule r {{\n    when eventName == "X"\n    example "e" match {json_text}{routes}\n'
            f'    example "f" no match {{"eventName": "Y"}}\n}}\n')


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)
# What people and generators put inside an example's text that is not plain JSON, or is JSON
# the grammar reads differently.
MUTATIONS = ["", ",", "#c\n", "\f", "NaN", "Infinity", "-", "1" * 1001, "\\q", "\t", "\n", "r",
             "}", "]", "{", "[", '"', "1e400", "-0", "0.5e-3", '"\\ud800"', " ", "true",
             '"\u202e"', '"a\tb"']


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=JSON_VALUES, records=st.booleans(), indent=st.sampled_from([None, 0, 2]),
       mutation=st.sampled_from(MUTATIONS), at=st.floats(0, 1), routes=st.booleans())
def test_examples_parse_the_same_read_whole_or_token_by_token(
        value: Any, records: bool, indent: int | None, mutation: str, at: float,
        routes: bool) -> None:
    record = value if isinstance(value, dict) else {"v": value}
    body = json.dumps([record, record] if records else record, indent=indent)
    cut = int(len(body) * at)
    text = _example(body[:cut] + mutation + body[cut:], ' routes ["a"]' if routes else "")
    token_by_token, *others = _all_ways(text)
    assert all(o == token_by_token for o in others)


@pytest.mark.parametrize("json_text", [
    "{}", "[]", "[{}]", "[{},]", "[1]", '{"a": 1,}', '{"a": NaN}', '{"a": -Infinity}',
    '{"a": ' + "1" * 1001 + "}", '{"a": 0.' + "1" * 1000 + "}", '{"a": 1e999}',
    '{"a": "' + "x" * 70_000 + '"}', '{"a": "\\u00e9\\n"}', '{"a":\f1}', '{"a": 1 # c\n}',
    '{"a": ' * 45 + "1" + "}" * 45, '{"a": ' * 400 + "1" + "}" * 400,
    '[' * 30 + "{}" + "]" * 30, '{"a": [' * 39 + "1" + "]}" * 39,
    '{"a": 1}{"b": 2}', '{"a": "\u2066"}', '{"a": "\x01"}', '{"a": tru}',
])
def test_edge_cases_parse_the_same_every_way(json_text: str) -> None:
    token_by_token, *others = _all_ways(_example(json_text))
    assert all(o == token_by_token for o in others)


# ---- a `when` that is one chain: read whole (FAST_WHEN) or by the grammar's rules -----------

HEADS = ["userName", "a", "eventName", "event", "it", "rule", "not", "any", "true", "null",
         "severity", "and", "or", "in", "lower", "__class__", "_x", "`quoted`", "r", "x1"]
SEGMENTS = ["", ".b", ".0", ".12.c", ".tags", ".in", ".__dict__", ".0abc", ". b", ".`q`",
            ".example"]
OPS = ["==", "!=", " == ", "\n==\n", "\t!=\f", "=", "===", "<", " in ", "contains"]
VALUES = ['"x"', '"é\u202e"', '"a\\"b"', '"\\u0041"', 'r"x"', '"a\tb"', "1", "true", "[\"a\"]",
          '"' + "v" * 70_000 + '"', '""', "other.path"]
JOINS = [" or ", " and ", "\nor\n", " or\n    ", "\tand ", " or # c\n", " oR ", " or(", " orx ",
         "  ", " or not ", ")"]
AFTER = ["\n}", " }", "\n    severity low\n}", "  # trailing\n}", "\n    when x == \"y\"\n}",
         " and\n}", " x\n}", "\n    example \"e\" match {}\n}", "\n    reason \"r\"\n}",
         "\n    to \"a\"\n}", "", "\n    tags [\"a\"]\n}", " ==\n}"]
DECLS = ["rule r {{\n    when {0}", "ignore i {{\n    reason \"x\"\n    when {0}",
         "route t {{\n    to \"a\"\n    when {0}", "macro m = {0}\n", "rule r {{\n    when ({0})",
         "rule r {{\n    when not {0}"]


@st.composite
def chains(draw: st.DrawFn) -> str:
    count = draw(st.integers(1, 5))
    clauses = []
    for _ in range(count):
        clauses.append(draw(st.sampled_from(HEADS[:3] * 6 + HEADS)) +
                       draw(st.sampled_from(SEGMENTS[:3] * 5 + SEGMENTS)) +
                       draw(st.sampled_from(OPS[:2] * 8 + OPS)) +
                       draw(st.sampled_from(VALUES[:1] * 10 + VALUES)))
    joins = draw(st.sampled_from([JOINS[:1], JOINS[1:2], JOINS]))
    text = clauses[0]
    for clause in clauses[1:]:
        text += draw(st.sampled_from(joins)) + clause
    decl = draw(st.sampled_from(DECLS))
    return decl.format(text) + draw(st.sampled_from(AFTER))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=chains())
def test_when_chains_parse_the_same_read_whole_or_by_the_rules(text: str) -> None:
    token_by_token, *others = _all_ways(text)
    assert all(o == token_by_token for o in others), text


@pytest.mark.parametrize("text", [
    'rule r {\n    when a == "x" or b.0.c != "y" or c == ""\n}\n',
    'rule r {\n    when a == "x"\n      and b == "y"  # why\n    severity high\n}\n',
    'rule r {\n    when a == "x" and b == "y" or c == "z"\n}\n',
    'rule r {\n    when a == "x" or b == "y"}',
    'rule r {\n    when a == "x" or b == "y"',
    'rule r {\n    when a == "x" or b == "y" severity\n}\n',
    'macro m = a == "x" or b == "y"\nrule r {\n    when m\n}\n',
    'rule r {\n\twhen\f a\n==\n"x"\n\tor\n b != "\u00e9"\n}\n',
])
def test_when_edge_cases_parse_the_same_every_way(text: str) -> None:
    token_by_token, *others = _all_ways(text)
    assert all(o == token_by_token for o in others)


def test_a_long_chain_is_read_whole() -> None:
    text = "rule r {\n    when " + " or ".join(f'u == "{i}"' for i in range(50)) + "\n}\n"
    seen: list[str] = []
    original = parser._fast_when

    def spy(*args: Any) -> Any:
        token = original(*args)
        seen.append("whole" if token is not None else "rules")
        return token

    parser._fast_when = spy  # type: ignore[assignment]
    try:
        result = parser.parse(text, "t.ctr")
    finally:
        parser._fast_when = original  # type: ignore[assignment]
    assert seen == ["whole"]
    assert _all_ways(text)[0] == ("ok", result.file, result.diagnostics)


@given(st.text(alphabet="ab_1 \n\t.-é\u00a0\u2028\x0b", max_size=14), st.data())
def test_the_word_before_an_error_is_what_the_regex_found(text: str, data: st.DataObject) -> None:
    import re

    pos = data.draw(st.integers(0, len(text)))
    found = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\s*$", text[:pos])
    assert parser._word_before(text, pos) == (found.group(1) if found else "")
