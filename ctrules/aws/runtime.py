"""AWS runtime — what a container builds once and reuses: clients, secrets, the rule set, the
sink, the dedup table and the pipeline.

Both the Lambda handler and the container workers start here. Everything that can be wrong with
the deployment (bad environment value, rule set with errors, unreadable secret, inconsistent
Slack configuration) raises here, at cold start, before any work is taken.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..delivery.base import JsonLinesSink, Sink
from .config import Config
from .dedup import DedupTable
from .logs import log, setup
from .pipeline import Pipeline
from .rulesource import load_ruleset
from .secrets import SecretResolver

logger = logging.getLogger("ctrules.aws.runtime")

ClientFactory = Callable[[str], Any]


_session_lock = threading.Lock()
_session: Any = None


def _shared_session() -> Any:
    """One boto3 session per process: it caches the service models, which makes creating the
    second and later clients cheap (a fresh session re-reads them from disk)."""
    global _session
    with _session_lock:
        if _session is None:
            boto3: Any = importlib.import_module("boto3")
            _session = boto3.session.Session()
        return _session


class Clients:
    """boto3 clients, one per service per container (they are thread-safe).

    `endpoint_url` overrides every service's endpoint; without it botocore's own configuration
    applies (AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE>, region, credentials chain).
    """

    def __init__(self, endpoint_url: str | None = None, region: str | None = None):
        self.endpoint_url = endpoint_url
        self.region = region
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __call__(self, service: str) -> Any:
        with self._lock:
            client = self._clients.get(service)
            if client is None:
                botocore_config: Any = importlib.import_module("botocore.config")
                kwargs: dict[str, Any] = {
                    "config": botocore_config.Config(
                        retries={"mode": "standard", "max_attempts": 5},
                        max_pool_connections=32,
                    )
                }
                if self.endpoint_url:
                    kwargs["endpoint_url"] = self.endpoint_url
                if self.region:
                    kwargs["region_name"] = self.region
                session = _shared_session()
                with _session_lock:  # client creation on a shared session is not thread-safe
                    client = session.client(service, **kwargs)
                self._clients[service] = client
            return client


def build_delivery(
    ruleset: Any, config: Config, secrets: SecretResolver, clients: ClientFactory
) -> Sink:
    """The delivery layer's sink, or JSON lines on stdout when delivery is not installed."""
    try:
        factory: Any = importlib.import_module("ctrules.delivery.factory")
    except ImportError:
        return JsonLinesSink()
    env = config.delivery_env()
    kwargs: dict[str, Any] = {"secret_resolver": secrets}
    if env.get("CTRULES_SLACK_THREAD_TABLE", "").strip():
        kwargs["dynamodb_client"] = clients("dynamodb")
    sink: Sink = factory.build_sink(ruleset, env, **kwargs)
    return sink


def build_stateful(ruleset: Any, config: Config, clients: ClientFactory) -> Any:
    """The stateful rules' engine: DynamoDB state when a table is configured, else memory."""
    if not getattr(ruleset, "stateful_decls", ()):
        return None
    from ..stateful import MemoryStore, StatefulEngine
    from ..stateful.dynamodb import DynamoStore

    if config.state_table:
        return StatefulEngine(ruleset, DynamoStore(clients("dynamodb"), config.state_table))
    log(logger, "warning", "stateful rules without CTRULES_STATE_TABLE: state is per container")
    return StatefulEngine(ruleset, MemoryStore())


@dataclass
class Runtime:
    config: Config
    clients: ClientFactory
    ruleset: Any
    sink: Sink
    dedup: DedupTable | None
    pipeline: Pipeline
    secrets: SecretResolver

    @classmethod
    def build(
        cls,
        env: Mapping[str, str],
        *,
        clients: ClientFactory | None = None,
        sink: Sink | None = None,
        ruleset: Any = None,
    ) -> Runtime:
        config = Config.from_env(env)
        setup(config.log_level)
        clients = clients or Clients()
        secrets = SecretResolver(clients, ttl=config.secret_cache_seconds)
        if ruleset is None:
            ruleset = load_ruleset(
                config.rules, clients("s3") if config.rules.startswith("s3://") else None
            )
        if sink is None:
            sink = build_delivery(ruleset, config, secrets, clients)
        dedup = None
        if config.dedup_table:
            dedup = DedupTable(
                clients("dynamodb"),
                config.dedup_table,
                ttl_seconds=config.dedup_ttl_seconds,
                lease_seconds=config.dedup_lease_seconds,
            )
        pipeline = Pipeline(
            ruleset,
            sink,
            s3=clients("s3"),
            dedup=dedup,
            key_suffixes=config.s3_key_suffixes,
            stateful=build_stateful(ruleset, config, clients),
        )
        log(
            logger,
            "info",
            "runtime ready",
            rules=config.rules,
            sink=type(sink).__name__,
            dedup=config.dedup_table or None,
        )
        return cls(config, clients, ruleset, sink, dedup, pipeline, secrets)
