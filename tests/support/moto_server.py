"""A reusable pytest fixture: moto's standalone server on a free loopback port.

    from tests.support.moto_server import moto_server  # in a conftest.py

    def test_x(moto_server: str) -> None:
        s3 = aws_client(moto_server, "s3")

The server speaks real HTTP on 127.0.0.1; boto3 reaches it through `endpoint_url` (or the
AWS_ENDPOINT_URL variable for subprocesses — see `aws_env`). Dummy credentials and a region are
put in the environment for the whole session so nothing can pick up real ones or reach AWS.
One server serves the session: give resources unique names (`unique("bucket")`).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

REGION = "us-east-1"
DUMMY_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """Start ThreadedMotoServer on 127.0.0.1:<free port>; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    saved = {k: os.environ.get(k) for k in DUMMY_ENV}
    os.environ.update(DUMMY_ENV)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


_clients: dict[tuple[str, str], Any] = {}
_session: Any = None


def aws_client(endpoint: str, service: str) -> Any:
    """A boto3 client for `service` pointed at the moto server (cached: clients are costly)."""
    global _session
    import boto3

    if (endpoint, service) in _clients:
        return _clients[(endpoint, service)]
    if _session is None:
        _session = boto3.session.Session()
    client = _clients[(endpoint, service)] = _session.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - moto's dummy credentials
    )
    return client


def aws_env(endpoint: str, **extra: str) -> dict[str, str]:
    """Environment for a subprocess that must talk to the moto server and nothing else."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(DUMMY_ENV)
    env["AWS_ENDPOINT_URL"] = endpoint
    env.update(extra)
    return env


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"
