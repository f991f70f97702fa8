"""Sources without AWS: envelope unwrapping of every sample, key handling, Kinesis data layouts,
and the streaming decoder agreeing with the whole-document decoder on every layout."""

from __future__ import annotations

import base64
import gzip
import json
import random
from collections.abc import Iterator
from typing import Any

import pytest

from ctrules.sources.envelopes import S3Object, Skipped, is_log_key, unwrap
from ctrules.sources.kinesis import decode_data
from ctrules.sources.logfile import BadRecord, iter_records
from ctrules.sources.stream import iter_stream
from tests.consumer.support import SAMPLE_BUCKET, SAMPLE_KEY, event, log_records

FILE = S3Object(SAMPLE_BUCKET, SAMPLE_KEY)


@pytest.mark.parametrize(
    "name",
    [
        "s3_notification.json",
        "sns_s3_notification.json",
        "sns_cloudtrail_notification.json",
        "sqs_s3_notification.json",
        "sqs_sns_s3_notification.json",
        "eventbridge_object_created.json",
    ],
)
def test_every_announcement_names_the_decoded_key(name: str) -> None:
    (work,) = list(unwrap(event(name), name))
    assert isinstance(work, S3Object)
    assert (work.bucket, work.key) == (SAMPLE_BUCKET, SAMPLE_KEY)


def test_url_decoding_of_notification_keys() -> None:
    payload = event("s3_notification.json")
    payload["Records"][0]["s3"]["object"]["key"] = "a%2Bb/c+d%3A1.json.gz"
    (work,) = list(unwrap(payload, "t"))
    assert isinstance(work, S3Object) and work.key == "a+b/c d:1.json.gz"


def test_eventbridge_keys_are_taken_as_is_with_a_decoded_alternative() -> None:
    payload = event("eventbridge_object_created.json")
    payload["detail"]["object"]["key"] = "logs/a+b.json.gz"
    (work,) = list(unwrap(payload, "t"))
    assert isinstance(work, S3Object)
    assert (work.key, work.alternate_key) == ("logs/a+b.json.gz", "logs/a b.json.gz")


def test_records_and_skips() -> None:
    api = event("eventbridge_api_call.json")
    assert list(unwrap(api, "t")) == [api["detail"]]
    (skip,) = list(unwrap(json.loads(event("sqs_s3_test_event.json")["Records"][0]["body"]), "t"))
    assert isinstance(skip, Skipped) and skip.reason == "s3 test event"
    removed = event("s3_notification.json")
    removed["Records"][0]["eventName"] = "ObjectRemoved:Delete"
    (skip,) = list(unwrap(removed, "t"))
    assert isinstance(skip, Skipped)
    other = {"detail-type": "EC2 Instance State-change Notification", "detail": {}}
    assert isinstance(next(unwrap(other, "t")), Skipped)
    for junk in ("not json", 42, {"some": "thing"}, [1, 2]):
        (bad,) = list(unwrap(junk, "t"))
        assert isinstance(bad, BadRecord)


@pytest.mark.parametrize(
    ("key", "skipped"),
    [
        (SAMPLE_KEY, None),
        ("AWSLogs/1/CloudTrail/us-east-1/2023/07/10/x.json", None),
        ("AWSLogs/1/CloudTrail-Digest/us-east-1/2023/07/10/x.json.gz", "digest file"),
        ("AWSLogs/1/CloudTrail/", "folder marker"),
        ("AWSLogs/1/CloudTrail/us-east-1/README.txt", "not a log file key"),
    ],
)
def test_log_keys(key: str, skipped: str | None) -> None:
    assert is_log_key(key) == skipped


def test_kinesis_layouts() -> None:
    for name, expected in [
        ("kinesis_cloudwatch_logs.json", [0, 6, 6]),
        ("kinesis_eventbridge.json", [1, 1, 1, 1]),
        ("kinesis_raw.json", [1, 1, 1, 1]),
    ]:
        got = []
        for record in event(name)["Records"]:
            data = base64.b64decode(record["kinesis"]["data"])
            units = list(decode_data(data, "t"))
            got.append(sum(1 for u in units if isinstance(u, dict)))
            assert not [u for u in units if isinstance(u, BadRecord)]
        assert got == expected
    control = base64.b64decode(
        event("kinesis_cloudwatch_logs.json")["Records"][0]["kinesis"]["data"]
    )
    assert isinstance(next(decode_data(control, "t")), Skipped)
    cwl = gzip.compress(
        json.dumps(
            {"messageType": "DATA_MESSAGE", "logEvents": [{"message": "{oops"}, {"message": "{}"}]}
        ).encode()
    )
    units = list(decode_data(cwl, "t"))
    assert isinstance(units[0], BadRecord) and units[1] == {}


# -- streaming decoder ----------------------------------------------------------------------
def _chunks(data: bytes, size: int) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def _norm(units: Any) -> list[Any]:
    return [("bad", u.index) if isinstance(u, BadRecord) else u for u in units]


