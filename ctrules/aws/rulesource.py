"""AWS runtime — loading the rule set once per container: the bundled pack, a local path, or
an `s3://` URI.

A rule set with errors raises `RuleSetError` after its diagnostics are logged one per line (the
`ctrules check` text), so a bad deploy fails the cold start loudly instead of alerting on half a
rule set.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from .logs import log

logger = logging.getLogger("ctrules.aws.rules")


class RulesNotFound(RuntimeError):
    """CTRULES_RULES names a location with no rule files."""


def load_ruleset(location: str, s3: Any | None = None) -> Any:
    """Load the rule set named by CTRULES_RULES. `s3` is a boto3 S3 client for s3:// URIs."""
    import ctrules

    try:
        if location in ("", "default"):
            return ctrules.load_default_rules()
        if location.startswith("s3://"):
            if s3 is None:
                raise RulesNotFound(f"{location}: no S3 client to read it with")
            with tempfile.TemporaryDirectory(prefix="ctrules-rules-") as tmp:
                _download(s3, location, Path(tmp))
                return ctrules.load_rules(tmp)
        path = Path(location)
        if not path.exists():
            raise RulesNotFound(f"CTRULES_RULES={location}: no such file or directory")
        return ctrules.load_rules(path)
    except ctrules.RuleSetError as exc:
        for d in exc.diagnostics:
            log(
                logger,
                "error" if d.is_error else "warning",
                f"{d.span.file}:{d.span.line}:{d.span.col}: {d.code} {d.severity}: {d.message}",
                code=d.code,
                file=d.span.file,
                line=d.span.line,
                col=d.span.col,
            )
        log(logger, "error", "rule set has errors; not loading", rules=location)
        raise


def _download(s3: Any, uri: str, into: Path) -> None:
    bucket, _, key = uri[len("s3://") :].partition("/")
    if key.endswith(".ctr"):
        keys = [key]
        prefix = key.rsplit("/", 1)[0] + "/" if "/" in key else ""
    else:
        prefix = key if not key or key.endswith("/") else key + "/"
        keys = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys.extend(o["Key"] for o in page.get("Contents", []) if o["Key"].endswith(".ctr"))
    if not keys:
        raise RulesNotFound(f"CTRULES_RULES={uri}: no .ctr objects there")
    for k in keys:
        relative = Path(k[len(prefix) :])
        if relative.is_absolute() or ".." in relative.parts:
            raise RulesNotFound(f"{uri}: refusing object key {k!r}")
        target = into / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        body = s3.get_object(Bucket=bucket, Key=k)["Body"]
        target.write_bytes(body.read())
