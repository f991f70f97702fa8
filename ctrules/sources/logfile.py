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

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class BadRecord:
    """A record (or a whole file) that could not be decoded; `index` is its position."""

    source: str
    index: int | None
    reason: str


Record = dict[str, Any]


def iter_records(data: bytes, source: str) -> Iterator[Record | BadRecord]:
    """Yield each record of a log file, or a BadRecord where one could not be decoded."""
    from .stream import iter_stream  # stream builds on this module's types

    yield from iter_stream([data], source)
