"""meetings' MongoDB repositories and the indexes created at start-up.

Collections (all in meetings' own database):

- ``meetings``: one document per meeting (the head of its revisions), ``_id`` = meeting id,
  carrying the outbox of its first version.
- ``meeting_revisions``: the revision log (:mod:`convene_kit.revisions`), one claim per
  version after the first, with the new state and the change's events.
- ``users``, ``contacts``, ``account_settings``: read models of records' events, ``_id`` =
  ``"<account_id>:<aggregate id>"``, each written only by a newer version of its aggregate
  (:class:`convene_kit.read_models.VersionedReadModel`). A deleted contact stays as a tombstone
  with its version, so an older ContactUpserted arriving late cannot bring it back.

Every method takes the account id and scopes by it; lookups are by ``_id``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from convene_kit.aggregates import VersionedRepository
from convene_kit.read_models import VersionedReadModel
from convene_kit.store import IndexSpec, find_all, scoped_filter
from convene_schemas.events.common import ReminderOffset, email_key
from pymongo.asynchronous.collection import AsyncCollection

from convene_meetings.domain.calendars import CalendarConnection
from convene_meetings.domain.directory import (
    AccountDefaults,
    ContactProfile,
    Directory,
    UserProfile,
)
from convene_meetings.domain.listing import MeetingFilter, Position
from convene_meetings.domain.meeting import Meeting

MEETINGS = "meetings"
USERS = "users"
CONTACTS = "contacts"
ACCOUNT_SETTINGS = "account_settings"
CALENDAR_CONNECTIONS = "calendar_connections"
REVISIONS = "meeting_revisions"

INDEXES: list[IndexSpec] = [
    # Listing an account's meetings by time (calendar views, the full meetings issue).
    IndexSpec(collection=MEETINGS, keys=[("account_id", 1), ("start", 1)], name="account_start"),
    # GET /meetings?host_user_id=...: a host's meetings by time, paged by (start, _id).
    IndexSpec(collection=MEETINGS, name="account_host_start",
              keys=[("account_id", 1), ("host_user_id", 1), ("start", 1), ("_id", 1)]),
    # GET /meetings?awaiting_calendar=true&host_user_id=...: requests waiting (R35).
    IndexSpec(collection=MEETINGS, name="account_awaiting_host_start",
              keys=[("account_id", 1), ("awaiting_calendar", 1), ("host_user_id", 1),
                    ("start", 1), ("_id", 1)]),
    # A contact by address (a booking's visitor, R34; a calendar event's attendees, R26);
    # account_email serves the documents written before email_key was kept.
    IndexSpec(collection=CONTACTS, keys=[("account_id", 1), ("email_key", 1)],
              name="account_email_key"),
    IndexSpec(collection=CONTACTS, keys=[("account_id", 1), ("email", 1)],
              name="account_email"),
    # A host's calendar connections (R16, R17, R28).
    IndexSpec(collection=CALENDAR_CONNECTIONS, keys=[("account_id", 1), ("user_id", 1)],
              name="account_user"),
]


class MeetingRepository(VersionedRepository[Meeting]):
    """The ``meetings`` collection: the heads of the meetings (with the outbox of their
    first version); changed through :class:`convene_kit.aggregates.Aggregates`."""

    def document(self, aggregate: Meeting) -> dict[str, Any]:
        return meeting_document(aggregate)

    def from_document(self, document: Mapping[str, Any]) -> Meeting:
        return meeting_from_document(document)

    async def page(self, account_id: str, wanted: MeetingFilter, after: Position | None,
                   limit: int) -> list[Meeting]:
        """Up to ``limit`` of the account's meetings matching ``wanted``, by (start, id),
        after ``after``."""
        query: dict[str, Any] = {}
        if wanted.host_user_id is not None:
            query["host_user_id"] = wanted.host_user_id
        if wanted.awaiting_calendar is not None:
            if wanted.awaiting_calendar:
                query.update(awaiting_calendar=True, status="scheduled")
            else:  # meetings stored before the field existed lack it
                query["awaiting_calendar"] = {"$ne": True}
        if after is not None:
            query["$or"] = [{"start": {"$gt": after.start}},
                            {"start": after.start, "_id": {"$gt": after.meeting_id}}]
        found = await self._scoped.find(account_id, query, sort=[("start", 1), ("_id", 1)],
                                        limit=limit)
        return [meeting_from_document(d) for d in found]


def meeting_document(meeting: Meeting) -> dict[str, Any]:
    """The stored form of a meeting (``_id`` = meeting id)."""
    return {"_id": meeting.meeting_id, **meeting.model_dump(mode="python")}


def meeting_from_document(document: Mapping[str, Any]) -> Meeting:
    """The meeting a stored document holds (store-only fields such as the outbox ignored)."""
    return Meeting.model_validate({k: document[k] for k in Meeting.model_fields if k in document})


class ReadModelRepository:
    """Users, contacts and account settings as records last announced them."""

    def __init__(
        self,
        users: AsyncCollection[dict[str, Any]],
        contacts: AsyncCollection[dict[str, Any]],
        account_settings: AsyncCollection[dict[str, Any]],
    ) -> None:
        self.users = users
        self.contacts = contacts
        self.account_settings = account_settings
        self._users = VersionedReadModel(users)
        self._contacts = VersionedReadModel(contacts)
        self._account_settings = VersionedReadModel(account_settings)

    async def put_user(
        self, account_id: str, user_id: str, version: int, state: Mapping[str, Any]
    ) -> bool:
        """Store a user's state if ``version`` is newer; True if it was written."""
        return await self._users.put(account_id, user_id, version, {**state, "user_id": user_id})

    async def put_contact(
        self, account_id: str, contact_id: str, version: int, state: Mapping[str, Any]
    ) -> bool:
        """Store a contact's state if ``version`` is newer (a newer upsert undeletes it),
        with its address as compared (``email_key``, None without one)."""
        email = state.get("email")
        return await self._contacts.put(account_id, contact_id, version, {
            **state, "contact_id": contact_id, "deleted": False,
            "email_key": email_key(email) if email else None})

    async def delete_contact(
        self, account_id: str, contact_id: str, version: int, *, permanent: bool
    ) -> bool:
        """Mark a contact deleted if ``version`` is newer; keeps a tombstone with the version."""
        return await self._contacts.put(
            account_id, contact_id, version,
            {"contact_id": contact_id, "deleted": True, "permanent": permanent})

    async def put_account_settings(
        self, account_id: str, version: int, state: Mapping[str, Any]
    ) -> bool:
        """Store the account's settings if ``version`` is newer."""
        return await self._account_settings.put(account_id, account_id, version, state)

    async def directory(
        self, account_id: str, user_ids: Iterable[str], contact_ids: Iterable[str]
    ) -> Directory:
        """The users and contacts named (the known, not deleted ones) and the account defaults."""
        users = await self._users.get_many(account_id, user_ids)
        contacts = await self._contacts.get_many(account_id, contact_ids)
        settings = await self._account_settings.get(account_id, account_id)
        return Directory(
            users={d["user_id"]: user_profile(d) for d in users},
            contacts={d["contact_id"]: contact_profile(d) for d in contacts if not d["deleted"]},
            account=account_defaults(settings) if settings else None,
        )

    async def contacts_by_email(
        self, account_id: str, emails: Iterable[str]
    ) -> list[ContactProfile]:
        """The account's (not deleted) contacts with one of these addresses, compared
        case-insensitively (:func:`~convene_schemas.events.common.email_key`, as records
        matches a booking's visitor), by contact id (R26, R34)."""
        addresses = list(emails)
        keys = sorted({email_key(e) for e in addresses})
        if not keys:
            return []
        # A document written before email_key was kept is found by its address as stored
        # (the earlier rule: as given or lower-cased) until its next ContactUpserted.
        legacy = sorted(set(addresses) | {e.lower() for e in addresses})
        found = [d for d in await find_all(self.contacts, scoped_filter(account_id, {"$or": [
            {"email_key": {"$in": keys}}, {"email": {"$in": legacy}}]}))
            if not d.get("deleted")]
        return sorted((contact_profile(d) for d in found), key=lambda c: c.contact_id)


