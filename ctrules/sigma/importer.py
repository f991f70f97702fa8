"""Sigma import — files of Sigma YAML → one `.ctr` rule file per Sigma rule, or a reason.

`Sigma YAML → pySigma rule → pipeline → backend (AST) → examples → **importer** (formatter,
check) → .ctr text`. The importer reads and parses the files with pySigma (never its own YAML
handling of detections), runs the CloudTrail pipeline and the backend on each rule, adds the
rule's metadata (severity from `level`, ATT&CK `tags`, description; title, id, author,
references, dates and false positives as comments), generates the examples, prints the rule
with ctrules' formatter and runs `ctrules check` on the result. A correlation rule becomes a
stateful rule over its referenced rules' detections (`correlation.py`), whose list examples the
stateful engine must confirm too. A rule that fails anywhere is reported with the reason and
produces no output at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationCondition, SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from .. import nodes as n
from ..checks import check_sources
from ..compiler import Scope, compile_expr
from ..formatter import format_file, format_text
from ..parser import parse
from ..ruleset import RuleSet
from . import correlation
from .backend import CtrBackend
from .examples import Generated, generate
from .pipeline import cloudtrail_pipeline

MAX_FILE_BYTES = 1 << 20  # a Sigma rule is a few KB; anything this big is not one

SEVERITY = {
    "informational": "info",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "critical": "critical",
}

# pySigma's error classes name the part of the rule that is wrong; the report says it as the
# YAML field so the author knows where to look.
_ERROR_FIELDS = {
    "SigmaTitleError": "title",
    "SigmaIdentifierError": "id",
    "SigmaRelatedError": "related",
    "SigmaStatusError": "status",
    "SigmaDescriptionError": "description",
    "SigmaReferencesError": "references",
    "SigmaAuthorError": "author",
    "SigmaDateError": "date",
    "SigmaModifiedError": "modified",
    "SigmaLogsourceError": "logsource",
    "SigmaDetectionError": "detection",
    "SigmaConditionError": "detection.condition",
    "SigmaModifierError": "detection (modifier)",
    "SigmaRegularExpressionError": "detection (re)",
    "SigmaTypeError": "detection (value)",
    "SigmaValueError": "detection (value)",
    "SigmaFieldsError": "fields",
    "SigmaFalsePositivesError": "falsepositives",
    "SigmaLevelError": "level",
    "SigmaTagError": "tags",
    "SigmaLicenseError": "license",
    "SigmaScopeError": "scope",
    "SigmaTimespanError": "correlation.timespan",
    "SigmaCorrelationRuleError": "correlation",
    "SigmaCorrelationTypeError": "correlation.type",
    "SigmaCorrelationConditionError": "correlation.condition",
    "SigmaCollectionError": "action",
}


@dataclass(frozen=True)
class Imported:
    """One Sigma rule's outcome: `text` when translated, else `reason`."""

    source: str
    title: str
    name: str | None = None
    text: str | None = None
    reason: str | None = None

    @property
    def translated(self) -> bool:
        return self.text is not None


@dataclass
class ImportReport:
    results: list[Imported] = field(default_factory=list)

    @property
    def translated(self) -> list[Imported]:
        return [r for r in self.results if r.translated]

    @property
    def untranslated(self) -> list[Imported]:
        return [r for r in self.results if not r.translated]


def sigma_files(paths: Sequence[str | Path]) -> Iterator[Path]:
    """The `.yml`/`.yaml` files named or found (recursively, sorted) under `paths`."""
    for p in map(Path, paths):
        if p.is_dir():
            yield from sorted(
                f for f in p.rglob("*") if f.suffix in (".yml", ".yaml") and f.is_file()
            )
        else:
            yield p


def import_paths(paths: Sequence[str | Path]) -> ImportReport:
    report = ImportReport()
    loaded: list[tuple[str, SigmaRule | SigmaCorrelationRule]] = []
    for path in sigma_files(paths):
        loaded.extend(_load(path, report))
    collection = SigmaCollection([rule for _, rule in loaded], resolve_references=False)
    try:
        collection.resolve_rule_references()
    except SigmaError:
        # pySigma stops at the first correlation naming a missing rule; resolve the others one
        # by one (the one that fails is reported below with its reason).
        for rule in collection.rules:
            if isinstance(rule, SigmaCorrelationRule) and not _resolved(rule):
                try:
                    rule.resolve_rule_references(collection)
                except SigmaError:
                    pass
    session = _Session(crowded={s for s, _ in loaded if sum(1 for t, _ in loaded if t == s) > 1})
    for source, rule in loaded:
        report.results.append(_import_rule(source, rule, session))
    return report


