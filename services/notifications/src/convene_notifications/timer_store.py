"""The durable timers of meetings and the claims that fire them exactly once.

* ``reminder_timers``: one document per timer, whatever its ``kind``, kept by the kit's
  :class:`convene_kit.timers.Timers` and fired by its ``TimerScheduler`` (wired in
  ``bootstrap``), which hands each kind to its own handler: ``_id``, ``kind``,
  ``account_id``, ``meeting_id`` (indexed), ``meeting_version``, ``due_at`` (indexed) and
  what the kind needs. Two kinds today: ``reminder`` (one per (meeting, offset, meeting
  version), ``_id`` = :func:`~convene_notifications.domain.reminders.timer_id_for`, fired
  by ``service_layer.reminders.ReminderFiring``) and ``join_link_fallback`` (one per
  meeting waiting for its video link, ``_id`` = ``<meeting>:join-link``, see
  ``domain.join_link``; fired by ``service_layer.join_link.JoinLinkFallback``), which a new
  version does not replace. Only the consumer holding the meeting's partition writes a
  meeting's timers (one event at a time); the scheduler only deletes a timer by ``_id``
  after firing it. Fired timers are deleted, so the collection holds only what is still
  to come. On its first sweep a replica gives a kind to timers stored before timers had
  kinds (:meth:`MeetingTimers.adopt_unkinded`, the scheduler's ``on_first_sweep``).
* ``reminder_fires``: the claim of a fired reminder timer, ``_id`` = ``fired:<timer id>``,
  inserted WITH the ``ReminderDue`` events in its outbox (the kit's
  ``insert_with_events``: exactly one replica wins, and nothing is lost if the process
  dies before publishing: the relay sweeps this collection). Claims a day old whose events
  are published are pruned.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from convene_kit.outbox import PENDING_SINCE_FIELD, insert_with_events
from convene_kit.store import IndexSpec
from convene_kit.timers import Timers, timer_indexes
from pymongo.asynchronous.collection import AsyncCollection

from convene_notifications.domain.join_link import JOIN_LINK_FALLBACK
from convene_notifications.domain.reminders import REMINDER

REMINDER_TIMERS = "reminder_timers"
REMINDER_FIRES = "reminder_fires"

TIMER_INDEXES: list[IndexSpec] = [
    *timer_indexes(REMINDER_TIMERS),
    IndexSpec(collection=REMINDER_TIMERS, keys=[("meeting_id", 1)], name="meeting"),
    IndexSpec(collection=REMINDER_FIRES, keys=[("claimed_at", 1)], name="claimed_at"),
]


class MeetingTimers(Timers):
    """The durable timers of meetings: the kit's timers, and what belongs to a meeting."""

    async def replace(self, meeting_id: str, kind: str, version: int,
                      timers: list[dict[str, Any]], *, first: bool = False,
                      keep_due_by: datetime | None = None) -> None:
        """Drop the meeting's timers of ``kind`` planned for other versions (none when it is
        the ``first`` version seen) but those due by ``keep_due_by``, then plan ``timers``.
        A timer due before the new version happened was owed already: it still fires (late,
        if it has not yet) and is judged by the meeting as it is then."""
        if not first:
            query: dict[str, Any] = {"meeting_id": meeting_id, "kind": kind,
                                     "meeting_version": {"$ne": version}}
            if keep_due_by is not None:
                query["due_at"] = {"$gt": keep_due_by}
            await self.delete_where(query)
        for timer in timers:
            await self.add(timer)

    async def drop(self, meeting_id: str) -> None:
        """Drop every timer of a meeting, of every kind (canceled)."""
        await self.delete_where({"meeting_id": meeting_id})

    async def adopt_unkinded(self) -> int:
        """Give a ``kind`` to timers planned before timers had kinds (the join-link
        fallbacks had ``purpose``, reminders nothing); idempotent, run by the scheduler
        before its first sweep. Returns how many were adopted."""
        fallbacks = await self.collection.update_many(
            {"kind": {"$exists": False}, "purpose": JOIN_LINK_FALLBACK},
            {"$set": {"kind": JOIN_LINK_FALLBACK}, "$unset": {"purpose": ""}})
        reminders = await self.collection.update_many(
            {"kind": {"$exists": False}}, {"$set": {"kind": REMINDER}})
        return fallbacks.modified_count + reminders.modified_count


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
