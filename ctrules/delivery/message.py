"""Pipeline stage 7b — message rendering: an AlertGroup becomes one Slack Block Kit message.

Layout, top to bottom, for a tired engineer at 3 a.m.: a header with severity emoji and the
rule's rendered summary (with "N ×" for a group); who / what / where / when / rule fields; why
the rule fired; for a group, the values that differ across its events; the request parameters
and response elements as compact JSON; the CloudTrail eventID(s). `text` is the plain fallback
used by notifications.

Everything taken from the event is escaped for mrkdwn (`&`, `<`, `>`), so event data can never
form a link or an @channel mention, and every text is cut to Slack's limits here — by
construction a message fits, however large the payload (RunInstances can be 100s of KB).
Rendering is deterministic (no clock), which is what makes golden files possible.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from ..alerts import Alert
from .routing import AlertGroup, principal

# Slack Block Kit limits (https://api.slack.com/reference/block-kit/blocks).
MAX_BLOCKS = 50
SECTION_TEXT_LIMIT = 3000
FIELD_TEXT_LIMIT = 2000
MAX_FIELDS = 10
HEADER_TEXT_LIMIT = 150
CONTEXT_TEXT_LIMIT = 2000
MAX_CONTEXT_ELEMENTS = 10
MESSAGE_TEXT_LIMIT = 40000
FALLBACK_TEXT_LIMIT = 3000

SEVERITY_EMOJI = {
    "critical": ":rotating_light:",
    "high": ":red_circle:",
    "medium": ":large_orange_circle:",
    "low": ":large_yellow_circle:",
    "info": ":large_blue_circle:",
}

JSON_BUDGET = 2600
WHY_LINES = 12
EVENT_IDS_SHOWN = 10
VARYING_PATHS_SHOWN = 8
VALUES_PER_PATH = 6

Payload = dict[str, Any]


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fit(raw: str, budget: int, *, escaped: bool = True, suffix: str = "…") -> str:
    """`raw` (escaped for mrkdwn when `escaped`) cut so the result is at most `budget` chars.

    Cuts happen on the raw text, never inside an `&amp;` entity or a surrogate pair.
    """
    full = escape(raw) if escaped else raw
    if len(full) <= budget:
        return full
    room = max(budget - len(suffix), 0)
    lo, hi = 0, min(len(raw), room)
    # Escaping only lengthens, so the largest prefix that fits is found by bisection.
    while lo < hi:
        mid = (lo + hi + 1) // 2
        size = len(escape(raw[:mid])) if escaped else mid
        if size <= room:
            lo = mid
        else:
            hi = mid - 1
    cut = raw[:lo]
    return (escape(cut) if escaped else cut) + suffix


def code(value: str, budget: int = 500) -> str:
    # Backticks inside inline code would end it; a lookalike keeps the text readable.
    return "`" + fit(value.replace("`", "ˋ"), budget - 2) + "`"


_SURROGATE = re.compile("[\ud800-\udfff]")


def compact_json(value: Any) -> str:
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    # A lone surrogate (from a record decoded elsewhere) cannot be sent as UTF-8.
    return text if text.isascii() else _SURROGATE.sub("\ufffd", text)


def _get(event: Mapping[str, Any], dotted: str) -> Any:
    value: Any = event
    for key in dotted.split("."):
        if type(value) is not dict and not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _str(event: Mapping[str, Any], dotted: str) -> str | None:
    value = _get(event, dotted)
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else compact_json(value)


def format_time(value: str | None) -> str:
    if not value:
        return "-"
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return parsed.strftime("%Y-%m-%d %H:%M:%S UTC")


def _event(alert: Alert) -> Mapping[str, Any]:
    return alert.event if isinstance(alert.event, Mapping) else {}


def account_label(account: str | None, names: Mapping[str, str]) -> str:
    if not account:
        return "-"
    name = names.get(account)
    return f"{name} ({account})" if name else account


def _mfa(event: Mapping[str, Any]) -> str | None:
    attr = _get(event, "userIdentity.sessionContext.attributes.mfaAuthenticated")
    used = _get(event, "additionalEventData.MFAUsed")
    if isinstance(used, str):
        return "yes" if used.lower() == "yes" else "no"
    if isinstance(attr, str):
        return "yes" if attr.lower() == "true" else "no"
    if isinstance(attr, bool):
        return "yes" if attr else "no"
    return None


def _sso(event: Mapping[str, Any]) -> bool:
    arn = _str(event, "userIdentity.arn") or ""
    issuer = _str(event, "userIdentity.sessionContext.sessionIssuer.userName") or ""
    kind = _str(event, "userIdentity.type") or ""
    return (
        "AWSReservedSSO_" in arn
        or issuer.startswith("AWSReservedSSO_")
        or kind
        in (
            "IdentityCenterUser",
            "SAMLUser",
        )
    )


def who_field(event: Mapping[str, Any]) -> str:
    lines = [code(principal(event) or "-", 700)]
    details = []
    kind = _str(event, "userIdentity.type")
    if kind:
        details.append(escape(kind))
    mfa = _mfa(event)
    if mfa is not None:
        details.append(f"MFA: {mfa}" if mfa == "yes" else "*MFA: no*")
    if _sso(event):
        details.append("SSO")
    key = _str(event, "userIdentity.accessKeyId")
    if key:
        details.append("key " + code(key, 60))
    if details:
        lines.append(" · ".join(details))
    return "*Who*\n" + "\n".join(lines)


def what_field(event: Mapping[str, Any]) -> str:
    source = _str(event, "eventSource") or "-"
    name = _str(event, "eventName") or "-"
    text = f"*What*\n{code(source, 200)} {code(name, 200)}"
    error = _str(event, "errorCode")
    if error:
        text += f"\n:warning: *{fit(error, 200)}*"
        message = _str(event, "errorMessage")
        if message:
            text += ": " + fit(message, 600)
    login = _str(event, "responseElements.ConsoleLogin")
    if login and login != "Success":
        text += f"\n:warning: ConsoleLogin: *{fit(login, 100)}*"
    return text


def where_field(event: Mapping[str, Any], account_names: Mapping[str, str]) -> str:
    account = _str(event, "recipientAccountId")
    parts = [
        "account " + fit(account_label(account, account_names), 300),
        "region " + fit(_str(event, "awsRegion") or "-", 100),
        "from " + fit(_str(event, "sourceIPAddress") or "-", 300),
    ]
    return "*Where*\n" + "\n".join(parts)


def when_field(alerts: Sequence[Alert]) -> str:
    times = sorted(t for a in alerts if (t := _str(_event(a), "eventTime")))
    if not times:
        return "*When*\n-"
    if times[0] == times[-1]:
        return "*When*\n" + escape(format_time(times[0]))
    return f"*When*\n{escape(format_time(times[0]))}\nto {escape(format_time(times[-1]))}"


def rule_field(alert: Alert) -> str:
    text = f"*Rule*\n{code(alert.rule, 300)} ({escape(alert.severity)})"
    if alert.tags:
        text += "\n" + fit(", ".join(alert.tags), 400)
    return text


def rules_field(alerts: Sequence[Alert]) -> str:
    """Every rule that matched one event (per-event messages), most severe first."""
    lines = [f"{code(a.rule, 120)} ({escape(a.severity)})" for a in alerts]
    return f"*Rules ({len(lines)})*\n" + _join_fitting(lines, FIELD_TEXT_LIMIT - 20)


def agent_field(event: Mapping[str, Any]) -> str:
    return "*User agent*\n" + fit(_str(event, "userAgent") or "-", 400)


def headline(group: AlertGroup, total: int | None = None) -> tuple[str, bool]:
    """The header text, and whether the summary had to be cut to fit it."""
    alert = group.first
    emoji = SEVERITY_EMOJI.get(alert.severity, ":white_circle:")
    count = total if total is not None else 1 if group.per_event else group.count
    summary = _summary(alert)
    prefix = f"{emoji} {alert.severity.upper()} · "
    if count > 1:
        prefix += f"{count:,} × "
    # Header blocks are plain text: no escaping, only the length limit.
    text = prefix + fit(summary, HEADER_TEXT_LIMIT - len(prefix), escaped=False)
    return text, len(prefix) + len(summary) > HEADER_TEXT_LIMIT


def _summary(alert: Alert) -> str:
    return " ".join(alert.summary.split()) or f"{alert.rule}: {alert.event_name or 'event'}"


def _collapse(value: Any, keep: int, strlen: int, depth: int = 0) -> Any:
    """A smaller copy: arrays cut to `keep` items plus a "…N more" marker, long strings cut."""
    if depth > 8:
        return "{…}" if isinstance(value, Mapping) else "[…]" if isinstance(value, list) else value
    if isinstance(value, Mapping):
        return {str(k): _collapse(v, keep, strlen, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        items = [_collapse(v, keep, strlen, depth + 1) for v in value[:keep]]
        if len(value) > keep:
            items.append(f"…{len(value) - keep:,} more")
        return items
    if isinstance(value, str) and len(value) > strlen:
        return value[:strlen] + f"…(+{len(value) - strlen:,} chars)"
    return value


def shrink_json(value: Any, budget: int) -> tuple[str, bool]:
    """Compact JSON of `value` whose mrkdwn-escaped form fits `budget` if at all possible by
    shortening arrays and strings (keeping the structure readable); True if shortened."""
    raw = compact_json(value)
    if len(escape(raw)) <= budget:
        return raw, False
    for keep, strlen in ((10, 200), (5, 120), (3, 80), (2, 60), (1, 40), (1, 20)):
        small = compact_json(_collapse(value, keep, strlen))
        if len(escape(small)) <= budget:
            return small, True
    return compact_json(_collapse(value, 1, 20)), True


def json_section(title: str, value: Any, budget: int = JSON_BUDGET) -> Payload:
    full = compact_json(value)
    raw, shortened = shrink_json(value, budget)
    raw = raw.replace("```", "`\u200b``")
    body = fit(raw, budget)  # the last resort cut, for values whose skeleton alone is huge
    note = ""
    if shortened or len(body) < len(escape(raw)):
        note = f"\n_shortened: long arrays and strings cut; full value {len(full):,} characters_"
    return _section(f"*{title}*\n```{body}```{note}")


def _section(text: str) -> Payload:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:SECTION_TEXT_LIMIT]}}


def _context(*texts: str) -> Payload:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": t} for t in texts]}


def _values(value: Any, depth: int = 0) -> Iterable[tuple[str, Any]]:
    """Scalar leaves as (relative dotted path, value); arrays are stepped through un-indexed,
    matching how rule paths read them (`resources.ARN`)."""
    if depth > 5:
        return
    # dict/list first: isinstance against the ABCs is slow, and decoded JSON is dicts and lists.
    if type(value) is dict or isinstance(value, Mapping):
        for key, child in value.items():
            if type(child) is dict or type(child) is list or isinstance(child, Mapping):
                for sub, leaf in _values(child, depth + 1):
                    yield f"{key}.{sub}" if sub else str(key), leaf
            else:
                yield str(key), child
    elif isinstance(value, list):
        for child in value[:50]:
            yield from _values(child, depth + 1)
    else:
        yield "", value


# Which parts of a record are worth comparing across a group, in display order. Per-request
# identifiers (eventID, requestID, times, temporary access keys) always differ and say nothing.
VARYING_ROOTS = (
    "requestParameters",
    "resources",
    "errorCode",
    "errorMessage",
    "eventName",
    "userIdentity.arn",
    "recipientAccountId",
    "awsRegion",
    "sourceIPAddress",
    "userAgent",
    "additionalEventData",
)
MAX_DISTINCT_TRACKED = 200
MAX_LEAVES_PER_EVENT = 200
MAX_PATHS_TRACKED = 300


_SCALARS = {None: "null", True: "true", False: "false"}


def _leaf_text(leaf: Any) -> str:
    if type(leaf) is str:
        return leaf
    if leaf is None or leaf is True or leaf is False:
        return _SCALARS[leaf]
    if type(leaf) is int:
        return str(leaf)
    return compact_json(leaf)


def varying_values(alerts: Sequence[Alert]) -> list[tuple[str, Counter[str], bool]]:
    """Paths whose values differ across the alerts' events: (path, value counts, capped)."""
    counts: dict[str, Counter[str]] = {}
    capped: set[str] = set()
    # A path differs when some event's set of values differs from the first event's: an array
    # holding the same two values in every event (resources.type) does not.
    first_seen: dict[str, frozenset[str]] = {}
    differs: set[str] = set()
    for index, alert in enumerate(alerts):
        event = _event(alert)
        seen: dict[str, set[str]] = {}
        leaves = 0
        for root in VARYING_ROOTS:
            for sub, leaf in _values(_get(event, root)):
                leaves += 1
                if leaves > MAX_LEAVES_PER_EVENT:
                    break
                path = f"{root}.{sub}" if sub else root
                if path not in counts and len(counts) >= MAX_PATHS_TRACKED:
                    continue
                seen.setdefault(path, set()).add(_leaf_text(leaf)[:300])
        for path, absent in counts.items():
            if path not in seen:
                absent["-"] += 1
                differs.add(path)
        for path, values in seen.items():
            found = counts.get(path)
            if found is None:
                counter: Counter[str] = Counter()
                counts[path] = counter
                first_seen[path] = frozenset(values)
                if index:
                    # Absent from the earlier events: "-" for each of them.
                    counter["-"] += index
                    differs.add(path)
            else:
                counter = found
                if path not in differs and frozenset(values) != first_seen[path]:
                    differs.add(path)
            for value in values:
                if value in counter or len(counter) < MAX_DISTINCT_TRACKED:
                    counter[value] += 1
                else:
                    capped.add(path)
    order = {root: i for i, root in enumerate(VARYING_ROOTS)}

    def rank(path: str) -> tuple[int, int, str]:
        root = next(r for r in VARYING_ROOTS if path == r or path.startswith(r + "."))
        return (order[root], len(counts[path]), path)

    return [
        (path, counts[path], path in capped) for path in sorted(counts, key=rank) if path in differs
    ]


