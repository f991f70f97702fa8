"""Delivery — keeping webhook URLs and bot tokens out of every log line, error and repr.

A Slack incoming-webhook URL *is* a credential (anyone holding it can post), and so is a bot
token. Settings register each secret here as they are loaded; `redact` replaces them — and
anything shaped like one — in any text, and `RedactingFilter` does that to every record that
slack_sdk's loggers emit (at DEBUG they print the full request URL and headers)."""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import urlsplit

MASK = "***"
_SHAPES = (
    re.compile(r"xox[a-z]-[A-Za-z0-9-]+"),  # Slack tokens
    re.compile(r"(?<=hooks\.slack\.com/)[^\s'\"<>]+"),  # real webhook paths
    re.compile(r"(?<=hooks\.slack-gov\.com/)[^\s'\"<>]+"),
)
_lock = threading.Lock()
_secrets: set[str] = set()


def register(secret: str | None) -> None:
    """Remember a secret value (and, for a URL, its path and query) for `redact`."""
    if not secret:
        return
    parts = {secret}
    if secret.startswith(("http://", "https://")):
        try:
            split = urlsplit(secret)
            tail = split.path + (f"?{split.query}" if split.query else "")
        except ValueError:
            tail = ""
        if len(tail) > 1:
            parts.add(tail)
    with _lock:
        _secrets.update(p for p in parts if len(p) >= 4)


def redact(text: str) -> str:
    """`text` with every registered secret and anything shaped like a Slack secret masked."""
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    for shape in _SHAPES:
        text = shape.sub(MASK, text)
    return text


class RedactingFilter(logging.Filter):
    """Masks secrets in a record's message and traceback before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what there is
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        if record.exc_info:
            formatter = logging.Formatter()
            record.exc_text = redact(formatter.formatException(record.exc_info))
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_FILTER = RedactingFilter()
SLACK_SDK_LOGGERS = (
    "slack_sdk",
    "slack_sdk.webhook.client",
    "slack_sdk.web.base_client",
    "slack_sdk.web.client",
    "slack_sdk.http_retry",
)


def sdk_logger() -> logging.Logger:
    """The logger handed to slack_sdk's clients, and the filter on slack_sdk's own loggers
    (a filter applies only to records logged through the logger it is attached to)."""
    for name in SLACK_SDK_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    logger = logging.getLogger("ctrules.delivery.slack_sdk")
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return logger
