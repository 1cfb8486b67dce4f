"""Publishers for tests: :class:`RecordingPublisher` keeps what it is given (unit tests);
:class:`CrashingPublisher` is the crash between a write and its publish, for a service
process an integration test starts with it (no fault injection lives in product code);
:func:`capture_dead_letters` keeps what a ``TestKafkaBroker`` dead-letters.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable
from typing import Any

from aiokafka import ConsumerRecord
from convene_schemas.envelope import Envelope, KafkaRecord, from_kafka_message
from faststream.kafka import KafkaBroker

from convene_kit.kafka import EventPublisher
from convene_kit.settings import ServiceSettings

logger = logging.getLogger(__name__)


def _envelope(record: KafkaRecord) -> Envelope:
    return from_kafka_message(record.value, record.headers, record.key)


class RecordingPublisher(EventPublisher):
    """An :class:`~convene_kit.kafka.EventPublisher` for unit tests, with no broker: keeps
    every record it is given, in order, in ``records`` (logical topics, as the outbox
    stores them). ``fail = True`` makes Kafka unreachable (every publish raises
    ``ConnectionError``, nothing is kept); ``fail_on(envelope)`` does so for the records it
    accepts (one event id, one version). Each publish yields to the event loop once, as a
    send to Kafka would, so concurrent requests interleave there."""

    def __init__(self, settings: ServiceSettings | None = None, *,
                 fail_on: Callable[[Envelope], bool] | None = None) -> None:
        # No super().__init__: there is no broker; publish_record below never sends.
        self.settings = settings or ServiceSettings(service_name="tests")
        self.records: list[KafkaRecord] = []
        self.fail = False
        self.fail_on = fail_on

    async def publish_record(self, record: KafkaRecord) -> None:
        await asyncio.sleep(0)
        if self.fail or (self.fail_on is not None and self.fail_on(_envelope(record))):
            raise ConnectionError("kafka unreachable")
        self.records.append(record)

    def events(self) -> list[Envelope]:
        """The kept records decoded (CloudEvents envelopes with their typed events)."""
        return [_envelope(record) for record in self.records]


class CrashingPublisher(EventPublisher):
    """An :class:`~convene_kit.kafka.EventPublisher` that SIGKILLs its own process instead
    of sending the first record ``crash_on(envelope)`` accepts: nothing of it reaches Kafka,
    no shutdown hook runs, what was written before stays written. Every other record is
    published normally. For a service process that an integration test starts with
    ``bootstrap(publisher=CrashingPublisher(...))`` to prove that the outbox relay publishes
    after a restart what the crash left behind; never wired by a service itself."""

    def __init__(self, broker: KafkaBroker, settings: ServiceSettings, *,
                 crash_on: Callable[[Envelope], bool]) -> None:
        super().__init__(broker, settings)
        self.crash_on = crash_on

    async def publish_record(self, record: KafkaRecord) -> None:
        if self.crash_on(_envelope(record)):
            logger.critical("crashing before publishing %s to %s (CrashingPublisher)",
                            dict(record.headers).get("ce_id", b"?").decode(), record.topic)
            os.kill(os.getpid(), signal.SIGKILL)
        await super().publish_record(record)


def capture_dead_letters(broker: KafkaBroker, dlq_topic: str) -> list[ConsumerRecord]:
    """Subscribe ``broker`` (before ``TestKafkaBroker`` starts it) to ``dlq_topic``; the
    returned list fills with the raw dead letters published there (value, key, headers)."""
    captured: list[ConsumerRecord] = []

    async def keep_raw(record: ConsumerRecord, original: Any) -> Any:
        captured.append(record)
        return await original(record)

    @broker.subscriber(dlq_topic, parser=keep_raw)
    async def dead_letters(body: Any) -> None:  # noqa: ARG001
        return None

    return captured
