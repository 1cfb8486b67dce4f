"""Events of the meetings service (topic ``meetings.events.v1``).

Every meeting event carries the meeting's full snapshot after the change, so a consumer
never needs an earlier event to act on a later one (at-least-once delivery, replays).
``version`` is the meeting's iCalendar SEQUENCE: 0 when scheduled, +1 on every change.

Internal team notes (R8, R11) are deliberately absent: they never travel on Kafka.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from convene_schemas.base import EntityId, Event, TimeZoneName, UtcInstant
from convene_schemas.events.common import (
    MAX_REMINDERS,
    CalendarProvider,
    LanguageTag,
    Location,
    PersonName,
    RawEmail,
    RecordRef,
    ReminderOffset,
    ValueObject,
)
from convene_schemas.text import MultilineText

ICAL_UID_DOMAIN = "meetings.convene"
"""The right-hand side of the iCalendar UID of meetings created in Convene."""

MeetingField = Literal[
    "title",
    "start",
    "end",
    "duration_minutes",
    "time_zone",
    "host_user_id",
    "attendees",
    "location",
    "location.join_url",
    "reminders",
    "reminders_include_description",
    "attendee_description",
    "meeting_type",
    "outcome",
    "associations",
    "send_invitations",
    "calendar_event",
    "awaiting_calendar",
]
"""The names ``changed_fields`` uses. ``location.join_url`` alone means the video link
arrived; ``calendar_event`` alone means the provider event was linked."""


ATTENDEE_VISIBLE_FIELDS: frozenset[str] = frozenset(
    {
        "title",
        "start",
        "end",
        "duration_minutes",
        "time_zone",
        "host_user_id",
        "attendees",
        "location",
        "location.join_url",
        "attendee_description",
    }
)
"""Changes attendees see: a change touching one of these sends update invitations (R21)."""


def ical_uid_for(meeting_id: str) -> str:
    """The stable iCalendar UID of a meeting created in Convene (one UID everywhere)."""
    return f"{meeting_id}@{ICAL_UID_DOMAIN}"


def booked_meeting_id(account_id: str, booking_id: str) -> str:
    """The one meeting id a booking (booking-pages' BookingRequested) can become: meetings
    makes the meeting under it, and the booking's confirmation page offers its .ics under
    ``ical_uid_for`` of it, so the visitor's calendar keeps one event."""
    digest = hashlib.sha256(f"booking:{account_id}:{booking_id}".encode()).hexdigest()
    return "mtg_" + digest[:32]


class MeetingsEvent(Event):
    """Base of every event the meetings service publishes."""

    SERVICE: ClassVar[str] = "meetings"
    TOPIC: ClassVar[str] = "meetings.events.v1"
    AGGREGATE_ID_FIELD: ClassVar[str] = "meeting_id"


class Attendee(ValueObject):
    """One attendee: a CRM contact or a user of the account."""

    kind: Literal["contact", "user"] = Field(description="A contact or a user.")
    id: EntityId = Field(description="The contact's or user's id.")
    email: RawEmail | None = Field(
        default=None, description="The address the invitation goes to; null when missing."
    )
    name: PersonName = Field(default="", description="Display name; may be empty.")
    language: LanguageTag | None = Field(
        default=None, description="Preferred language for emails, when known."
    )
    time_zone: TimeZoneName | None = Field(
        default=None, description="IANA time zone for reminders (R43), when known."
    )
    invite: bool = Field(description="True when this attendee is sent invitations (R13).")
    no_invite_reason: Literal["email_missing", "email_invalid", "invitations_off"] | None = Field(
        default=None, description="Why invite is false; null when it is true."
    )

    @model_validator(mode="after")
    def _invite_reason(self) -> Attendee:
        if self.invite and (not self.email or self.no_invite_reason is not None):
            raise ValueError("an invited attendee has an email and no no_invite_reason")
        if not self.invite and self.no_invite_reason is None:
            raise ValueError("no_invite_reason is required when invite is false")
        return self


class CalendarEventRef(ValueObject):
    """The provider event that mirrors a meeting in the host's calendar (R15)."""

    connection_id: EntityId = Field(description="The host's calendar connection.")
    provider: CalendarProvider = Field(description="The calendar provider.")
    calendar_id: str = Field(min_length=1, max_length=1024, description="Provider calendar id.")
    provider_event_id: str = Field(
        min_length=1, max_length=1024, description="The provider's id of the event."
    )


class MeetingSnapshot(MeetingsEvent):
    """The state of one meeting; every meeting event carries it in full."""

    meeting_id: EntityId = Field(description="The meeting's id (the message key).")
    ical_uid: str = Field(
        min_length=1,
        max_length=1024,
        description="The iCalendar UID, the same in every invitation and provider event: "
        "'<meeting_id>@meetings.convene' for meetings made in Convene, the provider's UID "
        "for meetings synced from a calendar.",
    )
    title: str = Field(min_length=1, max_length=500, description="The meeting's title.")
    start: UtcInstant = Field(description="Start (UTC).")
    end: UtcInstant = Field(description="End (UTC); after start.")
    time_zone: TimeZoneName = Field(
        description="The host's IANA time zone the meeting was planned in (R42)."
    )
    duration_minutes: int = Field(ge=1, description="end - start, in minutes.")
    host_user_id: EntityId = Field(
        description="The user the meeting is for ('assigned to', R6); iCalendar ORGANIZER."
    )
    host_email: RawEmail | None = Field(
        default=None,
        description="The host's email address (iCalendar ORGANIZER); None if records has none.",
    )
    host_name: PersonName = Field(default="", description="The host's display name.")
    organizer_user_id: EntityId = Field(
        description="The user who scheduled it ('created by', R6, R17)."
    )
    on_behalf: bool = Field(
        description="True when organizer and host differ (R17); the host is then invited too."
    )
    attendees: list[Attendee] = Field(description="Contacts and users invited (R8).")
    location: Location | None = Field(default=None, description="Where it takes place (R9).")
    reminders: list[ReminderOffset] = Field(
        default_factory=list,
        max_length=MAX_REMINDERS,
        description="Reminder emails before the start, at most three (R10).",
    )
    reminders_include_description: bool = Field(
        default=False, description="Reminders include attendee_description (R10)."
    )
    attendee_description: MultilineText = Field(
        default="",
        max_length=20000,
        description="What attendees see in the invitation (R11): sanitised HTML (p, br, "
        "b, i, u, a[href], ul, ol, li only).",
    )
    meeting_type: str | None = Field(
        default=None, max_length=100, description="One of the account's meeting types (R8)."
    )
    outcome: str = Field(
        default="scheduled", min_length=1, max_length=100, description="Outcome (R19)."
    )
    associations: list[RecordRef] = Field(
        default_factory=list,
        description="The records whose timelines show the meeting (R5).",
    )
    source: Literal["crm", "calendar_sync", "booking_page"] = Field(
        description="Where the meeting came from: scheduled in the CRM, synced from a "
        "calendar (R26), or booked on a scheduling page (R34)."
    )
    booking_id: EntityId | None = Field(
        default=None, description="The booking it came from, when source is booking_page."
    )
    calendar_event: CalendarEventRef | None = Field(
        default=None,
        description="The host's provider event, once calendar-sync wrote or found it.",
    )
    send_invitations: bool = Field(
        description="True when invitation emails go to invited attendees (R28)."
    )
    no_invitations_reason: (
        Literal["calendar_sync_off", "synced_from_calendar", "disabled_by_user"] | None
    ) = Field(default=None, description="Why send_invitations is false; null when true.")
    awaiting_calendar: bool = Field(
        default=False,
        description="A request made on an offline scheduling page (R35): logged on the "
        "records, written to no calendar and sent to no attendee until the owner confirms "
        "it with an active connected calendar; the confirmation is a MeetingUpdated with "
        "awaiting_calendar false (changed_fields include awaiting_calendar). calendar-sync "
        "writes no provider event for a meeting while this is true.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> MeetingSnapshot:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if self.end - self.start != timedelta(minutes=self.duration_minutes):
            raise ValueError("duration_minutes must equal end - start")
        if self.on_behalf != (self.organizer_user_id != self.host_user_id):
            raise ValueError("on_behalf is true exactly when organizer and host differ")
        if self.send_invitations == (self.no_invitations_reason is not None):
            raise ValueError("no_invitations_reason is set exactly when send_invitations is false")
        if not self.send_invitations and any(a.invite for a in self.attendees):
            raise ValueError("no attendee is invited when send_invitations is false")
        if (self.source == "booking_page") != (self.booking_id is not None):
            raise ValueError("booking_id is set exactly when source is booking_page")
        if self.awaiting_calendar and (self.source != "booking_page" or self.send_invitations):
            raise ValueError("only a booked meeting awaits a calendar, and it sends no invitations")
        keys = [(a.kind, a.id) for a in self.attendees]
        if len(set(keys)) != len(keys):
            raise ValueError("an attendee appears twice")
        return self


class MeetingChange(MeetingSnapshot):
    """What every edit of a meeting adds to the snapshot."""

    changed_fields: list[MeetingField] = Field(
        min_length=1, description="The snapshot fields this change touched."
    )
    removed_attendees: list[Attendee] = Field(
        default_factory=list,
        description="Attendees removed by this change; invited ones get a cancellation.",
    )
    changed_by_user_id: EntityId | None = Field(
        default=None, description="Who made the change; null when it came from a calendar."
    )


class MeetingScheduled(MeetingSnapshot):
    """A meeting was scheduled: from a record, synced from a calendar, or booked."""

    EVENT_TYPE: ClassVar[str] = "com.convene.meetings.MeetingScheduled"


class MeetingUpdated(MeetingChange):
    """A meeting was edited without moving it in time (R20), or its video link or
    provider event arrived (see the video-link contract)."""

    EVENT_TYPE: ClassVar[str] = "com.convene.meetings.MeetingUpdated"

    @model_validator(mode="after")
    def _not_a_move(self) -> MeetingUpdated:
        if {"start", "end"} & set(self.changed_fields):
            raise ValueError("a change of start or end is a MeetingRescheduled")
        return self


class MeetingRescheduled(MeetingChange):
    """A meeting was moved: its start or end changed (other fields may change with it)."""

    EVENT_TYPE: ClassVar[str] = "com.convene.meetings.MeetingRescheduled"

    previous_start: UtcInstant = Field(description="The start before this change (UTC).")
    previous_end: UtcInstant = Field(description="The end before this change (UTC).")

    @model_validator(mode="after")
    def _is_a_move(self) -> MeetingRescheduled:
        if (self.previous_start, self.previous_end) == (self.start, self.end):
            raise ValueError("a reschedule changes start or end")
        if not {"start", "end"} & set(self.changed_fields):
            raise ValueError("changed_fields of a reschedule name start or end")
        return self


class MeetingCanceled(MeetingSnapshot):
    """A meeting was canceled; invited attendees get a METHOD:CANCEL (R14, R42)."""

    EVENT_TYPE: ClassVar[str] = "com.convene.meetings.MeetingCanceled"

    reason: Literal["canceled_in_crm", "deleted_in_calendar", "canceled_by_visitor"] = Field(
        description="How it was canceled."
    )
    canceled_by_user_id: EntityId | None = Field(
        default=None, description="The user who canceled; null when not a user."
    )


class MeetingOutcomeRecorded(MeetingSnapshot):
    """The host recorded the meeting's outcome (R19); nothing is sent to attendees."""

    EVENT_TYPE: ClassVar[str] = "com.convene.meetings.MeetingOutcomeRecorded"

    previous_outcome: str | None = Field(
        default=None, max_length=100, description="The outcome before this change."
    )
    recorded_by_user_id: EntityId = Field(description="The user who recorded the outcome.")
