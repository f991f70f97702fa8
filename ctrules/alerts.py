"""Pipeline stage 5 — alerts: what `RuleSet.evaluate` hands to routing, grouping and delivery."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import FrozenInstanceError
from typing import Any

import orjson

_SAFE_DEPTH = 64
_SURROGATE = re.compile("[\ud800-\udfff]")


class AlertSource:
    """What every alert of one rule shares: its name, severity, tags and description, and how
    its summary and group key are made from the matched record (`RuleSet` keeps one per rule,
    so an alert costs one small object; the derived fields are made when first read)."""

    __slots__ = ("rule", "severity", "tags", "description", "summary", "group_key")

    def __init__(self, rule: str, severity: str, tags: tuple[str, ...], description: str,
                 summary: Callable[[Any], str] | None = None,
                 group_key: Callable[[Any], tuple[str, ...]] | None = None):
        self.rule = rule
        self.severity = severity
        self.tags = tags
        self.description = description
        self.summary = summary
        self.group_key = group_key


class Alert:
    """One rule matching one CloudTrail record.

    `ignored_by` names the ignore declarations that covered this rule for this record; an alert
    with any is *suppressed*: counted and reported, never delivered.
    `group_key` is the rule's grouping key (its `group_by` paths, or rule + principal +
    eventName + account by default), rendered as strings, for de-noising bursts.

    An alert is a value: immutable, compared, hashed and printed by its fields (`event` is left
    out of the printed form). Alerts made by `RuleSet.evaluate` render `summary` and `group_key`
    from the record when first read (most matched records are only counted, or suppressed):
    the values are those the rule's template and grouping give for `event`, and a template that
    cannot be rendered raises when read, as it would have when the alert was made.
    """

    __slots__ = ("_source", "event", "ignored_by", "state", "_summary", "_group_key")
    __match_args__ = ("rule", "severity", "summary", "event", "ignored_by", "tags", "description",
                      "group_key", "state")

    _source: AlertSource
    _summary: str
    _group_key: tuple[str, ...]
    event: Mapping[str, Any]
    ignored_by: tuple[str, ...]
    state: Mapping[str, Any] | None
    """A stateful rule's decision: key, window, count / distinct values, sample eventIDs."""

    def __init__(self, rule: str, severity: str, summary: str, event: Mapping[str, Any],
                 ignored_by: tuple[str, ...] = (), tags: tuple[str, ...] = (),
                 description: str = "", group_key: tuple[str, ...] = (),
                 state: Mapping[str, Any] | None = None):
        _set_source(self, AlertSource(rule, severity, tags, description))
        _set_event(self, event)
        _set_ignored_by(self, ignored_by)
        _set_state(self, state)
        _set_summary(self, summary)
        _set_group_key(self, group_key)

    @property
    def rule(self) -> str:
        return self._source.rule

    @property
    def severity(self) -> str:
        return self._source.severity

    @property
    def tags(self) -> tuple[str, ...]:
        return self._source.tags

    @property
    def description(self) -> str:
        return self._source.description

    @property
    def summary(self) -> str:
        try:
            return self._summary
        except AttributeError:  # not rendered yet
            pass
        render = self._source.summary
        value = render(self.event) if render is not None else ""
        _set_summary(self, value)
        return value

    @property
    def group_key(self) -> tuple[str, ...]:
        try:
            return self._group_key
        except AttributeError:
            pass
        make = self._source.group_key
        value = make(self.event) if make is not None else ()
        _set_group_key(self, value)
        return value

    # ---- a value ----------------------------------------------------------------------------

    def _values(self) -> tuple[Any, ...]:
        return (self.rule, self.severity, self.summary, self.event, self.ignored_by, self.tags,
                self.description, self.group_key, self.state)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        return (f"Alert(rule={self.rule!r}, severity={self.severity!r}, "
                f"summary={self.summary!r}, ignored_by={self.ignored_by!r}, tags={self.tags!r}, "
                f"description={self.description!r}, group_key={self.group_key!r}, "
                f"state={self.state!r})")

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (Alert, self._values())

    # ---- derived ----------------------------------------------------------------------------

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
        source = self._source
        event = self.event
        if type(event) is dict:
            event_id, name, account = (event.get("eventID"), event.get("eventName"),
                                       event.get("recipientAccountId"))
            event_id = event_id if type(event_id) is str else self.event_id
            name = name if type(name) is str else self.event_name
            account = account if type(account) is str else self.account
        else:
            event_id, name, account = self.event_id, self.event_name, self.account
        return {
            "rule": source.rule,
            "severity": source.severity,
            "summary": self.summary,
            "eventID": event_id,
            "eventName": name,
            "account": account,
            "tags": list(source.tags),
            "ignored_by": list(self.ignored_by),
            "event": event,
        }

    def to_json(self) -> tuple[bytes, bool]:
        """`to_dict` as one JSON line (no newline), and whether it had to be made safe."""
        return json_line(self.to_dict())


# Slots are set through their descriptors: `Alert.__setattr__` refuses (an alert is a value).
_SLOTS: Any = Alert.__dict__
_set_source = _SLOTS["_source"].__set__
_set_event = _SLOTS["event"].__set__
_set_ignored_by = _SLOTS["ignored_by"].__set__
_set_state = _SLOTS["state"].__set__
_set_summary = _SLOTS["_summary"].__set__
_set_group_key = _SLOTS["_group_key"].__set__
_new = object.__new__


def matched(source: AlertSource, record: Mapping[str, Any], ignored_by: tuple[str, ...]) -> Alert:
    """The alert `RuleSet.evaluate` makes: summary and group key rendered when first read."""
    alert: Alert = _new(Alert)
    _set_source(alert, source)
    _set_event(alert, record)
    _set_ignored_by(alert, ignored_by)
    _set_state(alert, None)
    return alert


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
