"""Sources — decoding a CloudTrail log file *as it streams in*, in bounded memory and time.

The S3 source, `ctrules run` and `ctrules explain` hand file bodies here chunk by chunk, so a
100 MB log file never sits in memory whole: gzip (one member or many, as `cat a.gz b.gz` makes)
is inflated incrementally, and the text is walked document by document — `{"Records": [...]}`
(how CloudTrail delivers), a top-level array, a single record, an EventBridge "AWS API Call via
CloudTrail" event (its `detail` is the record), JSON Lines of any of those, or several documents
one after another. A `Records` array is walked one element at a time with the C-accelerated
`json` scanner, and each record is yielded before the next chunk is read.

Every problem comes out as a `BadRecord` in place and costs only the bytes it spans: a corrupt
record, a line of text that is not JSON, trailing junk, NaN, a number too long to convert,
nesting deeper than `MAX_DEPTH`, invalid UTF-8 (replaced by U+FFFD and counted once per object).
Hostile input is bounded (see docs/consumer.md, "Limits"): decompressed bytes per object
(`MAX_OBJECT_BYTES`), characters per record (`MAX_RECORD_CHARS`) and per document decoded
whole (`MAX_DOCUMENT_CHARS`), nesting (`MAX_DEPTH`) and bad records per object
(`MAX_BAD_RECORDS`); all scanning is regex / `str.find` based, never a Python loop per
character.
"""

from __future__ import annotations

import codecs
import json
import re
import threading
import zlib
from collections.abc import Generator, Iterable, Iterator
from typing import Any

from .logfile import GZIP_MAGIC, BadRecord, Record

CHUNK_CHARS = 1 << 20
MAX_OBJECT_BYTES = 1 << 30
"""Decompressed bytes read from one object (file); the rest is skipped and reported."""
MAX_RECORD_CHARS = 8 << 20
"""A CloudTrail event is at most a few hundred KB; past this, an element that still does not
decode is corrupt rather than incomplete."""
MAX_DOCUMENT_CHARS = 16 << 20
"""A document that cannot be streamed (its first key is not "Records") is decoded whole up to
this size (peak memory about six times that: the text and its decoded objects)."""
MAX_DEPTH = 128
"""Nesting of a record (objects and arrays); deeper records are bad, never a crash later on."""
MAX_BAD_RECORDS = 10_000
"""Past this many bad records an object is garbage, not a log file: the rest is skipped."""

RECORD_HEAD = '{"eventVersion"'
"""How every record CloudTrail writes begins."""

_RECORDS_HEAD = re.compile(r'\{\s*"Records"\s*:\s*\[')
_WS = " \t\r\n\ufeff"
_WS_RUN = re.compile("[ \t\r\n\ufeff]*")
_SPACES = re.compile(" *")
# Where a new top-level document may begin after junk: a line starting with `{` or `[`.
_LINE_START = re.compile(r"\n(?=[\[{])")
_SURROGATE = re.compile("[\ud800-\udfff]")
_STRUCT = re.compile(r'["{}\[\],]')
_STRING_REST = re.compile(r'[^"\\]*(?:\\.[^"\\]*)*"', re.S)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_decoder = json.JSONDecoder(parse_constant=_reject_constant)

# Invalid UTF-8 is replaced (a record with one bad byte is still worth evaluating) but counted:
# the codec error handler is global, so it reports to the _Text decoding on this thread.
_utf8_target = threading.local()


def _count_bad_utf8(exc: UnicodeError) -> tuple[str, int]:
    text = getattr(_utf8_target, "text", None)
    if text is not None:
        text.bad_utf8 += 1
    assert isinstance(exc, UnicodeDecodeError)
    return "\ufffd", exc.end


codecs.register_error("ctrules-count", _count_bad_utf8)


