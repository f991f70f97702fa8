"""AWS runtime — configuration: every environment variable the Lambda handler and the container
workers read, in one table.

`ENVIRONMENT` is the contract with deployment (the Terraform module, the Dockerfiles and
docs/configuration.md are written against it): names here are stable. `Config.from_env` parses
and validates them once per container; a bad value fails at cold start with a message naming the
variable, never half-way through a batch.

Values documented as accepting a *secret reference* may be given as `ssm:/parameter/name`,
`secretsmanager:secret-name` (or the full ARN of either); the consumer resolves them through
`ctrules.aws.secrets` (cached per container) before handing the configuration to delivery, so
secret values never sit in the Lambda configuration or in logs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..delivery.settings import SLACK_ENVIRONMENT, EnvVar


class ConfigError(ValueError):
    """An environment variable has a value the runtime cannot use."""


_RUNTIME_ENVIRONMENT: tuple[EnvVar, ...] = (
    # -- rules --------------------------------------------------------------------------------
    EnvVar(
        "CTRULES_RULES",
        "default",
        False,
        "Rule set to load once per container. `default`: the pack bundled with the package. A "
        "local path: a .ctr file or a directory of .ctr files (relative paths are relative to "
        "the working directory, /var/task in Lambda). `s3://bucket/key.ctr` or "
        "`s3://bucket/prefix/`: one object, or every .ctr object under the prefix. A rule set "
        "with errors fails the cold start with its `ctrules check` diagnostics in the log.",
    ),
    # -- delivery: the CTRULES_SLACK_* variables are read by ctrules.delivery.build_sink and
    # merged into this table below (see SLACK_ENVIRONMENT in ctrules/delivery/factory.py).
    EnvVar(
        "CTRULES_DESTINATIONS",
        "",
        True,
        "Alias of CTRULES_SLACK_DESTINATIONS (used when that is not set); prefer the latter.",
    ),
    EnvVar(
        "CTRULES_THREAD_TABLE",
        "",
        False,
        "Alias of CTRULES_SLACK_THREAD_TABLE (used when that is not set); prefer the latter.",
    ),
    # -- stateful rules (ctrules.stateful) ----------------------------------------------------
    EnvVar(
        "CTRULES_STATE_TABLE",
        "",
        False,
        "DynamoDB table (partition key `pk`, string; TTL attribute `expires_at` enabled) "
        "holding the state of stateful rules (count, distinct, first_seen, sequence) across "
        "invocations and workers. Empty: state is kept in memory, per container (a rule set "
        "with stateful rules then logs a warning: counts are not shared between concurrent "
        "invocations).",
    ),
    # -- duplicates -----------------------------------------------------------------------------
    EnvVar(
        "CTRULES_DEDUP_TABLE",
        "",
        False,
        "DynamoDB table (partition key `pk`, string; TTL attribute `expires_at` enabled) that "
        "makes delivery once-only per (rule, eventID) across retries, workers and kills, by a "
        "conditional put. Empty: no deduplication (a retried file may alert twice).",
    ),
    EnvVar(
        "CTRULES_DEDUP_TTL_SECONDS",
        "1209600",
        False,
        "How long a (rule, eventID) claim is kept in the dedup table. Default 14 days: longer "
        "than SQS's maximum retention, so every redelivery is covered.",
    ),
    EnvVar(
        "CTRULES_DEDUP_LEASE_SECONDS",
        "300",
        False,
        "How long a worker's claim on a (rule, eventID) stays exclusive while it delivers. A "
        "worker that dies mid-delivery holds the claim this long; the retried message is then "
        "delivered by the next worker (never dropped as a duplicate).",
    ),
    # -- sources --------------------------------------------------------------------------------
    EnvVar(
        "CTRULES_S3_KEY_SUFFIXES",
        ".json.gz,.json",
        False,
        "Comma-separated key suffixes treated as CloudTrail log files. Other keys, and "
        "CloudTrail digest files (`/CloudTrail-Digest/`) always, are skipped and counted.",
    ),
    # -- observability --------------------------------------------------------------------------
    EnvVar(
        "CTRULES_LOG_LEVEL",
        "INFO",
        False,
        "DEBUG, INFO, WARNING or ERROR. Logs are JSON lines on stderr (CloudWatch Logs in "
        "Lambda).",
    ),
    EnvVar(
        "CTRULES_METRICS_NAMESPACE",
        "ctrules",
        False,
        "CloudWatch namespace of the Embedded Metric Format lines written per invocation / "
        "batch (files, records, bad records, matched, ignored, alerts per rule, delivery "
        "failures, duplicates). Empty: no metric lines.",
    ),
    EnvVar(
        "CTRULES_ACCESS_DENIED_METRICS",
        "false",
        False,
        "true: also write the fivexl module's metrics, TotalAccessDeniedEvents (every record "
        "whose errorCode starts with AccessDenied, alerting or not) and "
        "TotalIgnoredAccessDeniedEvents (those an ignore suppressed), in the namespace "
        "CloudTrailToSlack/AccessDeniedEvents with its `AccessDenied` dimension, so existing "
        "dashboards and alarms keep working. Needs CTRULES_METRICS_NAMESPACE non-empty.",
    ),
    EnvVar(
        "CTRULES_SECRET_CACHE_SECONDS",
        "900",
        False,
        "How long a resolved secret reference is cached in the container before it is read "
        "again (so a rotated webhook is picked up without a redeploy). 0: for the container's "
        "lifetime.",
    ),
    # -- container workers (defaults for `ctrules consume ...` flags) -----------------------
    EnvVar(
        "CTRULES_SQS_QUEUE_URL",
        "",
        False,
        "Container worker: the queue `ctrules consume sqs` reads when --queue is not given.",
    ),
    EnvVar(
        "CTRULES_CONCURRENCY",
        "4",
        False,
        "Container worker: messages (files) processed in parallel by one worker.",
    ),
    EnvVar(
        "CTRULES_VISIBILITY_TIMEOUT",
        "300",
        False,
        "Container worker: seconds a received SQS message stays invisible; the worker extends "
        "it while a long file is still being processed.",
    ),
    EnvVar(
        "CTRULES_KINESIS_STREAM",
        "",
        False,
        "Container worker: the stream `ctrules consume kinesis` reads when --stream is not "
        "given.",
    ),
    EnvVar(
        "CTRULES_CHECKPOINT_TABLE",
        "",
        False,
        "Container worker: DynamoDB table (partition key `pk`, string) holding the Kinesis "
        "worker's per-shard checkpoints so a restart resumes where it stopped.",
    ),
    EnvVar(
        "CTRULES_CHECKPOINT_FILE",
        "",
        False,
        "Container worker: local JSON file for Kinesis checkpoints when no table is set (put it"
        " on a persistent volume). Neither set: start at LATEST on every start.",
    ),
)

ENVIRONMENT: dict[str, EnvVar] = {var.name: var for var in _RUNTIME_ENVIRONMENT}


# Delivery's own knobs, documented where they are read and listed here so that this one table
# covers every variable the runtime reads.
ALIASES = {
    "CTRULES_DESTINATIONS": "CTRULES_SLACK_DESTINATIONS",
    "CTRULES_THREAD_TABLE": "CTRULES_SLACK_THREAD_TABLE",
}
for _var in SLACK_ENVIRONMENT:
    ENVIRONMENT.setdefault(_var.name, _var)


def markdown_table() -> str:
    """The variables table of docs/configuration.md (`python -m ctrules.aws.config` prints it;
    a test keeps the page equal to it)."""
    rows = [
        "| name | default | secret ok | meaning |",
        "|---|---|---|---|",
    ]
    for name, var in ENVIRONMENT.items():
        default = f"`{var.default}`" if var.default else "—"
        meaning = " ".join(var.description.replace("|", "\\|").split())
        rows.append(f"| `{name}` | {default} | {'yes' if var.secret_ok else ''} | {meaning} |")
    return "\n".join(rows) + "\n"


def _int(env: Mapping[str, str], name: str, minimum: int) -> int:
    raw = env.get(name, "").strip() or ENVIRONMENT[name].default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected a whole number") from None
    if value < minimum:
        raise ConfigError(f"{name}={raw!r}: must be at least {minimum}")
    return value


def _str(env: Mapping[str, str], name: str) -> str:
    value = env.get(name)
    if value is None or not value.strip():
        return ENVIRONMENT[name].default
    return value.strip()


_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True)
class Config:
    """The runtime's settings, parsed from the environment once per container."""

    rules: str = "default"
    dedup_table: str = ""
    dedup_ttl_seconds: int = 1209600
    dedup_lease_seconds: int = 300
    s3_key_suffixes: tuple[str, ...] = (".json.gz", ".json")
    log_level: str = "INFO"
    metrics_namespace: str = "ctrules"
    access_denied_metrics: bool = False
    secret_cache_seconds: int = 900
    queue_url: str = ""
    concurrency: int = 4
    visibility_timeout: int = 300
    stream: str = ""
    checkpoint_table: str = ""
    checkpoint_file: str = ""
    state_table: str = ""
    # Everything the process was given, for the delivery layer; may hold secrets: no repr.
    env: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    def delivery_env(self) -> dict[str, str]:
        """The environment handed to `build_sink`, with the legacy aliases applied."""
        env = dict(self.env)
        for alias, name in ALIASES.items():
            if env.get(alias, "").strip() and not env.get(name, "").strip():
                env[name] = env[alias]
        return env

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Config:
        level = _str(env, "CTRULES_LOG_LEVEL").upper()
        if level not in _LEVELS:
            raise ConfigError(f"CTRULES_LOG_LEVEL={level!r}: expected one of {', '.join(_LEVELS)}")
        suffixes = tuple(
            s.strip() for s in _str(env, "CTRULES_S3_KEY_SUFFIXES").split(",") if s.strip()
        )
        if not suffixes:
            raise ConfigError("CTRULES_S3_KEY_SUFFIXES: no suffix given")
        # Namespace may be deliberately empty (metrics off), so read it without the default.
        namespace = env.get("CTRULES_METRICS_NAMESPACE")
        return cls(
            rules=_str(env, "CTRULES_RULES"),
            dedup_table=_str(env, "CTRULES_DEDUP_TABLE"),
            dedup_ttl_seconds=_int(env, "CTRULES_DEDUP_TTL_SECONDS", 60),
            dedup_lease_seconds=_int(env, "CTRULES_DEDUP_LEASE_SECONDS", 1),
            s3_key_suffixes=suffixes,
            log_level=level,
            metrics_namespace=(
                ENVIRONMENT["CTRULES_METRICS_NAMESPACE"].default
                if namespace is None
                else namespace.strip()
            ),
            access_denied_metrics=_str(env, "CTRULES_ACCESS_DENIED_METRICS").lower()
            in ("1", "true", "yes", "on"),
            secret_cache_seconds=_int(env, "CTRULES_SECRET_CACHE_SECONDS", 0),
            queue_url=_str(env, "CTRULES_SQS_QUEUE_URL"),
            concurrency=_int(env, "CTRULES_CONCURRENCY", 1),
            visibility_timeout=_int(env, "CTRULES_VISIBILITY_TIMEOUT", 10),
            stream=_str(env, "CTRULES_KINESIS_STREAM"),
            checkpoint_table=_str(env, "CTRULES_CHECKPOINT_TABLE"),
            checkpoint_file=_str(env, "CTRULES_CHECKPOINT_FILE"),
            state_table=_str(env, "CTRULES_STATE_TABLE"),
            env=dict(env),
        )


if __name__ == "__main__":
    print(markdown_table(), end="")
