"""The fallback of the video-link contract (docs/events.md, R9): the first invitation of a
video meeting waits for the MeetingUpdated that brings its join link, but not forever.

A meeting event whose ``location.join_url_pending`` is true (and that sends invitations)
plans one **fallback timer** (kind ``join_link_fallback``), ``<meeting>:join-link``, due
``join_link_wait_s`` after the event happened; the durable timers' scheduler fires it.
When it fires and the newest version of the meeting still waits for the link (and is not
canceled), the invitation goes out without the link (SEQUENCE = that version);
the update that brings the link later goes out as an update (a higher SEQUENCE). An event
that clears the flag in time deletes the timer; if it fires anyway, it finds nothing to do.

After the fallback, attendees hold a REQUEST: later events of the meeting that still wait
for the link reach exactly those who got it (:func:`as_if_link_settled` plans them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from convene_schemas.events.meetings import MeetingCanceled, MeetingSnapshot

from convene_notifications.domain.planning import invited_recipients, waits_for_join_link

M = TypeVar("M", bound=MeetingSnapshot)

JOIN_LINK_FALLBACK = "join_link_fallback"
"""The ``kind`` of a fallback timer."""


def fallback_timer_id(meeting_id: str) -> str:
    """One fallback timer per meeting: the first pending event plans it, repeats keep it."""
    return f"{meeting_id}:join-link"


@dataclass(frozen=True)
class FallbackTimer:
    """When to give up waiting for a meeting's join link."""

    timer_id: str
    account_id: str
    meeting_id: str
    meeting_version: int
    due_at: datetime


def plan_fallback(meeting: MeetingSnapshot, wait_s: float) -> FallbackTimer | None:
    """The fallback timer an event calls for: one while the link is pending, for a meeting
    that sends invitations to someone; None otherwise."""
    if isinstance(meeting, MeetingCanceled) or not meeting.send_invitations:
        return None
    if not waits_for_join_link(meeting) or not invited_recipients(meeting):
        return None
    return FallbackTimer(timer_id=fallback_timer_id(meeting.meeting_id),
                         account_id=meeting.account_id, meeting_id=meeting.meeting_id,
                         meeting_version=meeting.version,
                         due_at=meeting.occurred_at + timedelta(seconds=wait_s))


def fallback_applies(meeting: MeetingSnapshot | None, canceled: bool) -> bool:
    """True when a fired fallback must send: the newest version still waits for its link,
    is not canceled and sends invitations."""
    return (meeting is not None and not canceled and meeting.send_invitations
            and waits_for_join_link(meeting))


def as_if_link_settled(meeting: M) -> M:
    """The meeting as planning sees it once invitations went out without the link: the
    same snapshot, no longer waiting (LOCATION shows the provider until the link comes)."""
    if meeting.location is None or not meeting.location.join_url_pending:
        return meeting
    location = meeting.location.model_copy(update={"join_url_pending": False})
    return meeting.model_copy(update={"location": location})
