"""Consuming catalogue events safely: commit after processing, retry, dead-letter, skip.

Acknowledgement policy. Every subscriber uses ``AckPolicy.MANUAL`` and this module commits
explicitly, only positions whose records' outcomes are final (handled, dead-lettered,
skipped as a duplicate or as a type this service does not handle). Partitions are processed
concurrently, each in offset order, and commits are batched (:mod:`convene_kit.lanes`). Why not
``AckPolicy.ACK``: in FastStream 0.7.8 its middleware commits even when the handler raised
(``__aexit__`` acks on any non-HandlerException), and ``KafkaAckableMessage.ack()`` commits
every consumed position. ``NACK_ON_ERROR`` would seek back but gives no place for
backoff, bounded retries or dead-lettering. With ``MANUAL``, nothing is committed unless a
record's outcome is final, and no exception ever escapes the handler.

Per record:

1. decode with ``from_kafka_message``; an ``InvalidEvent`` goes to ``<topic>.dlq`` with its
   original bytes (see :mod:`convene_kit.dlq`), then commit;
2. a valid event of a type this service has no handler for: commit and skip;
3. optionally drop ids the group already processed (:class:`ProcessedEvents`);
4. call the handler. An infrastructure failure (:func:`is_infrastructure_error`) is retried
   in place with exponential backoff, never committed, and never dead-lettered; if retrying
   would exceed half of ``max.poll.interval``, or the service is shutting down, the consumer
   seeks back to the record (it is fetched again, nothing is committed). Any other
   exception is retried ``consumer_max_attempts`` times, then dead-lettered and committed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from convene_schemas.base import Event
from convene_schemas.envelope import Envelope, InvalidEvent, from_kafka_message
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from convene_kit.dlq import dead_letter
from convene_kit.idempotency import ProcessedEvents
from convene_kit.lanes import Lanes
from convene_kit.logging import log_context
from convene_kit.metrics import (
    EVENTS_CONSUMED,
    EVENTS_DUPLICATE,
    EVENTS_FAILED,
    EVENTS_SKIPPED,
    HANDLER_LATENCY,
)
from convene_kit.settings import ServiceSettings
from convene_kit.store import is_infrastructure_error

logger = logging.getLogger(__name__)

Handler = Callable[[Envelope], Awaitable[Any]]


class Outcome(enum.Enum):
    """What became of one record; every outcome but RETRY_LATER is committed."""

    PROCESSED = "processed"
    DUPLICATE = "duplicate"
    SKIPPED = "skipped"
    DEAD_LETTERED = "dead_lettered"
    RETRY_LATER = "retry_later"


class EventConsumer:
    """The subscribers of one service: one FastStream subscriber per topic, one group."""

    def __init__(
        self,
        broker: KafkaBroker,
        settings: ServiceSettings,
        *,
        processed_events: ProcessedEvents | None = None,
    ) -> None:
        self.broker = broker
        self.settings = settings
        self.group = settings.consumer_group
        self.processed_events = processed_events
        self.subscribers: list[Any] = []
        self._handlers: dict[type[Event], Handler] = {}
        self._stopping = asyncio.Event()
        self._retry_budget_s = settings.kafka_max_poll_interval_s / 2
        self.lanes = Lanes(self._process_to_the_end, depth=settings.consumer_lane_depth,
                           commit_interval_s=settings.consumer_commit_interval_s,
                           grace_s=settings.shutdown_grace_s)

    def subscribe(self, topic: str, handlers: Mapping[type[Event], Handler]) -> Any:
        """Consume logical ``topic`` (prefix applied) dispatching to ``handlers`` by class."""
        for event_class in handlers:
            if event_class.TOPIC != topic:
                raise ValueError(
                    f"{event_class.__name__} travels on {event_class.TOPIC}, not {topic}"
                )
        self._handlers.update(handlers)
        subscriber = self.broker.subscriber(
            self.settings.topic(topic),
            group_id=self.group,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.MANUAL,
            max_poll_interval_ms=int(self.settings.kafka_max_poll_interval_s * 1000),
            parser=_tolerant_parser,
            decoder=_raw_body,
            listener=self.lanes,
            title=f"{self.settings.service_name}:{topic}",
        )

        async def on_message(body: Any, message: KafkaMessage) -> None:
            await self.handle_message(message)

        on_message.__name__ = f"consume_{topic.replace('.', '_')}"
        subscriber(on_message)
        self.subscribers.append(subscriber)
        return subscriber

    def begin_shutdown(self) -> None:
        """Stop retrying: records in retry are left uncommitted and redelivered later."""
        self._stopping.set()

    async def stop(self) -> None:
        """Take no more records, let those in hand finish, commit what was processed."""
        self.begin_shutdown()
        await self.lanes.stop()

    def assignment(self) -> set[TopicPartition]:
        """The partitions currently assigned to this process's consumers."""
        assigned: set[TopicPartition] = set()
        for subscriber in self.subscribers:
            consumer = getattr(subscriber, "consumer", None)
            if consumer is not None:
                assigned |= set(consumer.assignment())
        return assigned

    def all_assigned(self) -> bool:
        """True when every subscriber's consumer has joined its group and holds partitions."""
        for subscriber in self.subscribers:
            consumer = getattr(subscriber, "consumer", None)
            if consumer is None:
                return False
            # TestKafkaBroker's fake consumer has no assignment: it is always "assigned".
            assignment = getattr(consumer, "assignment", None)
            if assignment is not None and not assignment():
                return False
        return True

    async def handle_message(self, message: Any) -> None:
        """FastStream entry: hand the record to its partition's lane. Never raises.

        TestKafkaBroker's fake consumer (contract tests) processes it right here instead,
        so a test's ``publish`` returns once the handler has run.
        """
        record: ConsumerRecord = message.raw_message
        if isinstance(message.consumer, AIOKafkaConsumer):
            await self.lanes.dispatch(message.consumer, record)
        elif await self._process_to_the_end(record):
            await message.ack()

    async def _process_to_the_end(self, record: ConsumerRecord) -> bool:
        """Process one record; True when its outcome is final (commit past it), False when
        it must be read again later (left uncommitted)."""
        try:
            outcome = await self.process(record)
        except asyncio.CancelledError:
            raise  # shutting down: nothing committed, the record is redelivered
        except Exception:
            logger.exception("unexpected failure processing %s[%d]@%d",
                             record.topic, record.partition, record.offset)
            outcome = Outcome.RETRY_LATER
            await self._sleep(self.settings.consumer_retry_initial_s)
        return outcome is not Outcome.RETRY_LATER

    async def process(self, record: ConsumerRecord) -> Outcome:
        """Decode, dispatch and retry one record; returns its outcome (commits nothing)."""
        headers = dict(record.headers or ())
        with log_context(
            traceparent=_text(headers.get("ce_traceparent")),
            correlation_id=_text(headers.get("ce_id")),
            account_id=_text(headers.get("ce_accountid")),
        ):
            try:
                envelope = from_kafka_message(record.value, list(record.headers or ()), record.key)
            except InvalidEvent as exc:
                logger.warning("dead-lettering invalid message from %s: %s", record.topic, exc)
                # "invalid", not the header's type: untrusted values make no metric labels.
                return await self._dead_letter(record, exc, exc.reason, "invalid", 0)
            handler = self._handlers.get(type(envelope.event))
            if handler is None:
                EVENTS_SKIPPED.labels(topic=record.topic, type=envelope.type).inc()
                return Outcome.SKIPPED
            return await self._run_handler(record, envelope, handler)

    async def _run_handler(
        self, record: ConsumerRecord, envelope: Envelope, handler: Handler
    ) -> Outcome:
        labels = {"topic": record.topic, "type": envelope.type}
        started = time.monotonic()
        failures = 0
        delay = self.settings.consumer_retry_initial_s
        while True:
            try:
                if self.processed_events and await self.processed_events.seen(envelope.id):
                    EVENTS_DUPLICATE.labels(**labels).inc()
                    return Outcome.DUPLICATE
                await handler(envelope)
                if self.processed_events:
                    await self.processed_events.mark(envelope.id)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                infrastructure = is_infrastructure_error(exc)
                kind = "infrastructure" if infrastructure else "message"
                EVENTS_FAILED.labels(**labels, kind=kind).inc()
                if not infrastructure:
                    failures += 1
                    if failures >= self.settings.consumer_max_attempts:
                        logger.error("handler failed %d times; dead-lettering %s",
                                     failures, envelope.id, exc_info=exc)
                        HANDLER_LATENCY.labels(**labels).observe(time.monotonic() - started)
                        return await self._dead_letter(
                            record, exc, "handler_failed", envelope.type, failures
                        )
                logger.warning("handler failed (%s, %s); retrying in %.2fs",
                               kind, type(exc).__name__, delay, exc_info=exc)
                if time.monotonic() - started + delay > self._retry_budget_s:
                    logger.warning("retry budget spent; leaving %s uncommitted", envelope.id)
                    return Outcome.RETRY_LATER
                if await self._sleep(delay):
                    return Outcome.RETRY_LATER
                delay = min(delay * 2, self.settings.consumer_retry_max_s)
            else:
                HANDLER_LATENCY.labels(**labels).observe(time.monotonic() - started)
                EVENTS_CONSUMED.labels(**labels).inc()
                return Outcome.PROCESSED

    async def _dead_letter(
        self, record: ConsumerRecord, exc: BaseException, reason: str, event_type: str,
        attempts: int,
    ) -> Outcome:
        """Publish to the DLQ; an unreachable Kafka is retried like any infrastructure error."""
        delay = self.settings.consumer_retry_initial_s
        started = time.monotonic()
        while True:
            try:
                await dead_letter(self.broker, record, group=self.group, reason=reason,
                                  error=exc, event_type=event_type, attempts=attempts)
                return Outcome.DEAD_LETTERED
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("publishing to the DLQ failed; retrying", exc_info=True)
                if time.monotonic() - started + delay > self._retry_budget_s:
                    return Outcome.RETRY_LATER
                if await self._sleep(delay):
                    return Outcome.RETRY_LATER
                delay = min(delay * 2, self.settings.consumer_retry_max_s)

    async def _sleep(self, seconds: float) -> bool:
        """Back off; returns True (early) if shutdown began meanwhile."""
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except TimeoutError:
            return False
        return True


