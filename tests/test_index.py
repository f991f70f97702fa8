"""The field index (ctrules/index.py) changes which rules are *tried*, never which alerts come out.

Differential: the same rule set with and without the index gives identical alerts (rule, order,
summary, group key, ignored_by) on every corpus record and on generated rule sets and events that
put the indexed values where the language's array and type rules make them tricky — as scalars,
inside arrays and arrays of objects, as other JSON types, in other letter cases. The compiled
rule set itself is checked against the reference interpreter in test_engine_properties.py; here
the index is additionally checked against tests/reference.py directly.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ctrules.index as index
from ctrules import nodes as n
from ctrules.parser import parse
from ctrules.ruleset import RuleSet, default_rule_files, default_rules_path
from tests.reference import Reference

CORPUS = Path("../shared/corpus")


@pytest.fixture(autouse=True)
def index_every_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    # Index every dispatch entry, however small, so the tables are exercised on every rule set.
    monkeypatch.setattr(index, "MIN_RULES", 1)


def _alerts(rs: RuleSet, record: Any) -> list[tuple[Any, ...]]:
    return [(a.rule, a.summary, a.group_key, a.ignored_by, a.severity)
            for a in rs.evaluate(record)]


def _pair(files: list[n.RuleFile]) -> tuple[RuleSet, RuleSet]:
    return RuleSet(files, use_index=True), RuleSet(files, use_index=False)


def _parse(text: str) -> n.RuleFile:
    result = parse(text, "gen.ctr")
    assert not result.diagnostics, result.diagnostics
    return result.file


def corpus_records() -> Iterator[Any]:
    for path in sorted(CORPUS.glob("**/*.jsonl")):
        for line in path.read_text().splitlines():
            if line.strip():
                value = json.loads(line)
                yield value.get("event", value) if "test_name" in value else value
    for path in sorted(Path("tests/events").glob("*.json")):
        value = json.loads(path.read_text())
        if isinstance(value, dict) and isinstance(value.get("Records"), list):
            yield from value["Records"]
    for path in sorted((default_rules_path() / "samples").glob("*.json")):
        value = json.loads(path.read_text())
        yield from value.get("Records", []) if isinstance(value, dict) else []


def _rule_files(paths: list[Path]) -> list[n.RuleFile]:
    return [_parse(p.read_text()) for p in paths]


def _generated(count: int) -> list[n.RuleFile]:
    from bench import rulegen

    return [_parse("\n".join(r.ctr for r in rulegen.generate_rules(count)))]


RULE_SETS = {
    "default": lambda: _rule_files(default_rule_files()),
    "compat": lambda: _rule_files(sorted((default_rules_path() / "compat").glob("*.ctr"))),
    "generated-1000": lambda: _generated(1000),
}


@pytest.mark.parametrize("name", sorted(RULE_SETS))
def test_index_changes_no_alert_on_the_corpora(name: str) -> None:
    with_index, without = _pair(RULE_SETS[name]())
    records = list(corpus_records())
    assert len(records) > 2900
    fired = 0
    for record in records:
        expected = _alerts(without, record)
        assert _alerts(with_index, record) == expected, record.get("eventID")
        fired += len(expected)
    assert fired > 0  # the comparison saw alerts, not only silence


def test_generated_rules_use_the_index() -> None:
    with_index, _ = _pair(_generated(200))
    record = {"eventSource": "s3.amazonaws.com", "eventName": "GetObject",
              "userIdentity": {"type": "AssumedRole"}, "sourceIPAddress": "10.0.0.1"}
    tried = with_index.candidates_for(record)
    anywhere = [r.name for r in with_index.rules if "_any_" in r.name]
    assert len(anywhere) == 40
    assert len(tried) < len(anywhere) / 4, tried  # the index kept most of them out


# ---- generated rule sets and events ----------------------------------------------------------

PATHS = ["userIdentity.userName", "sourceIPAddress", "resources.ARN", "resources.0.ARN",
         "event.userAgent"]
VALUES = ["alice", "Prod-data", "10.1.2.3", "2001:db8::1", "::ffff:10.1.2.3", "", "\u212a"]


def _q(s: str) -> str:
    return json.dumps(s)


# A few paths and values per example, used by its rules and its events alike (weighted against
# the full lists): a rule's literal usually meets its value, in another case or shape.
_PATH_PALETTE = st.shared(st.lists(st.sampled_from(PATHS), min_size=1, max_size=2, unique=True),
                          key="paths")
_VALUE_PALETTE = st.shared(st.lists(st.sampled_from(VALUES), min_size=1, max_size=2,
                                    unique=True), key="values")


def _path(draw: st.DrawFn) -> str:
    return draw(st.sampled_from(draw(_PATH_PALETTE) * 4 + PATHS))


def _value(draw: st.DrawFn) -> str:
    return draw(st.sampled_from(draw(_VALUE_PALETTE) * 4 + VALUES))


@st.composite
def conditions(draw: st.DrawFn, depth: int = 0) -> str:
    if depth < 2 and draw(st.integers(0, 3)) == 0:
        parts = draw(st.lists(conditions(depth + 1), min_size=2, max_size=3))
        op = draw(st.sampled_from([" and ", " or "]))
        return "(" + op.join(parts) + ")"
    path = _path(draw)
    subject = draw(st.sampled_from([path, f"lower({path})", f"upper({path})",
                                    f"upper(lower({path}))"]))
    value = _value(draw)
    values = [_value(draw) for _ in range(draw(st.integers(1, 3)))]
    shape = draw(st.integers(0, 13))
    if shape == 0:
        return f"{subject} == {_q(value)}"
    if shape == 1:
        return f"{subject} in [{', '.join(map(_q, values))}]"
    if shape == 2:
        return f"{subject} startswith {_q(value[:3])}"
    if shape == 3:
        return f"{subject} endswith [{', '.join(_q(v[-2:]) for v in values)}]"
    if shape == 4:
        pattern = draw(st.sampled_from(["^a", "(?i)prod", "\\.3$", "^$", "x|y", "[0-9]+"]))
        return f"{subject} matches {_q(pattern)}"
    if shape == 5:
        nets = draw(st.lists(st.sampled_from(["10.0.0.0/8", "10.1.2.0/24", "0.0.0.0/0",
                                              "2001:db8::/32", "10.1.2.3/32", "::ffff:0:0/96"]),
                             min_size=1, max_size=2))
        return f"{path} in cidr({', '.join(map(_q, nets))})"
    if shape == 6:
        return f"{path.removeprefix('event.')} exists"
    if shape == 7:
        return f"not {subject} == {_q(value)}"
    if shape == 8:
        return f"{subject} == {draw(st.sampled_from(['1', 'true', 'null', '1.0']))}"
    if shape == 9:
        return f"{subject} in [{_q(value)}, 1, true]"
    if shape == 10:
        return f"any resources (ARN == {_q(value)})"
    if shape == 11:
        return f"eventName == {_q(value)} or {subject} == {_q(value)}"
    if shape == 12:
        # A condition on a shared path that only the "alice" entry registers, maybe after
        # another entry's records filled what the path's lookup remembers.
        return f'eventName == "alice" and {subject} startswith {_q(value[:2])}'
    # errorCode splits dispatch entries by its value (second level): more entries
    return f'errorCode == "AccessDenied" and {subject} endswith {_q(value[-2:])}'


def _scalar_or_not(draw: st.DrawFn) -> Any:
    value = _value(draw)
    return draw(st.sampled_from([
        value, value, value.upper(), value.lower(), value.title(), [value], ["x", [value.upper()]],
        [{"ARN": value}],
        1, True, None, {"value": value}, [], [1, value, None],
    ]))


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    record: dict[str, Any] = {"eventSource": "s3.amazonaws.com",
                              "eventName": draw(st.sampled_from(["GetObject", "alice"]))}
    if draw(st.booleans()):  # another dispatch entry (second level), sharing the lookups
        record["errorCode"] = draw(st.sampled_from(["AccessDenied", "alice"]))
    for path in [_path(draw) for _ in range(draw(st.integers(0, 8)))]:
        segments = path.removeprefix("event.").split(".")
        target = record
        for seg in segments[:-1]:
            if seg == "0":
                break
            nxt = target.get(seg)
            if not isinstance(nxt, dict):
                nxt = {} if draw(st.booleans()) or seg != "resources" else nxt
                if not isinstance(nxt, dict):
                    nxt = {}
                target[seg] = nxt
            target = nxt
        else:
            target[segments[-1]] = _scalar_or_not(draw)
            continue
        record["resources"] = [{"ARN": _scalar_or_not(draw)}, {"ARN": _scalar_or_not(draw)}]
    if draw(st.booleans()):
        record["resources"] = draw(st.sampled_from([
            [{"ARN": "alice"}, {"ARN": ["prod-data"]}], {"ARN": "ALICE"}, [[{"ARN": "10.1.2.3"}]],
            "alice"]))
    return record


@st.composite
def rule_texts(draw: st.DrawFn) -> str:
    rules = []
    for i, cond in enumerate(draw(st.lists(conditions(), min_size=1, max_size=12))):
        rules.append(f"rule r{i} {{\n    summary \"{{userIdentity.userName}} {i}\"\n"
                     f"    when {cond}\n}}\n")
    if draw(st.booleans()):
        rules.append('ignore quiet {\n    reason "r"\n    owner "o"\n'
                     '    when userIdentity.userName == "alice"\n}\n')
    return "\n".join(rules)


_OTHER_NAME = {"GetObject": "alice", "alice": "GetObject"}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_texts(), st.lists(events(), min_size=1, max_size=6))
def test_index_agrees_with_no_index_and_the_reference(text: str, records: list[Any]) -> None:
    rule_file = _parse(text)
    with_index, without = _pair([rule_file])
    lists = {d.name: d.items.values() for d in rule_file.decls if isinstance(d, n.ListDecl)}
    ref = Reference(lists, {})
    rules = [d for d in rule_file.decls if isinstance(d, n.RuleDecl)]
    # Each record also under the other event name (the same values in another dispatch entry,
    # which may register conditions on paths whose lookups remember them), then all again.
    records = [r for record in records
               for r in (record, {**record, "eventName": _OTHER_NAME[record["eventName"]]})]
    for record in records + records[::-1]:
        got = _alerts(with_index, record)
        assert got == _alerts(without, record)
        assert [a[0] for a in got] == [r.name for r in rules
                                       if r.when is not None and ref.holds(r.when, record)]


def test_a_regex_set_that_cannot_answer_tries_every_regex_rule() -> None:
    # RE2::Set reports "no match" when it runs out of memory; without the sentinel that would
    # silently drop every regex rule. A set whose Match always fails must select them all.
    table = index._RegexSet(["^a", "b$"])
    table.set = None
    assert table.match("ab") is None
    rule_file = _parse('rule r {\n    when userAgent matches "^a"\n}\n'
                       'rule s {\n    when userAgent matches "zz"\n}\n')
    rs = RuleSet([rule_file])
    entry = rs._indexed(tuple((r, r.pred) for r in rs._rules))
    assert isinstance(entry, index.Indexed)
    assert [r.info.name for r, _ in entry.select({"userAgent": "abc"})] == ["r"]
    lookup = rs._regex_sets[index._BOOK].paths[("userAgent",)]
    keys = lookup.strings[()]
    assert keys.regex is not None
    keys.regex.set = None
    lookup.memo.clear()  # what it remembered was answered by the working set
    assert [r.info.name for r, _ in entry.select({"userAgent": "abc"})] == ["r", "s"]


@pytest.mark.parametrize(("text", "expected"), [
    ('x == "a"', "Eq"), ('lower(x) in ["a", "b"]', "Eq"), ('x startswith "a"', "Affix"),
    ('x matches "a"', "Regex"), ('x in cidr("10.0.0.0/8")', "Cidr"), ("x exists", "Present"),
    ('x == "a" or y == "b"', "AnyOf"), ('eventName == "X" and x == "a"', "Eq"),
    ('x == "a" or y != "b"', None), ("not x exists", None), ('x in ["a", 1]', None),
    ('eventName == "X"', None), ('any r (x == "a")', None), ("x == 1", None),
    ('x contains "a"', None), ('x glob "a*"', None),
])
def test_necessary_conditions(text: str, expected: str | None) -> None:
    rule = _parse(f"rule r {{\n    when {text}\n}}\n").decls[0]
    assert isinstance(rule, n.RuleDecl) and rule.when is not None
    cond = index.necessary(rule.when, {}, {})
    assert (type(cond).__name__ if cond is not None else None) == expected


def test_an_unknown_node_type_has_no_index_condition() -> None:
    class Wrapper:  # what a later AST pass may add around a macro use
        pass

    assert index.necessary(Wrapper(), {}, {}) is None  # type: ignore[arg-type]


def test_rules_using_macros_and_lists_stay_indexed() -> None:
    # The rule set indexes the bound tree: a macro use (MacroUse) is indexed through its body,
    # a declared list's name (ListRef) by the list's values.
    text = ('list admins = ["alice", "bob"]\n'
            'macro by_admin = userIdentity.userName in admins\n'
            'macro from_ci = userAgent startswith "ci/"\n'
            'rule r {\n    when by_admin and from_ci\n}\n'
            'rule s {\n    when sourceIPAddress == admins or from_ci\n}\n'
            'rule t {\n    when by_admin or userIdentity.userName in admins\n}\n')
    rs = RuleSet([_parse(text)])
    needs = {rule.info.name: rule.needs for rule in rs._rules}
    assert needs["r"] == index.Eq((("userIdentity", "userName"), ()), frozenset({"alice", "bob"}))
    assert needs["s"] is None  # `== admins` compares with the whole list: not a lookup
    assert needs["t"] == index.AnyOf((needs["r"], needs["r"]))
    entry = rs._indexed(tuple((r, r.pred) for r in rs._rules))
    assert isinstance(entry, index.Indexed)
    hit = {"userIdentity": {"userName": "bob"}, "userAgent": "ci/1"}
    assert [r.info.name for r, _ in entry.select(hit)] == ["r", "s", "t"]
    miss = {"userIdentity": {"userName": "eve"}, "userAgent": "ci/1"}
    assert [r.info.name for r, _ in entry.select(miss)] == ["s"]
    assert [a.rule for a in rs.evaluate(hit)] == ["r", "s", "t"]


# ---- the shared lookups and what they remember -----------------------------------------------

# Values that a memory keyed carelessly would confuse: 1 / True / "1", a string and the same
# string in an array (equal answers), other cases, nulls, objects, and very long strings.
TRICKY = ["1", 1, True, 1.0, None, "a", ["a"], [["A"]], "A", {"a": "a"}, [], [1, "1"],
          [None, "a"], "10.1.2.3", ["10.1.2.3"], "ab" * 400, ("ab" * 400).upper(), "", "\u212a"]

TRICKY_RULES = """
rule eq_1 {
    when x == "1"
}
rule eq_a {
    when x in ["a", "zz"]
}
rule lower_a {
    when lower(x) == "a"
}
rule upper_k {
    when upper(x) == "K"
}
rule prefix_ab {
    when x startswith "ab"
}
rule suffix_b {
    when lower(x) endswith ["ab", "b"]
}
rule regex_a {
    when x matches "^(?i)a"
}
rule net {
    when x in cidr("10.0.0.0/8")
}
rule has_x {
    when x exists
}
rule eq_1_or_y {
    when x == "1" or y.z == "a"
}
rule nested {
    when y.z startswith "a"
}
"""


def _tricky_records() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for value in TRICKY:
        out.append({"eventName": "E", "x": value})
        out.append({"eventName": "E", "y": {"z": value}})
        out.append({"eventName": "F", "x": value, "y": [{"z": value}, {"z": "b"}]})
        out.append({"eventName": "E", "y": value})
    return out


@settings(max_examples=60, deadline=None)
@given(st.permutations(_tricky_records()))
def test_remembered_answers_never_mix_types_or_shapes(records: list[dict[str, Any]]) -> None:
    # One rule set sees every record twice, in any order: each answer it remembers from one
    # value must be the one the unindexed rule set gives for the next.
    with_index, without = _pair([_parse(TRICKY_RULES)])
    fired = 0
    for record in records + records:
        expected = _alerts(without, record)
        assert _alerts(with_index, record) == expected, record
        fired += len(expected)
    assert fired > 0


def test_remembered_answers_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    # Hostile input: every record a new user agent. The memory starts again when full and
    # never remembers a long string; answers stay those of a fresh lookup.
    monkeypatch.setattr(index, "_MEMO_LIMIT", 3)
    text = ('rule curl {\n    when userAgent matches "^curl/"\n}\n'
            'rule nikto {\n    when userAgent matches "(?i)nikto"\n}\n'
            'rule ci {\n    when userAgent startswith "ci/"\n}\n')
    with_index, without = _pair([_parse(text)])
    agents = [f"curl/{i}" for i in range(10)] + ["Nikto", "x" * 600 + "nikto", "ci/1"] * 3
    for agent in agents:
        record = {"userAgent": agent}
        assert _alerts(with_index, record) == _alerts(without, record)
        memo = with_index._regex_sets[index._BOOK].paths[("userAgent",)].memo
        assert len(memo) <= 3
        assert all(len(k) <= index._MEMO_MAX_LEN for k in memo)


def test_entries_share_lookups_and_a_new_condition_refreshes_them() -> None:
    # Two dispatch entries (eventName A and B) share the lookup on `x`. B registers a condition
    # A's records already filled the memory for: later answers must include it, and each entry
    # still selects only its own rules.
    text = ('rule a1 {\n    when eventName == "A" and x == "v"\n}\n'
            'rule any1 {\n    when x startswith "v"\n}\n'
            'rule b1 {\n    when eventName == "B" and x == "v"\n}\n'
            'rule b2 {\n    when eventName == "B" and x endswith "v"\n}\n')
    rs = RuleSet([_parse(text)])
    assert [a.rule for a in rs.evaluate({"eventName": "A", "x": "v"})] == ["a1", "any1"]
    book = rs._regex_sets[index._BOOK]
    assert "v" in book.paths[("x",)].memo
    assert [a.rule for a in rs.evaluate({"eventName": "B", "x": "v"})] == ["any1", "b1", "b2"]
    assert [a.rule for a in rs.evaluate({"eventName": "A", "x": "v"})] == ["a1", "any1"]
    assert [a.rule for a in rs.evaluate({"eventName": "B", "x": "wv"})] == ["b2"]
    assert len(book.paths) == 1  # one lookup on `x` for both entries


def test_a_pattern_re2_refuses_is_tested_rule_by_rule() -> None:
    # The compiler rejects such patterns (CTR014), so only a direct build reaches this: a
    # condition with a pattern RE2's set refuses cannot be looked up, its rule is tried on every
    # record, and the other rules stay indexed.
    ua: index.Key = (("userAgent",), ())
    bad = index.AnyOf((index.Regex(ua, "["), index.Eq((("userName",), ()), frozenset({"u"}))))
    conds = [bad, index.Regex(ua, "^a"), index.Eq(ua, frozenset({"zzz"}))]
    candidates = tuple((name, None) for name in ("bad", "good", "eq"))
    entry = index.Indexed(candidates, conds, {})
    assert entry.residual_only == (("bad", None),)
    assert [c for c, _ in entry.select({"userAgent": "abc"})] == ["bad", "good"]
    assert [c for c, _ in entry.select({"userAgent": "zzz"})] == ["bad", "eq"]
    assert [c for c, _ in entry.select({"userAgent": ["zzz", "a"]})] == ["bad", "good", "eq"]


def test_an_answer_worked_out_during_another_entrys_registration_is_not_kept(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Workers evaluate one rule set in parallel (the SQS worker). Thread 1 works out what "v"
    # may satisfy and is held just before storing it; meanwhile thread 2 builds entry B, which
    # adds a condition on the same path. The answer thread 1 stores must not lack it.
    import threading

    text = ('rule any1 {\n    when x startswith "v"\n}\n'
            'rule b1 {\n    when eventName == "B" and x == "v"\n}\n')
    rs = RuleSet([_parse(text)])
    assert [a.rule for a in rs.evaluate({"eventName": "A", "x": "w"})] == []  # entry A
    inside, go = threading.Event(), threading.Event()
    real_bits = index._StringKeys.bits

    def held_bits(self: Any, v: str) -> int:
        m: int = real_bits(self, v)  # worked out from the tables as they are now
        if v == "v" and threading.current_thread().name == "one":
            inside.set()
            go.wait(5)
        return m

    monkeypatch.setattr(index._StringKeys, "bits", held_bits)
    one = threading.Thread(target=rs.evaluate, args=({"eventName": "A", "x": "v"},), name="one")
    two = threading.Thread(target=rs.evaluate, args=({"eventName": "B", "x": "z"},), name="two")
    one.start()
    assert inside.wait(5)
    two.start()
    two.join(0.3)  # without the lock it registers b1's condition now, before thread 1 stores
    go.set()
    one.join(5)
    two.join(5)
    assert [a.rule for a in rs.evaluate({"eventName": "B", "x": "v"})] == ["any1", "b1"]
