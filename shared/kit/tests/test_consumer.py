"""Consumer dispatch, dead-lettering, skipping and retries, through FastStream's TestKafkaBroker."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, ClassVar

import pytest
from aiokafka import ConsumerRecord
from convene_kit.consumer import EventConsumer, Outcome, subscribe_events
from convene_kit.dlq import strip_dlq_headers
from convene_kit.settings import ServiceSettings
from convene_schemas.base import Event
from convene_schemas.envelope import Envelope, new_event_id, to_kafka_message
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, TestKafkaBroker
from pymongo.errors import AutoReconnect

TOPIC = "kittest.consumer.v1"


class ThingHappened(Event):
    EVENT_TYPE: ClassVar[str] = "com.convene.kittest.ConsumerThingHappened"
    SERVICE: ClassVar[str] = "kittest"
    TOPIC: ClassVar[str] = TOPIC
    AGGREGATE_ID_FIELD: ClassVar[str] = "thing_id"
    thing_id: str


class OtherThingHappened(Event):
    EVENT_TYPE: ClassVar[str] = "com.convene.kittest.ConsumerOtherThingHappened"
    SERVICE: ClassVar[str] = "kittest"
    TOPIC: ClassVar[str] = TOPIC
    AGGREGATE_ID_FIELD: ClassVar[str] = "thing_id"
    thing_id: str


def thing(thing_id: str = "t-1", cls: type[Event] = ThingHappened) -> Event:
    return cls(
        account_id="acc-1",
        version=1,
        occurred_at=datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc),
        thing_id=thing_id,
    )


def settings(**overrides: Any) -> ServiceSettings:
    values: dict[str, Any] = {
        "service_name": "kittest",
        "topic_prefix": "pfx.",
        "consumer_retry_initial_s": 0.001,
        "consumer_retry_max_s": 0.004,
        "consumer_max_attempts": 3,
    }
    values.update(overrides)
    return ServiceSettings(**values)


async def publish_record(broker: KafkaBroker, topic: str, key: bytes, value: bytes,
                         headers: list[tuple[str, bytes]]) -> None:
    await broker.publish(value, topic, key=key, headers={k: v.decode() for k, v in headers})


def dlq_capture(broker: KafkaBroker, topic: str) -> list[ConsumerRecord]:
    captured: list[ConsumerRecord] = []

    async def keep_raw(record: ConsumerRecord, original: Any) -> Any:
        captured.append(record)
        return await original(record)

    @broker.subscriber(topic, parser=keep_raw)
    async def dead_letters(body: Any) -> None:  # noqa: ARG001
        return None

    return captured


async def test_handler_receives_the_envelope() -> None:
    broker = KafkaBroker()
    received: list[Envelope] = []

    async def on_thing(envelope: Envelope) -> None:
        received.append(envelope)

    subscribe_events(broker, settings(), [TOPIC], {ThingHappened: on_thing})
    event_id = new_event_id()
    record = to_kafka_message(thing("t-7"), event_id=event_id,
                              traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    async with TestKafkaBroker(broker) as br:
        await publish_record(br, "pfx." + TOPIC, record.key, record.value, record.headers)

    assert len(received) == 1
    envelope = received[0]
    assert envelope.id == event_id
    assert envelope.event == thing("t-7")
    assert envelope.traceparent.startswith("00-0af7651916cd43dd8448eb211c80319c")


async def test_invalid_message_goes_to_the_dlq_with_provenance_headers() -> None:
    broker = KafkaBroker()
    calls: list[Envelope] = []

    async def on_thing(envelope: Envelope) -> None:
        calls.append(envelope)

    subscribe_events(broker, settings(), [TOPIC], {ThingHappened: on_thing})
    captured = dlq_capture(broker, "pfx." + TOPIC + ".dlq")
    good = to_kafka_message(thing(), event_id=new_event_id())
    bad_headers = [(k, v) for k, v in good.headers if k != "ce_specversion"]
    async with TestKafkaBroker(broker) as br:
        await publish_record(br, "pfx." + TOPIC, b"t-1", b'{"not": "an event"}', bad_headers)

    assert calls == []
    assert len(captured) == 1
    dead = captured[0]
    headers = dict(dead.headers)
    assert dead.value == b'{"not": "an event"}'
    assert dead.key == b"t-1"
    assert headers["dlq_source_topic"] == b"pfx." + TOPIC.encode()
    assert headers["dlq_source_partition"] == b"0"
    assert headers["dlq_source_offset"] == b"0"
    assert headers["dlq_consumer_group"] == b"pfx.kittest"  # groups follow the topic prefix
    assert headers["dlq_reason"] == b"undecodable"
    assert headers["dlq_error_class"] == b"UndecodableEvent"
    assert b"ce_specversion" in headers["dlq_error_message"]
    assert datetime.fromisoformat(headers["dlq_failed_at"].decode()).tzinfo is not None
    originals = dict(strip_dlq_headers(dead.headers))
    for name, value in bad_headers:
        assert originals[name] == value


async def test_unknown_major_version_is_dead_lettered() -> None:
    broker = KafkaBroker()
    subscribe_events(broker, settings(), [TOPIC], {ThingHappened: _never_called})
    captured = dlq_capture(broker, "pfx." + TOPIC + ".dlq")
    record = to_kafka_message(thing(), event_id=new_event_id())
    headers = [(k, b"7" if k == "ce_dataversion" else v) for k, v in record.headers]
    async with TestKafkaBroker(broker) as br:
        await publish_record(br, "pfx." + TOPIC, record.key, record.value, headers)
    assert [dict(r.headers)["dlq_reason"] for r in captured] == [b"unknown_version"]


async def _never_called(envelope: Envelope) -> None:
    raise AssertionError(f"handler must not run for {envelope}")


async def test_catalogued_type_without_handler_is_skipped_not_dead_lettered() -> None:
    broker = KafkaBroker()
    handled: list[str] = []

    async def on_thing(envelope: Envelope) -> None:
        handled.append(envelope.subject)

    consumer = subscribe_events(broker, settings(), [TOPIC], {ThingHappened: on_thing})
    captured = dlq_capture(broker, "pfx." + TOPIC + ".dlq")
    other = to_kafka_message(thing("o-1", OtherThingHappened), event_id=new_event_id())
    assert await consumer.process(_record(other)) is Outcome.SKIPPED
    async with TestKafkaBroker(broker) as br:
        await publish_record(br, "pfx." + TOPIC, other.key, other.value, other.headers)
        wanted = to_kafka_message(thing("t-2"), event_id=new_event_id())
        await publish_record(br, "pfx." + TOPIC, wanted.key, wanted.value, wanted.headers)
    assert handled == ["t-2"]
    assert captured == []


async def test_failing_handler_is_retried_then_dead_lettered() -> None:
    broker = KafkaBroker()
    attempts: list[int] = []

    async def on_thing(envelope: Envelope) -> None:
        attempts.append(1)
        raise ValueError("meeting t-1 has no host")

    subscribe_events(broker, settings(consumer_max_attempts=3), [TOPIC], {ThingHappened: on_thing})
    captured = dlq_capture(broker, "pfx." + TOPIC + ".dlq")
    record = to_kafka_message(thing(), event_id=new_event_id())
    async with TestKafkaBroker(broker) as br:
        await publish_record(br, "pfx." + TOPIC, record.key, record.value, record.headers)

    assert len(attempts) == 3
    headers = dict(captured[0].headers)
    assert headers["dlq_reason"] == b"handler_failed"
    assert headers["dlq_error_class"] == b"ValueError"
    assert headers["dlq_error_message"] == b"meeting t-1 has no host"
    assert headers["dlq_attempts"] == b"3"
    assert captured[0].value == record.value


async def test_infrastructure_failure_is_retried_in_place_and_never_dead_lettered() -> None:
    broker = KafkaBroker()
    attempts: list[int] = []

    async def on_thing(envelope: Envelope) -> None:
        attempts.append(1)
        if len(attempts) < 6:  # more than consumer_max_attempts: infra failures do not count
            raise AutoReconnect("mongo is restarting")

    consumer = subscribe_events(broker, settings(), [TOPIC], {ThingHappened: on_thing})
    record = to_kafka_message(thing(), event_id=new_event_id())
    assert await consumer.process(_record(record)) is Outcome.PROCESSED
    assert len(attempts) == 6


async def test_infrastructure_failure_during_shutdown_is_not_committed() -> None:
    """The ACK trap: a record whose handler keeps failing must be neither committed nor
    acknowledged (its lane then seeks back to it: test_lanes.py)."""
    broker = KafkaBroker()

    async def on_thing(envelope: Envelope) -> None:
        consumer.begin_shutdown()
        raise AutoReconnect("mongo is down")

    consumer = subscribe_events(broker, settings(), [TOPIC], {ThingHappened: on_thing})
    record = _record(to_kafka_message(thing(), event_id=new_event_id()), offset=41)
    message = FakeMessage(record)
    assert await consumer._process_to_the_end(record) is False
    await consumer.handle_message(message)
    assert message.consumer.commits == []
    assert message.acked is False


async def test_processed_record_commits_exactly_the_next_offset() -> None:
    broker = KafkaBroker()
    consumer = subscribe_events(broker, settings(), [TOPIC], {ThingHappened: _ok})
    message = FakeMessage(_record(to_kafka_message(thing(), event_id=new_event_id()), offset=9))
    await consumer.handle_message(message)
    # FakeMessage's consumer is no AIOKafkaConsumer, so the kit acks through FastStream.
    assert message.acked is True
    assert message.consumer.seeks == []


async def _ok(envelope: Envelope) -> None:
    return None


def test_subscribers_use_manual_ack_and_no_auto_commit() -> None:
    broker = KafkaBroker()
    consumer = EventConsumer(broker, settings())
    subscriber = consumer.subscribe(TOPIC, {ThingHappened: _ok})
    assert subscriber.ack_policy is AckPolicy.MANUAL
    assert subscriber._connection_args["enable_auto_commit"] is False
    assert subscriber._connection_args["auto_offset_reset"] == "earliest"
    assert subscriber.group_id == "pfx.kittest"
    assert subscriber.topic_names == ["pfx." + TOPIC]


def test_handler_for_a_topic_not_subscribed_is_refused() -> None:
    with pytest.raises(ValueError, match="ConsumerThingHappened|ThingHappened"):
        subscribe_events(KafkaBroker(), settings(), ["elsewhere.v1"], {ThingHappened: _ok})


def _record(record: Any, offset: int = 0) -> ConsumerRecord:
    return ConsumerRecord(
        topic="pfx." + record.topic, partition=0, offset=offset, timestamp=0, timestamp_type=0,
        key=record.key, value=record.value, checksum=None, serialized_key_size=0,
        serialized_value_size=0, headers=list(record.headers),
    )


class FakeConsumer:
    def __init__(self) -> None:
        self.commits: list[Any] = []
        self.seeks: list[Any] = []

    async def commit(self, offsets: Any = None) -> None:
        self.commits.append(offsets)

    def seek(self, partition: Any, offset: int) -> None:
        self.seeks.append(((partition.topic, partition.partition), offset))


class FakeMessage:
    def __init__(self, record: ConsumerRecord) -> None:
        self.raw_message = record
        self.consumer = FakeConsumer()
        self.acked = False

    async def ack(self) -> None:
        self.acked = True
