"""Consumer dispatch (typed handlers and the older envelope mapping), dead-lettering,
skipping and retries, through FastStream's TestKafkaBroker. Retries through the partition
lanes and the DLQ brake: test_consumer_failures.py."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, ClassVar

import pytest
from aiokafka import ConsumerRecord
from convene_kit.consumer import (
    EventConsumer,
    EventMeta,
    Handlers,
    MessageRejected,
    Outcome,
    subscribe_events,
)
from convene_kit.dlq import strip_dlq_headers
from convene_kit.settings import ServiceSettings
from convene_kit.testing import capture_dead_letters
from convene_schemas.base import Event
from convene_schemas.envelope import Envelope, new_event_id, to_kafka_message
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, TestKafkaBroker
from prometheus_client import REGISTRY
from pymongo.errors import AutoReconnect, OperationFailure

pytestmark = pytest.mark.contract

TOPIC = "kittest.consumer.v1"


class ThingEvent(Event):
    """The common base of the topic's events (as MeetingSnapshot is of meetings')."""

    SERVICE: ClassVar[str] = "kittest"
    TOPIC: ClassVar[str] = TOPIC
    AGGREGATE_ID_FIELD: ClassVar[str] = "thing_id"
    thing_id: str


class ThingHappened(ThingEvent):
    EVENT_TYPE: ClassVar[str] = "com.convene.kittest.ConsumerThingHappened"


class OtherThingHappened(ThingEvent):
    EVENT_TYPE: ClassVar[str] = "com.convene.kittest.ConsumerOtherThingHappened"


def thing(thing_id: str = "t-1", cls: type[ThingEvent] = ThingHappened) -> ThingEvent:
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
    }
    values.update(overrides)
    return ServiceSettings(**values)


async def publish_record(broker: KafkaBroker, topic: str, key: bytes, value: bytes,
                         headers: list[tuple[str, bytes]]) -> None:
    await broker.publish(value, topic, key=key, headers={k: v.decode() for k, v in headers})


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
    assert envelope.traceparent is not None
    assert envelope.traceparent.startswith("00-0af7651916cd43dd8448eb211c80319c")


async def test_invalid_message_goes_to_the_dlq_with_provenance_headers() -> None:
    broker = KafkaBroker()
    calls: list[Envelope] = []

    async def on_thing(envelope: Envelope) -> None:
        calls.append(envelope)

    subscribe_events(broker, settings(), [TOPIC], {ThingHappened: on_thing})
    captured = capture_dead_letters(broker, "pfx." + TOPIC + ".dlq")
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
    captured = capture_dead_letters(broker, "pfx." + TOPIC + ".dlq")
    record = to_kafka_message(thing(), event_id=new_event_id())
    headers = [(k, b"7" if k == "ce_dataversion" else v) for k, v in record.headers]
    async with TestKafkaBroker(broker) as br:
        await publish_record(br, "pfx." + TOPIC, record.key, record.value, headers)
    assert [dict(r.headers)["dlq_reason"] for r in captured] == [b"unknown_version"]


@pytest.mark.parametrize(("field", "value"), [
    ("thing_id", "t-\u0000"),  # PostgreSQL behind FerretDB could never store it
    ("occurred_at", "9999-12-31T23:59:00Z"),  # past what consumers can represent
])
async def test_text_or_a_time_the_contract_refuses_is_dead_lettered_before_any_handler(
        field: str, value: str) -> None:
    broker = KafkaBroker()
    subscribe_events(broker, settings(), [TOPIC], {ThingHappened: _never_called})
    captured = capture_dead_letters(broker, "pfx." + TOPIC + ".dlq")
    record = to_kafka_message(thing(), event_id=new_event_id())
    body = {**json.loads(record.value), field: value}
    async with TestKafkaBroker(broker) as br:
        await publish_record(br, "pfx." + TOPIC, record.key, json.dumps(body).encode(),
                             record.headers)
    [dead] = captured
    headers = dict(dead.headers)
    assert (headers["dlq_reason"], headers["dlq_attempts"]) == (b"validation_failed", b"0")


async def _never_called(envelope: Envelope) -> None:
    raise AssertionError(f"handler must not run for {envelope}")


async def test_catalogued_type_without_handler_is_skipped_not_dead_lettered() -> None:
    broker = KafkaBroker()
    handled: list[str] = []

    async def on_thing(envelope: Envelope) -> None:
        handled.append(envelope.subject)

    consumer = subscribe_events(broker, settings(), [TOPIC], {ThingHappened: on_thing})
    captured = capture_dead_letters(broker, "pfx." + TOPIC + ".dlq")
    other = to_kafka_message(thing("o-1", OtherThingHappened), event_id=new_event_id())
    assert await consumer.process(_record(other)) is Outcome.SKIPPED
    async with TestKafkaBroker(broker) as br:
        await publish_record(br, "pfx." + TOPIC, other.key, other.value, other.headers)
        wanted = to_kafka_message(thing("t-2"), event_id=new_event_id())
        await publish_record(br, "pfx." + TOPIC, wanted.key, wanted.value, wanted.headers)
    assert handled == ["t-2"]
    assert captured == []


async def test_a_typed_handler_gets_its_event_and_the_meta() -> None:
    broker = KafkaBroker()
    handlers = Handlers()
    received: list[tuple[ThingHappened, EventMeta]] = []

    @handlers.on(ThingHappened)
    async def on_thing(event: ThingHappened, meta: EventMeta) -> None:
        received.append((event, meta))

    subscribe_events(broker, settings(), [TOPIC], handlers)
    event_id = new_event_id()
    record = to_kafka_message(thing("t-7"), event_id=event_id,
                              traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    async with TestKafkaBroker(broker) as br:
        await publish_record(br, "pfx." + TOPIC, record.key, record.value, record.headers)

    [(event, meta)] = received
    assert type(event) is ThingHappened and event == thing("t-7")
    assert meta == EventMeta(
        event_id=event_id, type=ThingHappened.EVENT_TYPE, source="/convene/kittest",
        time=datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc), subject="t-7",
        account_id="acc-1", data_version=1,
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        topic="pfx." + TOPIC, partition=0, offset=0)


async def test_one_handler_serves_several_classes_typed_for_their_base() -> None:
    handlers = Handlers()
    seen: list[str] = []

    @handlers.on(ThingHappened, OtherThingHappened)
    async def on_any(event: ThingEvent, meta: EventMeta) -> None:
        seen.append(f"{type(event).__name__}:{event.thing_id}")

    consumer = subscribe_events(KafkaBroker(), settings(), [TOPIC], handlers)
    for message in (thing("a"), thing("b", OtherThingHappened)):
        record = _record(to_kafka_message(message, event_id=new_event_id()))
        assert await consumer.process(record) is Outcome.PROCESSED
    assert seen == ["ThingHappened:a", "OtherThingHappened:b"]
    assert set(handlers) == {ThingHappened, OtherThingHappened}


def test_a_class_is_routed_once_and_only_concrete_classes_are_routed() -> None:
    handlers = Handlers()
    handlers.on(ThingHappened)(_typed_ok)
    with pytest.raises(ValueError, match="ThingHappened is handled twice"):
        handlers.on(ThingHappened)(_typed_ok)
    with pytest.raises(TypeError, match="ThingEvent is no concrete event class"):
        handlers.on(ThingEvent)
    with pytest.raises(ValueError, match="handled twice"):
        handlers.include(Handlers.from_mapping({ThingHappened: _ok}))


async def _typed_ok(event: ThingHappened, meta: EventMeta) -> None:
    return None


async def test_a_declared_rejection_is_dead_lettered_once_without_retry() -> None:
    """MessageRejected, or an exception class the registration declares, is the message's
    fault: one attempt, straight to the DLQ, committed."""
    broker = KafkaBroker()
    handlers = Handlers()
    attempts: list[str] = []

    @handlers.on(ThingHappened)
    async def on_thing(event: ThingHappened, meta: EventMeta) -> None:
        attempts.append(event.thing_id)
        raise MessageRejected(f"thing {event.thing_id} can never be applied")

    @handlers.on(OtherThingHappened, rejects=(KeyError,))
    async def on_other(event: OtherThingHappened, meta: EventMeta) -> None:
        attempts.append(event.thing_id)
        raise KeyError("host h-1 is not in the read model")

    consumer = subscribe_events(broker, settings(), [TOPIC], handlers)
    captured = capture_dead_letters(broker, "pfx." + TOPIC + ".dlq")
    first = to_kafka_message(thing("t-1"), event_id=new_event_id())
    second = to_kafka_message(thing("o-1", OtherThingHappened), event_id=new_event_id())
    message = FakeMessage(_record(first))
    async with TestKafkaBroker(broker) as br:
        for record in (first, second):
            await publish_record(br, "pfx." + TOPIC, record.key, record.value, record.headers)
        # The same outcome through the FastStream entry: acknowledged (committed).
        await consumer.handle_message(message)

    assert attempts == ["t-1", "o-1", "t-1"]  # one attempt per delivery
    assert message.acked is True
    headers = [dict(r.headers) for r in captured]
    assert [h["dlq_reason"] for h in headers] == [b"rejected"] * 3
    assert [h["dlq_attempts"] for h in headers] == [b"1"] * 3
    assert headers[0]["dlq_error_class"] == b"MessageRejected"
    assert headers[0]["dlq_error_message"] == b"thing t-1 can never be applied"
    assert headers[1]["dlq_error_class"] == b"KeyError"  # the declared exception itself
    assert b"host h-1" in headers[1]["dlq_error_message"]
    assert captured[0].value == first.value and captured[1].value == second.value


async def test_a_handler_bug_is_retried_and_neither_dead_lettered_nor_committed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Any other exception is not the message's fault: retried with backoff (here in place:
    a TestKafkaBroker record comes through no lane), logged at ERROR, counted as a bug, never
    dead-lettered; once the retry budget is spent the record is left unacknowledged."""
    broker = KafkaBroker()
    handlers = Handlers()
    attempts: list[int] = []

    @handlers.on(ThingHappened)
    async def on_thing(event: ThingHappened, meta: EventMeta) -> None:
        attempts.append(1)
        raise ValueError("meeting t-1 has no host")

    consumer = subscribe_events(broker, settings(kafka_max_poll_interval_s=0.2), [TOPIC],
                                handlers)
    captured = capture_dead_letters(broker, "pfx." + TOPIC + ".dlq")
    record = to_kafka_message(thing(), event_id=new_event_id())
    bugs_before = _failed("bug")
    message = FakeMessage(_record(record))
    async with TestKafkaBroker(broker):
        await consumer.handle_message(message)

    assert len(attempts) >= 3  # bugs never run out of attempts
    assert message.acked is False and message.consumer.commits == []
    assert captured == []
    assert _failed("bug") - bugs_before == len(attempts)
    assert any(r.levelname == "ERROR" and "not the message's fault" in r.getMessage()
               for r in caplog.records)


