"""Firing the join-link fallback (see ``domain.join_link``): the invitation without the
video link, once the link has been awaited ``join_link_wait_s``.

The reminder scheduler hands every due fallback timer to :meth:`JoinLinkFallback.fire`.
It **leases** the timer (``join-link:<timer id>`` in ``leases``, the kit's
:meth:`~convene_kit.claims.Claims.lease`), so one replica at a time acts on it; reads the
newest version of the meeting (``reminder_meetings``); if that version still waits for the
link, sends its invitations without it (the usual claim per email in the mail log: never
twice); then deletes the timer. A crash before the delete leaves the timer, and the next
lease window runs it again, which sends nothing new (every email is claimed already).

Known window: the fallback runs outside the consumer of the meeting's partition, so a
MeetingUpdated bringing the link at the very moment it fires can make an attendee get
both the invitation without the link and the one with it (each once, the second with the
higher SEQUENCE, which calendars keep).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from convene_kit.claims import Claims
from convene_kit.clock import utc_now
from convene_schemas.events.meetings import MeetingSnapshot
from prometheus_client import Counter

from convene_notifications.delivery import Deliveries
from convene_notifications.domain.join_link import fallback_applies
from convene_notifications.reminder_store import MeetingVersions, ReminderTimers

logger = logging.getLogger(__name__)

FALLBACKS = Counter("convene_join_link_fallbacks_total",
                    "Invitations sent without the video link, by whether they were needed.",
                    ["outcome"])


class JoinLinkFallback:
    """Sends the invitations of a video meeting whose join link did not come in time."""

    def __init__(self, versions: MeetingVersions, deliveries: Deliveries,
                 timers: ReminderTimers, leases: Claims, *, lease_s: float = 300.0,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.versions = versions
        self.deliveries = deliveries
        self.timers = timers
        self.leases = leases
        self.lease = timedelta(seconds=lease_s)
        self.clock = clock

    async def fire(self, timer: dict[str, Any]) -> bool:
        """Act on one due fallback timer; True when this replica held it."""
        if await self.leases.lease(f"join-link:{timer['_id']}", self.lease,
                                   now=self.clock()) is None:
            return False
        record = await self.versions.get(timer["meeting_id"])
        meeting = None
        if record is not None and record.get("account_id") == timer["account_id"]:
            meeting = MeetingSnapshot.parse_data(record["snapshot"])
        if fallback_applies(meeting, bool(record and record.get("canceled"))):
            assert meeting is not None
            results = await self.deliveries.send_without_link(meeting)
            FALLBACKS.labels(outcome="sent").inc()
            logger.info("meeting %s: no join link after the wait; %s invitation(s) without it",
                        timer["meeting_id"], len(results))
        else:
            FALLBACKS.labels(outcome="not_needed").inc()
        await self.timers.delete(timer["_id"])
        return True
