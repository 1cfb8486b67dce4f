"""Reminder timers as a pure function of a meeting event (R10, R43).

A meeting has at most three reminders, each "``offset`` before the start". Each one is one
durable timer document in the ``reminder_timers`` collection, named by
:func:`timer_id_for` (meeting, offset, meeting version): a new version of the meeting
replaces the timers of older versions (a reschedule moves them, an edit of the reminders
replaces them), a cancellation drops them. The recipients (invited attendees with an
email) travel in the timer, so the scheduler can publish one ``ReminderDue`` per recipient.

A reminder whose due time had already passed when the meeting event happened is not
planned (a meeting scheduled 10 minutes ahead gets no "1 hour before" reminder); one that
falls due while the service is down is still in the store and fires late on start-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from convene_schemas.events.common import ReminderOffset
from convene_schemas.events.meetings import MeetingCanceled, MeetingSnapshot

from convene_notifications.domain.planning import Recipient, invited_recipients


def timer_id_for(meeting_id: str, offset_minutes: int, version: int) -> str:
    """The id of one timer: one per (meeting, offset) per meeting version."""
    return f"{meeting_id}:{offset_minutes}m:v{version}"


def fire_claim_id(timer_id: str) -> str:
    """The id of the claim whose insert lets exactly one scheduler replica fire a timer."""
    return f"fired:{timer_id}"


@dataclass(frozen=True)
class PlannedTimer:
    """One reminder timer of one meeting version."""

    timer_id: str
    account_id: str
    meeting_id: str
    meeting_version: int
    offset: ReminderOffset
    due_at: datetime
    meeting_start: datetime
    recipients: list[Recipient] = field(default_factory=list)


def plan_timers(meeting: MeetingSnapshot) -> list[PlannedTimer]:
    """The timers a meeting event calls for: none for a canceled meeting, when invitations
    are off or nobody is invited with an email; else one per distinct offset whose due time
    (start - offset, an exact UTC instant, so DST changes do not shift it) is after the
    event's ``occurred_at``."""
    if isinstance(meeting, MeetingCanceled) or not meeting.send_invitations:
        return []
    recipients = invited_recipients(meeting)
    if not recipients:
        return []
    timers: dict[int, PlannedTimer] = {}
    for offset in meeting.reminders:
        minutes = offset.minutes()
        due_at = meeting.start - timedelta(minutes=minutes)
        if minutes in timers or due_at <= meeting.occurred_at:
            continue
        timers[minutes] = PlannedTimer(
            timer_id=timer_id_for(meeting.meeting_id, minutes, meeting.version),
            account_id=meeting.account_id, meeting_id=meeting.meeting_id,
            meeting_version=meeting.version, offset=offset, due_at=due_at,
            meeting_start=meeting.start, recipients=recipients)
    return sorted(timers.values(), key=lambda timer: timer.due_at)


def is_stale_reminder(reminder_version: int, current_version: int | None,
                      canceled: bool) -> bool:
    """True when a due reminder must send nothing: the meeting is unknown or canceled, or
    it changed after the timer was set (a newer version replaced the timer)."""
    return current_version is None or canceled or reminder_version < current_version
