"""Stateful rules — a batch's observations, folded as they arrive into what deciding needs.

The engine (`engine`) decides per (rule, key, window). Holding every observation with its record
until a batch is decided costs memory in the number of selected events (a `ctrules run` over a
day of logs selects tens of thousands); a decision reads far less, so that is all a batch keeps:

- count / distinct, per window: the event IDs / values (the members the store adds up), how
  many events and the latest time (lateness, the watermark), and the last `SAMPLE_EVENTS`
  (time, eventID) of the window — the alert's sample — of which only the very last keeps its
  record: it is the one event an alert shows;
- first_seen, per key and value: the episodes, runs of sightings no more than the look-back
  apart, each with its first event (the one an alert shows) and its last time;
- sequence, per key: per second of event time, the steps seen then, how many events, and the
  last `SAMPLE_EVENTS` of them (the last with its record) — a second is what the store keeps.

Records held: one per window, per episode, per second of a sequence's key — bounded by keys
and windows, not by events. "Last" is the order the engine decides in — event time, then
eventID, then arrival — so the result does not depend on the order observations are added in.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..sources.logfile import Deferred

if TYPE_CHECKING:
    from .engine import Observation, _Spec

SAMPLE_EVENTS = 5
"""Events an alert names (the latest ones of the window); the rest are counted."""

Event = Mapping[str, Any] | Deferred
"""A record, or a lazily read one (what `Observation.event` holds)."""
Order = tuple[int, str, int]
"""Where an observation sorts: (event time, eventID, arrival)."""


class Shown:
    """The observation an alert would show: its place, its record and whose it is."""

    __slots__ = ("order", "event", "owner")

    def __init__(self, order: Order, event: Event, owner: str | None):
        self.order = order
        self.event = event
        self.owner = owner


class _Latest:
    """The last `SAMPLE_EVENTS` places of a set of observations, and the last one's record."""

    __slots__ = ("count", "sample", "event", "owner")

    def __init__(self) -> None:
        self.count = 0
        self.sample: list[Order] = []  # ascending
        self.event: Event = {}
        self.owner: str | None = None

    def keep(self, order: Order, event: Event, owner: str | None) -> None:
        self.count += 1
        sample = self.sample
        if len(sample) < SAMPLE_EVENTS:
            insort(sample, order)
        elif order > sample[0]:
            insort(sample, order)
            del sample[0]
        else:
            return
        if sample[-1] is order:  # the last so far: the record to show
            self.event = event
            self.owner = owner

    def shown(self) -> Shown:
        return Shown(self.sample[-1], self.event, self.owner)


class Window(_Latest):
    """count / distinct: one (rule, key, window)."""

    __slots__ = ("members", "last")

    def __init__(self) -> None:
        super().__init__()
        self.members: set[str] = set()
        self.last = 0


class Episodes:
    """first_seen: one (rule, key, value); `starts[i]`, `lasts[i]` and `firsts[i]` are the
    first time, the last time and the first observation of episode i, in time order."""

    __slots__ = ("count", "starts", "lasts", "firsts")

    def __init__(self) -> None:
        self.count = 0
        self.starts: list[int] = []
        self.lasts: list[int] = []
        self.firsts: list[Shown] = []

    def add(self, order: Order, event: Event, owner: str | None,
            lookback: int) -> None:
        self.count += 1
        t = order[0]
        starts, lasts, firsts = self.starts, self.lasts, self.firsts
        i = bisect_right(starts, t)  # episodes before i start at or before t
        joins_left = i > 0 and t - lasts[i - 1] <= lookback
        joins_right = i < len(starts) and starts[i] - t <= lookback
        if joins_left:
            left = i - 1
            lasts[left] = max(lasts[left], t)
            if order < firsts[left].order:
                firsts[left] = Shown(order, event, owner)
            if joins_right:  # t bridges the gap: one episode
                lasts[left] = max(lasts[left], lasts[i])
                del starts[i], lasts[i], firsts[i]
        elif joins_right:
            starts[i] = t
            firsts[i] = Shown(order, event, owner)
        else:
            starts.insert(i, t)
            lasts.insert(i, t)
            firsts.insert(i, Shown(order, event, owner))


