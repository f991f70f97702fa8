"""Sources — decoding only what the rule set reads: a log file's records, lazily.

Most of a `ctrules run` used to be turning JSON into Python objects that no rule looks at: the
dispatch stage and the field index read a handful of fields, and only a few percent of records
have any candidate rule at all. So, for a log file read whole:

1. gunzip it in one call (`inflate.gunzip`, libdeflate when installed);
2. split `{"Records": [...]}` into raw records without building Python objects (msgspec `Raw`);
3. decode only the fields the rule set's dispatch and index read (a msgspec decoder for a
   `TypedDict` of just those fields, nested — unknown fields are skipped at C speed), and ask
   the rule set whether any rule can match them (`RuleSet.may_match`, which reads exactly
   those fields);
4. decode in full only the records that have candidate rules.

A record with no candidate is yielded as the partial record (every field a rule's dispatch can
read is in it, so `evaluate` on it gives the same empty answer as on the whole record). A record
whose fields don't fit the struct decoder (not an object, out-of-range numbers) is decoded in
full, never skipped. Anything else — another layout, invalid UTF-8, a document that does not
decode whole, a compressed or decompressed size over the limits, several gzip members, a
damaged stream — goes to the bounded-memory streaming reader (`stream.iter_stream`), whose
output is the reference: the records, `BadRecord`s and their order are the same either way.
"""

from __future__ import annotations

import gc
import itertools
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any, Protocol, TypedDict

import msgspec

from .inflate import gunzip
from .logfile import GZIP_MAGIC, BadRecord, Record
from .stream import MAX_BAD_RECORDS, MAX_DEPTH, MAX_RECORD_CHARS, iter_stream

MAX_COMPRESSED_BYTES = 8 << 20
"""A file up to this size is read whole for the fast path; larger ones stream."""
MAX_DOCUMENT_BYTES = 32 << 20
"""The most decompressed JSON held whole in memory (CloudTrail's files are smaller); larger
documents stream, so memory stays bounded whatever the file size."""

_WS = b" \t\r\n"
# Near the streaming reader's bound on one record, where its verdict depends on chunking.
_BIG_RECORD = MAX_RECORD_CHARS // 2
_STRING_OR_BRACKET = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _too_deep(record: bytes) -> bool:
    """Whether a record nests deeper than the streaming reader allows (it counts such a record
    as bad; the lazy reader must agree). Only records with that many brackets are walked."""
    if record.count(b"[") + record.count(b"{") <= MAX_DEPTH:
        return False
    depth = 0
    for token in _STRING_OR_BRACKET.finditer(record):
        char = token.group()[:1]
        if char in (b"[", b"{"):
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif char in (b"]", b"}"):
            depth -= 1
    return False


_RECORDS_KEY = b'"Records"'
_DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, RecursionError)


class Matcher(Protocol):
    """What the lazy reader needs of a rule set (ctrules.RuleSet has it)."""

    def decode_paths(self) -> frozenset[tuple[str | int, ...]]: ...

    def may_match(self, record: dict[str, Any]) -> bool: ...


class AnyOf:
    """Several rule sets reading one stream (the per-event rules and the stateful rules'
    selection): a record is decoded whole when any of them may match it."""

    def __init__(self, *matchers: Matcher) -> None:
        self.matchers = matchers

    def decode_paths(self) -> frozenset[tuple[str | int, ...]]:
        return frozenset().union(*(m.decode_paths() for m in self.matchers))

    def may_match(self, record: dict[str, Any]) -> bool:
        return any(m.may_match(record) for m in self.matchers)


class _Document(msgspec.Struct):
    Records: list[msgspec.Raw]


_document = msgspec.json.Decoder(_Document)
_full = msgspec.json.Decoder()
_Tree = dict[str, "_Tree | None"]  # key -> the keys read below it, or None: all of it


def _tree(paths: Iterable[tuple[str | int, ...]]) -> _Tree:
    """The keys to decode, nested: `a.b` and `a.c` decode `a` as an object of `b` and `c`;
    a path that ends at `a` (or indexes into it) decodes all of `a`."""
    root: _Tree = {}
    for path in sorted(paths, key=len):
        node: _Tree | None = root
        for i, seg in enumerate(path):
            assert node is not None
            key = str(seg)
            last = i == len(path) - 1 or not isinstance(path[i + 1], str)
            if last:
                node[key] = None
                break
            if key in node and node[key] is None:
                break  # all of it is decoded already
            node = node.setdefault(key, {})
    return root


_counter = itertools.count()


def _typed(tree: _Tree) -> Any:
    """A TypedDict type that msgspec decodes into a plain dict holding just `tree` (unknown
    keys skipped at C speed; where an object is expected, null or an array is kept as it is;
    any other type fails, and the record is then decoded in full)."""
    fields: dict[str, Any] = {}
    for key, sub in tree.items():
        # An array there is decoded whole (a path reaches every element of it).
        fields[key] = Any if sub is None else (_typed(sub) | list[Any] | None)
    return TypedDict(f"Partial{next(_counter)}", fields, total=False)  # type: ignore[operator]


def _records_of(kind: Any) -> Any:
    fields = {"Records": list[kind]}
    return TypedDict(f"PartialDocument{next(_counter)}", fields)  # type: ignore[operator]


