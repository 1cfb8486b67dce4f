"""Test support every service's tests share, in one place (never imported by product code).

* ``kafka``: helpers for integration tests against a real Kafka: topics, reading records,
  committed positions, bounded polls (never a bare sleep);
* ``store``: :class:`FakeStore`, the one in-memory MongoDB of the unit tests, run under the
  real repositories;
* ``gateway``: :class:`GatewayKeys` (a gateway key pair: the service's verifier, callers'
  bearer headers) and :class:`ManualClock`;
* ``publishers``: :class:`RecordingPublisher` (unit tests), :class:`CrashingPublisher` (the
  crash between a write and its publish, for a process an integration test starts; no
  fault injection lives in product code) and :func:`capture_dead_letters`.
"""

from convene_kit.dlq import topic_partitions
from convene_kit.testing.gateway import GatewayKeys, ManualClock
from convene_kit.testing.kafka import (
    committed_offset,
    committed_through,
    create_topics,
    end_offsets,
    eventually,
    random_name,
    read_records,
    topic_size,
)
from convene_kit.testing.publishers import (
    CrashingPublisher,
    RecordingPublisher,
    capture_dead_letters,
)
from convene_kit.testing.store import (
    FakeCollection,
    FakeCursor,
    FakeStore,
    apply_update,
    bson_copy,
    matches,
)

__all__ = [
    "CrashingPublisher",
    "FakeCollection",
    "FakeCursor",
    "FakeStore",
    "GatewayKeys",
    "ManualClock",
    "RecordingPublisher",
    "apply_update",
    "bson_copy",
    "capture_dead_letters",
    "committed_offset",
    "committed_through",
    "create_topics",
    "end_offsets",
    "eventually",
    "matches",
    "random_name",
    "read_records",
    "topic_partitions",
    "topic_size",
]
