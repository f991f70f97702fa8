"""Fixtures for the consumer tests: the shared moto server, a bucket, the test rule set and a
runtime wired to them with a recording sink."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import ctrules
from ctrules.aws.runtime import Clients, Runtime
from tests.consumer.support import RULES, RecordingSink
from tests.support.moto_server import aws_client, moto_server, unique  # noqa: F401


@pytest.fixture(scope="session")
def ruleset() -> Any:
    return ctrules.load_rules(RULES)


@pytest.fixture
def s3(moto_server: str) -> Any:  # noqa: F811
    return aws_client(moto_server, "s3")


@pytest.fixture
def bucket(s3: Any) -> str:
    name = unique("ct-logs")
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def make_runtime(moto_server: str, ruleset: Any) -> Callable[..., Runtime]:  # noqa: F811
    def make(sink: Any, env: dict[str, str] | None = None, rules: Any = ruleset) -> Runtime:
        full = {"CTRULES_LOG_LEVEL": "WARNING", "CTRULES_METRICS_NAMESPACE": ""}
        full.update(env or {})
        return Runtime.build(
            full, clients=Clients(endpoint_url=moto_server), sink=sink, ruleset=rules
        )

    return make


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "bigfile: processes a 100 MB log file (runs in CI; about 10-20 s)"
    )