def user_profile(document: Mapping[str, Any]) -> UserProfile:
    """The domain's view of a users read-model document."""
    return UserProfile(
        user_id=document["user_id"], email=document["email"], name=document["name"],
        time_zone=document["time_zone"], language=document["language"],
        seat=document.get("seat", "none"), active=document.get("active", True),
    )


def contact_profile(document: Mapping[str, Any]) -> ContactProfile:
    """The domain's view of a contacts read-model document."""
    return ContactProfile(
        contact_id=document["contact_id"], email=document.get("email"),
        email_valid=document.get("email_valid", False),
        email_invalid_reason=document.get("email_invalid_reason"),
        first_name=document.get("first_name", ""), last_name=document.get("last_name", ""),
        time_zone=document.get("time_zone"), language=document.get("language"),
    )


def account_defaults(document: Mapping[str, Any]) -> AccountDefaults:
    """The domain's view of an account_settings read-model document."""
    return AccountDefaults(
        default_time_zone=document["default_time_zone"],
        default_language=document["default_language"],
        reminders_enabled_by_default=document.get("reminders_enabled_by_default", False),
        default_reminders=tuple(
            ReminderOffset(amount=r["amount"], unit=r["unit"])
            for r in document.get("default_reminders", [])
        ),
        is_sandbox=document.get("is_sandbox", False),
        custom_meeting_types_enabled=document.get("custom_meeting_types_enabled", False),
        meeting_types=tuple(document.get("meeting_types", [])),
        meeting_outcomes=tuple(document.get("meeting_outcomes") or AccountDefaults.meeting_outcomes),
    )


class CalendarConnectionRepository:
    """The users' calendar connections as calendar-sync last announced them (version-guarded
    per connection, ``_id`` = ``"<account_id>:<connection_id>"``)."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self.collection = collection
        self._connections = VersionedReadModel(collection)

    async def get(self, account_id: str, connection_id: str) -> dict[str, Any] | None:
        """The stored document of one connection, or None."""
        return await self._connections.get(account_id, connection_id)

    async def put(
        self, account_id: str, connection_id: str, version: int, state: Mapping[str, Any]
    ) -> bool:
        """Set these fields of a connection if ``version`` is newer; True if written."""
        return await self._connections.put(account_id, connection_id, version,
                                           {**state, "connection_id": connection_id})

    async def of_user(self, account_id: str, user_id: str) -> list[CalendarConnection]:
        """Every connection the user has (connected or not)."""
        return [calendar_connection(d) for d in await find_all(
            self.collection, scoped_filter(account_id, {"user_id": user_id}))]


def calendar_connection(document: Mapping[str, Any]) -> CalendarConnection:
    """The domain's view of a calendar_connections document."""
    return CalendarConnection(
        connection_id=document["connection_id"], user_id=document["user_id"],
        connected=document.get("connected", False),
        sync_enabled=document.get("sync_enabled", False),
        primary_calendar_id=document.get("primary_calendar_id"),
        lost_calendar_ids=frozenset(document.get("lost_calendar_ids", [])),
    )
