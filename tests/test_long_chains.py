"""Very long `and`/`or` chains (5,000 and 20,000 clauses) go through every command without
RecursionError and with the right answers: load, evaluate (through the dispatch residual and
the field index), check, fmt, test and explain. (How fast is measured in bench/loading.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import ctrules
from ctrules import nodes as n
from ctrules.checks import check_sources
from ctrules.cli import main
from ctrules.formatter import format_text
from ctrules.parser import parse

SIZES = [5000, 20000]


def _rule(op: str, clauses: int) -> str:
    # `or`: one of the user names; `and`: none of them (both can match and can miss).
    test = "==" if op == "or" else "!="
    chain = f" {op} ".join(f'userIdentity.userName {test} "user-{i}"' for i in range(clauses))
    hit, miss = (f"user-{clauses - 1}", "someone") if op == "or" else ("someone", "user-7")
    return (f"rule long_{op} {{\n    severity low\n    when eventSource == \"s3.amazonaws.com\" "
            f"and ({chain})\n"
            f'    example "hit" match {_event(hit)}\n'
            f'    example "miss" no match {_event(miss)}\n}}\n')


def _event(user: str) -> str:
    return json.dumps({"eventSource": "s3.amazonaws.com", "eventName": "GetObject",
                       "userIdentity": {"type": "IAMUser", "userName": user}})


@pytest.fixture(scope="module", params=[(op, size) for op in ("or", "and") for size in SIZES],
                ids=lambda p: f"{p[0]}-{p[1]}")
def chain(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, int, Path]:
    op, size = request.param
    path = tmp_path_factory.mktemp("chains") / f"long_{op}_{size}.ctr"
    path.write_text(_rule(op, size))
    return op, size, path


def _users(op: str, size: int) -> tuple[str, str]:
    return (f"user-{size - 1}", "someone") if op == "or" else ("someone", "user-7")


def test_loads_and_evaluates(chain: tuple[str, int, Path]) -> None:
    op, size, path = chain
    hit, miss = _users(op, size)
    files, _ = check_sources([(str(path), path.read_text())], catalog=False)
    for use_index in (True, False):
        rules = ctrules.RuleSet(files, use_index=use_index)
        event = json.loads(_event(hit))
        assert [a.rule for a in rules.evaluate(event)] == [f"long_{op}"]
        assert rules.evaluate(json.loads(_event(miss))) == []
        assert rules.evaluate({**event, "eventSource": "ec2.amazonaws.com"}) == []
        assert rules.evaluate({**event, "userIdentity": [{"userName": hit}]}) \
            == rules.evaluate({"eventSource": "s3.amazonaws.com", "eventName": "GetObject",
                               "userIdentity": [{"userName": hit}]})


def test_checks(chain: tuple[str, int, Path], capsys: pytest.CaptureFixture[str]) -> None:
    _op, _size, path = chain
    _, findings = check_sources([(str(path), path.read_text())])
    assert not [d for d in findings if d.is_error]
    assert main(["check", str(path)]) == 0
    assert "error" not in capsys.readouterr().out.replace("0 error(s)", "")


def test_runs_its_examples(chain: tuple[str, int, Path], capsys: pytest.CaptureFixture[str]) -> None:
    _op, _size, path = chain
    assert main(["test", str(path)]) == 0
    assert "2 passed, 0 failed" in capsys.readouterr().out


def _compared(e: n.Expr) -> list[n.Value]:
    """The right sides of the comparisons under `e`, in order (no recursion)."""
    out: list[n.Value] = []
    pending = [e]
    while pending:
        node = pending.pop()
        if isinstance(node, (n.And, n.Or)):
            pending.extend(reversed(node.operands))
        elif isinstance(node, n.Compare) and isinstance(node.right, n.Literal_):
            out.append(node.right.value)
    return out


def test_formats_to_the_same_rule(chain: tuple[str, int, Path]) -> None:
    _op, size, path = chain
    text = path.read_text()
    formatted = format_text(text, str(path))
    assert format_text(formatted, str(path)) == formatted
    before = parse(text, "a.ctr").file.decls[0]
    after = parse(formatted, "a.ctr").file.decls[0]
    assert isinstance(before, n.RuleDecl) and isinstance(after, n.RuleDecl)
    assert before.when is not None and after.when is not None
    assert _compared(after.when) == _compared(before.when)
    assert len(_compared(after.when)) == size + 1
    assert type(after.when) is type(before.when)


def test_explains(chain: tuple[str, int, Path], tmp_path: Path,
                  capsys: pytest.CaptureFixture[str]) -> None:
    op, size, path = chain
    hit, _miss = _users(op, size)
    event = tmp_path / "event.json"
    event.write_text(_event(hit))
    assert main(["explain", str(path), str(event)]) == 0
    out = capsys.readouterr().out
    assert f"rule long_{op}: MATCH" in out
    assert f'✓ userIdentity.userName == "user-{size - 1}"' in out if op == "or" \
        else f'✓ userIdentity.userName != "user-{size - 1}"' in out
