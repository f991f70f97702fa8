"""Sources — decoding a CloudTrail log file *as it streams in*, in bounded memory.

The S3 source hands object bodies here chunk by chunk, so a 100 MB log file never sits in memory
whole: gzip is inflated incrementally, the `Records` array (or a top-level array) is walked one
element at a time with the C-accelerated `json` scanner, and each record is yielded before the
next chunk is read. Memory is one chunk plus the largest single record.

Same contract as `logfile.iter_records` (which decodes a whole in-memory document): records come
out as dicts, every problem as a `BadRecord` in place (a corrupt record costs that record only);
layouts other than `{"Records": [...]}` / `[...]` — JSON Lines, a single record, oddly ordered
documents — are handled too, the last by buffering and delegating to `logfile`.
"""

from __future__ import annotations

import codecs
import json
import re
import zlib
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from .logfile import GZIP_MAGIC, BadRecord, Record, iter_records

CHUNK_CHARS = 1 << 20
# A CloudTrail event is at most a few hundred KB; past this, an element that still does not
# decode is corrupt rather than incomplete.
MAX_RECORD_CHARS = 8 << 20
# Layouts that cannot be streamed (e.g. a document whose first key is not "Records") are
# buffered whole up to this size.
MAX_BUFFERED_BYTES = 512 << 20

_RECORDS_HEAD = re.compile(r'\{\s*"Records"\s*:\s*\[')
_WS = " \t\r\n\ufeff"
_decoder = json.JSONDecoder()


class _Inflate:
    """Bytes chunks -> decompressed bytes chunks; remembers a truncated/corrupt gzip stream."""

    def __init__(self, chunks: Iterable[bytes], source: str):
        self.chunks = chunks
        self.source = source
        self.problem: BadRecord | None = None

    def __iter__(self) -> Iterator[bytes]:
        it = iter(self.chunks)
        first = b""
        for chunk in it:
            first += chunk
            if len(first) >= 2:
                break
        if not first.startswith(GZIP_MAGIC):
            if first:
                yield first
            yield from it
            return
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        pending = first
        try:
            while True:
                while pending:
                    out = inflater.decompress(pending, CHUNK_CHARS)
                    pending = inflater.unconsumed_tail
                    if out:
                        yield out
                    if inflater.eof:
                        # Concatenated gzip members (what `cat a.gz b.gz` makes) are one stream.
                        rest = inflater.unused_data + pending
                        pending = rest
                        if not rest.startswith(GZIP_MAGIC):
                            pending = b""
                            break
                        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
                nxt = next(it, None)
                if nxt is None:
                    break
                pending = nxt
            if not inflater.eof:
                self.problem = BadRecord(
                    self.source, None, "corrupt or truncated gzip: stream ends early"
                )
        except zlib.error as exc:
            self.problem = BadRecord(self.source, None, f"corrupt or truncated gzip: {exc}")


class _Text:
    """A growing/shrinking str window over the decompressed stream."""

    def __init__(self, chunks: Iterator[bytes]):
        self.chunks = chunks
        self.utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.buf = ""
        self.eof = False

    def more(self, keep_from: int) -> int:
        """Drop buf[:keep_from], append the next chunk; returns how much was dropped."""
        self.buf = self.buf[keep_from:]
        while not self.eof:
            chunk = next(self.chunks, None)
            if chunk is None:
                self.eof = True
                self.buf += self.utf8.decode(b"", final=True)
                break
            text = self.utf8.decode(chunk)
            if text:
                self.buf += text
                break
        return keep_from

    def skip_ws(self, pos: int) -> int:
        """Index of the next non-space char (reading more as needed); len(buf) at end."""
        while True:
            size = len(self.buf)
            while pos < size and self.buf[pos] in _WS:
                pos += 1
            if pos < size or self.eof:
                return pos
            pos -= self.more(pos)


def iter_stream(chunks: Iterable[bytes], source: str) -> Iterator[Record | BadRecord]:
    """Yield each record of a (possibly gzipped) log file given as a stream of byte chunks."""
    inflate = _Inflate(chunks, source)
    raw = iter(inflate)
    text = _Text(raw)
    yield from _walk(text, raw, source)
    if inflate.problem is not None:
        yield inflate.problem


def _walk(text: _Text, raw: Iterator[bytes], source: str) -> Iterator[Record | BadRecord]:
    pos = text.skip_ws(0)
    if pos >= len(text.buf):
        return
    head = text.buf[pos]
    if head == "[":
        yield from _array(text, pos + 1, source)
        return
    if head == "{":
        while len(text.buf) - pos < 64 and not text.eof:
            pos -= text.more(pos)
        match = _RECORDS_HEAD.match(text.buf, pos)
        if match:
            yield from _array(text, match.end(), source)
            return
    yield from _unstreamable(text, pos, raw, source)


