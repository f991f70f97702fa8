"""Shared by the parser, the checker and the compiler (stages 1, 3 and 4): building large object
graphs without cyclic-GC pauses.

Parsing, checking and compiling a rule set allocate hundreds of thousands of small objects (tree
nodes, AST nodes, closures) that all stay alive, and none of them forms a garbage cycle; every
allocation burst makes the cyclic collector rescan all of them. For a 5,000-clause `or` that
rescanning was about two thirds of the compile time and a third of `check`.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Collector off for the block; back on after it only if this block turned it off, so nested
    and concurrent uses never leave it off."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
