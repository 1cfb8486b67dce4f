"""calendar-sync's MongoDB repositories and the indexes created at start-up.

Collections of the database ``convene_calendar_sync`` (every document carries
``account_id``; reads on hot paths are by ``_id``):

* ``connections`` (:class:`ConnectionRepository`): the connection aggregates' heads, changed
  through the kit's versioned aggregates; ``revisions``: their revision log.
* ``credentials`` (:class:`CredentialStore`): ``_id`` = connection id, the sealed secret
  (AES-GCM, key id beside it) and the non-secret login name. Never in an event or answer.
* ``user_connections`` (:class:`UserSlots`): ``_id`` = ``<account>:<user>``, the user's one
  active connection, claimed by a unique insert (two concurrent connects: one wins, R25).
* ``oauth_states`` (:class:`OAuthStates`): pending Google authorizations, ``_id`` = the
  SHA-256 of the ``state`` (the state itself is never stored), used once by a unique insert
  of ``used:<hash>``.
* ``meeting_links`` (:class:`MeetingLinks`): ``_id`` = meeting id, the provider event the
  meeting was written to and the newest version written; ``link_events``: one claim per
  written (meeting, version) carrying CalendarEventLinked in its outbox.
* ``sync_state`` (:class:`SyncStates`): ``_id`` = ``<connection>:<calendar key>``, the sync
  cursor of one calendar, stored only after the page's events are in an outbox.
* ``synced_events``: the mirrored provider events that were published (CalendarEventChanged
  aggregates, ``_id`` = calendar_event_id), sharing ``revisions`` with the connections.
* ``channels`` (:class:`Channels`): Google push channels, ``_id`` = channel id.
* ``busy`` / ``busy_index``: the busy-time mirror (:mod:`convene_calendar_sync.busy_store`).
* ``users``, ``contacts``, ``tasks``: records' users, contacts and tasks (the kit's read
  models; users with their seat, tasks with owner, title, due time and status).
* ``task_events`` (:class:`TaskLinks`): ``_id`` = ``<account>:<task>``, where the task's
  event was written (connection, tasks calendar) and what (a fingerprint, the version).
* ``timers``, ``leases``: the kit's durable timers (sync polls, channel renewals) and the
  leases that make one replica sync one calendar at a time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from convene_kit.aggregates import ModelRepository
from convene_kit.clock import as_utc
from convene_kit.outbox import insert_with_events
from convene_kit.store import MAX_FIND, IndexSpec, find_all, scoped_filter
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from convene_calendar_sync.domain.calendar_events import calendar_key
from convene_calendar_sync.domain.connection import Connection
from convene_calendar_sync.domain.synced import SyncedEvent

CONNECTIONS = "connections"
REVISIONS = "revisions"
CREDENTIALS = "credentials"
USER_CONNECTIONS = "user_connections"
OAUTH_STATES = "oauth_states"
MEETING_LINKS = "meeting_links"
LINK_EVENTS = "link_events"
SYNC_STATE = "sync_state"
SYNCED_EVENTS = "synced_events"
CHANNELS = "channels"
USERS = "users"
CONTACTS = "contacts"
TASKS = "tasks"
TASK_EVENTS = "task_events"
TIMERS = "timers"
LEASES = "leases"

INDEXES: list[IndexSpec] = [
    IndexSpec(collection=CONNECTIONS, keys=[("account_id", 1), ("user_id", 1)], name="user"),
    IndexSpec(collection=CONNECTIONS, keys=[("provider", 1), ("status", 1)], name="state"),
    IndexSpec(collection=OAUTH_STATES, keys=[("expires_at", 1)], name="expires_at"),
    IndexSpec(collection=LINK_EVENTS, keys=[("claimed_at", 1)], name="claimed_at"),
    IndexSpec(collection=MEETING_LINKS, keys=[("pending.awaiting_access", 1)],
              name="awaiting_access"),
    IndexSpec(collection=CONTACTS, keys=[("account_id", 1), ("email_lower", 1)], name="email"),
    IndexSpec(collection=SYNCED_EVENTS,
              keys=[("connection_id", 1), ("calendar_id", 1), ("deleted", 1)], name="calendar"),
    IndexSpec(collection=CHANNELS, keys=[("connection_id", 1)], name="connection"),
    IndexSpec(collection=SYNC_STATE, keys=[("connection_id", 1)], name="connection"),
    IndexSpec(collection=TASKS, keys=[("account_id", 1), ("owner_user_id", 1)],
              name="owner"),
    IndexSpec(collection=TASK_EVENTS, keys=[("connection_id", 1)], name="connection"),
]


class ConnectionRepository(ModelRepository[Connection]):
    """The connections' heads; changed through :class:`convene_kit.aggregates.Aggregates`."""

    model = Connection
    id_field = "connection_id"

    async def of_user(self, account_id: str, user_id: str) -> list[Connection]:
        """Every connection of a user, the active ones first (a handful)."""
        found = await self._scoped.find(account_id, {"user_id": user_id},
                                        sort=[("_id", 1)], limit=50)
        connections = [self.from_document(d) for d in found]
        return sorted(connections, key=lambda c: (not c.active, c.connection_id))


