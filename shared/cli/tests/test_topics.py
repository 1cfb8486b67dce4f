"""``convene topics create|verify``: the registry's ensure, driven with the CLI's settings
(the ensure itself has its own tests in shared/schemas; here it is replaced by a fake that
records how it was called)."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError
from convene_schemas.topics.ensure import TopicAdminError, TopicResult

from shared.cli.tests.conftest import BOOTSTRAP, Invoke


class FakeEnsure:
    """Stands in for ``ensure_topics``: answers ``results`` (or raises ``error``)."""

    def __init__(self, results: list[TopicResult], error: Exception | None = None) -> None:
        self.results = results
        self.error = error
        self.calls: list[dict[str, Any]] = []

    async def __call__(self, bootstrap: str, **options: Any) -> list[TopicResult]:
        self.calls.append({"bootstrap": bootstrap, **options})
        if self.error is not None:
            raise self.error
        return self.results


@pytest.fixture
def ensure(monkeypatch: pytest.MonkeyPatch) -> FakeEnsure:
    fake = FakeEnsure([TopicResult("meetings.events.v1", "ok"),
                       TopicResult("meetings.events.v1.dlq", "ok")])
    monkeypatch.setattr("convene_cli.topics.ensure_topics", fake)
    return fake


def test_create_changes_the_broker_with_the_services_settings(ensure: FakeEnsure,
                                                              convene: Invoke) -> None:
    ensure.results = [TopicResult("stage.meetings.events.v1", "created", "6 partitions"),
                      TopicResult("stage.meetings.events.v1.dlq", "ok")]

    result = convene("topics", "create", "--replication-factor", "3",
                     env={"CONVENE_TOPIC_PREFIX": "stage."})

    assert result.exit_code == 0, result.output
    assert ensure.calls == [{"bootstrap": BOOTSTRAP, "prefix": "stage.",
                             "replication_factor": 3, "dry_run": False}]
    assert "created       stage.meetings.events.v1  (6 partitions)" in result.stdout
    assert "1 created" in result.stdout


def test_verify_changes_nothing_and_passes_when_everything_matches(ensure: FakeEnsure,
                                                                   convene: Invoke) -> None:
    result = convene("topics", "verify")

    assert result.exit_code == 0, result.output
    assert ensure.calls[0]["dry_run"] is True
    assert "nothing changed: all 2 topics match the registry" in result.stdout


@pytest.mark.parametrize("outcome", ["would create", "would change", "error"])
def test_verify_fails_when_a_topic_is_missing_or_differs(ensure: FakeEnsure, convene: Invoke,
                                                         outcome: str) -> None:
    ensure.results = [TopicResult("meetings.events.v1", outcome, "retention.ms 1 -> 2")]

    result = convene("topics", "verify")

    assert result.exit_code == 1
    assert f"{outcome:<13} meetings.events.v1  (retention.ms 1 -> 2)" in result.stdout


def test_create_fails_when_a_topic_cannot_be_made_to_match(ensure: FakeEnsure,
                                                           convene: Invoke) -> None:
    ensure.results = [TopicResult("meetings.events.v1", "error", "has 12 partitions")]

    result = convene("topics", "create")

    assert result.exit_code == 1
    assert "do not match the registry and were not fixed" in result.stdout


@pytest.mark.parametrize("error, message", [
    (KafkaConnectionError("Unable to bootstrap"), f"cannot talk to Kafka at {BOOTSTRAP}"),
    (TopicAdminError("create x: not authorized"), f"Kafka at {BOOTSTRAP} refused"),
])
def test_kafka_failures_are_one_line_and_exit_3(ensure: FakeEnsure, convene: Invoke,
                                                error: Exception, message: str) -> None:
    ensure.error = error

    result = convene("topics", "create")

    assert result.exit_code == 3
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_replication_factor_must_be_positive(ensure: FakeEnsure, convene: Invoke) -> None:
    result = convene("topics", "create", "--replication-factor", "0")

    assert result.exit_code == 2
    assert ensure.calls == []
