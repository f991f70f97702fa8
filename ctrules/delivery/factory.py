"""Pipeline stage 7 — delivery configuration: turns environment variables into a Sink.

The consumer (Lambda handler, container worker, `ctrules run`) calls `build_sink` once per
container with its environment. The Slack knobs and their reading live in `settings`
(re-exported here for existing importers); this module picks and builds the sink.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from .base import JsonLinesSink, Sink
from .routing import RuleSetLike
from .settings import (
    SECRET_PREFIXES,
    SLACK_ENVIRONMENT,
    Destination,
    EnvVar,
    SecretResolver,
    SlackConfigError,
    SlackSettings,
    is_secret_ref,
    load_settings,
)

__all__ = [
    "SECRET_PREFIXES",
    "SLACK_ENVIRONMENT",
    "Destination",
    "EnvVar",
    "SecretResolver",
    "SlackConfigError",
    "SlackSettings",
    "build_sink",
    "is_secret_ref",
    "load_settings",
]


def build_sink(
    ruleset: RuleSetLike | None,
    config_env: Mapping[str, str],
    *,
    secret_resolver: SecretResolver | None = None,
    dynamodb_client: Any = None,
    account_names: Mapping[str, str] | None = None,
) -> Sink:
    """The Sink for this deployment: Slack when any destination is configured, else JSON lines.

    `ruleset` supplies routing (`destinations`) and explanations (`why`); None sends every
    alert to the default destination. `secret_resolver` resolves `ssm:`/`secretsmanager:`
    references. `dynamodb_client` (a boto3 DynamoDB client) is used for thread mode; when thread
    mode is configured without one, a default boto3 client is created. `account_names`
    (e.g. discovered from AWS Organizations by the caller) are shown next to account ids;
    names from CTRULES_ACCOUNT_NAMES take precedence.
    Raises SlackConfigError for inconsistent configuration (fail at cold start, not per alert).
    """
    settings = load_settings(config_env, secret_resolver)
    if account_names:
        settings = replace(settings, account_names={**account_names, **settings.account_names})
    if not settings.configured:
        if settings.thread_table:
            raise SlackConfigError("CTRULES_SLACK_THREAD_TABLE is set but no destination is")
        return JsonLinesSink()
    from .slack import SlackSink

    thread_store = None
    if settings.thread_table:
        from .threads import DynamoThreadStore

        if dynamodb_client is None:
            # Imported lazily and untyped: only thread mode needs boto3 here.
            boto3: Any = importlib.import_module("boto3")
            dynamodb_client = boto3.client("dynamodb")
        thread_store = DynamoThreadStore(
            dynamodb_client, settings.thread_table, window=settings.thread_window
        )
    return SlackSink(settings, ruleset, thread_store=thread_store)
