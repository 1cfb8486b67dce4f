"""Transactional outbox without transactions: the aggregate document carries its events.

The store has no multi-document transactions, so the events a state change raises are
written *into the aggregate's own document*, in the same single-document write::

    {_id, account_id, ..., version,
     outbox: [{event_id, topic, key, value, headers: [{name, value}], created_at}, ...],
     outbox_pending_since: <datetime>}            # present while outbox is not empty

Each entry is the serialised :class:`~convene_schemas.envelope.KafkaRecord` (logical topic;
the prefix is applied when sending), so the ``ce_id`` is fixed when the event is raised and
survives every retry. ``headers`` is a list of sub-documents, not pairs: FerretDB 1.x does
not store nested arrays.

Write path: build entries with :func:`outbox_entry`, merge them into the write with
:func:`with_outbox` (insert) or :func:`push_outbox` (update / find-and-update), then call
:meth:`Outbox.publish_pending`, which publishes every pending entry of the document in
order and removes exactly those entries (``$pullAll``). The relay sweep
(:class:`convene_kit.relay.OutboxRelay`) publishes what a crash between the write and the
publish left behind.

FerretDB 1.x applies every update as read, modify in memory, write the whole document back
(tests/integration/test_infra_store.py), so two concurrent writes to one document can lose
one of them. The removal after publishing is such a write: a service must serialise the
writes to one aggregate (the same discipline its own state changes need there) and call
:meth:`Outbox.publish_pending` inside that section. The relay never writes a document the
writer is still within its grace period on, and claims documents with unique inserts
(:mod:`convene_kit.claims`), never with a conditional update.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from convene_schemas.base import Event
from convene_schemas.envelope import KafkaRecord, new_event_id, to_kafka_message
from pymongo.asynchronous.collection import AsyncCollection

from convene_kit.kafka import EventPublisher
from convene_kit.logging import traceparent_var
from convene_kit.store import IndexSpec

logger = logging.getLogger(__name__)

OUTBOX_FIELD = "outbox"
PENDING_SINCE_FIELD = "outbox_pending_since"

_REGISTERED_COLLECTIONS: list[str] = []


def utcnow() -> datetime:
    """Now, timezone-aware UTC (BSON keeps milliseconds)."""
    now = datetime.now(timezone.utc)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def register_outbox_collection(name: str) -> None:
    """Declare that documents of collection ``name`` carry an outbox (the relay sweeps it)."""
    if name not in _REGISTERED_COLLECTIONS:
        _REGISTERED_COLLECTIONS.append(name)


def registered_outbox_collections() -> list[str]:
    """Collections declared with :func:`register_outbox_collection`, in declaration order."""
    return list(_REGISTERED_COLLECTIONS)


def outbox_indexes(collections: Iterable[str]) -> list[IndexSpec]:
    """The index the relay's sweep needs on each outbox-carrying collection."""
    return [
        IndexSpec(collection=name, keys=[(PENDING_SINCE_FIELD, 1)], name="outbox_pending_since")
        for name in collections
    ]


def record_to_entry(record: KafkaRecord, *, event_id: str, created_at: datetime) -> dict[str, Any]:
    """The BSON form of one serialised record."""
    return {
        "event_id": event_id,
        "topic": record.topic,
        "key": record.key,
        "value": record.value,
        "headers": [{"name": name, "value": value} for name, value in record.headers],
        "created_at": created_at,
    }


def entry_to_record(entry: Mapping[str, Any]) -> KafkaRecord:
    """The Kafka record an outbox entry stores (logical topic)."""
    return KafkaRecord(
        topic=entry["topic"],
        key=bytes(entry["key"]),
        value=bytes(entry["value"]),
        headers=[(h["name"], bytes(h["value"])) for h in entry["headers"]],
    )


def outbox_entry(
    event: Event,
    *,
    event_id: str | None = None,
    traceparent: str | None = None,
    created_at: datetime | None = None,
) -> dict[str, Any]:
    """Serialise one raised event into an outbox entry (a new event id unless given).

    ``traceparent`` defaults to the current request's or event's, so the trace continues
    through Kafka.
    """
    event_id = event_id or new_event_id()
    record = to_kafka_message(
        event, event_id=event_id, traceparent=traceparent or traceparent_var.get()
    )
    return record_to_entry(record, event_id=event_id, created_at=created_at or utcnow())