def _resolved(rule: SigmaCorrelationRule) -> bool:
    refs = rule.referenced_rules or rule.rules or ()
    return bool(refs) and all(getattr(r, "rule", None) is not None for r in refs)


def _load(path: Path, report: ImportReport) -> list[tuple[str, SigmaRule | SigmaCorrelationRule]]:
    source = str(path)
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise ValueError(f"larger than {MAX_FILE_BYTES} bytes; not a Sigma rule")
        text = data.decode("utf-8")
        collection = SigmaCollection.from_yaml(text, collect_errors=True,
                                               resolve_references=False)
    except SigmaError as err:
        documents = _documents(text)
        if documents is None:
            report.results.append(Imported(source, path.stem, reason=describe_error(err)))
            return []
        return _load_each(source, documents, report)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as err:
        reason = f"not a readable YAML file: {_one_line(err)}"
        report.results.append(Imported(source, path.stem, reason=reason))
        return []
    except Exception as err:  # pySigma tripping over a document that is not a mapping, etc.
        reason = ("not a Sigma rule (each YAML document must be a mapping of Sigma fields): "
                  f"{type(err).__name__}: {_one_line(err)}")
        report.results.append(Imported(source, path.stem, reason=reason))
        return []
    for problem in collection.errors:
        if not any(problem in getattr(rule, "errors", ()) for rule in collection.rules):
            report.results.append(Imported(source, path.stem, reason=describe_error(problem)))
    if not collection.rules and not collection.errors:
        report.results.append(Imported(source, path.stem, reason="no Sigma rule in the file"))
    return [(source, rule) for rule in collection.rules]


def _documents(text: str) -> list[Any] | None:
    """The file's YAML documents when each stands alone (several, no collection `action`), so
    one that pySigma rejects outright (a correlation's condition, say) does not cost the rest."""
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError:
        return None
    if len(documents) < 2 or any(isinstance(d, dict) and "action" in d for d in documents):
        return None
    return documents


def _load_each(source: str, documents: list[Any],
               report: ImportReport) -> list[tuple[str, SigmaRule | SigmaCorrelationRule]]:
    loaded: list[tuple[str, SigmaRule | SigmaCorrelationRule]] = []
    for i, document in enumerate(documents, 1):
        title = document.get("title") if isinstance(document, dict) else None
        name = str(title) if title else f"{Path(source).stem} (document {i})"
        try:
            collection = SigmaCollection.from_dicts([document], collect_errors=True,
                                                    resolve_references=False)
        except SigmaError as err:
            report.results.append(Imported(source, name, reason=describe_error(err)))
            continue
        except Exception as err:  # pySigma tripping over a document that is not a mapping
            report.results.append(Imported(source, name, reason=(
                "not a Sigma rule (each YAML document must be a mapping of Sigma fields): "
                f"{type(err).__name__}: {_one_line(err)}")))
            continue
        for problem in collection.errors:
            if not any(problem in getattr(rule, "errors", ()) for rule in collection.rules):
                report.results.append(Imported(source, name, reason=describe_error(problem)))
        loaded += [(source, rule) for rule in collection.rules]
    return loaded


def describe_error(err: BaseException) -> str:
    where = _ERROR_FIELDS.get(type(err).__name__)
    message = _one_line(err)
    message = re.sub(r"\s*\(while [^)]*\)$", "", message)
    return f"{where}: {message}" if where and not message.startswith(where) else message


def _one_line(err: BaseException) -> str:
    text = str(err.args[0]) if isinstance(err, SigmaError) and err.args else str(err)
    return " ".join(text.split())


def _title(rule: Any, source: str) -> str:
    return str(getattr(rule, "title", None) or Path(source).stem)


@dataclass
class _Session:
    """What one import shares between rules: the names given, the converted detections, and
    the files holding several rules (named after each rule's Sigma `name` rather than the file)."""

    crowded: set[str]
    taken: set[str] = field(default_factory=set)
    cache: dict[int, _Converted | str] = field(default_factory=dict)

    def name(self, source: str, rule: SigmaRule | SigmaCorrelationRule) -> str:
        title = _title(rule, source)
        sigma_name = getattr(rule, "name", None)
        if source in self.crowded and isinstance(sigma_name, str) and sigma_name.strip():
            return _unique(rule_name(f"{sigma_name}.yml", title), self.taken)
        return _unique(rule_name(source, title), self.taken)


def _import_rule(source: str, rule: SigmaRule | SigmaCorrelationRule,
                 session: _Session) -> Imported:
    try:
        return _translate(source, rule, session)
    except RecursionError:
        return Imported(source, _title(rule, source),
                        reason="the detection nests too deeply to translate")
    except Exception as err:  # one rule's surprise must not cost the others their import
        return Imported(source, _title(rule, source),
                        reason=f"could not be translated ({type(err).__name__}: {_one_line(err)})")


