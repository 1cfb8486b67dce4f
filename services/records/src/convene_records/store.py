"""records' MongoDB repositories and the indexes created at start-up.

Every repository method takes the account id and scopes its query by it
(:class:`~convene_kit.store.AccountScopedCollection`); documents are looked up by ``_id``.
Accounts, users and contacts carry an outbox: a change and its events are one
single-document write (:mod:`convene_kit.outbox`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from convene_kit.idempotency import apply_if_newer
from convene_kit.outbox import outbox_entries, push_outbox, with_outbox
from convene_kit.store import AccountScopedCollection, IndexSpec
from convene_schemas.base import Event
from convene_schemas.events.common import ReminderOffset
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from convene_records.domain.accounts import Account
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
PROCESSED_EVENTS = "processed_events"

OUTBOX_COLLECTIONS = [ACCOUNTS, USERS, CONTACTS]
"""The collections whose documents carry an outbox (the relay sweeps them)."""

INDEXES: list[IndexSpec] = [
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


class DuplicateRecord(Exception):
    """An insert met an existing ``_id`` or unique key."""


async def _insert(collection: AccountScopedCollection, account_id: str, doc: dict[str, Any],
                  events: Iterable[Event]) -> dict[str, Any]:
    """Insert ``doc`` with ``events`` in its outbox (one write); returns the written document."""
    written = with_outbox(doc, outbox_entries(events))
    try:
        await collection.insert_one(account_id, written)
    except DuplicateKeyError as exc:
        raise DuplicateRecord(str(exc)) from exc
    return written


async def _replace(collection: AccountScopedCollection, account_id: str, doc_id: str,
                   version: int, fields: dict[str, Any], events: Iterable[Event]) -> bool:
    """Write ``fields`` (with ``events`` in the outbox) if the stored version is still
    ``version``; False if another change came first. :class:`DuplicateRecord` when a
    unique key is taken."""
    try:
        matched = await collection.update_one(
            account_id, {"_id": doc_id, "version": version},
            push_outbox({"$set": fields}, outbox_entries(events)))
    except DuplicateKeyError as exc:
        raise DuplicateRecord(str(exc)) from exc
    return matched > 0


def _fields(doc: dict[str, Any], names: Iterable[str]) -> dict[str, Any]:
    return {name: doc[name] for name in names if name in doc}


class AccountRepository:
    """Accounts: ``_id`` = ``account_id`` = the gateway's account id."""

    def __init__(self, collection: Collection) -> None:
        self.collection = collection
        self._scoped = AccountScopedCollection(collection)

    async def add(self, account: Account, events: Iterable[Event]) -> dict[str, Any]:
        """Store a new account with its events; :class:`DuplicateRecord` if it exists."""
        doc = asdict(account)
        doc.update(_id=doc.pop("id"), account_id=account.id,
                   default_reminders=[r.model_dump() for r in account.default_reminders],
                   meeting_types=list(account.meeting_types),
                   meeting_outcomes=list(account.meeting_outcomes))
        return await _insert(self._scoped, account.id, doc, events)

    async def replace(self, before: Account, after: Account, events: Iterable[Event]) -> bool:
        """Write ``after``'s settings over ``before`` if the stored version is still
        ``before``'s (with the events in the outbox); False if another change came first."""
        fields = {name: getattr(after, name) for name in (
            "name", "sandbox", "default_time_zone", "default_language", "hub_tier",
            "reminders_enabled_by_default", "custom_meeting_types_enabled", "updated_at",
            "version")}
        fields.update(default_reminders=[r.model_dump() for r in after.default_reminders],
                      meeting_types=list(after.meeting_types),
                      meeting_outcomes=list(after.meeting_outcomes))
        return await _replace(self._scoped, before.id, before.id, before.version, fields,
                              events)

    async def get(self, account_id: str) -> Account | None:
        """The account, or None."""
        doc = await self._scoped.find_one(account_id, {"_id": account_id})
        if doc is None:
            return None
        values = _fields(doc, Account.__dataclass_fields__)
        values.update(
            id=doc["_id"],
            default_reminders=tuple(ReminderOffset.model_validate(r)
                                    for r in doc.get("default_reminders", [])),
            meeting_types=tuple(doc.get("meeting_types", [])),
            meeting_outcomes=tuple(doc["meeting_outcomes"]),
        )
        return Account(**values)


