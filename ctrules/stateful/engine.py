"""Stateful rules — the engine: observations in, one alert per key per window out.

`.ctr → ... → RuleSet` selects events with each stateful rule's `when` (`observe`); the engine
then folds a *batch* of those observations into the state store with one store request per
(rule, key, window) — not per event — and alerts when a window's state satisfies the rule:

- `count >= N ... within W`: windows are fixed, aligned to the epoch in event time
  ([k·W, (k+1)·W)); a window alerts once when it holds N distinct events (by eventID);
- `distinct P >= N ... within W`: the same windows, N distinct values of P;
- `first_seen [P] by [K] within D`: an event whose key (and value) was not seen in the D before
  it starts an episode; each episode alerts once;
- `sequence ... within W then A then B ...`: events matching each step in strictly increasing
  event time, first to last within W; alerts once per key per window of the last step's time.

Late delivery: CloudTrail delivers files up to ~15 minutes late and out of order. A window stays
open for `LATENESS_SECONDS` after it ends, measured against the latest event time this engine
has seen (its watermark): within that tolerance the result does not depend on arrival order or
batching. An event later than that is dropped and counted (`late`), so a closed window is never
reopened into a second alert.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import orjson

from .. import nodes as n
from ..alerts import Alert, json_line
from ..compiler import Pred, compile_expr
from ..sources.logfile import Deferred
from ..values import MISSING, expand, make_walker
from .pending import (
    SAMPLE_EVENTS,
    Chain,
    Episodes,
    GroupKey,
    Order,
    Pending,
    Second,
    Shown,
    Window,
    latest_before,
)
from .store import StateStore

if TYPE_CHECKING:
    from ..ruleset import RuleSet
    from ..sources.lazy import Staged

log = logging.getLogger("ctrules.stateful")

LATENESS_SECONDS = 900
"""How late (in event time, behind the latest event seen) an event may arrive and still count."""
RETAIN_SECONDS = 86400
"""Stored state outlives its window by this much, so a replay within a day is not re-alerted."""
SHOWN_VALUES = 20
"""Distinct values an alert lists."""
MAX_THRESHOLD = 1000
"""A window's state holds at most this many members (checked by CTR031)."""
SEQUENCE_CAP = 6000
"""Seconds kept per sequence step and key: a window of at most 1h plus the tolerance is 4,500
seconds, pruned every batch; four steps of 11-byte times stay far under DynamoDB's 400 KB."""
MAX_STEPS = 4
VALUE_CHARS = 256
"""Stored values are cut to this length (a DynamoDB item is at most 400 KB)."""


def event_time(record: Mapping[str, Any]) -> int | None:
    """`eventTime` as epoch seconds, or None when it is missing or not an ISO-8601 time."""
    raw = record.get("eventTime")
    if type(raw) is str:
        # Events come in bursts within the same second: each text is parsed once.
        try:
            return _times[raw]
        except KeyError:
            pass
        if len(_times) >= _TIMES_HELD:
            _times.clear()
        _times[raw] = parsed = _parse_time(raw)
        return parsed
    return _parse_time(raw) if isinstance(raw, str) else None


_times: dict[str, int | None] = {}
_TIMES_HELD = 1 << 16


def _parse_time(raw: str) -> int | None:
    if len(raw) > 40:
        return None
    try:
        parsed = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return int(parsed.timestamp())


def iso(t: int) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _text(value: Any) -> str:
    if type(value) is str:
        return value[:VALUE_CHARS]
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()[:VALUE_CHARS]


def _values(reached: Any) -> list[str]:
    """What a path reached, as strings; missing, null and "" reach nothing (a DynamoDB set
    holds no empty string)."""
    return [_text(v) for v in expand(reached) if v is not MISSING and v is not None and v != ""]


def _key_part(reached: Any) -> str:
    if type(reached) is str:  # the usual case, as `_values` would have it
        return reached[:VALUE_CHARS] if reached else "-"
    values = _values(reached)
    return ",".join(sorted(set(values))) if values else "-"


def event_id(record: Mapping[str, Any]) -> str:
    raw = record.get("eventID")
    if isinstance(raw, str) and raw:
        return raw[:VALUE_CHARS]
    # No eventID: the record's own bytes identify it (a retried batch re-adds the same one).
    try:
        raw = orjson.dumps(record, option=orjson.OPT_SORT_KEYS, default=str)
    except TypeError:  # what orjson refuses (an integer >= 2**64 ...), made safe as for output
        raw = json_line(record)[0]
    return "h:" + hashlib.sha256(raw).hexdigest()[:32]


