"""AWS runtime — structured logging: one JSON object per line on stderr.

CloudWatch Logs Insights can query the fields directly. Callers pass context as keyword fields
(`log(logger, "info", "file done", uri=..., records=...)`); secrets are never passed in — the
config's repr hides anything that may hold one, alerts are written by the delivery layer, and
every line is passed through `delivery.redact` in case a webhook URL or token slipped in.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

import orjson

from ..delivery.redact import redact

_FIELDS = "ctrules_fields"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, _FIELDS, None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        try:
            line = orjson.dumps(entry, default=str).decode()
        except TypeError:  # a value orjson refuses (lone surrogate, huge int): never lose a line
            line = json.dumps(entry, default=str)
        # Last line of defence: a webhook URL or token that slipped into a message or field.
        return redact(line)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time (test capture, redirected streams)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def setup(level: str = "INFO") -> None:
    """Route the `ctrules` loggers to stderr as JSON lines (idempotent)."""
    logger = logging.getLogger("ctrules")
    logger.setLevel(level)
    for handler in logger.handlers:
        if getattr(handler, "_ctrules_json", False):
            return
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter())
    handler._ctrules_json = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.propagate = False


def log(logger: logging.Logger, level: str, message: str, **fields: Any) -> None:
    logger.log(logging.getLevelName(level.upper()), message, extra={_FIELDS: fields})
