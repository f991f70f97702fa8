"""Pipeline stage 3 (checks) — the code table: every finding's stable code, name, severity and doc.

Codes never change meaning; new checks get new codes. Each is documented with an example and its
fix in docs/diagnostics.md (a test keeps the two in step).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .. import nodes as n
from ..diagnostics import Diagnostic, Level

MAX_DEPTH = 100
"""How deeply a `when` may nest (and/or/not/any/all, macros expanded). Real rules stay under 20;
the limit keeps every later stage (compiler, explain) far from Python's recursion limit."""

MAX_EXPANDED_NODES = 100_000
"""How many nodes (conditions, junctions, operands) a `when` may have with its macros expanded.
A macro used twice counts twice: that is what evaluation and explain walk, so a chain such as
`m0 = m1 and m1`, `m1 = m2 and m2`, ... doubles per level. The default pack's largest rule has
a few hundred; 100,000 keeps loading and evaluating any accepted rule set bounded."""


@dataclass(frozen=True)
class CodeInfo:
    name: str
    severity: Level
    doc: str


CODES: Mapping[str, CodeInfo] = {
    # reported by the parser (ctrules/parser.py)
    "CTR001": CodeInfo("syntax-error", "error", "The text is not valid .ctr (or not UTF-8)."),
    "CTR003": CodeInfo("duplicate-property", "error", "A property is given twice in one block."),
    "CTR004": CodeInfo("missing-property", "error",
                       "A rule/ignore/route has no `when`, an ignore no `reason`, a route no "
                       "`to`."),
    "CTR006": CodeInfo("invalid-value", "error",
                       "A property or string has a value it cannot take (e.g. an unknown "
                       "severity, a lone surrogate)."),
    "CTR012": CodeInfo("unknown-function", "error",
                       "A call to a function that does not exist (only lower, upper, len, cidr)."),
    "CTR013": CodeInfo("bad-call", "error", "A function called with the wrong arguments."),
    # reported here
    "CTR002": CodeInfo("duplicate-name", "error",
                       "A name is declared twice in the rule set (all files share one namespace)."),
    "CTR005": CodeInfo("reserved-name", "error",
                       "A list or macro is named like a top-level CloudTrail field."),
    "CTR007": CodeInfo("it-outside-quantifier", "error",
                       "`it` is used outside any/all, where there is no current element."),
    "CTR008": CodeInfo("rule-field-outside-route", "error",
                       "`rule.…` is used outside a route `when` (it describes the alert's rule)."),
    "CTR009": CodeInfo("unknown-rule-field", "error",
                       "A route uses `rule.X` other than rule.name, rule.severity, rule.tags."),
    "CTR010": CodeInfo("undefined-name", "error",
                       "A bare-name condition that is not a macro, or an unknown rule in `rules`."),
    "CTR011": CodeInfo("recursive-macro", "error", "Macros refer to each other in a cycle."),
    "CTR014": CodeInfo("invalid-regex", "error", "A `matches` pattern that RE2 rejects."),
    "CTR015": CodeInfo("invalid-cidr", "error", "A cidr(...) argument that is not a network."),
    "CTR016": CodeInfo("invalid-template", "error",
                       "A summary placeholder that is not a field path, or a lone/empty brace."),
    "CTR017": CodeInfo("expired-ignore", "error", "An ignore whose `expires` date has passed."),
    "CTR018": CodeInfo("invalid-date", "error", "`expires` is not an ISO date YYYY-MM-DD."),
    "CTR019": CodeInfo("wrong-kind-of-name", "error",
                       "A name is used as the wrong kind: a list as a condition, a macro as a "
                       "list or value, a non-rule in an ignore's `rules`."),
    "CTR020": CodeInfo("invalid-group-by", "error",
                       "A group_by entry that is not a path of the event."),
    "CTR021": CodeInfo("too-deep", "error",
                       f"A condition nests more than {MAX_DEPTH} levels (macros expanded), or "
                       "a file nests too deeply to parse."),
    "CTR022": CodeInfo("too-large", "error",
                       f"A condition with more than {MAX_EXPANDED_NODES:,} nodes (macros "
                       "expanded), a string or number literal over the size limit, or a glob "
                       "too large to compile."),
    "CTR023": CodeInfo("bidi-control", "error",
                       "A bidirectional control character (U+202A-U+202E, U+2066-U+2069), "
                       "which can make a rule display differently from what it means."),
    "CTR101": CodeInfo("type-mismatch", "warning",
                       "A known field or function result compared with a literal of another "
                       "type (always false)."),
    "CTR102": CodeInfo("quoted-path", "warning",
                       "A string literal that looks like a field path on the right of a "
                       "comparison."),
    "CTR103": CodeInfo("unowned-ignore", "warning", "An ignore without an `owner`."),
    "CTR104": CodeInfo("missing-examples", "warning",
                       "A rule without at least one `match` and one `no match` example."),
    "CTR105": CodeInfo("never-matches", "warning", "A `when` that can never be true."),
    "CTR106": CodeInfo("always-matches", "warning",
                       "A rule or ignore `when` that is true for every event."),
    "CTR107": CodeInfo("unknown-event-name", "warning",
                       "An eventName no AWS service emits, or an unknown eventSource "
                       "(ctrules.checks.cloudtrail)."),
    "CTR108": CodeInfo("event-source-mismatch", "warning",
                       "An eventName that the eventSource the same rule requires never emits "
                       "(ctrules.checks.cloudtrail)."),
    "CTR109": CodeInfo("undeclared-list", "warning",
                       "`in NAME` where NAME is no declared list (it is read as a field)."),
    "CTR110": CodeInfo("self-comparison", "warning", "A comparison of a value with itself."),
    "CTR111": CodeInfo("unknown-rule-name", "warning",
                       "A route compares rule.name with a name no rule has."),
    "CTR112": CodeInfo("not-a-severity", "warning",
                       "A route compares rule.severity with something that is not a severity."),
    "CTR113": CodeInfo("dead-condition", "warning",
                       "One condition is the same for every event (e.g. lower(x) == \"Admin\", "
                       "x in []), though the `when` around it is not."),
    # schema-aware lint (ctrules.checks.schema_lint, on the schema in ctrules.schema)
    "CTR114": CodeInfo("unknown-field", "warning",
                       "A path CloudTrail records never have (a misspelt field, or a "
                       "requestParameters key the rule's events do not have)."),
    "CTR115": CodeInfo("unknown-placeholder", "warning",
                       "A summary placeholder naming a field CloudTrail records never have."),
    "CTR116": CodeInfo("field-name-as-value", "warning",
                       'A CloudTrail field compared with a string that is a field name '
                       '(eventName == "eventSource").'),
    # stateful rules (ctrules.checks_stateful)
    "CTR030": CodeInfo("invalid-window", "error",
                       "A stateful rule's window is out of range (ctrules.checks_stateful)."),
    "CTR031": CodeInfo("invalid-threshold", "error",
                       "A count/distinct threshold out of 1..1000 (ctrules.checks_stateful)."),
    "CTR032": CodeInfo("invalid-state-path", "error",
                       "A stateful key or value that is not a plain event path, or is given "
                       "twice (ctrules.checks_stateful)."),
    "CTR033": CodeInfo("short-sequence", "error",
                       "A sequence with fewer than two or more than four steps "
                       "(ctrules.checks_stateful)."),
    "CTR120": CodeInfo("example-without-time", "warning",
                       "A stateful rule's example record has no usable eventTime "
                       "(ctrules.checks_stateful)."),
}


def diag(code: str, span: n.Span, message: str, hint: str | None = None) -> Diagnostic:
    return Diagnostic(code, CODES[code].severity, message, span, hint)
