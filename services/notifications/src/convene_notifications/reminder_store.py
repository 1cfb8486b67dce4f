"""The reminder collections: durable timers, fire claims and the latest meeting versions.

* ``reminder_timers``: one document per (meeting, offset, meeting version), ``_id`` =
  :func:`~convene_notifications.domain.reminders.timer_id_for`, ``due_at`` indexed; and
  per meeting waiting for its video link, one join-link fallback timer (``purpose``
  ``join_link_fallback``, ``_id`` = ``<meeting>:join-link``, see ``domain.join_link``),
  which a new version does not replace. Only the
  consumer holding the meeting's partition writes a meeting's timers (one event at a time);
  the scheduler only deletes a timer by ``_id`` after firing it. Fired timers are deleted,
  so the collection holds only what is still to come.
* ``reminder_fires``: the claim of a fired timer, ``_id`` = ``fired:<timer id>``, inserted
  WITH the ``ReminderDue`` events in its outbox (one atomic insert: exactly one replica
  wins, and nothing is lost if the process dies before publishing: the relay sweeps this
  collection). Claims older than a day are pruned.
* ``reminder_meetings``: ``_id`` = meeting id, the newest version seen, whether it is
  canceled, and its snapshot (to render the reminder). Written only by the meeting's
  consumer, read by the reminder sender, which judges a due reminder by this current state.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from convene_kit.outbox import PENDING_SINCE_FIELD, insert_with_events
from convene_kit.store import IndexSpec, find_all
from convene_schemas.events.meetings import MeetingSnapshot
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from convene_notifications.domain.join_link import JOIN_LINK_FALLBACK, FallbackTimer
from convene_notifications.domain.reminders import PlannedTimer

REMINDER_TIMERS = "reminder_timers"
REMINDER_FIRES = "reminder_fires"
REMINDER_MEETINGS = "reminder_meetings"

REMINDER_INDEXES: list[IndexSpec] = [
    IndexSpec(collection=REMINDER_TIMERS, keys=[("due_at", 1)], name="due_at"),
    IndexSpec(collection=REMINDER_TIMERS, keys=[("meeting_id", 1)], name="meeting"),
    IndexSpec(collection=REMINDER_FIRES, keys=[("claimed_at", 1)], name="claimed_at"),
]


def timer_document(timer: PlannedTimer) -> dict[str, Any]:
    """The stored form of a planned timer."""
    return {
        "_id": timer.timer_id, "account_id": timer.account_id, "meeting_id": timer.meeting_id,
        "meeting_version": timer.meeting_version, "due_at": timer.due_at,
        "meeting_start": timer.meeting_start, "offset": timer.offset.model_dump(mode="json"),
        "recipients": [{"kind": r.kind, "id": r.id, "email": r.email, "name": r.name,
                        "language": r.language, "time_zone": r.time_zone}
                       for r in timer.recipients],
    }


class ReminderTimers:
    """The durable timers."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self.collection = collection

    async def replace(self, meeting_id: str, version: int, timers: list[PlannedTimer], *,
                      first: bool = False) -> None:
        """Drop the meeting's timers of other versions (none when it is the ``first`` the
        service sees), then insert the new ones (a redelivered event re-inserts the same
        ids: duplicates are ignored)."""
        if not first:
            await self.collection.delete_many({"meeting_id": meeting_id,
                                               "meeting_version": {"$ne": version},
                                               "purpose": {"$ne": JOIN_LINK_FALLBACK}})
        for timer in timers:
            try:
                await self.collection.insert_one(timer_document(timer))
            except DuplicateKeyError:
                pass

    async def pending(self) -> int:
        """How many timers wait to fire (all accounts, join-link fallbacks included)."""
        return await self.collection.count_documents({})

    async def add_fallback(self, timer: FallbackTimer) -> None:
        """Plan a meeting's join-link fallback (kept if one is planned already)."""
        try:
            await self.collection.insert_one({
                "_id": timer.timer_id, "purpose": JOIN_LINK_FALLBACK,
                "account_id": timer.account_id, "meeting_id": timer.meeting_id,
                "meeting_version": timer.meeting_version, "due_at": timer.due_at})
        except DuplicateKeyError:
            pass

    async def drop(self, meeting_id: str) -> None:
        """Drop every timer of a meeting (canceled)."""
        await self.collection.delete_many({"meeting_id": meeting_id})

    async def due(self, now: datetime, limit: int) -> list[dict[str, Any]]:
        """Timers due at ``now``, earliest first (bounded)."""
        return await find_all(self.collection, {"due_at": {"$lte": now}},
                              sort=[("due_at", 1)], limit=limit)

    async def delete(self, timer_id: str) -> None:
        await self.collection.delete_one({"_id": timer_id})


class FireClaims:
    """Unique inserts that let exactly one replica fire a timer."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self.collection = collection

    async def claim(self, document: dict[str, Any],
                    events: list[dict[str, Any]]) -> dict[str, Any] | None:
        """Insert the claim with its events (outbox entries); the claim as written for
        exactly one caller, None for the others."""
        return await insert_with_events(self.collection, document, events)

    async def prune(self, now: datetime, older_than: timedelta) -> None:
        """Drop claims fired long ago whose events are published."""
        await self.collection.delete_many({"claimed_at": {"$lt": now - older_than},
                                           PENDING_SINCE_FIELD: {"$exists": False}})


class MeetingVersions:
    """The newest version of each meeting, for the stale-reminder rule."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self.collection = collection

    async def get(self, meeting_id: str) -> dict[str, Any] | None:
        return await self.collection.find_one({"_id": meeting_id})

    async def record(self, meeting: MeetingSnapshot, *,
                     canceled: bool) -> tuple[bool, int | None]:
        """Keep ``meeting`` unless what is kept is newer. Returns whether it was kept and
        the version kept before (None for a meeting seen for the first time)."""
        current = await self.get(meeting.meeting_id)
        previous = None if current is None else int(current["version"])
        if previous is not None and previous > meeting.version:
            return False, previous
        await self.collection.replace_one(
            {"_id": meeting.meeting_id},
            {"_id": meeting.meeting_id, "account_id": meeting.account_id,
             "version": meeting.version, "canceled": canceled,
             "event_type": meeting.EVENT_TYPE, "snapshot": meeting.model_dump(mode="json")},
            upsert=True)
        return True, previous
