"""The kit's outbox against real Kafka and the real MongoDB-wire store (FerretDB locally):
publish right after the write, the relay recovers what a crash left behind, and two relays
racing each other still publish every entry."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar

import pytest
from convene_kit.clock import utc_now as utcnow
from convene_kit.kafka import EventPublisher, build_broker
from convene_kit.outbox import (
    Outbox,
    outbox_entries,
    outbox_indexes,
    with_outbox,
)
from convene_kit.relay import OutboxRelay
from convene_kit.settings import ServiceSettings
from convene_kit.store import MongoStore
from convene_kit.testing import create_topics, random_name, read_records, topic_size
from convene_schemas.base import Event
from convene_schemas.envelope import from_kafka_message
from support import load_infra_env

pytestmark = pytest.mark.integration

load_infra_env()
BOOTSTRAP = os.environ.get("CONVENE_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
MONGO_URL = os.environ.get("CONVENE_MONGO_URL", "mongodb://127.0.0.1:37017/")
COLLECTION = "widgets"


class WidgetPlaced(Event):
    EVENT_TYPE: ClassVar[str] = "com.convene.kittest.IntegrationWidgetPlaced"
    SERVICE: ClassVar[str] = "kittest"
    TOPIC: ClassVar[str] = "kittest.outbox.events.v1"
    AGGREGATE_ID_FIELD: ClassVar[str] = "widget_id"
    widget_id: str
    position: int


def placed(widget_id: str, version: int) -> WidgetPlaced:
    return WidgetPlaced(account_id="acc-1", version=version, widget_id=widget_id,
                        position=version * 10, occurred_at=datetime.now(timezone.utc))


def first_half_of_a_lease_window(lease_s: float):
    """A clock that skips the second half of each lease window (where a relay waits for the
    next window), so a test never depends on when in the window it runs."""

    def clock() -> datetime:
        now = utcnow()
        left = lease_s - now.timestamp() % lease_s
        return now + timedelta(seconds=left + 0.5) if left < lease_s / 2 else now

    return clock


class Harness:
    LEASE_S = 60.0

    def __init__(self, settings: ServiceSettings, store: MongoStore, publisher: EventPublisher):
        self.settings = settings
        self.store = store
        self.publisher = publisher
        self.topic = settings.topic(WidgetPlaced.TOPIC)
        self.collection = store.collection(COLLECTION)
        self.clock = first_half_of_a_lease_window(self.LEASE_S)

    def relay(self, replica: str, grace_s: float = 0.0, clock: Any = None) -> OutboxRelay:
        return OutboxRelay(self.store, self.publisher, replica_id=replica,
                           collections=[COLLECTION], grace_s=grace_s, lease_s=self.LEASE_S,
                           batch_size=50, clock=clock or self.clock)


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    settings = ServiceSettings(service_name="kittest", kafka_bootstrap=BOOTSTRAP,
                               mongo_url=MONGO_URL, mongo_database=random_name("kit_outbox"),
                               topic_prefix=random_name("kit") + ".")
    await create_topics(BOOTSTRAP, settings.topic(WidgetPlaced.TOPIC))
    store = MongoStore.from_settings(
        settings, indexes=outbox_indexes([COLLECTION]) + OutboxRelay.indexes())
    await store.connect()
    await store.ensure_indexes()
    broker = build_broker(settings)
    await broker.connect()
    try:
        yield Harness(settings, store, EventPublisher(broker, settings))
    finally:
        await broker.stop()
        await store.client.drop_database(settings.mongo_database)
        await store.close()


def assert_exact_cloudevent(record: Any, entry: dict[str, Any]) -> None:
    """The record on the wire is byte for byte the outbox entry: no extra headers."""
    assert record.key == entry["key"]
    assert record.value == entry["value"]
    assert list(record.headers) == [(h["name"], h["value"]) for h in entry["headers"]]


async def test_write_then_publish_then_pull(harness: Harness) -> None:
    entries = outbox_entries([placed("w-1", 1)])
    doc = with_outbox({"_id": "w-1", "account_id": "acc-1", "version": 1}, entries)
    await harness.collection.insert_one(doc)
    outbox = Outbox(harness.publisher)
    assert await outbox.publish_pending(harness.collection, doc) == 1

    # A change raising two events is a new document (a revision claim), published the same
    # way; here only its _id is handed over, so the outbox is read back first.
    more = outbox_entries([placed("w-1", 2), placed("w-1", 3)])
    await harness.collection.insert_one(
        with_outbox({"_id": "w-1:3", "account_id": "acc-1", "version": 3}, more))
    assert await outbox.publish_pending(harness.collection, "w-1:3") == 2
    assert await outbox.publish_pending(harness.collection, "w-1:3") == 0

    records = await read_records(BOOTSTRAP, harness.topic, expected=3)
    assert len(records) == 3
    for record, entry in zip(records, entries + more, strict=True):
        assert_exact_cloudevent(record, entry)
    versions = [from_kafka_message(r.value, r.headers, r.key).event.version for r in records]
    assert versions == [1, 2, 3]
    for doc_id in ("w-1", "w-1:3"):
        stored = await harness.collection.find_one({"_id": doc_id})
        assert "outbox" not in stored and "outbox_pending_since" not in stored
        assert stored["version"] in (1, 3)


async def test_relay_publishes_what_a_crash_left_behind_exactly_once(harness: Harness) -> None:
    entries = outbox_entries([placed("w-2", 1)])
    # The write happened, the process died before publishing: no publish_pending call.
    await harness.collection.insert_one(with_outbox({"_id": "w-2", "account_id": "acc-1"}, entries))
    patient = harness.relay("replica-a", grace_s=3600)
    assert await patient.sweep_once() == 0  # within the grace period: the writer's turn
    backlog, age = await patient.measure(COLLECTION)
    assert backlog == 1 and age >= 0

    relay = harness.relay("replica-a", grace_s=0.0)
    assert await relay.sweep_once() == 1
    assert await relay.sweep_once() == 0
    records = await read_records(BOOTSTRAP, harness.topic, expected=1)
    assert len(records) == 1
    assert_exact_cloudevent(records[0], entries[0])
    assert await topic_size(BOOTSTRAP, harness.topic) == 1
    stored = await harness.collection.find_one({"_id": "w-2"})
    assert not stored.get("outbox")
    assert "outbox_pending_since" not in stored
    assert await relay.measure(COLLECTION) == (0, 0.0)


async def test_two_relays_racing_publish_every_entry_and_clean_up(harness: Harness) -> None:
    long_ago = datetime.now(timezone.utc) - timedelta(minutes=5)
    expected_ids: list[str] = []
    for n in range(12):
        entries = outbox_entries([placed(f"w-{n}", 1), placed(f"w-{n}", 2)])
        for entry in entries:
            entry["created_at"] = long_ago
        expected_ids += [e["event_id"] for e in entries]
        doc = with_outbox({"_id": f"w-{n}", "account_id": "acc-1"}, entries)
        await harness.collection.insert_one(doc)

    published = await asyncio.gather(
        harness.relay("replica-a").sweep_once(), harness.relay("replica-b").sweep_once()
    )
    assert sum(published) >= len(expected_ids)
    records = await read_records(BOOTSTRAP, harness.topic, expected=len(expected_ids))
    ids = [dict(r.headers)["ce_id"].decode() for r in records]
    assert set(ids) == set(expected_ids)
    # Leases keep the common case exact: no entry went out twice.
    assert len(ids) == len(expected_ids) == sum(published)
    # Per aggregate, version 1 precedes version 2 on the partition.
    for n in range(12):
        versions = [from_kafka_message(r.value, r.headers).event.version
                    for r in records if r.key == f"w-{n}".encode()]
        assert versions == [1, 2]
    pending = {"outbox_pending_since": {"$exists": True}}
    assert await harness.collection.count_documents(pending) == 0
    assert [doc.get("outbox") async for doc in harness.collection.find({})] == [None] * 12


async def test_the_lease_of_a_dead_replica_expires_and_is_taken_over(harness: Harness) -> None:
    entries = outbox_entries([placed("w-9", 1)])
    await harness.collection.insert_one(with_outbox({"_id": "w-9", "account_id": "acc-1"}, entries))
    dead = harness.relay("replica-dead")
    # The dead replica won this window's lease, then died before publishing anything.
    assert await dead.leases.lease(f"{COLLECTION}:w-9", dead.lease, now=harness.clock())
    survivor = harness.relay("replica-b")
    assert await survivor.sweep_once() == 0  # the lease still holds this window

    def next_window() -> datetime:
        return harness.clock() + timedelta(seconds=Harness.LEASE_S)

    survivor_later = harness.relay("replica-b", clock=next_window)
    assert await survivor_later.sweep_once() == 1
    assert await topic_size(BOOTSTRAP, harness.topic) == 1


async def test_a_producer_that_failed_for_good_is_replaced_and_the_outbox_publishes_again(
        harness: Harness) -> None:
    from aiokafka.errors import KafkaConnectionError, OutOfOrderSequenceNumber
    from convene_kit.kafka import aiokafka_producer
    from convene_kit.store import is_infrastructure_error

    broker = harness.publisher.broker
    broken = aiokafka_producer(broker)
    assert broken is not None

    async def fails_for_good(*args: Any, **kwargs: Any) -> None:
        # what aiokafka's idempotent producer answers to every send once its sequence broke
        # (seen after a 30 s Kafka outage in the resilience suite)
        raise OutOfOrderSequenceNumber()

    broken.send_and_wait = fails_for_good  # type: ignore[method-assign]
    entries = outbox_entries([placed("w-9", 1)])
    doc = with_outbox({"_id": "w-9", "account_id": "acc-1", "version": 1}, entries)
    await harness.collection.insert_one(doc)
    outbox = Outbox(harness.publisher)
    with pytest.raises(KafkaConnectionError) as refused:
        await outbox.publish_pending(harness.collection, doc)
    assert is_infrastructure_error(refused.value)  # retried in place, never dead-lettered
    renewed = aiokafka_producer(broker)
    assert renewed is not None and renewed is not broken
    assert (await harness.collection.find_one({"_id": "w-9"}))["outbox"]  # still waiting
    assert await outbox.publish_pending(harness.collection, "w-9") == 1  # the new producer
    [record] = await read_records(BOOTSTRAP, harness.topic, expected=1)
    assert_exact_cloudevent(record, entries[0])


async def test_a_publish_kafka_does_not_acknowledge_gives_up_in_time_and_the_outbox_keeps_it(
        harness: Harness) -> None:
    """aiokafka's idempotent producer never expires a record while Kafka is unreachable, so
    a POST that publishes after its write waited out the whole outage (45 s without an
    answer in the resilience suite's Kafka black hole). The wait is bounded; the event stays
    in the outbox and goes out once Kafka answers."""
    from aiokafka.errors import KafkaTimeoutError
    from convene_kit.kafka import aiokafka_producer
    from convene_kit.store import is_infrastructure_error

    settings = harness.settings.model_copy(update={"kafka_publish_timeout_s": 0.5})
    publisher = EventPublisher(harness.publisher.broker, settings)
    producer = aiokafka_producer(publisher.broker)
    assert producer is not None
    unreachable = asyncio.Event()

    async def never_acknowledged(*args: Any, **kwargs: Any) -> None:
        await unreachable.wait()  # what a record in a Kafka black hole does

    sends = producer.send_and_wait
    producer.send_and_wait = never_acknowledged  # type: ignore[method-assign]
    entries = outbox_entries([placed("w-10", 1)])
    doc = with_outbox({"_id": "w-10", "account_id": "acc-1", "version": 1}, entries)
    await harness.collection.insert_one(doc)
    started = asyncio.get_running_loop().time()
    with pytest.raises(KafkaTimeoutError) as gave_up:
        await Outbox(publisher).publish_pending(harness.collection, doc)
    assert asyncio.get_running_loop().time() - started < 5
    assert is_infrastructure_error(gave_up.value)
    assert (await harness.collection.find_one({"_id": "w-10"}))["outbox"]  # still waiting
    producer.send_and_wait = sends  # type: ignore[method-assign]
    assert await harness.relay("replica-a").sweep_once() == 1
    [record] = await read_records(BOOTSTRAP, harness.topic, expected=1)
    assert_exact_cloudevent(record, entries[0])