@dataclass(slots=True)
class Observation:
    """One event a stateful rule's `when` selected (not to be changed once made)."""

    rule: str
    key: tuple[str, ...]
    time: int
    event_id: str
    values: tuple[str, ...]  # distinct: the values of P; first_seen: the value (or ())
    steps: tuple[int, ...]  # sequence: the steps this event satisfies
    event: Mapping[str, Any] | Deferred = field(compare=False, repr=False)
    """The record, or (read lazily) the `Deferred` record decoded whole if an alert shows it."""


@dataclass
class _Spec:
    name: str
    decl: n.RuleDecl
    kind: str
    window: int
    threshold: int
    key_paths: tuple[str, ...]
    keys: tuple[Any, ...]
    value: Any
    steps: tuple[Pred, ...]


@dataclass
class EngineStats:
    observed: int = 0
    late: int = 0
    no_time: int = 0
    alerts: int = 0
    full: int = 0


class StatefulEngine:
    """Stateful rules of one rule set over one state store."""

    def __init__(self, ruleset: RuleSet, store: StateStore,
                 lateness: int = LATENESS_SECONDS, *,
                 rules: Sequence[n.RuleDecl] | None = None, ignores: bool = True):
        from ..ruleset import RuleSet

        self.ruleset = ruleset
        self.store = store
        self.lateness = lateness
        self.watermark: int | None = None
        self.stats = EngineStats()
        self._claimed: set[str] = set()  # names this engine claimed: not asked again
        self._lock = threading.RLock()
        self.specs: dict[str, _Spec] = {}
        for decl in ruleset.stateful_decls if rules is None else rules:
            assert decl.stateful is not None
            self.specs[decl.name] = _compile(decl, ruleset)
        # The rules' `when`s, with ignores, behind the rule set's own dispatch index.
        self._select = RuleSet(_selecting_files(ruleset.files, set(self.specs), ignores))

    @property
    def active(self) -> bool:
        return bool(self.specs)

    @property
    def selector(self) -> RuleSet:
        """The stateful rules' `when`s: what a lazy reader must decode whole."""
        return self._select

    def reader_matcher(self, ruleset: RuleSet) -> Staged:
        """What the lazy reader decodes for `ruleset` (the per-event rules) and these rules: a
        record only the stateful selection may match comes in part (`Deferred`)."""
        from ..sources.lazy import Staged
        from .reads import stateful_paths

        return Staged(ruleset, self._select, stateful_paths(self))

    # ---- selecting ---------------------------------------------------------------------------

    def observe(self, event: Any) -> list[Observation]:
        """The stateful rules whose `when` holds for `event` (ignored events do not count).
        `event` may be a `Deferred` record: selected and observed on the fields it holds, which
        are all the rules read (`stateful.reads`); its observations keep it, and an alert
        decodes it whole."""
        if not self.specs:
            return []
        held: Any = None
        if type(event) is Deferred:
            held, event = event, event.record
        names = self._select.matching(event)
        if not names:
            return []
        record = event if type(event) is dict else (
            dict(event) if isinstance(event, Mapping) else {})
        t = event_time(record)
        if t is None:
            self.stats.no_time += len(names)
            return []
        raw_id = record.get("eventID")
        if held is not None and not (isinstance(raw_id, str) and raw_id):
            # No usable eventID: the id is made from the whole record's bytes.
            record = held.whole()
            held = None
        eid = event_id(record)
        shown = record if held is None else held
        out = []
        for name in names:
            spec = self.specs[name]
            steps: tuple[int, ...] = ()
            if spec.kind == "sequence":
                steps = tuple(i for i, pred in enumerate(spec.steps) if _safe(pred, record))
                if not steps:
                    continue
            values: tuple[str, ...] = ()
            if spec.value is not None:
                reached = spec.value(record)
                if type(reached) is str:  # the usual case, as `_values` would have it
                    values = (reached[:VALUE_CHARS],) if reached else ()
                else:
                    values = tuple(sorted(set(_values(reached))))
                if spec.kind == "distinct" and not values:
                    continue
            key = tuple([_key_part(k(record)) for k in spec.keys])
            if spec.kind == "first_seen":
                values = (_key_part(reached),) if spec.value is not None else ()
            out.append(Observation(name, key, t, eid, values, steps, shown))
        return out

    # ---- deciding ----------------------------------------------------------------------------

    def pending(self) -> Pending:
        """An empty batch to `Pending.add` observations to, then `process`."""
        return Pending(self.specs)

    def process(self, observations: Iterable[Observation] | Pending) -> list[Alert]:
        """Fold one batch into the store; the alerts it decides (at most one per key and
        window, across batches, workers and retries). Thread-safe: the container workers'
        threads share one engine; the DynamoDB store is atomic per request, the memory store
        is used by one batch at a time."""
        if isinstance(observations, Pending):
            pending = observations
        else:
            pending = self.pending()
            for ob in observations:
                pending.add(ob)
        if _is_remote(self.store):
            return self._process(pending)
        with self._lock:
            return self._process(pending)

    def _process(self, pending: Pending) -> list[Alert]:
        watermark = self.watermark
        self.stats.observed += pending.observed
        latest = watermark
        live: list[tuple[GroupKey, Window | Episodes | dict[int, Second]]] = []
        for gk, group in pending.groups.items():
            spec = self.specs[gk[0]]
            if type(group) is Window:
                if watermark is not None and self._too_late(spec, gk[3], watermark):
                    self.stats.late += group.count
                    continue
                last = group.last
            elif type(group) is Episodes:
                last = group.lasts[-1]
            else:
                assert type(group) is Chain
                seconds = group.seconds
                if watermark is not None:
                    seconds = {}
                    for t, second in group.seconds.items():
                        if self._too_late(spec, t, watermark):
                            self.stats.late += second.count
                        else:
                            seconds[t] = second
                    if not seconds:
                        continue
                last = max(seconds)
                latest = last if latest is None else max(latest, last)
                live.append((gk, seconds))
                continue
            latest = last if latest is None else max(latest, last)
            live.append((gk, group))
        alerts: list[Alert] = []
        for (rule, key, value, bucket), held in sorted(live, key=lambda g: g[0]):
            spec = self.specs[rule]
            try:
                if type(held) is Window:
                    alert = self._window(spec, key, bucket, held, pending)
                    found = [alert] if alert else []
                elif type(held) is Episodes:
                    found = self._first_seen(spec, key, value, held, pending)
                else:
                    assert isinstance(held, dict)
                    found = self._sequence(spec, key, held, latest, pending)
            except Exception:
                # A store failure must not be silent or partial for the caller: re-raise so the
                # batch fails and is retried (adding is idempotent, claims are per name).
                log.exception("state store failed for rule %s", rule)
                raise
            alerts.extend(found)
        if latest is not None:
            with self._lock:  # another thread may have moved it further meanwhile
                latest = max(latest, self.watermark or latest)
                self.watermark = latest
            self.store.expire(latest - self.lateness - RETAIN_SECONDS
                              if _is_remote(self.store) else latest)
        self.stats.alerts += len(alerts)
        return alerts

    def release(self, alert: Alert) -> None:
        """Give back the claim of an alert that was not delivered, so a retry can send it."""
        name = (alert.state or {}).get("claim")
        if isinstance(name, str):
            self._claimed.discard(name)
            self.store.release(name)

    def run(self, events: Iterable[Any]) -> list[Alert]:
        """Every alert a whole set of events decides, whatever their order: selected, folded
        as one batch (`ctrules test`, `ctrules explain`; `ctrules run` folds as it reads)."""
        pending = self.pending()
        for event in events:
            for ob in self.observe(event):
                pending.add(ob)
        return self.process(pending)

    def _too_late(self, spec: _Spec, t: int, watermark: int) -> bool:
        if spec.kind in ("count", "distinct"):
            return t - t % spec.window + spec.window + self.lateness < watermark
        if spec.kind == "sequence":
            return t + spec.window + self.lateness < watermark
        return False

    def _ttl(self, end: int) -> int:
        return end + self.lateness + (RETAIN_SECONDS if _is_remote(self.store) else 0)

    def _claim(self, name: str, ttl: int) -> bool:
        if name in self._claimed:
            return False
        if self.store.claim(name, ttl):
            self._claimed.add(name)
            if len(self._claimed) > 100_000:
                self._claimed.clear()
            return True
        return False

    def _window(self, spec: _Spec, key: tuple[str, ...], bucket: int, window: Window,
                pending: Pending) -> Alert | None:
        item = _item(spec.name, "w", key, str(bucket))
        claim = item + "|alert"
        if claim in self._claimed:
            return None
        ttl = self._ttl(bucket + spec.window)
        members = window.members
        state = self.store.add_members(item, {"m": members}, spec.threshold, ttl)
        if state is None:  # full: the threshold was reached by an earlier batch (a retry)
            total, shown = max(spec.threshold, len(members)), sorted(members)
        else:
            held = state.get("m", frozenset())
            total, shown = len(held), sorted(held)
        if total < spec.threshold or not self._claim(claim, ttl):
            return None
        info: dict[str, Any] = {
            "kind": spec.kind,
            "key": dict(zip(spec.key_paths, key, strict=True)),
            "window": [iso(bucket), iso(bucket + spec.window)],
            "threshold": spec.threshold,
            "claim": claim,
        }
        if spec.kind == "count":
            info["count"] = total
        else:
            info["distinct"] = total
            info["values"] = shown[:SHOWN_VALUES]
        return self._alert(spec, window.sample, window.shown(), info, (str(bucket),), pending)

    def _first_seen(self, spec: _Spec, key: tuple[str, ...], value: tuple[str, ...],
                    episodes: Episodes, pending: Pending) -> list[Alert]:
        item = _item(spec.name, "f", key, *value)
        first, last = episodes.firsts[0], episodes.lasts[-1]
        ttl = self._ttl(last + spec.window)
        episode = self.store.first_seen(item, first.order[0], first.order[1], last,
                                        spec.window, ttl)
        starts: list[tuple[int, Shown]] = []
        if episode is not None:
            starts.append((episode, first))
        # Within the batch, a gap longer than the look-back starts another episode.
        starts.extend((shown.order[0], shown) for shown in episodes.firsts[1:])
        alerts = []
        for start, shown in starts:
            claim = f"{item}|{start}"
            if not self._claim(claim, ttl):
                continue
            info = {
                "kind": "first_seen",
                "key": dict(zip(spec.key_paths, key, strict=True)),
                "lookback_days": round(spec.window / 86400, 2),
                "first_seen": iso(start),
                "claim": claim,
            }
            if value:
                assert spec.decl.stateful and spec.decl.stateful.value
                info["value"] = {_dotted(spec.decl.stateful.value): value[0]}
            alerts.append(self._alert(spec, [shown.order], shown, info, (str(start),), pending))
        return alerts

    def _sequence(self, spec: _Spec, key: tuple[str, ...], seconds: Mapping[int, Second],
                  watermark: int | None, pending: Pending) -> list[Alert]:
        item = _item(spec.name, "s", key)
        adds: dict[str, set[str]] = defaultdict(set)
        for t, second in seconds.items():
            for step in second.steps:
                adds[f"s{step}"].add(f"{t:011d}")
        times = sorted(seconds)
        ttl = self._ttl(times[-1] + spec.window)
        state = self.store.add_members(item, adds, SEQUENCE_CAP, ttl)
        if state is None:  # cannot happen while pruning keeps up; say so if it does
            self.stats.full += 1
            log.warning("sequence state of rule %s is full for key %s", spec.name, key)
            return []
        steps = [sorted(int(t) for t in state.get(f"s{i}", ())) for i in range(len(spec.steps))]
        if watermark is not None:
            horizon = watermark - spec.window - self.lateness
            stale = {f"s{i}": {f"{t:011d}" for t in ts if t < horizon}
                     for i, ts in enumerate(steps)}
            stale = {k: v for k, v in stale.items() if v}
            if stale:
                self.store.remove_members(item, stale)
        earliest = times[0]
        alerts = []
        done: set[int] = set()
        for end, start in completions(steps, spec.window):
            bucket = end - end % spec.window
            if end < earliest or bucket in done:
                continue  # a chain without this batch's events was decided before
            done.add(bucket)
            claim = f"{item}|{bucket}"
            if not self._claim(claim, ttl):
                continue
            sample, shown = latest_before(seconds, times, start, end)
            assert shown is not None
            info = {
                "kind": "sequence",
                "key": dict(zip(spec.key_paths, key, strict=True)),
                "steps": len(spec.steps),
                "started": iso(start),
                "completed": iso(end),
                "window": [iso(bucket), iso(bucket + spec.window)],
                "claim": claim,
            }
            alerts.append(self._alert(spec, sample, shown, info, (str(bucket),), pending))
        return alerts

    def _alert(self, spec: _Spec, sample: Sequence[Order], shown: Shown, info: dict[str, Any],
               window: tuple[str, ...], pending: Pending) -> Alert:
        info["sample"] = [order[1] for order in sample[-SAMPLE_EVENTS:]]
        if shown.owner is not None:
            pending.shown[(spec.name, shown.order[1])] = shown.owner
        event = shown.event
        trigger = event.whole() if isinstance(event, Deferred) else dict(event)
        return Alert(
            rule=spec.name,
            severity=spec.decl.severity,
            summary=self.ruleset.stateful_summary(spec.name, trigger, info),
            event=trigger,
            tags=spec.decl.tags,
            description=spec.decl.description.value if spec.decl.description else "",
            group_key=(spec.name, *info_key(info), *window),
            state=info,
        )