async def test_an_outage_is_never_a_rejection_even_when_its_class_is_declared() -> None:
    handlers = Handlers()
    attempts: list[int] = []

    @handlers.on(ThingHappened, rejects=(Exception,))
    async def on_thing(event: ThingHappened, meta: EventMeta) -> None:
        attempts.append(1)
        if len(attempts) < 3:
            raise AutoReconnect("mongo is restarting")

    consumer = subscribe_events(KafkaBroker(), settings(), [TOPIC], handlers)
    record = to_kafka_message(thing(), event_id=new_event_id())
    assert await consumer.process(_record(record)) is Outcome.PROCESSED
    assert len(attempts) == 3


async def test_data_the_store_refuses_is_the_messages_fault() -> None:
    """FerretDB on PostgreSQL refuses a NUL character in a string (SQLSTATE 22P05) on every
    try: dead-lettered at once. Any other store refusal is no proof against the message."""
    broker = KafkaBroker()
    handlers = Handlers()
    refusals = {
        "t-nul": OperationFailure("[msg_update.go:133] ERROR: unsupported Unicode escape "
                                  "sequence (SQLSTATE 22P05)", code=1),
        "t-other": OperationFailure("[msg_update.go:133] ERROR: deadlock detected "
                                    "(SQLSTATE 40P01)", code=1),
    }

    @handlers.on(ThingHappened)
    async def on_thing(event: ThingHappened, meta: EventMeta) -> None:
        raise refusals[event.thing_id]

    consumer = subscribe_events(broker, settings(kafka_max_poll_interval_s=0.05), [TOPIC],
                                handlers)
    captured = capture_dead_letters(broker, "pfx." + TOPIC + ".dlq")
    async with TestKafkaBroker(broker):
        nul = _record(to_kafka_message(thing("t-nul"), event_id=new_event_id()))
        assert await consumer.process(nul) is Outcome.DEAD_LETTERED
        other = _record(to_kafka_message(thing("t-other"), event_id=new_event_id()))
        assert await consumer.process(other) is Outcome.RETRY_LATER
    [dead] = captured
    headers = dict(dead.headers)
    assert (headers["dlq_reason"], headers["dlq_attempts"]) == (b"rejected", b"1")
    assert headers["dlq_error_class"] == b"OperationFailure"
    assert b"SQLSTATE 22P05" in headers["dlq_error_message"]


def _failed(kind: str) -> float:
    return REGISTRY.get_sample_value("convene_events_failed_total", {
        "topic": "pfx." + TOPIC, "type": ThingHappened.EVENT_TYPE, "kind": kind}) or 0.0


async def test_infrastructure_failure_is_retried_in_place_and_never_dead_lettered() -> None:
    broker = KafkaBroker()
    attempts: list[int] = []

    async def on_thing(envelope: Envelope) -> None:
        attempts.append(1)
        if len(attempts) < 6:  # infrastructure failures are retried for as long as they last
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

    def highwater(self, partition: Any) -> int | None:
        return None  # nothing fetched yet: no lag shown


class FakeMessage:
    def __init__(self, record: ConsumerRecord) -> None:
        self.raw_message = record
        self.consumer = FakeConsumer()
        self.acked = False

    async def ack(self) -> None:
        self.acked = True
