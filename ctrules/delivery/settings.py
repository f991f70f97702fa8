"""Pipeline stage 7 — delivery settings: the Slack environment variables (`SLACK_ENVIRONMENT`,
the complete list of knobs; docs/slack.md mirrors it, the Terraform module sets them) read
into `SlackSettings`.

Secrets (webhook URLs, the bot token, or the whole destination map) may be references to SSM
Parameter Store / Secrets Manager; this module never talks to AWS itself: the caller passes a
`secret_resolver` (ctrules.aws owns AWS access and caching). Every secret read is registered
with `redact`, and the settings' repr never shows one. Both `factory` (which builds the sink)
and `slack` (which sends) depend on this module, not on each other.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .redact import register

SecretResolver = Callable[[str], str]
"""Called with a secret reference exactly as written (e.g. ``ssm:/ctrules/slack/hook``);
returns the secret's plain value. Raise on failure: a missing secret is a cold-start error."""

SECRET_PREFIXES = ("ssm:", "secretsmanager:")
# SSM / Secrets Manager ARNs of any partition (aws, aws-us-gov, aws-cn, aws-iso-b, ...).
SECRET_ARN = re.compile(r"arn:aws(?:-[a-z]+)*:(?:ssm|secretsmanager):")


@dataclass(frozen=True)
class EnvVar:
    name: str
    default: str
    secret_ok: bool
    description: str


SLACK_ENVIRONMENT: tuple[EnvVar, ...] = (
    EnvVar(
        "CTRULES_SLACK_DESTINATIONS",
        "",
        True,
        'JSON object: destination name -> Slack webhook URL, or channel id ("C0123ABC") for '
        "bot-token mode; each value may be a secret reference. The whole variable may also be "
        "a secret reference whose value is that JSON object.",
    ),
    EnvVar(
        "CTRULES_SLACK_WEBHOOK_URL",
        "",
        True,
        "Shorthand: webhook URL of the default destination (merged into the map above).",
    ),
    EnvVar(
        "CTRULES_SLACK_CHANNEL",
        "",
        False,
        "Shorthand: channel id of the default destination (bot-token mode).",
    ),
    EnvVar(
        "CTRULES_SLACK_DEFAULT_DESTINATION",
        "default",
        False,
        "Name of the destination that receives alerts no route took, and alerts routed to a "
        "name that is not configured (those say so in the message).",
    ),
    EnvVar(
        "CTRULES_SLACK_BOT_TOKEN",
        "",
        True,
        "Bot token (xoxb-...) for chat.postMessage / chat.update; required when any destination "
        "is a channel id, and for thread mode.",
    ),
    EnvVar(
        "CTRULES_SLACK_API_URL",
        "https://slack.com/api/",
        False,
        "Slack Web API base URL (tests and egress proxies).",
    ),
    EnvVar(
        "CTRULES_ACCOUNT_NAMES",
        "",
        True,
        'JSON object: AWS account id -> display name, shown next to the id ("prod (1111…)").',
    ),
    EnvVar(
        "CTRULES_SLACK_THREAD_TABLE",
        "",
        False,
        "DynamoDB table (partition key `pk`, string; TTL attribute `expires_at`) that turns "
        "later alerts of the same group into thread replies across invocations. Bot mode only.",
    ),
    EnvVar(
        "CTRULES_SLACK_THREAD_WINDOW",
        "3600",
        False,
        "Seconds after a group's first message during which its later alerts go to its thread.",
    ),
    EnvVar(
        "CTRULES_SLACK_GROUPING",
        "on",
        False,
        "`on`: alerts of one batch sharing a group key become one message; `off`: one each.",
    ),
    EnvVar(
        "CTRULES_SLACK_MESSAGE_MODE",
        "per_alert",
        False,
        "`per_alert`: messages per (rule, event), grouped as CTRULES_SLACK_GROUPING says. "
        "`per_event`: one message per event listing every rule that matched it (most severe "
        "first), as the fivexl module posted; grouping across events is then off.",
    ),
    EnvVar(
        "CTRULES_SLACK_MAX_MESSAGES",
        "20",
        False,
        "Most messages per destination per batch; further groups are rolled into one digest "
        "message that lists each (rule, count, summary, event ids) - counted and shown.",
    ),
    EnvVar(
        "CTRULES_SLACK_RATE",
        "1",
        False,
        "Sustained messages per second per destination (Slack allows about 1).",
    ),
    EnvVar(
        "CTRULES_SLACK_BURST",
        "4",
        False,
        "Messages per destination that may go out back-to-back before the rate applies.",
    ),
    EnvVar(
        "CTRULES_SLACK_TIMEOUT",
        "10",
        False,
        "Seconds to wait for one HTTP request to Slack.",
    ),
    EnvVar(
        "CTRULES_SLACK_MAX_RETRIES",
        "3",
        False,
        "Retries per message for 429 (honouring Retry-After), 5xx and connection errors.",
    ),
    EnvVar(
        "CTRULES_SLACK_BACKOFF",
        "0.5",
        False,
        "Base of the exponential backoff (seconds) between retries of 5xx/connection errors: "
        "base, 2×base, 4×base… with jitter.",
    ),
    EnvVar(
        "CTRULES_SLACK_MAX_RETRY_AFTER",
        "30",
        False,
        "Longest Retry-After (seconds) waited in-process; a longer one fails the message as "
        "transient so the caller retries the batch later.",
    ),
)

