"""Pipeline stage 3 (checks) — schema-aware lint; it lives in `ctrules.checks.schema_lint`.

This name is kept so that existing imports (`from ctrules.checks_schema import
schema_findings`) keep working.
"""

from __future__ import annotations

from .checks.schema_lint import (
    FIELD_NAME_AS_VALUE,
    UNKNOWN_FIELD,
    UNKNOWN_PLACEHOLDER,
    schema_findings,
)

__all__ = ["FIELD_NAME_AS_VALUE", "UNKNOWN_FIELD", "UNKNOWN_PLACEHOLDER", "schema_findings"]