class Plan:
    """The partial decoders for one rule set (built once, used for every file)."""

    def __init__(self, ruleset: Matcher):
        self.ruleset = ruleset
        kind = _typed(_tree(ruleset.decode_paths()))
        self.partial = msgspec.json.Decoder(kind)
        self.document = msgspec.json.Decoder(_records_of(kind))


_plans: dict[int, tuple[Matcher, Plan]] = {}


def plan_for(ruleset: Matcher) -> Plan:
    held = _plans.get(id(ruleset))
    if held is None or held[0] is not ruleset:
        if len(_plans) > 16:
            _plans.clear()
        held = (ruleset, Plan(ruleset))
        _plans[id(ruleset)] = held
    return held[1]


def supports(ruleset: Any) -> bool:
    return callable(getattr(ruleset, "may_match", None)) and \
        callable(getattr(ruleset, "decode_paths", None))


def iter_chunks(chunks: Iterable[bytes], source: str,
                ruleset: Matcher) -> Iterator[Record | BadRecord]:
    """The records of a log file given as byte chunks: read whole and decoded lazily when it
    is small enough, streamed otherwise. Same records and `BadRecord`s as `iter_stream`."""
    it = iter(chunks)
    held: list[bytes] = []
    size = 0
    for chunk in it:
        held.append(chunk)
        size += len(chunk)
        if size > MAX_COMPRESSED_BYTES:
            yield from iter_stream(itertools.chain(held, it), source)
            return
    yield from iter_document(b"".join(held), source, ruleset)


def iter_document(data: bytes, source: str, ruleset: Matcher) -> Iterator[Record | BadRecord]:
    """The records of one whole log file (gzip or plain)."""
    records = _lazy(data, plan_for(ruleset), source)
    if records is None:
        yield from iter_stream([data], source)
    else:
        yield from records


def _lazy(data: bytes, plan: Plan, source: str) -> list[Record | BadRecord] | None:
    """The records, or None when this file is for the streaming reader."""
    # Decoded records hold no reference cycles; the cyclic collector would only walk the
    # caller's heap once per few hundred new dicts. (Process-wide, so restored by whoever
    # turned it off: concurrent readers never leave it off.)
    enabled = gc.isenabled()
    if enabled:
        gc.disable()
    try:
        return _decode(data, plan, source)
    finally:
        if enabled:
            gc.enable()


def _decode(data: bytes, plan: Plan, source: str) -> list[Record | BadRecord] | None:
    if data.startswith(GZIP_MAGIC):
        raw = gunzip(data, MAX_DOCUMENT_BYTES)
        if raw is None:
            return None
    elif len(data) <= MAX_DOCUMENT_BYTES:
        raw = data
    else:
        return None
    # Only the layout CloudTrail writes, `{"Records": [` first, is read here.
    start = len(raw) - len(raw.lstrip(_WS))
    if not raw.startswith(b"{", start):
        return None
    head = raw[start + 1:start + 64].lstrip(_WS)
    if not head.startswith(_RECORDS_KEY) or not head[len(_RECORDS_KEY):].lstrip(_WS) \
            .startswith(b":") or raw.count(_RECORDS_KEY) != 1:
        # (A second "Records" key: the streaming reader keeps the first, JSON decoders the last.)
        return None
    if not raw.isascii():
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return None  # the streaming reader replaces bad bytes; leave it to it
    if raw.count(b",") > len(raw) // 8:
        # Records are objects of hundreds of bytes; a document this dense in commas is a bomb
        # of tiny items, which the streaming reader stops after MAX_BAD_RECORDS in bounded
        # memory instead of holding millions of them here.
        return None
    try:
        items = _document.decode(raw).Records
    except _DECODE_ERRORS:
        return None
    if any(_too_deep(bytes(item)) for item in items):
        return None  # the streaming reader reports the record; this path would accept it
    if len(raw) > _BIG_RECORD and any(len(memoryview(item)) > _BIG_RECORD for item in items):
        return None  # the streaming reader has a bound on one record; it applies it
    try:
        # Usually every record fits the partial decoder: one call decodes them all.
        partials: list[Any] | None = plan.document.decode(raw)["Records"]
    except _DECODE_ERRORS:
        partials = None  # some record does not fit: decide record by record
    decode_partial = plan.partial.decode
    may_match = plan.ruleset.may_match
    out: list[Record | BadRecord] = []
    append = out.append
    bad = 0
    for index, item in enumerate(items):
        try:
            partial = partials[index] if partials is not None else decode_partial(item)
        except _DECODE_ERRORS:
            pass  # not an object, or a field that does not fit: decode it in full
        else:
            if not may_match(partial):
                append(partial)
                continue
        try:
            value = _full.decode(item)
        except _DECODE_ERRORS:
            try:  # what the streaming reader would do (e.g. 1e999 is inf for it)
                value = json.loads(bytes(item).decode("utf-8"))
            except (ValueError, RecursionError):
                return None
        if type(value) is dict:
            append(value)
        else:
            bad += 1
            if bad > MAX_BAD_RECORDS:
                return None  # the streaming reader's bound on bad records applies
            append(BadRecord(source, index, f"record {index}: not a JSON object"))
    return out
