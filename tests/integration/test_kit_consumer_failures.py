"""The kit's consumer against real Kafka when handlers fail: a bug holds only its own
partition (paused, uncommitted, nothing dead-lettered) until a fixed deploy processes it; a
declared rejection is dead-lettered once; the DLQ brake stops dead-lettering past its limit,
holds the partition and fails readiness."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Any, ClassVar

import pytest
from aiokafka import AIOKafkaProducer
from convene_kit.consumer import (
    DeadLetterBrakeEngaged,
    EventConsumer,
    EventMeta,
    Handlers,
    MessageRejected,
    subscribe_events,
)
from convene_kit.kafka import build_broker
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
from convene_schemas.envelope import new_event_id, to_kafka_message
from support import load_infra_env

pytestmark = pytest.mark.integration

load_infra_env()
BOOTSTRAP = os.environ.get("CONVENE_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
MONGO_URL = os.environ.get("CONVENE_MONGO_URL", "mongodb://127.0.0.1:37017/")
LOGICAL_TOPIC = "kittest.failures.events.v1"


class WidgetMade(Event):
    EVENT_TYPE: ClassVar[str] = "com.convene.kittest.IntegrationWidgetMade"
    SERVICE: ClassVar[str] = "kittest"
    TOPIC: ClassVar[str] = LOGICAL_TOPIC
    AGGREGATE_ID_FIELD: ClassVar[str] = "widget_id"
    widget_id: str


async def produce(topic: str, *widgets: tuple[int, str]) -> None:
    """(partition, widget id) each, in this order."""
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for partition, widget_id in widgets:
            event = WidgetMade(account_id="acc-1", version=1, widget_id=widget_id,
                               occurred_at=datetime.now(timezone.utc))
            record = to_kafka_message(event, event_id=new_event_id())
            await producer.send_and_wait(topic, value=record.value, key=record.key,
                                         headers=record.headers, partition=partition)
    finally:
        await producer.stop()


class Running:
    """A service's consumer side with one typed handler, started against the real broker."""

    def __init__(self, prefix: str, service: str, handlers: Handlers, **overrides: Any) -> None:
        values: dict[str, Any] = {
            "service_name": service, "kafka_bootstrap": BOOTSTRAP, "topic_prefix": prefix,
            "consumer_retry_initial_s": 0.05, "consumer_retry_max_s": 0.2,
            "shutdown_grace_s": 5.0,
        }
        values.update(overrides)
        self.settings = ServiceSettings(**values)
        self.broker = build_broker(self.settings)
        self.consumer: EventConsumer = subscribe_events(
            self.broker, self.settings, [LOGICAL_TOPIC], handlers)

    async def __aenter__(self) -> Running:
        await self.broker.start()
        await eventually(self._assigned, "the consumer to be assigned its partitions", 30)
        return self

    async def _assigned(self) -> bool:
        return self.consumer.all_assigned()

    async def __aexit__(self, *exc: Any) -> None:
        await self.consumer.stop()
        await self.broker.stop()


@pytest.fixture
async def topic() -> tuple[str, str]:
    prefix = random_name("kitf") + "."
    physical = prefix + LOGICAL_TOPIC
    await create_topics(BOOTSTRAP, physical, physical + ".dlq", partitions=2)
    return prefix, physical


def recording(handled: list[str], attempts: dict[str, int],
              fails: frozenset[str] | set[str] = frozenset(),
              rejects: frozenset[str] | set[str] = frozenset(),
              error: type[Exception] = ZeroDivisionError) -> Handlers:
    handlers = Handlers()

    @handlers.on(WidgetMade)
    async def on_made(event: WidgetMade, meta: EventMeta) -> None:
        attempts[event.widget_id] = attempts.get(event.widget_id, 0) + 1
        if event.widget_id in rejects:
            raise MessageRejected(f"widget {event.widget_id} can never be made")
        if event.widget_id in fails:
            raise error(f"a bug on {event.widget_id}")
        handled.append(event.widget_id)

    return handlers


