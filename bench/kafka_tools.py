"""Kafka probes of the benchmarks: a consumer group's lag, and a tail that records every
message of a topic as it arrives."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from convene_kit.dlq import topic_partitions


async def partitions_of(bootstrap: str, topic: str) -> list[TopicPartition]:
    """``topic``'s partitions in order (the kit's describe_topics lookup)."""
    return [TopicPartition(topic, p) for p in sorted(await topic_partitions(bootstrap, topic))]


async def group_lag(bootstrap: str, group: str, topic: str) -> int:
    """Messages of ``topic`` that ``group`` has not committed yet (all partitions)."""
    tps = await partitions_of(bootstrap, topic)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await admin.start()
    await consumer.start()
    try:
        ends = await consumer.end_offsets(tps)
        committed = await admin.list_consumer_group_offsets(group)
        return sum(ends[tp] - (committed[tp].offset if tp in committed else 0) for tp in tps)
    finally:
        await consumer.stop()
        await admin.close()


class TopicTail:
    """Reads ``topic`` from its beginning in the background; ``on_record`` sees each
    message as it arrives."""

    def __init__(self, bootstrap: str, topic: str,
                 on_record: Callable[[ConsumerRecord], None]) -> None:
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap,
                                         auto_offset_reset="earliest", enable_auto_commit=False)
        self.bootstrap = bootstrap
        self.topic = topic
        self.on_record = on_record
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        tps = await partitions_of(self.bootstrap, self.topic)
        await self.consumer.start()
        self.consumer.assign(tps)
        await self.consumer.seek_to_beginning(*tps)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            batch = await self.consumer.getmany(timeout_ms=500, max_records=1000)
            for records in batch.values():
                for record in records:
                    self.on_record(record)

    async def stop(self) -> None:
        """Stop reading; never raises (it runs in clean-ups, also after a Kafka outage,
        when aiokafka's own fetch task may end with a CancelledError of its own)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, KafkaError):
                await self._task
        with contextlib.suppress(asyncio.CancelledError, KafkaError):
            await self.consumer.stop()
