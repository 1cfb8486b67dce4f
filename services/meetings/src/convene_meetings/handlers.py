"""Every Kafka subscriber of meetings, in one place.

meetings keeps read models of records' users, contacts and account settings
(records.events.v1) and of calendar-sync's calendar connections (calendar-sync.events.v1); it
turns calendar events (R26), video links and bookings (booking-pages.events.v1) into
meetings; a booking whose owner is not known yet is held and booked when the owner's
UserUpserted is applied. Each handler is idempotent by construction (version-guarded
writes, ids derived from the source); the consumer also drops event ids it has processed.
"""

from __future__ import annotations

from convene_kit.consumer import Handler
from convene_schemas.base import Event
from convene_schemas.envelope import Envelope
from convene_schemas.events.booking_pages import BookingPagesEvent, BookingRequested
from convene_schemas.events.calendar_sync import (
    CalendarAccessLost,
    CalendarAccessRestored,
    CalendarConnected,
    CalendarConnectionUpdated,
    CalendarDisconnected,
    CalendarEventChanged,
    CalendarEventLinked,
    CalendarSyncEvent,
)
from convene_schemas.events.records import (
    AccountSettingsChanged,
    ContactUpserted,
    RecordDeleted,
    RecordsEvent,
    UserUpserted,
)

from convene_meetings import bookings, calendar_events, changes, read_models
from convene_meetings.deps import Deps

TOPICS: list[str] = [RecordsEvent.TOPIC, CalendarSyncEvent.TOPIC, BookingPagesEvent.TOPIC]


def build_handlers(deps: Deps) -> dict[type[Event], Handler]:
    """The event handlers, keyed by the event class they consume."""
    repo = deps.read_models

    async def on_user_upserted(envelope: Envelope) -> None:
        user: UserUpserted = envelope.event  # type: ignore[assignment]
        await read_models.record_user(repo, user)
        # Also when the event was not newer: a crash may have left held bookings behind.
        await bookings.release_held(deps, user.account_id, user.user_id)

    async def on_contact_upserted(envelope: Envelope) -> None:
        await read_models.record_contact(repo, envelope.event)  # type: ignore[arg-type]

    async def on_account_settings_changed(envelope: Envelope) -> None:
        await read_models.record_account_settings(repo, envelope.event)  # type: ignore[arg-type]

    async def on_record_deleted(envelope: Envelope) -> None:
        await read_models.record_deletion(repo, envelope.event)  # type: ignore[arg-type]

    calendars = deps.calendars

    async def on_connection_state(envelope: Envelope) -> None:
        await read_models.record_connection_state(calendars, envelope.event)  # type: ignore[arg-type]

    async def on_disconnected(envelope: Envelope) -> None:
        await read_models.record_disconnection(calendars, envelope.event)  # type: ignore[arg-type]

    async def on_access_change(envelope: Envelope) -> None:
        await read_models.record_access_change(calendars, envelope.event)  # type: ignore[arg-type]

    async def on_event_linked(envelope: Envelope) -> None:
        await changes.link_calendar_event(deps, envelope.event)  # type: ignore[arg-type]

    async def on_event_changed(envelope: Envelope) -> None:
        await calendar_events.follow_calendar_event(deps, envelope.event)  # type: ignore[arg-type]

    async def on_booking_requested(envelope: Envelope) -> None:
        await bookings.take_booking(deps, envelope.event, envelope.id)  # type: ignore[arg-type]

    return {
        BookingRequested: on_booking_requested,
        CalendarEventChanged: on_event_changed,
        CalendarEventLinked: on_event_linked,
        CalendarConnected: on_connection_state,
        CalendarConnectionUpdated: on_connection_state,
        CalendarDisconnected: on_disconnected,
        CalendarAccessLost: on_access_change,
        CalendarAccessRestored: on_access_change,
        UserUpserted: on_user_upserted,
        ContactUpserted: on_contact_upserted,
        AccountSettingsChanged: on_account_settings_changed,
        RecordDeleted: on_record_deleted,
    }
