"""Events of the calendar-sync service (topic ``calendar-sync.events.v1``).

Three kinds of aggregate share the topic, each keyed by its own id: a calendar connection
(``connection_id``), a mirrored provider event (``calendar_event_id``) and a meeting's link
to its provider event (``meeting_id``, so links stay in order with each other).
Provider credentials never appear in any event.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from convene_schemas.base import EntityId, Event, TimeZoneName, UtcInstant
from convene_schemas.events.common import (
    CalendarProvider,
    EmailAddress,
    HttpsUrl,
    RawEmail,
    ValueObject,
    VideoProvider,
)
from convene_schemas.text import MultilineText

ProviderId = Annotated[str, Field(min_length=1, max_length=1024)]
"""An id the provider assigns (calendar id, event id): an opaque, non-empty string."""

AccessLossReason = Literal[
    "token_revoked",
    "token_expired",
    "password_changed",
    "permission_denied",
    "calendar_removed",
]
"""Why calendar-sync can no longer read or write a calendar (R30)."""


class CalendarSyncEvent(Event):
    """Base of every event the calendar-sync service publishes."""

    SERVICE: ClassVar[str] = "calendar-sync"
    TOPIC: ClassVar[str] = "calendar-sync.events.v1"


class ConnectionEvent(CalendarSyncEvent):
    """Fields every event about a calendar connection has."""

    AGGREGATE_ID_FIELD: ClassVar[str] = "connection_id"

    connection_id: EntityId = Field(description="The connection's id (the message key).")
    user_id: EntityId = Field(description="The user who owns the connection.")
    provider: CalendarProvider = Field(description="The calendar provider (R22).")


class Calendar(ValueObject):
    """One calendar the user added to a connection (R29, R31)."""

    calendar_id: ProviderId = Field(description="Provider calendar id.")
    name: str = Field(max_length=500, description="The calendar's name as the provider shows it.")
    primary: bool = Field(description="The user's primary calendar: bookings land here (R29).")
    access: Literal["owner", "writer", "reader"] = Field(
        description="The connected account's access to the calendar (R31)."
    )
    active: bool = Field(description="False while access to this calendar is lost (R30).")


class ConnectionState(ConnectionEvent):
    """The full state of a connection, as CalendarConnected and CalendarConnectionUpdated
    carry it."""

    account_email: EmailAddress = Field(description="The provider account's email address.")
    calendars: list[Calendar] = Field(
        min_length=1, description="Every calendar the user added; all count for availability."
    )
    primary_calendar_id: ProviderId = Field(
        description="The calendar meetings are written to (R29)."
    )
    sync_enabled: bool = Field(
        description="Calendar sync (R26): on by default for Google and Microsoft 365. "
        "With it off, meetings are logged but no calendar invitation is sent (R28)."
    )
    task_sync_enabled: bool = Field(
        default=False, description="CRM tasks are synced to a sub-calendar (R33)."
    )
    purpose: Literal["all", "calendar_settings", "meetings_settings"] = Field(
        description="What the connection serves: 'all', or one of the two legacy "
        "connections a pre-2023-03-13 account may keep (R25)."
    )

    @model_validator(mode="after")
    def _primary_is_listed(self) -> ConnectionState:
        primaries = [c.calendar_id for c in self.calendars if c.primary]
        if primaries != [self.primary_calendar_id]:
            raise ValueError("exactly one calendar is primary and it is primary_calendar_id")
        return self


class CalendarConnected(ConnectionState):
    """A user connected a calendar account, or connected it again after a disconnect (R32)."""

    EVENT_TYPE: ClassVar[str] = "com.convene.calendar-sync.CalendarConnected"

    reconnected: bool = Field(
        default=False, description="True when this connection was disconnected before (R32)."
    )


class CalendarConnectionUpdated(ConnectionState):
    """A connection's settings changed: calendars added or removed, primary calendar,
    calendar sync or task sync switched (full state)."""

    EVENT_TYPE: ClassVar[str] = "com.convene.calendar-sync.CalendarConnectionUpdated"

    changed_fields: list[
        Literal["calendars", "primary_calendar_id", "sync_enabled", "task_sync_enabled"]
    ] = Field(min_length=1, description="What changed.")


class CalendarDisconnected(ConnectionEvent):
    """A connection was removed: sync and availability stop for it (R32)."""

    EVENT_TYPE: ClassVar[str] = "com.convene.calendar-sync.CalendarDisconnected"

    reason: Literal["disconnected_by_user", "user_deactivated", "replaced"] = Field(
        description="Why the connection was removed."
    )


class CalendarAccessLost(ConnectionEvent):
    """Calendar-sync lost access to some or all calendars of a connection: nobody can book
    with the user until it is restored (R30)."""

    EVENT_TYPE: ClassVar[str] = "com.convene.calendar-sync.CalendarAccessLost"

    reason: AccessLossReason = Field(description="Why access was lost.")
    affected_calendar_ids: list[ProviderId] = Field(
        min_length=1, description="The calendars that are now inactive."
    )


class CalendarAccessRestored(ConnectionEvent):
    """Access to the calendars of a connection works again."""

    EVENT_TYPE: ClassVar[str] = "com.convene.calendar-sync.CalendarAccessRestored"

    restored_calendar_ids: list[ProviderId] = Field(
        min_length=1, description="The calendars that are active again."
    )


class Recurrence(ValueObject):
    """How a provider event relates to a recurring series (series are expanded)."""

    rrule: str | None = Field(
        default=None, max_length=2000, description="RFC 5545 RRULE of a series master."
    )
    series_event_id: ProviderId | None = Field(
        default=None, description="The series master's provider id, for one occurrence."
    )
    original_start: UtcInstant | None = Field(
        default=None, description="The occurrence's start before it was moved (RECURRENCE-ID)."
    )


class CalendarEventChanged(CalendarSyncEvent):
    """An event in a connected calendar was created, changed or deleted (R26)."""

    EVENT_TYPE: ClassVar[str] = "com.convene.calendar-sync.CalendarEventChanged"
    AGGREGATE_ID_FIELD: ClassVar[str] = "calendar_event_id"

    calendar_event_id: EntityId = Field(
        description="calendar-sync's stable id of the mirrored provider event (message key)."
    )
    connection_id: EntityId = Field(description="The connection the calendar belongs to.")
    user_id: EntityId = Field(description="The user who owns the connection.")
    provider: CalendarProvider = Field(description="The calendar provider.")
    calendar_id: ProviderId = Field(description="The provider calendar holding the event.")
    provider_event_id: ProviderId = Field(description="The provider's id of the event.")
    ical_uid: str | None = Field(default=None, description="The event's iCalendar UID.")
    change: Literal["created", "updated", "deleted"] = Field(description="What happened.")
    title: str = Field(default="", max_length=500, description="The event's title.")
    start: UtcInstant | None = Field(default=None, description="Start (UTC); null if deleted.")
    end: UtcInstant | None = Field(default=None, description="End (UTC); null if deleted.")
    time_zone: TimeZoneName | None = Field(
        default=None, description="The event's IANA time zone, when the provider gives one."
    )
    all_day: bool = Field(default=False, description="An all-day event.")
    busy: bool = Field(default=True, description="Blocks time (not transparent/free).")
    organizer_email: RawEmail | None = Field(
        default=None, description="The organizer's email address."
    )
    attendee_emails: list[RawEmail] = Field(
        default_factory=list, description="Attendee addresses, matched to contacts (R26)."
    )
    description: MultilineText | None = Field(
        default=None, max_length=20000, description="The event's description (R21)."
    )
    join_url: HttpsUrl | None = Field(default=None, description="Conference link, if any.")
    created_by_convene_meeting_id: EntityId | None = Field(
        default=None,
        description="The meeting whose event this is, when Convene wrote it (its CRM "
        "marker): meetings never turns it into a new meeting (R27).",
    )
    created_by_integration: bool = Field(
        default=False,
        description="Created by an integration (ours or another): not synced into the "
        "CRM as a new meeting (R27).",
    )
    recurrence: Recurrence | None = Field(
        default=None, description="Series information; null for a single event."
    )

    @model_validator(mode="after")
    def _times(self) -> CalendarEventChanged:
        if self.change != "deleted":
            if self.start is None or self.end is None:
                raise ValueError("a created or updated event has start and end")
            if self.end < self.start:
                raise ValueError("end must not be before start")
        if self.created_by_convene_meeting_id and not self.created_by_integration:
            raise ValueError("an event Convene created is created_by_integration")
        return self


class CalendarEventLinked(CalendarSyncEvent):
    """calendar-sync wrote a meeting to the host's calendar (R15) and, for a video
    location, tried to create the conference; meetings answers with a MeetingUpdated
    that carries the link (see the video-link contract)."""

    EVENT_TYPE: ClassVar[str] = "com.convene.calendar-sync.CalendarEventLinked"
    AGGREGATE_ID_FIELD: ClassVar[str] = "meeting_id"

    meeting_id: EntityId = Field(description="The meeting (the message key).")
    meeting_version: int = Field(
        ge=0, description="The meeting version (SEQUENCE) that was written."
    )
    connection_id: EntityId = Field(description="The host's connection.")
    provider: CalendarProvider = Field(description="The calendar provider.")
    calendar_id: ProviderId = Field(description="The calendar written to (the primary).")
    provider_event_id: ProviderId = Field(description="The provider's id of the event.")
    conference_status: Literal["created", "not_requested", "unavailable"] = Field(
        description="created: join_url holds the link; not_requested: the location is not "
        "a video conference; unavailable: no link could be made."
    )
    conference_provider: VideoProvider | None = Field(
        default=None, description="The provider of the conference, when one was created."
    )
    join_url: HttpsUrl | None = Field(default=None, description="The join link, when created.")
    conference_unavailable_reason: (
        Literal["email_mismatch", "video_account_not_connected", "provider_error"] | None
    ) = Field(
        default=None,
        description="Why no link was made; email_mismatch: the user's CRM email differs "
        "from the video account's (R9).",
    )

    @model_validator(mode="after")
    def _conference(self) -> CalendarEventLinked:
        created = self.conference_status == "created"
        if created != (self.join_url is not None and self.conference_provider is not None):
            raise ValueError("join_url and conference_provider are set exactly when created")
        if (self.conference_status == "unavailable") != (
            self.conference_unavailable_reason is not None
        ):
            raise ValueError("conference_unavailable_reason is set exactly when unavailable")
        return self
