"""Repositories of companies, deals, tickets, tasks, associations and meeting facts.

Like :mod:`convene_records.store`: every method takes the account id and scopes by it;
records and associations carry an outbox (a change and its events are one write).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from convene_kit.idempotency import apply_if_newer
from convene_kit.outbox import outbox_entries, push_outbox, with_outbox
from convene_kit.store import AccountScopedCollection, IndexSpec
from convene_schemas.base import Event
from convene_schemas.events.common import RecordRef
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from convene_records.domain.associations import Association
from convene_records.domain.crm import CrmKind, CrmRecord, record_name_key
from convene_records.domain.search import SearchPosition
from convene_records.domain.reports import MeetingFact

Collection = AsyncCollection[dict[str, Any]]

CRM_COLLECTIONS: dict[str, str] = {"company": "companies", "deal": "deals", "ticket": "tickets",
                                   "task": "tasks"}
ASSOCIATIONS = "associations"
MEETING_FACTS = "meeting_facts"

CRM_OUTBOX_COLLECTIONS = [*CRM_COLLECTIONS.values(), ASSOCIATIONS]

CRM_INDEXES: list[IndexSpec] = [
    *(IndexSpec(collection=name, keys=[("account_id", 1), ("name_key", 1), ("_id", 1)],
                name="record_name_search") for name in CRM_COLLECTIONS.values()),
    IndexSpec(collection=ASSOCIATIONS, keys=[("account_id", 1), ("ends", 1)],
              name="account_association_ends"),
    IndexSpec(collection=MEETING_FACTS, keys=[("account_id", 1), ("start", 1)],
              name="account_meeting_start"),
]


class StaleRecord(Exception):
    """The record changed (or was deleted) since it was read; nothing was written."""


class CrmRepository:
    """Companies, deals, tickets or tasks (one collection per kind); deletes are soft."""

    def __init__(self, kind: CrmKind, collection: Collection) -> None:
        self.kind = kind
        self.collection = collection
        self._scoped = AccountScopedCollection(collection)

    async def add(self, record: CrmRecord, events: list[Event]) -> dict[str, Any]:
        """Store a new record with its events in its outbox; returns the written document."""
        doc = asdict(record)
        doc.update(_id=doc.pop("id"), name_key=record_name_key(record))
        written = with_outbox(doc, outbox_entries(events))
        await self._scoped.insert_one(record.account_id, written)
        return written

    async def get(self, account_id: str, record_id: str) -> CrmRecord | None:
        """The record of the account, deleted or not, or None."""
        doc = await self._scoped.find_one(account_id, {"_id": record_id})
        return None if doc is None else _record(doc)

    async def replace(self, before: CrmRecord, after: CrmRecord, events: list[Event]) -> None:
        """Write ``after`` over ``before`` if the stored version is still ``before``'s;
        :class:`StaleRecord` otherwise."""
        changes = {"deleted": after.deleted, "version": after.version,
                   "updated_at": after.updated_at, "properties": after.properties,
                   "name_key": record_name_key(after)}
        matched = await self._scoped.update_one(
            before.account_id, {"_id": before.id, "version": before.version},
            push_outbox({"$set": changes}, outbox_entries(events)))
        if not matched:
            raise StaleRecord(before.id)


    async def search(self, account_id: str, *, low: str, high: str, limit: int,
                     after: SearchPosition | None) -> list[tuple[str, CrmRecord]]:
        """Live records whose name key lies in ``[low, high)``, by (key, id), after
        ``after``; each with its key (for the next cursor)."""
        query: dict[str, Any] = {"name_key": {"$gte": low, "$lt": high}, "deleted": False}
        if after is not None:
            query = {"$and": [query, {"$or": [
                {"name_key": {"$gt": after.key}},
                {"name_key": after.key, "_id": {"$gt": after.id}}]}]}
        docs = await self._scoped.find(account_id, query, sort=[("name_key", 1), ("_id", 1)],
                                       limit=limit)
        return [(doc["name_key"], _record(doc)) for doc in docs]


def _record(doc: dict[str, Any]) -> CrmRecord:
    fields = {k: doc[k] for k in CrmRecord.__dataclass_fields__ if k in doc and k != "id"}
    return CrmRecord(id=doc["_id"], **fields)


def _ref(value: dict[str, Any]) -> RecordRef:
    return RecordRef(kind=value["kind"], id=value["id"])


def _association(doc: dict[str, Any]) -> Association:
    return Association(id=doc["_id"], account_id=doc["account_id"],
                       from_record=_ref(doc["from_record"]), to_record=_ref(doc["to_record"]),
                       label=doc.get("label"), associated=doc["associated"],
                       updated_at=doc["updated_at"], version=doc["version"])


class AssociationRepository:
    """Associations; ``_id`` is derived from the two ends, ``ends`` lists both for lookups."""

    def __init__(self, collection: Collection) -> None:
        self.collection = collection
        self._scoped = AccountScopedCollection(collection)

    async def get(self, account_id: str, association_id: str) -> Association | None:
        """The association (current or removed), or None."""
        doc = await self._scoped.find_one(account_id, {"_id": association_id})
        return None if doc is None else _association(doc)

    async def save(self, association: Association, events: list[Event],
                   previous: Association | None) -> dict[str, Any]:
        """Insert a new association or write over ``previous`` (version-checked);
        :class:`StaleRecord` when another change came first."""
        doc = {"account_id": association.account_id, "label": association.label,
               "from_record": association.from_record.model_dump(),
               "to_record": association.to_record.model_dump(),
               "ends": [f"{r.kind}:{r.id}" for r in (association.from_record,
                                                     association.to_record)],
               "associated": association.associated, "updated_at": association.updated_at,
               "version": association.version}
        entries = outbox_entries(events)
        if previous is None:
            written = with_outbox({"_id": association.id, **doc}, entries)
            try:
                await self._scoped.insert_one(association.account_id, written)
            except DuplicateKeyError as exc:
                raise StaleRecord(association.id) from exc
            return written
        matched = await self._scoped.update_one(
            association.account_id, {"_id": association.id, "version": previous.version},
            push_outbox({"$set": doc}, entries))
        if not matched:
            raise StaleRecord(association.id)
        return {"_id": association.id}

    async def of_record(self, account_id: str, record: RecordRef, *,
                        limit: int) -> list[Association]:
        """Current associations with ``record`` (at most ``limit``)."""
        docs = await self._scoped.find(account_id, {"ends": f"{record.kind}:{record.id}",
                                                    "associated": True},
                                       sort=[("_id", 1)], limit=limit)
        return [_association(doc) for doc in docs]


class MeetingFactRepository:
    """One fact per meeting for reports; written only by a newer meeting version."""

    def __init__(self, collection: Collection) -> None:
        self.collection = collection
        self._scoped = AccountScopedCollection(collection)

    async def put(self, fact: MeetingFact) -> bool:
        """Keep ``fact`` if its version is newer than the stored one; True if written."""
        fields = asdict(fact)
        del fields["account_id"], fields["version"]
        return await apply_if_newer(
            self.collection, {"_id": f"{fact.account_id}:{fact.meeting_id}",
                              "account_id": fact.account_id},
            fact.version, {"$set": fields})

    async def starting_between(self, account_id: str, start: datetime,
                               end: datetime) -> list[MeetingFact]:
        """Facts of the meetings starting in ``[start, end)``."""
        docs = await self._scoped.find(account_id, {"start": {"$gte": start, "$lt": end}})
        return [MeetingFact(**{k: doc[k] for k in MeetingFact.__dataclass_fields__})
                for doc in docs]