def _array(text: _Text, pos: int, source: str) -> Iterator[Record | BadRecord]:
    """Walk the elements of a JSON array whose `[` is just before `pos`."""
    index = 0
    while True:
        pos = text.skip_ws(pos)
        buf = text.buf
        if pos >= len(buf):
            yield BadRecord(source, index, f"record {index}: file ends inside the array")
            return
        if buf[pos] == "]":
            return
        try:
            value, end = _decoder.raw_decode(buf, pos)
        except json.JSONDecodeError as exc:
            if not text.eof and _incomplete(exc, buf, pos):
                pos -= text.more(pos)
                continue
            reason = f"record {index}: invalid JSON: {exc.msg}"
            if buf.startswith(RECORD_HEAD, pos):
                found, pos = _next_record(text, pos)
            else:
                found, pos = _resync(text, pos)
            yield BadRecord(source, index, reason)
            if found != ",":
                return
            index += 1
            continue
        if end >= len(buf) and not text.eof and not isinstance(value, (dict, list)):
            pos -= text.more(pos)  # a scalar cut by the chunk boundary: decode it again whole
            continue
        after = text.skip_ws(end)
        sep = text.buf[after] if after < len(text.buf) else ""
        if sep not in (",", "]"):
            # Junk after the value: the element as a whole is bad, like logfile's slow path.
            found, pos = _resync(text, after)
            yield BadRecord(source, index, f"record {index}: invalid JSON after the value")
            if found != ",":
                return
            index += 1
            continue
        if isinstance(value, dict):
            yield value
        else:
            yield BadRecord(source, index, f"record {index}: not a JSON object")
        if sep == "]":
            return
        pos = after + 1
        index += 1


def _incomplete(exc: json.JSONDecodeError, buf: str, pos: int) -> bool:
    """Did the decoder stop because the buffer ends, rather than at bad input?"""
    if len(buf) - pos >= MAX_RECORD_CHARS:
        return False
    return exc.pos >= len(buf) - 8 or exc.msg.startswith("Unterminated string")


RECORD_HEAD = '{"eventVersion"'
"""How every record CloudTrail writes begins."""


def _next_record(text: _Text, pos: int) -> tuple[str, int]:
    """Skip a damaged record by finding where the next one begins. Bracket counting cannot be
    trusted here: a damaged string (a lost quote) turns the rest of the file inside out, so a
    record that starts like a CloudTrail record is skipped up to the next record head."""
    start = pos + 1
    while True:
        found = text.buf.find(RECORD_HEAD, start)
        if found >= 0:
            return ",", found
        if text.eof:
            return "", len(text.buf)
        # Keep only a tail that could hold the start of a head cut by the chunk boundary.
        start = max(len(text.buf) - len(RECORD_HEAD) + 1, start)
        text.more(start)
        start = 0


def _resync(text: _Text, pos: int) -> tuple[str, int]:
    """Skip a damaged element by bracket depth (string-aware). Returns (`,`|`]`|"", next pos)."""
    depth = 0
    in_string = False
    escaped = False
    while True:
        buf = text.buf
        size = len(buf)
        while pos < size:
            ch = buf[pos]
            pos += 1
            if in_string:
                if escaped:
                    escaped = False
                elif ch == "\\":
                    escaped = True
                elif ch == '"':
                    in_string = False
            elif ch == '"':
                in_string = True
            elif ch in "{[":
                depth += 1
            elif ch in "}]":
                if depth == 0:
                    return ch, pos
                depth -= 1
            elif ch == "," and depth == 0:
                return ",", pos
        if text.eof:
            return "", pos
        pos -= text.more(pos)


def _unstreamable(
    text: _Text, pos: int, raw: Iterator[bytes], source: str
) -> Iterator[Record | BadRecord]:
    """JSON Lines stream line by line; anything else is buffered and decoded by `logfile`."""
    nl = text.buf.find("\n", pos)
    while nl < 0 and not text.eof and len(text.buf) - pos < MAX_RECORD_CHARS:
        pos -= text.more(pos)
        nl = text.buf.find("\n", pos)
    first_line = text.buf[pos:nl] if nl >= 0 else ""
    if first_line.strip() and _is_json_object(first_line):
        yield from _lines(text, pos, source)
        return
    data = bytearray(text.buf[pos:].encode("utf-8"))
    text.buf = ""
    for chunk in raw:
        data += chunk
        if len(data) > MAX_BUFFERED_BYTES:
            yield BadRecord(
                source,
                None,
                f"not a streamable CloudTrail layout and larger than {MAX_BUFFERED_BYTES} bytes",
            )
            return
    yield from iter_records(bytes(data), source)


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(orjson.loads(line), dict)
    except orjson.JSONDecodeError:
        return False


def _lines(text: _Text, pos: int, source: str) -> Iterator[Record | BadRecord]:
    index = 0
    while True:
        nl = text.buf.find("\n", pos)
        if nl < 0 and not text.eof:
            if len(text.buf) - pos > MAX_RECORD_CHARS:
                yield BadRecord(source, index, f"line {index + 1}: longer than any record")
                pos = _skip_line(text)
                index += 1
            else:
                pos -= text.more(pos)
            continue
        end = nl if nl >= 0 else len(text.buf)
        line = text.buf[pos:end]
        if line.strip():
            yield from _line(line, index, source)
        if nl < 0:
            return
        pos = end + 1
        index += 1


def _line(line: str, index: int, source: str) -> Iterator[Record | BadRecord]:
    try:
        value: Any = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        yield BadRecord(source, index, f"line {index + 1}: invalid JSON: {exc}")
        return
    if isinstance(value, dict) and isinstance(value.get("Records"), list):
        for i, record in enumerate(value["Records"]):
            if isinstance(record, dict):
                yield record
            else:
                yield BadRecord(source, i, f"record is {type(record).__name__}, not an object")
    elif isinstance(value, dict):
        yield value
    else:
        yield BadRecord(source, index, f"line {index + 1}: not a JSON object")


def _skip_line(text: _Text) -> int:
    """Discard the rest of an over-long line; returns the position just after its newline."""
    while True:
        nl = text.buf.find("\n")
        if nl >= 0:
            return nl + 1
        text.more(len(text.buf))
        if text.eof and "\n" not in text.buf:
            return len(text.buf)
