"""Dead-letter topics for the CLI: which registry topic is meant, what a DLQ holds, and the
kit's bounded replay followed record by record.

Reading never joins a consumer group (nothing is committed on a DLQ). Replaying is
:func:`convene_kit.dlq.replay` itself: it writes one JSON line per record it handled, after
the record was acknowledged by Kafka, and :class:`ReplayFeed` turns those lines into a
progress callback and, once a stop was asked for, into :class:`ReplayStopped` raised
through the kit's loop, so the replay ends right after the record in hand.
"""

from __future__ import annotations

import io
import json
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from convene_kit.dlq import DLQ_SUFFIX, topic_partitions
from convene_schemas.registry import Registry, TopicSpec


class UnknownTopic(ValueError):
    """A name that is no registry topic (nor its dead-letter topic)."""


def resolve_dlq_topic(name: str, registry: Registry, prefix: str = "") -> tuple[str, TopicSpec]:
    """The physical dead-letter topic an operator means by ``name`` and the registry's
    topic it belongs to. ``name`` may be the topic (``meetings.events.v1``) or its DLQ
    (``meetings.events.v1.dlq``), with or without ``prefix``."""
    logical = name.removeprefix(prefix) if prefix else name
    logical = logical.removesuffix(DLQ_SUFFIX)
    try:
        spec = registry.topic(logical)
    except KeyError:
        known = ", ".join(t.name for t in registry.topics)
        raise UnknownTopic(f"{name!r} is not a registry topic; one of: {known}") from None
    return prefix + spec.dlq.topic, spec


@dataclass(frozen=True)
class PartitionBounds:
    """The offsets one partition holds: ``beginning`` is the oldest retention left,
    ``end`` the next one to be written."""

    partition: int
    beginning: int
    end: int

    @property
    def held(self) -> int:
        """How many records the partition holds."""
        return max(0, self.end - self.beginning)


def _reader(bootstrap: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)


async def partition_bounds(
    bootstrap: str, topic: str, partition: int | None = None
) -> list[PartitionBounds]:
    """Beginning and end offsets of ``topic``'s partitions (or of one); ValueError if the
    topic or the partition does not exist."""
    known = await topic_partitions(bootstrap, topic)
    if partition is not None and partition not in known:
        raise ValueError(f"topic {topic!r} has no partition {partition}")
    tps = [TopicPartition(topic, p) for p in sorted(known if partition is None else {partition})]
    consumer = _reader(bootstrap)
    await consumer.start()
    try:
        beginnings = await consumer.beginning_offsets(tps)
        ends = await consumer.end_offsets(tps)
    finally:
        await consumer.stop()
    return [PartitionBounds(tp.partition, beginnings[tp], ends[tp]) for tp in tps]


def _text(headers: Mapping[str, bytes], name: str) -> str | None:
    value = headers.get(name)
    return value.decode("utf-8", "replace") if value is not None else None


@dataclass(frozen=True)
class DeadLetter:
    """What a dead letter's headers say about it (see :mod:`convene_kit.dlq`)."""

    partition: int
    offset: int
    key: str | None
    reason: str | None
    consumer_group: str | None
    event_type: str | None
    error_class: str | None
    error_message: str | None
    source: str | None
    failed_at: str | None

    @classmethod
    def of(cls, record: ConsumerRecord) -> DeadLetter:
        """Read one DLQ record's headers (any missing one is None)."""
        headers = {name: value for name, value in record.headers or ()}
        topic = _text(headers, "dlq_source_topic")
        source = None
        if topic is not None:
            source = (f"{topic}[{_text(headers, 'dlq_source_partition')}]"
                      f"@{_text(headers, 'dlq_source_offset')}")
        key = record.key.decode("utf-8", "replace") if record.key is not None else None
        return cls(record.partition, record.offset, key, _text(headers, "dlq_reason"),
                   _text(headers, "dlq_consumer_group"), _text(headers, "ce_type"),
                   _text(headers, "dlq_error_class"), _text(headers, "dlq_error_message"),
                   source, _text(headers, "dlq_failed_at"))


MISSING = "(none)"
"""How a count shows records without the header."""


@dataclass
class Inspection:
    """What a DLQ holds and what the records read from it say."""

    topic: str
    bounds: list[PartitionBounds]
    read: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    consumer_groups: Counter[str] = field(default_factory=Counter)
    event_types: Counter[str] = field(default_factory=Counter)
    sample: list[DeadLetter] = field(default_factory=list)

    @property
    def held(self) -> int:
        """Records the topic holds, over the partitions inspected."""
        return sum(b.held for b in self.bounds)

    def count(self, letter: DeadLetter, sample_size: int) -> None:
        """Add one dead letter to the counts (and to the sample while it has room)."""
        self.read += 1
        self.reasons[letter.reason or MISSING] += 1
        self.consumer_groups[letter.consumer_group or MISSING] += 1
        self.event_types[letter.event_type or MISSING] += 1
        if len(self.sample) < sample_size:
            self.sample.append(letter)


