"""Partitions processed concurrently, each in order; offsets committed in small batches.

One Kafka consumer per subscriber fetches for every partition it holds; this module hands
each record to its partition's *lane*, a queue and a worker task, so a slow record of one
partition (an SMTP round trip, a store write) no longer holds up the others. Within a lane
records are processed one at a time in offset order, so events of one aggregate (one key,
one partition) keep their order.

Committing. A lane's worker records, after each record's final outcome, the next offset to
read (``record.offset + 1``); :meth:`Lanes.commit` sends the advanced offsets of all lanes in
one request, every ``commit_interval_s`` and whenever a partition is revoked or the service
stops. Only processed positions are ever committed: a crash redelivers at most the records
of the last interval, which every handler absorbs (idempotent by construction).

Retrying later. A record left uncommitted (an outage longer than the retry budget, or the
service stopping) makes its lane *seek back* to it: aiokafka drops what it prefetched for the
partition, and the lane discards the records queued behind it until the record itself comes
round again, so nothing is skipped and nothing overtakes it.

Rebalancing. When partitions are revoked, their lanes stop taking records, finish the one in
hand (bounded by ``shutdown_grace_s``; past that it is cancelled and redelivered to the new
owner), and their offsets are committed before the partitions are given up. The record the
fetch loop holds at that moment was fetched under the old assignment: handed over later, it
must not start a new lane, or that lane would process it ahead of the records the revocation
dropped from the queue, take them for repeats when they come again and commit past them (an
event lost: seen in the resilience suite's Kafka resets). So a record of a revoked partition
is dropped (uncommitted: whoever owns the partition reads it from the last commit), and the
first record of a partition assigned again is dropped too and the partition re-read from the
group's committed offset: only records fetched from there on reach a lane.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from convene_kit.metrics import CONSUMER_LAG

logger = logging.getLogger(__name__)

Process = Callable[[ConsumerRecord], Awaitable[bool]]
"""Processes one record; True when its outcome is final (commit it), False to retry later."""


class Lane:
    """One partition of one consumer: its queue, its worker and its committable offset."""

    def __init__(self, consumer: AIOKafkaConsumer, tp: TopicPartition, process: Process,
                 depth: int) -> None:
        self.consumer = consumer
        self.tp = tp
        self.process = process
        self.queue: asyncio.Queue[ConsumerRecord] = asyncio.Queue(maxsize=depth)
        self.committable: int | None = None  # the next offset to read, once processed
        self.committed: int | None = None
        self.rewound_to: int | None = None  # records are discarded until this offset comes
        self.last_seen: int = -1
        self.closed = False
        self.idle = asyncio.Event()
        self.task = asyncio.create_task(self._work(), name=f"lane {tp.topic}[{tp.partition}]")

    async def put(self, record: ConsumerRecord) -> None:
        """Queue a record (waits while the lane is full: back-pressure on fetching)."""
        if not self.closed:
            await self.queue.put(record)

    async def _work(self) -> None:
        while True:
            self.idle.set()
            record = await self.queue.get()
            self.idle.clear()
            if self.closed:
                continue
            if self.rewound_to is not None:
                if record.offset != self.rewound_to:
                    continue  # fetched before the seek: it comes again after the rewound one
                self.rewound_to = None
            elif record.offset <= self.last_seen:
                continue  # a redelivery of what this lane already settled
            if await self.process(record):
                self.last_seen = record.offset
                self.committable = record.offset + 1
            else:
                self.rewind(record.offset)

    def rewind(self, offset: int) -> None:
        """Read the partition again from ``offset`` (left uncommitted: retried later)."""
        self.rewound_to = offset
        while not self.queue.empty():
            self.queue.get_nowait()
        with contextlib.suppress(Exception):  # a revoked partition: its new owner reads it
            self.consumer.seek(self.tp, offset)

    async def close(self, grace_s: float) -> None:
        """Take no more records; let the one in hand finish within ``grace_s`` (past that
        it is cancelled, left uncommitted and redelivered)."""
        self.closed = True
        while not self.queue.empty():
            self.queue.get_nowait()  # also unblocks a fetch loop waiting to put
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.idle.wait(), timeout=grace_s)
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


class Lanes(ConsumerRebalanceListener):
    """The lanes of one service's consumers and their batched commits."""

    def __init__(self, process: Process, *, depth: int = 64, commit_interval_s: float = 0.2,
                 grace_s: float = 20.0) -> None:
        self.process = process
        self.depth = depth
        self.commit_interval_s = commit_interval_s
        self.grace_s = grace_s
        self._lanes: dict[tuple[int, TopicPartition], Lane] = {}
        self._revoked: set[TopicPartition] = set()  # revoked and not assigned again
        self._resync: set[TopicPartition] = set()  # assigned again: re-read from the commit
        self._stopping = False
        self._committer: asyncio.Task[None] | None = None
        self._commit_lock = asyncio.Lock()

    async def dispatch(self, consumer: AIOKafkaConsumer, record: ConsumerRecord) -> None:
        """Hand a fetched record to its partition's lane (never processes it here)."""
        if self._stopping:
            return  # left uncommitted: redelivered after the restart
        tp = TopicPartition(record.topic, record.partition)
        if tp in self._revoked:
            return  # fetched before the revocation: its owner reads it from the last commit
        if tp in self._resync:
            self._resync.discard(tp)
            await self._read_from_commit(consumer, tp)
            return  # it may predate the revocation: it comes again after the seek
        key = (id(consumer), tp)
        lane = self._lanes.get(key)
        if lane is None or lane.closed:
            lane = self._lanes[key] = Lane(consumer, tp, self.process, self.depth)
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit_every_interval())
        await lane.put(record)

    async def _read_from_commit(self, consumer: AIOKafkaConsumer, tp: TopicPartition,
                                retry_s: float = 0.5) -> None:
        """Seek ``tp`` to the group's committed offset (the beginning without one), retrying
        while Kafka does not answer; nothing to do once the partition is gone again."""
        while not self._stopping and tp in consumer.assignment():
            try:
                offset = await consumer.committed(tp)
                if offset is None or offset < 0:
                    await consumer.seek_to_beginning(tp)
                else:
                    consumer.seek(tp, offset)
                return
            except Exception:  # noqa: BLE001 - Kafka unreachable: the partition waits
                logger.warning("re-reading %s from its commit failed; retrying", tp,
                               exc_info=True)
                await asyncio.sleep(retry_s)

    async def _commit_every_interval(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.commit_interval_s)
            await self.commit()

    async def commit(self, lanes: Iterable[Lane] | None = None) -> None:
        """Commit every lane's processed position that moved since its last commit, and
        show every lane's lag (``convene_consumer_lag``)."""
        self.show_lag()
        async with self._commit_lock:
            by_consumer: dict[int, tuple[AIOKafkaConsumer, dict[TopicPartition, Any]]] = {}
            moved = [lane for lane in (self._lanes.values() if lanes is None else lanes)
                     if lane.committable is not None and lane.committable != lane.committed]
            for lane in moved:
                offsets = by_consumer.setdefault(id(lane.consumer), (lane.consumer, {}))[1]
                offsets[lane.tp] = OffsetAndMetadata(lane.committable, "")
            for consumer, offsets in by_consumer.values():
                try:
                    await consumer.commit(offsets)
                except Exception:
                    # A rebalance took the partition: its new owner reads from the last
                    # commit, and the handlers absorb the repeat.
                    logger.warning("committing %s failed", sorted(offsets), exc_info=True)
                    continue
                for lane in moved:
                    if lane.consumer is consumer and lane.tp in offsets:
                        lane.committed = offsets[lane.tp].offset

    def show_lag(self) -> None:
        """Set ``convene_consumer_lag`` of every lane: the partition's high-water mark as last
        fetched (a local value, no request) minus the next offset to process."""
        for lane in self._lanes.values():
            highwater = lane.consumer.highwater(lane.tp)
            position = lane.committable if lane.committable is not None else lane.committed
            if highwater is None or position is None:
                continue
            CONSUMER_LAG.labels(topic=lane.tp.topic, partition=str(lane.tp.partition)).set(
                max(0, highwater - position))

    async def close(self, tps: Iterable[TopicPartition] | None = None) -> None:
        """Close the lanes of ``tps`` (all when None), then commit what they processed."""
        wanted = None if tps is None else set(tps)
        closing = [lane for (_, tp), lane in self._lanes.items()
                   if wanted is None or tp in wanted]
        await asyncio.gather(*(lane.close(self.grace_s) for lane in closing))
        await self.commit(closing)
        for key in [k for k, lane in self._lanes.items() if lane in closing]:
            lane = self._lanes.pop(key)
            with contextlib.suppress(KeyError):  # another replica shows its lag from now on
                CONSUMER_LAG.remove(lane.tp.topic, str(lane.tp.partition))

    async def stop(self) -> None:
        """The service stops: no new records; in-flight ones finish; final commit."""
        self._stopping = True
        await self.close()
        if self._committer is not None:
            self._committer.cancel()
            await asyncio.gather(self._committer, return_exceptions=True)

    # ConsumerRebalanceListener (aiokafka awaits these around a rebalance)
    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        self._revoked.update(revoked)
        self._resync.difference_update(revoked)
        await self.close(revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        again = self._revoked.intersection(assigned)
        self._revoked -= again
        self._resync |= again
