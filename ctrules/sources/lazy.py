"""Sources — decoding only what the rule set reads: a log file's records, lazily.

Most of a `ctrules run` used to be turning JSON into Python objects that no rule looks at: the
dispatch stage and the field index read a handful of fields, and only a few percent of records
have any candidate rule at all. So, for a log file read whole:

1. gunzip it in one call (`inflate.gunzip`, libdeflate when installed);
2. count its brackets per 4 KB block (`_Brackets`: two C scans), which bound both how deep a
   record can nest (the streaming reader's MAX_DEPTH) and how many objects it holds;
3. decode only the dispatch fields (`compiler.DISPATCH_PATHS`) of every record in one pass,
   into hashable `Head` structs (msgspec; unknown fields are skipped at C speed), and ask the
   rule set once per distinct head, for the whole run, whether any rule may match
   (`RuleSet.dispatch_verdict`); only where the answer depends on the field index are the
   index's fields decoded too, for that record (`RuleSet.may_match`);
4. split `{"Records": [...]}` into raw records without building Python objects (msgspec
   `Raw`) and decode in full only the records that have candidate rules — or, with `Staged`,
   only the fields the stateful rules read of a record that only their selection may match
   (`logfile.Deferred`: decoded whole later, if an alert shows it).

`iter_candidates` hands back just those records (and the `BadRecord`s, in order), with one
`Unmatched` per file for the others: no rule can match them, so evaluating them would only
confirm that. `iter_document`/`iter_chunks` give every record in place instead (a record with
no candidate as its partial record, on which `evaluate` gives the same empty answer as on the
whole record). A record whose fields don't fit the struct decoder (not an object, a dispatch
field that is not a string, out-of-range numbers) is decoded in full, never skipped. Anything
else — another layout, invalid UTF-8, a document that does not decode whole, a bomb of tiny
items, a compressed or decompressed size over the limits, several gzip members, a damaged
stream — goes to the bounded-memory streaming reader (`stream.iter_stream`), whose output is
the reference: the records, `BadRecord`s and their order are the same either way.
"""

from __future__ import annotations

import gc
import itertools
import operator
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from operator import not_
from typing import Any, Protocol, TypedDict

import msgspec

from .inflate import gunzip
from .logfile import GZIP_MAGIC, BadRecord, Deferred, Record, decode_whole
from .stream import MAX_BAD_RECORDS, MAX_DEPTH, MAX_RECORD_CHARS, iter_stream

MAX_COMPRESSED_BYTES = 8 << 20
"""A file up to this size is read whole for the fast path; larger ones stream."""
MAX_DOCUMENT_BYTES = 32 << 20
"""The most decompressed JSON held whole in memory (CloudTrail's files are smaller); larger
documents stream, so memory stays bounded whatever the file size."""

_WS = b" \t\r\n"
# Near the streaming reader's bound on one record, where its verdict depends on chunking.
_BIG_RECORD = MAX_RECORD_CHARS // 2
_SPACE = re.compile(rb"[ \t\r\n]*")
_STRING = re.compile(rb'"[^"]*"')
_NOT_QUOTES_OR_BRACKETS = bytes(b for b in range(256) if b not in b'"[]{}')
_INNERMOST = re.compile(rb"\{\}|\[\]")
# Records counted for brackets together (see `_any_too_deep`): a CloudTrail record holds ~10.
_GROUP = 8
# Bytes per count of brackets (see `_Brackets`): a record of ~1.5 KB spans one or two.
_BLOCK = 4096
# What the rule set's dispatch reads (ctrules.compiler.DISPATCH_PATHS; not imported, so that
# this module does not load the compiler). tests/consumer/test_lazy.py checks they agree.
DISPATCH_PATHS: tuple[tuple[str, ...], ...] = (
    ("eventSource",), ("eventName",), ("errorCode",), ("userIdentity", "type"))


