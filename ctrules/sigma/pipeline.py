"""Sigma import — the pySigma processing pipeline for the CloudTrail log source.

`Sigma YAML → pySigma rule → **pipeline** → backend (AST) → formatter → .ctr text`. It runs
before conversion and shapes the rule for CloudTrail records, where the field names are
CloudTrail's own dotted paths (no field mapping is needed):

* a rule whose log source is not `product: aws, service: cloudtrail` fails with a message that
  names the `logsource` field;
* `eventSource` and `eventName` values are made case-sensitive (`SigmaCasedString`): CloudTrail
  writes them with one exact spelling, so `eventName == "StopLogging"` means the same as Sigma's
  case-insensitive match on real records, reads better than `lower(eventName) == "stoplogging"`
  and keeps the rule in ctrules' dispatch index;
* a string, number or regular expression compared with a field that CloudTrail records as a JSON
  object (`requestParameters`, `responseElements`, ...) or array of objects (`resources`)
  fails: Sigma means a substring search of the object's serialized text there, which `.ctr`
  cannot express.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaTransformationError
from sigma.processing.conditions import IncludeFieldCondition, LogsourceCondition
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations.base import (
    DetectionItemTransformation,
    PreprocessingTransformation,
    StringValueTransformation,
)
from sigma.rule import SigmaDetectionItem, SigmaRule
from sigma.types import SigmaCasedString, SigmaExists, SigmaNull, SigmaString, SigmaType

from .. import schema

CASE_EXACT_FIELDS: tuple[str, ...] = ("eventSource", "eventName")
"""Fields whose values CloudTrail spells exactly one way; compared case-sensitively."""


def object_fields() -> tuple[str, ...]:
    """The fields the CloudTrail schema types as JSON objects or arrays (of objects:
    `resources`)."""
    paths = schema.layout_paths()
    return tuple(sorted(name for name, kind in paths if kind in ("object", "array")))


@dataclass
class LogsourceFailure(PreprocessingTransformation):
    """Fail on a rule for another log source, saying which one it is for."""

    def apply(self, rule: SigmaRule | SigmaCorrelationRule) -> None:
        source = getattr(rule, "logsource", None)
        given = ", ".join(
            f"{key}: {getattr(source, key)}"
            for key in ("category", "product", "service")
            if getattr(source, key, None)
        )
        raise SigmaTransformationError(
            f"logsource: the rule is for {given or 'no log source'}; ctrules imports rules for "
            "product: aws, service: cloudtrail",
            source=rule.source,
        )


@dataclass
class CaseExactTransformation(StringValueTransformation):
    """Sigma strings become case-sensitive (the field's values have one spelling)."""

    def apply_string_value(self, field: str | None, val: SigmaString) -> SigmaType | None:
        if isinstance(val, SigmaCasedString):
            return None
        return SigmaCasedString.from_sigma_string(val)


@dataclass
class ObjectFieldFailure(DetectionItemTransformation):
    """Fail on a value comparison with a whole JSON object (null and `exists` are fine)."""

    def apply_detection_item(self, detection_item: SigmaDetectionItem) -> None:
        values: Iterable[SigmaType] = detection_item.value
        if all(isinstance(v, (SigmaNull, SigmaExists)) for v in values):
            return None
        raise SigmaTransformationError(
            f"detection field '{detection_item.field}' is a JSON object (or array of objects) in "
            "CloudTrail records; "
            "Sigma compares values with its serialized text there, which .ctr cannot express "
            f"(name the nested field instead: {detection_item.field}.<key>)",
            source=detection_item.source,
        )


def cloudtrail_pipeline() -> ProcessingPipeline:
    return ProcessingPipeline(
        name="ctrules CloudTrail",
        priority=20,
        items=[
            ProcessingItem(
                identifier="ctrules_cloudtrail_logsource",
                transformation=LogsourceFailure(),
                rule_conditions=[LogsourceCondition(product="aws", service="cloudtrail")],
                rule_condition_negation=True,
            ),
            ProcessingItem(
                identifier="ctrules_case_exact_fields",
                transformation=CaseExactTransformation(),
                field_name_conditions=[IncludeFieldCondition(fields=list(CASE_EXACT_FIELDS))],
            ),
            ProcessingItem(
                identifier="ctrules_object_fields",
                transformation=ObjectFieldFailure(),
                field_name_conditions=[IncludeFieldCondition(fields=list(object_fields()))],
            ),
        ],
    )