class Second(_Latest):
    """sequence: one second of one (rule, key)."""

    __slots__ = ("steps",)

    def __init__(self) -> None:
        super().__init__()
        self.steps: set[int] = set()


class Chain:
    """sequence: one (rule, key), by second of event time."""

    __slots__ = ("seconds",)

    def __init__(self) -> None:
        self.seconds: dict[int, Second] = {}


Group = Window | Episodes | Chain
GroupKey = tuple[str, tuple[str, ...], tuple[str, ...], int]


class Pending:
    """One batch's observations, folded (`add`) until the engine decides them (`process`)."""

    def __init__(self, specs: Mapping[str, _Spec]):
        self.specs = specs
        # (rule, key, value, window start): count/distinct (rule, key, (), start), first_seen
        # (rule, key, value, 0), sequence (rule, key, (), 0) — the engine decides in this order.
        self.groups: dict[GroupKey, Group] = {}
        self.observed = 0
        self.owners: set[str] = set()  # the work items added
        self.last_owner: str | None = None
        self.shown: dict[tuple[str, str], str] = {}  # (rule, eventID) an alert shows -> owner

    def __len__(self) -> int:
        return self.observed

    def add(self, ob: Observation, owner: str | None = None) -> None:
        """Fold one observation in; `owner` is the work item it came from (the consumer's)."""
        arrival = self.observed
        self.observed += 1
        if owner is not None:
            self.owners.add(owner)
            self.last_owner = owner
        spec = self.specs.get(ob.rule)
        if spec is None:
            return
        t = ob.time
        order = (t, ob.event_id, arrival)
        kind = spec.kind
        gk: GroupKey
        if kind == "count" or kind == "distinct":
            gk = (ob.rule, ob.key, (), t - t % spec.window)
            window = self.groups.get(gk)
            if window is None:
                window = self.groups[gk] = Window()
            assert type(window) is Window
            if kind == "count":
                window.members.add(ob.event_id)
            else:
                window.members.update(ob.values)
            if window.count == 0 or t > window.last:
                window.last = t
            window.keep(order, ob.event, owner)
        elif kind == "first_seen":
            gk = (ob.rule, ob.key, ob.values, 0)
            episodes = self.groups.get(gk)
            if episodes is None:
                episodes = self.groups[gk] = Episodes()
            assert type(episodes) is Episodes
            episodes.add(order, ob.event, owner, spec.window)
        else:
            gk = (ob.rule, ob.key, (), 0)
            chain = self.groups.get(gk)
            if chain is None:
                chain = self.groups[gk] = Chain()
            assert type(chain) is Chain
            second = chain.seconds.get(t)
            if second is None:
                second = chain.seconds[t] = Second()
            second.steps.update(ob.steps)
            second.keep(order, ob.event, owner)

    def held_records(self) -> int:
        """How many records this batch holds (each window, episode and second holds one)."""
        held = 0
        for group in self.groups.values():
            if type(group) is Episodes:
                held += len(group.firsts)
            elif type(group) is Chain:
                held += len(group.seconds)
            else:
                held += 1
        return held


def latest_before(seconds: Mapping[int, Second], times: list[int], start: int,
                  end: int) -> tuple[list[Order], Shown | None]:
    """The last `SAMPLE_EVENTS` places of a chain's observations from `start` to `end` (all of
    them when none is in that span) and the last one's record. `times`: the seconds, sorted."""
    lo, hi = bisect_right(times, start - 1), bisect_right(times, end)
    if lo == hi:
        lo, hi = 0, len(times)
    picked: list[Order] = []
    top: Shown | None = None
    for t in reversed(times[lo:hi]):
        second = seconds[t]
        if top is None:
            top = second.shown()
        picked[:0] = second.sample[-(SAMPLE_EVENTS - len(picked)):]
        if len(picked) >= SAMPLE_EVENTS:
            break
    return picked, top
