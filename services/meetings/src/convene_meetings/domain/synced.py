"""Meetings synced in from a connected calendar (R26, R27).

An event the user created in their own calendar, with at least one CRM contact among its
attendees, becomes a meeting (``source: calendar_sync``, no invitations: the calendar already
sent them), and follows the event when it changes or is deleted. Events carrying Convene's
marker, or created by any integration, never become a meeting (R27): that would duplicate a
meeting Convene (or another tool) already owns. All-day events are not meetings.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from convene_schemas.events.calendar_sync import CalendarEventChanged
from convene_schemas.events.meetings import (
    Attendee,
    CalendarEventRef,
    MeetingCanceled,
    MeetingRescheduled,
    MeetingScheduled,
    MeetingSnapshot,
    MeetingUpdated,
    ical_uid_for,
)

from convene_meetings.domain.directory import ContactProfile, UserProfile
from convene_meetings.domain.editing import Change
from convene_meetings.domain.meeting import Meeting


def synced_meeting_id(account_id: str, calendar_event_id: str) -> str:
    """The one meeting id a calendar event can become (so a redelivery cannot make two)."""
    digest = hashlib.sha256(f"{account_id}:{calendar_event_id}".encode()).hexdigest()
    return "mtg_" + digest[:32]


def may_become_meeting(event: CalendarEventChanged, owner_emails: Iterable[str]) -> bool:
    """R26/R27: not ours, not an integration's, not all-day, and organised by the user."""
    if event.created_by_convene_meeting_id or event.created_by_integration or event.all_day:
        return False
    organizer = (event.organizer_email or "").lower()
    return organizer in {e.lower() for e in owner_emails if e}


def _attendees(contacts: Sequence[ContactProfile]) -> list[Attendee]:
    return [Attendee(kind="contact", id=c.contact_id, email=c.email or None, name=c.name,
                     language=c.language, time_zone=c.time_zone, invite=False,
                     no_invite_reason="invitations_off") for c in contacts]


def _times(event: CalendarEventChanged, fallback_zone: str) -> dict[str, Any] | None:
    assert event.start is not None and event.end is not None
    minutes = int((event.end - event.start).total_seconds() // 60)
    if minutes < 1:
        return None
    return {"start": event.start, "end": event.start + timedelta(minutes=minutes),
            "duration_minutes": minutes, "time_zone": event.time_zone or fallback_zone}


def meeting_from_calendar(event: CalendarEventChanged, *, user: UserProfile,
                          contacts: Sequence[ContactProfile], now: datetime
                          ) -> tuple[Meeting, MeetingScheduled] | None:
    """The new synced meeting (version 0) for an event with CRM contacts, or None."""
    times = _times(event, user.time_zone)
    if not contacts or times is None:
        return None
    meeting_id = synced_meeting_id(event.account_id, event.calendar_event_id)
    meeting = Meeting(
        meeting_id=meeting_id, account_id=event.account_id,
        ical_uid=event.ical_uid or ical_uid_for(meeting_id), version=0,
        title=event.title.strip() or "(no title)", **times, host_user_id=user.user_id,
        host_email=user.email, host_name=user.name, organizer_user_id=user.user_id,
        attendees=_attendees(contacts), source="calendar_sync",
        calendar_event=CalendarEventRef(connection_id=event.connection_id,
                                        provider=event.provider, calendar_id=event.calendar_id,
                                        provider_event_id=event.provider_event_id),
        send_invitations=False, no_invitations_reason="synced_from_calendar",
        created_at=now, updated_at=now,
    )
    return meeting, meeting.scheduled_event(now)


def follow_calendar(meeting: Meeting, event: CalendarEventChanged, *,
                    contacts: Sequence[ContactProfile], now: datetime) -> Change | None:
    """The synced meeting after its calendar event changed or was deleted, or None."""
    if event.change == "deleted":
        if meeting.status == "canceled":
            return None
        new = _next(meeting, now, {"status": "canceled"})
        return new, MeetingCanceled(**new.snapshot_fields(MeetingSnapshot), occurred_at=now,
                                    reason="deleted_in_calendar")
    if meeting.status == "canceled":
        return None
    values: dict[str, Any] = dict(_times(event, meeting.time_zone) or {})
    values["title"] = event.title.strip() or meeting.title
    if contacts:
        values["attendees"] = _attendees(contacts)
    changed = [f for f, v in values.items() if getattr(meeting, f) != v]
    if not changed:
        return None
    new = _next(meeting, now, {f: values[f] for f in changed})
    common = {**new.snapshot_fields(MeetingSnapshot), "occurred_at": now,
              "changed_fields": changed}
    if {"start", "end"} & set(changed):
        return new, MeetingRescheduled(**common, previous_start=meeting.start,
                                       previous_end=meeting.end)
    return new, MeetingUpdated(**common)


def _next(meeting: Meeting, now: datetime, values: dict[str, Any]) -> Meeting:
    return meeting.model_copy(update={**values, "version": meeting.version + 1,
                                      "updated_at": now})
