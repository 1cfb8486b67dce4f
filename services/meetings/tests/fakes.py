"""In-memory stand-ins for the store and the publisher (meetings' unit tests, no servers).

Both are the kit's. The store (:class:`convene_kit.testing.FakeStore`): the slice of the
MongoDB API the kit and the services use, a duplicate ``_id`` refused, and every document
through a real BSON round trip, so what a test reads back is what a store would keep (aware
UTC datetimes with milliseconds, no Python-only types). The publisher
(:class:`convene_kit.testing.RecordingPublisher`): keeps what the outbox publishes in
``records``; ``fail`` makes Kafka unreachable.
"""

from __future__ import annotations

from convene_kit.testing import FakeCollection, FakeStore, RecordingPublisher

__all__ = ["FakeCollection", "FakeStore", "RecordingPublisher"]
