"""A whole service process wired from the kit, against real Kafka and the real store:
readiness, a handler that writes through the outbox, duplicate delivery, retries that
outlast the poll budget, and a clean shutdown that commits what was processed."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Any, ClassVar

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from convene_kit.consumer import subscribe_events
from convene_kit.http import create_app
from convene_kit.idempotency import ProcessedEvents
from convene_kit.kafka import EventPublisher, build_broker
from convene_kit.outbox import Outbox, outbox_entries, with_outbox
from convene_kit.relay import OutboxRelay
from convene_kit.runtime import ServiceRuntime
from convene_kit.settings import ServiceSettings
from convene_kit.store import MongoStore
from convene_kit.testing import (
    committed_offset,
    create_topics,
    eventually,
    random_name,
    read_records,
    topic_size,
)
from convene_schemas.base import Event
from convene_schemas.envelope import Envelope, from_kafka_message, to_kafka_message
from pymongo.errors import AutoReconnect
from support import load_infra_env

pytestmark = pytest.mark.integration

load_infra_env()
BOOTSTRAP = os.environ.get("CONVENE_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
MONGO_URL = os.environ.get("CONVENE_MONGO_URL", "mongodb://127.0.0.1:37017/")


class OrderPlaced(Event):
    EVENT_TYPE: ClassVar[str] = "com.convene.kittest.RuntimeOrderPlaced"
    SERVICE: ClassVar[str] = "kittest"
    TOPIC: ClassVar[str] = "kittest.runtime.orders.v1"
    AGGREGATE_ID_FIELD: ClassVar[str] = "order_id"
    order_id: str


class InvoiceRaised(Event):
    EVENT_TYPE: ClassVar[str] = "com.convene.kittest.RuntimeInvoiceRaised"
    SERVICE: ClassVar[str] = "kittest"
    TOPIC: ClassVar[str] = "kittest.runtime.invoices.v1"
    AGGREGATE_ID_FIELD: ClassVar[str] = "invoice_id"
    invoice_id: str
    order_id: str


def order(order_id: str) -> OrderPlaced:
    return OrderPlaced(account_id="acc-1", version=1, order_id=order_id,
                       occurred_at=datetime.now(timezone.utc))


async def produce(topic: str, *events: tuple[Event, str]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for event, event_id in events:
            record = to_kafka_message(event, event_id=event_id)
            await producer.send_and_wait(topic, value=record.value, key=record.key,
                                         headers=record.headers)
    finally:
        await producer.stop()


async def test_a_service_process_end_to_end() -> None:
    settings = ServiceSettings(
        service_name=random_name("kit-billing"), kafka_bootstrap=BOOTSTRAP,
        mongo_url=MONGO_URL, mongo_database=random_name("kit_runtime").replace("-", "_"),
        topic_prefix=random_name("kitr") + ".", outbox_sweep_interval_s=0.2,
        outbox_grace_s=0.5, consumer_retry_initial_s=0.01, shutdown_grace_s=5,
    )
    orders_topic = settings.topic(OrderPlaced.TOPIC)
    invoices_topic = settings.topic(InvoiceRaised.TOPIC)
    await create_topics(BOOTSTRAP, orders_topic, orders_topic + ".dlq", invoices_topic)

    # bootstrap -> broker -> store -> subscribers -> app, as a service's bootstrap.py does
    broker = build_broker(settings)
    store = MongoStore.from_settings(settings)
    outbox = None
    handled: list[str] = []

    async def on_order_placed(envelope: Envelope) -> None:
        placed = envelope.event
        assert isinstance(placed, OrderPlaced)
        handled.append(envelope.id)
        invoice = InvoiceRaised(account_id=placed.account_id, version=1,
                                invoice_id=f"inv-{placed.order_id}", order_id=placed.order_id,
                                occurred_at=datetime.now(timezone.utc))
        doc = with_outbox({"_id": invoice.invoice_id, "account_id": invoice.account_id},
                          outbox_entries([invoice]))
        invoices = store.collection("invoices")
        await invoices.insert_one(doc)
        await outbox.publish_pending(invoices, doc)

    processed = ProcessedEvents(store.collection("processed_events"), settings.consumer_group)
    consumer = subscribe_events(broker, settings, [OrderPlaced.TOPIC],
                                {OrderPlaced: on_order_placed}, processed_events=processed)
    publisher = EventPublisher(broker, settings)
    relay = OutboxRelay.from_settings(store, publisher, settings, collections=["invoices"])
    runtime = ServiceRuntime(settings, broker=broker, store=store, consumer=consumer, relay=relay)
    outbox = Outbox(publisher)
    app = create_app(settings, readiness_checks=runtime.readiness_checks(),
                     lifespan=runtime.lifespan)

    transport = httpx.ASGITransport(app=app)
    async with runtime.lifespan(app), httpx.AsyncClient(transport=transport,
                                                        base_url="http://kit") as http:

        async def ready() -> bool:
            return (await http.get("/readyz")).status_code == 200

        await eventually(ready, "/readyz to report ready", 30)
        checks = (await http.get("/readyz")).json()["checks"]
        assert checks == {"kafka": "ok", "store": "ok", "consumers": "ok"}

        # The same event delivered twice (a producer retry, a replay): handled once.
        await produce(orders_topic, (order("o-1"), "ev-o-1"), (order("o-1"), "ev-o-1"),
                      (order("o-2"), "ev-o-2"))
        await eventually(lambda: _committed(settings.consumer_group, orders_topic, 3),
                         "the three deliveries to be committed", 30)
        assert handled == ["ev-o-1", "ev-o-2"]

        invoices = await read_records(BOOTSTRAP, invoices_topic, expected=2)
        assert sorted(from_kafka_message(r.value, r.headers).event.order_id
                      for r in invoices) == ["o-1", "o-2"]
        metrics = (await http.get("/metrics")).text
        assert f'convene_events_consumed_total{{topic="{orders_topic}"' in metrics
        assert 'convene_events_duplicate_total{' in metrics

    assert not runtime.started
    assert await topic_size(BOOTSTRAP, invoices_topic) == 2
    assert await committed_offset(BOOTSTRAP, settings.consumer_group, orders_topic) == 3
    cleanup = MongoStore(MONGO_URL, settings.mongo_database)
    await cleanup.client.drop_database(settings.mongo_database)
    await cleanup.close()


async def test_retries_beyond_the_poll_budget_seek_back_and_redeliver(caplog) -> None:
    """An outage longer than half of max.poll.interval: the consumer gives the record back
    (seek, no commit) instead of being thrown out of its group, then processes it once the
    store is back."""
    settings = ServiceSettings(
        service_name=random_name("kit-budget"), kafka_bootstrap=BOOTSTRAP,
        topic_prefix=random_name("kitb") + ".", kafka_max_poll_interval_s=1.0,
        consumer_retry_initial_s=0.05, consumer_retry_max_s=0.1, shutdown_grace_s=5,
    )
    topic = settings.topic(OrderPlaced.TOPIC)
    await create_topics(BOOTSTRAP, topic, topic + ".dlq")
    await produce(topic, (order("o-9"), "ev-o-9"))
    calls: list[float] = []
    outage_until: list[float] = []

    async def flaky(envelope: Envelope) -> None:
        import time

        now = time.monotonic()
        if not outage_until:
            outage_until.append(now + 1.5)  # three times the 0.5 s retry budget
        calls.append(now)
        if now < outage_until[0]:
            raise AutoReconnect("store restarting")

    broker = build_broker(settings)
    consumer = subscribe_events(broker, settings, [OrderPlaced.TOPIC], {OrderPlaced: flaky})
    await broker.start()
    try:
        await eventually(lambda: _committed(settings.consumer_group, topic, 1),
                         "the record to be processed once the store is back", 30)
    finally:
        consumer.begin_shutdown()
        await broker.stop()
    assert calls[-1] >= outage_until[0]
    assert len(calls) >= 4
    gave_back = [r for r in caplog.records if "retry budget spent" in r.getMessage()]
    assert gave_back, "the consumer never gave the record back within its poll budget"
    assert await topic_size(BOOTSTRAP, topic + ".dlq") == 0


async def _committed(group: str, topic: str, offset: int) -> Any:
    return await committed_offset(BOOTSTRAP, group, topic) == offset
