"""A damaged record costs that record only, even when the damage (a lost quote, a stray brace)
would make a bracket-counting reader lose its place for the rest of the file."""

from __future__ import annotations

import gzip
import json

import pytest

from ctrules.sources.logfile import BadRecord, iter_records
from ctrules.sources.stream import iter_stream

RECORDS = [{"eventVersion": "1.08", "eventName": f"E{i}", "eventID": str(i),
            "requestParameters": {"items": [{"a": i}, {"b": "x,y}{"}]}} for i in range(6)]
DAMAGE = [
    '{"eventVersion": "1.08", "eventName": "E2, "eventID": "2"}',  # lost closing quote
    '{"eventVersion": "1.08", "eventName": "E2", "eventID": "2}',  # unterminated at the end
    '{"eventVersion": "1.08", "eventName": {"E2", "eventID": "2"}',  # stray brace
    '{"eventVersion": "1.08", "eventName": "E2", "eventID": 2 3}',  # junk inside
]


def _document(damage: str) -> bytes:
    parts = [json.dumps(r) for r in RECORDS]
    parts[2] = damage
    return ('{"Records": [' + ", ".join(parts) + "]}").encode()


def _summary(items: list[object]) -> list[str]:
    return ["BAD" if isinstance(i, BadRecord) else i["eventID"] for i in items]  # type: ignore[index]


@pytest.mark.parametrize("damage", DAMAGE)
@pytest.mark.parametrize("chunk", [5, 64, 1 << 20])
def test_one_damaged_record_loses_only_itself(damage: str, chunk: int) -> None:
    doc = _document(damage)
    expected = ["0", "1", "BAD", "3", "4", "5"]
    assert _summary(list(iter_records(doc, "f"))) == expected
    assert _summary(list(iter_records(gzip.compress(doc), "f"))) == expected
    chunks = [doc[i:i + chunk] for i in range(0, len(doc), chunk)]
    assert _summary(list(iter_stream(chunks, "f"))) == expected
