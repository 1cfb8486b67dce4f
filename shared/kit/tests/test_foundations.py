"""Settings, account scoping, error classification, DLQ headers and the event publisher."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Any, ClassVar

import pytest
from aiokafka.errors import KafkaConnectionError, NotLeaderForPartitionError
from convene_kit import dlq
from convene_kit.kafka import EventPublisher, build_broker
from convene_kit.settings import ServiceSettings
from convene_kit.store import (
    AccountScopedCollection,
    AccountScopeError,
    InfrastructureError,
    is_infrastructure_error,
    scoped_filter,
)
from convene_schemas.base import Event
from convene_schemas.envelope import to_kafka_message
from faststream.kafka import KafkaBroker, TestKafkaBroker
from pymongo.errors import (
    AutoReconnect,
    DuplicateKeyError,
    NetworkTimeout,
    OperationFailure,
    ServerSelectionTimeoutError,
)


class GadgetMade(Event):
    EVENT_TYPE: ClassVar[str] = "com.convene.kittest.FoundationGadgetMade"
    SERVICE: ClassVar[str] = "kittest"
    TOPIC: ClassVar[str] = "kittest.foundation.v1"
    AGGREGATE_ID_FIELD: ClassVar[str] = "gadget_id"
    gadget_id: str


def test_settings_come_from_convene_env(monkeypatch) -> None:
    for name in [n for n in os.environ if n.startswith("CONVENE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CONVENE_SERVICE_NAME", "calendar-sync")
    monkeypatch.setenv("CONVENE_KAFKA_BOOTSTRAP", "kafka:9092")
    monkeypatch.setenv("CONVENE_TOPIC_PREFIX", "t1.")
    monkeypatch.setenv("CONVENE_LOG_LEVEL", "debug")
    settings = ServiceSettings()
    assert settings.kafka_bootstrap == "kafka:9092"
    assert settings.mongo_database == "convene_calendar_sync"
    assert settings.mongo_url == "mongodb://127.0.0.1:37017/"
    assert settings.topic("meetings.events.v1") == "t1.meetings.events.v1"
    assert settings.log_level == "DEBUG"
    assert settings.consumer_group == "t1.calendar-sync"  # groups follow the topic prefix
    assert settings.jwt_audience == "convene" and settings.jwt_issuer == "convene-gateway"


def test_a_service_subclass_adds_its_own_fields(monkeypatch) -> None:
    class MeetingsSettings(ServiceSettings):
        service_name: str = "meetings"
        reminder_lead_minutes: int = 15

    monkeypatch.setenv("CONVENE_REMINDER_LEAD_MINUTES", "30")
    settings = MeetingsSettings()
    assert settings.reminder_lead_minutes == 30
    assert settings.mongo_database == "convene_meetings"


def test_scoped_filter_injects_and_guards_the_account() -> None:
    assert scoped_filter("acc-1", {"_id": "m-1"}) == {"_id": "m-1", "account_id": "acc-1"}
    with pytest.raises(AccountScopeError):
        scoped_filter("", {"_id": "m-1"})
    with pytest.raises(AccountScopeError):
        scoped_filter("acc-1", {"account_id": "acc-2"})


class RecordingCollection:
    name = "meetings"

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    async def find_one(self, query, **kwargs):
        self.calls.append(("find_one", query))
        return None

    async def insert_one(self, doc):
        self.calls.append(("insert_one", doc))
        return type("R", (), {"inserted_id": doc.get("_id")})()

    async def update_one(self, query, update, upsert=False):
        self.calls.append(("update_one", query))
        return type("R", (), {"matched_count": 1})()

    async def delete_one(self, query):
        self.calls.append(("delete_one", query))
        return type("R", (), {"deleted_count": 1})()


async def test_account_scoped_collection_scopes_every_operation() -> None:
    raw = RecordingCollection()
    meetings = AccountScopedCollection(raw)  # type: ignore[arg-type]
    await meetings.find_one("acc-1", {"_id": "m-1"})
    await meetings.update_one("acc-1", {"_id": "m-1"}, {"$set": {"title": "x"}})
    await meetings.delete_one("acc-1", {"_id": "m-1"})
    await meetings.insert_one("acc-1", {"_id": "m-2"})
    assert [q for _, q in raw.calls[:3]] == [{"_id": "m-1", "account_id": "acc-1"}] * 3
    assert raw.calls[3][1]["account_id"] == "acc-1"
    with pytest.raises(AccountScopeError):
        await meetings.insert_one("acc-1", {"_id": "m-3", "account_id": "acc-2"})
    with pytest.raises(AccountScopeError):
        await meetings.find_one("", {"_id": "m-1"})


@pytest.mark.parametrize(
    "exc",
    [AutoReconnect("x"), NetworkTimeout("x"), ServerSelectionTimeoutError("x"),
     KafkaConnectionError(), NotLeaderForPartitionError(), InfrastructureError("x"),
     ConnectionRefusedError(), TimeoutError()],
)
def test_infrastructure_errors(exc: BaseException) -> None:
    assert is_infrastructure_error(exc)


@pytest.mark.parametrize(
    "exc", [ValueError("bad"), KeyError("k"), DuplicateKeyError("dup"), RuntimeError("bug")],
)
def test_message_errors(exc: BaseException) -> None:
    assert not is_infrastructure_error(exc)


def test_a_ferretdb_backend_timeout_is_an_outage_not_a_bug() -> None:
    # As FerretDB answered an update while PostgreSQL was overloaded (seen in make bench).
    message = ("[msg_update.go:133 handler.(*Handler).updateDocument] [update.go:114 "
               "common.UpdateDocument] [collection.go:227 postgresql.(*collection).UpdateAll] "
               "timeout: read tcp 127.0.0.1:43778->127.0.0.1:15433: i/o timeout")
    assert is_infrastructure_error(OperationFailure(message, 1, {"ok": 0.0, "errmsg": message,
                                                                 "code": 1,
                                                                 "codeName": "InternalError"}))
    assert not is_infrastructure_error(OperationFailure("unknown operator: $foo", 2))
    assert not is_infrastructure_error(OperationFailure("some other internal error", 1))


def test_postgresql_shutting_down_under_ferretdb_is_an_outage_not_a_bug() -> None:
    # As FerretDB answered a find while PostgreSQL stopped (the resilience suite's outage):
    # answered 500 by meetings before.
    message = ("[msg_find.go:344 handler.handleMaxTimeMSError] [query_iterator.go:92 "
               "postgresql.(*queryIterator).Next] FATAL: terminating connection due to "
               "administrator command (SQLSTATE 57P01)")
    assert is_infrastructure_error(OperationFailure(message, 1, {"ok": 0.0, "errmsg": message,
                                                                 "code": 1,
                                                                 "codeName": "InternalError"}))


def test_infrastructure_cause_is_found_through_wrapping() -> None:
    try:
        try:
            raise AutoReconnect("primary stepped down")
        except AutoReconnect as inner:
            raise RuntimeError("repository failed") from inner
    except RuntimeError as outer:
        assert is_infrastructure_error(outer)


def test_dead_letter_headers_replace_older_provenance() -> None:
    original = [("ce_id", b"e-1"), ("dlq_reason", b"stale"), ("x-bin", b"\xff\xfe")]
    headers = dlq.dead_letter_headers(
        original, topic="meetings.events.v1", partition=2, offset=17, group="notifications",
        reason="validation_failed", error=ValueError("token=abc bad field"),
        failed_at=datetime(2026, 2, 1, tzinfo=timezone.utc),
    )
    as_dict = dict(headers)
    assert dlq.strip_dlq_headers(headers) == [("ce_id", b"e-1"), ("x-bin", b"\xff\xfe")]
    assert as_dict["dlq_source_partition"] == b"2"
    assert as_dict["dlq_source_offset"] == b"17"
    assert as_dict["dlq_reason"] == b"validation_failed"
    assert as_dict["dlq_failed_at"] == b"2026-02-01T00:00:00.000+00:00"
    assert b"abc" not in as_dict["dlq_error_message"]
    assert [name for name, _ in headers].count("dlq_reason") == 1


def test_replay_cli_requires_a_bound_and_a_dlq_topic(capsys) -> None:
    with pytest.raises(SystemExit):
        dlq.main(["replay", "--bootstrap", "b:1", "--dlq-topic", "t.dlq", "--from-offset", "0"])
    with pytest.raises(SystemExit):
        dlq.main(["replay", "--bootstrap", "b:1", "--dlq-topic", "t.dlq", "--from-offset", "0",
                  "--to-offset", "3", "--limit", "1"])
    with pytest.raises(SystemExit):
        dlq.main(["replay", "--bootstrap", "b:1", "--dlq-topic", "t", "--from-offset", "0",
                  "--limit", "1"])


def test_build_broker_uses_an_idempotent_producer_with_acks_all() -> None:
    broker = build_broker(ServiceSettings(service_name="meetings", kafka_bootstrap="k:1"))
    params = broker._connection_kwargs
    assert params["enable_idempotence"] is True
    assert params["acks"] == "all"
    assert params["client_id"] == "meetings"
    assert params["bootstrap_servers"] == ["k:1"]
    assert broker.config.broker_config.allow_auto_create_topics is False


@pytest.mark.contract  # the rest of this module is unit tests
async def test_event_publisher_sends_the_cloudevents_record_to_the_prefixed_topic() -> None:
    broker = KafkaBroker()
    seen: list[Any] = []

    async def keep_raw(record: Any, original: Any) -> Any:
        seen.append(record)
        return await original(record)

    @broker.subscriber("pfx.kittest.foundation.v1", parser=keep_raw)
    async def listener(body: Any) -> None:
        return None

    settings = ServiceSettings(service_name="kittest", topic_prefix="pfx.")
    event = GadgetMade(account_id="acc-1", version=1, gadget_id="g-1",
                       occurred_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    async with TestKafkaBroker(broker) as br:
        record = await EventPublisher(br, settings).publish(event, event_id="ev-1")
    assert record == to_kafka_message(event, event_id="ev-1")
    assert len(seen) == 1
    assert seen[0].key == b"g-1"
    assert seen[0].value == record.value
    wire = dict(seen[0].headers)
    for name, value in record.headers:
        assert wire[name] == value
