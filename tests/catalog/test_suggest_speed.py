""""Did you mean" over the whole event-name catalog uses a deletion neighbourhood (catalog.py):
for a typo of one edit, or of an extra character and one more change or extra character, it
gives the answer difflib's full scan gives."""

from __future__ import annotations

import difflib
import random

from ctrules import catalog


def _full_scan(word: str, candidates: frozenset[str]) -> str | None:
    close = difflib.get_close_matches(word, sorted(candidates), n=1, cutoff=0.8)
    return close[0] if close else None


def _typo(rng: random.Random, name: str, edits: int) -> str:
    chars = list(name)
    for edit in range(edits):
        i = rng.randrange(len(chars))
        op = rng.randrange(3) if edits == 1 else 2 if edit == 0 else rng.choice([0, 2])
        if op == 0:
            chars[i] = rng.choice("aeiouxyz")
        elif op == 1 and len(chars) > 3:
            del chars[i]
        else:
            chars.insert(i, rng.choice("aeiouxyz"))
    return "".join(chars)


def test_typos_get_the_full_scan_answer() -> None:
    names = catalog.load().event_names
    rng = random.Random(12)
    pool = sorted(names)
    checked = 0
    for _ in range(150):
        word = _typo(rng, rng.choice(pool), rng.choice([1, 2]))
        if word.lower() in {n.lower() for n in names}:
            continue
        assert catalog.suggest(word, names) == _full_scan(word, names), word
        checked += 1
    assert checked > 100


def test_no_suggestion_for_a_name_like_no_other() -> None:
    assert catalog.suggest("NoSuchCallNumber12x", catalog.load().event_names) is None