class SyncedEventRepository(ModelRepository[SyncedEvent]):
    """The mirrored provider events that were published (CalendarEventChanged aggregates)."""

    model = SyncedEvent
    id_field = "calendar_event_id"


class CredentialStore:
    """Sealed credentials, one document per connection."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self.collection = collection

    async def put(self, account_id: str, connection_id: str, *, kind: str, login: str | None,
                  sealed: Mapping[str, Any], now: datetime) -> None:
        await self.collection.replace_one(
            {"_id": connection_id},
            {"_id": connection_id, "account_id": account_id, "kind": kind, "login": login,
             "sealed": dict(sealed), "updated_at": now}, upsert=True)

    async def get(self, account_id: str, connection_id: str) -> dict[str, Any] | None:
        return await self.collection.find_one(scoped_filter(account_id, {"_id": connection_id}))

    async def delete(self, account_id: str, connection_id: str) -> None:
        await self.collection.delete_one(scoped_filter(account_id, {"_id": connection_id}))

    async def page_after(self, after: str) -> list[dict[str, Any]]:
        """The next credential documents by ``_id`` (the key rotation walks them all)."""
        return await find_all(self.collection, {"_id": {"$gt": after}}, sort=[("_id", 1)],
                              limit=MAX_FIND)

    async def replace_sealed(self, connection_id: str, old_nonce: bytes,
                             sealed: Mapping[str, Any]) -> bool:
        """Replace the sealed value if it is still the one read (its nonce); True if so."""
        result = await self.collection.update_one(
            {"_id": connection_id, "sealed.nonce": old_nonce}, {"$set": {"sealed": dict(sealed)}})
        return result.modified_count == 1


class UserSlots:
    """A user's one active connection, claimed by a unique insert."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self.collection = collection

    @staticmethod
    def key(account_id: str, user_id: str) -> str:
        return f"{account_id}:{user_id}"

    async def claim(self, account_id: str, user_id: str, connection_id: str,
                    now: datetime) -> str:
        """Claim the slot for ``connection_id``; returns the connection holding it (this one
        when the claim won or it already held it)."""
        key = self.key(account_id, user_id)
        try:
            await self.collection.insert_one({"_id": key, "account_id": account_id,
                                              "user_id": user_id,
                                              "connection_id": connection_id,
                                              "claimed_at": now})
            return connection_id
        except DuplicateKeyError:
            found = await self.collection.find_one({"_id": key})
            return found["connection_id"] if found else connection_id

    async def holder(self, account_id: str, user_id: str) -> str | None:
        found = await self.collection.find_one(
            scoped_filter(account_id, {"_id": self.key(account_id, user_id)}))
        return None if found is None else found["connection_id"]

    async def release(self, account_id: str, user_id: str, connection_id: str) -> None:
        """Free the slot if ``connection_id`` holds it."""
        await self.collection.delete_one({"_id": self.key(account_id, user_id),
                                          "connection_id": connection_id})


