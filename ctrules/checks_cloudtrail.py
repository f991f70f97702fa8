"""Pipeline stage 3 (checks) — CloudTrail-aware lint; it lives in `ctrules.checks.cloudtrail`.

This name is kept so that existing imports (`from ctrules.checks_cloudtrail import
cloudtrail_findings`) keep working.
"""

from __future__ import annotations

from .checks.cloudtrail import NAME_NOT_FROM_SOURCE, UNKNOWN_NAME, cloudtrail_findings

__all__ = ["NAME_NOT_FROM_SOURCE", "UNKNOWN_NAME", "cloudtrail_findings"]
