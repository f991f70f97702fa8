"""Pipeline stage 1 (support) — where the parser's tables are cached between processes.

Building the LALR tables from `grammar/ctr.lark` costs a quarter of a second, on every cold
start (a Lambda's first invocation, every `ctrules` command). Lark can pickle the built parser
and load it back; this module says where, or None for "don't cache". The cache is a pickle, so
it is only read from a directory that this user owns and nobody else can write to: the user's
cache directory (`$XDG_CACHE_HOME/ctrules`, `~/.cache/ctrules`), else a private directory under
the system temp dir (on Lambda, the package directory is read-only and /tmp is the function's
own). `CTRULES_CACHE_DIR` overrides the location; `CTRULES_CACHE_DIR=""` turns caching off.
Lark checks the grammar's, its own and Python's version in the file before using it, and a
cache that cannot be written is simply not written.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from pathlib import Path


def _private_dir(path: Path) -> Path | None:
    """`path`, created if needed, if it is a directory only this user can write to."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.lstat()
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() \
            or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return None
    return path


def cache_dir() -> Path | None:
    configured = os.environ.get("CTRULES_CACHE_DIR")
    if configured is not None:
        return _private_dir(Path(configured)) if configured else None
    candidates = []
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        candidates.append(Path(xdg) / "ctrules")
    home = os.environ.get("HOME")
    if home:
        candidates.append(Path(home) / ".cache" / "ctrules")
    candidates.append(Path(tempfile.gettempdir()) / f"ctrules-{os.getuid()}")
    for candidate in candidates:
        found = _private_dir(candidate)
        if found is not None:
            return found
    return None


def parser_cache(grammar: str) -> str | bool:
    """Lark's `cache=` argument for `grammar`: a file in the cache directory, or False."""
    where = cache_dir()
    if where is None:
        return False
    digest = hashlib.sha256(grammar.encode()).hexdigest()[:16]
    return str(where / f"ctr-{digest}.lark")
