"""Every Kafka subscriber of notifications, in one place.

A handler receives the decoded envelope and calls the delivery service; each email's own
idempotency key (not only the event id) keeps a redelivered event from sending twice.
MeetingOutcomeRecorded and the other events of the topic send nothing (committed, skipped).
Meeting events get the account's default language and time zone for attendees without
their own before anything is planned (``domain.localization``). records' users and account
settings feed the read models (other record events are skipped); booking-pages' events
send the page owner's emails (``owner_emails``).
"""

from __future__ import annotations

from typing import Any

from convene_kit.consumer import Handler
from convene_schemas.base import Event
from convene_schemas.envelope import Envelope
from convene_schemas.events.booking_pages import BookingAttemptBlocked, BookingRequested
from convene_schemas.events.meetings import (
    MeetingCanceled,
    MeetingChange,
    MeetingRescheduled,
    MeetingScheduled,
    MeetingSnapshot,
    MeetingUpdated,
)
from convene_schemas.events.notifications import ReminderDue
from convene_schemas.events.records import AccountSettingsChanged, UserUpserted

from convene_notifications.delivery import Deliveries
from convene_notifications.domain.localization import with_account_defaults
from convene_notifications.owner_emails import OwnerEmails
from convene_notifications.read_models import ReadModels
from convene_notifications.reminders import ReminderPlanner, ReminderSender

TOPICS: list[str] = [MeetingScheduled.TOPIC, ReminderDue.TOPIC, UserUpserted.TOPIC,
                     BookingRequested.TOPIC]


def build_handlers(deliveries: Deliveries, planner: ReminderPlanner | None = None,
                   sender: ReminderSender | None = None, *,
                   read_models: ReadModels | None = None,
                   owner_emails: OwnerEmails | None = None) -> dict[type[Event], Handler]:
    """The event handlers, keyed by the event class they consume. Meeting events also
    keep the reminder timers (when ``planner`` is given); ``ReminderDue`` (our own topic)
    sends the reminder email; records' events keep ``read_models``; booking-pages' events
    send ``owner_emails``."""

    async def localized(envelope: Envelope) -> Any:
        meeting = envelope.event
        assert isinstance(meeting, MeetingSnapshot)
        if read_models is None:
            return meeting
        return with_account_defaults(meeting,
                                     await read_models.account_defaults(meeting.account_id))

    async def plan(meeting: MeetingSnapshot) -> None:
        if planner is not None:
            await planner.on_meeting(meeting)

    async def on_meeting_scheduled(envelope: Envelope) -> None:
        assert isinstance(envelope.event, MeetingScheduled)
        meeting = await localized(envelope)
        await deliveries.send_invitations(meeting)
        await plan(meeting)

    async def on_meeting_changed(envelope: Envelope) -> None:
        assert isinstance(envelope.event, MeetingChange)
        meeting = await localized(envelope)
        await deliveries.send_updates(meeting)
        await plan(meeting)

    async def on_meeting_canceled(envelope: Envelope) -> None:
        assert isinstance(envelope.event, MeetingCanceled)
        meeting = await localized(envelope)
        await deliveries.send_cancellations(meeting)
        await plan(meeting)

    handlers: dict[type[Event], Handler] = {
        MeetingScheduled: on_meeting_scheduled, MeetingUpdated: on_meeting_changed,
        MeetingRescheduled: on_meeting_changed, MeetingCanceled: on_meeting_canceled}
    if sender is not None:
        async def on_reminder_due(envelope: Envelope) -> None:
            assert isinstance(envelope.event, ReminderDue)
            await sender.send(envelope.event)

        handlers[ReminderDue] = on_reminder_due
    if read_models is not None:
        handlers.update(read_model_handlers(read_models, owner_emails))
    if owner_emails is not None:
        async def on_booking_event(envelope: Envelope) -> None:
            assert isinstance(envelope.event, (BookingRequested, BookingAttemptBlocked))
            await owner_emails.on_booking_event(envelope.event)

        handlers[BookingRequested] = on_booking_event
        handlers[BookingAttemptBlocked] = on_booking_event
    return handlers


def read_model_handlers(read_models: ReadModels,
                        owner_emails: OwnerEmails | None) -> dict[type[Event], Handler]:
    """records' users and account settings; a user's arrival sends the owner emails held
    for them (the user is always checked, so a redelivery after a crash sends too)."""

    async def on_user_upserted(envelope: Envelope) -> None:
        assert isinstance(envelope.event, UserUpserted)
        await read_models.record_user(envelope.event)
        if owner_emails is not None:
            await owner_emails.on_owner_known(envelope.event.account_id, envelope.event.user_id)

    async def on_account_settings_changed(envelope: Envelope) -> None:
        assert isinstance(envelope.event, AccountSettingsChanged)
        await read_models.record_account_settings(envelope.event)

    return {UserUpserted: on_user_upserted,
            AccountSettingsChanged: on_account_settings_changed}