def outbox_entries(
    events: Iterable[Event | tuple[Event, str]], *, traceparent: str | None = None
) -> list[dict[str, Any]]:
    """Entries for several events raised by one change, in order (``(event, id)`` keeps ids)."""
    now = utcnow()
    entries = []
    for item in events:
        event, event_id = item if isinstance(item, tuple) else (item, None)
        entries.append(
            outbox_entry(event, event_id=event_id, traceparent=traceparent, created_at=now)
        )
    return entries


def with_outbox(
    document: Mapping[str, Any], entries: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """A new document for ``insert_one`` carrying ``entries`` in its outbox."""
    doc = dict(document)
    doc[OUTBOX_FIELD] = [dict(e) for e in entries]
    if entries:
        doc[PENDING_SINCE_FIELD] = min(e["created_at"] for e in entries)
    return doc


def push_outbox(
    update: Mapping[str, Any] | None, entries: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """``update`` (for ``update_one``/``find_one_and_update``) that also appends ``entries``.

    Adds ``$push: {outbox: {$each: entries}}`` and ``$min: {outbox_pending_since: t}`` (the
    oldest pending time is kept, so the backlog age is honest); refuses an update that
    already touches those fields.
    """
    if any(not op.startswith("$") for op in (update or {})):
        raise ValueError("push_outbox needs an operator update ($set, $inc, ...)")
    merged: dict[str, Any] = {op: dict(spec) for op, spec in (update or {}).items()}
    if not entries:
        return merged
    for spec in merged.values():
        touched = {OUTBOX_FIELD, PENDING_SINCE_FIELD} & {k.split(".")[0] for k in spec}
        if touched:
            raise ValueError(f"update already modifies {sorted(touched)}")
    merged.setdefault("$push", {})[OUTBOX_FIELD] = {"$each": [dict(e) for e in entries]}
    merged.setdefault("$min", {})[PENDING_SINCE_FIELD] = min(e["created_at"] for e in entries)
    return merged


class Outbox:
    """Publishes a document's pending outbox entries and removes them once Kafka has them."""

    def __init__(self, publisher: EventPublisher) -> None:
        self.publisher = publisher

    async def publish_pending(
        self,
        collection: AsyncCollection[dict[str, Any]],
        document: Mapping[str, Any] | Any,
    ) -> int:
        """Publish every pending entry of one document in order, then remove them.

        ``document`` is the document as written (with its ``outbox``, e.g. what
        ``find_one_and_update(..., return_document=AFTER)`` returned) or just its ``_id``, in
        which case the outbox is read back first. Returns how many entries were published.
        Raises if publishing fails: the entries stay and the relay sweep retries them.
        """
        if isinstance(document, Mapping) and OUTBOX_FIELD in document:
            doc_id, entries = document["_id"], list(document.get(OUTBOX_FIELD) or [])
        else:
            doc_id = document["_id"] if isinstance(document, Mapping) else document
            found = await collection.find_one({"_id": doc_id}, {OUTBOX_FIELD: 1})
            entries = list((found or {}).get(OUTBOX_FIELD) or [])
        if not entries:
            return 0
        if self.publisher.settings.fault("crash_before_publish"):
            logger.critical("fault injection: crashing after the write, before the publish")
            os.kill(os.getpid(), signal.SIGKILL)
        for entry in entries:
            await self.publisher.publish_record(entry_to_record(entry))
        await remove_published(collection, doc_id, entries)
        return len(entries)


async def remove_published(
    collection: AsyncCollection[dict[str, Any]],
    doc_id: Any,
    entries: Sequence[Mapping[str, Any]],
) -> None:
    """Remove exactly these entries; clear ``outbox_pending_since`` if none is left.

    ``$pullAll`` with the entries themselves: FerretDB 1.x's ``$pull`` only matches whole
    values, not conditions such as ``{event_id: {$in: [...]}}`` (it silently removes
    nothing). Entries are matched as stored; BSON keeps milliseconds, and every entry's
    ``created_at`` is encoded the same way on both writes. Two single-document writes: an
    entry pushed between them keeps the document pending.
    """
    await collection.update_one(
        {"_id": doc_id}, {"$pullAll": {OUTBOX_FIELD: [dict(e) for e in entries]}}
    )
    await collection.update_one(
        {"_id": doc_id, OUTBOX_FIELD: {"$size": 0}}, {"$unset": {PENDING_SINCE_FIELD: ""}}
    )
