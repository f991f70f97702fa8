"""The command line's common surface: how every subcommand names a rule set (files, directories,
`default`), what a directory stands for, help on every argument, `check`'s one-line summary, and
GitHub annotations that survive any file name."""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

import pytest

from ctrules import diagnostics as diag
from ctrules.cli import build_parser, main
from ctrules.nodes import Span
from ctrules.rulepaths import directory_rule_files
from ctrules.ruleset import default_rule_files, default_rules_path

RULE = """\
rule {name} {{
    severity low
    summary  "{{userIdentity.arn}} called {{eventName}}"
    when     eventName == "DeleteTrail"

    example "hit" match {{"eventName": "DeleteTrail"}}
    example "miss" no match {{"eventName": "CreateTrail"}}
}}
"""


def _rule(path: Path, name: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(RULE.format(name=name))
    return path


def _walk_actions(parser: argparse.ArgumentParser, prefix: str = "ctrules"):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _walk_actions(sub, f"{prefix} {name}")
        elif not isinstance(action, argparse._HelpAction):
            yield prefix, action


def test_every_argument_of_every_subcommand_has_help() -> None:
    missing = [
        f"{where}: {action.dest}"
        for where, action in _walk_actions(build_parser())
        if not action.help
    ]
    assert missing == []


def test_rule_set_is_positional_everywhere() -> None:
    parser = build_parser()
    commands = {where: [] for where, _ in _walk_actions(parser)}
    for where, action in _walk_actions(parser):
        if action.metavar == "RULESET" and not action.option_strings:
            commands[where].append(action.dest)
    takes_rules = [c for c in commands if c.split()[1:2] in (["check"], ["test"], ["explain"],
                                                           ["run"], ["consume"], ["slack"])]
    lacking = [c for c in takes_rules if not commands[c] and not c.endswith(("slack check",
                                                                             "slack send-test"))]
    assert lacking == [] and takes_rules


def test_directory_skips_hidden_dirs_and_virtualenvs(tmp_path: Path) -> None:
    mine = _rule(tmp_path / "rules" / "mine.ctr", "mine")
    nested = _rule(tmp_path / "team" / "nested.ctr", "nested")
    # What `terraform init` and a virtualenv put next to a rules repository.
    _rule(tmp_path / ".terraform" / "modules" / "ctrules" / "rules" / "common.ctr", "copy")
    _rule(tmp_path / ".venv" / "lib" / "x.ctr", "venv_hidden")
    (tmp_path / "env").mkdir()
    (tmp_path / "env" / "pyvenv.cfg").write_text("home = /usr\n")
    _rule(tmp_path / "env" / "lib" / "y.ctr", "venv_plain")
    assert directory_rule_files(tmp_path) == [mine, nested]
    # Named explicitly, a hidden directory is read.
    assert len(directory_rule_files(tmp_path / ".terraform")) == 1


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_directory_in_a_git_work_tree_skips_ignored_files(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("build/\n*.generated.ctr\n")
    kept = _rule(tmp_path / "rules" / "kept.ctr", "kept")
    _rule(tmp_path / "build" / "out.ctr", "built")
    _rule(tmp_path / "rules" / "x.generated.ctr", "generated")
    assert directory_rule_files(tmp_path) == [kept]
    assert directory_rule_files(tmp_path / "rules") == [kept]
    # Named explicitly, an ignored directory is read.
    assert [p.name for p in directory_rule_files(tmp_path / "build")] == ["out.ctr"]


def test_the_bundled_pack_directory_means_the_pack() -> None:
    # `run rules/` is the default pack, as `run default` is; rules/compat/ (the old tool's
    # defaults again) is read only when named.
    pack = default_rules_path()
    assert directory_rule_files(pack) == default_rule_files()
    compat = directory_rule_files(pack / "compat")
    assert [p.name for p in compat] == ["fivexl.ctr"]


def test_check_prints_a_summary_when_all_is_well(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _rule(tmp_path / "a.ctr", "one")
    _rule(tmp_path / "sub" / "b.ctr", "two")
    assert main(["check", str(tmp_path)]) == 0
    assert capsys.readouterr().out == "All checks passed: 2 files, 2 rules\n"
    assert main(["check", "--format", "json", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == "[]"  # machine formats stay machine-readable


@pytest.mark.parametrize("command", ["check", "test"])
def test_default_files_and_directories_are_accepted_alike(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pack = default_rules_path()
    for args in (["default"], [str(pack)], [str(p) for p in default_rule_files()]):
        assert main([command, *args]) == 0, args
    outputs = capsys.readouterr().out.splitlines()
    assert len(set(outputs)) == 1  # the same rule set, however it was named


def test_github_annotation_properties_are_escaped() -> None:
    span = Span("rules/a,b:c%d\r\n.ctr", 3, 5, 3, 9)
    d = diag.Diagnostic("CTR001", "error", "bad: 100%\nreally", span)
    line = diag.render_github(d)
    assert line.startswith("::error file=rules/a%2Cb%3Ac%25d%0D%0A.ctr,line=3,col=5,")
    assert line.endswith("title=CTR001::bad: 100%25%0Areally")
    # One command, one line: nothing in the file name can end the properties early.
    assert "\n" not in line and line.count("::") == 2


def test_consume_takes_the_rule_set_positionally(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.ctr"
    bad.write_text("rule broken {\n  when eventName = 1\n}\n")
    assert main(["consume", "sqs", "--queue", "http://127.0.0.1:9/q", str(bad)]) == 1
    assert "CTR" in capsys.readouterr().err
    assert main(["consume", "sqs", "--queue", "http://127.0.0.1:9/q", "--rules", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "--rules is deprecated" in err and "CTR" in err