async def inspect_dead_letters(
    bootstrap: str,
    topic: str,
    *,
    partition: int | None = None,
    max_records: int = 10_000,
    sample_size: int = 3,
    timeout_s: float = 60.0,
) -> Inspection:
    """Count ``topic``'s records and read at most ``max_records`` of them, oldest first,
    to count their reasons, consumer groups and event types and keep a sample. Records
    written after the start are left out. TimeoutError if the range is not read in time."""
    bounds = await partition_bounds(bootstrap, topic, partition)
    inspection = Inspection(topic, bounds)
    ends = {TopicPartition(topic, b.partition): b.end for b in bounds if b.held}
    if not ends or max_records == 0:
        return inspection
    consumer = _reader(bootstrap)
    deadline = time.monotonic() + timeout_s
    await consumer.start()
    try:
        consumer.assign(list(ends))
        for bound in bounds:
            if bound.held:
                consumer.seek(TopicPartition(topic, bound.partition), bound.beginning)
        pending = dict(ends)
        while pending and inspection.read < max_records:
            if time.monotonic() > deadline:
                raise TimeoutError(f"read {inspection.read} of {topic}'s records in {timeout_s:g}s")
            batch = await consumer.getmany(
                *pending, timeout_ms=500, max_records=min(500, max_records - inspection.read))
            for tp, records in batch.items():
                for record in records:
                    if record.offset < pending.get(tp, 0) and inspection.read < max_records:
                        inspection.count(DeadLetter.of(record), sample_size)
            for tp in list(pending):
                if await consumer.position(tp) >= pending[tp]:
                    del pending[tp]
    finally:
        await consumer.stop()
    return inspection


class ReplayStopped(Exception):
    """Raised through :func:`convene_kit.dlq.replay` after the record in hand, once a stop
    was asked for (the record itself was replayed and acknowledged)."""


class ReplayFeed(io.StringIO):
    """The ``out`` of :func:`convene_kit.dlq.replay`: each JSON line it writes for a record
    goes to ``on_item``; its closing summary line is kept in ``kit_summary``. Once
    ``stop_requested()`` is true, the next record's line raises :class:`ReplayStopped`."""

    def __init__(self, on_item: Callable[[dict[str, Any]], None],
                 stop_requested: Callable[[], bool]) -> None:
        super().__init__()
        self.on_item = on_item
        self.stop_requested = stop_requested
        self.items: list[dict[str, Any]] = []
        self.kit_summary: dict[str, Any] | None = None
        self._partial = ""

    def write(self, text: str) -> int:
        self._partial += text
        while "\n" in self._partial:
            line, self._partial = self._partial.split("\n", 1)
            if line.strip():
                self._take(json.loads(line))
        return len(text)

    def _take(self, line: dict[str, Any]) -> None:
        if "summary" in line:
            self.kit_summary = line
            return
        self.items.append(line)
        self.on_item(line)
        if self.stop_requested():
            raise ReplayStopped()


@dataclass(frozen=True)
class ReplayTally:
    """What a replay did, from the items :class:`ReplayFeed` collected."""

    actions: Counter[str]
    offsets: dict[int, tuple[int, int]]  # partition -> (first, last) offset handled
    targets: Counter[str]
    skipped: list[int]  # offsets without a dlq_source_topic header

    @classmethod
    def of(cls, items: list[dict[str, Any]]) -> ReplayTally:
        """Tally the kit's items (``partition``, ``offset``, ``action``, ``target_topic``)."""
        offsets: dict[int, tuple[int, int]] = {}
        for item in items:
            first, last = offsets.get(item["partition"], (item["offset"], item["offset"]))
            offsets[item["partition"]] = (min(first, item["offset"]), max(last, item["offset"]))
        return cls(Counter(item["action"] for item in items), offsets,
                   Counter(item["target_topic"] for item in items if item["target_topic"]),
                   [item["offset"] for item in items if item["action"] == "skipped"])

    @property
    def handled(self) -> int:
        """Records looked at (replayed, would be replayed, or skipped)."""
        return sum(self.actions.values())

    def next_offsets(self) -> dict[int, int]:
        """Per partition, the offset to go on from."""
        return {partition: last + 1 for partition, (_, last) in self.offsets.items()}
