"""Pipeline stage 5 — alerts: what `RuleSet.evaluate` hands to routing, grouping and delivery."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Alert:
    """One rule matching one CloudTrail record.

    `ignored_by` names the ignore declarations that covered this rule for this record; an alert
    with any is *suppressed*: counted and reported, never delivered.
    `group_key` is the rule's grouping key (its `group_by` paths, or rule + principal +
    eventName + account by default), rendered as strings, for de-noising bursts.
    """

    rule: str
    severity: str
    summary: str
    event: Mapping[str, Any] = field(repr=False)
    ignored_by: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    description: str = ""
    group_key: tuple[str, ...] = ()
    state: Mapping[str, Any] | None = None
    """A stateful rule's decision: key, window, count / distinct values, sample eventIDs."""

    @property
    def ignored(self) -> bool:
        return bool(self.ignored_by)

    def _field(self, key: str) -> Any:
        return self.event.get(key) if isinstance(self.event, Mapping) else None

    @property
    def event_id(self) -> str | None:
        value = self._field("eventID")
        return value if isinstance(value, str) else None

    @property
    def event_name(self) -> str | None:
        value = self._field("eventName")
        return value if isinstance(value, str) else None

    @property
    def account(self) -> str | None:
        value = self._field("recipientAccountId")
        return value if isinstance(value, str) else None

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape `ctrules run` prints, one per line."""
        if self.state is not None:
            return {**self._dict(), "state": dict(self.state)}
        return self._dict()

    def _dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "summary": self.summary,
            "eventID": self.event_id,
            "eventName": self.event_name,
            "account": self.account,
            "tags": list(self.tags),
            "ignored_by": list(self.ignored_by),
            "event": self.event,
        }