def subscribe_events(
    broker: KafkaBroker,
    settings: ServiceSettings,
    topics: list[str],
    handlers: Mapping[type[Event], Handler],
    *,
    processed_events: ProcessedEvents | None = None,
) -> EventConsumer:
    """Subscribe the service to logical ``topics``; each handler gets its class's events.

    Every handler's event class must travel on one of ``topics``.
    """
    unrouted = [cls.__name__ for cls in handlers if cls.TOPIC not in topics]
    if unrouted:
        raise ValueError(f"handlers for events on topics not subscribed: {unrouted}")
    consumer = EventConsumer(broker, settings, processed_events=processed_events)
    for topic in topics:
        consumer.subscribe(topic, {c: h for c, h in handlers.items() if c.TOPIC == topic})
    return consumer


def _text(raw: bytes | None) -> str | None:
    return raw.decode("utf-8", "replace") if raw is not None else None


async def _tolerant_parser(record: ConsumerRecord, original: Callable[..., Any]) -> Any:
    """FastStream's parser decodes every header as UTF-8 and raises on anything else,
    before any handler runs; such a message must still reach us (and the DLQ) intact."""
    try:
        return await original(record)
    except UnicodeDecodeError:
        headers = [(k, v.decode("utf-8", "replace").encode()) for k, v in record.headers]
        shadow = dataclasses.replace(record, headers=headers)
        message = await original(shadow)
        message.raw_message = record
        return message


async def _raw_body(message: Any) -> bytes:
    """Hand the handler the undecoded body: decoding is ``from_kafka_message``'s job."""
    return bytes(message.body)
