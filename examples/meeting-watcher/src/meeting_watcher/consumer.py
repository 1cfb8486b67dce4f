"""The consumer loop: the watcher's own consumer group, offsets committed after processing.

A batch of records is read, each record is parsed and remembered (the store commits its
transaction), and only then is the partition's offset committed. A crash anywhere before
that commit means the batch is delivered again on restart, and the store drops what it
already has: at-least-once delivery, exactly-once effect.

A failure of the store (disk full, file unwritable) is not the record's fault: it is not
caught, the offset is not committed, and the process exits with an error for its supervisor
to restart it.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError

from meeting_watcher.parsing import Skipped, read
from meeting_watcher.settings import Settings
from meeting_watcher.store import Position, WatcherStore

log = logging.getLogger("meeting_watcher")


def handle(record: ConsumerRecord, store: WatcherStore) -> None:
    """Parse one record, remember it, and log what was seen."""
    position = Position(record.topic, record.partition, record.offset)
    where = {"topic": record.topic, "partition": record.partition, "offset": record.offset}
    parsed = read(record.value, list(record.headers or ()), record.key)
    if isinstance(parsed, Skipped):
        store.remember_skip(parsed, position)
        log.warning("record skipped", extra={"fields": {
            "reason": parsed.reason, "event_type": parsed.event_type,
            "event_id": parsed.event_id, "detail": parsed.detail, **where}})
        return
    seen = store.remember(parsed, position)
    log.info("meeting event", extra={"fields": {
        "seen": seen.value, "event_type": parsed.event_type, "event_id": parsed.event_id,
        "account_id": parsed.account_id, "meeting_id": parsed.meeting_id,
        "version": parsed.version, "start": parsed.start.isoformat(), **where}})


async def watch(settings: Settings, store: WatcherStore, stopping: asyncio.Event) -> None:
    """Consume the meetings topic until ``stopping`` is set."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap,
        group_id=settings.group,
        client_id=settings.group,
        enable_auto_commit=False,  # commit after processing, never on receipt
        auto_offset_reset="earliest",  # a new group reads what the topic still holds
    )
    consumer.subscribe([settings.topic], listener=_LogAssignments())
    log.info("starting", extra={"fields": {"topic": settings.topic, "group": settings.group}})
    await consumer.start()
    try:
        while not stopping.is_set():
            batches = await consumer.getmany(timeout_ms=500, max_records=200)
            for partition, records in batches.items():
                for record in records:
                    handle(record, store)
                await _commit(consumer, partition, records[-1].offset + 1)
    finally:
        await consumer.stop()  # leaves the group at once: its partitions move without delay
        log.info("stopped", extra={"fields": {"group": settings.group}})


async def _commit(consumer: AIOKafkaConsumer, partition: TopicPartition, next_offset: int) -> None:
    try:
        await consumer.commit({partition: next_offset})
    except (CommitFailedError, IllegalStateError) as exc:
        # The partition moved to another member while the batch was processed: that member
        # reads these records again and the store drops them as duplicates.
        log.warning("offset not committed", extra={"fields": {
            "partition": partition.partition, "offset": next_offset, "error": repr(exc)}})


class _LogAssignments(ConsumerRebalanceListener):
    def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        if revoked:  # called with none before the first assignment
            log.info("partitions revoked", extra={"fields": {"partitions": _numbers(revoked)}})

    def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        log.info("partitions assigned", extra={"fields": {"partitions": _numbers(assigned)}})


def _numbers(partitions: list[TopicPartition]) -> list[int]:
    return sorted(tp.partition for tp in partitions)
