"""Every Kafka subscriber of meetings, in one place.

meetings keeps read models of records' users, contacts and account settings
(records.events.v1) and of calendar-sync's calendar connections (calendar-sync.events.v1); it
turns calendar events (R26), video links and bookings (booking-pages.events.v1) into
meetings; a booking whose owner, co-host or visitor's contact is not known yet is held and
booked once their UserUpserted and a ContactUpserted with the visitor's address are applied.
Each handler is idempotent by construction (version-guarded writes, ids derived from the
source); the consumer also drops event ids it has processed.

Dead letters. Only ``CalendarEventChanged`` declares a rejection: pydantic's
``ValidationError``, raised when the provider's event makes no valid meeting (an iCalendar
UID longer than a meeting's, say), which no retry can change. Bookings declare none (the
booking was validated against the same field rules; one that makes no meeting is refused
and counted, not raised), nor do links (one for an unknown meeting is logged and dropped)
and read models, so anything they raise is an outage or a bug: retried, never dead-lettered.
"""

from __future__ import annotations

from convene_kit.consumer import EventMeta, Handlers
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
from pydantic import ValidationError

from convene_meetings import bookings, calendar_events, changes, read_models
from convene_meetings.deps import Deps

TOPICS: list[str] = [RecordsEvent.TOPIC, CalendarSyncEvent.TOPIC, BookingPagesEvent.TOPIC]


def build_handlers(deps: Deps) -> Handlers:
    """The event handlers, by the event classes they consume."""
    handlers = Handlers()
    repo, calendars = deps.read_models, deps.calendars

    @handlers.on(UserUpserted)
    async def on_user_upserted(user: UserUpserted, meta: EventMeta) -> None:
        await read_models.record_user(repo, user)
        # Also when the event was not newer: a crash may have left held bookings behind.
        await bookings.release_for_user(deps, user.account_id, user.user_id)

    @handlers.on(ContactUpserted)
    async def on_contact_upserted(contact: ContactUpserted, meta: EventMeta) -> None:
        await read_models.record_contact(repo, contact)
        if contact.email:  # also when not newer, as for users
            await bookings.release_for_visitor(deps, contact.account_id, contact.email)

    @handlers.on(AccountSettingsChanged)
    async def on_account_settings_changed(settings: AccountSettingsChanged,
                                          meta: EventMeta) -> None:
        await read_models.record_account_settings(repo, settings)

    @handlers.on(RecordDeleted)
    async def on_record_deleted(deleted: RecordDeleted, meta: EventMeta) -> None:
        await read_models.record_deletion(repo, deleted)

    @handlers.on(CalendarConnected, CalendarConnectionUpdated)
    async def on_connection_state(event: CalendarConnected | CalendarConnectionUpdated,
                                  meta: EventMeta) -> None:
        await read_models.record_connection_state(calendars, event)

    @handlers.on(CalendarDisconnected)
    async def on_disconnected(event: CalendarDisconnected, meta: EventMeta) -> None:
        await read_models.record_disconnection(calendars, event)

    @handlers.on(CalendarAccessLost, CalendarAccessRestored)
    async def on_access_change(event: CalendarAccessLost | CalendarAccessRestored,
                               meta: EventMeta) -> None:
        await read_models.record_access_change(calendars, event)

    @handlers.on(CalendarEventLinked)
    async def on_event_linked(link: CalendarEventLinked, meta: EventMeta) -> None:
        await changes.link_calendar_event(deps, link)

    @handlers.on(CalendarEventChanged, rejects=(ValidationError,))
    async def on_event_changed(event: CalendarEventChanged, meta: EventMeta) -> None:
        await calendar_events.follow_calendar_event(deps, event)

    @handlers.on(BookingRequested)
    async def on_booking_requested(booking: BookingRequested, meta: EventMeta) -> None:
        await bookings.take_booking(deps, booking, meta.event_id)

    return handlers
