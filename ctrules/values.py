"""Value semantics shared by the compiler, the explainer and templates.

How a field path reaches values of a CloudTrail record (spec "Expressions" and "Meaning"):
a path steps through objects by key; stepping through an array without an index reaches every
element (an element lacking the key contributes null); a path that ends at an array reaches its
elements, recursively; a path that reaches nothing is null.

`walk` is the hot path: it returns the single value reached when the path crosses only objects
(the overwhelmingly common case) and only builds a list (`Fanout`) when it crosses an array.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
"""A key that is not there (distinct from a JSON null, for `exists`)."""


class Fanout(list[Any]):
    """The values a path reached by crossing an array (one per element, MISSING if absent)."""

    __slots__ = ()


Walker = Callable[[Any], Any]


def make_walker(segments: Sequence[str | int]) -> Walker:
    """A function from a start value to what `segments` reach: a value, MISSING or a Fanout."""
    segs = tuple(segments)
    if not segs:
        return _identity
    if len(segs) == 1 and isinstance(segs[0], str):
        key = segs[0]

        def walk1(obj: Any) -> Any:
            if type(obj) is dict:
                return obj.get(key, MISSING)
            return walk_from(obj, segs, 0)

        return walk1
    if len(segs) == 2 and all(isinstance(s, str) for s in segs):
        k1, k2 = segs

        def walk2(obj: Any) -> Any:
            if type(obj) is dict:
                v = obj.get(k1, MISSING)
                if type(v) is dict:
                    return v.get(k2, MISSING)
                if v is MISSING or v is None or type(v) is str:
                    return MISSING
            return walk_from(obj, segs, 0)

        return walk2
    if all(isinstance(s, str) for s in segs):

        def walk_keys(obj: Any) -> Any:
            for i, key in enumerate(segs):
                if type(obj) is dict:
                    obj = obj.get(key, MISSING)
                elif obj is MISSING:
                    return MISSING
                else:
                    return walk_from(obj, segs, i)
            return obj

        return walk_keys
    return lambda obj: walk_from(obj, segs, 0)


def _identity(obj: Any) -> Any:
    return obj


def walk_from(obj: Any, segs: tuple[str | int, ...], start: int) -> Any:
    """The general walk from segment `start`; returns a value, MISSING or a Fanout."""
    current: list[Any] = [obj]
    fanned = False
    for seg in segs[start:]:
        nxt: list[Any] = []
        for value in current:
            if _step(value, seg, nxt):
                fanned = True
        current = nxt
        if not current:
            return Fanout()
    if fanned:
        return Fanout(current)
    return current[0]


def _step(value: Any, seg: str | int, out: list[Any]) -> bool:
    """Append what `seg` reaches from `value`; True when it fanned out over an array."""
    if isinstance(value, dict):
        out.append(value.get(seg if isinstance(seg, str) else str(seg), MISSING))
        return False
    if isinstance(value, list):
        if isinstance(seg, int):
            out.append(value[seg] if 0 <= seg < len(value) else MISSING)
            return False
        for element in value:
            if isinstance(element, list):
                _step(element, seg, out)
            elif isinstance(element, dict):
                out.append(element.get(seg, MISSING))
            else:
                out.append(MISSING)
        return True
    out.append(MISSING)
    return False


def expand(reached: Any) -> list[Any]:
    """The values a comparison sees: arrays expanded recursively, MISSING as None, and [None]
    when the path reached nothing."""
    if type(reached) is Fanout:
        out: list[Any] = []
        for value in reached:
            _expand_into(value, out)
        return out or [None]
    if type(reached) is list:
        out = []
        _expand_into(reached, out)
        return out or [None]
    if reached is MISSING:
        return [None]
    return [reached]


def _expand_into(value: Any, out: list[Any]) -> None:
    if isinstance(value, list):
        for element in value:
            _expand_into(element, out)
    elif value is MISSING:
        out.append(None)
    else:
        out.append(value)


def raw_values(reached: Any) -> list[Any]:
    """The values before terminal expansion (for `== [list]` and `len`), MISSING as None."""
    if type(reached) is Fanout:
        return [None if v is MISSING else v for v in reached] or [None]
    return [None if reached is MISSING else reached]


def present(reached: Any) -> bool:
    """`exists`: the key is there (even with a null value)."""
    if type(reached) is Fanout:
        return any(v is not MISSING for v in reached)
    return reached is not MISSING


_NUMBERS = (int, float)


def equal(a: Any, b: Any) -> bool:
    """Deep equality without coercion: 1 == 1.0, but true != 1 and "true" != true."""
    ta, tb = type(a), type(b)
    if ta is bool or tb is bool:
        return ta is tb and a == b
    if ta is str or tb is str:
        return ta is tb and a == b
    if a is None or b is None:
        return a is b
    if isinstance(a, _NUMBERS) and isinstance(b, _NUMBERS):
        return a == b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    return False


def is_number(value: Any) -> bool:
    return type(value) is int or type(value) is float


def ordered(op: str, a: Any, b: Any) -> bool:
    """`<`, `<=`, `>`, `>=`: numbers with numbers, strings with strings, otherwise false."""
    if is_number(a) and is_number(b):
        pass
    elif type(a) is str and type(b) is str:
        pass
    else:
        return False
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    return bool(a >= b)


def length(value: Any) -> int | None:
    if isinstance(value, (str, list, dict)):
        return len(value)
    return None


# ---- IP addresses (`in cidr(...)`) ------------------------------------------------------------

Address = tuple[int, int, int]  # (version, number, bits)

# Source addresses repeat: parsing one with ipaddress costs several times the whole test, so
# parsed addresses are kept (bounded; cleared when full).
ADDRESSES: dict[str, Address | None] = {}
_ADDRESS_CACHE_LIMIT = 65536


def parse_address(text: str) -> Address | None:
    """(version, number, bits) of an IP address as `in cidr(...)` reads it (ipaddress's
    `ip_address`; an IPv6 zone is ignored, as `ip in network` ignores it), or None."""
    try:
        return ADDRESSES[text]
    except KeyError:
        pass
    import ipaddress

    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        parsed = None
    else:
        parsed = (ip.version, int(ip), ip.max_prefixlen)
    if len(ADDRESSES) >= _ADDRESS_CACHE_LIMIT:
        ADDRESSES.clear()
    ADDRESSES[text] = parsed
    return parsed


def cidr_test(networks: Sequence[Any]) -> Callable[[str], bool]:
    """Whether a string is an address inside one of `networks` (ipaddress networks); IPv4 and
    IPv6 never match each other (an IPv4-mapped IPv6 address is IPv6)."""
    ranges = tuple((net.version, int(net.network_address), int(net.broadcast_address))
                   for net in networks)
    def in_networks(text: str) -> bool:
        parsed = parse_address(text)
        if parsed is None:
            return False
        version, number, _ = parsed
        for net_version, low, high in ranges:
            if net_version == version and low <= number <= high:
                return True
        return False

    return in_networks
