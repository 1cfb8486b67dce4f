"""Fixtures of the CLI's tests: ``convene`` through click's CliRunner, with the
environment a service would have, and Kafka replaced by :mod:`kafka_fakes`."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import pytest
from click.testing import CliRunner, Result
from convene_cli.app import cli

# Test modules are imported by path (--import-mode=importlib); the repository root is on
# sys.path (pytest's pythonpath), so the helpers are reached as a namespace package.
from shared.cli.tests.kafka_fakes import FakeAdminClient, FakeCluster, FakeConsumer, FakeProducer

BOOTSTRAP = "kafka.fake:9092"

Invoke = Callable[..., Result]


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch) -> FakeCluster:
    """An in-memory Kafka behind every aiokafka client the DLQ commands create."""
    fake = FakeCluster()
    monkeypatch.setattr("convene_kit.dlq.AIOKafkaAdminClient", partial(FakeAdminClient, fake))
    monkeypatch.setattr("convene_kit.dlq.AIOKafkaConsumer", partial(FakeConsumer, fake))
    monkeypatch.setattr("convene_kit.dlq.AIOKafkaProducer", partial(FakeProducer, fake))
    monkeypatch.setattr("convene_cli.dead_letters.AIOKafkaConsumer", partial(FakeConsumer, fake))
    return fake


@pytest.fixture
def convene(tmp_path) -> Invoke:
    """Run ``convene ARGS...``; the environment is a service's, with ``env`` on top
    (a None value unsets a variable)."""

    def invoke(*args: str, env: dict[str, str | None] | None = None) -> Result:
        base: dict[str, str | None] = {
            "CONVENE_KAFKA_BOOTSTRAP": BOOTSTRAP, "CONVENE_TOPIC_PREFIX": None,
            "CONVENE_HOME": str(tmp_path / "home"), "CONVENE_JWT_AUDIENCE": None,
            "CONVENE_JWT_ISSUER": None,
        }
        return CliRunner().invoke(cli, list(args), env={**base, **(env or {})},
                                  prog_name="convene", catch_exceptions=False)

    return invoke
