"""Sigma import — `match` / `no match` examples for an imported rule, built from its condition.

`Sigma YAML → pySigma → pipeline → backend (AST) → **examples** → formatter → .ctr text`.

The match example is a CloudTrail-shaped record carrying the values the detection asks for; the
no-match examples are that record with the decisive value changed and, where the rule has a
filter (`and not ...`), with the filtered value added. Candidates are built per disjunct of the
condition (its disjunctive normal form, bounded) and every example is confirmed by ctrules' own
compiler before it is kept, so `ctrules test` passes on what is emitted; a rule for which no
confirmed pair is found is reported, never emitted without examples.
"""

from __future__ import annotations

import copy
import ipaddress
import itertools
import re._parser as sre_parse  # type: ignore[import-not-found]  # stdlib, un-stubbed
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .. import catalog
from .. import nodes as n
from ..compiler import Scope, compile_expr

MAX_TERMS = 256
_SCOPE = Scope(lists={}, macros={})


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()

Atom = n.Compare | n.InTest | n.StringTest | n.Matches | n.Glob | n.Exists
Term = tuple[tuple[Atom, bool], ...]

_SKELETON: dict[str, Any] = {
    "eventVersion": "1.09",
    "userIdentity": {
        "type": "IAMUser",
        "arn": "arn:aws:iam::111122223333:user/alice",
        "accountId": "111122223333",
        "userName": "alice",
    },
    "eventTime": "2024-05-01T12:00:00Z",
    "eventSource": "ec2.amazonaws.com",
    "eventName": "DescribeInstances",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "198.51.100.7",
    "userAgent": "aws-cli/2.15.0",
    "eventType": "AwsApiCall",
    "recipientAccountId": "111122223333",
}


@dataclass(frozen=True)
class Generated:
    match: dict[str, Any]
    no_match: tuple[tuple[str, dict[str, Any]], ...]


def generate(expr: n.Expr, spellings: dict[str, str] | None = None) -> Generated | None:
    """A confirmed match record and one or two confirmed no-match records, or None.
    `spellings` maps a lower-cased literal to the spelling the Sigma rule used, so a record
    for `lower(userIdentity.type) == "root"` shows "Root"."""
    sp = spellings or {}
    pred = compile_expr(expr, _SCOPE)

    def matches(record: dict[str, Any]) -> bool:
        return bool(pred(record, record))

    # Of the first few disjuncts that work, keep the one that sets the fewest values: an
    # absent errorCode reads more like a real successful call than `"errorCode": "Success"`.
    best: tuple[int, Generated] | None = None
    looked = 0
    for term in itertools.islice(_dnf(expr, True), MAX_TERMS):
        if best is not None:
            looked += 1
            if looked > 16:
                break
        for base in (_SKELETON, {}):
            values = _solve(term, sp, base)
            if values is None:
                continue
            record = _build(base, values, follow_source=True)
            if not matches(record):
                continue
            no_match = _no_matches(term, values, record, matches, sp)
            if not no_match:
                no_match = _negated(expr, record, matches, sp)
            if no_match:
                cost = sum(1 for v in values.values() if v is not MISSING)
                if best is None or cost < best[0]:
                    best = (cost, Generated(record, tuple(no_match)))
                break
    return best[1] if best is not None else None


def _negated(
    expr: n.Expr, record: dict[str, Any], matches: Any, sp: dict[str, str]
) -> list[tuple[str, dict[str, Any]]]:
    """A record for `not expr`, solved from the match record (keeping what it can): for the
    rules where no single value, nor the filter, decides (`not (a and b and c)`)."""
    for term in itertools.islice(_dnf(expr, False), MAX_TERMS):
        values = _solve(term, sp, record)
        if not values:
            continue
        changed = _build(record, values)
        if not matches(changed):
            return [("different " + ", ".join(_dotted(s) for s in values), changed)]
    return []


