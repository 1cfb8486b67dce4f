"""records' MongoDB repositories and the indexes created at start-up.

Every repository method takes the account id and scopes its query by it
(:class:`~convene_kit.store.AccountScopedCollection`); documents are looked up by ``_id``.
Accounts, users and contacts are :class:`~convene_kit.aggregates.VersionedRepository`
heads: created with their first events in one insert, changed through the revision log
``record_revisions`` (:class:`convene_kit.aggregates.Aggregates`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from convene_kit.aggregates import VersionedRepository
from convene_kit.idempotency import apply_if_newer
from convene_kit.revisions import revision_indexes
from convene_kit.store import AccountScopedCollection, IndexSpec
from convene_schemas.events.common import ReminderOffset
from pymongo.asynchronous.collection import AsyncCollection

from convene_records.domain.accounts import Account
from convene_records.domain.emails import email_key
from convene_records.domain.people import Contact, User
from convene_records.domain.search import SearchPosition, contact_email_key, name_key
from convene_records.domain.timeline import (
    TimelineEntry,
    TimelinePosition,
    TimelineRecord,
    timeline_entry_id,
)

Collection = AsyncCollection[dict[str, Any]]

ACCOUNTS = "accounts"
USERS = "users"
CONTACTS = "contacts"
TIMELINE = "timeline"
TIMELINE_MEETINGS = "timeline_meetings"
REVISIONS = "record_revisions"
"""The revision log of every kind: one claim per version after the first (an outbox)."""

OUTBOX_COLLECTIONS = [ACCOUNTS, USERS, CONTACTS, REVISIONS]
"""The collections whose documents carry an outbox (the relay sweeps them)."""

INDEXES: list[IndexSpec] = [
    *revision_indexes(REVISIONS),
    # One user per email address in an account, case-insensitively (R1); the unique index
    # is what makes two concurrent sign-ups of one address give one 201 and one 409.
    IndexSpec(collection=USERS, keys=[("account_id", 1), ("email_key", 1)],
              name="account_email_unique", unique=True),
    IndexSpec(collection=CONTACTS, keys=[("account_id", 1), ("email_key", 1), ("_id", 1)],
              name="contact_email_search"),
    IndexSpec(collection=CONTACTS, keys=[("account_id", 1), ("name_key", 1), ("_id", 1)],
              name="contact_name_search"),
    IndexSpec(collection=TIMELINE,
              keys=[("account_id", 1), ("record_kind", 1), ("record_id", 1),
                    ("start", -1), ("meeting_id", -1)],
              name="record_timeline"),
]


def _fields(doc: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    return {name: doc[name] for name in names if name in doc}


class AccountRepository(VersionedRepository[Account]):
    """Accounts: ``_id`` = ``account_id`` = the gateway's account id."""

    def document(self, record: Account) -> dict[str, Any]:
        doc = asdict(record)
        doc.update(_id=doc.pop("id"), account_id=record.id,
                   default_reminders=[r.model_dump() for r in record.default_reminders],
                   meeting_types=list(record.meeting_types),
                   meeting_outcomes=list(record.meeting_outcomes))
        return doc

    def from_document(self, document: Mapping[str, Any]) -> Account:
        values = _fields(document, Account.__dataclass_fields__)
        values.update(
            id=document["_id"],
            default_reminders=tuple(ReminderOffset.model_validate(r)
                                    for r in document.get("default_reminders", [])),
            meeting_types=tuple(document.get("meeting_types", [])),
            meeting_outcomes=tuple(document["meeting_outcomes"]),
        )
        return Account(**values)


class UserRepository(VersionedRepository[User]):
    """Users of an account; ``email_key`` is unique per account."""

    def document(self, record: User) -> dict[str, Any]:
        doc = asdict(record)
        doc.update(_id=doc.pop("id"), email_key=record.email_key)
        return doc

    def from_document(self, document: Mapping[str, Any]) -> User:
        return User(id=document["_id"], **_fields(document, User.__dataclass_fields__))

    async def email_taken(self, account_id: str, user_id: str, email: str) -> bool:
        """True if another user of the account has ``email`` (case-insensitively)."""
        found = await self._scoped.find_one(account_id, {"email_key": email_key(email)})
        return found is not None and found["_id"] != user_id


