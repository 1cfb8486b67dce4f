"""The kit's consumer against real Kafka: dead letters with provenance, a rejected message
dead-lettered once, DLQ replay, and the proof that a failing handler's record is never
committed (bugs and the DLQ brake: test_kit_consumer_failures.py)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any, ClassVar

import pytest
from aiokafka import AIOKafkaProducer
from convene_kit.consumer import EventConsumer, MessageRejected, subscribe_events
from convene_kit.dlq import replay
from convene_kit.kafka import build_broker
from convene_kit.settings import ServiceSettings
from convene_kit.testing import (
    committed_offset,
    create_topics,
    eventually,
    random_name,
    read_records,
    topic_size,
)
from convene_schemas.base import Event
from convene_schemas.envelope import Envelope, KafkaRecord, new_event_id, to_kafka_message
from pymongo.errors import AutoReconnect
from support import load_infra_env

pytestmark = pytest.mark.integration

load_infra_env()
BOOTSTRAP = os.environ.get("CONVENE_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
LOGICAL_TOPIC = "kittest.consumer.events.v1"


class GizmoBuilt(Event):
    EVENT_TYPE: ClassVar[str] = "com.convene.kittest.IntegrationGizmoBuilt"
    SERVICE: ClassVar[str] = "kittest"
    TOPIC: ClassVar[str] = LOGICAL_TOPIC
    AGGREGATE_ID_FIELD: ClassVar[str] = "gizmo_id"
    gizmo_id: str


def built(gizmo_id: str) -> KafkaRecord:
    event = GizmoBuilt(account_id="acc-1", version=1, gizmo_id=gizmo_id,
                       occurred_at=datetime.now(timezone.utc))
    return to_kafka_message(event, event_id=new_event_id())


def kit_settings(prefix: str, group: str, **overrides: Any) -> ServiceSettings:
    values: dict[str, Any] = {
        "service_name": group, "kafka_bootstrap": BOOTSTRAP, "topic_prefix": prefix,
        "consumer_retry_initial_s": 0.01, "consumer_retry_max_s": 0.05,
        "shutdown_grace_s": 5.0,
    }
    values.update(overrides)
    return ServiceSettings(**values)


Produced = tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]


async def produce(topic: str, *records: Produced) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for key, value, headers in records:
            await producer.send_and_wait(topic, value=value, key=key, headers=headers)
    finally:
        await producer.stop()


class Running:
    """A service's consumer side, started against the real broker."""

    def __init__(self, settings: ServiceSettings,
                 handler: Callable[[Envelope], Awaitable[None]]) -> None:
        self.broker = build_broker(settings)
        self.consumer: EventConsumer = subscribe_events(
            self.broker, settings, [LOGICAL_TOPIC], {GizmoBuilt: handler})

    async def __aenter__(self) -> Running:
        await self.broker.start()
        await eventually(self._assigned, "the consumer to be assigned its partition", 30)
        return self

    async def _assigned(self) -> bool:
        return self.consumer.all_assigned()

    async def __aexit__(self, *exc: Any) -> None:
        self.consumer.begin_shutdown()
        await self.broker.stop()


@pytest.fixture
async def topics() -> tuple[str, str]:
    prefix = random_name("kitc") + "."
    topic = prefix + LOGICAL_TOPIC
    await create_topics(BOOTSTRAP, topic, topic + ".dlq")
    return prefix, topic


async def test_malformed_and_unknown_version_go_to_the_dlq_and_the_next_message_is_processed(
    topics: tuple[str, str],
) -> None:
    prefix, topic = topics
    good = built("g-ok")
    unknown_version = [(k, b"9" if k == "ce_dataversion" else v) for k, v in good.headers]
    await produce(
        topic,
        (b"g-bad", b"\x00not json at all", list(good.headers) + [("x-bin", b"\xff\xfe")]),
        (good.key, good.value, unknown_version),
        (good.key, good.value, list(good.headers)),
    )
    handled: list[Envelope] = []

    async def on_built(envelope: Envelope) -> None:
        handled.append(envelope)

    service = random_name("kit-group")
    group = f"{prefix}{service}"  # consumer groups follow the topic prefix
    async with Running(kit_settings(prefix, group=service), on_built):
        await eventually(lambda: _true(handled), "the good message to be handled")
        await eventually(lambda: _committed(topic, 3, group), "offset 3 to be committed")

    assert [e.subject for e in handled] == ["g-ok"]
    dead = await read_records(BOOTSTRAP, topic + ".dlq", expected=2)
    assert len(dead) == 2
    first, second = (dict(r.headers) for r in dead)
    assert dead[0].key == b"g-bad" and dead[0].value == b"\x00not json at all"
    assert first["x-bin"] == b"\xff\xfe"  # not UTF-8: still reaches the DLQ byte for byte
    assert first["dlq_source_topic"] == topic.encode()
    assert first["dlq_source_partition"] == b"0"
    assert first["dlq_source_offset"] == b"0"
    assert first["dlq_consumer_group"] == group.encode()
    assert first["dlq_reason"] == b"undecodable"
    assert first["dlq_error_class"] == b"UndecodableEvent"
    assert first["dlq_failed_at"].startswith(str(datetime.now(timezone.utc).year).encode())
    assert second["dlq_source_offset"] == b"1"
    assert second["dlq_reason"] == b"unknown_version"
    assert second["dlq_error_class"] == b"UnknownEventVersion"
    assert second["ce_dataversion"] == b"9"  # original headers kept byte for byte
    assert dead[1].value == good.value