# ---- disjunctive normal form ------------------------------------------------------------------


def _dnf(e: n.Expr, positive: bool) -> Iterator[Term]:
    if isinstance(e, n.Not):
        yield from _dnf(e.operand, not positive)
    elif isinstance(e, (n.And, n.Or)):
        conjunctive = isinstance(e, n.And) == positive
        if conjunctive:
            yield from _product([list(itertools.islice(_dnf(op, positive), MAX_TERMS))
                                 for op in e.operands])
        else:
            for op in e.operands:
                yield from _dnf(op, positive)
    elif isinstance(e, (n.Compare, n.InTest, n.StringTest, n.Matches, n.Glob, n.Exists)):
        yield ((e, positive),)
    else:  # the backend builds nothing else
        raise TypeError(f"unexpected node {type(e).__name__}")


def _product(options: list[list[Term]]) -> Iterator[Term]:
    for combo in itertools.product(*options):
        yield tuple(atom for term in combo for atom in term)


# ---- solving one conjunction ------------------------------------------------------------------


def _subject(atom: Atom) -> n.Path:
    left: n.Expr = atom.path if isinstance(atom, n.Exists) else atom.left
    if isinstance(left, n.Call):
        left = left.args[0]
    assert isinstance(left, n.Path)
    return left


def _right_path(atom: Atom) -> n.Path | None:
    right = getattr(atom, "right", None)
    return right if isinstance(right, n.Path) else None


