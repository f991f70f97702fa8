"""ctrules — safe, fast, testable CloudTrail rules.

The pipeline: `.ctr` text → parser → AST (nodes) → checks → compiler → RuleSet.evaluate(event)
→ alerts → routing/grouping → delivery (Slack), fed by sources under a Lambda handler or worker.

    >>> import ctrules
    >>> rules = ctrules.load_rules("rules/")
    >>> for alert in rules.evaluate(record):
    ...     print(alert.rule, alert.summary)
"""

from __future__ import annotations

from pathlib import Path as _Path

from .alerts import Alert
from .diagnostics import Diagnostic, RuleSetError
from .ruleset import RuleSet, load_default_rules, load_rules

__all__ = [
    "Alert",
    "Diagnostic",
    "RuleSet",
    "RuleSetError",
    "check",
    "load_default_rules",
    "load_rules",
]

__version__ = "0.1.0"


def check(path: str | _Path) -> list[Diagnostic]:
    """Every finding (errors and warnings) for a rule file or directory, sorted by position."""
    from .checks import check_sources, load_sources

    _, findings = check_sources(load_sources([path]))
    return findings