async def test_a_message_its_handler_rejects_is_dead_lettered_once_without_retry(
    topics: tuple[str, str],
) -> None:
    prefix, topic = topics
    poison, fine = built("g-poison"), built("g-fine")
    await produce(topic, (poison.key, poison.value, poison.headers),
                  (fine.key, fine.value, fine.headers))
    attempts: dict[str, int] = {}

    async def on_built(envelope: Envelope) -> None:
        attempts[envelope.subject] = attempts.get(envelope.subject, 0) + 1
        if envelope.subject == "g-poison":
            raise MessageRejected("never applicable") from KeyError("host h-1 is unknown")

    service = random_name("kit-group")
    group = f"{prefix}{service}"  # consumer groups follow the topic prefix
    async with Running(kit_settings(prefix, group=service), on_built):
        await eventually(lambda: _true(attempts.get("g-fine")), "the next message to be handled")
        await eventually(lambda: _committed(topic, 2, group), "offset 2 to be committed")

    assert attempts == {"g-poison": 1, "g-fine": 1}
    [dead] = await read_records(BOOTSTRAP, topic + ".dlq", expected=1)
    headers = dict(dead.headers)
    assert headers["dlq_reason"] == b"rejected"
    assert headers["dlq_error_class"] == b"KeyError"  # what the rejection was raised from
    assert b"host h-1" in headers["dlq_error_message"]
    assert headers["dlq_attempts"] == b"1"
    assert (dead.key, dead.value) == (poison.key, poison.value)


async def test_replay_moves_one_dead_letter_back_once_and_dry_run_publishes_nothing(
    topics: tuple[str, str],
) -> None:
    _, topic = topics
    original = built("g-replay")
    dlq_headers = list(original.headers) + [
        ("dlq_source_topic", topic.encode()), ("dlq_source_partition", b"0"),
        ("dlq_source_offset", b"5"), ("dlq_reason", b"rejected"),
    ]
    other = built("g-stays")
    other_headers = list(other.headers) + [("dlq_source_topic", topic.encode())]
    await produce(topic + ".dlq", (original.key, original.value, dlq_headers),
                  (other.key, other.value, other_headers))
    await read_records(BOOTSTRAP, topic + ".dlq", expected=2)

    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "convene_kit.dlq", "replay", "--bootstrap", BOOTSTRAP,
        "--dlq-topic", topic + ".dlq", "--from-offset", "0", "--to-offset", "0", "--dry-run",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()
    assert b'"would_replay"' in stdout and b'"would_replay": 1' in stdout
    assert await topic_size(BOOTSTRAP, topic) == 0

    items = await replay(BOOTSTRAP, topic + ".dlq", from_offset=0, to_offset=0)
    assert [(i.offset, i.action, i.target_topic) for i in items] == [(0, "replayed", topic)]
    [back] = await read_records(BOOTSTRAP, topic, expected=1)
    assert back.key == original.key and back.value == original.value
    assert list(back.headers) == list(original.headers)  # dlq_* stripped, originals intact
    assert await topic_size(BOOTSTRAP, topic) == 1


async def test_a_raising_handlers_record_is_not_committed_and_is_redelivered(
    topics: tuple[str, str],
) -> None:
    """FastStream's AckPolicy.ACK would commit here; the kit must not."""
    prefix, topic = topics
    service = random_name("kit-group")
    group = f"{prefix}{service}"  # consumer groups follow the topic prefix
    record = built("g-retry")
    await produce(topic, (record.key, record.value, record.headers))
    first_attempts: list[str] = []

    async def store_is_down(envelope: Envelope) -> None:
        first_attempts.append(envelope.id)
        raise AutoReconnect("mongo is down")

    async with Running(kit_settings(prefix, group=service), store_is_down):
        await eventually(lambda: _true(len(first_attempts) >= 2), "the handler to be retried")
    assert await committed_offset(BOOTSTRAP, group, topic) is None

    seen_again: list[str] = []

    async def store_is_back(envelope: Envelope) -> None:
        seen_again.append(envelope.id)

    async with Running(kit_settings(prefix, group=service), store_is_back):
        await eventually(lambda: _true(seen_again), "a new consumer of the group to see it again")
        await eventually(lambda: _committed(topic, 1, group), "offset 1 to be committed")
    assert seen_again == [first_attempts[0]]
    assert await topic_size(BOOTSTRAP, topic + ".dlq") == 0


async def _true(value: Any) -> Any:
    return value


async def _committed(topic: str, offset: int, group: str) -> bool:
    return await committed_offset(BOOTSTRAP, group, topic) == offset
