"""The ``join_link_fallback`` timer kind (see ``domain.join_link``): the invitation without
the video link, once the link has been awaited ``join_link_wait_s``.

The durable timers' scheduler (``convene_kit.timers``) hands every due fallback timer to
:meth:`JoinLinkFallback.fire`.
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
from datetime import timedelta
from typing import Any

from convene_kit.claims import Claims
from convene_kit.clock import Clock, utc_now
from convene_kit.timers import Timers
from prometheus_client import Counter

from convene_notifications.domain.join_link import (
    JOIN_LINK_FALLBACK,
    FallbackTimer,
    fallback_applies,
)
from convene_notifications.read_models import MeetingVersions
from convene_notifications.service_layer.meeting_emails import MeetingEmails

logger = logging.getLogger(__name__)

FALLBACKS = Counter("convene_join_link_fallbacks_total",
                    "Invitations sent without the video link, by whether they were needed.",
                    ["outcome"])


def fallback_document(timer: FallbackTimer) -> dict[str, Any]:
    """The stored form of a meeting's join-link fallback timer."""
    return {"_id": timer.timer_id, "kind": JOIN_LINK_FALLBACK, "account_id": timer.account_id,
            "meeting_id": timer.meeting_id, "meeting_version": timer.meeting_version,
            "due_at": timer.due_at}


class JoinLinkFallback:
    """Sends the invitations of a video meeting whose join link did not come in time."""

    def __init__(self, versions: MeetingVersions, meeting_emails: MeetingEmails,
                 timers: Timers, leases: Claims, *, lease_s: float = 300.0,
                 clock: Clock = utc_now) -> None:
        self.versions = versions
        self.meeting_emails = meeting_emails
        self.timers = timers
        self.leases = leases
        self.lease = timedelta(seconds=lease_s)
        self.clock = clock

    async def fire(self, timer: dict[str, Any]) -> bool:
        """Act on one due fallback timer; True when this replica held it."""
        if await self.leases.lease(f"join-link:{timer['_id']}", self.lease,
                                   now=self.clock()) is None:
            return False
        meeting, canceled = await self.versions.current(timer["account_id"], timer["meeting_id"])
        if meeting is not None and fallback_applies(meeting, canceled):
            results = await self.meeting_emails.send_without_link(meeting)
            FALLBACKS.labels(outcome="sent").inc()
            logger.info("meeting %s: no join link after the wait; %s invitation(s) without it",
                        timer["meeting_id"], len(results))
        else:
            FALLBACKS.labels(outcome="not_needed").inc()
        await self.timers.delete(timer["_id"])
        return True
