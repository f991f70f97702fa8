"""Pipeline stage 7 (tooling) — `ctrules slack preview`: the messages a batch of events would
post, routed, grouped and split exactly as SlackSink does (routing.route, routing.per_destination,
message.render_group / render_digest), then shown as Slack would show them:

- `render_terminal`: the Block Kit laid out as text — header, two-column fields, code blocks,
  context lines — with a severity-coloured bar and ANSI styles when writing to a terminal;
- `render_html`: a standalone page that looks like the Slack message (Block Kit rendered with
  Slack's layout: app name, the message body with a severity-coloured bar, header, field grid,
  code blocks, small grey context), for reviewing a rule's alerts in a browser or a PR.

Nothing is sent. mrkdwn is interpreted the way Slack does for what render_group produces:
`*bold*`, `_italic_`, `` `code` ``, ``` ``` blocks ```, `<url|text>` links and the `&lt;`
`&gt;` `&amp;` escapes; emoji shortcodes become the emoji they stand for.
"""

from __future__ import annotations

import html
import re
import shutil
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .message import render_digest, render_group
from .routing import RuleSetLike, per_destination, route

Payload = dict[str, Any]

# Slack's own colours for the attachment bar are free-form; these follow its palette.
SEVERITY_COLOUR = {
    "critical": "#a30200",
    "high": "#e01e5a",
    "medium": "#f2952f",
    "low": "#ecb22e",
    "info": "#2eb67d",
}
DIGEST_COLOUR = "#616061"

# 256-colour ANSI approximations of the bar colours.
_ANSI_COLOUR = {"critical": 124, "high": 161, "medium": 208, "low": 178, "info": 35}

EMOJI = {
    ":rotating_light:": "\N{POLICE CARS REVOLVING LIGHT}",
    ":red_circle:": "\N{LARGE RED CIRCLE}",
    ":large_orange_circle:": "\N{LARGE ORANGE CIRCLE}",
    ":large_yellow_circle:": "\N{LARGE YELLOW CIRCLE}",
    ":large_blue_circle:": "\N{LARGE BLUE CIRCLE}",
    ":white_circle:": "\N{MEDIUM WHITE CIRCLE}",
    ":warning:": "\N{WARNING SIGN}\N{VARIATION SELECTOR-16}",
    ":card_index_dividers:": "\N{CARD INDEX DIVIDERS}\N{VARIATION SELECTOR-16}",
}
_EMOJI = re.compile("|".join(re.escape(k) for k in EMOJI))


@dataclass(frozen=True)
class Message:
    """One message the batch would post."""

    destination: str
    alerts: int
    severity: str | None  # None for a digest
    payload: Payload


def plan(
    alerts: Sequence[Any],
    ruleset: RuleSetLike,
    *,
    max_messages: int = 20,
    per_event: bool = False,
) -> tuple[list[Message], int]:
    """The messages for `alerts` and the number of ignored alerts skipped. Every route name is
    treated as configured (a preview shows where each alert would go)."""
    names = {d: None for a in alerts for d in ruleset.destinations(a)}
    groups, ignored = route(alerts, ruleset, names, "default", per_event=per_event)
    out: list[Message] = []
    for dest, head, rest in per_destination(groups, max_messages):
        for group in head:
            payload = render_group(group, why=list(ruleset.why(group.first)))
            out.append(Message(dest, group.count, group.first.severity, payload))
        if rest:
            out.append(Message(dest, sum(g.count for g in rest), None, render_digest(rest)))
    return out, ignored


def colour_of(message: Message) -> str:
    if message.severity is None:
        return DIGEST_COLOUR
    return SEVERITY_COLOUR.get(message.severity, DIGEST_COLOUR)


def emoji(text: str) -> str:
    return _EMOJI.sub(lambda m: EMOJI[m.group(0)], text)


def _unescape(text: str) -> str:
    # Slack's three escapes, in the order that undoes message.escape.
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _texts(block: Payload) -> Iterable[tuple[str, str]]:
    """(kind, text) of one block: kind is header, section, field, context."""
    kind = block.get("type")
    if kind == "header":
        yield "header", str(block["text"]["text"])
    elif kind == "section":
        if "text" in block:
            yield "section", str(block["text"]["text"])
        for field in block.get("fields", []):
            yield "field", str(field["text"])
    elif kind == "context":
        for element in block.get("elements", []):
            yield "context", str(element.get("text", ""))


# ---- terminal -------------------------------------------------------------------------------

_BOLD, _DIM, _ITALIC, _RESET, _CODE = "\x1b[1m", "\x1b[2m", "\x1b[3m", "\x1b[0m", "\x1b[36m"
_INLINE = re.compile(
    r"`([^`\n]+)`|\*([^*\n]+)\*|(?<![\w])_([^_\n]+)_(?![\w])|<([^|>\n]+)\|([^>\n]+)>"
)