class ContactRepository(VersionedRepository[Contact]):
    """Contacts of an account, with their search keys."""

    def document(self, record: Contact) -> dict[str, Any]:
        doc = asdict(record)
        doc.update(_id=doc.pop("id"), email_key=contact_email_key(record.email),
                   name_key=name_key(record.first_name, record.last_name))
        return doc

    def from_document(self, document: Mapping[str, Any]) -> Contact:
        return Contact(id=document["_id"], **_fields(document, Contact.__dataclass_fields__))

    async def search(self, account_id: str, *, field: str, low: str, high: str | None,
                     limit: int, after: SearchPosition | None,
                     exact: bool = False) -> list[tuple[str, Contact]]:
        """Live contacts whose ``field`` (``email_key`` or ``name_key``) equals ``low``
        (``exact``), lies in ``[low, high)``, or (``high`` None) is ``low`` or after: the
        whole list for ``low`` = "". Ordered by (key, id), after ``after``; each with its
        key (for the next cursor)."""
        condition: dict[str, Any] = ({"$eq": low} if exact else
                                     {"$gte": low, "$lt": high} if high else {"$gte": low})
        query: dict[str, Any] = {field: condition, "deleted": {"$ne": True}}
        if after is not None:
            query = {"$and": [query, {"$or": [{field: {"$gt": after.key}},
                                              {field: after.key, "_id": {"$gt": after.id}}]}]}
        docs = await self._scoped.find(account_id, query, sort=[(field, 1), ("_id", 1)],
                                       limit=limit)
        return [(doc[field], self.from_document(doc)) for doc in docs]


@dataclass(frozen=True)
class MeetingOnTimelines:
    """The meeting version record timelines reflect, and the records that show it."""

    version: int
    records: list[TimelineRecord]


class TimelineRepository:
    """Timeline entries (one per record and meeting) and, per meeting, which records show it.

    Every write is version-guarded (:func:`~convene_kit.idempotency.apply_if_newer`): a
    duplicate or older meeting event changes nothing.
    """

    def __init__(self, entries: Collection, meetings: Collection) -> None:
        self.entries = entries
        self.meetings = meetings
        self._entries = AccountScopedCollection(entries)
        self._meetings = AccountScopedCollection(meetings)

    async def shown(self, account_id: str, meeting_id: str) -> MeetingOnTimelines | None:
        """The meeting version the timelines reflect and the records showing it, or None."""
        doc = await self._meetings.find_one(account_id, {"_id": f"{account_id}:{meeting_id}"})
        if doc is None:
            return None
        return MeetingOnTimelines(
            version=doc["version"],
            records=[TimelineRecord(r["kind"], r["id"]) for r in doc["records"]])

    async def remember_shown(self, account_id: str, meeting_id: str, version: int,
                             records: Sequence[TimelineRecord]) -> bool:
        """Record that timelines now reflect ``version`` of the meeting, on ``records``."""
        return await apply_if_newer(
            self.meetings, {"_id": f"{account_id}:{meeting_id}", "account_id": account_id},
            version, {"$set": {"meeting_id": meeting_id,
                               "records": [{"kind": r.kind, "id": r.id} for r in records]}})

    async def put(self, entry: TimelineEntry) -> bool:
        """Write the entry if its version is newer than the stored one; True if written."""
        fields = asdict(entry)
        del fields["account_id"], fields["version"]
        fields["on_timeline"] = True
        return await apply_if_newer(
            self.entries, {"_id": entry.entry_id, "account_id": entry.account_id},
            entry.version, {"$set": fields})

    async def withdraw(self, account_id: str, record: TimelineRecord, meeting_id: str,
                       version: int, updated_at: datetime) -> bool:
        """Take the meeting off a record's timeline (no longer associated) at ``version``."""
        return await apply_if_newer(
            self.entries,
            {"_id": timeline_entry_id(account_id, record, meeting_id), "account_id": account_id},
            version, {"$set": {"on_timeline": False, "updated_at": updated_at}}, upsert=False)

    async def page(self, account_id: str, record: TimelineRecord, *, limit: int,
                   after: TimelinePosition | None = None) -> list[TimelineEntry]:
        """Up to ``limit`` entries of a record's timeline, newest start first, after ``after``."""
        query: dict[str, Any] = {"record_kind": record.kind, "record_id": record.id,
                                 "on_timeline": True}
        if after is not None:
            query["$or"] = [{"start": {"$lt": after.start}},
                            {"start": after.start, "meeting_id": {"$lt": after.meeting_id}}]
        docs = await self._entries.find(account_id, query, limit=limit,
                                        sort=[("start", -1), ("meeting_id", -1)])
        return [TimelineEntry(**_fields(doc, TimelineEntry.__dataclass_fields__)) for doc in docs]
