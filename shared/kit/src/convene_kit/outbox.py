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

Write path: an outbox is written once, with the document's insert: build entries with
:func:`outbox_entries`, put them in the new document with :func:`with_outbox`, insert it,
then call :meth:`Outbox.publish_pending` (or :func:`publish_and_clear`), which publishes
the entries in order and clears the outbox in one write (or deletes a document that only
carried events). A change of an existing aggregate is a new document too: a revision claim
(:mod:`convene_kit.revisions`), a claim of a timer firing, an email outcome. The relay sweep
(:class:`convene_kit.relay.OutboxRelay`) publishes what a crash between the insert and the
publish left behind, through the same function.

Outboxes are never appended to by an update: FerretDB 1.x applies every update as read,
modify in memory, write the whole document back (tests/integration/test_infra_store.py), so
an append racing the clearing write could be lost. Since nothing is added after the insert,
clearing needs no condition, and the relay claims documents with unique inserts
(:mod:`convene_kit.claims`), never with a conditional update.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from convene_schemas.base import Event
from convene_schemas.envelope import KafkaRecord, new_event_id, to_kafka_message
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from convene_kit.clock import utc_now
from convene_kit.kafka import EventPublisher
from convene_kit.logging import traceparent_var
from convene_kit.store import IndexSpec

OUTBOX_FIELD = "outbox"
PENDING_SINCE_FIELD = "outbox_pending_since"


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
    return record_to_entry(record, event_id=event_id, created_at=created_at or utc_now())


def outbox_entries(
    events: Iterable[Event | tuple[Event, str]], *, traceparent: str | None = None
) -> list[dict[str, Any]]:
    """Entries for several events raised by one change, in order (``(event, id)`` keeps ids)."""
    now = utc_now()
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


async def insert_with_events(
    collection: AsyncCollection[dict[str, Any]],
    document: Mapping[str, Any],
    entries: Sequence[Mapping[str, Any]],
) -> dict[str, Any] | None:
    """Insert a new document carrying ``entries`` in its outbox: one unique insert, the
    claim of everything the document stands for (a revision, a timer's firing, an email's
    outcome). Returns the document as written, for :func:`publish_and_clear`, or None when
    its ``_id`` was taken before (claimed by someone else, or raised already)."""
    written = with_outbox(document, entries)
    try:
        await collection.insert_one(written)
    except DuplicateKeyError:
        return None
    return written


class Outbox:
    """Publishes a just-inserted document's outbox and clears it once Kafka has it."""

    def __init__(self, publisher: EventPublisher) -> None:
        self.publisher = publisher

    async def publish_pending(
        self,
        collection: AsyncCollection[dict[str, Any]],
        document: Mapping[str, Any] | Any,
    ) -> int:
        """Publish every pending entry of one document in order, then clear its outbox.

        ``document`` is the document as inserted (with its ``outbox``) or just its ``_id``,
        in which case the outbox is read back first. Returns how many entries were
        published. Raises if publishing fails: the entries stay and the relay sweep retries
        them.
        """
        if not (isinstance(document, Mapping) and OUTBOX_FIELD in document):
            doc_id = document["_id"] if isinstance(document, Mapping) else document
            document = await collection.find_one({"_id": doc_id}, {OUTBOX_FIELD: 1}) or {
                "_id": doc_id}
        return await publish_and_clear(self.publisher, collection, document)


async def publish_and_clear(
    publisher: EventPublisher,
    collection: AsyncCollection[dict[str, Any]],
    document: Mapping[str, Any],
    *,
    delete: bool = False,
) -> int:
    """Publish ``document``'s outbox entries in order, then clear them in one write: unset
    the outbox and its pending time, or, with ``delete``, drop a document that only carried
    events. Returns how many entries were published; raises if publishing fails (nothing is
    cleared, the relay sweep publishes them later, with the same event ids).

    Every path that publishes an outbox (right after the insert, the relay's sweep, the
    timers' fire claims, the email outcomes) goes through here.
    """
    entries = list(document.get(OUTBOX_FIELD) or [])
    for entry in entries:
        await publisher.publish_record(entry_to_record(entry))
    if delete:
        await collection.delete_one({"_id": document["_id"]})
    elif entries or PENDING_SINCE_FIELD in document:
        await collection.update_one({"_id": document["_id"]},
                                    {"$unset": {OUTBOX_FIELD: "", PENDING_SINCE_FIELD: ""}})
    return len(entries)
