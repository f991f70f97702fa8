"""Pipeline stage 7a — routing and grouping: which destination gets which alerts, in how many
messages.

Routing comes from the rule set's `route` declarations (`RuleSet.destinations`); destination
names map to Slack targets in deployment configuration (factory.py). Grouping folds a batch's
alerts that share a destination and a group key into one `AlertGroup`, so a burst of thousands
of events becomes a handful of messages, each with a count and the values that differ.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..alerts import Alert

SEVERITY_RANK = {s: rank for rank, s in enumerate(("critical", "high", "medium", "low", "info"))}


class RuleSetLike(Protocol):
    """What delivery needs from a RuleSet (ctrules.ruleset.RuleSet satisfies it)."""

    def destinations(self, alert: Alert) -> Sequence[str]: ...

    def why(self, alert: Alert) -> Sequence[str]: ...


def _path(event: Mapping[str, Any], *keys: str) -> Any:
    value: Any = event
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def principal(event: Mapping[str, Any]) -> str | None:
    """The acting identity: its ARN, else the session issuer, else the identity type."""
    for keys in (
        ("userIdentity", "arn"),
        ("userIdentity", "sessionContext", "sessionIssuer", "arn"),
        ("userIdentity", "principalId"),
        ("userIdentity", "invokedBy"),
        ("userIdentity", "type"),
    ):
        value = _path(event, *keys)
        if isinstance(value, str) and value:
            return value
    return None


def group_key(alert: Alert) -> tuple[str, ...]:
    """The engine's key when it set one; else the documented default."""
    if alert.group_key:
        # The engine's key starts with the rule name; keep the rule in it either way so two
        # rules grouping by the same paths never share a message.
        key = alert.group_key
        return key if key[0] == alert.rule else (alert.rule, *key)
    event = alert.event if isinstance(alert.event, Mapping) else {}
    return (
        alert.rule,
        principal(event) or "-",
        alert.event_name or "-",
        alert.account or "-",
    )


@dataclass
class AlertGroup:
    """Alerts for one destination sharing one group key, in arrival order."""

    destination: str
    key: tuple[str, ...]
    alerts: list[Alert] = field(default_factory=list)
    unrouted: tuple[str, ...] = ()
    """Route names that took these alerts but are not configured (sent to the default)."""
    per_event: bool = False
    """One event's alerts, one per matching rule (most severe first), not one rule's events."""

    @property
    def first(self) -> Alert:
        return self.alerts[0]

    @property
    def count(self) -> int:
        return len(self.alerts)

    @property
    def event_ids(self) -> tuple[str, ...]:
        return tuple(a.event_id or "-" for a in self.alerts)

    @property
    def rules(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(a.rule for a in self.alerts))


def route(
    alerts: Sequence[Alert],
    ruleset: RuleSetLike | None,
    configured: Mapping[str, object],
    default: str,
    *,
    grouping: bool = True,
    per_event: bool = False,
) -> tuple[list[AlertGroup], int]:
    """Groups the non-ignored alerts by (destination, group key).

    `per_event`: the key is the event, so each message stands for one event and lists every
    rule that matched it (the old tool's one message per event), most severe rule first.

    Returns the groups in first-seen order and the number of ignored alerts skipped. An alert
    routed to names that are not configured goes to `default` once, and the message says which
    route names were missing; an alert routed to several configured names goes to each.
    """
    groups: dict[tuple[str, tuple[str, ...]], AlertGroup] = {}
    ignored = 0
    for index, alert in enumerate(alerts):
        if alert.ignored:
            ignored += 1
            continue
        names = tuple(ruleset.destinations(alert)) if ruleset is not None else (default,)
        if not names:
            names = (default,)
        targets: list[str] = []
        missing: list[str] = []
        for name in dict.fromkeys(names):
            if name in configured:
                targets.append(name)
            elif name == "default":
                targets.append(default)
            else:
                missing.append(name)
        if missing and default not in targets:
            targets.append(default)
        if per_event:
            # Alerts of one record share its event object; the id names it in the message.
            key: tuple[str, ...] = (alert.event_id or "-", str(id(alert.event)))
        else:
            key = group_key(alert) if grouping else (str(index),)
        for dest in dict.fromkeys(targets):
            unrouted = tuple(missing) if dest == default else ()
            group = groups.get((dest, key + unrouted))
            if group is None:
                group = AlertGroup(dest, key, unrouted=unrouted, per_event=per_event)
                groups[(dest, key + unrouted)] = group
            group.alerts.append(alert)
    if per_event:
        for group in groups.values():
            group.alerts.sort(key=lambda a: SEVERITY_RANK.get(a.severity, len(SEVERITY_RANK)))
    return list(groups.values()), ignored


def per_destination(
    groups: Sequence[AlertGroup], max_messages: int
) -> list[tuple[str, list[AlertGroup], list[AlertGroup]]]:
    """(destination, groups sent as their own messages, groups rolled into one digest message)
    per destination in first-seen order: at most `max_messages` messages each, the digest
    counting as one. What SlackSink sends and what `slack preview` shows."""
    per_dest: dict[str, list[AlertGroup]] = {}
    for group in groups:
        per_dest.setdefault(group.destination, []).append(group)
    limit = max(max_messages, 1)
    out: list[tuple[str, list[AlertGroup], list[AlertGroup]]] = []
    for name, dest_groups in per_dest.items():
        if len(dest_groups) > limit:
            out.append((name, dest_groups[: limit - 1], dest_groups[limit - 1 :]))
        else:
            out.append((name, dest_groups, []))
    return out
