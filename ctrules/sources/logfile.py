"""Sources — the types every source shares, and decoding one CloudTrail log file held in memory.

Shared by every source: local files and stdin (`ctrules run`), S3 objects, and anything else
that hands over the bytes of a file. Accepts gzip or plain bytes holding `{"Records": [...]}`
(how CloudTrail delivers), a JSON array, a single record, one record per line, or several such
documents one after another.

A malformed file never stops the caller: decoding goes through the streaming reader
(`stream.iter_stream`), which reports every problem as a `BadRecord` in place, in order, so one
corrupt record costs that record only, and bounds its work on hostile input.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import msgspec

GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class BadRecord:
    """A record (or a whole file) that could not be decoded; `index` is its position."""

    source: str
    index: int | None
    reason: str


Record = dict[str, Any]


class Deferred:
    """A record that only the stateful rules' selection may match (no per-event rule can), as
    the lazy reader hands it back: `record` holds the fields the stateful rules read
    (`stateful.reads`), `raw` its bytes, decoded in full by `whole()` only for the few records
    an alert shows. Selecting and observing `record` gives what the whole record gives."""

    __slots__ = ("record", "raw")

    def __init__(self, record: Record, raw: bytes):
        self.record = record
        self.raw = raw

    def whole(self) -> Record:
        """The record decoded in full, as the lazy reader decodes a candidate (it defers only
        records on which that cannot fail)."""
        value = decode_whole(self.raw)
        assert type(value) is dict
        return value

    def __repr__(self) -> str:
        return f"Deferred({self.record!r})"


_decode_json = msgspec.json.Decoder().decode


def decode_whole(raw: bytes | memoryview | Any) -> Any:
    """One raw JSON value decoded in full as the streaming reader reads it: msgspec, and where
    msgspec refuses what the stdlib reader takes (e.g. 1e999, inf for it), `json`. Raises
    ValueError or RecursionError when neither can."""
    try:
        return _decode_json(raw)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return json.loads(bytes(raw).decode("utf-8"))


def iter_records(data: bytes, source: str) -> Iterator[Record | BadRecord]:
    """Yield each record of a log file, or a BadRecord where one could not be decoded."""
    from .stream import iter_stream  # stream builds on this module's types

    yield from iter_stream([data], source)
