"""Provider events that leave calendar-sync as CalendarEventChanged (R26, R27).

An event in a connected calendar with a CRM contact of the account among its attendees is
published; one without contacts never leaves calendar-sync (it only feeds the busy mirror).
Once published, an event is followed: its later changes and its deletion are published too,
even if its contacts are gone (meetings decides what the meeting does). Events Convene wrote
(our marker) or another integration made are published flagged, so meetings never turns
them into new meetings and nothing loops.

Each published event is a small versioned aggregate, :class:`SyncedEvent` (``_id`` =
calendar_event_id, derived from connection, calendar and provider id): a full resync that
lists the same event again changes nothing (same fingerprint), so no meeting is duplicated.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from convene_schemas.events.calendar_sync import CalendarEventChanged, Recurrence
from convene_schemas.text import storable
from pydantic import BaseModel, ConfigDict

from convene_calendar_sync.domain.calendar_events import RemoteEvent
from convene_calendar_sync.domain.connection import Connection

MAX_TITLE = 500
MAX_DESCRIPTION = 20000


def calendar_event_id_for(connection_id: str, calendar_id: str, provider_event_id: str) -> str:
    """calendar-sync's stable id of a mirrored provider event: ``cev_`` + 32 hex digits."""
    key = f"{connection_id}\x1f{calendar_id}\x1f{provider_event_id}"
    return "cev_" + hashlib.sha256(key.encode()).hexdigest()[:32]


class SyncedEvent(BaseModel):
    """A provider event that was published, and what was last published about it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    calendar_event_id: str
    account_id: str
    connection_id: str
    user_id: str
    calendar_id: str
    provider_event_id: str
    fingerprint: str
    end: datetime | None = None  # the last known end: a windowed full listing omits past ones
    deleted: bool = False
    version: int = 0
    updated_at: datetime


def contact_attendees(event: RemoteEvent, contact_emails: set[str],
                      own_emails: Sequence[str]) -> list[str]:
    """The attendees (and organizer) of ``event`` that are CRM contacts of the account."""
    own = {e.lower() for e in own_emails if e}
    addresses = {a.lower() for a in event.attendee_emails}
    if event.organizer_email:
        addresses.add(event.organizer_email.lower())
    return sorted(a for a in addresses - own if a in contact_emails)


def changed_event(connection: Connection, calendar_id: str, event: RemoteEvent, *,
                  change: str, version: int, now: datetime) -> CalendarEventChanged:
    """The contract's event for one provider event (its text cut to the contract's sizes)."""
    calendar_event_id = calendar_event_id_for(connection.connection_id, calendar_id,
                                              event.provider_event_id)
    base: dict[str, Any] = {"account_id": connection.account_id, "version": version, "occurred_at": now,
            "calendar_event_id": calendar_event_id, "connection_id": connection.connection_id,
            "user_id": connection.user_id, "provider": connection.provider,
            "calendar_id": calendar_id, "provider_event_id": event.provider_event_id,
            "change": change}
    if change == "deleted":
        return CalendarEventChanged(**base)
    recurrence = None
    if event.rrule or event.series_event_id:
        recurrence = Recurrence(rrule=event.rrule[:2000] if event.rrule else None,
                                series_event_id=event.series_event_id,
                                original_start=event.original_start)
    return CalendarEventChanged(
        **base, ical_uid=event.ical_uid, title=storable(event.title)[:MAX_TITLE],
        start=event.start, end=event.end, time_zone=event.time_zone, all_day=event.all_day,
        busy=event.busy, organizer_email=event.organizer_email,
        attendee_emails=list(event.attendee_emails),
        description=storable(event.description, multiline=True)[:MAX_DESCRIPTION] if event.description
        else None,
        join_url=event.join_url if (event.join_url or "").startswith("https://") else None,
        created_by_convene_meeting_id=event.convene_meeting_id,
        created_by_integration=event.created_by_integration or bool(event.convene_meeting_id),
        recurrence=recurrence)


def fingerprint(event: CalendarEventChanged) -> str:
    """What a consumer would see of the event, without envelope fields: equal fingerprints
    mean there is nothing new to publish."""
    data = event.model_dump(mode="json", exclude={"version", "occurred_at", "change"})
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()

