"""What a failure leads to, through the partition lanes as a real consumer runs them: a bug
holds its partition (paused, sought back, retried later, never committed, never
dead-lettered) while the others go on; the DLQ brake stops dead-lettering past its limits,
holds the partition and fails readiness until the record moves on."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, ClassVar

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from convene_kit import consumer as consumer_module
from convene_kit.consumer import (
    DeadLetterBrake,
    DeadLetterBrakeEngaged,
    EventConsumer,
    EventMeta,
    Handlers,
    MessageRejected,
    subscribe_events,
)
from convene_kit.http import run_readiness
from convene_kit.runtime import ServiceRuntime
from convene_kit.settings import ServiceSettings
from convene_kit.store import MongoStore
from convene_schemas.base import Event
from convene_schemas.envelope import to_kafka_message
from faststream.kafka import KafkaBroker
from prometheus_client import REGISTRY

LOGICAL = "kittest.failures.v1"
TOPIC = "pfx." + LOGICAL


class GadgetMade(Event):
    EVENT_TYPE: ClassVar[str] = "com.convene.kittest.FailuresGadgetMade"
    SERVICE: ClassVar[str] = "kittest"
    TOPIC: ClassVar[str] = LOGICAL
    AGGREGATE_ID_FIELD: ClassVar[str] = "gadget_id"
    gadget_id: str


def settings(**overrides: Any) -> ServiceSettings:
    values: dict[str, Any] = {
        "service_name": "kittest", "topic_prefix": "pfx.", "consumer_retry_initial_s": 0.001,
        "consumer_retry_max_s": 0.004, "consumer_commit_interval_s": 0.005,
    }
    values.update(overrides)
    return ServiceSettings(**values)


def record(partition: int, offset: int, gadget_id: str | None = None,
           valid: bool = True) -> ConsumerRecord:
    event = GadgetMade(account_id="acc-1", version=1, gadget_id=gadget_id or f"g-{offset}",
                       occurred_at=datetime(2026, 3, 1, tzinfo=timezone.utc))
    message = to_kafka_message(event, event_id=f"ev-{partition}-{offset}")
    value = message.value if valid else b"\x00 not an event"
    return ConsumerRecord(topic=TOPIC, partition=partition, offset=offset, timestamp=0,
                          timestamp_type=0, key=message.key, value=value, checksum=None,
                          serialized_key_size=0, serialized_value_size=0,
                          headers=list(message.headers))


class FakeKafka:
    """An AIOKafkaConsumer as the kit uses it (pause, resume, seek, commit), with a fetch
    loop that hands each unpaused partition's records over in order from its position."""

    def __init__(self, partitions: dict[int, list[ConsumerRecord]]) -> None:
        self.partitions = partitions
        self.positions = {p: 0 for p in partitions}
        self.paused: set[int] = set()
        self.pauses: list[int] = []
        self.seeks: list[tuple[int, int]] = []
        self.commits: dict[int, int] = {}

    def pause(self, tp: TopicPartition) -> None:
        self.paused.add(tp.partition)
        self.pauses.append(tp.partition)

    def resume(self, tp: TopicPartition) -> None:
        self.paused.discard(tp.partition)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.positions[tp.partition] = offset
        self.seeks.append((tp.partition, offset))

    def highwater(self, tp: TopicPartition) -> int | None:
        return len(self.partitions.get(tp.partition, [])) or None

    async def commit(self, offsets: dict[TopicPartition, Any]) -> None:
        self.commits.update({tp.partition: meta.offset for tp, meta in offsets.items()})

    async def feed(self, consumer: EventConsumer) -> None:
        while True:
            handed = False
            for partition, records in self.partitions.items():
                position = self.positions[partition]
                if partition not in self.paused and position < len(records):
                    self.positions[partition] = position + 1
                    await consumer.dispatch(self, records[position])
                    handed = True
            if not handed:
                await asyncio.sleep(0.001)


async def until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.002)
    await asyncio.wait_for(poll(), timeout_s)


@pytest.fixture
def dead_letters(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int, str]]:
    """What the consumer dead-letters: (partition, offset, reason); nothing is published."""
    sent: list[tuple[int, int, str]] = []

    async def dead_letter(broker: Any, rec: ConsumerRecord, *, reason: str, **_: Any) -> str:
        sent.append((rec.partition, rec.offset, reason))
        return rec.topic + ".dlq"

    monkeypatch.setattr(consumer_module, "dead_letter", dead_letter)
    return sent


async def test_a_bug_holds_its_partition_uncommitted_while_the_others_go_on(
    dead_letters: list[tuple[int, int, str]],
) -> None:
    handlers = Handlers()
    failures = {"g-bug": 3}
    handled: list[str] = []

    @handlers.on(GadgetMade)
    async def on_made(event: GadgetMade, meta: EventMeta) -> None:
        if failures.get(event.gadget_id, 0) > 0:
            failures[event.gadget_id] -= 1
            raise ZeroDivisionError("a bug in the handler")
        handled.append(event.gadget_id)

    consumer = subscribe_events(KafkaBroker(), settings(), [LOGICAL], handlers)
    kafka = FakeKafka({0: [record(0, 0), record(0, 1, "g-bug"), record(0, 2)],
                       1: [record(1, n, f"h-{n}") for n in range(5)]})
    bugs_before = _sample("convene_events_failed_total", kind="bug")
    feeding = asyncio.create_task(kafka.feed(consumer))
    try:
        await until(lambda: kafka.commits == {0: 3, 1: 5})
    finally:
        feeding.cancel()
        await consumer.stop()

    assert [g for g in handled if g.startswith("g-")] == ["g-0", "g-bug", "g-2"]  # in order
    assert [h for h in handled if h.startswith("h-")] == [f"h-{n}" for n in range(5)]
    assert kafka.pauses == [0, 0, 0]  # held three times, each time sought back to offset 1
    assert [s for s in kafka.seeks if s[0] == 0] == [(0, 1)] * 3
    assert dead_letters == []
    assert _sample("convene_events_failed_total", kind="bug") - bugs_before == 3