@dataclass(frozen=True)
class _Converted:
    when: n.Expr
    generated: Generated


def _convert(rule: SigmaRule, cache: dict[int, _Converted | str]) -> _Converted | str:
    """A rule's detection as a `when` and its confirmed examples, or the reason there are none.
    Memoised: pySigma's pipeline changes the rule it runs on, so each rule converts once (a
    correlation and the rule itself may both need it)."""
    key = id(rule)
    if key not in cache:
        cache[key] = _convert_once(rule)
    return cache[key]


def _convert_once(rule: SigmaRule) -> _Converted | str:
    if rule.errors:
        return "; ".join(describe_error(e) for e in rule.errors)
    backend = CtrBackend(processing_pipeline=cloudtrail_pipeline())
    try:
        backend.convert_rule(rule)
    except SigmaError as err:
        return describe_error(err)
    # `convert_rule` returns nothing for a rule with `generate: false`; the result is kept.
    queries = list(rule.get_conversion_result())
    if not queries:
        return "the rule has no detection condition"
    when: n.Expr = queries[0] if len(queries) == 1 else n.Or(tuple(queries))
    generated = generate(when, backend.spellings)
    if generated is None:
        return ("could not build a record that matches the detection and one that does not "
                "(is the condition contradictory, or always true?)")
    return _Converted(when, generated)


def _translate(source: str, rule: SigmaRule | SigmaCorrelationRule,
               session: _Session) -> Imported:
    title = _title(rule, source)
    if rule.errors:
        return Imported(source, title, reason="; ".join(describe_error(e) for e in rule.errors))
    if isinstance(rule, SigmaCorrelationRule):
        return _translate_correlation(source, rule, session)
    if rule._backreferences and not rule._output:
        users = ", ".join(dict.fromkeys(_title(r, source) for r in rule._backreferences))
        return Imported(source, title, reason=(
            f"not imported on its own: correlation rule(s) {users} use it and Sigma's "
            "`generate: false` (the default) says it is not a detection by itself; its "
            "detection is the `when` of the correlation's rule"))
    converted = _convert(rule, session.cache)
    if isinstance(converted, str):
        return Imported(source, title, reason=converted)
    generated = converted.generated
    examples = [n.Example("built from the detection", True, generated.match)]
    examples += [n.Example(label, False, record) for label, record in generated.no_match]
    decl = n.RuleDecl(
        name=session.name(source, rule),
        when=converted.when,
        severity=SEVERITY.get(str(rule.level).lower() if rule.level else "", "medium"),
        description=n.Text(_collapse(rule.description or title)),
        summary=n.Text(_summary(title, rule.author)),
        tags=tuple(str(t) for t in rule.tags),
        examples=tuple(examples),
        severity_given=True,
    )
    return _emit(source, rule, decl, session.taken, [])


def _translate_correlation(source: str, rule: SigmaCorrelationRule,
                           session: _Session) -> Imported:
    title = _title(rule, source)
    kind = correlation.kind_of(rule)
    bases: list[correlation.Base] = []
    for ref in rule.rules or ():
        target = getattr(ref, "rule", None)
        if target is None:
            return Imported(source, title, reason=(
                f"correlation ({kind}): the rule '{ref.reference}' it names is not among the "
                "imported files (give its file too)"))
        if isinstance(target, SigmaCorrelationRule):
            return Imported(source, title, reason=(
                f"correlation ({kind}): rule '{ref.reference}' is itself a correlation; "
                ".ctr has no state over the alerts of another stateful rule"))
        converted = _convert(target, session.cache)
        if isinstance(converted, str):
            return Imported(source, title, reason=(
                f"correlation ({kind}): referenced rule '{_title(target, source)}' cannot be "
                f"translated: {converted}"))
        bases.append(correlation.Base(
            _title(target, source), converted.when, converted.generated.match,
            converted.generated.no_match[0][1], _predicate(converted.when)))
    if not bases and isinstance(rule.condition, SigmaCorrelationCondition):
        return Imported(source, title, reason=f"correlation ({kind}): it names no rules")
    try:
        done = correlation.translate(rule, bases)
    except correlation.NotExpressible as err:
        return Imported(source, title, reason=str(err))
    decl = n.RuleDecl(
        name=session.name(source, rule),
        when=done.when,
        severity=SEVERITY.get(str(rule.level).lower() if rule.level else "", "medium"),
        description=n.Text(_collapse(rule.description or title)),
        summary=n.Text(_correlation_summary(title, rule, done.stateful,
                                            [b.title for b in bases])),
        tags=tuple(str(t) for t in rule.tags),
        examples=done.examples,
        severity_given=True,
        stateful=done.stateful,
    )
    refs = [f"# correlation: {kind} of " + ", ".join(f"{b.title!r}" for b in bases)]
    return _emit(source, rule, decl, session.taken, refs)