_DEFAULTS = {var.name: var.default for var in SLACK_ENVIRONMENT}


class SlackConfigError(ValueError):
    """The Slack environment is inconsistent; the message names the variable (never a secret)."""


def is_secret_ref(value: str) -> bool:
    return value.startswith(SECRET_PREFIXES) or SECRET_ARN.match(value) is not None


@dataclass(frozen=True)
class Destination:
    """Where one destination name posts: exactly one of webhook_url / channel is set."""

    name: str
    webhook_url: str | None = field(default=None, repr=False)  # a credential: never shown
    channel: str | None = None

    @property
    def target(self) -> str:
        # Rate limits and threads are per Slack target; several names may share one.
        return self.webhook_url or f"channel:{self.channel}"


@dataclass(frozen=True)
class SlackSettings:
    destinations: Mapping[str, Destination]
    default_destination: str = "default"
    bot_token: str | None = field(default=None, repr=False)
    api_url: str = "https://slack.com/api/"
    account_names: Mapping[str, str] = field(default_factory=dict)
    thread_table: str | None = None
    thread_window: float = 3600.0
    grouping: bool = True
    per_event: bool = False
    max_messages: int = 20
    rate: float = 1.0
    burst: int = 4
    timeout: float = 10.0
    max_retries: int = 3
    max_retry_after: float = 30.0
    backoff_factor: float = 0.5

    @property
    def configured(self) -> bool:
        return bool(self.destinations)


def _get(env: Mapping[str, str], name: str) -> str:
    return env.get(name, "").strip() or _DEFAULTS[name]


def _resolve(value: str, name: str, resolver: SecretResolver | None) -> str:
    if not is_secret_ref(value):
        return value
    if resolver is None:
        raise SlackConfigError(
            f"{name} refers to a secret ({value.split(':', 1)[0]}:...) but no secret resolver "
            "was given to build_sink"
        )
    resolved = resolver(value).strip()
    if not resolved:
        raise SlackConfigError(f"{name}: the secret {value!r} is empty")
    return resolved


def _number(env: Mapping[str, str], name: str, minimum: float) -> float:
    raw = _get(env, name)
    try:
        value = float(raw)
    except ValueError:
        raise SlackConfigError(f"{name} must be a number, got {raw!r}") from None
    if value < minimum:
        raise SlackConfigError(f"{name} must be at least {minimum:g}, got {raw!r}")
    return value