class UserRepository:
    """Users of an account; ``email_key`` is unique per account."""

    def __init__(self, collection: Collection) -> None:
        self.collection = collection
        self._scoped = AccountScopedCollection(collection)

    async def add(self, user: User, events: Iterable[Event]) -> dict[str, Any]:
        """Store a new user; :class:`DuplicateRecord` if the address is taken."""
        doc = asdict(user)
        doc.update(_id=doc.pop("id"), email_key=user.email_key)
        return await _insert(self._scoped, user.account_id, doc, events)

    async def replace(self, before: User, after: User, events: Iterable[Event]) -> bool:
        """Write ``after`` over ``before`` (version-checked); :class:`DuplicateRecord` if
        the new address is taken."""
        fields = asdict(after)
        del fields["id"]
        fields["email_key"] = after.email_key
        return await _replace(self._scoped, before.account_id, before.id, before.version,
                              fields, events)

    async def get(self, account_id: str, user_id: str) -> User | None:
        """The user of the account, or None."""
        doc = await self._scoped.find_one(account_id, {"_id": user_id})
        if doc is None:
            return None
        return User(id=doc["_id"], **_fields(doc, User.__dataclass_fields__))


class ContactRepository:
    """Contacts of an account."""

    def __init__(self, collection: Collection) -> None:
        self.collection = collection
        self._scoped = AccountScopedCollection(collection)

    async def add(self, contact: Contact, events: Iterable[Event]) -> dict[str, Any]:
        """Store a new contact with its events (and its search keys)."""
        doc = asdict(contact)
        doc.update(_id=doc.pop("id"), email_key=contact_email_key(contact.email),
                   name_key=name_key(contact.first_name, contact.last_name))
        return await _insert(self._scoped, contact.account_id, doc, events)

    async def replace(self, before: Contact, after: Contact, events: Iterable[Event]) -> bool:
        """Write ``after`` over ``before`` (version-checked), search keys included."""
        fields = asdict(after)
        del fields["id"]
        fields.update(email_key=contact_email_key(after.email),
                      name_key=name_key(after.first_name, after.last_name))
        return await _replace(self._scoped, before.account_id, before.id, before.version,
                              fields, events)

    async def search(self, account_id: str, *, field: str, low: str, high: str | None,
                     limit: int, after: SearchPosition | None) -> list[tuple[str, Contact]]:
        """Contacts whose ``field`` (``email_key`` or ``name_key``) equals ``low`` (``high``
        None) or lies in ``[low, high)``, ordered by (key, id), after ``after``; each with
        its key (for the next cursor)."""
        condition: dict[str, Any] = {"$gte": low, "$lt": high} if high else {"$eq": low}
        query: dict[str, Any] = {field: condition, "deleted": {"$ne": True}}
        if after is not None:
            query = {"$and": [query, {"$or": [{field: {"$gt": after.key}},
                                              {field: after.key, "_id": {"$gt": after.id}}]}]}
        docs = await self._scoped.find(account_id, query, sort=[(field, 1), ("_id", 1)],
                                       limit=limit)
        return [(doc[field], Contact(id=doc["_id"],
                                     **_fields(doc, Contact.__dataclass_fields__)))
                for doc in docs]

    async def get(self, account_id: str, contact_id: str) -> Contact | None:
        """The contact of the account, or None."""
        doc = await self._scoped.find_one(account_id, {"_id": contact_id})
        if doc is None:
            return None
        return Contact(id=doc["_id"], **_fields(doc, Contact.__dataclass_fields__))


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