class OAuthStates:
    """Pending OAuth authorizations: the state's hash, who started it, the sealed PKCE
    verifier, an expiry; each used at most once."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self.collection = collection

    @staticmethod
    def state_hash(state: str) -> str:
        return hashlib.sha256(state.encode()).hexdigest()

    async def put(self, state: str, document: Mapping[str, Any]) -> None:
        await self.collection.insert_one({"_id": self.state_hash(state), **document})

    async def take(self, state: str, now: datetime) -> dict[str, Any] | None:
        """The pending authorization of ``state``, once: a second call (a replay), an
        expired or unknown state gives None."""
        key = self.state_hash(state)
        found = await self.collection.find_one({"_id": key})
        if found is None or as_utc(found["expires_at"]) <= now:
            return None
        try:
            await self.collection.insert_one({"_id": f"used:{key}", "used_at": now,
                                              "expires_at": found["expires_at"]})
        except DuplicateKeyError:
            return None
        return found

    async def prune(self, now: datetime) -> int:
        result = await self.collection.delete_many({"expires_at": {"$lt": now}})
        return result.deleted_count


class MeetingLinks:
    """Which provider event each meeting was written to, and the newest version written."""

    def __init__(self, links: AsyncCollection[dict[str, Any]],
                 link_events: AsyncCollection[dict[str, Any]]) -> None:
        self.links = links
        self.link_events = link_events

    async def get(self, account_id: str, meeting_id: str) -> dict[str, Any] | None:
        return await self.links.find_one(scoped_filter(account_id, {"_id": meeting_id}))

    async def record(self, account_id: str, meeting_id: str, version: int,
                     state: Mapping[str, Any], events: list[dict[str, Any]],
                     now: datetime) -> dict[str, Any] | None:
        """Record that ``version`` was written: first the claim of (meeting, version) with
        its events (exactly once, safe against a crash after the provider call), then the
        link itself. Returns the claim as written, or None when it existed already."""
        claim = await insert_with_events(
            self.link_events, {"_id": f"{meeting_id}:{version}", "account_id": account_id,
                               "meeting_id": meeting_id, "claimed_at": now}, events)
        await self.links.update_one(
            {"_id": meeting_id},
            {"$set": {"account_id": account_id, **state, "written_version": version,
                      "updated_at": now}}, upsert=True)
        return claim


    async def awaiting_access(self, account_id: str, connection_id: str) -> list[str]:
        """The meetings whose newest version waits for ``connection_id``'s access to
        return (every one: read in pages by ``_id``)."""
        found: list[str] = []
        while True:
            query: dict[str, Any] = {"pending.awaiting_access": connection_id}
            if found:
                query["_id"] = {"$gt": found[-1]}
            page = await find_all(self.links, scoped_filter(account_id, query), {"_id": 1},
                                  sort=[("_id", 1)], limit=MAX_FIND)
            found += [str(d["_id"]) for d in page]
            if len(page) < MAX_FIND:
                return found

    async def forget_awaiting(self, connection_id: str) -> None:
        """A disconnect: nothing waits for this connection's access any more."""
        await self.links.update_many({"pending.awaiting_access": connection_id},
                                     {"$set": {"pending": None}})


class SyncStates:
    """One calendar's sync cursor and health."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self.collection = collection

    @staticmethod
    def key(connection_id: str, calendar_id: str) -> str:
        return f"{connection_id}:{calendar_key(calendar_id)}"

    async def get(self, connection_id: str, calendar_id: str) -> dict[str, Any] | None:
        return await self.collection.find_one({"_id": self.key(connection_id, calendar_id)})

    async def save(self, account_id: str, connection_id: str, calendar_id: str,
                   **fields: Any) -> None:
        await self.collection.update_one(
            {"_id": self.key(connection_id, calendar_id)},
            {"$set": {"account_id": account_id, "connection_id": connection_id,
                      "calendar_id": calendar_id, **fields}}, upsert=True)

    async def drop(self, connection_id: str) -> None:
        await self.collection.delete_many({"connection_id": connection_id})

    async def drop_calendar(self, connection_id: str, calendar_id: str) -> None:
        await self.collection.delete_one({"_id": self.key(connection_id, calendar_id)})


class Channels:
    """Google push channels (events.watch): which calendar each one watches."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self.collection = collection

    async def put(self, document: Mapping[str, Any]) -> None:
        await self.collection.replace_one({"_id": document["_id"]}, dict(document), upsert=True)

    async def get(self, channel_id: str) -> dict[str, Any] | None:
        return await self.collection.find_one({"_id": channel_id})

    async def of_connection(self, connection_id: str) -> list[dict[str, Any]]:
        return await find_all(self.collection, {"connection_id": connection_id},
                              sort=[("_id", 1)], limit=1000)

    async def delete(self, channel_id: str) -> None:
        await self.collection.delete_one({"_id": channel_id})


class TaskLinks:
    """Where each task's event was written (R33), one document per task; written only by
    the one replica holding the task's lease."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self.collection = collection

    @staticmethod
    def key(account_id: str, task_id: str) -> str:
        return f"{account_id}:{task_id}"

    async def get(self, account_id: str, task_id: str) -> dict[str, Any] | None:
        return await self.collection.find_one(
            scoped_filter(account_id, {"_id": self.key(account_id, task_id)}))

    async def record(self, account_id: str, task_id: str, **state: Any) -> None:
        await self.collection.update_one(
            {"_id": self.key(account_id, task_id)},
            {"$set": {"account_id": account_id, "task_id": task_id, **state}}, upsert=True)

    async def drop_connection(self, connection_id: str) -> int:
        """Forget every event written to the connection's tasks calendar (deleted with it)."""
        result = await self.collection.delete_many({"connection_id": connection_id})
        return result.deleted_count


async def tasks_of_owner(tasks: AsyncCollection[dict[str, Any]], account_id: str,
                         owner_user_id: str, after: str = "") -> list[dict[str, Any]]:
    """A page of an owner's live tasks (read model), by ``_id`` after ``after``."""
    return await find_all(tasks, scoped_filter(account_id, {
        "owner_user_id": owner_user_id, "deleted": False, "_id": {"$gt": after}}),
        sort=[("_id", 1)], limit=MAX_FIND)
