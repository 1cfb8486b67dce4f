"""In-memory stand-ins for the store and the publisher (meetings' unit tests, no servers).

The store is the kit's (:class:`convene_kit.testing.FakeStore`): the slice of the MongoDB
API the kit and the services use, a duplicate ``_id`` refused, and every document through a
real BSON round trip, so what a test reads back is what a store would keep (aware UTC
datetimes with milliseconds, no Python-only types).
"""

from __future__ import annotations

from convene_kit.settings import ServiceSettings
from convene_kit.testing import FakeCollection, FakeStore
from convene_schemas.envelope import Envelope, KafkaRecord, from_kafka_message

__all__ = ["FakeCollection", "FakePublisher", "FakeStore"]


class FakePublisher:
    """Captures what the outbox publishes; ``fail`` makes Kafka unreachable."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.sent: list[KafkaRecord] = []
        self.fail = False

    async def publish_record(self, record: KafkaRecord) -> None:
        if self.fail:
            raise ConnectionError("kafka unreachable")
        self.sent.append(record)

    def events(self) -> list[Envelope]:
        return [from_kafka_message(r.value, r.headers, r.key) for r in self.sent]