async def test_the_brake_stops_dead_lettering_holds_the_partition_and_fails_readiness(
    dead_letters: list[tuple[int, int, str]], caplog: pytest.LogCaptureFixture,
) -> None:
    """Two undecodable messages and rejections: with at most 3 dead letters in a row, the
    fourth is not sent; the record stays uncommitted and retried, /readyz fails; once it
    is processed the brake lets go."""
    handlers = Handlers()
    fixed = asyncio.Event()
    tries: dict[int, int] = {}

    @handlers.on(GadgetMade)
    async def on_made(event: GadgetMade, meta: EventMeta) -> None:
        tries[meta.offset] = tries.get(meta.offset, 0) + 1
        if not fixed.is_set():
            raise MessageRejected("no such gadget model")

    consumer = subscribe_events(KafkaBroker(), settings(consumer_dlq_max_consecutive=3),
                                [LOGICAL], handlers)
    runtime = ServiceRuntime(consumer.settings, broker=consumer.broker,
                             store=MongoStore("mongodb://127.0.0.1:1/", "unused"),
                             consumer=consumer)
    kafka = FakeKafka({0: [record(0, 0, valid=False), record(0, 1, valid=False),
                           record(0, 2), record(0, 3), record(0, 4)]})
    engagements = _sample("convene_dlq_brake_engagements_total", partition=None)
    feeding = asyncio.create_task(kafka.feed(consumer))
    try:
        await until(lambda: tries.get(3, 0) >= 3)  # held, and tried again and again
        assert dead_letters == [(0, 0, "undecodable"), (0, 1, "undecodable"), (0, 2, "rejected")]
        await until(lambda: kafka.commits.get(0) == 3)
        assert kafka.commits == {0: 3}  # never past the held record
        assert 0 in kafka.pauses and (0, 3) in kafka.seeks
        assert consumer.braked_partitions() == {
            f"{TOPIC}[0]": "4 dead letters in a row would pass the limit of 3"}
        with pytest.raises(DeadLetterBrakeEngaged, match=r"pfx.kittest.failures.v1\[0\]"):
            await runtime.consumers_ready()
        checks = await run_readiness({"consumers": runtime.consumers_ready}, 1.0)
        assert checks["consumers"].startswith("DeadLetterBrakeEngaged: dead-lettering stopped")
        assert _sample("convene_dlq_brake_engaged", partition="0") == 1
        assert _sample("convene_dlq_brake_engagements_total", partition=None) \
            == engagements + 1  # once, however often the record is retried
        assert [r for r in caplog.records
                if r.levelno == logging.ERROR and "DLQ brake engaged" in r.getMessage()]

        fixed.set()  # the condition clears: the held record is processed
        await until(lambda: kafka.commits.get(0) == 5)
    finally:
        feeding.cancel()
        await consumer.stop()
    assert len(dead_letters) == 3
    assert consumer.braked_partitions() == {}
    assert await runtime.consumers_ready() is False  # no subscriber started: not assigned
    assert _sample("convene_dlq_brake_engaged", partition="0") == 0


def test_the_ratio_is_judged_over_a_full_window() -> None:
    brake = DeadLetterBrake(max_consecutive=0, max_ratio=0.5, window=10)
    key = (TOPIC, 7)
    assert brake.refusal(key) is None  # one bad message after a start: not judged yet
    for n in range(9):  # dead, ok, dead, ok, ... : 5 dead of 9
        brake.record(key, dead_lettered=n % 2 == 0)
    assert brake.refusal(key) == ("6 dead letters in the last 10 records would pass the "
                                  "limit of 0.5")
    brake.record(key, dead_lettered=False)  # 5 of 10 now; the next one slides the window
    assert brake.refusal(key) is None  # the oldest (dead) leaves: still 5 of 10
    brake.record(key, dead_lettered=True)
    assert brake.refusal(key) is not None  # 6 of 10 would be past half


def test_the_limits_can_be_lifted() -> None:
    brake = DeadLetterBrake(max_consecutive=0, max_ratio=1.0, window=3)
    key = (TOPIC, 0)
    for _ in range(10):
        assert brake.refusal(key) is None
        brake.record(key, dead_lettered=True)


def _sample(name: str, **labels: str | None) -> float:
    wanted = {k: v for k, v in labels.items() if v is not None}
    total = 0.0
    for metric in REGISTRY.collect():
        for sample in metric.samples:
            if sample.name == name and sample.labels.get("topic") == TOPIC and all(
                    sample.labels.get(k) == v for k, v in wanted.items()):
                total += sample.value
    return total
