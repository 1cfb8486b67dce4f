"""Repositories of companies, deals, tickets, tasks, associations and meeting facts.

Like :mod:`convene_records.store`: every method takes the account id and scopes by it;
records and associations are heads of the revision log
(:class:`~convene_kit.aggregates.VersionedRepository`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime
from typing import Any

from convene_kit.aggregates import VersionedRepository
from convene_kit.idempotency import apply_if_newer
from convene_kit.store import AccountScopedCollection, IndexSpec
from convene_schemas.events.common import RecordRef
from pymongo.asynchronous.collection import AsyncCollection

from convene_records.domain.associations import Association
from convene_records.domain.crm import CrmKind, CrmRecord, record_name_key
from convene_records.domain.reports import MeetingFact
from convene_records.domain.search import SearchPosition
from convene_records.domain.tasks import NO_DUE, DuePosition, DueQuery, task_due_at

Collection = AsyncCollection[dict[str, Any]]

CRM_COLLECTIONS: dict[str, str] = {"company": "companies", "deal": "deals", "ticket": "tickets",
                                   "task": "tasks"}
ASSOCIATIONS = "associations"
MEETING_FACTS = "meeting_facts"

CRM_OUTBOX_COLLECTIONS = [*CRM_COLLECTIONS.values(), ASSOCIATIONS]

CRM_INDEXES: list[IndexSpec] = [
    *(IndexSpec(collection=name, keys=[("account_id", 1), ("name_key", 1), ("_id", 1)],
                name="record_name_search") for name in CRM_COLLECTIONS.values()),
    # Tasks by due time (R7): of an owner, or of the whole account.
    IndexSpec(collection=CRM_COLLECTIONS["task"],
              keys=[("account_id", 1), ("owner_user_id", 1), ("due_order", 1), ("_id", 1)],
              name="task_owner_due"),
    IndexSpec(collection=CRM_COLLECTIONS["task"],
              keys=[("account_id", 1), ("due_order", 1), ("_id", 1)], name="task_due"),
    IndexSpec(collection=ASSOCIATIONS, keys=[("account_id", 1), ("ends", 1)],
              name="account_association_ends"),
    IndexSpec(collection=MEETING_FACTS, keys=[("account_id", 1), ("start", 1)],
              name="account_meeting_start"),
]


class CrmRepository(VersionedRepository[CrmRecord]):
    """Companies, deals, tickets or tasks (one collection per kind); deletes are soft.

    Tasks also carry ``due_at`` (a real UTC datetime or null), ``due_order`` (``due_at``, or
    :data:`~convene_records.domain.tasks.NO_DUE` without one), ``owner_user_id`` and
    ``status`` at the top level, for the due-time listing (R7)."""

    def __init__(self, kind: CrmKind, collection: Collection) -> None:
        super().__init__(collection)
        self.kind = kind

    def document(self, record: CrmRecord) -> dict[str, Any]:
        doc = asdict(record)
        doc.update(_id=doc.pop("id"), name_key=record_name_key(record))
        if record.kind == "task":
            due = task_due_at(record)
            doc.update(due_at=due, due_order=due or NO_DUE,
                       owner_user_id=record.owner_user_id,
                       status=record.properties.get("status"))
        return doc

    def from_document(self, document: Mapping[str, Any]) -> CrmRecord:
        fields = {k: document[k] for k in CrmRecord.__dataclass_fields__
                  if k in document and k != "id"}
        return CrmRecord(id=document["_id"], **fields)

    async def search(self, account_id: str, *, low: str, high: str | None, limit: int,
                     after: SearchPosition | None) -> list[tuple[str, CrmRecord]]:
        """Live records whose name key lies in ``[low, high)`` (from ``low`` on when
        ``high`` is None: the whole list), by (key, id), after ``after``; each with its key
        (for the next cursor)."""
        condition: dict[str, Any] = {"$gte": low, "$lt": high} if high else {"$gte": low}
        query: dict[str, Any] = {"name_key": condition, "deleted": False}
        if after is not None:
            query = {"$and": [query, {"$or": [
                {"name_key": {"$gt": after.key}},
                {"name_key": after.key, "_id": {"$gt": after.id}}]}]}
        docs = await self._scoped.find(account_id, query, sort=[("name_key", 1), ("_id", 1)],
                                       limit=limit)
        return [(doc["name_key"], self.from_document(doc)) for doc in docs]

    async def tasks_due(self, account_id: str, query: DueQuery, *, limit: int,
                        after: DuePosition | None) -> list[tuple[datetime, CrmRecord]]:
        """Live tasks matching ``query``, by (due time, id), after ``after``; each with its
        ``due_order`` (for the next cursor). Tasks without a due time come last, and not at
        all when a due bound is given."""
        due: dict[str, Any] = {}
        if query.due_after is not None:
            due["$gte"] = query.due_after
        if query.due_before is not None:
            due["$lt"] = query.due_before
        if due:
            due.setdefault("$lt", NO_DUE)
        conditions: list[dict[str, Any]] = [{"deleted": False}]
        if due:
            conditions.append({"due_order": due})
        if query.owner_user_id is not None:
            conditions.append({"owner_user_id": query.owner_user_id})
        if query.status is not None:
            conditions.append({"status": query.status})
        if after is not None:
            conditions.append({"$or": [{"due_order": {"$gt": after.due}},
                                       {"due_order": after.due, "_id": {"$gt": after.id}}]})
        docs = await self._scoped.find(account_id, {"$and": conditions},
                                       sort=[("due_order", 1), ("_id", 1)], limit=limit)
        return [(doc["due_order"], self.from_document(doc)) for doc in docs]


def _ref(value: dict[str, Any]) -> RecordRef:
    return RecordRef(kind=value["kind"], id=value["id"])


class AssociationRepository(VersionedRepository[Association]):
    """Associations; ``_id`` is derived from the two ends, ``ends`` lists both for lookups."""

    def document(self, record: Association) -> dict[str, Any]:
        return {"_id": record.id, "account_id": record.account_id, "label": record.label,
                "from_record": record.from_record.model_dump(),
                "to_record": record.to_record.model_dump(),
                "ends": [f"{r.kind}:{r.id}" for r in (record.from_record, record.to_record)],
                "associated": record.associated, "updated_at": record.updated_at,
                "version": record.version}

    def from_document(self, document: Mapping[str, Any]) -> Association:
        return Association(id=document["_id"], account_id=document["account_id"],
                           from_record=_ref(document["from_record"]),
                           to_record=_ref(document["to_record"]),
                           label=document.get("label"), associated=document["associated"],
                           updated_at=document["updated_at"], version=document["version"])

    async def of_record(self, account_id: str, record: RecordRef, *,
                        limit: int) -> list[Association]:
        """Current associations with ``record`` (at most ``limit``), as the heads show them."""
        docs = await self._scoped.find(account_id, {"ends": f"{record.kind}:{record.id}",
                                                    "associated": True},
                                       sort=[("_id", 1)], limit=limit)
        return [self.from_document(doc) for doc in docs]


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
