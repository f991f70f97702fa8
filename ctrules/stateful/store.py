"""Stateful rules — the state store interface and the in-memory store.

Every operation is one atomic, commutative step on one item, so that the same events added in
any order, in any batches, by any number of concurrent writers, leave the same state, and a
decision ("this window crossed its threshold") is taken by exactly one writer:

- `add_members`: set union (atomic ADD in DynamoDB); re-adding an event is a no-op, so a
  retried batch does not count twice;
- `first_seen`: records the latest time a key was seen and says whether this batch starts a new
  episode (no sighting in the look-back);
- `claim` / `release`: a conditional create; exactly one caller gets True per name, which is
  how "one alert per key per window" holds across Lambda invocations.

Items carry an expiry time (`ttl`, epoch seconds); `expire` drops those past it (DynamoDB does
this by itself through the table's TTL attribute).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Protocol


class StateStore(Protocol):
    requests: int
    """Store round trips made so far (the cost model: O(keys) per batch, not O(events))."""

    def add_members(self, item: str, fields: Mapping[str, Collection[str]], cap: int,
                    ttl: int) -> dict[str, frozenset[str]] | None:
        """Add `fields[name]` to the set `name` of `item`; the sets after, or None when the item
        already holds `cap` members in one set (it is full: its threshold was reached)."""
        ...

    def remove_members(self, item: str, fields: Mapping[str, Collection[str]]) -> None: ...

    def first_seen(self, item: str, first: int, first_id: str, last: int, lookback: int,
                   ttl: int) -> int | None:
        """Record sightings from `first` to `last`; the episode start when `first` (the event
        `first_id`) begins an episode — the item was not seen in the `lookback` before it, or
        this very event began the current one (a retried batch) — else None."""
        ...

    def claim(self, name: str, ttl: int) -> bool: ...

    def release(self, name: str) -> None: ...

    def expire(self, now: int) -> None: ...


@dataclass
class _Seen:
    first: int
    first_id: str
    last: int
    ttl: int


@dataclass
class MemoryStore:
    """The store `ctrules run`, `ctrules test` and a single process use."""

    sets: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    ttls: dict[str, int] = field(default_factory=dict)
    seen: dict[str, _Seen] = field(default_factory=dict)
    claims: dict[str, int] = field(default_factory=dict)
    requests: int = 0

    def add_members(self, item: str, fields: Mapping[str, Collection[str]], cap: int,
                    ttl: int) -> dict[str, frozenset[str]] | None:
        self.requests += 1
        current = self.sets.setdefault(item, {})
        if any(len(members) >= cap for members in current.values()):
            return None
        for name, members in fields.items():
            current.setdefault(name, set()).update(members)
        self.ttls[item] = max(ttl, self.ttls.get(item, 0))
        return {name: frozenset(members) for name, members in current.items()}

    def remove_members(self, item: str, fields: Mapping[str, Collection[str]]) -> None:
        self.requests += 1
        current = self.sets.get(item, {})
        for name, members in fields.items():
            current.get(name, set()).difference_update(members)

    def first_seen(self, item: str, first: int, first_id: str, last: int, lookback: int,
                   ttl: int) -> int | None:
        self.requests += 1
        old = self.seen.get(item)
        if old is None or first - old.last > lookback:
            self.seen[item] = _Seen(first, first_id, max(last, old.last if old else last), ttl)
            return first
        old.last = max(old.last, last)
        old.ttl = max(old.ttl, ttl)
        return old.first if old.first_id == first_id else None

    def claim(self, name: str, ttl: int) -> bool:
        self.requests += 1
        if name in self.claims:
            return False
        self.claims[name] = ttl
        return True

    def release(self, name: str) -> None:
        self.requests += 1
        self.claims.pop(name, None)

    def expire(self, now: int) -> None:
        for item in [k for k, t in self.ttls.items() if t < now]:
            del self.ttls[item]
            self.sets.pop(item, None)
        for item in [k for k, s in self.seen.items() if s.ttl < now]:
            del self.seen[item]
        for name in [k for k, t in self.claims.items() if t < now]:
            del self.claims[name]