class _Inflate:
    """Bytes chunks -> decompressed bytes chunks, at most `limit` bytes; remembers problems
    (truncated/corrupt gzip, trailing junk, the size limit) as BadRecords."""

    def __init__(self, chunks: Iterable[bytes], source: str, limit: int):
        self.chunks = chunks
        self.source = source
        self.limit = limit
        self.problems: list[BadRecord] = []

    def _problem(self, reason: str) -> None:
        self.problems.append(BadRecord(self.source, None, reason))

    def __iter__(self) -> Iterator[bytes]:
        it = iter(self.chunks)
        first = b""
        for chunk in it:
            first += chunk
            if len(first) >= 2:
                break
        if first.startswith(GZIP_MAGIC):
            yield from self._limited(self._gunzip(first, it))
        else:
            yield from self._limited(_prepend(first, it))

    def _limited(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        total = 0
        for chunk in chunks:
            total += len(chunk)
            if total > self.limit:
                yield chunk[: len(chunk) - (total - self.limit)]
                self._problem(
                    f"larger than {self.limit} bytes decompressed: the rest is skipped"
                )
                return
            if chunk:
                yield chunk

    def _gunzip(self, pending: bytes, it: Iterator[bytes]) -> Iterator[bytes]:
        inflater: Any = zlib.decompressobj(16 + zlib.MAX_WBITS)
        more = True
        try:
            while True:
                if inflater is None:
                    # Between gzip members: another member, or trailing data.
                    if len(pending) < 2 and more:
                        nxt = next(it, None)
                        if nxt is None:
                            more = False
                        else:
                            pending += nxt
                        continue
                    if not pending:
                        return
                    if pending.startswith(GZIP_MAGIC):
                        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
                        continue
                    trailing = len(pending) + sum(len(c) for c in it)
                    self._problem(f"{trailing} bytes of trailing data after the gzip stream")
                    return
                if pending:
                    out = inflater.decompress(pending, CHUNK_CHARS)
                    pending = inflater.unconsumed_tail
                    if out:
                        yield out
                    if inflater.eof:
                        # What follows this member (at the end, zlib reports the same bytes
                        # as unconsumed_tail too: taking both would replay them).
                        pending = inflater.unused_data
                        inflater = None
                    continue
                nxt = next(it, None)
                if nxt is None:
                    self._problem("corrupt or truncated gzip: stream ends early")
                    return
                pending = nxt
        except zlib.error as exc:
            self._problem(f"corrupt or truncated gzip: {exc}")


def _prepend(first: bytes, it: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from it


class _Text:
    """A growing/shrinking str window over the decompressed stream."""

    def __init__(self, chunks: Iterator[bytes]):
        self.chunks = chunks
        self.utf8 = codecs.getincrementaldecoder("utf-8")(errors="ctrules-count")
        self.buf = ""
        self.eof = False
        self.bad_utf8 = 0

    def _decode(self, data: bytes, final: bool = False) -> str:
        _utf8_target.text = self
        try:
            return str(self.utf8.decode(data, final))
        finally:
            _utf8_target.text = None

    def more(self, keep_from: int, at_least: int = 1) -> int:
        """Drop buf[:keep_from], then append chunks until at least `at_least` new characters
        arrived (or the end); returns how much was dropped. One join per call: growing a large
        buffer costs its size once, not once per chunk."""
        parts = [self.buf[keep_from:]]
        got = 0
        while not self.eof and got < at_least:
            chunk = next(self.chunks, None)
            if chunk is None:
                self.eof = True
                text = self._decode(b"", final=True)
            else:
                text = self._decode(chunk)
            parts.append(text)
            got += len(text)
        self.buf = "".join(parts)
        return keep_from

    def grow(self, pos: int) -> int:
        """More text after `pos`, doubling what is held from `pos` on (so decoding a large
        value again after each read costs linear time overall); returns the new `pos`."""
        held = len(self.buf) - pos
        return pos - self.more(pos, max(held, 1))

    def skip_ws(self, pos: int) -> int:
        """Index of the next non-space char (reading more as needed); len(buf) at end."""
        while True:
            buf = self.buf
            if pos < len(buf) and buf[pos] not in _WS:
                return pos  # the common case: at most a space or two between values
            # A run-matching regex is several times faster than searching for a non-space
            # (and a run of plain spaces faster still): whitespace bombs are mostly spaces.
            pos = _run_end(_WS_RUN, buf, _run_end(_SPACES, buf, pos))
            if pos < len(buf):
                return pos
            if self.eof:
                return len(self.buf)
            self.more(len(self.buf))
            pos = 0


def _run_end(run: re.Pattern[str], buf: str, pos: int) -> int:
    match = run.match(buf, pos)  # a `*` pattern always matches
    return match.end() if match is not None else pos


def iter_stream(
    chunks: Iterable[bytes], source: str, *, max_bytes: int = MAX_OBJECT_BYTES
) -> Iterator[Record | BadRecord]:
    """Yield each record of a (possibly gzipped) log file given as a stream of byte chunks,
    and a BadRecord for each problem. Never raises on any input."""
    inflate = _Inflate(chunks, source, max_bytes)
    text = _Text(iter(inflate))
    bad = 0
    for unit in _walk(text, source):
        if isinstance(unit, BadRecord):
            bad += 1
            if bad > MAX_BAD_RECORDS:
                yield BadRecord(
                    source, None, f"more than {MAX_BAD_RECORDS} bad records: the rest is skipped"
                )
                return
        yield unit
    yield from inflate.problems
    if text.bad_utf8:
        yield BadRecord(
            source,
            None,
            f"{text.bad_utf8} invalid UTF-8 sequence(s) or lone surrogate(s), replaced by U+FFFD",
        )


class _Walk:
    """Running position of records in the object, for BadRecord indexes."""

    def __init__(self) -> None:
        self.index = 0


def _walk(text: _Text, source: str) -> Iterator[Record | BadRecord]:
    walk = _Walk()
    pos = 0
    while True:
        pos = text.skip_ws(pos)
        if pos >= len(text.buf):
            return
        head = text.buf[pos]
        if head == "[":
            pos, _ = yield from _array(text, pos + 1, source, walk)
            continue
        if head == "{":
            if len(text.buf) - pos < 64 and not text.eof:
                pos -= text.more(pos, 64)
            match = _RECORDS_HEAD.match(text.buf, pos)
            if match:
                pos, closer = yield from _array(text, match.end(), source, walk)
                if closer == "]":
                    pos = _close_document(text, pos)
                continue
            pos = yield from _document(text, pos, source, walk)
            continue
        yield BadRecord(source, walk.index, f"record {walk.index}: text that is not JSON")
        walk.index += 1
        pos = _skip_junk(text, pos)


def _close_document(text: _Text, pos: int) -> int:
    """After a `Records` array: skip to just past the `}` that closes its document (other keys
    after `Records` are not CloudTrail's and are ignored)."""
    pos = text.skip_ws(pos)
    if pos < len(text.buf) and text.buf[pos] == "}":
        return pos + 1
    while True:
        found, pos = _resync(text, pos)
        if found != ",":
            return pos


def _skip_junk(text: _Text, pos: int) -> int:
    """Skip text that is not JSON up to the next line that starts a document."""
    start = pos + 1
    while True:
        match = _LINE_START.search(text.buf, start)
        if match is not None:
            return match.end()
        if text.eof:
            return len(text.buf)
        # Keep the last char: a newline whose `{` is in the next chunk.
        start -= text.more(max(len(text.buf) - 1, start))
        start = 0


def _decode(text: _Text, pos: int, limit: int) -> tuple[int, Any, int, str | None]:
    """Decode the value at `pos`, reading more while it is incomplete and under `limit`.
    Returns (pos, value, end, problem); `end` is where the value ends, -1 if it did not
    decode (the extent of the damage is unknown)."""
    while True:
        buf = text.buf
        try:
            value, end = _decoder.raw_decode(buf, pos)
        except json.JSONDecodeError as exc:
            if not text.eof and len(buf) - pos < limit and _incomplete(exc, buf):
                pos = text.grow(pos)
                continue
            return pos, None, -1, f"invalid JSON: {exc.msg}"
        except RecursionError:
            return pos, None, -1, f"nested deeper than {MAX_DEPTH} levels"
        except ValueError as exc:  # NaN/Infinity, a number longer than int() converts
            return pos, None, -1, f"invalid JSON: {exc}"
        if end >= len(buf) and not text.eof and not isinstance(value, (dict, list)):
            pos = text.grow(pos)  # a scalar cut by the chunk boundary: decode it again whole
            continue
        if isinstance(value, (dict, list)):
            if _too_deep(value, buf, pos, end):
                return pos, None, end, f"nested deeper than {MAX_DEPTH} levels"
            if buf.find("\\ud", pos, end) >= 0 or buf.find("\\uD", pos, end) >= 0:
                value = _mend_surrogates(value, text)
        return pos, value, end, None


def _mend_surrogates(value: Any, text: _Text) -> Any:
    """A `\\udXXX` escape without its pair decodes to a lone surrogate, which no encoder
    downstream (orjson, UTF-8 for Slack) accepts: replace each by U+FFFD and count it."""
    mended, count = mend_surrogates(value)
    text.bad_utf8 += count
    return mended


def mend_surrogates(value: Any) -> tuple[Any, int]:
    """`value` with every lone surrogate in its strings (keys too) replaced by U+FFFD, and how
    many there were. For records decoded elsewhere (a Lambda event); depth must be bounded."""
    count = 0

    def mend(item: Any) -> Any:
        nonlocal count
        if isinstance(item, str):
            if item.isascii():
                return item
            fixed, n = _SURROGATE.subn("\ufffd", item)
            count += n
            return fixed
        if isinstance(item, dict):
            return {mend(k): mend(v) for k, v in item.items()}
        if isinstance(item, list):
            return [mend(v) for v in item]
        return item

    mended = mend(value)
    return (mended, count) if count else (value, 0)


def _too_deep(value: Any, buf: str, start: int, end: int) -> bool:
    # Fewer brackets than the limit cannot nest past it: the common case costs two C scans.
    if buf.count("{", start, end) + buf.count("[", start, end) <= MAX_DEPTH:
        return False
    return not depth_ok(value)


def depth_ok(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Is `value` nested at most `limit` deep? Iterative: safe on any depth."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return False
        children = item.values() if isinstance(item, dict) else item
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return True


def _array(
    text: _Text, pos: int, source: str, walk: _Walk
) -> Generator[Record | BadRecord, None, tuple[int, str]]:
    """Walk the elements of a JSON array whose `[` is just before `pos`. Returns (the position
    after the array, the closing char or "" at the end of the input)."""
    while True:
        pos = text.skip_ws(pos)
        buf = text.buf
        index = walk.index
        if pos >= len(buf):
            yield BadRecord(source, index, f"record {index}: file ends inside the array")
            return pos, ""
        if buf[pos] == "]":
            return pos + 1, "]"
        pos, value, end, problem = _decode(text, pos, MAX_RECORD_CHARS)
        walk.index += 1
        if problem is not None:
            if end >= 0:  # decoded but refused (too deep): the element's extent is known
                found, pos = _after_value(text, end)
            elif text.buf.startswith(RECORD_HEAD, pos):
                found, pos = _next_record(text, pos)
            else:
                found, pos = _resync(text, pos)
            yield BadRecord(source, index, f"record {index}: {problem}")
            if found != ",":
                return pos, found
            continue
        after = text.skip_ws(end)
        sep = text.buf[after] if after < len(text.buf) else ""
        if sep not in (",", "]"):
            # Junk after the value: the element as a whole is bad, like logfile's slow path.
            found, pos = _resync(text, after)
            yield BadRecord(source, index, f"record {index}: invalid JSON after the value")
            if found != ",":
                return pos, found
            continue
        if isinstance(value, dict):
            yield _unwrap_eventbridge(value)
        else:
            yield BadRecord(source, index, f"record {index}: not a JSON object")
        pos = after + 1
        if sep == "]":
            return pos, "]"


def _after_value(text: _Text, end: int) -> tuple[str, int]:
    after = text.skip_ws(end)
    sep = text.buf[after] if after < len(text.buf) else ""
    if sep in (",", "]", "}"):
        return sep, after + 1
    return _resync(text, after)


def _unwrap_eventbridge(value: Record) -> Record:
    """An EventBridge "... via CloudTrail" event carries the record in `detail`."""
    detail_type = value.get("detail-type")
    detail = value.get("detail")
    if isinstance(detail_type, str) and detail_type.endswith("via CloudTrail"):
        if isinstance(detail, dict):
            return detail
    return value


def _document(
    text: _Text, pos: int, source: str, walk: _Walk
) -> Generator[Record | BadRecord, None, int]:
    """A top-level object that does not start with "Records": decoded whole. Returns the
    position after it."""
    index = walk.index
    pos, value, end, problem = _decode(text, pos, MAX_DOCUMENT_CHARS)
    if problem is not None:
        walk.index += 1
        yield BadRecord(source, index, f"record {index}: {problem}")
        return _skip_junk(text, pos) if end < 0 else end
    records = value.get("Records")
    if records is not None:
        if not isinstance(records, list):
            walk.index += 1
            yield BadRecord(source, index, "'Records' is not an array")
            return end
        for record in records:
            index = walk.index
            walk.index += 1
            if not isinstance(record, dict):
                yield BadRecord(source, index, f"record is {type(record).__name__}, not an object")
            elif not depth_ok(record):
                yield BadRecord(source, index, f"record {index}: nested deeper than {MAX_DEPTH}")
            else:
                yield _unwrap_eventbridge(record)
        return end
    walk.index += 1
    reason = _not_a_record(value)
    if reason is None:
        yield _unwrap_eventbridge(value)
    else:
        yield BadRecord(source, index, reason)
    return end


def _not_a_record(doc: Record) -> str | None:
    """Why a single top-level object is not a CloudTrail record, or None if it is one."""
    detail_type = doc.get("detail-type")
    if isinstance(detail_type, str) and "detail" in doc:
        if detail_type.endswith("via CloudTrail") and isinstance(doc["detail"], dict):
            return None
        return f"an EventBridge {detail_type!r} event, not a CloudTrail record"
    if "digestStartTime" in doc and "logFiles" in doc:
        return "a CloudTrail digest file, not a log file (skipped)"
    if "eventName" in doc or "eventSource" in doc or "eventVersion" in doc:
        return None
    return "not a CloudTrail log: no 'Records' array"


def _incomplete(exc: json.JSONDecodeError, buf: str) -> bool:
    """Did the decoder stop because the buffer ends, rather than at bad input?"""
    return exc.pos >= len(buf) - 8 or exc.msg.startswith("Unterminated string")


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
    """Skip a damaged element by bracket depth (string-aware), jumping from one structural
    character to the next with a regex. Returns (`,`|`]`|`}`|"", next pos). An element that
    does not end within MAX_RECORD_CHARS is skipped to the next record head instead."""
    depth = 0
    budget = MAX_RECORD_CHARS
    while True:
        buf = text.buf
        match = _STRUCT.search(buf, pos)
        if match is None:
            if text.eof:
                return "", len(buf)
            budget -= len(buf) - pos
            if budget < 0:
                return _next_record(text, len(buf) - 1)
            text.more(len(buf))
            pos = 0
            continue
        budget -= match.end() - pos
        if budget < 0:
            return _next_record(text, match.start())
        ch = match.group()
        pos = match.end()
        if ch == '"':
            rest = _STRING_REST.match(buf, pos)
            if rest is None:
                if text.eof:
                    return "", len(buf)
                pos = text.grow(pos - 1)  # the string ends in a later chunk: match it again
                if len(text.buf) - pos > budget:
                    return _next_record(text, pos)
                continue
            budget -= rest.end() - pos
            pos = rest.end()
        elif ch in "{[":
            depth += 1
        elif depth == 0:
            return ch, pos
        elif ch != ",":
            depth -= 1
