"""Sigma import — files of Sigma YAML → one `.ctr` rule file per Sigma rule, or a reason.

`Sigma YAML → pySigma rule → pipeline → backend (AST) → examples → **importer** (formatter,
check) → .ctr text`. The importer reads and parses the files with pySigma (never its own YAML
handling of detections), runs the CloudTrail pipeline and the backend on each rule, adds the
rule's metadata (severity from `level`, ATT&CK `tags`, description; title, id, author,
references, dates and false positives as comments), generates the examples, prints the rule
with ctrules' formatter and runs `ctrules check` on the result. A rule that fails anywhere is
reported with the reason and produces no output at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from .. import nodes as n
from ..checks import check_sources
from ..formatter import format_file, format_text
from .backend import CtrBackend
from .examples import generate
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
        pass  # the correlation that names a missing rule is reported below with its own error
    taken: set[str] = set()
    for source, rule in loaded:
        report.results.append(_import_rule(source, rule, taken))
    return report


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
        report.results.append(Imported(source, path.stem, reason=describe_error(err)))
        return []
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


def _import_rule(source: str, rule: SigmaRule | SigmaCorrelationRule, taken: set[str]) -> Imported:
    try:
        return _translate(source, rule, taken)
    except RecursionError:
        return Imported(source, _title(rule, source),
                        reason="the detection nests too deeply to translate")
    except Exception as err:  # one rule's surprise must not cost the others their import
        return Imported(source, _title(rule, source),
                        reason=f"could not be translated ({type(err).__name__}: {_one_line(err)})")


def _translate(source: str, rule: SigmaRule | SigmaCorrelationRule, taken: set[str]) -> Imported:
    title = _title(rule, source)
    if rule.errors:
        return Imported(source, title, reason="; ".join(describe_error(e) for e in rule.errors))
    if isinstance(rule, SigmaCorrelationRule):
        kind = str(getattr(rule.type, "name", rule.type)).lower()
        return Imported(source, title, reason=(
            f"correlation rule ({kind}): ctrules evaluates each CloudTrail record on its own; "
            "counting events or values over a time window, and ordering events, has no .ctr "
            "construct yet"))
    if rule._backreferences and not rule._output:
        users = ", ".join(_title(r, source) for r in rule._backreferences)
        return Imported(source, title, reason=(
            f"only used by correlation rule(s) {users}, which cannot be expressed "
            "(the Sigma rule has generate: false)"))
    backend = CtrBackend(processing_pipeline=cloudtrail_pipeline())
    try:
        queries = backend.convert_rule(rule)
    except SigmaError as err:
        return Imported(source, title, reason=describe_error(err))
    if not queries:
        return Imported(source, title, reason="the rule has no detection condition")
    when: n.Expr = queries[0] if len(queries) == 1 else n.Or(tuple(queries))
    generated = generate(when, backend.spellings)
    if generated is None:
        return Imported(source, title, reason=(
            "could not build a record that matches the detection and one that does not "
            "(is the condition contradictory, or always true?)"))
    name = _unique(rule_name(source, title), taken)
    examples = [n.Example("built from the detection", True, generated.match)]
    examples += [n.Example(label, False, record) for label, record in generated.no_match]
    decl = n.RuleDecl(
        name=name,
        when=when,
        severity=SEVERITY.get(str(rule.level).lower() if rule.level else "", "medium"),
        description=n.Text(_collapse(rule.description or title)),
        summary=n.Text(_summary(title, rule.author)),
        tags=tuple(str(t) for t in rule.tags),
        examples=tuple(examples),
        severity_given=True,
    )
    body = format_file(n.RuleFile(f"{name}.ctr", (decl,)))
    text = format_text("".join(f"{line}\n" for line in _header(source, rule)) + body,
                       f"{name}.ctr")
    _, findings = check_sources([(f"{name}.ctr", text)])
    errors = [d for d in findings if d.is_error]
    if errors:
        return Imported(source, title, reason="ctrules check: " + "; ".join(
            f"{d.code} {d.message}" for d in errors))
    taken.add(name)
    return Imported(source, title, name=name, text=text)


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


def _header(source: str, rule: SigmaRule) -> list[str]:
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
