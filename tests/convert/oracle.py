"""Test-only oracle: the old tool's own semantics, to compare converted rules against.

fivexl/terraform-aws-cloudtrail-to-slack flattens each event (dict keys joined with '.', list
elements by index, only leaves kept) and runs `eval(rule, {}, {"event": flat}) is True`; a rule
that raises is an error and does not match. Ignore rules are tried first: any ignore that is True
drops the event. This module reproduces that — and is the ONLY place in the repository where rule
text is evaluated: it exists to check `ctrules convert`, and lives under tests/ on purpose.
"""

from __future__ import annotations

import functools
from types import CodeType
from typing import Any


def flatten_json(y: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}

    def flatten(x: Any, name: str = "") -> None:
        if type(x) is dict:
            for a in x:
                flatten(x[a], name + a + ".")
        elif type(x) is list:
            for i, a in enumerate(x):
                flatten(a, name + str(i) + ".")
        else:
            out[name[:-1]] = x

    flatten(y)
    return out


@functools.cache
def _code(rule: str) -> CodeType | None:
    try:
        return compile(rule, "<rule>", "eval")
    except SyntaxError:
        return None  # the old tool: an error on every event, never a match


def old_verdict(rule: str, event: Any, flat: dict[str, Any] | None = None) -> bool:
    """True when the old tool would count `rule` as matching `event`."""
    if flat is None:
        flat = flatten_json(event) if isinstance(event, dict) else {}
    code = _code(rule)
    if code is None:
        return False
    try:
        return eval(code, {}, {"event": flat}) is True  # noqa: S307 — the oracle, tests only
    except Exception:
        return False


def old_should_process(event: Any, rules: list[str], ignore_rules: list[str]) -> tuple[bool, bool]:
    """(processed, ignored) as the old `should_message_be_processed` decides them."""
    for ignore in ignore_rules:
        if old_verdict(ignore, event):
            return False, True
    return any(old_verdict(rule, event) for rule in rules), False