async def test_a_bug_holds_its_partition_until_a_fixed_deploy_and_dead_letters_nothing(
    topic: tuple[str, str],
) -> None:
    prefix, physical = topic
    await produce(physical, (0, "w-bug"), (0, "w-after"), (1, "w-1a"), (1, "w-1b"))
    service = random_name("kit-group")
    group = prefix + service
    handled: list[str] = []
    attempts: dict[str, int] = {}

    async with Running(prefix, service, recording(handled, attempts, fails={"w-bug"})):
        await eventually(lambda: _true(attempts.get("w-bug", 0) >= 3), "the bug to be retried")
        await eventually(lambda: _committed(physical, 2, group, partition=1),
                         "the other partition to go on")
        await _retried_again(attempts, "w-bug")  # still held, nothing drained
        assert attempts.get("w-after") is None
        assert await committed_offset(BOOTSTRAP, group, physical, 0) is None
    assert handled == ["w-1a", "w-1b"]
    assert await topic_size(BOOTSTRAP, physical + ".dlq") == 0

    fixed: list[str] = []
    async with Running(prefix, service, recording(fixed, {})):
        await eventually(lambda: _committed(physical, 2, group, partition=0),
                         "the fixed deploy to process the held partition")
    assert fixed == ["w-bug", "w-after"]
    assert await topic_size(BOOTSTRAP, physical + ".dlq") == 0


async def test_a_rejection_is_dead_lettered_once_and_the_next_record_is_processed(
    topic: tuple[str, str],
) -> None:
    prefix, physical = topic
    await produce(physical, (0, "w-never"), (0, "w-fine"))
    service = random_name("kit-group")
    handled: list[str] = []
    attempts: dict[str, int] = {}
    async with Running(prefix, service, recording(handled, attempts, rejects={"w-never"})):
        await eventually(lambda: _committed(physical, 2, prefix + service),
                         "both records to be committed")
    assert handled == ["w-fine"] and attempts == {"w-never": 1, "w-fine": 1}
    [dead] = await read_records(BOOTSTRAP, physical + ".dlq", expected=1)
    headers = dict(dead.headers)
    assert (headers["dlq_reason"], headers["dlq_attempts"]) == (b"rejected", b"1")
    assert headers["dlq_error_class"] == b"MessageRejected"


async def test_the_brake_holds_the_partition_and_fails_readiness(
    topic: tuple[str, str],
) -> None:
    prefix, physical = topic
    await produce(physical, *((0, f"w-bad-{n}") for n in range(4)), (0, "w-fine"))
    service = random_name("kit-group")
    group = prefix + service
    handled: list[str] = []
    attempts: dict[str, int] = {}
    bad = {f"w-bad-{n}" for n in range(4)}
    running = Running(prefix, service, recording(handled, attempts, rejects=bad),
                      consumer_dlq_max_consecutive=2)
    store = MongoStore(MONGO_URL, random_name("kit_brake").replace("-", "_"))
    runtime = ServiceRuntime(running.settings, broker=running.broker, store=store,
                             consumer=running.consumer)
    async with running:
        assert await runtime.consumers_ready() is True
        await eventually(lambda: _true(attempts.get("w-bad-2", 0) >= 2),
                         "the third rejection to be held and retried")
        await eventually(lambda: _committed(physical, 2, group), "the two dead letters")
        with pytest.raises(DeadLetterBrakeEngaged, match=r"\[0\]: 3 dead letters in a row"):
            await runtime.consumers_ready()
        await _retried_again(attempts, "w-bad-2")  # nothing more leaves
        assert await committed_offset(BOOTSTRAP, group, physical, 0) == 2
        assert "w-bad-3" not in attempts
    assert await topic_size(BOOTSTRAP, physical + ".dlq") == 2
    assert handled == []
    await store.close()


async def _true(value: Any) -> Any:
    return value


async def _retried_again(attempts: dict[str, int], widget_id: str, times: int = 2) -> None:
    """Barrier before asserting that a held partition did not move: the held record was
    tried ``times`` more times, each a chance for the consumer to commit it or go past it."""
    seen = attempts[widget_id]
    await eventually(lambda: _true(attempts[widget_id] >= seen + times),
                     f"{times} more attempts at the held {widget_id}")


async def _committed(topic: str, offset: int, group: str, partition: int = 0) -> bool:
    return await committed_offset(BOOTSTRAP, group, topic, partition) == offset