def info_key(info: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(str(v) for v in info.get("key", {}).values())


def completions(times: Sequence[Sequence[int]], window: int) -> list[tuple[int, int]]:
    """(end, latest start) of each time of the last step that completes a chain: one time per
    step, strictly increasing, last minus first at most `window`. `times` are sorted."""
    if not times or any(not ts for ts in times):
        return []
    # best[j]: the latest chain start reaching times[i][j] through steps 0..i (None: no chain).
    best: list[int | None] = list(times[0])
    for i in range(1, len(times)):
        prev, prev_best = times[i - 1], best
        running: list[int | None] = []
        acc: int | None = None
        for b in prev_best:
            acc = b if acc is None or (b is not None and b > acc) else acc
            running.append(acc)
        best = []
        for t in times[i]:
            j = bisect_left(prev, t)  # prev[:j] are strictly earlier
            best.append(running[j - 1] if j else None)
    out = []
    for t, start in zip(times[-1], best, strict=True):
        if start is not None and t - start <= window:
            out.append((t, start))
    return out


MAX_KEY_TEXT = 512
"""Longer keys (a path fanning out over many values) are stored by hash: DynamoDB's partition
key holds at most 2,048 bytes."""


def _item(rule: str, kind: str, key: tuple[str, ...], *rest: str) -> str:
    text = orjson.dumps(list(key)).decode()
    if len(text.encode()) > MAX_KEY_TEXT:
        text = "h:" + hashlib.sha256(text.encode()).hexdigest()
    tail = tuple(r if len(r.encode()) <= MAX_KEY_TEXT
                 else "h:" + hashlib.sha256(r.encode()).hexdigest() for r in rest)
    return "|".join((rule, kind, text, *tail))


def _is_remote(store: StateStore) -> bool:
    return bool(getattr(store, "remote", False))


def _safe(pred: Pred, record: Any) -> bool:
    try:
        return bool(pred(record, record))
    except Exception:  # evaluation never raises; a crash here is our bug, so say so
        log.exception("sequence step crashed")
        return False


def _dotted(path: n.Path) -> str:
    return ".".join(str(s) for s in path.segments)


def _compile(decl: n.RuleDecl, ruleset: RuleSet) -> _Spec:
    assert decl.stateful is not None
    spec = ruleset.scope.binder.bind_stateful(decl.stateful)
    return _Spec(
        name=decl.name,
        decl=decl,
        kind=spec.kind,
        window=max(1, spec.window.seconds),
        threshold=spec.threshold or 1,
        key_paths=tuple(_dotted(p) for p in spec.key),
        keys=tuple(make_walker(p.segments) for p in spec.key),
        value=make_walker(spec.value.segments) if spec.value is not None else None,
        steps=tuple(compile_expr(s, ruleset.scope) for s in spec.steps),
    )


def _selecting_files(files: Sequence[n.RuleFile], names: set[str],
                     ignores: bool) -> list[n.RuleFile]:
    """The rule files with only the stateful rules, each reduced to its `when` (so the rule set
    built from them reports every event a stateful rule selects, with its ignores)."""
    out = []
    for f in files:
        decls: list[n.Decl] = []
        for d in f.decls:
            if isinstance(d, n.RuleDecl):
                if d.name in names:
                    decls.append(replace(d, stateful=None, examples=()))
            elif isinstance(d, (n.ListDecl, n.MacroDecl)) or (ignores and
                                                               isinstance(d, n.IgnoreDecl)):
                decls.append(d)
        out.append(replace(f, decls=tuple(decls)))
    return out
