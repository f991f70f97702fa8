"""Sources — decoding one CloudTrail log file into records.

Shared by every source: local files and stdin (`ctrules run`), S3 objects, and anything else
that hands over the bytes of a file. Accepts gzip or plain bytes holding `{"Records": [...]}`
(how CloudTrail delivers), a JSON array, a single record, or one record per line.

A malformed file never stops the caller: the fast path decodes the whole document with orjson;
if that fails, a tolerant scanner splits the `Records` array (or the lines) into elements and
decodes each on its own, so one corrupt record costs that record only. Every problem is
reported as a `BadRecord` in place, in order.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class BadRecord:
    """A record (or a whole file) that could not be decoded; `index` is its position."""

    source: str
    index: int | None
    reason: str


Record = dict[str, Any]


def decompress(data: bytes, source: str) -> tuple[bytes, BadRecord | None]:
    """Gunzip if gzipped. A truncated stream yields what could be read plus a BadRecord."""
    if not data.startswith(GZIP_MAGIC):
        return data, None
    try:
        return gzip.decompress(data), None
    except (OSError, EOFError, zlib.error) as exc:
        # Keep whatever decompressed cleanly: the records before the damage are still good.
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            partial = inflater.decompress(data)
        except zlib.error:
            partial = b""
        return partial, BadRecord(source, None, f"corrupt or truncated gzip: {exc}")


def iter_records(data: bytes, source: str) -> Iterator[Record | BadRecord]:
    """Yield each record of a log file, or a BadRecord where one could not be decoded."""
    raw, problem = decompress(data, source)
    if problem is not None:
        yield problem
    if not raw.strip():
        return
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        yield from _tolerant(raw, source)
        return
    yield from _from_document(document, source)


def _from_document(document: Any, source: str) -> Iterator[Record | BadRecord]:
    if isinstance(document, dict):
        records = document.get("Records")
        if records is None:
            if "eventName" in document or "eventSource" in document or "eventVersion" in document:
                yield document
            else:
                yield BadRecord(source, None, "not a CloudTrail log: no 'Records' array")
            return
        if not isinstance(records, list):
            yield BadRecord(source, None, "'Records' is not an array")
            return
    elif isinstance(document, list):
        records = document
    else:
        yield BadRecord(
            source, None, f"not a CloudTrail log: top level is {type(document).__name__}"
        )
        return
    for index, record in enumerate(records):
        if isinstance(record, dict):
            yield record
        else:
            yield BadRecord(source, index, f"record is {type(record).__name__}, not an object")


def _tolerant(raw: bytes, source: str) -> Iterator[Record | BadRecord]:
    """Slow path for a document that does not decode whole: the streaming reader walks it
    element by element (or line by line), reporting each damaged record and resuming at the
    next one."""
    from .stream import iter_stream  # stream builds on this module's types

    yield from iter_stream([raw], source)
