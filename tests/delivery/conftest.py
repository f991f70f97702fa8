"""Fixtures for the Slack delivery tests: the local Slack server, the shared moto server for the
thread table, and a small real rule set (tests/delivery/delivery_support.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.delivery.delivery_support import RULES
from tests.support.moto_server import aws_client, moto_server  # noqa: F401
from tests.support.slack_server import slack_server  # noqa: F401


@pytest.fixture
def dynamodb(moto_server: str) -> Any:  # noqa: F811 - the fixture imported above
    """A DynamoDB client on the shared moto server (tests/support/moto_server.py)."""
    return aws_client(moto_server, "dynamodb")


@pytest.fixture(scope="session")
def ruleset(tmp_path_factory: pytest.TempPathFactory) -> Any:
    import ctrules

    path = tmp_path_factory.mktemp("rules") / "delivery.ctr"
    path.write_text(RULES)
    return ctrules.load_rules(path)
