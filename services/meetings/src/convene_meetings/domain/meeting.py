"""The meeting aggregate and the events it raises.

A :class:`Meeting` holds everything meetings owns about one meeting, including the internal
team notes (R8, R11). Its events carry the meeting's snapshot, built by copying exactly the
fields the *event model* declares: a field the event does not have, such as
``internal_note``, cannot reach Kafka, whatever is added to the meeting later.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal

from convene_schemas.events.common import Location, RecordRef, ReminderOffset
from convene_schemas.events.meetings import (
    Attendee,
    CalendarEventRef,
    MeetingScheduled,
    MeetingSnapshot,
)
from pydantic import BaseModel, ConfigDict, Field

from convene_meetings.domain.invitations import NotInvited

MEETING_ID_PREFIX = "mtg_"
TEAM_ROLE = "team"
"""The role of the meetings team's members: the only readers of internal notes (R11)."""

# Base-event fields each event sets itself rather than copying from the meeting.
_EVENT_OWN_FIELDS = frozenset({"occurred_at"})


def sees_internal_notes(roles: Iterable[str]) -> bool:
    """True if a caller with ``roles`` may read internal team notes (R11)."""
    return TEAM_ROLE in roles


def new_meeting_id() -> str:
    """A fresh meeting id: ``mtg_`` + 32 hex digits."""
    return MEETING_ID_PREFIX + uuid.uuid4().hex


class Meeting(BaseModel):
    """One meeting as meetings stores it (the event snapshot plus what stays internal)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    meeting_id: str
    account_id: str
    ical_uid: str
    version: int = Field(ge=0, description="The iCalendar SEQUENCE: 0 when scheduled.")
    status: Literal["scheduled", "canceled"] = "scheduled"
    title: str
    start: datetime
    end: datetime
    time_zone: str
    duration_minutes: int
    host_user_id: str
    host_email: str | None = None
    host_name: str = ""
    organizer_user_id: str
    attendees: list[Attendee] = Field(default_factory=list)
    location: Location | None = None
    reminders: list[ReminderOffset] = Field(default_factory=list)
    reminders_include_description: bool = False
    attendee_description: str = ""
    internal_note: str | None = Field(
        default=None, description="Team-only notes (R11): stored and served to the team only."
    )
    meeting_type: str | None = None
    outcome: str = "scheduled"
    associations: list[RecordRef] = Field(default_factory=list)
    source: Literal["crm", "calendar_sync", "booking_page"] = "crm"
    booking_id: str | None = None
    calendar_event: CalendarEventRef | None = None
    send_invitations: bool = True
    no_invitations_reason: (
        Literal["calendar_sync_off", "synced_from_calendar", "disabled_by_user"] | None
    ) = None
    awaiting_calendar: bool = Field(
        default=False, description="A request from an offline scheduling page (R35) that "
        "waits for the host to confirm it with an active connected calendar.")
    created_at: datetime
    updated_at: datetime

    @property
    def on_behalf(self) -> bool:
        """True when someone scheduled it for another user (R17)."""
        return self.organizer_user_id != self.host_user_id

    def not_invited(self) -> list[NotInvited]:
        """The attendees who get no invitation, and why (R13, R28)."""
        return [
            NotInvited(kind=a.kind, id=a.id, reason=a.no_invite_reason)
            for a in self.attendees
            if not a.invite and a.no_invite_reason is not None
        ]

    def snapshot_fields(self, event_class: type[MeetingSnapshot]) -> dict[str, Any]:
        """The values of every field ``event_class`` declares, taken from this meeting."""
        fields = {
            name: getattr(self, name)
            for name in event_class.model_fields
            if name not in _EVENT_OWN_FIELDS
        }
        return fields

    def scheduled_event(self, occurred_at: datetime) -> MeetingScheduled:
        """The MeetingScheduled this meeting raises when it is created (version 0)."""
        return MeetingScheduled(**self.snapshot_fields(MeetingScheduled), occurred_at=occurred_at)