def _predicate(when: n.Expr) -> Callable[[dict[str, Any]], bool]:
    pred = compile_expr(when, Scope(lists={}, macros={}))
    return lambda record: bool(pred(record, record))


def _emit(source: str, rule: SigmaRule | SigmaCorrelationRule, decl: n.RuleDecl,
          taken: set[str], extra_header: list[str]) -> Imported:
    """Print, check and (for multi-record examples) run the rule; any failure is the reason."""
    title = _title(rule, source)
    name = decl.name
    body = format_file(n.RuleFile(f"{name}.ctr", (decl,)))
    header = _header(source, rule) + extra_header
    text = format_text("".join(f"{line}\n" for line in header) + body, f"{name}.ctr")
    _, findings = check_sources([(f"{name}.ctr", text)])
    errors = [d for d in findings if d.is_error]
    if errors:
        return Imported(source, title, reason="ctrules check: " + "; ".join(
            f"{d.code} {d.message}" for d in errors))
    if decl.stateful is not None:
        # The engine, not the detection alone, decides these examples: confirm them.
        results = RuleSet([parse(text, f"{name}.ctr").file]).run_examples()
        failed = [r.example for r in results if not r.passed]
        if failed:
            return Imported(source, title, reason=(
                "could not build examples the stateful engine confirms (failed: "
                + ", ".join(failed) + ")"))
    taken.add(name)
    return Imported(source, title, name=name, text=text)


def _correlation_summary(title: str, rule: SigmaCorrelationRule, clause: n.Stateful,
                         steps: list[str]) -> str:
    def safe(text: str) -> str:
        return _collapse(text).replace("{", "{{").replace("}", "}}")

    what = {"count": "{state.count} events", "distinct": "{state.distinct} values of "
            + (clause.value.dotted() if clause.value else ""),
            "sequence": ", then ".join(safe(s) for s in steps)}
    text = f"{safe(title)}: {what[clause.kind]} within {clause.window.text}"
    if clause.key:
        text += " for " + ", ".join("{" + p.dotted() + "}" for p in clause.key)
    author = rule.author
    return f"{text} (Sigma rule by {safe(author)})" if author and author.strip() else text


def rule_name(source: str, title: str) -> str:
    """A `.ctr` rule name: the Sigma file's name (SigmaHQ names files after the rule)."""
    stem = re.sub(r"[^A-Za-z0-9_]+", "_", Path(source).stem).strip("_") or \
        re.sub(r"[^A-Za-z0-9_]+", "_", title).strip("_").lower()
    if not stem or not re.match(r"[A-Za-z_]", stem) or stem in n.KEYWORDS:
        stem = f"sigma_{stem}"
    return stem


def _unique(name: str, taken: set[str]) -> str:
    candidate, i = name, 2
    while candidate in taken:
        candidate, i = f"{name}_{i}", i + 1
    return candidate


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _summary(title: str, author: str | None) -> str:
    """The alert headline. It names the Sigma author: the Detection Rule License that SigmaHQ
    rules carry asks that messages based on a rule's matches keep its author."""
    def safe(text: str) -> str:
        return _collapse(text).replace("{", "{{").replace("}", "}}")

    text = f"{safe(title)}: {{eventName}} by {{userIdentity.arn}} in {{recipientAccountId}}"
    return f"{text} (Sigma rule by {safe(author)})" if author and author.strip() else text


def _header(source: str, rule: SigmaRule | SigmaCorrelationRule) -> list[str]:
    def comment(label: str, value: Any) -> list[str]:
        text = _collapse(str(value)) if value not in (None, "") else ""
        return [f"# {label}: {text}"] if text else []

    lines = [f"# Imported from Sigma by `ctrules import sigma`: {Path(source).name}"]
    lines += comment("title", rule.title)
    lines += comment("id", rule.id)
    lines += comment("status", rule.status)
    lines += comment("author", rule.author)
    lines += comment("date", rule.date)
    lines += comment("modified", rule.modified)
    lines += comment("license", getattr(rule, "license", None))
    if rule.references:
        lines.append("# references:")
        lines += [f"#   - {_collapse(str(r))}" for r in rule.references]
    if rule.falsepositives:
        lines.append("# falsepositives:")
        lines += [f"#   - {_collapse(str(f))}" for f in rule.falsepositives]
    return lines