def _json_object(text: str, name: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SlackConfigError(f"{name} is not valid JSON: {exc.msg} at char {exc.pos}") from None
    if not isinstance(value, dict):
        raise SlackConfigError(f"{name} must be a JSON object (name -> value)")
    return value


def _destination(name: str, value: str, var: str) -> Destination:
    if value.startswith(("https://", "http://")):
        register(value)
        problem = _url_problem(value)
        if problem:
            raise SlackConfigError(
                f"{var}: destination {name!r}: malformed webhook URL ({problem})"
            )
        return Destination(name, webhook_url=value)
    if value.startswith("xox"):
        raise SlackConfigError(f"{var}: destination {name!r} looks like a token, not a target")
    if not value or any(ch.isspace() for ch in value):
        raise SlackConfigError(f"{var}: destination {name!r} must be a webhook URL or a channel id")
    return Destination(name, channel=value)


def _url_problem(url: str) -> str | None:
    """Why a webhook URL cannot be posted to (never quoting it), or None."""
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        return "it contains whitespace or control characters"
    try:
        split = urlsplit(url)
        split.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return "it does not parse as a URL"
    if not split.hostname:
        return "it has no host"
    if split.path in ("", "/"):
        return "it has no path"
    return None


def load_settings(
    config_env: Mapping[str, str], secret_resolver: SecretResolver | None = None
) -> SlackSettings:
    """Reads SLACK_ENVIRONMENT from `config_env`; raises SlackConfigError on bad configuration."""
    var = "CTRULES_SLACK_DESTINATIONS"
    raw_map: dict[str, Any] = {}
    text = _get(config_env, var)
    if text:
        raw_map = _json_object(_resolve(text, var, secret_resolver), var)
    default_name = _get(config_env, "CTRULES_SLACK_DEFAULT_DESTINATION")
    for shorthand in ("CTRULES_SLACK_WEBHOOK_URL", "CTRULES_SLACK_CHANNEL"):
        value = _get(config_env, shorthand)
        if value:
            if default_name in raw_map:
                raise SlackConfigError(
                    f"{shorthand} and {var} both configure destination {default_name!r}"
                )
            raw_map[default_name] = value
    destinations: dict[str, Destination] = {}
    for name, value in raw_map.items():
        if not isinstance(value, str):
            raise SlackConfigError(f"{var}: destination {name!r} must be a string")
        resolved = _resolve(value.strip(), f"{var}[{name}]", secret_resolver)
        destinations[name] = _destination(name, resolved, var)
    if destinations and default_name not in destinations:
        raise SlackConfigError(
            f"CTRULES_SLACK_DEFAULT_DESTINATION is {default_name!r} but no such destination is "
            f"configured (have: {', '.join(sorted(destinations))})"
        )

    token_raw = _get(config_env, "CTRULES_SLACK_BOT_TOKEN")
    token = _resolve(token_raw, "CTRULES_SLACK_BOT_TOKEN", secret_resolver) if token_raw else None
    register(token)
    needs_token = [d.name for d in destinations.values() if d.channel]
    if needs_token and not token:
        raise SlackConfigError(
            "CTRULES_SLACK_BOT_TOKEN is required for channel destinations: "
            + ", ".join(sorted(needs_token))
        )

    names_raw = _get(config_env, "CTRULES_ACCOUNT_NAMES")
    account_names: dict[str, str] = {}
    if names_raw:
        parsed = _json_object(
            _resolve(names_raw, "CTRULES_ACCOUNT_NAMES", secret_resolver), "CTRULES_ACCOUNT_NAMES"
        )
        account_names = {str(k): str(v) for k, v in parsed.items()}

    thread_table = _get(config_env, "CTRULES_SLACK_THREAD_TABLE") or None
    if thread_table and not token:
        raise SlackConfigError("CTRULES_SLACK_THREAD_TABLE needs CTRULES_SLACK_BOT_TOKEN")

    grouping_raw = _get(config_env, "CTRULES_SLACK_GROUPING").lower()
    if grouping_raw not in ("on", "off", "true", "false", "1", "0"):
        raise SlackConfigError(f"CTRULES_SLACK_GROUPING must be on or off, got {grouping_raw!r}")

    mode = _get(config_env, "CTRULES_SLACK_MESSAGE_MODE").lower().replace("-", "_")
    if mode not in ("per_alert", "per_event"):
        raise SlackConfigError(
            f"CTRULES_SLACK_MESSAGE_MODE must be per_alert or per_event, got {mode!r}"
        )

    api_url = _get(config_env, "CTRULES_SLACK_API_URL")
    if not api_url.endswith("/"):
        api_url += "/"
    return SlackSettings(
        destinations=destinations,
        default_destination=default_name,
        bot_token=token,
        api_url=api_url,
        account_names=account_names,
        thread_table=thread_table,
        thread_window=_number(config_env, "CTRULES_SLACK_THREAD_WINDOW", 1),
        grouping=grouping_raw in ("on", "true", "1"),
        per_event=mode == "per_event",
        max_messages=int(_number(config_env, "CTRULES_SLACK_MAX_MESSAGES", 1)),
        rate=_number(config_env, "CTRULES_SLACK_RATE", 0.01),
        burst=int(_number(config_env, "CTRULES_SLACK_BURST", 1)),
        timeout=_number(config_env, "CTRULES_SLACK_TIMEOUT", 0.1),
        max_retries=int(_number(config_env, "CTRULES_SLACK_MAX_RETRIES", 0)),
        max_retry_after=_number(config_env, "CTRULES_SLACK_MAX_RETRY_AFTER", 0),
        backoff_factor=_number(config_env, "CTRULES_SLACK_BACKOFF", 0),
    )