def _inline_terminal(text: str, colour: bool) -> str:
    def sub(m: re.Match[str]) -> str:
        code, bold, italic, url, label = m.groups()
        if code is not None:
            return f"{_CODE}{code}{_RESET}" if colour else code
        if bold is not None:
            return f"{_BOLD}{bold}{_RESET}" if colour else bold
        if italic is not None:
            return f"{_ITALIC}{italic}{_RESET}" if colour else italic
        return f"{label} ({url})"

    return _unescape(_INLINE.sub(sub, emoji(text)))


def _mrkdwn_lines(text: str, width: int, colour: bool) -> list[str]:
    """mrkdwn → wrapped terminal lines; ``` blocks kept verbatim and indented."""
    lines: list[str] = []
    for i, part in enumerate(text.split("```")):
        if i % 2:  # inside a code block
            for raw in part.strip("\n").splitlines():
                shown = _unescape(raw)
                lines.append(f"  {_DIM}{shown}{_RESET}" if colour else f"  {shown}")
            continue
        for raw in part.strip("\n").splitlines():
            wrapped = textwrap.wrap(raw, width) or [""]
            lines.extend(_inline_terminal(w, colour) for w in wrapped)
    return lines


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _visible_len(text: str) -> int:
    return len(_ANSI.sub("", text))


def _columns(fields: list[list[str]], inner: int) -> list[str]:
    """Section fields two per row, as Slack shows them."""
    column = (inner - 2) // 2
    rows: list[str] = []
    for left, right in zip(fields[0::2], fields[1::2] + [[]], strict=False):
        for j in range(max(len(left), len(right))):
            a = left[j] if j < len(left) else ""
            b = right[j] if j < len(right) else ""
            rows.append((a + " " * max(column - _visible_len(a), 1) + "  " + b).rstrip())
    rows.append("")
    return rows


