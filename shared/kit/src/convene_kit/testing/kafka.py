"""Helpers for integration tests against a real Kafka (services' tests use them too).

The local broker does not auto-create topics, so tests create their own (and the ``.dlq``
ones). Every wait is a bounded poll that fails with a clear message, never a bare sleep.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from convene_kit.dlq import topic_partitions

T = TypeVar("T")


def random_name(prefix: str) -> str:
    """A name no other test run uses (topics, databases, groups)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def eventually(
    probe: Callable[[], Awaitable[T | None]],
    what: str,
    timeout_s: float = 20.0,
    interval_s: float = 0.1,
) -> T:
    """Poll ``probe`` until it returns something truthy; AssertionError naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = await probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        await asyncio.sleep(interval_s)


async def create_topics(bootstrap: str, *names: str, partitions: int = 1) -> None:
    """Create topics (replication factor 1) and wait until their leaders are known."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=1) for name in names]
        )
    finally:
        await admin.close()

    async def all_known() -> bool:
        for name in names:
            try:
                if not await topic_partitions(bootstrap, name):
                    return False
            except ValueError:
                return False
        return True

    await eventually(all_known, f"metadata of topics {names}", timeout_s=15)


async def topic_size(bootstrap: str, topic: str) -> int:
    """How many records the topic holds (all partitions)."""
    tps = [TopicPartition(topic, p) for p in await topic_partitions(bootstrap, topic)]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(tps)
        begins = await consumer.beginning_offsets(tps)
        return sum(ends[tp] - begins[tp] for tp in tps)
    finally:
        await consumer.stop()


async def read_records(
    bootstrap: str, topic: str, *, expected: int, timeout_s: float = 20.0
) -> list[ConsumerRecord]:
    """Every record of ``topic`` from the beginning once at least ``expected`` are there."""

    async def enough() -> int | None:
        size = await topic_size(bootstrap, topic)
        return size if size >= expected else None

    size = await eventually(enough, f"{expected} records on {topic}", timeout_s=timeout_s)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
    )
    tps = [TopicPartition(topic, p) for p in sorted(await topic_partitions(bootstrap, topic))]
    await consumer.start()
    try:
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        records: list[ConsumerRecord] = []
        deadline = time.monotonic() + timeout_s
        while len(records) < size:
            if time.monotonic() > deadline:
                raise AssertionError(f"read {len(records)} of {size} records from {topic}")
            batch = await consumer.getmany(timeout_ms=500)
            for part in batch.values():
                records.extend(part)
        return sorted(records, key=lambda r: (r.partition, r.offset))
    finally:
        await consumer.stop()


async def committed_offset(
    bootstrap: str, group: str, topic: str, partition: int = 0
) -> int | None:
    """The offset ``group`` committed for one partition, or None."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        return await consumer.committed(TopicPartition(topic, partition))
    finally:
        await consumer.stop()


async def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """Per partition of ``topic``, the offset its next record will get: what it holds now."""
    tps = [TopicPartition(topic, p) for p in await topic_partitions(bootstrap, topic)]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(tps)
        return {tp.partition: offset for tp, offset in ends.items()}
    finally:
        await consumer.stop()


async def committed_through(
    bootstrap: str, group: str, topic: str, ends: Mapping[int, int]
) -> bool:
    """True once ``group`` has committed up to ``ends`` (from :func:`end_offsets`) on every
    partition, i.e. processed every record the topic held when ``ends`` was read. The
    barrier before asserting that those records did NOT cause something."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        for partition, end in ends.items():
            if end == 0:
                continue
            committed = await consumer.committed(TopicPartition(topic, partition))
            if committed is None or committed < end:
                return False
        return True
    finally:
        await consumer.stop()
