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
    """Slow path for a document that does not decode whole."""
    head = raw.lstrip()[:1]
    start = raw.find(b"[", raw.find(b'"Records"')) if b'"Records"' in raw[:4096] else -1
    if head == b"[":
        start = raw.find(b"[")
    if start >= 0:
        yield from _split_array(raw, start, source)
        return
    # One record per line (JSON Lines); also covers a stream of CloudTrail records.
    for index, line in enumerate(raw.splitlines()):
        if not line.strip():
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield BadRecord(source, index, f"line {index + 1}: invalid JSON: {exc}")
            continue
        if isinstance(value, dict) and isinstance(value.get("Records"), list):
            yield from _from_document(value, source)
        elif isinstance(value, dict):
            yield value
        else:
            yield BadRecord(source, index, f"line {index + 1}: not a JSON object")


def _split_array(raw: bytes, start: int, source: str) -> Iterator[Record | BadRecord]:
    """Walk a JSON array's top-level elements by bracket depth, decoding each separately."""
    depth = 0
    in_string = False
    escaped = False
    element_start = -1
    index = 0
    pos = start + 1
    size = len(raw)
    while pos < size:
        ch = raw[pos]
        if in_string:
            if escaped:
                escaped = False
            elif ch == 0x5C:  # backslash
                escaped = True
            elif ch == 0x22:  # quote
                in_string = False
        elif ch == 0x22:
            in_string = True
            if element_start < 0:
                element_start = pos
        elif ch in (0x7B, 0x5B):  # { [
            if element_start < 0:
                element_start = pos
            depth += 1
        elif ch in (0x7D, 0x5D):  # } ]
            if depth == 0:  # the closing ] of the Records array
                if element_start >= 0:
                    yield _decode_element(raw[element_start:pos], source, index)
                return
            depth -= 1
        elif ch == 0x2C and depth == 0:  # a comma between elements
            if element_start >= 0:
                yield _decode_element(raw[element_start:pos], source, index)
            else:
                yield BadRecord(source, index, f"record {index}: empty element")
            index += 1
            element_start = -1
        elif element_start < 0 and ch not in b" \t\r\n":
            element_start = pos
        pos += 1
    if element_start >= 0:
        yield BadRecord(source, index, f"record {index}: file ends inside this record")


def _decode_element(chunk: bytes, source: str, index: int) -> Record | BadRecord:
    try:
        value = orjson.loads(chunk)
    except orjson.JSONDecodeError as exc:
        return BadRecord(source, index, f"record {index}: invalid JSON: {exc}")
    if isinstance(value, dict):
        return value
    return BadRecord(source, index, f"record {index}: not a JSON object")
