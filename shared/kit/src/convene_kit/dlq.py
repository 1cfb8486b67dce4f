"""Dead-letter topics: what goes there, with which headers, and how to replay it.

Modelled on getsentry/arroyo's ``dlq.py``: a message that can never be processed as it is
(undecodable, unknown type or version, invalid, or a handler that keeps failing on it) is
copied *byte for byte* (key, value, original headers) to ``<topic>.dlq`` with provenance
headers added, and the consumer commits and moves on:

=========================  =============================================================
``dlq_source_topic``       the topic the message was consumed from
``dlq_source_partition``   its partition (decimal)
``dlq_source_offset``      its offset (decimal)
``dlq_consumer_group``     the consumer group that gave up on it
``dlq_reason``             ``undecodable`` / ``unknown_type`` / ``unknown_version`` /
                           ``validation_failed`` / ``rejected`` (the handler's verdict)
``dlq_error_class``        the exception's class name
``dlq_error_message``      the exception's message (redacted, at most 1000 characters)
``dlq_failed_at``          when it was dead-lettered (RFC 3339, UTC)
``dlq_attempts``           handler attempts made (``0`` for messages that never decoded)
=========================  =============================================================

Replaying is an explicit, bounded command::

    python -m convene_kit.dlq replay --bootstrap HOST:PORT --dlq-topic T.dlq \\
        [--partition P] --from-offset A (--to-offset B | --limit N) [--dry-run]

It re-publishes each record of that range (``--to-offset`` inclusive, never past the end
of the partition at start) to its ``dlq_source_topic`` with the original key and headers
(``dlq_*`` stripped), through an idempotent producer with ``acks=all``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import IO

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from faststream.kafka import KafkaBroker

from convene_kit.clock import utc_now
from convene_kit.kafka import send_record
from convene_kit.logging import redact_text
from convene_kit.metrics import EVENTS_DEAD_LETTERED

DLQ_SUFFIX = ".dlq"
DLQ_HEADER_PREFIX = "dlq_"
MAX_ERROR_MESSAGE = 1000


def dlq_topic_for(topic: str) -> str:
    """The dead-letter topic of a (physical) topic."""
    return f"{topic}{DLQ_SUFFIX}"


def strip_dlq_headers(headers: Iterable[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """The original headers of a dead letter (every ``dlq_*`` header removed)."""
    return [(name, value) for name, value in headers if not name.startswith(DLQ_HEADER_PREFIX)]


def dead_letter_headers(
    headers: Iterable[tuple[str, bytes]],
    *,
    topic: str,
    partition: int,
    offset: int,
    group: str,
    reason: str,
    error: BaseException,
    attempts: int = 0,
    failed_at: datetime | None = None,
) -> list[tuple[str, bytes]]:
    """The original headers plus provenance and error headers (replacing older ``dlq_*``)."""
    message = redact_text(str(error))[:MAX_ERROR_MESSAGE]
    when = (failed_at or utc_now()).isoformat(timespec="milliseconds")
    added = {
        "dlq_source_topic": topic,
        "dlq_source_partition": str(partition),
        "dlq_source_offset": str(offset),
        "dlq_consumer_group": group,
        "dlq_reason": reason,
        "dlq_error_class": type(error).__name__,
        "dlq_error_message": message,
        "dlq_failed_at": when,
        "dlq_attempts": str(attempts),
    }
    return strip_dlq_headers(headers) + [(k, v.encode()) for k, v in added.items()]


async def dead_letter(
    broker: KafkaBroker,
    record: ConsumerRecord,
    *,
    group: str,
    reason: str,
    error: BaseException,
    event_type: str = "unknown",
    attempts: int = 0,
    timeout_s: float | None = None,
) -> str:
    """Copy ``record`` byte for byte to its dead-letter topic; returns that topic. Kafka
    not acknowledging within ``timeout_s`` raises (the record stays uncommitted)."""
    target = dlq_topic_for(record.topic)
    headers = dead_letter_headers(
        list(record.headers or ()),
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        group=group,
        reason=reason,
        error=error,
        attempts=attempts,
    )
    await send_record(broker, target, key=record.key, value=record.value, headers=headers,
                      timeout_s=timeout_s)
    EVENTS_DEAD_LETTERED.labels(topic=record.topic, type=event_type, reason=reason).inc()
    return target


@dataclass(frozen=True)
class ReplayItem:
    """One dead letter the replay looked at and what it did with it."""

    partition: int
    offset: int
    target_topic: str | None
    action: str  # "replayed", "would_replay" or "skipped"
    key: str | None
    headers: list[str]


async def replay(
    bootstrap: str,
    dlq_topic: str,
    *,
    from_offset: int,
    to_offset: int | None = None,
    limit: int | None = None,
    partition: int | None = None,
    dry_run: bool = False,
    out: IO[str] | None = None,
    timeout_s: float = 120.0,
) -> list[ReplayItem]:
    """Re-publish a bounded range of a DLQ to the records' source topics (see module doc).

    Reads without a consumer group (nothing is committed on the DLQ) and stops at
    ``to_offset`` (inclusive), after ``limit`` records in all, or at the end offset the
    partition had when the replay began, whichever comes first. Raises ``TimeoutError`` if
    the range cannot be read within ``timeout_s``.
    """
    if (to_offset is None) == (limit is None):
        raise ValueError("give exactly one of to_offset and limit")
    out = out or sys.stdout
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
    )
    producer: AIOKafkaProducer | None = None
    items: list[ReplayItem] = []
    deadline = asyncio.get_running_loop().time() + timeout_s
    await consumer.start()
    try:
        partitions = sorted(await _partitions(bootstrap, dlq_topic, partition))
        if not dry_run:
            producer = AIOKafkaProducer(
                bootstrap_servers=bootstrap, enable_idempotence=True, acks="all"
            )
            await producer.start()
        tps = [TopicPartition(dlq_topic, p) for p in partitions]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        for tp in tps:
            stop = ends[tp] if to_offset is None else min(ends[tp], to_offset + 1)
            consumer.seek(tp, max(from_offset, 0))
            while await consumer.position(tp) < stop:
                if limit is not None and len(items) >= limit:
                    break
                if asyncio.get_running_loop().time() > deadline:
                    raise TimeoutError(f"could not read {tp} up to offset {stop}")
                batch = await consumer.getmany(tp, timeout_ms=1000, max_records=100)
                for record in batch.get(tp, []):
                    if record.offset >= stop or (limit is not None and len(items) >= limit):
                        break
                    item = await _replay_one(record, producer)
                    items.append(item)
                    out.write(json.dumps({"dlq_topic": dlq_topic, **item.__dict__}) + "\n")
        if producer is not None:
            await producer.flush()
    finally:
        if producer is not None:
            await producer.stop()
        await consumer.stop()
    actions = ("replayed", "would_replay", "skipped")
    counts = {a: sum(1 for i in items if i.action == a) for a in actions}
    out.write(json.dumps({"summary": counts, "dry_run": dry_run}) + "\n")
    return items


async def topic_partitions(bootstrap: str, topic: str) -> set[int]:
    """The partition ids of ``topic``; ValueError if the topic does not exist."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [description] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if description.get("error_code") or not description.get("partitions"):
        raise ValueError(f"topic {topic!r} does not exist")
    return {p["partition"] for p in description["partitions"]}


