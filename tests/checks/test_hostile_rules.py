"""Hostile rule files, as data: each case is an input, the public command it goes through and the
outcome it must have (issue 13). The suite grows with every bug found.

Two laws hold for every case: `ctrules check` ends with a diagnostic (never a traceback), and a
rule set that `check` accepts without errors loads — and one it refuses does not load either.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from ctrules import load_rules
from ctrules.cli import main
from ctrules.diagnostics import RuleSetError


def _macro_chain(levels: int) -> str:
    """`m0 = m1 and m1`, `m1 = m2 and m2`, ...: each level doubles the expanded size."""
    lines = [f"macro m{i} = m{i + 1} and m{i + 1}" for i in range(levels)]
    lines.append(f'macro m{levels} = eventName == "StopLogging"')
    lines.append('rule chained { when eventSource == "cloudtrail.amazonaws.com" and m0 }')
    return "\n".join(lines) + "\n"


def _junction(op: str, clauses: int) -> str:
    cmp = "!=" if op == "and" else "=="
    body = f" {op} ".join(f'requestParameters.bucketName {cmp} "b{i}"' for i in range(clauses))
    return f'rule long_{op} {{ when eventSource == "s3.amazonaws.com" and ({body}) }}\n'


def _nested(levels: int) -> str:
    expr = 'eventName == "a"'
    for i in range(levels):
        expr = f'({expr} {"and" if i % 2 else "or"} eventName == "b{i}")'
    return f"rule nested {{ when {expr} }}\n"


@dataclass(frozen=True)
class Case:
    name: str
    text: str
    code: str | None  # the error `check` reports, None when the file is valid
    where: tuple[int, int] | None = None  # line, col of that error
    says: str = ""  # part of its message
    shows: str = ""  # the source line its caret is under


CASES = [
    Case("macro chain, 20 levels", _macro_chain(20), "CTR022", says="nodes"),
    Case("macro chain, 40 levels", _macro_chain(40), "CTR022", says="the limit is 100,000"),
    Case("macro chain within the limit", _macro_chain(10), None),
    Case("2,000-clause and", _junction("and", 2000), None),
    Case("5,000-clause or", _junction("or", 5000), None),
    Case("100k-? glob", 'rule g { when eventName glob "' + "?" * 100_000 + '" }\n', "CTR022",
         (1, 30), "a string of 100,000 characters"),
    Case("5 MB string", 'rule s { when eventName == "' + "a" * 5_000_000 + '" }\n', "CTR022",
         (1, 28), "the limit is 65,536"),
    Case("5,001-digit number", "rule n { when len(eventName) == " + "9" * 5001 + " }\n",
         "CTR022", (1, 33), "a number of 5,001 characters"),
    Case("5,001-digit number in an example",
         'rule e { when eventName == "x"\n example "big" match {"n": ' + "1" * 5001 + "} }\n",
         "CTR022", (2, 28), "a number"),
    Case("form feed, U+2028, U+0085 in a comment", '# a\x0cb\u2028c\x85d\nrule r { when x = "y" }\n',
         "CTR001", (2, 17), "unexpected '='", shows='rule r { when x = "y" }'),
    Case("byte-order mark", '\ufeffrule r { when eventName == "x" }\n', "CTR001", (1, 1),
         "byte-order mark"),
    Case("tab inside a string", 'rule r { when eventName == "a\tb" }\n', "CTR001", (1, 30),
         "a tab inside a string"),
    Case("Cyrillic a in a name", 'rule r { when eventN\u0430me == "x" }\n', "CTR001", (1, 21),
         "looks like 'a'"),
    Case("Greek omicron in a keyword", 'rule r { when eventName == "x" \u03bfr x == "y" }\n',
         "CTR001", (1, 32), "GREEK SMALL LETTER OMICRON"),
    Case("U+202E in a comment", '# see \u202e here\nrule r { when eventName == "x" }\n',
         "CTR023", (1, 7), "U+202E RIGHT-TO-LEFT OVERRIDE", shows="# see \ufffd here"),
    Case("U+2066 in a string", 'rule r { when eventName == "a\u2066b" }\n', "CTR023", (1, 30),
         "bidirectional"),
]


def _check(tmp_path: Path, case: Case, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    path = tmp_path / "hostile.ctr"
    path.write_text(case.text, "utf-8")
    status = main(["check", str(path)])
    out = capsys.readouterr()
    return status, out.out + out.err


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_check_gives_a_precise_diagnostic(case: Case, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    status, output = _check(tmp_path, case, capsys)
    assert "Traceback" not in output
    if case.code is None:
        assert status == 0, output
        assert " error:" not in output
        return
    assert status == 1, output
    lines = output.splitlines()
    heads = [i for i, line in enumerate(lines) if f" {case.code} error: " in line]
    assert heads, output[:2000]
    head = heads[0]
    if case.where is not None:
        line, col = case.where
        assert lines[head].startswith(f"{tmp_path / 'hostile.ctr'}:{line}:{col}: "), lines[head]
    assert case.says in lines[head]
    if case.shows:
        assert lines[head + 1].strip() == case.shows
        assert lines[head + 2].index("^") == lines[head + 1].index(case.shows) + (
            case.where[1] - 1 if case.where else 0)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_what_check_accepts_loads_and_what_it_refuses_does_not(
        case: Case, tmp_path: Path) -> None:
    path = tmp_path / "hostile.ctr"
    path.write_text(case.text, "utf-8")
    if case.code is None:
        load_rules(path)
    else:
        with pytest.raises(RuleSetError) as refused:
            load_rules(path)
        assert case.code in {d.code for d in refused.value.diagnostics}


@pytest.mark.parametrize(("op", "clauses"), [("and", 2000), ("or", 5000)])
def test_long_junctions_evaluate_like_short_ones(op: str, clauses: int, tmp_path: Path) -> None:
    path = tmp_path / "long.ctr"
    path.write_text(_junction(op, clauses), "utf-8")
    rules = load_rules(path)

    def fires(bucket: str) -> bool:
        event = {"eventSource": "s3.amazonaws.com", "eventName": "PutObject",
                 "requestParameters": {"bucketName": bucket}}
        return bool(rules.evaluate(event))

    last = f"b{clauses - 1}"
    # `or` of ==: only a listed bucket; `and` of !=: only an unlisted one.
    assert fires(last) is (op == "or")
    assert fires("b0") is (op == "or")
    assert fires("other") is (op == "and")


def test_a_shared_macro_within_the_limit_evaluates_every_use(tmp_path: Path) -> None:
    path = tmp_path / "chain.ctr"
    path.write_text(_macro_chain(10), "utf-8")
    rules = load_rules(path)
    hit = {"eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging"}
    assert [a.rule for a in rules.evaluate(hit)] == ["chained"]
    assert rules.evaluate({**hit, "eventName": "StartLogging"}) == []


def test_fmt_refuses_absurd_nesting_with_a_diagnostic(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "nested.ctr"
    path.write_text(_nested(420), "utf-8")
    status = main(["fmt", "--check", str(path)])
    err = capsys.readouterr().err
    assert status == 1
    assert "Traceback" not in err
    assert f"{path}:1:1: CTR021 error: the file nests too deeply to format" in err


def test_fmt_refuses_an_oversized_literal_without_copying_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "big.ctr"
    text = 'rule s { when eventName == "' + "a" * 5_000_000 + '" }\n'
    path.write_text(text, "utf-8")
    status = main(["fmt", str(path)])
    err = capsys.readouterr().err
    assert status == 1
    assert f"{path}:1:28: CTR022 error: a string of 5,000,000 characters" in err
    assert path.read_text("utf-8") == text  # not rewritten
