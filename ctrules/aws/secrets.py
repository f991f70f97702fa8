"""AWS runtime — secret references (SSM Parameter Store, Secrets Manager), resolved and cached
per container.

A configuration value written `ssm:/name`, `secretsmanager:name` or as the ARN of either is read
from AWS once and kept for `ttl` seconds (0: the container's lifetime), so a warm Lambda does not
call SSM per invocation yet a rotated secret is picked up. Values are never logged.
"""

from __future__ import annotations

import importlib
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

ClientFactory = Callable[[str], Any]


class SecretError(RuntimeError):
    """A secret reference could not be read (the message names the reference, not a value)."""


# Any partition: arn:aws:, arn:aws-us-gov:, arn:aws-cn:, arn:aws-iso-b:, ...
SECRET_ARN = re.compile(r"arn:aws(?:-[a-z]+)*:(ssm|secretsmanager):")


def is_secret_ref(value: str) -> bool:
    return value.startswith(("ssm:", "secretsmanager:")) or SECRET_ARN.match(value) is not None


class SecretResolver:
    def __init__(
        self,
        clients: ClientFactory,
        ttl: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._clients = clients
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self.fetches = 0

    def __call__(self, ref: str) -> str:
        return self.resolve(ref)

    def resolve(self, ref: str) -> str:
        """The plain value of a reference; a value that is not a reference is returned as is."""
        if not is_secret_ref(ref):
            return ref
        now = self._clock()
        with self._lock:
            hit = self._cache.get(ref)
            if hit is not None and (self._ttl <= 0 or now - hit[1] < self._ttl):
                return hit[0]
        value = self._fetch(ref)
        with self._lock:
            self._cache[ref] = (value, now)
            self.fetches += 1
        return value

    def _fetch(self, ref: str) -> str:
        try:
            arn = SECRET_ARN.match(ref)
            if ref.startswith("ssm:") or (arn is not None and arn.group(1) == "ssm"):
                name = ref[4:] if ref.startswith("ssm:") else ref
                response = self._clients("ssm").get_parameter(Name=name, WithDecryption=True)
                return str(response["Parameter"]["Value"])
            secret_id = ref[len("secretsmanager:") :] if ref.startswith("secretsmanager:") else ref
            response = self._clients("secretsmanager").get_secret_value(SecretId=secret_id)
            if "SecretString" in response:
                return str(response["SecretString"])
            return bytes(response["SecretBinary"]).decode("utf-8")
        except Exception as exc:  # botocore errors; the reference (not a value) is safe to show
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
            raise SecretError(f"cannot read secret {ref!r}: {code}") from exc


def local_resolver(env: Mapping[str, str]) -> SecretResolver | None:
    """A resolver for command-line use (boto3's default credentials and region), or None when
    no value in `env` is a reference (so boto3 is not even imported)."""
    if not any(is_secret_ref(v) for v in env.values()):
        return None
    boto3: Any = importlib.import_module("boto3")
    return SecretResolver(lambda service: boto3.client(service))
