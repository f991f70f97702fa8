"""Sources — gunzip of a whole log file in one call, with libdeflate where it is installed.

CloudTrail writes each log file as one gzip member. libdeflate (the `deflate` package)
inflates it about twice as fast as zlib; without it, zlib does the same job. Anything unusual —
several gzip members (`cat a.gz b.gz`), trailing bytes, a damaged or truncated stream, a
declared size over the limit — is not handled here: `gunzip` returns None and the caller uses
the streaming reader (`stream.iter_stream`), which reads such files in bounded memory and
reports the damage.
"""

from __future__ import annotations

import zlib
from typing import Any

from .logfile import GZIP_MAGIC

_deflate: Any
try:  # a dependency, but a platform without its wheel still works
    import deflate as _deflate
except ImportError:  # pragma: no cover - depends on the environment
    _deflate = None

_MEMBER_HEAD = GZIP_MAGIC + b"\x08"  # magic + "deflate", how every gzip member starts


def gunzip(data: bytes, limit: int) -> bytes | bytearray | None:
    """The decompressed bytes of a single-member gzip file of at most `limit` bytes, or None
    when the file is anything else (the caller then streams it). libdeflate's bytearray is
    handed back as it is: copying it into `bytes` cost half as much as inflating."""
    if len(data) < 18 or not data.startswith(_MEMBER_HEAD):
        return None
    # Another member may follow the first (`cat a.gz b.gz`, or a member hidden between two
    # copies of one, whose trailers match). Every member starts with these three bytes; a
    # compressed stream holds them only by chance (about one file in twenty at 1 MB). Such a
    # file is inflated by zlib, which says exactly where the first member ends; a second
    # member or any other trailing bytes send the file to the streaming reader.
    suspect = data.find(_MEMBER_HEAD, 10) != -1
    declared = int.from_bytes(data[-4:], "little")  # ISIZE: the size mod 2**32
    if declared > limit:
        return None
    out: bytes | bytearray
    if _deflate is not None and not suspect:
        try:
            out = _deflate.gzip_decompress(data)
        except Exception:  # deflate.DeflateError: damaged; the stream reader says how
            return None
        crc = _deflate.crc32(out)
    else:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out = inflater.decompress(data, limit + 1)
        except zlib.error:
            return None
        if not inflater.eof or inflater.unused_data or len(out) > limit:
            return None
        crc = zlib.crc32(out)
    # The inflater stops at the end of the first member and ignores what follows: the file's
    # last eight bytes must be this member's own CRC and size.
    if data[-8:] != crc.to_bytes(4, "little") + (len(out) & 0xFFFFFFFF).to_bytes(4, "little"):
        return None
    return out
