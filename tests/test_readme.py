"""The README opens with exactly two set-up commands, and CI runs the second one verbatim."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```sh\n(.*?)```", text, re.S)
    assert block, "README.md must open with a ```sh block"
    assert text.index("```sh") < text.index("## "), "the commands come before any section"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_has_two_commands() -> None:
    commands = readme_commands()
    assert len(commands) == 2
    assert "ctrules run" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert readme_commands()[1] in ci.splitlines()


def test_the_language_tour_is_a_clean_formatted_rule_set(tmp_path: Path) -> None:
    from ctrules import check
    from ctrules.formatter import format_text

    text = (ROOT / "README.md").read_text()
    tour = re.search(r"## A two-minute tour of the language\n\n```\n(.*?)```", text, re.S)
    assert tour
    path = tmp_path / "tour.ctr"
    path.write_text(tour.group(1))
    assert check(path) == []
    assert format_text(tour.group(1), "tour.ctr") == tour.group(1)