def _too_deep(record: bytes | bytearray, start: int = 0, end: int | None = None) -> bool:
    """Whether the JSON values in record[start:end] (one record, or several with commas
    between) nest deeper than the streaming reader allows (it counts such a record as bad;
    the lazy reader must agree). Only text with that many brackets is looked at."""
    end = len(record) if end is None else end
    if record.count(b"[", start, end) + record.count(b"{", start, end) <= MAX_DEPTH:
        return False
    # Big records (RunInstances, policy documents) hold hundreds of brackets but nest a few
    # levels deep. Escaped backslashes and quotes out (pairs, left to right, as JSON reads
    # them), then all but quotes and brackets, then strings: what is left is the brackets.
    # Each pass strips the innermost pairs (one `sub` pass does not see the pairs its own
    # removals make), so the number of passes that empties it is exactly the deepest nesting.
    text = record[start:end].replace(b"\\\\", b"").replace(b'\\"', b"")
    skeleton = _STRING.sub(b"", text.translate(None, _NOT_QUOTES_OR_BRACKETS))
    for _ in range(MAX_DEPTH):
        if not skeleton:
            return False
        skeleton = _INNERMOST.sub(b"", skeleton)
    return bool(skeleton)


class _Brackets:
    """How many `{` and `[` each block of a document holds (one C scan of it per character):
    an upper bound on the brackets of any span of it, and how many objects it holds."""

    def __init__(self, raw: bytes | bytearray):
        count = raw.count
        starts = range(0, len(raw), _BLOCK)
        stops = range(_BLOCK, len(raw) + _BLOCK, _BLOCK)
        braces = list(map(count, itertools.repeat(b"{"), starts, stops))
        squares = list(map(count, itertools.repeat(b"["), starts, stops))
        self.braces = sum(braces)
        self.prefix: list[int] = list(
            itertools.accumulate(map(operator.add, braces, squares), initial=0))

    def most(self, start: int, end: int) -> int:
        """At least as many brackets as raw[start:end] holds (end > start)."""
        return self.prefix[(end - 1) // _BLOCK + 1] - self.prefix[start // _BLOCK]


def _any_too_deep(raw: bytes | bytearray, ends: Sequence[int], lengths: Sequence[int],
                  brackets: _Brackets) -> bool:
    """Whether any record (raw[ends[i] - lengths[i]:ends[i]], in order, adjacent but for
    separators) nests deeper than MAX_DEPTH. A record that deep holds more than MAX_DEPTH
    brackets, so the block counts bound a group of records at a time, then a record, and only
    a record they cannot clear is looked at itself."""
    most = brackets.most
    n = len(ends)
    for first in range(0, n, _GROUP):
        last = min(first + _GROUP, n) - 1
        if most(ends[first] - lengths[first], ends[last]) > MAX_DEPTH:
            for i in range(first, last + 1):
                start = ends[i] - lengths[i]
                if most(start, ends[i]) > MAX_DEPTH and _too_deep(raw, start, ends[i]):
                    return True
    return False


_RECORDS_KEY = b'"Records"'
_DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, RecursionError)
_UNSET: Any = msgspec.UNSET


class _Identity(msgspec.Struct, frozen=True, gc=False):
    type: str | None | msgspec.UnsetType = _UNSET


class Head(msgspec.Struct, frozen=True, gc=False):
    """A record's dispatch fields (`DISPATCH_PATHS`) as decoded in the first pass: a value
    (hashable; equal heads hold equal strings, nulls and absences, so they get the same
    dispatch verdict). A record where one of them is of another type does not fit, and is
    decoded in full instead."""

    eventSource: str | None | msgspec.UnsetType = _UNSET
    eventName: str | None | msgspec.UnsetType = _UNSET
    errorCode: str | None | msgspec.UnsetType = _UNSET
    userIdentity: _Identity | None | msgspec.UnsetType = _UNSET

    def as_record(self) -> Record:
        """The partial record these fields stand for (absent ones absent)."""
        record: Record = {}
        if self.eventSource is not _UNSET:
            record["eventSource"] = self.eventSource
        if self.eventName is not _UNSET:
            record["eventName"] = self.eventName
        if self.errorCode is not _UNSET:
            record["errorCode"] = self.errorCode
        identity: Any = self.userIdentity
        if identity is not _UNSET:
            record["userIdentity"] = identity if identity is None else (
                {} if identity.type is _UNSET else {"type": identity.type})
        return record


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

    def dispatch_verdict(self, record: dict[str, Any]) -> bool | None:
        found = [m.dispatch_verdict(record) for m in self.matchers]  # type: ignore[attr-defined]
        return True if True in found else None if None in found else False