async def _partitions(bootstrap: str, topic: str, partition: int | None) -> set[int]:
    known = await topic_partitions(bootstrap, topic)
    if partition is None:
        return known
    if partition not in known:
        raise ValueError(f"topic {topic!r} has no partition {partition}")
    return {partition}


async def _replay_one(record: ConsumerRecord, producer: AIOKafkaProducer | None) -> ReplayItem:
    headers = list(record.headers or ())
    source = dict(headers).get("dlq_source_topic")
    original = strip_dlq_headers(headers)
    key = record.key.decode("utf-8", "replace") if record.key is not None else None
    names = [name for name, _ in original]
    if not source:
        return ReplayItem(record.partition, record.offset, None, "skipped", key, names)
    target = source.decode()
    if producer is None:
        return ReplayItem(record.partition, record.offset, target, "would_replay", key, names)
    await producer.send_and_wait(target, value=record.value, key=record.key, headers=original)
    return ReplayItem(record.partition, record.offset, target, "replayed", key, names)


def main(argv: list[str] | None = None) -> int:
    """Command line entry: ``python -m convene_kit.dlq replay ...``."""
    parser = argparse.ArgumentParser(prog="python -m convene_kit.dlq")
    commands = parser.add_subparsers(dest="command", required=True)
    cmd = commands.add_parser("replay", help="re-publish a bounded range of a DLQ")
    cmd.add_argument("--bootstrap", required=True)
    cmd.add_argument("--dlq-topic", required=True)
    cmd.add_argument("--partition", type=int)
    cmd.add_argument("--from-offset", type=int, required=True)
    bound = cmd.add_mutually_exclusive_group(required=True)
    bound.add_argument("--to-offset", type=int, help="last offset to replay (inclusive)")
    bound.add_argument("--limit", type=int, help="replay at most this many records")
    cmd.add_argument("--dry-run", action="store_true", help="print, publish nothing")
    args = parser.parse_args(argv)
    if not args.dlq_topic.endswith(DLQ_SUFFIX):
        parser.error("--dlq-topic must name a dead-letter topic (ending in .dlq)")
    try:
        asyncio.run(
            replay(
                args.bootstrap,
                args.dlq_topic,
                from_offset=args.from_offset,
                to_offset=args.to_offset,
                limit=args.limit,
                partition=args.partition,
                dry_run=args.dry_run,
            )
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
