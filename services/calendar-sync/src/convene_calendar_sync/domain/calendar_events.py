"""The value objects calendar-sync exchanges with provider adapters (pure, no I/O).

* :class:`OutboundEvent`: a meeting as Convene writes it into the host's primary calendar.
* :class:`WrittenEvent`: what the provider answered to a write.
* :class:`RemoteEvent`: one provider event as a sync reads it, with its busy occurrences
  inside the sync window already expanded (series, exceptions, all-day in the calendar zone).
* :class:`ChangePage`: one page of a sync: events, and the cursor to store once they are
  safely handled.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal


def calendar_key(calendar_id: str) -> str:
    """A short, stable key of a provider calendar id (ids are URLs or email addresses),
    used in document ids: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(calendar_id.encode()).hexdigest()[:16]


CalendarAccess = Literal["owner", "writer", "reader", "free_busy"]


@dataclass(frozen=True)
class ProviderCalendar:
    """A calendar the connected account can see (calendarList / CalDAV calendar-home-set)."""

    calendar_id: str  # Google: calendar id; CalDAV: the collection's absolute URL
    name: str
    primary: bool
    access: CalendarAccess  # free_busy: no event details (R31 refuses it)
    time_zone: str | None = None


@dataclass(frozen=True)
class Attendee:
    email: str
    name: str = ""


@dataclass(frozen=True)
class OutboundEvent:
    """A meeting as written to the host's primary calendar (R15, R21).

    Adapters address the provider event by a name derived from the meeting (Google: from
    ``meeting_id``; CalDAV: from ``ical_uid``, itself stable per meeting), so a second write
    of the same meeting addresses the same provider event: idempotent by construction.
    """

    meeting_id: str
    ical_uid: str  # the meeting's iCalendar UID: one UID in invitation, provider event, API
    sequence: int  # the meeting version (iCalendar SEQUENCE)
    title: str
    description: str | None
    location: str | None
    start: datetime  # aware, UTC
    end: datetime  # aware, UTC
    time_zone: str  # IANA zone the meeting was scheduled in
    organizer_email: str
    organizer_name: str
    attendees: tuple[Attendee, ...]
    want_google_meet: bool = False  # the location asks for a Google Meet link


@dataclass(frozen=True)
class WrittenEvent:
    """The provider's answer to an upsert."""

    provider_event_id: str
    join_url: str | None = None  # a conference link the provider made (Google Meet)


@dataclass(frozen=True)
class BusyInterval:
    start: datetime  # aware, UTC
    end: datetime  # aware, UTC


@dataclass(frozen=True)
class RemoteEvent:
    """One provider event as a sync reads it.

    ``deleted`` events carry only ids. ``occurrences`` are the busy intervals of the event
    within the sync window (a series expanded with its exceptions; empty for a transparent,
    cancelled or declined event, whose time is free).
    """

    provider_event_id: str  # Google: event id; CalDAV: the resource's href
    deleted: bool
    ical_uid: str | None = None
    title: str = ""
    description: str | None = None
    start: datetime | None = None  # UTC; the first occurrence's start for a series
    end: datetime | None = None
    time_zone: str | None = None
    all_day: bool = False
    busy: bool = True  # not transparent / free
    organizer_email: str | None = None
    attendee_emails: tuple[str, ...] = ()
    join_url: str | None = None
    convene_meeting_id: str | None = None  # our marker: Convene wrote this event (R27)
    created_by_integration: bool = False  # ours or another integration's (R27)
    rrule: str | None = None  # a series master's RRULE
    series_event_id: str | None = None  # one occurrence of a series: its master's id
    original_start: datetime | None = None  # that occurrence's RECURRENCE-ID (UTC)
    occurrences: tuple[BusyInterval, ...] = field(default=())
    etag: str | None = None


@dataclass(frozen=True)
class ChangePage:
    """One page of changes. ``cursor`` is what to pass next time; store it only after
    ``events`` are handled. ``full`` says this listing is a full one (first sync, or the
    provider dropped the old cursor): it covers the events that end after the sync
    window's start, and those it does not list are gone (events that ended before the
    window are not judged). ``done`` is False while more pages of this listing follow
    (pass ``cursor`` again)."""

    events: tuple[RemoteEvent, ...]
    cursor: str
    full: bool
    done: bool