DEFER: Any = "defer"
"""A verdict: only the stateful selection may match the record (`Staged`)."""


class Staged:
    """The per-event rules and the stateful rules' selection reading one stream, as `ctrules
    run` and the consumer read it: a record some per-event rule may match comes whole; one
    that only the selection may match comes as a `Deferred` — the fields the stateful rules
    read (`paths`, `stateful.reads`; None: they read whole records, so it comes whole too),
    and its bytes for the alert that shows it."""

    def __init__(self, rules: Matcher, selector: Matcher,
                 paths: frozenset[tuple[str | int, ...]] | None):
        self.rules = rules
        self.selector = selector
        self.paths = paths
        self._selected: Any = True if paths is None else DEFER

    def decode_paths(self) -> frozenset[tuple[str | int, ...]]:
        return self.rules.decode_paths() | self.selector.decode_paths()

    def may_match(self, record: dict[str, Any]) -> bool:
        return self.rules.may_match(record) or self.selector.may_match(record)

    def choose(self, record: dict[str, Any]) -> Any:
        """`may_match` as a verdict: True (whole), DEFER or False."""
        if self.rules.may_match(record):
            return True
        return self._selected if self.selector.may_match(record) else False

    def dispatch_verdict(self, record: dict[str, Any]) -> Any:
        """True, DEFER, False, or None: the field index decides (`choose`)."""
        rules = self.rules.dispatch_verdict(record)  # type: ignore[attr-defined]
        if rules is True:
            return True
        selected = self.selector.dispatch_verdict(record)  # type: ignore[attr-defined]
        if rules is None or selected is None:
            return None
        return self._selected if selected else False


class Unmatched:
    """The records of a file that no rule can match (`iter_candidates` yields them once, after
    the file's other records): only counted. Each holds at least the dispatch fields
    (`DISPATCH_PATHS`: eventSource, eventName, errorCode, userIdentity.type) as decoded."""

    __slots__ = ("_held",)

    def __init__(self, held: list[Head | Record]):
        self._held = held  # as the reader left them: heads, or partial records

    def __len__(self) -> int:
        return len(self._held)

    @property
    def records(self) -> list[Record]:
        return [h.as_record() if type(h) is Head else h for h in self._held]  # type: ignore[misc]

    def error_codes(self) -> list[Any]:
        """Each record's errorCode (None where it has none)."""
        codes = [h.errorCode if type(h) is Head else h.get("errorCode")  # type: ignore[union-attr]
                 for h in self._held]
        return [None if code is _UNSET else code for code in codes]


class _Document(msgspec.Struct):
    Records: list[msgspec.Raw]


_document = msgspec.json.Decoder(_Document)
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
    return msgspec.defstruct(f"PartialDocument{next(_counter)}", [("Records", list[kind])],
                             gc=False)


class Plan:
    """The partial decoders for one rule set (built once, used for every file)."""

    def __init__(self, ruleset: Matcher):
        self.ruleset = ruleset
        kind = _typed(_tree(ruleset.decode_paths()))
        self.partial = msgspec.json.Decoder(kind)
        self.document = msgspec.json.Decoder(_records_of(kind))
        # The first pass decodes the dispatch fields only (the field index's fields are often
        # long strings, and most records stop at dispatch); a rule set without the dispatch
        # verdict gets the one pass over every field it reads.
        self.verdict = getattr(ruleset, "dispatch_verdict", None)
        # A head's verdict never changes (the rule set is immutable), and the same few thousand
        # heads come back in every file: asked once per run, not once per file.
        self.verdicts: dict[Head, Any] = {}
        self.head = msgspec.json.Decoder(Head)
        self.head_document = msgspec.json.Decoder(_records_of(Head))
        self.choose = getattr(ruleset, "choose", ruleset.may_match)
        paths = getattr(ruleset, "paths", None)
        self.deferred = None if paths is None else msgspec.json.Decoder(_typed(_tree(paths)))


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


def iter_candidates(chunks: Iterable[bytes], source: str, ruleset: Matcher
                    ) -> Iterator[Record | BadRecord | Deferred | Unmatched]:
    """The records of a log file given as byte chunks that some rule of `ruleset` may match
    (whole; with `Staged`, those only the stateful selection may match as `Deferred`), its
    `BadRecord`s in order, and an `Unmatched` for the rest. A file read by the streaming
    reader (too big, damaged, another layout) yields all its records whole."""
    data, streamed = _held_whole(chunks)
    if data is None:
        yield from iter_stream(streamed, source)
        return
    found = _lazy(data, plan_for(ruleset), source, ordered=False)
    if found is None:
        yield from iter_stream([data], source)
        return
    records, unmatched = found
    yield from records
    if unmatched is not None:
        yield unmatched


def iter_chunks(chunks: Iterable[bytes], source: str,
                ruleset: Matcher) -> Iterator[Record | BadRecord]:
    """The records of a log file given as byte chunks: read whole and decoded lazily when it
    is small enough, streamed otherwise. Same records and `BadRecord`s as `iter_stream`."""
    data, streamed = _held_whole(chunks)
    if data is None:
        yield from iter_stream(streamed, source)
        return
    yield from iter_document(data, source, ruleset)


def _held_whole(chunks: Iterable[bytes]) -> tuple[bytes | None, Iterable[bytes]]:
    """A file's bytes when it is small enough to hold whole (for the fast path); else None and
    every chunk, read and unread, for the streaming reader."""
    it = iter(chunks)
    held: list[bytes] = []
    size = 0
    for chunk in it:
        held.append(chunk)
        size += len(chunk)
        if size > MAX_COMPRESSED_BYTES:
            return None, itertools.chain(held, it)
    return b"".join(held), ()


def iter_document(data: bytes, source: str, ruleset: Matcher) -> Iterator[Record | BadRecord]:
    """The records of one whole log file (gzip or plain), every one in its place."""
    found = _lazy(data, plan_for(ruleset), source, ordered=True)
    if found is None:
        yield from iter_stream([data], source)
    else:
        yield from found[0]


def _lazy(data: bytes, plan: Plan, source: str, ordered: bool = True
          ) -> tuple[list[Any], Unmatched | None] | None:
    """The records (all in place when `ordered`; else the candidates and bad records, and
    apart the records no rule can match), or None when this file is for the streaming
    reader."""
    # Decoded records hold no reference cycles; the cyclic collector would only walk the
    # caller's heap once per few hundred new dicts. (Process-wide, so restored by whoever
    # turned it off: concurrent readers never leave it off.)
    enabled = gc.isenabled()
    if enabled:
        gc.disable()
    try:
        return _decode(data, plan, source, ordered)
    finally:
        if enabled:
            gc.enable()


def _layout(raw: bytes | bytearray) -> int | None:
    """Where the document starts, when it is in the layout CloudTrail writes (`{"Records": [`
    first) and valid UTF-8; None: the streaming reader reads it."""
    start = _SPACE.match(raw).end()  # type: ignore[union-attr]  # (lstrip would copy a bytearray)
    if not raw.startswith(b"{", start):
        return None
    head = raw[start + 1:start + 64].lstrip(_WS)
    if not head.startswith(_RECORDS_KEY):
        return None
    after_key = head[len(_RECORDS_KEY):].lstrip(_WS)
    if not after_key.startswith(b":") or not after_key[1:].lstrip(_WS).startswith(b"["):
        return None
    if not raw.isascii():
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return None  # the streaming reader replaces bad bytes; leave it to it
    return start


def _dense(raw: bytes | bytearray) -> bool:
    """Whether the document is too dense in commas to split: records are objects of hundreds
    of bytes; a bomb of tiny items is for the streaming reader, which stops after
    MAX_BAD_RECORDS in bounded memory instead of holding millions of them here."""
    return raw.count(b",") > len(raw) // 8


def _split(raw: bytes | bytearray, start: int, brackets: _Brackets) -> list[msgspec.Raw] | None:
    """The raw records of a `{"Records": [...]}` document (`_layout` read its start, the
    caller bounded its number of items), or None when the streaming reader must read it (not
    valid, a record too deep or near the streaming reader's bound on one record)."""
    try:
        items = _document.decode(raw).Records
    except _DECODE_ERRORS:
        return None
    if not items:
        # (A second "Records" key: the streaming reader keeps the first, JSON decoders the last.)
        return items if raw.count(_RECORDS_KEY) == 1 else None
    lengths = list(map(len, items))
    if len(raw) > _BIG_RECORD and max(lengths) > _BIG_RECORD:
        return None  # the streaming reader has a bound on one record; it applies it
    # Where the records are: in CloudTrail's compact layout, `{"Records":[r1,r2,...]}`, they
    # follow one another with one comma between them, which the lengths alone show (any
    # other byte between or around them makes the span longer than their sum).
    first = _SPACE.match(raw, raw.index(b"[", start + 1) + 1).end()  # type: ignore[union-attr]
    ends = list(itertools.accumulate([size + 1 for size in lengths], initial=first - 1))
    del ends[0]
    tail = raw[ends[-1]:].strip(_WS)
    if tail[:1] == b"]" and tail[1:].lstrip(_WS) == b"}":
        # Nothing but the one array after the `{"Records":` checked above: no second key.
        if raw[ends[-1] - lengths[-1]:ends[-1]] != bytes(items[-1]):
            return None  # cannot happen; the streaming reader is the safe answer if it did
        if _any_too_deep(raw, ends, lengths, brackets):
            return None  # the streaming reader reports the record; this path would accept it
        return items
    if raw.count(_RECORDS_KEY) != 1:
        return None
    if any(_too_deep(bytes(item)) for item in items):
        return None
    return items


def _decode(data: bytes, plan: Plan, source: str, ordered: bool
            ) -> tuple[list[Any], Unmatched | None] | None:
    if data.startswith(GZIP_MAGIC):
        raw = gunzip(data, MAX_DOCUMENT_BYTES)
        if raw is None:
            return None
    elif len(data) <= MAX_DOCUMENT_BYTES:
        raw = data
    else:
        return None
    start = _layout(raw)
    if start is None:
        return None
    brackets = _Brackets(raw)
    heads = None
    tried = plan.verdict is not None and brackets.braces <= len(raw) // 8
    if tried:
        # The head decoder takes objects only and stops at the first other item, so it
        # holds at most `braces` heads; and when it succeeds, the split holds as many items.
        try:
            heads = plan.head_document.decode(raw).Records
        except _DECODE_ERRORS:
            pass
    if heads is None and _dense(raw):
        return None
    items = _split(raw, start, brackets)
    if items is None or (heads is not None and len(heads) != len(items)):
        return None
    count = len(items)
    held: list[Any]  # per record: its head, or its partial record (None: did not fit)
    if plan.verdict is None:
        held = _partials(raw, items, plan.document, plan.partial)
        may_match = plan.ruleset.may_match
        verdicts: list[Any] = [True if p is None else may_match(p) for p in held]
    else:
        # (When the heads did not decode as one document, record by record.)
        held = heads if heads is not None else _partials(
            raw, items, None if tried else plan.head_document, plan.head)
        verdicts = _verdicts(plan, held)
        # None: the dispatch fields leave it to the field index, which reads more fields.
        undecided = [i for i, v in enumerate(verdicts) if v is None] \
            if None in verdicts else []
        if undecided:
            decode_partial = plan.partial.decode
            choose = plan.choose
            for i in undecided:
                try:
                    partial = decode_partial(items[i])
                except _DECODE_ERRORS:
                    verdicts[i] = True
                    continue
                verdicts[i] = choose(partial)
                if not verdicts[i]:
                    held[i] = partial
    out: list[Record | BadRecord | Deferred] = []
    append = out.append
    bad = 0
    unmatched: Unmatched | None = None
    if ordered:
        wanted: Iterable[int] = range(count)
    else:
        wanted = list(itertools.compress(range(count), verdicts))
        if len(wanted) < count:
            unmatched = Unmatched(list(itertools.compress(held, map(not_, verdicts))))
    deferred = plan.deferred
    limit = sys.get_int_max_str_digits() or len(raw)
    for index in wanted:
        verdict = verdicts[index]
        if not verdict:
            partial = held[index]
            append(partial.as_record() if type(partial) is Head else partial)
            continue
        item = items[index]
        if verdict is DEFER and not ordered and deferred is not None and len(item) <= limit:
            # (A record longer than int() converts may hold an integer the full decode fails
            # on, which would send the file to the streaming reader: decoded in full now.)
            try:
                append(Deferred(deferred.decode(item), bytes(item)))
                continue
            except _DECODE_ERRORS:
                pass  # a field of another shape: decoded in full
        try:
            value = decode_whole(item)
        except (ValueError, RecursionError):
            return None
        if type(value) is dict:
            append(value)
        else:
            bad += 1
            if bad > MAX_BAD_RECORDS:
                return None  # the streaming reader's bound on bad records applies
            append(BadRecord(source, index, f"record {index}: not a JSON object"))
    return out, unmatched


def _partials(raw: bytes | bytearray, items: list[msgspec.Raw],
              document: msgspec.json.Decoder[Any] | None,
              one: msgspec.json.Decoder[Any]) -> list[Any]:
    """Each record decoded in part, None where it does not fit (then decoded in full)."""
    if document is not None:
        try:
            # Usually every record fits: one call decodes them all.
            return document.decode(raw).Records  # type: ignore[no-any-return]
        except _DECODE_ERRORS:
            pass
    held: list[Any] = []
    for item in items:
        try:
            held.append(one.decode(item))
        except _DECODE_ERRORS:
            held.append(None)
    return held


_VERDICTS_HELD = 1 << 16
_UNKNOWN: Any = object()


def _verdicts(plan: Plan, heads: list[Head | None]) -> list[Any]:
    """Whether any rule may match each record (True, False, or None: it depends on the field
    index), from its dispatch fields: one question per distinct head, not per record (a file
    holds a few hundred distinct heads in thousands of records). A record whose head did not
    fit (None) is decoded in full: True."""
    known = plan.verdicts
    verdicts = list(map(known.get, heads, itertools.repeat(_UNKNOWN)))  # type: ignore[arg-type]
    if _UNKNOWN not in verdicts:
        return verdicts
    # New heads (a few per file, each maybe many times): asked once, here.
    missing = [i for i, v in enumerate(verdicts) if v is _UNKNOWN]
    new: set[Any] = {heads[i] for i in missing}
    new.discard(None)
    if len(known) + len(new) > _VERDICTS_HELD:
        known.clear()  # (the verdicts read above stay valid)
    verdict = plan.verdict
    assert verdict is not None
    for head in new:
        known[head] = verdict(head.as_record())
    for i in missing:
        head = heads[i]
        # A head that did not fit (None) is never a key: True, decoded in full.
        verdicts[i] = True if head is None else known[head]
    return verdicts
