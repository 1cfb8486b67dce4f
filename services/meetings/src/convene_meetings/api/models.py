"""Request and response bodies of /meetings."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from convene_kit.boundary import RequestModel
from convene_schemas.base import EntityId, SupportedDatetime, TimeZoneName
from convene_schemas.events.common import (
    Location,
    RecordRef,
    ReminderOffset,
    ReminderUnit,
    VideoProvider,
)
from convene_schemas.events.meetings import Attendee
from convene_schemas.text import MultilineText
from pydantic import BaseModel, Field, StringConstraints

from convene_meetings.domain.invitations import NotInvited
from convene_meetings.domain.meeting import Meeting
from convene_meetings.domain.scheduling import LocationChoice, PartyRef, ScheduleMeeting
from convene_meetings.domain.times import local_time

MAX_DURATION_MINUTES = 7 * 24 * 60
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class AttendeeRef(RequestModel):
    """An attendee to invite: a contact or a user of the account."""

    kind: Literal["contact", "user"]
    id: EntityId


class AssociationRef(RequestModel):
    """A record whose timeline shows the meeting (R5)."""

    kind: Literal["contact", "company", "deal", "ticket"]
    id: EntityId


class ReminderIn(RequestModel):
    """One reminder: ``amount`` ``unit`` before the start (R10)."""

    amount: int = Field(ge=1, le=1000)
    unit: ReminderUnit


class LocationIn(RequestModel):
    """Where it takes place (R9): a phone number, an address, a video provider or free text."""

    kind: Literal["phone", "in_person", "video", "custom"]
    value: MultilineText | None = Field(
        default=None, max_length=2000, description="The number, the address or the text; "
        "it may span lines.")
    video_provider: VideoProvider | None = None


class MeetingCreate(RequestModel):
    """POST /meetings: the scheduling form (R8)."""

    title: Title
    start: SupportedDatetime = Field(
        description="ISO 8601. Without an offset: a wall time in time_zone (a time skipped "
        "by a DST change is refused; a repeated one means its first occurrence). With an "
        "offset: that instant. Start and end must lie in 1900-01-01T00:00:00Z .. "
        "9000-01-01T00:00:00Z (exclusive), else 422 date_out_of_range."
    )
    time_zone: TimeZoneName = Field(description="IANA time zone the meeting is planned in.")
    duration_minutes: int = Field(gt=0, le=MAX_DURATION_MINUTES)
    host_user_id: EntityId | None = Field(default=None, description="Default: the caller.")
    attendees: list[AttendeeRef] = Field(max_length=200)
    associations: list[AssociationRef] = Field(default_factory=list, max_length=200)
    attendee_description: MultilineText | None = Field(
        default=None, max_length=100_000, description="HTML attendees see; sanitised. "
        "Multi-line; no other control character."
    )
    internal_note: MultilineText | None = Field(
        default=None, max_length=20_000, description="Team-only notes; never sent anywhere. "
        "Multi-line; no other control character."
    )
    location: LocationIn | None = None
    reminders: list[ReminderIn] | None = Field(
        default=None, max_length=50,
        description="At most three. Omitted: the account's defaults when they are on (R10).",
    )
    reminders_include_description: bool = False
    meeting_type: str | None = Field(
        default=None, max_length=100,
        description="One of the account's meeting types, when it enabled custom types.",
    )
    send_invitations: bool = Field(
        default=True, description="False: the meeting is logged and nobody is invited "
        "(no_invitations_reason disabled_by_user; calendar sync off still wins, R28).",
    )

    def to_command(self) -> ScheduleMeeting:
        """The domain command for these values."""
        location = self.location
        return ScheduleMeeting(
            title=self.title,
            start=self.start,
            time_zone=self.time_zone,
            duration_minutes=self.duration_minutes,
            host_user_id=self.host_user_id,
            attendees=[PartyRef(kind=a.kind, id=a.id) for a in self.attendees],
            associations=[RecordRef(kind=r.kind, id=r.id) for r in self.associations],
            attendee_description=self.attendee_description,
            internal_note=self.internal_note,
            location=LocationChoice(kind=location.kind, value=location.value,
                                    video_provider=location.video_provider)
            if location else None,
            reminders=None if self.reminders is None
            else [ReminderOffset(amount=r.amount, unit=r.unit) for r in self.reminders],
            reminders_include_description=self.reminders_include_description,
            meeting_type=self.meeting_type,
            send_invitations=self.send_invitations,
        )


class MeetingRead(BaseModel):
    """A meeting as the API shows it. ``internal_note`` is present only for the team."""

    id: str
    ical_uid: str
    version: int
    status: Literal["scheduled", "canceled"]
    title: str
    start: datetime = Field(description="UTC.")
    end: datetime = Field(description="UTC.")
    start_local: datetime = Field(description="The start on the clocks of time_zone.")
    time_zone: str
    duration_minutes: int
    host_user_id: str
    host_email: str | None
    host_name: str
    organizer_user_id: str
    on_behalf: bool
    attendees: list[Attendee]
    location: Location | None
    reminders: list[ReminderOffset]
    reminders_include_description: bool
    attendee_description: str
    internal_note: str | None = Field(
        default=None, description="Team-only notes: the key is present only for role 'team'."
    )
    meeting_type: str | None
    outcome: str
    associations: list[RecordRef]
    source: str
    booking_id: str | None
    send_invitations: bool
    no_invitations_reason: str | None
    awaiting_calendar: bool = Field(
        description="A request from an offline scheduling page waiting for the host to "
        "confirm it with a connected calendar (R35)."
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, meeting: Meeting) -> MeetingRead:
        """The read model of ``meeting`` (with its note; :func:`meeting_body` decides)."""
        values = {name: getattr(meeting, name) for name in cls.model_fields
                  if name not in {"id", "start_local"}}
        return cls(id=meeting.meeting_id,
                   start_local=local_time(meeting.start, meeting.time_zone), **values)


class NotInvitedRead(BaseModel):
    """An attendee saved with the meeting who gets no invitation (R13)."""

    kind: Literal["contact", "user"]
    id: str
    reason: Literal["email_missing", "email_invalid", "invitations_off"]


class ScheduleResponse(BaseModel):
    """POST /meetings' answer: the meeting and who was not invited."""

    meeting: MeetingRead
    not_invited: list[NotInvitedRead]


class MeetingPage(BaseModel):
    """GET /meetings: one page; pass ``next_cursor`` back as ``cursor`` for the next."""

    items: list[MeetingRead]
    next_cursor: str | None


def meeting_body(meeting: Meeting, *, with_internal_note: bool) -> dict[str, Any]:
    """The JSON of a meeting for one caller: without the ``internal_note`` key unless allowed."""
    exclude = None if with_internal_note else {"internal_note"}
    return MeetingRead.of(meeting).model_dump(mode="json", exclude=exclude)


def schedule_body(meeting: Meeting, *, with_internal_note: bool) -> dict[str, Any]:
    """The JSON of POST /meetings' answer."""
    return {
        "meeting": meeting_body(meeting, with_internal_note=with_internal_note),
        "not_invited": [_not_invited(n) for n in meeting.not_invited()],
    }


def _not_invited(entry: NotInvited) -> dict[str, str]:
    return NotInvitedRead(kind=entry.kind, id=entry.id, reason=entry.reason).model_dump()
