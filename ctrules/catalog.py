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


def suggest(word: str, candidates: frozenset[str] | Sequence[str]) -> str | None:
    """The closest candidate (difflib ratio ≥ 0.8), or a case-insensitive exact match."""
    lowered = {c.lower(): c for c in candidates}
    if word.lower() in lowered:
        return lowered[word.lower()]
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.8)
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
