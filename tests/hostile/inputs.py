"""Builds a hostile-input case's bytes from its `input` spec: a list of parts, concatenated.

Parts (each a JSON object with one of these keys):
- `{"text": "..."}`: the UTF-8 text (JSON string escapes give any character, e.g. `\\ud800`);
- `{"hex": "ff fe"}`: raw bytes;
- `{"repeat": "text", "times": N}`: the text N times (big inputs stay small in the case file);
- `{"record": "ID"}`: one CloudTrail-shaped record `{"eventVersion": ..., "eventName": "Hit",
  "eventID": "ID"}` (it alerts with rules/hostile.ctr); `"name": "Miss"` for one that does not;
  `"field": "x", "value": [parts]` adds a field whose raw JSON text is built from `value`;
- `{"records": ["ID", ...]}`: a `{"Records": [...]}` log file of such records;
- `{"records_n": N, "prefix": "r"}`: a log file of N records r0 .. r(N-1);
- `{"gzip": [parts]}`: the gzip (one member) of the parts; with `"copies": N`, that member N
  times (valid gzip: a bomb of N times the size costs one compression);
- `{"file": "relative/path"}`: a file's bytes (relative to the project root).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parents[2]


def build(parts: list[dict[str, Any]]) -> bytes:
    return b"".join(_part(p) for p in parts)


def _part(part: dict[str, Any]) -> bytes:
    if "text" in part:
        return str(part["text"]).encode("utf-8", "surrogatepass")
    if "hex" in part:
        return bytes.fromhex(part["hex"])
    if "repeat" in part:
        return str(part["repeat"]).encode("utf-8") * int(part["times"])
    if "record" in part:
        return _record(part)
    if "records" in part:
        inner = b", ".join(_record({"record": r} if isinstance(r, str) else r)
                           for r in part["records"])
        return b'{"Records": [' + inner + b"]}"
    if "records_n" in part:
        prefix = part.get("prefix", "r")
        return _part({"records": [f"{prefix}{i}" for i in range(int(part["records_n"]))]})
    if "gzip" in part:
        return gzip.compress(build(part["gzip"]), compresslevel=9) * int(part.get("copies", 1))
    if "file" in part:
        return (ROOT / part["file"]).read_bytes()
    raise ValueError(f"unknown input part: {sorted(part)}")


def _record(part: dict[str, Any]) -> bytes:
    base = json.dumps({
        "eventVersion": "1.08",
        "eventSource": "hostile.amazonaws.com",
        "eventName": part.get("name", "Hit"),
        "eventID": part["record"],
    }).encode()
    if "field" not in part:
        return base
    value = build(part["value"])
    return base[:-1] + b", " + json.dumps(part["field"]).encode() + b": " + value + b"}"
