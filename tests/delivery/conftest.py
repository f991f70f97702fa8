"""Fixtures for the Slack delivery tests: the local Slack server, a moto server for the thread
table, and small real rule sets written here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.delivery.delivery_support import RULES
from tests.support.slack_server import slack_server  # noqa: F401

try:  # the consumer engineer's fixture, when it exists
    from tests.support.moto_server import moto_server as _shared_moto  # noqa: F401

    HAVE_SHARED_MOTO = True
except ImportError:
    HAVE_SHARED_MOTO = False


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A standalone moto server on a free loopback port (real HTTP, no patching)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def dynamodb(moto_endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "dynamodb",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - moto's dummy credentials
    )


@pytest.fixture(scope="session")
def ruleset(tmp_path_factory: pytest.TempPathFactory) -> Any:
    import ctrules

    path = tmp_path_factory.mktemp("rules") / "delivery.ctr"
    path.write_text(RULES)
    return ctrules.load_rules(path)