def varying_section(alerts: Sequence[Alert]) -> Payload | None:
    varying = varying_values(alerts)
    if not varying:
        return None
    lines = [f"*Differs across the {len(alerts):,} events*"]
    for path, counter, capped in varying[:VARYING_PATHS_SHOWN]:
        distinct = f"{len(counter):,}{'+' if capped else ''}"
        shown = [
            code(value, 120) + (f" ×{n:,}" if n > 1 else "")
            for value, n in counter.most_common(VALUES_PER_PATH)
        ]
        more = len(counter) - len(shown)
        tail = f", … {more:,}{'+' if capped else ''} more" if more > 0 else ""
        lines.append(f"• {code(path, 120)} ({distinct} values): " + ", ".join(shown) + tail)
    if len(varying) > VARYING_PATHS_SHOWN:
        lines.append(f"_…and {len(varying) - VARYING_PATHS_SHOWN} more differing fields_")
    return _section(_join_fitting(lines, SECTION_TEXT_LIMIT))


def _join_fitting(lines: Sequence[str], budget: int) -> str:
    out: list[str] = []
    size = 0
    for i, line in enumerate(lines):
        line = line[: budget // 2]
        if size + len(line) + 1 > budget - 40:
            out.append(f"_…{len(lines) - i} more lines_")
            break
        out.append(line)
        size += len(line) + 1
    return "\n".join(out)


def why_section(lines: Sequence[str]) -> Payload | None:
    """The deciding clauses with the values seen, monospace so the explain trace lines up."""
    if not lines:
        return None
    shown = [fit(line.replace("```", "`\u200b``"), 300) for line in lines[:WHY_LINES]]
    if len(lines) > WHY_LINES:
        shown.append(f"…{len(lines) - WHY_LINES} more clauses")
    body = _join_fitting(shown, SECTION_TEXT_LIMIT - 20)
    return _section(f"*Why*\n```{body}```")


def state_section(alert: Alert) -> Payload | None:
    """A stateful rule's decision (ctrules.stateful): key, window, count or distinct values,
    the sample of events it carries."""
    state = alert.state
    if not state:
        return None
    lines = []
    key = state.get("key") or {}
    if key:
        lines.append("*Key* " + ", ".join(f"{k} = {code(str(v), 200)}" for k, v in key.items()))
    if "count" in state:
        lines.append(f"*Count* {state['count']:,} events (threshold {state.get('threshold')})")
    if "distinct" in state:
        shown = ", ".join(code(str(v), 120) for v in state.get("values", [])[:10])
        more = state["distinct"] - min(10, len(state.get("values", [])))
        tail = f" +{more:,} more" if more > 0 else ""
        lines.append(f"*Distinct* {state['distinct']:,} values (threshold "
                     f"{state.get('threshold')}): {shown}{tail}")
    if "first_seen" in state:
        lines.append(f"*First seen* {state['first_seen']} (nothing in the "
                     f"{state.get('lookback_days')} days before)")
    if "started" in state:
        lines.append(f"*Sequence* {state.get('steps')} steps, {state['started']} → "
                     f"{state['completed']}")
    if "window" in state:
        lines.append(f"*Window* {state['window'][0]} → {state['window'][1]}")
    sample = state.get("sample") or []
    if sample:
        lines.append("*Sample* " + ", ".join(code(str(i), 80) for i in sample))
    return _section(_join_fitting(lines, SECTION_TEXT_LIMIT))


def ids_context(group: AlertGroup, unrouted: Sequence[str], note: str | None) -> Payload:
    ids = list(dict.fromkeys(group.event_ids))
    shown = ", ".join(code(i, 80) for i in ids[:EVENT_IDS_SHOWN])
    label = "eventID" if len(ids) == 1 else "eventIDs"
    text = f"{label} {shown}"
    if len(ids) > EVENT_IDS_SHOWN:
        text += f" (+{len(ids) - EVENT_IDS_SHOWN:,} more)"
    elements = [{"type": "mrkdwn", "text": fit(text, CONTEXT_TEXT_LIMIT, escaped=False)}]
    if unrouted:
        missing = ", ".join(code(name, 100) for name in unrouted)
        elements.append(
            {
                "type": "mrkdwn",
                "text": f":warning: routed to {missing}, which is not configured here; "
                "sent to the default destination",
            }
        )
    if note:
        elements.append({"type": "mrkdwn", "text": fit(note, CONTEXT_TEXT_LIMIT, escaped=False)})
    return {"type": "context", "elements": elements}


def fallback_text(group: AlertGroup, account_names: Mapping[str, str], total: int | None) -> str:
    alert = group.first
    count = total if total is not None else 1 if group.per_event else group.count
    summary = " ".join((alert.summary or alert.rule).split())
    lead = f"[{alert.severity.upper()}] " + (f"{count:,} × " if count > 1 else "")
    several = group.per_event and len(group.rules) > 1
    rules = f"rules {', '.join(group.rules)}" if several else f"rule {alert.rule}"
    tail = f" — {rules}, account {account_label(alert.account, account_names)}"
    if count == 1:
        tail += f", eventID {alert.event_id or '-'}"
    return fit(lead + summary + tail, FALLBACK_TEXT_LIMIT)


def render_group(
    group: AlertGroup,
    *,
    why: Sequence[str] = (),
    account_names: Mapping[str, str] | None = None,
    total: int | None = None,
    note: str | None = None,
) -> Payload:
    """The chat.postMessage / webhook payload ({"text", "blocks"}) for one group.

    `total` overrides the count shown (a thread parent counting alerts across invocations);
    `note` adds a context line (e.g. that later alerts are in the thread).
    """
    names = account_names or {}
    alert = group.first
    event = _event(alert)
    fields = [
        who_field(event),
        what_field(event),
        where_field(event, names),
        when_field(group.alerts),
        rules_field(group.alerts) if group.per_event and group.count > 1 else rule_field(alert),
        agent_field(event),
    ]
    head, cut = headline(group, total)
    blocks: list[Payload] = [
        {"type": "header", "text": {"type": "plain_text", "text": head, "emoji": True}},
    ]
    if cut:
        blocks.append(_section(fit(_summary(alert), SECTION_TEXT_LIMIT)))
    blocks += [
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f[:FIELD_TEXT_LIMIT]} for f in fields[:MAX_FIELDS]
            ],
        },
    ]
    if group.count > 1 and not group.per_event:
        grouped_by = code(" / ".join(group.key), 600)
        blocks.append(
            _context(
                f"{group.count:,} alerts grouped by {grouped_by}; "
                "fields above are from the first event"
            )
        )
    varying = group.count > 1 and not group.per_event
    for optional in (state_section(alert), why_section(why),
                     varying_section(group.alerts) if varying else None):
        if optional is not None:
            blocks.append(optional)
    for title, path in (
        ("Request parameters", "requestParameters"),
        ("Response elements", "responseElements"),
    ):
        value = event.get(path) if isinstance(event, Mapping) else None
        if value is not None:
            blocks.append(json_section(title, value))
    blocks.append(ids_context(group, group.unrouted, note))
    return {"text": fallback_text(group, names, total), "blocks": blocks[:MAX_BLOCKS]}


