"""Sources — unwrapping the envelopes CloudTrail data arrives in.

CloudTrail log files land in S3 and are announced by an S3 event notification, which may reach us
directly, inside an SNS notification, inside an SQS message (itself possibly wrapping SNS), or as an
EventBridge "Object Created" event; CloudTrail's own SNS notification (`s3Bucket` +
`s3ObjectKey`) announces files too. Single records arrive inline: EventBridge "AWS API Call via
CloudTrail" (and the other "... via CloudTrail" detail types) carry the record in `detail`, and a
raw record or `{"Records": [...]}` may be sent as is.

`unwrap` turns any of those documents into work: `S3Object`s to read, records to evaluate,
`Skipped` notes (digest files, non-log keys, test events, other detail types) and `BadRecord`s for
documents that are none of the above. It never raises.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

import orjson

from .logfile import BadRecord, Record

DIGEST_MARKER = "/CloudTrail-Digest/"
DEFAULT_SUFFIXES = (".json.gz", ".json")
_MAX_DEPTH = 4  # SQS -> SNS -> S3 is 3 levels; anything deeper is not an envelope we know


@dataclass(frozen=True)
class S3Object:
    """A log file to read. `key` is the real (URL-decoded) key."""

    bucket: str
    key: str
    size: int | None = None
    # EventBridge documents its keys unencoded but S3 notifications encode them; when the two
    # differ, the reader tries this spelling if the first one does not exist.
    alternate_key: str | None = None

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class Skipped:
    """Something announced that is deliberately not processed (counted, not an error)."""

    reason: str
    detail: str


Work = S3Object | Record | Skipped | BadRecord


def is_digest_key(key: str) -> bool:
    """Is this a CloudTrail digest file (integrity hashes, not events)?"""
    return DIGEST_MARKER in key or "CloudTrail-Digest" in key.rsplit("/", 1)[-1]


def is_log_key(key: str, suffixes: Sequence[str] = DEFAULT_SUFFIXES) -> str | None:
    """None if `key` is a CloudTrail log file to read, else why it is skipped."""
    if is_digest_key(key):
        return "digest file"
    if key.endswith("/"):
        return "folder marker"
    if not key.endswith(tuple(suffixes)):
        return "not a log file key"
    return None


def looks_like_record(doc: dict[str, Any]) -> bool:
    return "eventVersion" in doc and ("eventName" in doc or "eventSource" in doc)


def unwrap(doc: Any, source: str, depth: int = 0) -> Iterator[Work]:
    """Yield the work a decoded message stands for. Message strings are decoded as needed.
    Never raises: a message of an unexpected shape is a BadRecord."""
    try:
        yield from _unwrap(doc, source, depth)
    except Exception as exc:  # a shape no branch below foresaw: bad input, not a crash
        yield BadRecord(source, None, f"malformed envelope ({type(exc).__name__})")


def _unwrap(doc: Any, source: str, depth: int) -> Iterator[Work]:
    if depth > _MAX_DEPTH:
        yield BadRecord(source, None, "envelopes nested too deeply")
        return
    if isinstance(doc, (str, bytes)):
        try:
            doc = orjson.loads(doc)
        except orjson.JSONDecodeError as exc:
            yield BadRecord(source, None, f"message is not JSON: {exc}")
            return
    if not isinstance(doc, dict):
        yield BadRecord(source, None, f"message is {type(doc).__name__}, not an object")
        return

    records = doc.get("Records")
    if isinstance(records, list):
        yield from _records_list(records, source, depth)
        return
    if doc.get("Type") == "Notification" and "Message" in doc:  # SNS notification (in SQS body)
        yield from _unwrap(doc["Message"], source, depth + 1)
        return
    if "detail-type" in doc and "detail" in doc:
        yield from _eventbridge(doc, source)
        return
    if "s3Bucket" in doc and "s3ObjectKey" in doc:  # CloudTrail's own SNS notification
        yield from _cloudtrail_notification(doc, source)
        return
    if doc.get("Event") == "s3:TestEvent":
        yield Skipped("s3 test event", str(doc.get("Bucket", "")))
        return
    if doc.get("Type") == "SubscriptionConfirmation":
        yield Skipped("sns subscription confirmation", str(doc.get("TopicArn", "")))
        return
    if looks_like_record(doc):
        yield doc
        return
    yield BadRecord(source, None, "not a CloudTrail record or a known envelope")


def _records_list(records: list[Any], source: str, depth: int) -> Iterator[Work]:
    for index, item in enumerate(records):
        if not isinstance(item, dict):
            yield BadRecord(source, index, f"record is {type(item).__name__}, not an object")
            continue
        origin = item.get("eventSource") or item.get("EventSource")
        if origin == "aws:s3" and isinstance(item.get("s3"), dict):
            yield _s3_notification_record(item, source, index)
        elif origin == "aws:sns" and isinstance(item.get("Sns"), dict):
            yield from _unwrap(item["Sns"].get("Message"), source, depth + 1)
        elif origin == "aws:sqs" and "body" in item:
            yield from _unwrap(item["body"], source, depth + 1)
        elif isinstance(origin, str) and origin.startswith("aws:"):
            yield BadRecord(source, index, f"{origin} record without its payload")
        elif isinstance(item.get("eventName"), str) or "eventVersion" in item:
            yield item  # a CloudTrail record inside a {"Records": [...]} document
        else:
            yield BadRecord(source, index, "record is neither CloudTrail nor a known envelope")


def _s3_notification_record(item: dict[str, Any], source: str, index: int) -> Work:
    event_name = str(item.get("eventName", ""))
    s3 = item["s3"]
    bucket = _member(s3.get("bucket"), "name")
    obj = s3.get("object")
    obj = obj if isinstance(obj, dict) else {}
    key = obj.get("key")
    if not isinstance(bucket, str) or not isinstance(key, str):
        return BadRecord(source, index, "S3 notification without bucket name or object key")
    if not event_name.startswith("ObjectCreated"):
        return Skipped(f"s3 event {event_name or 'without a name'}", f"s3://{bucket}/{key}")
    size = obj.get("size")
    # S3 notifications URL-encode keys, with '+' for a space.
    return S3Object(bucket, unquote_plus(key), size if isinstance(size, int) else None)


def _member(value: Any, name: str) -> Any:
    return value.get(name) if isinstance(value, dict) else None


def _eventbridge(doc: dict[str, Any], source: str) -> Iterator[Work]:
    detail_type = str(doc.get("detail-type", ""))
    detail = doc.get("detail")
    if detail_type.endswith("via CloudTrail"):
        if isinstance(detail, dict):
            yield detail
        else:
            yield BadRecord(source, None, f"EventBridge {detail_type!r} without a detail object")
        return
    if detail_type == "Object Created" and doc.get("source") == "aws.s3":
        if not isinstance(detail, dict):
            yield BadRecord(source, None, "EventBridge Object Created without a detail object")
            return
        bucket = _member(detail.get("bucket"), "name")
        obj = detail.get("object")
        obj = obj if isinstance(obj, dict) else {}
        key = obj.get("key")
        if not isinstance(bucket, str) or not isinstance(key, str):
            yield BadRecord(source, None, "EventBridge Object Created without bucket or key")
            return
        size = obj.get("size")
        decoded = unquote_plus(key)
        yield S3Object(
            bucket,
            key,
            size if isinstance(size, int) else None,
            alternate_key=decoded if decoded != key else None,
        )
        return
    yield Skipped("EventBridge detail type not handled", detail_type)


def _cloudtrail_notification(doc: dict[str, Any], source: str) -> Iterator[Work]:
    bucket = doc.get("s3Bucket")
    keys = doc.get("s3ObjectKey")
    if isinstance(keys, str):
        keys = [keys]
    if not isinstance(bucket, str) or not isinstance(keys, list):
        yield BadRecord(source, None, "CloudTrail notification without s3Bucket/s3ObjectKey")
        return
    for key in keys:
        if isinstance(key, str):
            yield S3Object(bucket, key)  # CloudTrail's own notification keys are not encoded
        else:
            yield BadRecord(source, None, "CloudTrail notification key is not a string")
