"""An in-memory Kafka for the CLI's tests: stand-ins for the three aiokafka clients that
``convene_kit.dlq`` and ``convene_cli.dead_letters`` create, over one :class:`FakeCluster`.

Only the slice those modules use, with Kafka's semantics where they matter: offsets start
at a partition's log start (records before it were removed by retention), reading from an
offset below the log start jumps to the end (aiokafka's ``auto_offset_reset="latest"``),
and a producer appends to the partition its key hashes to. ``on_send`` lets a test act in
the middle of a replay (press Ctrl-C, break the connection).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaConnectionError


@dataclass
class Partition:
    log_start: int = 0
    records: list[ConsumerRecord] = field(default_factory=list)

    @property
    def end(self) -> int:
        return self.log_start + len(self.records)


class FakeCluster:
    """Topics of partitions of records; ``reachable = False`` makes every client fail."""

    def __init__(self) -> None:
        self.topics: dict[str, list[Partition]] = {}
        self.reachable = True
        self.on_send: Callable[[int], None] | None = None  # called with the send's number
        self.sends = 0

    def create(self, topic: str, partitions: int = 1, log_start: int = 0) -> None:
        self.topics[topic] = [Partition(log_start) for _ in range(partitions)]

    def append(self, topic: str, partition: int, *, key: bytes | None, value: bytes | None,
               headers: list[tuple[str, bytes]]) -> ConsumerRecord:
        part = self.topics[topic][partition]
        record = ConsumerRecord(topic=topic, partition=partition, offset=part.end, timestamp=0,
                                timestamp_type=0, key=key, value=value, checksum=None,
                                serialized_key_size=len(key or b""),
                                serialized_value_size=len(value or b""), headers=headers)
        part.records.append(record)
        return record

    def records(self, topic: str) -> list[ConsumerRecord]:
        return [r for part in self.topics.get(topic, []) for r in part.records]

    def check(self) -> None:
        if not self.reachable:
            raise KafkaConnectionError("Unable to bootstrap from [('fake', 9092)]")


class FakeAdminClient:
    def __init__(self, cluster: FakeCluster, **options: Any) -> None:
        self.cluster = cluster

    async def start(self) -> None:
        self.cluster.check()

    async def close(self) -> None:
        return None

    async def describe_topics(self, topics: list[str]) -> list[dict[str, Any]]:
        described = []
        for name in topics:
            parts = self.cluster.topics.get(name)
            if parts is None:
                described.append({"topic": name, "error_code": 3, "partitions": []})
            else:
                described.append({"topic": name, "error_code": 0,
                                  "partitions": [{"partition": p} for p in range(len(parts))]})
        return described


class FakeConsumer:
    def __init__(self, cluster: FakeCluster, **options: Any) -> None:
        assert options.get("group_id") is None, "DLQ reads never join a consumer group"
        self.cluster = cluster
        self.positions: dict[TopicPartition, int] = {}

    def _partition(self, tp: TopicPartition) -> Partition:
        return self.cluster.topics[tp.topic][tp.partition]

    async def start(self) -> None:
        self.cluster.check()

    async def stop(self) -> None:
        return None

    def assign(self, tps: list[TopicPartition]) -> None:
        self.positions = {tp: self._partition(tp).log_start for tp in tps}

    async def beginning_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: self._partition(tp).log_start for tp in tps}

    async def end_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: self._partition(tp).end for tp in tps}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.positions[tp] = offset

    async def position(self, tp: TopicPartition) -> int:
        return self.positions[tp]

    async def getmany(self, *tps: TopicPartition, timeout_ms: int = 0,
                      max_records: int | None = None) -> dict[TopicPartition, list[Any]]:
        self.cluster.check()
        batch: dict[TopicPartition, list[Any]] = {}
        budget = max_records or 500
        for tp in tps or list(self.positions):
            part = self._partition(tp)
            if self.positions[tp] < part.log_start:
                self.positions[tp] = part.end  # out of range: auto_offset_reset="latest"
            first = self.positions[tp] - part.log_start
            records = part.records[first:first + budget]
            if records:
                batch[tp] = records
                self.positions[tp] = records[-1].offset + 1
                budget -= len(records)
        return batch


class FakeProducer:
    def __init__(self, cluster: FakeCluster, **options: Any) -> None:
        assert options.get("enable_idempotence") and options.get("acks") == "all"
        self.cluster = cluster

    async def start(self) -> None:
        self.cluster.check()

    async def stop(self) -> None:
        return None

    async def flush(self) -> None:
        return None

    async def send_and_wait(self, topic: str, value: bytes | None = None,
                            key: bytes | None = None,
                            headers: list[tuple[str, bytes]] | None = None) -> None:
        self.cluster.sends += 1
        if self.cluster.on_send is not None:
            self.cluster.on_send(self.cluster.sends)
        self.cluster.check()
        partitions = len(self.cluster.topics[topic])
        partition = zlib.crc32(key or b"") % partitions
        self.cluster.append(topic, partition, key=key, value=value, headers=list(headers or []))


def dead_letter_headers(source: str, offset: int, reason: str = "validation_failed",
                        group: str = "notifications",
                        event_type: str = "com.convene.meetings.MeetingScheduled",
                        ) -> list[tuple[str, bytes]]:
    """Headers as ``convene_kit.dlq.dead_letter`` writes them, after the original ones."""
    return [("ce_id", f"evt-{offset}".encode()), ("ce_type", event_type.encode()),
            ("dlq_source_topic", source.encode()), ("dlq_source_partition", b"2"),
            ("dlq_source_offset", str(offset).encode()), ("dlq_consumer_group", group.encode()),
            ("dlq_reason", reason.encode()), ("dlq_error_class", b"ValidationError"),
            ("dlq_error_message", b"start: input should be a valid datetime"),
            ("dlq_failed_at", b"2026-03-06T09:12:45.000+00:00"), ("dlq_attempts", b"0")]
