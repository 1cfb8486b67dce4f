"""The Kafka broker of a service and the one way events leave it.

:func:`build_broker` configures FastStream's ``KafkaBroker`` the way style.md asks: an
idempotent producer with ``acks="all"``, the service name as client id, no automatic topic
creation (topics are provisioned, never created by a typo).

Headers on the wire. FastStream 0.7.8's ``broker.publish`` takes ``headers: dict[str, str]``,
encodes each value with ``str.encode()`` and always adds a ``correlation_id`` header (a
fresh uuid unless one is given) plus ``content-type``. CloudEvents headers built by
``to_kafka_message`` are UTF-8 bytes, so they would survive that, but the extra header would
not make the record "exactly the CloudEvents message", and a dead letter's original headers
may not be UTF-8 at all. So :func:`send_record` hands the bytes straight to the broker's
own ``AIOKafkaProducer`` (the same idempotent producer, same connection) when the broker is
connected to a real cluster, and falls back to ``broker.publish`` only under FastStream's
``TestKafkaBroker`` (whose fake producer has no aiokafka producer), so contract tests still
see every publish.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka import errors as kafka_errors
from convene_schemas.base import Event
from convene_schemas.envelope import KafkaRecord, to_kafka_message
from faststream.kafka import KafkaBroker
from faststream.kafka.publisher.producer import AioKafkaFastProducerImpl

from convene_kit.logging import traceparent_var
from convene_kit.metrics import EVENTS_PUBLISHED, PRODUCER_RENEWALS
from convene_kit.settings import ServiceSettings

logger = logging.getLogger(__name__)


def build_broker(settings: ServiceSettings, **overrides: Any) -> KafkaBroker:
    """The service's FastStream Kafka broker: idempotent producer, acks=all, no auto topics.

    ``overrides`` are passed to ``KafkaBroker`` last (tests shorten timeouts with them).
    """
    options: dict[str, Any] = {
        "client_id": settings.service_name,
        "enable_idempotence": True,
        "acks": "all",
        "request_timeout_ms": int(settings.kafka_request_timeout_s * 1000),
        "allow_auto_create_topics": False,
        "graceful_timeout": settings.shutdown_grace_s,
        "logger": logging.getLogger(f"convene.{settings.service_name}.broker"),
    }
    options.update(overrides)
    return KafkaBroker(settings.kafka_bootstrap, **options)


def aiokafka_producer(broker: KafkaBroker) -> AIOKafkaProducer | None:
    """The connected broker's ``AIOKafkaProducer``, or None under ``TestKafkaBroker``.

    Reaches one private attribute of FastStream 0.7.8 (pinned); the integration tests check
    the bytes that reach Kafka, so an upgrade that moves it fails loudly there.
    """
    fast_producer = broker.config.producer
    if not isinstance(fast_producer, AioKafkaFastProducerImpl) or not fast_producer:
        return None
    state = getattr(fast_producer, "_producer", None)
    producer = getattr(state, "producer", None)
    return producer if isinstance(producer, AIOKafkaProducer) else None


FATAL_PRODUCER_ERRORS: tuple[type[BaseException], ...] = (
    kafka_errors.OutOfOrderSequenceNumber,
    kafka_errors.UnknownProducerId,
    kafka_errors.InvalidProducerEpoch,
    kafka_errors.ProducerFenced,
)
"""Errors after which an idempotent ``AIOKafkaProducer`` never sends again: its sender
gave up on the producer id's sequence (a broker restarted mid-batch can answer
OutOfOrderSequenceNumber), and every later send fails the same way. The resilience suite's
30 s Kafka outage left meetings publishing nothing for good like that."""

_RENEWING: dict[int, asyncio.Lock] = {}


async def renew_producer(broker: KafkaBroker, failed: AIOKafkaProducer, *, reason: str) -> None:
    """Replace the broker's producer ``failed`` by a new one (a new producer id, the same
    settings), once however many sends saw it fail. What was not acknowledged is published
    again by its caller (the outbox keeps it until then)."""
    lock = _RENEWING.setdefault(id(broker), asyncio.Lock())
    async with lock:
        if aiokafka_producer(broker) is not failed:
            return  # renewed by a concurrent send already
        logger.warning("the Kafka producer failed for good (%s); starting a new one", reason)
        try:
            await failed.stop()  # type: ignore[union-attr]  # aiokafka types stop() oddly
        except Exception as exc:  # noqa: BLE001 - a broken producer may fail to stop too
            logger.warning("stopping the failed producer: %s", type(exc).__name__)
        fast_producer = broker.config.producer
        assert isinstance(fast_producer, AioKafkaFastProducerImpl)
        # FastStream 0.7.8 (pinned) keeps the producer's settings as the broker's
        # connection arguments; connect() starts the new producer and swaps it in.
        replacement = AIOKafkaProducer(**broker._connection_kwargs)
        await fast_producer.connect(replacement, serializer=fast_producer.serializer,
                                    codec=fast_producer.codec)
        PRODUCER_RENEWALS.inc()


async def send_record(
    broker: KafkaBroker,
    topic: str,
    *,
    key: bytes | None,
    value: bytes | None,
    headers: Iterable[tuple[str, bytes]],
    timeout_s: float | None = None,
) -> None:
    """Publish one record with exactly these key, value and header bytes; wait for the ack,
    at most ``timeout_s`` (then ``KafkaTimeoutError``, an infrastructure failure: the
    record may still be delivered later by the producer, so its caller must be content with
    at least once, as every outbox is: the relay sends it again with the same event id)."""
    header_list = [(name, bytes(raw)) for name, raw in headers]
    producer = aiokafka_producer(broker)
    if producer is not None:
        try:
            await asyncio.wait_for(
                producer.send_and_wait(topic, value=value, key=key, headers=header_list),
                timeout_s)
        except TimeoutError as exc:
            raise kafka_errors.KafkaTimeoutError(
                f"Kafka did not acknowledge a record to {topic} within {timeout_s} s") from exc
        except FATAL_PRODUCER_ERRORS as exc:
            await renew_producer(broker, producer, reason=type(exc).__name__)
            raise kafka_errors.KafkaConnectionError(
                f"the Kafka producer failed for good ({type(exc).__name__}) and was "
                "replaced; publish again") from exc
    else:
        # TestKafkaBroker: its fake producer only speaks FastStream's str headers.
        text_headers = {name: raw.decode("utf-8", "replace") for name, raw in header_list}
        await broker.publish(
            value if value is not None else b"",
            topic,
            key=key,
            headers=text_headers,
            correlation_id=text_headers.get("ce_id"),
        )
    EVENTS_PUBLISHED.labels(topic=topic).inc()


class EventPublisher:
    """Publishes catalogue events as CloudEvents binary-mode Kafka records.

    Topic names get ``settings.topic_prefix``; the event id is the caller's (the outbox
    keeps it), so a retried publish carries the same ``ce_id``.
    """

    def __init__(self, broker: KafkaBroker, settings: ServiceSettings) -> None:
        self.broker = broker
        self.settings = settings

    async def publish(
        self, event: Event, *, event_id: str, traceparent: str | None = None
    ) -> KafkaRecord:
        """Publish ``event`` now (prefer the outbox after a database write); returns the record.

        ``traceparent`` defaults to the one of the request or event being handled.
        """
        record = to_kafka_message(
            event, event_id=event_id, traceparent=traceparent or traceparent_var.get()
        )
        await self.publish_record(record)
        return record

    async def publish_record(self, record: KafkaRecord) -> None:
        """Publish an already serialised record (an outbox entry) to its prefixed topic."""
        await send_record(
            self.broker,
            self.settings.topic(record.topic),
            key=record.key,
            value=record.value,
            headers=record.headers,
            timeout_s=self.settings.kafka_publish_timeout_s,
        )
