"""The CloudTrail catalog: the `eventName`s each `eventSource` emits.

Used by the checks stage (`ctrules check`), never by evaluation. The data is
`ctrules/data/catalog.json`, generated from botocore's API models by `scripts/build_catalog.py`
and shipped in the wheel, so linting needs no network and no botocore at run time.

The catalog deliberately knows too many names rather than too few: a finding based on it is a
warning about a probable typo, and a real event name must never be reported. The layout and field
types of a record are the schema's (`ctrules.schema`).
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Catalog:
    event_sources: Mapping[str, frozenset[str]]
    event_names: frozenset[str]
    botocore_version: str

    def emits(self, source: str, name: str) -> bool | None:
        """Whether `source` emits `name`; None when the source itself is not in the catalog."""
        names = self.event_sources.get(source)
        if names is None:
            return None
        return name in names

    def sources_emitting(self, name: str) -> list[str]:
        return sorted(src for src, names in self.event_sources.items() if name in names)


@functools.cache
def load() -> Catalog:
    # Next to this module (shipped as package data); a plain path keeps this working whether
    # `ctrules` is imported as a regular or, mid-development, a namespace package.
    text = (Path(__file__).resolve().parent / "data" / "catalog.json").read_text("utf-8")
    raw: dict[str, Any] = json.loads(text)
    sources = {src: frozenset(names) for src, names in raw["event_sources"].items()}
    all_names = frozenset(name for names in sources.values() for name in names)
    return Catalog(
        event_sources=sources,
        event_names=all_names,
        botocore_version=str(raw.get("generated_from", {}).get("botocore", "")),
    )


def is_known_event_name(name: str) -> bool:
    return name in load().event_names


def is_known_event_source(source: str) -> bool:
    return source in load().event_sources


# Past this many candidates, "did you mean" looks only at names one edit away (below).
_NEIGHBOURHOOD_FROM = 2000


class _Names:
    """A candidate collection prepared once for "did you mean": its lower-case map, its names
    by length, and for a large collection (every event name: ~16k) the deletion neighbourhood
    of every name — each name with one character removed — so that the names a couple of
    typos away from a word are found by dict lookups instead of comparing the word with every
    name."""

    def __init__(self, candidates: frozenset[str] | Sequence[str]):
        self.candidates = candidates
        self.lowered: dict[str, str] = {}
        for c in sorted(candidates, reverse=True):  # the first of equal lower forms wins
            self.lowered[c.lower()] = c
        self.by_length: dict[int, list[str]] = {}
        for c in sorted(candidates):
            self.by_length.setdefault(len(c), []).append(c)
        self.neighbours: dict[str, list[str]] | None = None
        if len(candidates) > _NEIGHBOURHOOD_FROM:
            self.neighbours = {}
            for c in sorted(candidates):
                for key in _deletions(c):
                    self.neighbours.setdefault(key, []).append(c)

    def close(self, word: str) -> list[str]:
        """The names to compare `word` with."""
        if self.neighbours is not None:
            # Up to two deletions from the word meet one deletion from a name: the names one
            # edit away, or two when one of the word's typos is an extra character.
            keys = {k for once in _deletions(word) for k in _deletions(once)}
            found = {c for key in keys for c in self.neighbours.get(key, ())}
            return sorted(found)
        # difflib's ratio can only reach 0.8 between lengths within a factor 1.5 (its own
        # first filter, real_quick_ratio): other lengths are never compared.
        size = len(word)
        return [c for length in range(-(-2 * size // 3), (3 * size) // 2 + 1)
                for c in self.by_length.get(length, ())]


def _deletions(word: str) -> set[str]:
    return {word, *(word[:i] + word[i + 1:] for i in range(len(word)))}


_prepared: dict[int, _Names] = {}


def _names(candidates: frozenset[str] | Sequence[str]) -> _Names:
    held = _prepared.get(id(candidates))
    if held is None or held.candidates is not candidates:
        if len(_prepared) > 4096:
            _prepared.clear()
        held = _Names(candidates)
        _prepared[id(candidates)] = held
    return held


def suggest(word: str, candidates: frozenset[str] | Sequence[str]) -> str | None:
    """A case-insensitive exact match, else the closest candidate by difflib ratio (≥ 0.8)
    among those it is compared with: every candidate of a small collection, the names one
    edit away in a large one."""
    names = _names(candidates)
    exact = names.lowered.get(word.lower())
    if exact is not None:
        return exact
    close = difflib.get_close_matches(word, names.close(word), n=1, cutoff=0.8)
    return close[0] if close else None


@functools.cache
def suggest_event_name(name: str, source: str | None = None) -> str | None:
    """A likely intended event name, preferring the names of `source` when it is known."""
    cat = load()
    if source is not None and source in cat.event_sources:
        hit = suggest(name, cat.event_sources[source])
        if hit is not None:
            return hit
    return suggest(name, cat.event_names)


@functools.cache
def suggest_event_source(source: str) -> str | None:
    return suggest(source, frozenset(load().event_sources))
