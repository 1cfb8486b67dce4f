"""Every Kafka subscriber of notifications, in one place.

A handler receives the decoded event and calls the delivery service; each email's own
idempotency key (not only the event id) keeps a redelivered event from sending twice.
MeetingOutcomeRecorded and the other events of the topic send nothing (committed, skipped).
Meeting events get the account's default language and time zone for attendees without
their own before anything is planned (``domain.localization``). records' users and account
settings feed the read models (other record events are skipped); booking-pages' events
send the page owner's emails (``owner_emails``).

No handler declares a rejection: the events are complete snapshots validated by the
contract, and what can be wrong for one email (an address that cannot be mailed, a 5xx)
is that email's ``EmailDeliveryFailed``, not an exception. Anything raised is an outage or
a bug: retried, never dead-lettered (``convene_kit.consumer``).
"""

from __future__ import annotations

from typing import TypeVar

from convene_kit.consumer import EventMeta, Handlers
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
from convene_notifications.domain.owner_emails import OwnerEvent
from convene_notifications.owner_emails import OwnerEmails
from convene_notifications.read_models import ReadModels
from convene_notifications.reminders import ReminderPlanner, ReminderSender

TOPICS: list[str] = [MeetingScheduled.TOPIC, ReminderDue.TOPIC, UserUpserted.TOPIC,
                     BookingRequested.TOPIC]

M = TypeVar("M", bound=MeetingSnapshot)


def build_handlers(deliveries: Deliveries, planner: ReminderPlanner | None = None,
                   sender: ReminderSender | None = None, *,
                   read_models: ReadModels | None = None,
                   owner_emails: OwnerEmails | None = None) -> Handlers:
    """The event handlers, by the event classes they consume. Meeting events also
    keep the reminder timers (when ``planner`` is given); ``ReminderDue`` (our own topic)
    sends the reminder email; records' events keep ``read_models``; booking-pages' events
    send ``owner_emails``."""
    handlers = Handlers()

    async def localized(meeting: M) -> M:
        if read_models is None:
            return meeting
        return with_account_defaults(meeting,
                                     await read_models.account_defaults(meeting.account_id))

    async def plan(meeting: MeetingSnapshot) -> None:
        if planner is not None:
            await planner.on_meeting(meeting)

    @handlers.on(MeetingScheduled)
    async def on_meeting_scheduled(event: MeetingScheduled, meta: EventMeta) -> None:
        meeting = await localized(event)
        await deliveries.send_invitations(meeting)
        await plan(meeting)

    @handlers.on(MeetingUpdated, MeetingRescheduled)
    async def on_meeting_changed(event: MeetingChange, meta: EventMeta) -> None:
        meeting = await localized(event)
        await deliveries.send_updates(meeting)
        await plan(meeting)

    @handlers.on(MeetingCanceled)
    async def on_meeting_canceled(event: MeetingCanceled, meta: EventMeta) -> None:
        meeting = await localized(event)
        await deliveries.send_cancellations(meeting)
        await plan(meeting)

    if sender is not None:
        @handlers.on(ReminderDue)
        async def on_reminder_due(due: ReminderDue, meta: EventMeta) -> None:
            await sender.send(due)

    if read_models is not None:
        handlers.include(read_model_handlers(read_models, owner_emails))
    if owner_emails is not None:
        @handlers.on(BookingRequested, BookingAttemptBlocked)
        async def on_booking_event(event: OwnerEvent, meta: EventMeta) -> None:
            await owner_emails.on_booking_event(event)

    return handlers


def read_model_handlers(read_models: ReadModels, owner_emails: OwnerEmails | None) -> Handlers:
    """records' users and account settings; a user's arrival sends the owner emails held
    for them (the user is always checked, so a redelivery after a crash sends too)."""
    handlers = Handlers()

    @handlers.on(UserUpserted)
    async def on_user_upserted(user: UserUpserted, meta: EventMeta) -> None:
        await read_models.record_user(user)
        if owner_emails is not None:
            await owner_emails.on_owner_known(user.account_id, user.user_id)

    @handlers.on(AccountSettingsChanged)
    async def on_account_settings_changed(settings: AccountSettingsChanged,
                                          meta: EventMeta) -> None:
        await read_models.record_account_settings(settings)

    return handlers
