"""Hypothesis strategies for `.ctr` ASTs and CloudTrail-like records, shared by the test suites.

- `paths()`, `literals()`, `exprs(max_depth)`: valid expression ASTs of every kind, shaped as the
  parser builds them (`and`/`or` flattened, at least two operands), so that printing one and
  parsing the text gives the same AST back.
- `rule_files()`: whole `RuleFile`s — lists, macros (each may use earlier ones: no recursion),
  rules with every property and examples, ignores and routes — that are also valid rule sets
  (every macro, list and rule name referenced is declared, names are unique).
- `records()`: CloudTrail-like JSON objects over the same field names `paths()` uses, with
  missing fields, nulls, wrong types, arrays, nested arrays, deep nesting, non-ASCII text, and
  ints / floats / bools side by side, so generated rules both match and miss.
- `ast_key(node)`: a structural key that, unlike `==` on the nodes, tells `true` from `1` and
  `1` from `1.0` (Python says `True == 1 == 1.0`); compare ASTs with it in round-trip tests.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from hypothesis import strategies as st

from ctrules import nodes as n

# ---- vocabulary ------------------------------------------------------------------------------

LEAF: dict[str, Any] = {}

# The record shape both paths() and records() draw from. A key mapping to LEAF holds a value;
# a key mapping to a dict holds an object (or an array of them, or a wrong type).
SCHEMA: dict[str, Any] = {
    "eventVersion": LEAF,
    "eventSource": LEAF,
    "eventName": LEAF,
    "eventTime": LEAF,
    "eventID": LEAF,
    "awsRegion": LEAF,
    "sourceIPAddress": LEAF,
    "userAgent": LEAF,
    "errorCode": LEAF,
    "errorMessage": LEAF,
    "readOnly": LEAF,
    "recipientAccountId": LEAF,
    "userIdentity": {
        "type": LEAF,
        "arn": LEAF,
        "accountId": LEAF,
        "userName": LEAF,
        "invokedBy": LEAF,
        "sessionContext": {
            "attributes": {"mfaAuthenticated": LEAF, "creationDate": LEAF},
            "sessionIssuer": {"type": LEAF, "userName": LEAF, "arn": LEAF},
        },
    },
    "requestParameters": {
        "name": LEAF,
        "bucketName": LEAF,
        "x-amz-acl": LEAF,
        "valuesToAdd": LEAF,
        "attributeValues": LEAF,
        "policyDocument": LEAF,
        "tags": LEAF,
        "0": LEAF,
        "ipPermissions": {"items": {"ipProtocol": LEAF, "ipRanges": {"items": {"cidrIp": LEAF}}}},
    },
    "responseElements": {"ConsoleLogin": LEAF, "credentials": {"accessKeyId": LEAF}},
    "additionalEventData": {"MFAUsed": LEAF, "clé spéciale": LEAF},
    "resources": {"ARN": LEAF, "type": LEAF, "accountId": LEAF},
    "tlsDetails": {"tlsVersion": LEAF},
}

# Keys of the elements that `any`/`all` iterate over (resources, items, ipRanges...).
ELEMENT_KEYS = ("ARN", "type", "accountId", "name", "items", "cidrIp", "ipProtocol", "value")

STRINGS = (
    "",
    "StopLogging",
    "DeleteTrail",
    "UpdateTrail",
    "ConsoleLogin",
    "PutBucketAcl",
    "cloudtrail.amazonaws.com",
    "s3.amazonaws.com",
    "signin.amazonaws.com",
    "AccessDenied",
    "Success",
    "Failure",
    "Root",
    "IAMUser",
    "AssumedRole",
    "true",
    "false",
    "1",
    "10",
    "9",
    "all",
    "public-read",
    "arn:aws:s3:::prod-bucket",
    "arn:aws:s3:::dev-bucket/key",
    "arn:aws:iam::111111111111:root",
    "AWS::S3::Object",
    "111111111111",
    "222222222222",
    "10.1.2.3",
    "192.168.0.1",
    "8.8.8.8",
    "::1",
    "2001:db8::5",
    "::ffff:10.1.2.3",
    "not an ip",
    "0.0.0.0/0",
    "Ünïcödé",
    "日本語",
    "😀 emoji",
    "ROOT",
    "root",
)

# Text no rule file would contain but any string literal may: escapes, quotes, controls.
TRICKY_STRINGS = (
    'say "hi"',
    "back\\slash",
    "line\nbreak",
    "tab\tand\rcr",
    "nul\x00",
    "del\x7f",
    "sep\u2028\u2029\x85",
    "{eventName}",
    'r"raw"',
    "#not a comment",
    "`tick`",
)

NUMBERS: tuple[int | float, ...] = (0, 1, -1, 2, 10, 443, 1.0, 2.5, -0.5, 1e20, 123456789012)

REGEXES = (
    r"^Delete",
    r"(?i)root",
    r"\d+",
    r"^arn:aws:s3:::prod-",
    r"Stop|Delete",
    r"^$",
    r"\.amazonaws\.com$",
    r"^[0-9]{12}$",
    "é",
)
GLOBS = ("*", "Delete*", "arn:aws:s3:::*", "?", "*.amazonaws.com", "[abc]*", "*Trail", "")
CIDRS = ("10.0.0.0/8", "192.168.0.0/16", "0.0.0.0/0", "10.1.2.3/8", "::1/128", "2001:db8::/32")
SEVERITY_NAMES = n.SEVERITIES
DESTINATIONS = ("default", "prod-security", "sec-ops", "slack-alerts")


# ---- paths -----------------------------------------------------------------------------------


def _schema_paths(schema: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for key, sub in schema.items():
        here = (*prefix, key)
        out.append(here)
        if sub is not LEAF:
            out.extend(_schema_paths(sub, here))
    return out


SCHEMA_PATHS: tuple[tuple[str, ...], ...] = tuple(_schema_paths(SCHEMA))


@st.composite
def _indexed(draw: st.DrawFn, segments: tuple[str, ...]) -> tuple[str | int, ...]:
    """Sometimes put an array index after a segment (`resources.0.ARN`)."""
    out: list[str | int] = []
    for i, seg in enumerate(segments):
        out.append(seg)
        if i + 1 < len(segments) and draw(st.integers(0, 9)) == 0:
            out.append(draw(st.integers(0, 2)))
    if draw(st.integers(0, 14)) == 0:
        out.append(draw(st.integers(0, 3)))
    return tuple(out)


@functools.cache
def paths(*, anchors: tuple[n.Anchor, ...] = ("rel", "event")) -> st.SearchStrategy[n.Path]:
    """Field paths of a record: `eventName`, `event.userIdentity.arn`, `resources.0.ARN`,
    ``requestParameters.`x-amz-acl` ``, ``requestParameters.`0` ``."""
    return st.builds(
        lambda segs, anchor: n.Path(segs, anchor),
        st.sampled_from(SCHEMA_PATHS).flatmap(_indexed),
        st.sampled_from(anchors),
    )


@functools.cache
def element_paths() -> st.SearchStrategy[n.Path]:
    """Paths inside `any`/`all` bodies: relative to the element, `it`, or from `event.`."""
    relative = st.builds(
        lambda segs: n.Path(segs, "rel"),
        st.lists(st.sampled_from(ELEMENT_KEYS), min_size=1, max_size=2).map(tuple),
    )
    return st.one_of(
        relative,
        relative,
        st.just(n.Path((), "it")),
        st.builds(
            lambda i, k: n.Path((i, k), "rel"), st.integers(0, 2), st.sampled_from(ELEMENT_KEYS)
        ),
        paths(anchors=("event",)),
    )


@functools.cache
def rule_paths() -> st.SearchStrategy[n.Path]:
    """`rule.name`, `rule.severity`, `rule.tags` (routes only)."""
    return st.sampled_from([n.Path((f,), "rule") for f in ("name", "severity", "tags")])


# ---- literals --------------------------------------------------------------------------------


@functools.cache
def strings(*, tricky: bool = True) -> st.SearchStrategy[str]:
    pools = [st.sampled_from(STRINGS), st.sampled_from(STRINGS)]
    if tricky:
        pools.append(st.sampled_from(TRICKY_STRINGS))
        pools.append(st.text(max_size=8))
    return st.one_of(*pools)


@functools.cache
def literals(*, tricky: bool = True) -> st.SearchStrategy[n.Literal_]:
    """Scalar literals: strings (some marked raw), ints, floats, booleans, null."""
    return st.one_of(
        st.builds(n.Literal_, strings(tricky=tricky), st.booleans()),
        st.builds(n.Literal_, st.sampled_from(NUMBERS)),
        st.builds(n.Literal_, st.integers(-(10**15), 10**15)),
        st.builds(n.Literal_, st.floats(allow_nan=False, allow_infinity=False)),
        st.builds(n.Literal_, st.booleans()),
        st.just(n.Literal_(None)),
    )


@functools.cache
def list_lits(*, max_size: int = 4, nested: bool = True) -> st.SearchStrategy[n.ListLit]:
    item: st.SearchStrategy[n.Literal_ | n.ListLit] = literals()
    if nested:
        item = st.one_of(literals(), literals(), literals(), list_lits(max_size=2, nested=False))
    return st.builds(lambda xs: n.ListLit(tuple(xs)), st.lists(item, max_size=max_size))


@functools.cache
def _string_lits() -> st.SearchStrategy[n.Literal_]:
    return st.builds(n.Literal_, strings(), st.booleans())


# ---- expressions -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Scope:
    macros: tuple[str, ...] = ()
    lists: tuple[str, ...] = ()
    element: bool = False  # inside any/all: paths are relative to the element
    route: bool = False  # `rule.` paths allowed

    @property
    def paths(self) -> st.SearchStrategy[n.Path]:
        return element_paths() if self.element else paths()


@functools.cache
def _left(scope: _Scope) -> st.SearchStrategy[n.Path | n.Call]:
    def call(inner: st.SearchStrategy[n.Path | n.Call]) -> st.SearchStrategy[n.Path | n.Call]:
        return st.builds(
            lambda f, a: n.Call(f, (a,)), st.sampled_from(("lower", "upper", "len")), inner
        )

    base: st.SearchStrategy[n.Path | n.Call] = scope.paths
    return st.one_of(base, base, base, call(base), call(call(base)))


@functools.cache
def _list_refs(scope: _Scope) -> st.SearchStrategy[n.Operand]:
    options: list[st.SearchStrategy[n.Operand]] = [list_lits()]
    if scope.lists:
        options.append(st.sampled_from([n.Path((name,)) for name in scope.lists]))
    return st.one_of(*options)


@functools.cache
def _conditions(scope: _Scope) -> st.SearchStrategy[n.Expr]:
    left = _left(scope)
    compare_right = st.one_of(literals(), literals(), list_lits(max_size=2), scope.paths)
    cidr = st.builds(
        lambda cs: n.Call("cidr", tuple(n.Literal_(c) for c in cs)),
        st.lists(st.sampled_from(CIDRS), min_size=1, max_size=3),
    )
    options: list[st.SearchStrategy[n.Expr]] = [
        st.builds(
            n.Compare, st.sampled_from(("==", "!=", "<", "<=", ">", ">=")), left, compare_right
        ),
        st.builds(n.InTest, left, st.one_of(_list_refs(scope), cidr, scope.paths), st.booleans()),
        st.builds(
            n.StringTest,
            st.sampled_from(("contains", "startswith", "endswith")),
            left,
            st.one_of(_string_lits(), list_lits(max_size=3, nested=False), scope.paths),
        ),
        st.builds(n.Matches, left, st.builds(n.Literal_, st.sampled_from(REGEXES), st.booleans())),
        st.builds(n.Glob, left, st.builds(n.Literal_, st.sampled_from(GLOBS), st.booleans())),
        st.builds(n.Exists, scope.paths),
    ]
    if scope.macros:
        options.append(st.builds(n.MacroRef, st.sampled_from(scope.macros)))
    if scope.route:
        options.append(
            st.builds(
                n.Compare,
                st.sampled_from(("==", "!=", "<", "<=", ">", ">=")),
                st.just(n.Path(("severity",), "rule")),
                st.builds(n.Literal_, st.sampled_from(SEVERITY_NAMES)),
            )
        )
        options.append(
            st.builds(
                n.Compare,
                st.sampled_from(("==", "!=")),
                rule_paths(),
                st.builds(n.Literal_, st.sampled_from(("high", "x", "defense-evasion", "r1"))),
            )
        )
    weights = st.one_of(*options)
    return st.one_of(weights, weights, weights, weights, st.builds(n.BoolConst, st.booleans()))


def _flat(kind: type[n.And] | type[n.Or], operands: list[n.Expr]) -> n.Expr:
    out: list[n.Expr] = []
    for op in operands:
        out.extend(op.operands if isinstance(op, kind) else (op,))
    return kind(tuple(out))


@functools.cache
def _exprs(scope: _Scope, depth: int) -> st.SearchStrategy[n.Expr]:
    leaf = _conditions(scope)
    if depth <= 0:
        return leaf
    sub = _exprs(scope, depth - 1)
    # Macros are left out of any/all bodies: what a macro's paths are relative to there is a
    # question for the checker, not for these generators.
    quantifier_scope = dataclasses.replace(scope, macros=(), element=True, route=False)
    quantified_paths = (
        element_paths().filter(lambda p: p.anchor != "it") if scope.element else paths()
    )
    return st.one_of(
        leaf,
        leaf,
        st.builds(n.Not, sub),
        st.builds(lambda xs: _flat(n.And, xs), st.lists(sub, min_size=2, max_size=4)),
        st.builds(lambda xs: _flat(n.Or, xs), st.lists(sub, min_size=2, max_size=4)),
        st.builds(
            n.Quantifier,
            st.sampled_from(("any", "all")),
            quantified_paths,
            _exprs(quantifier_scope, depth - 1),
        ),
    )


@functools.cache
def exprs(
    max_depth: int = 3,
    *,
    macros: tuple[str, ...] = (),
    lists: tuple[str, ...] = (),
    route: bool = False,
) -> st.SearchStrategy[n.Expr]:
    """Condition expressions of every kind, nested up to `max_depth` boolean/quantifier levels.
    `macros`/`lists` are names that may be referenced (MacroRef / `x in name`); `route` adds
    `rule.name` / `rule.severity` / `rule.tags` conditions. (Cached: building a strategy graph
    costs more than drawing from it.)"""
    scope = _Scope(macros, lists, route=route)
    return _exprs(scope, max_depth)


# ---- records ---------------------------------------------------------------------------------


@functools.cache
def _scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(STRINGS),
        st.sampled_from(STRINGS),
        st.sampled_from(NUMBERS),
        st.integers(-5, 5),
        st.floats(min_value=-1e9, max_value=1e9, allow_nan=False),
        st.booleans(),
        st.none(),
    )


@functools.cache
def _leaf_values() -> st.SearchStrategy[Any]:
    scalars = _scalars()
    nested = st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.dictionaries(st.sampled_from(ELEMENT_KEYS), inner, max_size=2),
        ),
        max_leaves=6,
    )
    return st.one_of(scalars, scalars, scalars, nested)


def _objects(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional={k: _node(v) for k, v in schema.items()})


def _node(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    if schema is LEAF:
        return _leaf_values()
    obj = st.deferred(lambda: _objects(schema))
    element = st.deferred(
        lambda: _objects({**schema, **{k: LEAF for k in ELEMENT_KEYS if k not in schema}})
    )
    return st.one_of(
        obj,
        obj,
        st.lists(element, max_size=3),
        st.lists(st.lists(element, max_size=2), max_size=2),
        _scalars(),
    )


def _deep() -> st.SearchStrategy[Any]:
    """A very deeply nested value (objects and arrays), as a hostile record might carry."""
    return st.builds(
        lambda depth, leaf, arrays: _nest(depth, leaf, arrays),
        st.integers(20, 100),
        _scalars(),
        st.booleans(),
    )


def _nest(depth: int, leaf: Any, arrays: bool) -> Any:
    value = leaf
    for i in range(depth):
        value = [value] if arrays and i % 2 else {"items": value}
    return value


@functools.cache
def records() -> st.SearchStrategy[dict[str, Any]]:
    """CloudTrail-like records over the field names of `paths()`; about one in five also
    carries a very deeply nested value."""
    top = {k: _node(v) for k, v in SCHEMA.items()}
    top["ключ"] = _leaf_values()
    base = st.fixed_dictionaries({}, optional=top)
    deep = st.builds(
        lambda record, value, where: {**record, **_place(where, value)},
        base,
        _deep(),
        st.sampled_from(("extra", "requestParameters.ipPermissions.items", "resources")),
    )
    return st.one_of(base, base, base, base, deep)


def _place(where: str, value: Any) -> dict[str, Any]:
    keys = where.split(".")
    for key in reversed(keys[1:]):
        value = {key: value}
    return {keys[0]: value}


def json_values() -> st.SearchStrategy[Any]:
    """Anything `json.loads` may return: a record is usually an object but need not be."""
    return st.one_of(records(), records(), records(), _leaf_values())


# ---- whole files -----------------------------------------------------------------------------


@functools.cache
def _texts() -> st.SearchStrategy[n.Text]:
    return st.builds(n.Text, strings(), st.booleans())


_PLACEHOLDERS = ("{eventName}", "{userIdentity.arn}", "{requestParameters.`x-amz-acl`}", "{{", "}}")


@functools.cache
def _summaries() -> st.SearchStrategy[n.Text]:
    part = st.one_of(st.sampled_from(_PLACEHOLDERS), st.sampled_from((" called ", " by ", "é", "")))
    return st.builds(lambda ps: n.Text("".join(ps)), st.lists(part, min_size=1, max_size=5))


@functools.cache
def _examples(routes: tuple[str, ...]) -> st.SearchStrategy[n.Example]:
    return st.builds(
        n.Example,
        strings(),
        st.booleans(),
        records() | st.lists(records(), min_size=1, max_size=3),  # a list: an extension
        st.one_of(st.none(), st.lists(st.sampled_from(routes), max_size=2).map(tuple)),
    )


def _names(prefix: str, count: int) -> list[str]:
    # Fixed names keep the set of distinct expression strategies small enough to cache.
    return [f"{prefix}{i}" for i in range(count)]


_SMALL = st.integers(0, 3)
_OPTIONAL_TEXT = st.none() | _texts()
_SEVERITY = st.sampled_from(SEVERITY_NAMES)
_EXPIRES = st.none() | st.sampled_from(("2027-06-30", "2020-01-01")).map(n.Text)


@functools.cache
def _group_by() -> st.SearchStrategy[tuple[n.Path, ...] | None]:
    return st.none() | st.lists(paths(anchors=("rel",)), max_size=2).map(tuple)


# Valid state clauses only (the generated rule sets must check clean): windows and thresholds in
# range, at least two sequence steps, no path twice (CTR030-CTR033).
_WINDOWS = st.one_of(st.builds(lambda k: n.Duration(k, f"{k}s"), st.integers(1, 3600)),
                     st.builds(lambda k: n.Duration(60 * k, f"{k}m"), st.integers(1, 1440)),
                     st.builds(lambda k: n.Duration(3600 * k, f"{k}h"), st.integers(1, 24)),
                     st.just(n.Duration(86400, "1d")))
_LOOKBACKS = st.one_of(st.builds(lambda k: n.Duration(3600 * k, f"{k}h"), st.integers(1, 48)),
                       st.builds(lambda k: n.Duration(86400 * k, f"{k}d"), st.integers(1, 400)))


def _distinct_paths(items: tuple[n.Path, ...]) -> bool:
    return len({(p.anchor, p.segments) for p in items}) == len(items)


@functools.cache
def _stateful(macros: tuple[str, ...], lists: tuple[str, ...],
              depth: int) -> st.SearchStrategy[n.Stateful | None]:
    """A state clause (ctrules extension), absent most of the time."""
    key = st.lists(paths(anchors=("rel",)), max_size=2).map(tuple).filter(_distinct_paths)
    value = paths(anchors=("rel",))
    threshold = st.integers(1, 1000)
    steps = st.lists(exprs(depth, macros=macros, lists=lists), min_size=2, max_size=3).map(tuple)
    clause = st.one_of(
        st.builds(lambda k, w, t: n.Stateful("count", k, w, threshold=t), key, _WINDOWS,
                  threshold),
        st.builds(lambda v, k, w, t: n.Stateful("distinct", k, w, threshold=t, value=v), value,
                  key, _WINDOWS, threshold),
        st.builds(lambda v, k, w: n.Stateful("first_seen", k, w, value=v), st.none() | value,
                  key, _LOOKBACKS),
        st.builds(lambda k, w, s: n.Stateful("sequence", k, w, steps=s), key,
                  _WINDOWS.filter(lambda w: w.seconds <= 3600), steps),
    ).filter(lambda c: _distinct_paths(c.key + ((c.value,) if c.value is not None else ())))
    return st.none() | st.none() | clause


@functools.cache
def _rule_decl(
    name: str, macros: tuple[str, ...], lists: tuple[str, ...], routes: tuple[str, ...], depth: int
) -> st.SearchStrategy[n.RuleDecl]:
    @st.composite
    def build(draw: st.DrawFn) -> n.RuleDecl:
        severity = draw(_SEVERITY)
        return n.RuleDecl(
            name=name,
            when=draw(exprs(depth, macros=macros, lists=lists)),
            severity=severity,
            description=draw(_OPTIONAL_TEXT),
            summary=draw(st.none() | _summaries()),
            tags=tuple(draw(st.lists(strings(), max_size=3))),
            enabled=draw(st.booleans()),
            group_by=draw(_group_by()),
            examples=tuple(draw(st.lists(_examples(routes), max_size=2))),
            severity_given=severity != "medium" or draw(st.booleans()),
            stateful=draw(_stateful(macros, lists, depth)),
        )

    return build()


@functools.cache
def _ignore_decl(
    name: str, macros: tuple[str, ...], lists: tuple[str, ...], rules: tuple[str, ...], depth: int
) -> st.SearchStrategy[n.IgnoreDecl]:
    covered = (
        st.none() | st.lists(st.sampled_from(rules), max_size=2).map(tuple) if rules else st.none()
    )
    return st.builds(
        n.IgnoreDecl,
        name=st.just(name),
        when=exprs(depth, macros=macros, lists=lists),
        reason=_texts(),
        owner=_OPTIONAL_TEXT,
        expires=_EXPIRES,
        rules=covered,
    )


@functools.cache
def _route_decl(
    name: str, macros: tuple[str, ...], lists: tuple[str, ...], depth: int
) -> st.SearchStrategy[n.RouteDecl]:
    @st.composite
    def build(draw: st.DrawFn) -> n.RouteDecl:
        to = tuple(draw(st.lists(st.sampled_from(DESTINATIONS), min_size=1, max_size=3)))
        return n.RouteDecl(
            name=name,
            when=draw(exprs(depth, macros=macros, lists=lists, route=True)),
            to=to,
            to_is_list=len(to) != 1 or draw(st.booleans()),
        )

    return build()


@st.composite
def rule_files(draw: st.DrawFn, max_decls: int = 3, max_depth: int = 2) -> n.RuleFile:
    """A whole file: lists, macros (each may use the ones before it), rules with every property
    and examples, ignores and routes. Declarations come out in a random order."""
    size = st.integers(0, max_decls)
    lists = tuple(_names("l_", draw(size)))
    macros = tuple(_names("m_", draw(size)))
    rules = tuple(_names("r_", draw(size)))
    ignores = _names("i_", draw(size))
    routes = tuple(_names("rt_", draw(st.integers(0, 2))))

    decls: list[n.Decl] = [n.ListDecl(name, draw(list_lits())) for name in lists]
    for i, name in enumerate(macros):
        decls.append(n.MacroDecl(name, draw(exprs(max_depth, macros=macros[:i], lists=lists))))
    for name in rules:
        decls.append(draw(_rule_decl(name, macros, lists, routes or DESTINATIONS, max_depth)))
    for name in ignores:
        decls.append(draw(_ignore_decl(name, macros, lists, rules, max_depth)))
    for name in routes:
        decls.append(draw(_route_decl(name, macros, lists, max_depth)))
    order = draw(st.permutations(range(len(decls))))
    return n.RuleFile("generated.ctr", tuple(decls[i] for i in order))


# ---- comparing ASTs --------------------------------------------------------------------------


def ast_key(value: Any) -> Any:
    """A structural key of an AST (or any value in one) that keeps value types apart, so that
    `x == true`, `x == 1` and `x == 1.0` give different keys. Spans and other fields that are
    excluded from node equality are excluded here too."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if isinstance(value, n.RuleFile):
            return ("RuleFile", ast_key(value.decls))
        return (
            type(value).__name__,
            tuple(
                (f.name, ast_key(getattr(value, f.name)))
                for f in dataclasses.fields(value)
                if f.compare
            ),
        )
    if isinstance(value, dict):
        return ("dict", tuple((k, ast_key(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(ast_key(v) for v in value))
    if isinstance(value, float):
        return ("float", repr(value))
    return (type(value).__name__, value)
