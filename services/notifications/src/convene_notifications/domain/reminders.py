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

A due reminder is judged by the meeting as it is NOW, not by the version its timer was set
from (:func:`wanted_recipient`): an edit that does not move the meeting (a new title) and is
processed between the firing and the sending must not lose the reminder (R43), since the
new version plans no timer for a due time already past.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from convene_schemas.events.common import ReminderOffset
from convene_schemas.events.meetings import MeetingCanceled, MeetingSnapshot
from convene_schemas.events.notifications import ReminderDue

from convene_notifications.domain.planning import Recipient, invited_recipients

REMINDER = "reminder"
"""The ``kind`` of a reminder timer."""


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


def reminder_recipients(meeting: MeetingSnapshot) -> list[Recipient]:
    """Who a meeting's reminders go to: its invited attendees with an email, nobody when
    it is canceled or invitations are off."""
    if isinstance(meeting, MeetingCanceled) or not meeting.send_invitations:
        return []
    return invited_recipients(meeting)


def plan_timers(meeting: MeetingSnapshot) -> list[PlannedTimer]:
    """The timers a meeting event calls for: none for a canceled meeting, when invitations
    are off or nobody is invited with an email; else one per distinct offset whose due time
    (start - offset, an exact UTC instant, so DST changes do not shift it) is after the
    event's ``occurred_at``."""
    recipients = reminder_recipients(meeting)
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


def wanted_recipient(due: ReminderDue, meeting: MeetingSnapshot | None, *,
                     canceled: bool) -> Recipient | None:
    """Who a due reminder goes to under the meeting's CURRENT state (``meeting``, the newest
    version seen), or None when it is no longer wanted: the meeting is unknown or canceled,
    it starts at another time than the reminder was for, the reminder's offset is no longer
    among the meeting's reminders, or the recipient is no longer someone
    :func:`reminder_recipients` names. The version the timer was set from does not matter:
    a new title does not cancel a reminder."""
    if meeting is None or canceled or meeting.start != due.meeting_start:
        return None
    if due.offset.minutes() not in {offset.minutes() for offset in meeting.reminders}:
        return None
    return next((person for person in reminder_recipients(meeting)
                 if (person.kind, person.id) == (due.recipient.kind, due.recipient.id)), None)