def _message_lines(message: Message, inner: int, colour: bool) -> list[str]:
    body: list[str] = []
    fields: list[list[str]] = []
    for block in message.payload.get("blocks", []):
        for kind, text in _texts(block):
            if kind != "field" and fields:
                body.extend(_columns(fields, inner))
                fields = []
            if kind == "header":
                head = emoji(text)
                body.extend([f"{_BOLD}{head}{_RESET}" if colour else head, ""])
            elif kind == "field":
                fields.append(_mrkdwn_lines(text, (inner - 2) // 2, colour))
            elif kind == "section":
                body.extend([*_mrkdwn_lines(text, inner, colour), ""])
            else:
                lines = _mrkdwn_lines(text, inner, False)
                body.extend(f"{_DIM}{x}{_RESET}" if colour else x for x in lines)
    if fields:
        body.extend(_columns(fields, inner))
    while body and not body[-1]:
        body.pop()
    return body


def render_terminal(messages: Sequence[Message], *, colour: bool, width: int | None = None) -> str:
    """The messages as text: one block per message under a `→ destination` line, behind a bar
    in the severity's colour (on a terminal)."""
    width = width or shutil.get_terminal_size((100, 24)).columns
    inner = max(width - 4, 40)
    out: list[str] = []
    for message in messages:
        sev = message.severity or "digest"
        bar = f"\x1b[38;5;{_ANSI_COLOUR.get(sev, 244)}m▌{_RESET}" if colour else "▌"
        plural = "s" if message.alerts != 1 else ""
        title = f"→ {message.destination} ({message.alerts} alert{plural})"
        out.append(f"{_DIM}{title}{_RESET}" if colour else title)
        lines = _message_lines(message, inner, colour)
        out.extend(f"{bar} {line}" if line else bar for line in lines)
        out.append("")
    return "\n".join(out)


# ---- HTML -----------------------------------------------------------------------------------

_HTML_INLINE = re.compile(
    r"`([^`\n]+)`|\*([^*\n]+)\*|(?<![\w])_([^_\n]+)_(?![\w])|&lt;([^|\n]+?)\|([^\n]+?)&gt;"
)


def _inline_html(text: str) -> str:
    """One run of mrkdwn outside code blocks → HTML. Slack's own escapes are undone first and
    everything is re-escaped for HTML, so no text can become markup."""
    escaped = html.escape(_unescape(emoji(text)), quote=False)

    def sub(m: re.Match[str]) -> str:
        code, bold, italic, url, label = m.groups()
        if code is not None:
            return f"<code>{code}</code>"
        if bold is not None:
            return f"<b>{bold}</b>"
        if italic is not None:
            return f"<i>{italic}</i>"
        href = html.escape(html.unescape(url), quote=True)
        if not href.startswith(("https://", "http://")):
            return label
        return f'<a href="{href}">{label}</a>'

    return _HTML_INLINE.sub(sub, escaped).replace("\n", "<br>")


def mrkdwn_html(text: str) -> str:
    parts = []
    for i, part in enumerate(text.split("```")):
        if i % 2:
            parts.append(f"<pre>{html.escape(_unescape(part.strip(chr(10))), quote=False)}</pre>")
        elif part.strip("\n"):
            parts.append(f"<div>{_inline_html(part.strip(chr(10)))}</div>")
    return "".join(parts)


_CSS = """
* { box-sizing: border-box; }
body { margin: 0; padding: 16px; background: #fff; color: #1d1c1d; width: 860px;
  font: 15px/1.46668 -apple-system, "Segoe UI", "Noto Sans", "Helvetica Neue", Arial, sans-serif; }
.message { display: flex; gap: 8px; margin-bottom: 20px; }
.avatar { width: 36px; height: 36px; border-radius: 6px; background: #4a154b; flex: none; }
.content { flex: 1; min-width: 0; }
.meta { margin-bottom: 4px; }
.meta .name { font-weight: 900; }
.meta .app { font-size: 10px; background: #e8e8e8; color: #616061; border-radius: 2px;
  padding: 1px 3px; margin-left: 4px; font-weight: 700; }
.meta .dest { color: #616061; font-size: 13px; margin-left: 6px; }
.attachment { border-left: 4px solid var(--bar); padding: 4px 0 4px 12px; }
.header { font-size: 18px; font-weight: 900; line-height: 1.33; margin: 4px 0 8px; }
.section { margin: 6px 0; word-wrap: break-word; }
.fields { display: grid; grid-template-columns: 1fr 1fr; gap: 8px 16px; margin: 6px 0; }
.field { word-wrap: break-word; min-width: 0; }
.context { font-size: 12px; color: #616061; margin: 6px 0; }
.context div + div { margin-top: 2px; }
code { font: 12px Monaco, Menlo, Consolas, "Courier New", monospace; color: #e01e5a;
  background: #f8f8f8; border: 1px solid #dddddd; border-radius: 3px; padding: 1px 3px; }
pre { font: 12px/1.5 Monaco, Menlo, Consolas, "Courier New", monospace; background: #f8f8f8;
  border: 1px solid #dddddd; border-radius: 4px; padding: 8px; margin: 4px 0;
  white-space: pre-wrap; word-break: break-all; }
a { color: #1264a3; text-decoration: none; }
.dot { display: inline-block; width: 0.8em; height: 0.8em; border-radius: 50%;
  vertical-align: -0.05em; margin-right: 2px; }
"""


_CIRCLE_COLOUR = {
    ":rotating_light:": SEVERITY_COLOUR["critical"],
    ":red_circle:": SEVERITY_COLOUR["high"],
    ":large_orange_circle:": SEVERITY_COLOUR["medium"],
    ":large_yellow_circle:": SEVERITY_COLOUR["low"],
    ":large_blue_circle:": "#1264a3",
    ":white_circle:": "#dddddd",
}
_CIRCLES = re.compile("|".join(re.escape(k) for k in _CIRCLE_COLOUR))


def _dot(colour: str) -> str:
    return f'<span class="dot" style="background: {colour}"></span>'


def _block_html(block: Payload) -> str:
    kind = block.get("type")
    if kind == "header":
        text = html.escape(str(block["text"]["text"]), quote=False)
        # Severity circles as drawn dots: they must not depend on an emoji font being installed.
        text = _CIRCLES.sub(lambda m: _dot(_CIRCLE_COLOUR[m.group(0)]), text)
        return f'<div class="header">{emoji(text)}</div>'
    if kind == "section":
        out = []
        if "text" in block:
            out.append(f'<div class="section">{mrkdwn_html(str(block["text"]["text"]))}</div>')
        if block.get("fields"):
            cells = "".join(
                f'<div class="field">{mrkdwn_html(str(f["text"]))}</div>' for f in block["fields"]
            )
            out.append(f'<div class="fields">{cells}</div>')
        return "".join(out)
    if kind == "context":
        items = "".join(
            f"<div>{mrkdwn_html(str(e.get('text', '')))}</div>" for e in block.get("elements", [])
        )
        return f'<div class="context">{items}</div>'
    if kind == "divider":
        return "<hr>"
    return ""


def render_html(messages: Sequence[Message], title: str = "ctrules slack preview") -> str:
    """A standalone page (no scripts, no external resources) showing the messages."""
    body = []
    for message in messages:
        blocks = "".join(_block_html(b) for b in message.payload.get("blocks", []))
        dest = html.escape(message.destination, quote=False)
        body.append(
            f'<div class="message" data-severity="{message.severity or "digest"}">'
            '<div class="avatar"></div><div class="content">'
            f'<div class="meta"><span class="name">ctrules</span><span class="app">APP</span>'
            f'<span class="dest">→ {dest} · {message.alerts} alert'
            f'{"s" if message.alerts != 1 else ""}</span></div>'
            f'<div class="attachment" style="--bar: {colour_of(message)}">{blocks}</div>'
            "</div></div>"
        )
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'unsafe-inline'\">"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )
