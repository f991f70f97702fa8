"""Sources — decoding one Kinesis record's data (Lambda event source mapping or container polling).

Three producers write CloudTrail to Kinesis and the layout is detected per record:
- a CloudWatch Logs subscription filter (CloudTrail -> CloudWatch Logs -> Kinesis): gzip of
  `{"messageType": "DATA_MESSAGE", "logEvents": [{"message": "<record JSON>"}, ...]}`;
  `CONTROL_MESSAGE`s (the subscription's connectivity checks) carry no records and are skipped;
- EventBridge (a rule targeting the stream): the event envelope, record in `detail`;
- anything writing raw JSON: a record, or `{"Records": [...]}`.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any

import orjson

from .envelopes import Skipped, Work, unwrap
from .logfile import GZIP_MAGIC, BadRecord
from .stream import MAX_DEPTH, depth_ok

MAX_DATA_BYTES = 32 << 20
"""Decompressed bytes of one Kinesis record (at most 1 MiB compressed; CloudTrail JSON
compresses about 10-15 times)."""


def decode_data(data: bytes, source: str) -> Iterator[Work]:
    """Yield the work in one Kinesis record's (already base64-decoded) data. Never raises."""
    if data.startswith(GZIP_MAGIC):
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            data = inflater.decompress(data, MAX_DATA_BYTES + 1)
        except zlib.error as exc:
            yield BadRecord(source, None, f"corrupt gzip in Kinesis record: {exc}")
            return
        if len(data) > MAX_DATA_BYTES:
            yield BadRecord(
                source, None, f"Kinesis record larger than {MAX_DATA_BYTES} bytes decompressed"
            )
            return
        if not inflater.eof:
            yield BadRecord(source, None, "corrupt gzip in Kinesis record: truncated")
            return
    try:
        doc: Any = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        yield BadRecord(source, None, f"Kinesis record is not JSON: {exc}")
        return
    if isinstance(doc, dict) and "messageType" in doc and "logEvents" in doc:
        yield from _cloudwatch_logs(doc, source)
        return
    yield from unwrap(doc, source)


def _cloudwatch_logs(doc: dict[str, Any], source: str) -> Iterator[Work]:
    if doc.get("messageType") == "CONTROL_MESSAGE":
        yield Skipped("cloudwatch logs control message", str(doc.get("logGroup", "")))
        return
    if doc.get("messageType") != "DATA_MESSAGE":
        yield BadRecord(source, None, f"unknown CloudWatch Logs messageType {doc['messageType']!r}")
        return
    events = doc.get("logEvents")
    if not isinstance(events, list):
        yield BadRecord(source, None, "CloudWatch Logs message without a logEvents array")
        return
    for index, event in enumerate(events):
        message = event.get("message") if isinstance(event, dict) else None
        if not isinstance(message, str):
            yield BadRecord(source, index, f"log event {index} has no message string")
            continue
        try:
            record = orjson.loads(message)
        except orjson.JSONDecodeError as exc:
            yield BadRecord(source, index, f"log event {index}: message is not JSON: {exc}")
            continue
        if isinstance(record, dict) and not depth_ok(record):
            yield BadRecord(source, index, f"log event {index}: nested deeper than {MAX_DEPTH}")
        elif isinstance(record, dict):
            yield record
        else:
            yield BadRecord(source, index, f"log event {index}: message is not a JSON object")