def _layouts() -> dict[str, bytes]:
    records = log_records()
    doc = json.dumps({"Records": records}).encode()
    lines = [json.dumps(r).encode() for r in records]
    broken_lines = list(lines)
    broken_lines[4] = broken_lines[4][:40]
    return {
        "records": doc,
        "pretty": json.dumps({"Records": records}, indent=2).encode(),
        "array": json.dumps(records).encode(),
        "json lines": b"\n".join(lines) + b"\n",
        "json lines, one broken": b"\n".join(broken_lines),
        "single record": lines[0],
        "records not first": json.dumps({"x": 1, "Records": records}).encode(),
        "empty": b"",
        "no records": b'{"Records": []}',
        "not cloudtrail": b'{"foo": 1}',
        "scalars inside": b'{"Records": [1, {"eventName": "x"}, "s", null]}',
        "corrupt middle": doc.replace(b'"eventName": "Decrypt"', b'"eventName": Decrypt', 1),
        "junk after a record": doc.replace(b'"readOnly": true}', b'"readOnly": true} xx', 1),
        "utf8": json.dumps(
            {"Records": [{"eventName": "é ☃ \U0001f600"}]}, ensure_ascii=False
        ).encode(),
    }


@pytest.mark.parametrize("layout", list(_layouts()))
@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_stream_agrees_with_whole_document_decoder(layout: str, gz: bool) -> None:
    data = _layouts()[layout]
    if gz:
        data = gzip.compress(data)
    expected = _norm(iter_records(data, "s"))
    for size in (1, 7, 4096, 1 << 20):
        assert _norm(iter_stream(_chunks(data, size), "s")) == expected, size


def test_stream_truncated_gzip_keeps_the_records_before_the_damage() -> None:
    records = log_records() * 50
    data = gzip.compress(json.dumps({"Records": records}).encode())
    cut = data[: len(data) // 2]
    units = list(iter_stream(_chunks(cut, 1000), "s"))
    good = [u for u in units if isinstance(u, dict)]
    bad = [u for u in units if isinstance(u, BadRecord)]
    assert good == records[: len(good)] and len(good) > 10
    assert any("truncated gzip" in b.reason for b in bad)


def test_stream_concatenated_gzip_members() -> None:
    a, b = log_records()[:3], log_records()[3:]
    data = gzip.compress(json.dumps(a).encode()[:-1] + b",") + gzip.compress(
        json.dumps(b).encode()[1:]
    )
    assert list(iter_stream(_chunks(data, 50), "s")) == a + b


def test_stream_random_damage_never_raises() -> None:
    rng = random.Random(4)
    base = json.dumps({"Records": log_records()}).encode()
    for _ in range(100):
        data = bytearray(base)
        for _ in range(rng.randint(1, 5)):
            data[rng.randrange(len(data))] = rng.choice(b'{}[]",:\\ x')
        units = list(iter_stream(_chunks(bytes(data), rng.choice([100, 5000])), "s"))
        assert all(isinstance(u, (dict, BadRecord)) for u in units)


# Generated documents: any records (nested values, unicode, escapes, numbers), any layout the
# S3 source may meet, any chunking — the streaming decoder yields what the whole-document
# decoder yields.
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**53), 2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_records = st.dictionaries(st.text(max_size=10), _values, max_size=6)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    records=st.lists(_records, max_size=8),
    layout=st.sampled_from(["records", "array", "lines", "pretty"]),
    gz=st.booleans(),
    chunk=st.integers(7, 400),
)
def test_stream_agrees_with_whole_document_decoder_on_generated_documents(
    records: list[dict[str, Any]], layout: str, gz: bool, chunk: int
) -> None:
    # Records as CloudTrail writes them (a top-level object without eventVersion & co. is not
    # a record; one with a "Records" key is a log file).
    records = [{**{k: v for k, v in r.items() if k != "Records"}, "eventVersion": "1.08"}
               for r in records]
    if layout == "lines":
        data = "\n".join(json.dumps(r, ensure_ascii=False) for r in records).encode()
    elif layout == "array":
        data = json.dumps(records, ensure_ascii=False).encode()
    else:
        indent = 2 if layout == "pretty" else None
        data = json.dumps({"Records": records}, indent=indent, ensure_ascii=False).encode()
    if gz:
        data = gzip.compress(data)
    expected = _norm(iter_records(data, "s"))
    assert expected == records  # nothing lost, nothing invented, whatever the layout
    assert _norm(iter_stream(_chunks(data, chunk), "s")) == expected


def _render(records: list[dict[str, Any]], layout: str) -> bytes:
    if layout == "lines":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()
    if layout == "array":
        return json.dumps(records, ensure_ascii=False).encode()
    indent = 2 if layout == "pretty" else None
    return json.dumps({"Records": records}, indent=indent, ensure_ascii=False).encode()


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    documents=st.lists(
        st.tuples(
            st.lists(_records, min_size=1, max_size=4),
            st.sampled_from(["records", "array", "lines", "pretty"]),
            st.sampled_from(["", "\n", " ", "\r\n"]),
        ),
        max_size=5,
    ),
    gz=st.sampled_from(["plain", "one member", "member per document"]),
    chunk=st.integers(7, 400),
)
def test_every_concatenated_document_is_read(
    documents: list[tuple[list[dict[str, Any]], str, str]], gz: str, chunk: int
) -> None:
    # `cat a.json b.json`, JSON Lines of log files, `cat a.gz b.gz`: every record, in order.
    expected: list[dict[str, Any]] = []
    parts: list[bytes] = []
    for records, layout, gap in documents:
        records = [{**{k: v for k, v in r.items() if k != "Records"}, "eventVersion": "1.08"}
                   for r in records]
        expected += records
        parts.append(_render(records, layout) + gap.encode())
    if gz == "member per document":
        data = b"".join(gzip.compress(p) for p in parts)
    elif gz == "one member":
        data = gzip.compress(b"".join(parts))
    else:
        data = b"".join(parts)
    assert _norm(iter_stream(_chunks(data, chunk), "s")) == expected
