"""The checker (ctrules.checks) against files written to be wrong, and files written to be tricky
but right.

Broken cases live in tests/checks/broken/: a `.ctr` file is checked on its own, a directory is
checked as one rule set. Each file states what it must produce, as data in comments:

    # expect: CTR010 14:24        one finding: code, line, column (both from 1)
    # ignore: CTR104              codes this file does not assert (e.g. missing examples)

and the findings must be exactly those — a missing finding and an unexpected one both fail.
Valid cases live in tests/checks/valid/ and must produce no finding at all.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from pathlib import Path

import pytest

from ctrules import checks
from ctrules.checks import CODES, check_sources, load_sources
from ctrules.diagnostics import Diagnostic

HERE = Path(__file__).parent
BROKEN = HERE / "broken"
VALID = HERE / "valid"
DOCS = HERE.parent.parent / "docs" / "diagnostics.md"
TODAY = date(2026, 6, 1)  # fixed, so `expires` findings do not drift with the calendar

_EXPECT = re.compile(r"#\s*expect:\s*(CTR\d{3})\s+(\d+):(\d+)")
_IGNORE = re.compile(r"#\s*ignore:\s*((?:CTR\d{3}[ ,]*)+)")


def _expectations(files: list[Path]) -> tuple[set[tuple[str, str, int, int]], set[str]]:
    expected: set[tuple[str, str, int, int]] = set()
    ignored: set[str] = set()
    for file in files:
        text = file.read_text("utf-8")
        for code, line, col in _EXPECT.findall(text):
            expected.add((str(file), code, int(line), int(col)))
        for group in _IGNORE.findall(text):
            ignored.update(re.findall(r"CTR\d{3}", group))
    return expected, ignored


def _found(diagnostics: list[Diagnostic], ignored: set[str]) -> set[tuple[str, str, int, int]]:
    return {(d.span.file, d.code, d.span.line, d.span.col)
            for d in diagnostics if d.code not in ignored}


def _broken_cases() -> list[Path]:
    return sorted(p for p in BROKEN.iterdir() if p.suffix == ".ctr" or p.is_dir())


def _check(path: Path) -> tuple[list[Path], list[Diagnostic]]:
    files = sorted(path.rglob("*.ctr")) if path.is_dir() else [path]
    _, diagnostics = check_sources(load_sources([path]), today=TODAY)
    return files, diagnostics


def _show(diagnostics: list[Diagnostic]) -> str:
    return "\n".join(f"{d.span}: {d.code} {d.message}" for d in diagnostics)


@pytest.mark.parametrize("case", _broken_cases(), ids=lambda p: p.name)
def test_broken_files_report_each_mistake_where_it_is(case: Path) -> None:
    files, diagnostics = _check(case)
    expected, ignored = _expectations(files)
    assert expected, f"{case} states no expectations"
    found = _found(diagnostics, ignored)
    missing = sorted(expected - found)
    unexpected = sorted(found - expected)
    assert not missing and not unexpected, (
        f"missing: {missing}\nunexpected: {unexpected}\nall findings:\n{_show(diagnostics)}")


@pytest.mark.parametrize("case", sorted(VALID.glob("*.ctr")), ids=lambda p: p.name)
def test_valid_tricky_files_are_clean(case: Path) -> None:
    _, diagnostics = _check(case)
    assert diagnostics == [], _show(diagnostics)


def test_valid_files_are_clean_as_one_rule_set() -> None:
    # Together they must not collide either (one namespace across files).
    _, diagnostics = check_sources(load_sources([VALID]), today=TODAY)
    assert diagnostics == [], _show(diagnostics)


# ---- the whole rule set at once ------------------------------------------------------------------


def test_syntax_error_in_one_file_hides_nothing_in_the_others() -> None:
    _, diagnostics = _check(BROKEN / "multi")
    by_file = {Path(d.span.file).name for d in diagnostics}
    assert {"b_second.ctr", "c_broken.ctr"} <= by_file
    # a name the broken file declares is not reported as undefined on top of its syntax error
    assert not any("from_broken_file" in d.message for d in diagnostics), _show(diagnostics)


def test_duplicate_name_points_at_the_second_and_names_the_first() -> None:
    _, diagnostics = _check(BROKEN / "multi")
    (dup,) = [d for d in diagnostics if d.code == "CTR002"]
    assert dup.span.file.endswith("b_second.ctr")
    assert dup.hint is not None and "a_first.ctr:3:6" in dup.hint


def test_findings_are_sorted_by_file_line_col() -> None:
    _, diagnostics = check_sources(load_sources([BROKEN]), today=TODAY)
    keys = [(d.span.file, d.span.line, d.span.col) for d in diagnostics]
    assert keys == sorted(keys)
    assert len({d.span.file for d in diagnostics}) > 5


def test_every_source_is_parsed_and_returned() -> None:
    sources = [("one.ctr", 'rule a { when eventName == "StopLogging" }'),
               ("two.ctr", "rule b { when = }"),
               ("three.ctr", 'list l = ["x"]')]
    files, diagnostics = check_sources(sources, today=TODAY)
    assert [f.path for f in files] == ["one.ctr", "three.ctr"]
    assert [d.code for d in diagnostics if d.is_error] == ["CTR001"]


def test_not_utf8_is_a_positioned_syntax_error(tmp_path: Path) -> None:
    (tmp_path / "bad.ctr").write_bytes(b'rule a {\n  when eventName == "\xff" }\n')
    (tmp_path / "good.ctr").write_text("rule b { when readOnly }\n", "utf-8")
    _, diagnostics = check_sources(load_sources([tmp_path]), today=TODAY)
    got = [(Path(d.span.file).name, d.code, d.span.line, d.span.col) for d in diagnostics
           if d.code != "CTR104"]
    assert got == [("bad.ctr", "CTR001", 2, 22), ("good.ctr", "CTR010", 1, 15)]


def test_load_sources_searches_directories_recursively_in_order(tmp_path: Path) -> None:
    for name in ("b.ctr", "a/z.ctr", "a/b/c.ctr", "notes.txt"):
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("# " + name, "utf-8")
    single = tmp_path / "notes.txt"
    names = [Path(f).relative_to(tmp_path).as_posix()
             for f, _ in load_sources([tmp_path, single])]
    assert names == ["a/b/c.ctr", "a/z.ctr", "b.ctr", "notes.txt"]
    # a file named twice (a directory and a file inside it) is read once
    again = load_sources([tmp_path / "a", tmp_path / "a" / "z.ctr", tmp_path / "a"])
    assert [Path(f).name for f, _ in again] == ["c.ctr", "z.ctr"]
    with pytest.raises(FileNotFoundError):
        load_sources([tmp_path / "missing"])


@pytest.mark.parametrize(("expires", "expired"),
                         [("2026-05-31", True), ("2026-06-01", False), ("2026-06-02", False)])
def test_an_ignore_is_valid_through_its_expiry_date(expires: str, expired: bool) -> None:
    text = (f'ignore i {{ reason "r" owner "o" expires "{expires}" '
            'when userIdentity.userName == "ci" }')
    _, diagnostics = check_sources([("i.ctr", text)], today=TODAY)
    assert [d.code for d in diagnostics] == (["CTR017"] if expired else [])


def test_messages_and_hints_say_what_to_do() -> None:
    text = ('rule r {\n    when readOnly == "true" and readOnly\n'
            '      and userIdentity.arn == "requestParameters.userName"\n}\n')
    _, diagnostics = check_sources([("r.ctr", text)], today=TODAY)
    by_code = {d.code: d for d in diagnostics}
    assert by_code["CTR101"].hint == "readOnly == true"
    assert "no truthiness" in (by_code["CTR010"].hint or "")
    assert "remove the quotes" in (by_code["CTR102"].hint or "")


def test_recursive_macro_finding_shows_the_cycle() -> None:
    _, diagnostics = _check(BROKEN / "macros.ctr")
    cycles = sorted(d.message for d in diagnostics if d.code == "CTR011")
    assert cycles == ["recursive macro: a -> b -> c -> a",
                      "recursive macro: selfish -> selfish"]


def test_invalid_regex_is_reported_without_logging_to_stderr(
        capfd: pytest.CaptureFixture[str]) -> None:
    _, diagnostics = check_sources([("r.ctr", 'rule r { when eventName matches "(" }')],
                                   today=TODAY)
    assert "CTR014" in {d.code for d in diagnostics}
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize("text", [
    "rule r { when " + "not " * 2000 + 'eventName == "StopLogging" }',
    "rule r { when " + "any a (" * 1000 + 'x == "x"' + ")" * 1000 + " }",
    "macro m = " + "not " * 440 + 'eventName == "StopLogging"\nrule r { when m }',
    'macro m0 = eventName == "StopLogging"\n'
    + "".join(f"macro m{i} = m{i - 1} and userAgent == \"{i}\"\n" for i in range(1, 3000))
    + "rule r { when m2999 }",
])
def test_absurd_nesting_is_a_finding_not_a_crash(text: str) -> None:
    _, diagnostics = check_sources([("deep.ctr", text)], today=TODAY)
    assert "CTR021" in {d.code for d in diagnostics if d.is_error}


def test_redundant_parentheses_do_not_count_as_nesting() -> None:
    text = "rule r { when " + "(" * 2000 + 'eventName == "StopLogging"' + ")" * 2000 + " }"
    _, diagnostics = check_sources([("parens.ctr", text)], today=TODAY)
    assert [d.code for d in diagnostics] == ["CTR104"]


# ---- the code table and its documentation ------------------------------------------------------


def test_every_finding_uses_a_code_from_the_table_with_its_severity() -> None:
    _, diagnostics = check_sources(load_sources([BROKEN]), today=TODAY)
    for d in diagnostics:
        assert d.code in CODES, d
        assert d.severity == CODES[d.code].severity, d


def test_every_built_in_code_is_exercised_by_a_broken_file() -> None:
    _, diagnostics = check_sources(load_sources([BROKEN]), today=TODAY)
    # Extra checks (ctrules.checks_cloudtrail, ctrules.checks.schema_lint) do not run on a rule set
    # that nests too deeply (too_deep.ctr); their codes are asserted file by file.
    external = {"CTR107", "CTR108", "CTR114", "CTR115", "CTR116"}
    assert set(CODES) - external <= {d.code for d in diagnostics}


def test_every_code_is_documented_with_an_example_and_a_fix() -> None:
    doc = DOCS.read_text("utf-8")
    sections = re.split(r"^### ", doc, flags=re.MULTILINE)[1:]
    documented = {s.split()[0]: s for s in sections}
    assert set(documented) == set(CODES)
    for code, info in CODES.items():
        section = documented[code]
        assert info.name in section.splitlines()[0], code
        assert info.severity in section, code
        assert "```" in section, f"{code}: no example"
        assert "Fix" in section, f"{code}: no fix"


def test_codes_are_errors_below_100_and_warnings_from_101() -> None:
    for code, info in CODES.items():
        assert re.fullmatch(r"CTR\d{3}", code)
        assert info.severity == ("error" if int(code[3:]) < 100 else "warning"), code


# ---- soundness of the constant analysis ----------------------------------------------------------


def test_lower_never_yields_ascii_capitals_and_upper_never_ascii_small_letters() -> None:
    # CTR105 relies on this for `lower(x) == "Admin"`; check it for every code point.
    for cp in range(0x110000):
        ch = chr(cp)
        if unicodedata.category(ch) == "Cs":
            continue
        assert not re.search(r"[A-Z]", ch.lower()), hex(cp)
        assert not re.search(r"[a-z]", ch.upper()), hex(cp)
    # ... including the context-dependent final sigma
    assert "ΑΣ".lower() == "ας"


@pytest.mark.parametrize("when", [
    'requestParameters.name == "a" and requestParameters.name == "b"',  # may be an array
    'resources.type == "a" and resources.type == "b"',  # crosses an array
    'any resources (type == "a") and any resources (type == "b")',
    'any resources (type == "a" and event.eventName == "StopLogging")',
    'eventName == "StopLogging" or eventName != "DeleteTrail"',
    'len(requestParameters.policy) <= 0',
    'lower(eventName) == "stoplogging"',
    'all resources (false)',
    'any resources (true)',
    'not (eventName != "StopLogging")',
])
def test_not_constant(when: str) -> None:
    text = f"rule r {{ when {when} }}"
    _, diagnostics = check_sources([("r.ctr", text)], today=TODAY)
    assert not {d.code for d in diagnostics} & {"CTR105", "CTR106"}, _show(diagnostics)


# ---- the extension hook ------------------------------------------------------------------------


def test_extra_checks_run_over_all_parsed_files(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []

    def extra(files: list[checks.n.RuleFile]) -> list[Diagnostic]:
        seen.append([f.path for f in files])
        span = checks.n.Span("x.ctr", 1, 1, 1, 2)
        return [Diagnostic("CTR107", "warning", "from the hook", span)]

    monkeypatch.setattr(checks, "EXTRA_CHECKS", [extra])
    monkeypatch.setattr(checks, "_CLOUDTRAIL_CHECKS", "ctrules.no_such_module_here")
    _, diagnostics = check_sources([("x.ctr", 'list l = ["a"]'), ("y.ctr", "list m = [")],
                                   today=TODAY)
    assert seen == [["x.ctr"]]
    assert "from the hook" in {d.message for d in diagnostics}


# ---- through the command line ------------------------------------------------------------------


def test_ctrules_check_exit_codes_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from ctrules import cli

    assert cli.main(["check", "--format", "json", str(VALID)]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert cli.main(["check", "--format", "json", str(BROKEN / "multi")]) == 1
    findings = json.loads(capsys.readouterr().out)
    assert {"file", "line", "col", "code", "severity", "message"} <= set(findings[0])
    assert {f["code"] for f in findings} >= {"CTR001", "CTR002", "CTR010"}
    # warnings alone do not fail the check
    assert cli.main(["check", str(BROKEN / "examples.ctr")]) == 0
    assert "CTR104 warning" in capsys.readouterr().out
