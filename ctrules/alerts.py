"""Pipeline stage 5 — alerts: what `RuleSet.evaluate` hands to routing, grouping and delivery."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

_SAFE_DEPTH = 64
_SURROGATE = re.compile("[\ud800-\udfff]")


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

    def to_json(self) -> tuple[bytes, bool]:
        """`to_dict` as one JSON line (no newline), and whether it had to be made safe."""
        return json_line(self.to_dict())


def json_line(value: Any) -> tuple[bytes, bool]:
    """Serialise for output; never raises. orjson refuses some data that decodes fine (a lone
    surrogate, an integer >= 2**64, nesting past 255): such values are rewritten — surrogates
    as U+FFFD, big integers as strings, deep nesting cut off — and the second item says so."""
    try:
        return orjson.dumps(value, default=str), False
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return orjson.dumps(_safe(value, 0), default=str), True


def _safe(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        if -(2**63) <= value < 2**64:
            return value
        try:
            return str(value)
        except ValueError:
            return "<integer too long>"
    if depth >= _SAFE_DEPTH:
        return "<nested too deeply>"
    if isinstance(value, Mapping):
        return {_safe(str(k), depth): _safe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_safe(v, depth + 1) for v in value]
    return _safe(str(value), depth)