def render_digest(groups: Sequence[AlertGroup]) -> Payload:
    """One message standing for many groups past the per-batch message limit: every group gets
    a line (rule, count, summary, first eventID), so nothing is dropped uncounted."""
    total = sum(g.count for g in groups)
    head = f":card_index_dividers: {total:,} more alerts in {len(groups):,} groups"
    blocks: list[Payload] = [
        {"type": "header", "text": {"type": "plain_text", "text": head, "emoji": True}},
        _context(
            "This batch exceeded the per-destination message limit; "
            "the remaining groups are listed here."
        ),
    ]
    lines: list[str] = []
    for g in groups:
        a = g.first
        emoji = SEVERITY_EMOJI.get(a.severity, ":white_circle:")
        lines.append(
            f"{emoji} {code(a.rule, 100)} ×{g.count:,} — {fit(a.summary or '-', 200)} "
            f"({code(a.event_id or '-', 80)}{' …' if g.count > 1 else ''})"
        )
    # Slack caps a whole message at 40,000 characters; stop listing well before, and count
    # what did not fit.
    budget = MESSAGE_TEXT_LIMIT - 4000
    chunk: list[str] = []
    size = 0
    for index, line in enumerate(lines):
        if size + len(line) + 1 > SECTION_TEXT_LIMIT - 50 or budget - len(line) < 0:
            if chunk:
                blocks.append(_section("\n".join(chunk)))
            chunk, size = [], 0
            if len(blocks) >= MAX_BLOCKS - 1 or budget - len(line) < 0:
                rest = groups[index:]
                chunk.append(
                    f"_…and {len(rest):,} more groups ({sum(g.count for g in rest):,} alerts)_"
                )
                break
        chunk.append(line)
        size += len(line) + 1
        budget -= len(line) + 1
    if chunk:
        blocks.append(_section("\n".join(chunk)))
    text = f"{total:,} more alerts in {len(groups):,} groups (digest)"
    return {"text": text, "blocks": blocks}
