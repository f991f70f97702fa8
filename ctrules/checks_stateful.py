"""Pipeline stage 3 (checks) — stateful rules: `count`, `distinct`, `first_seen`, `sequence`.

`.ctr text → parser → nodes → **checks** → compiler → RuleSet`. The core checker walks a
sequence's steps like any condition; these checks add what only a state clause can get wrong:

* CTR030 — a window out of range (count/distinct: 1s to 1d; sequence: 1s to 1h; first_seen: 1h
  to 400d);
* CTR031 — a threshold out of range (1 to 1000: a window's state holds at most that many);
* CTR032 — a key or value that is not a plain event path (`rule.…`, `it`, a path twice);
* CTR033 — a sequence with fewer than two or more than four steps;
* CTR120 — a stateful rule's example record without a usable `eventTime` (it never counts).
"""

from __future__ import annotations

from collections.abc import Iterator

from . import nodes as n
from .diagnostics import Diagnostic
from .stateful.engine import MAX_STEPS, MAX_THRESHOLD, event_time

BAD_WINDOW = "CTR030"
BAD_THRESHOLD = "CTR031"
BAD_STATE_PATH = "CTR032"
SHORT_SEQUENCE = "CTR033"
EXAMPLE_WITHOUT_TIME = "CTR120"

DAY = 86400
_WINDOW_RANGE = {
    "count": (1, DAY),
    "distinct": (1, DAY),
    "sequence": (1, 3600),  # its state holds every second a step was seen in the window
    "first_seen": (3600, 400 * DAY),
}


def stateful_findings(files: list[n.RuleFile]) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for f in files:
        for decl in f.decls:
            if isinstance(decl, n.RuleDecl) and decl.stateful is not None:
                out.extend(_rule(decl, decl.stateful))
    return out


def _rule(rule: n.RuleDecl, s: n.Stateful) -> Iterator[Diagnostic]:
    where = s.span or rule.span or n.Span("<string>", 1, 1, 1, 1)
    lo, hi = _WINDOW_RANGE[s.kind]
    if not lo <= s.window.seconds <= hi:
        yield Diagnostic(BAD_WINDOW, "error",
                         f"rule {rule.name}: a {s.kind} window of {s.window.text} is out of range "
                         f"({_human(lo)} to {_human(hi)})", s.window.span or where,
                         "state is kept per window: longer windows belong in a data lake query"
                         if s.window.seconds > hi else None)
    if s.threshold is not None and not 1 <= s.threshold <= MAX_THRESHOLD:
        yield Diagnostic(BAD_THRESHOLD, "error",
                         f"rule {rule.name}: threshold {s.threshold} is out of range "
                         f"(1 to {MAX_THRESHOLD})", s.threshold_span or where,
                         "a window's state holds at most that many events or values")
    seen: set[tuple[str, tuple[str | int, ...]]] = set()
    paths = [("key", p) for p in s.key] + ([("value", s.value)] if s.value is not None else [])
    for role, p in paths:
        ident = (p.anchor, p.segments)
        if p.anchor in ("rule", "it") or (p.anchor == "rel" and not p.segments):
            yield Diagnostic(BAD_STATE_PATH, "error",
                             f"rule {rule.name}: a {role} names a field of the event",
                             p.span or where, "e.g. userIdentity.arn or sourceIPAddress")
        elif ident in seen:
            yield Diagnostic(BAD_STATE_PATH, "error",
                             f"rule {rule.name}: {'.'.join(map(str, p.segments))} is given twice",
                             p.span or where, "a value counted per key cannot be part of the key")
        seen.add(ident)
    if s.kind == "sequence" and len(s.steps) < 2:
        yield Diagnostic(SHORT_SEQUENCE, "error",
                         f"rule {rule.name}: a sequence needs at least two steps", where,
                         "add `then <condition>`; for one condition, `count >= 1` alerts once "
                         "per key and window")
    elif s.kind == "sequence" and len(s.steps) > MAX_STEPS:
        yield Diagnostic(SHORT_SEQUENCE, "error",
                         f"rule {rule.name}: a sequence has at most {MAX_STEPS} steps, not "
                         f"{len(s.steps)}", where, "split it into two rules")
    for ex in rule.examples:
        records = ex.event if isinstance(ex.event, list) else [ex.event]
        if any(not isinstance(r, dict) or event_time(r) is None for r in records):
            yield Diagnostic(EXAMPLE_WITHOUT_TIME, "warning",
                             f"rule {rule.name}, example {ex.name!r}: a record has no eventTime, "
                             "so it never counts", ex.span or where,
                             'give each record "eventTime": "2026-01-01T00:00:00Z"')


def _human(seconds: int) -> str:
    for unit, size in (("d", DAY), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
