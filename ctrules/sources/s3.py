"""Sources — reading a CloudTrail log file from S3 as a stream of records.

The object body is streamed through `stream.iter_stream`, so memory stays bounded whatever the
file size. Organization trails and cross-account buckets need nothing special here: the bucket
may belong to another account than the events; only read access (s3:GetObject, and kms:Decrypt
for SSE-KMS) is required.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .envelopes import S3Object
from .lazy import Unmatched, iter_candidates, supports
from .logfile import BadRecord, Deferred, Record
from .stream import iter_stream

READ_CHUNK = 1 << 20


class ObjectMissing(Exception):
    """The announced object does not exist (deleted, or the key is wrong)."""


class ObjectUnreadable(Exception):
    """S3 refused or failed to return the object (access denied, KMS, throttling, network)."""


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def open_object(client: Any, obj: S3Object) -> Any:
    """GET the object; returns its streaming body. Raises ObjectMissing / ObjectUnreadable."""
    keys = [obj.key] + ([obj.alternate_key] if obj.alternate_key else [])
    for attempt, key in enumerate(keys):
        try:
            return client.get_object(Bucket=obj.bucket, Key=key)["Body"]
        except Exception as exc:  # botocore's ClientError/BotoCoreError; no stubs needed
            code = _error_code(exc)
            if code in ("NoSuchKey", "404", "NotFound"):
                if attempt + 1 < len(keys):
                    continue
                raise ObjectMissing(f"{obj.uri}: object does not exist") from exc
            if code == "NoSuchBucket":
                raise ObjectMissing(f"{obj.uri}: bucket does not exist") from exc
            raise ObjectUnreadable(f"{obj.uri}: {code or type(exc).__name__}: {exc}") from exc
    raise ObjectMissing(f"{obj.uri}: object does not exist")  # pragma: no cover


def iter_object(client: Any, obj: S3Object,
                ruleset: Any = None) -> Iterator[Record | BadRecord | Deferred | Unmatched]:
    """Yield the records of one log file. Raises ObjectMissing / ObjectUnreadable before the
    first record if the object cannot be opened, ObjectUnreadable if the stream breaks.
    Given the rule set that will evaluate them, only the records some rule may match come
    whole, and the others together as one `Unmatched` (`lazy.iter_candidates`)."""
    body = open_object(client, obj)
    try:
        if ruleset is not None and supports(ruleset):
            yield from iter_candidates(_chunks(body, obj), obj.uri, ruleset)
        else:
            yield from iter_stream(_chunks(body, obj), obj.uri)
    finally:
        body.close()


def _chunks(body: Any, obj: S3Object) -> Iterator[bytes]:
    while True:
        try:
            chunk = body.read(READ_CHUNK)
        except Exception as exc:  # a connection dropped mid-file: the file must be retried
            raise ObjectUnreadable(f"{obj.uri}: read failed: {exc}") from exc
        if not chunk:
            return
        yield chunk