def _solve(
    term: Term, sp: dict[str, str], base: dict[str, Any]
) -> dict[tuple[str | int, ...], Any] | None:
    """A value (or MISSING) for each path the conjunction constrains; a path whose value in
    `base` (the record skeleton) already satisfies its conditions is left as it is."""
    by_path: dict[tuple[str | int, ...], list[tuple[Atom, bool]]] = {}
    refs: list[tuple[Atom, bool]] = []
    for atom, positive in term:
        if _right_path(atom) is not None:
            refs.append((atom, positive))
            continue
        by_path.setdefault(_subject(atom).segments, []).append((atom, positive))
    values: dict[tuple[str | int, ...], Any] = {}
    for segments, atoms in by_path.items():
        check = compile_expr(_conj(atoms), _SCOPE)
        kept = _lookup(base, segments)
        if kept is not MISSING and check(base, base):
            continue
        for candidate in _candidates(atoms, sp):
            probe = _build({}, {segments: candidate})
            if check(probe, probe):
                values[segments] = candidate
                break
        else:
            return None
    for atom, positive in refs:
        left, right = _subject(atom).segments, _right_path(atom)
        assert right is not None
        value = values.get(left, _lookup(base, left))
        if value is MISSING or value is None:
            value = "example-value"
            values[left] = value
        if isinstance(atom, n.Compare) and atom.op == "!=":
            positive = not positive
        if positive:
            if isinstance(atom, n.StringTest) and isinstance(value, str) and len(value) > 1:
                values[right.segments] = value[: len(value) // 2] if atom.op == "startswith" \
                    else value[len(value) // 2:] if atom.op == "endswith" else value[1:-1] or value
            else:
                values[right.segments] = value
        else:
            values[right.segments] = f"{value}-other" if isinstance(value, str) else "other"
    return values


def _conj(atoms: list[tuple[Atom, bool]]) -> n.Expr:
    parts = [atom if positive else n.Not(atom) for atom, positive in atoms]
    return parts[0] if len(parts) == 1 else n.And(tuple(parts))


def _candidates(atoms: list[tuple[Atom, bool]], sp: dict[str, str]) -> Iterator[Any]:
    positives = [atom for atom, positive in atoms if positive]
    if not positives:
        yield MISSING
        yield "example"
        return
    for atom in positives:
        yield _witness(atom, sp)
    prefix = suffix = ""
    middle: list[str] = []
    for atom in positives:
        if isinstance(atom, n.StringTest) and isinstance(atom.right, (n.Literal_, n.ListLit)):
            first = _first(atom.right)
            if isinstance(first, str):
                if atom.op == "startswith":
                    prefix = first
                elif atom.op == "endswith":
                    suffix = first
                else:
                    middle.append(first)
    yield prefix + "-".join(middle) + suffix
    yield "example"


def _first(operand: n.Operand) -> Any:
    if isinstance(operand, n.Literal_):
        return operand.value
    if isinstance(operand, n.ListLit) and operand.items:
        item = operand.items[0]
        return item.value if isinstance(item, n.Literal_) else list(item.values())
    return MISSING


def _witness(atom: Atom, sp: dict[str, str]) -> Any:
    """A value of the atom's path that satisfies it (not guaranteed; the caller checks)."""
    if isinstance(atom, n.Exists):
        return "example"
    if isinstance(atom, n.Compare):
        value = _first(atom.right)
        if atom.op == "==":
            return MISSING if value is None else _spelled(sp, atom, value)
        if atom.op == "!=":
            return "example" if value != "example" else "other"
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value - 1 if atom.op == "<" else value + 1 if atom.op == ">" else value
        return MISSING
    if isinstance(atom, n.InTest):
        if atom.negated:
            return MISSING
        if isinstance(atom.right, n.Call):  # cidr(...)
            first = atom.right.args[0]
            assert isinstance(first, n.Literal_)
            network = ipaddress.ip_network(str(first.value), strict=False)
            host = network.network_address + (1 if network.num_addresses > 2 else 0)
            return str(host)
        return _spelled(sp, atom, _first(atom.right))
    if isinstance(atom, n.StringTest):
        return _spelled(sp, atom, _first(atom.right))
    if isinstance(atom, n.Glob):
        pattern = str(atom.pattern.value)
        if not pattern.strip("*"):
            return "example"  # `*`: any string will do, an empty one reads oddly
        return pattern.replace("*", "").replace("?", "x")
    return _regex_witness(str(atom.pattern.value))


def _spelled(sp: dict[str, str], atom: n.Compare | n.InTest | n.StringTest, value: Any) -> Any:
    if isinstance(atom.left, n.Call) and isinstance(value, str):
        return sp.get(value, value)
    return value


def _regex_witness(pattern: str) -> Any:
    try:
        return _gen(sre_parse.parse(pattern))
    except Exception:  # an exotic construct: let the next candidate try
        return "example"


_CATEGORY = {
    "CATEGORY_DIGIT": "0", "CATEGORY_NOT_DIGIT": "a", "CATEGORY_SPACE": " ",
    "CATEGORY_NOT_SPACE": "a", "CATEGORY_WORD": "a", "CATEGORY_NOT_WORD": "-",
}


def _gen(parsed: Any) -> str:
    out: list[str] = []
    for op, av in parsed:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(av))
        elif name == "NOT_LITERAL":
            out.append("a" if chr(av) != "a" else "b")
        elif name == "ANY":
            out.append("a")
        elif name == "IN":
            out.append(_gen_in(av))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, _high, sub = av
            out.append(_gen(sub) * low)
        elif name == "SUBPATTERN":
            out.append(_gen(av[-1]))
        elif name == "ATOMIC_GROUP":
            out.append(_gen(av))
        elif name == "BRANCH":
            out.append(_gen(av[1][0]))
        elif name == "CATEGORY":
            out.append(_CATEGORY.get(str(av), "a"))
        elif name == "AT":
            continue
        else:
            raise ValueError(name)
    return "".join(out)


def _gen_in(items: Any) -> str:
    if items and str(items[0][0]) == "NEGATE":
        excluded = set()
        for op, av in items[1:]:
            if str(op) == "LITERAL":
                excluded.add(chr(av))
        return next(c for c in "aZ0-_ q" if c not in excluded)
    op, av = items[0]
    name = str(op)
    if name == "LITERAL":
        return chr(av)
    if name == "RANGE":
        return chr(av[0])
    if name == "CATEGORY":
        return _CATEGORY.get(str(av), "a")
    raise ValueError(name)


# ---- records ------------------------------------------------------------------------------------


# Request and resource fields CloudTrail records as arrays: examples carry them as arrays too
# (a path without an index reaches every element, so the verdict is the same).
_ARRAYS: frozenset[tuple[str, ...]] = frozenset({
    ("resources",),
    ("requestParameters", "containerDefinitions"),
    ("requestParameters", "containerDefinitions", "command"),
    ("requestParameters", "containerDefinitions", "entryPoint"),
    ("requestParameters", "layers"),
    ("requestParameters", "ipPermissions", "items"),
    ("requestParameters", "instancesSet", "items"),
})


def _build(
    base: dict[str, Any], values: dict[tuple[str | int, ...], Any], follow_source: bool = False
) -> dict[str, Any]:
    record = copy.deepcopy(base)
    for segments, value in values.items():
        if value is MISSING:
            _delete(record, segments)
        else:
            _set(record, segments, value)
    if follow_source and "eventName" in record and ("eventSource",) not in values:
        # An unconstrained eventSource follows the eventName, as in a real record.
        sources = catalog.load().sources_emitting(str(record["eventName"]))
        if sources:
            record["eventSource"] = sources[0]
    _arrays(record, ())
    return record


def _arrays(node: Any, prefix: tuple[str, ...]) -> None:
    if isinstance(node, list):
        for element in node:
            _arrays(element, prefix)
    elif isinstance(node, dict):
        for key, value in list(node.items()):
            path = (*prefix, key)
            if path in _ARRAYS and not isinstance(value, list):
                node[key] = value = [value]
            _arrays(value, path)


def _step(node: Any, seg: str | int, create: bool) -> Any:
    """The child of `node` at `seg` (an object key, an array index, or — for a key on an array —
    the key of its first element), or MISSING; with `create`, made on the way."""
    if isinstance(node, list) and not isinstance(seg, int):
        if not node:
            if not create:
                return MISSING
            node.append({})
        node = node[0]
    if isinstance(node, list) and isinstance(seg, int):
        if seg >= len(node) and not create:
            return MISSING
        while len(node) <= seg:
            node.append({})
        return node[seg]
    if isinstance(node, dict):
        if str(seg) not in node:
            if not create:
                return MISSING
            node[str(seg)] = {}
        return node[str(seg)]
    return MISSING


def _container(node: Any, seg: str | int) -> tuple[Any, str | int]:
    """Where a value for `seg` under `node` is stored (the first element for a key on an array)."""
    if isinstance(node, list) and not isinstance(seg, int):
        if not node:
            node.append({})
        return node[0], seg
    return node, seg


def _set(record: Any, segments: tuple[str | int, ...], value: Any) -> None:
    node = record
    for i, seg in enumerate(segments[:-1]):
        child = _step(node, seg, create=True)
        if not isinstance(child, (dict, list)):
            holder, key = _container(node, seg)
            fresh: Any = [] if isinstance(segments[i + 1], int) else {}
            if isinstance(holder, list) and isinstance(key, int):
                holder[key] = fresh
            else:
                holder[str(key)] = fresh
            child = fresh
        node = child
    holder, key = _container(node, segments[-1])
    if isinstance(holder, list) and isinstance(key, int):
        while len(holder) <= key:
            holder.append({})
        holder[key] = value
    elif isinstance(holder, dict):
        holder[str(key)] = value


def _lookup(record: Any, segments: tuple[str | int, ...]) -> Any:
    node = record
    for seg in segments:
        node = _step(node, seg, create=False)
        if node is MISSING:
            return MISSING
    return node


def _delete(record: Any, segments: tuple[str | int, ...]) -> None:
    parent = _lookup(record, segments[:-1]) if len(segments) > 1 else record
    if parent is MISSING:
        return
    holder, key = _container(parent, segments[-1]) if parent else (parent, segments[-1])
    if isinstance(holder, dict):
        holder.pop(str(key), None)


# ---- no-match examples --------------------------------------------------------------------------


def _dotted(segments: tuple[str | int, ...]) -> str:
    return ".".join(str(s) for s in segments)


def _order(segments: tuple[str | int, ...]) -> int:
    ranks: dict[tuple[str | int, ...], int] = {("eventName",): 1, ("eventSource",): 2}
    return ranks.get(segments, 0)


def _no_matches(
    term: Term,
    values: dict[tuple[str | int, ...], Any],
    record: dict[str, Any],
    matches: Any,
    sp: dict[str, str],
) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    # The paths the conjunction needs something of, most specific first.
    decisive = sorted(
        dict.fromkeys(_subject(atom).segments for atom, positive in term if positive),
        key=_order,
    )
    for segments in decisive:
        changed = _first_no_match(record, [segments], matches)
        if changed is not None:
            verb = "without" if _lookup(changed, segments) is MISSING else "different"
            out.append((f"{verb} {_dotted(segments)}", changed))
            break
    else:
        # No single value decides (another branch of an `or` also holds): change them all.
        changed = _first_no_match(record, decisive, matches)
        if changed is not None:
            out.append(("different " + ", ".join(_dotted(s) for s in decisive), changed))
    for atom, positive in term:
        right = _right_path(atom)
        if right is not None and isinstance(atom, n.Compare) and positive == (atom.op == "!="):
            # `a != b` (Sigma's `not fieldref`): the filtered case is the two being equal.
            changed = _build(record, {right.segments: _lookup(record, _subject(atom).segments)})
            if not matches(changed):
                out.append((f"excluded by the filter on {_dotted(right.segments)}", changed))
                break
        if positive or right is not None:
            continue
        witness = _witness(atom, sp)
        if witness is MISSING:
            continue
        segments = _subject(atom).segments
        changed = _build(record, {segments: witness})
        if not matches(changed):
            out.append((f"excluded by the filter on {_dotted(segments)}", changed))
            break
    return out


_REALISTIC: dict[tuple[str | int, ...], tuple[Any, ...]] = {
    ("errorCode",): ("AccessDenied",),
    ("userAgent",): ("aws-cli/2.15.0", "console.amazonaws.com"),
    ("userIdentity", "type"): ("IAMUser", "AssumedRole"),
    ("eventType",): ("AwsApiCall",),
    ("sourceIPAddress",): ("198.51.100.7",),
}


def _first_no_match(
    record: dict[str, Any], paths: list[tuple[str | int, ...]], matches: Any
) -> dict[str, Any] | None:
    """`record` with the values at `paths` changed (the k-th candidate of each together) so
    that the rule does not match, or None."""
    options = [list(_mutations(segments, record)) for segments in paths]
    for k in range(max((len(o) for o in options), default=0)):
        changes = {
            seg: opts[min(k, len(opts) - 1)] for seg, opts in zip(paths, options, strict=True)
        }
        changed = _build(record, changes)
        if changed != record and not matches(changed):
            return changed
    return None


def _mutations(segments: tuple[str | int, ...], record: dict[str, Any]) -> Iterator[Any]:
    yield from _REALISTIC.get(tuple(segments), ())
    if _lookup(record, segments) is MISSING:
        yield "other-value"
    if segments == ("eventName",):
        source = record.get("eventSource")
        names = catalog.load().event_sources.get(str(source), frozenset())
        current = record.get("eventName")
        reads = sorted(x for x in names if x.startswith(("Describe", "List", "Get")))
        for name in (reads or sorted(names))[:8]:
            if name != current:
                yield name
    yield "other-value"
    yield MISSING
    yield 0
