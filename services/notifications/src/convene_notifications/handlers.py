"""Every Kafka subscriber of notifications, in one place.

A handler receives the decoded event and calls the delivery service; each email's own
idempotency key (not only the event id) keeps a redelivered event from sending twice.
MeetingOutcomeRecorded and the other events of the topic send nothing (committed, skipped).
Meeting events get the account's default language and time zone for attendees without
their own before anything is planned (``domain.localization``). records' users and account
settings feed the read models (other record events are skipped); booking-pages' events
send the page owner's emails (``service_layer.owner_emails``).

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

from convene_notifications.domain.localization import with_account_defaults
from convene_notifications.domain.owner_emails import OwnerEvent
from convene_notifications.service_layer.deps import Deps

TOPICS: list[str] = [MeetingScheduled.TOPIC, ReminderDue.TOPIC, UserUpserted.TOPIC,
                     BookingRequested.TOPIC]

M = TypeVar("M", bound=MeetingSnapshot)


def build_handlers(deps: Deps) -> Handlers:
    """Every event handler, by the event classes it consumes: meeting events send the
    meeting's emails and keep its reminder timers; ``ReminderDue`` (our own topic) sends
    the reminder email; records' events keep the read models, and a user's arrival sends
    the owner emails held for them (the user is always checked, so a redelivery after a
    crash sends too); booking-pages' events send the owner's emails."""
    handlers = Handlers()

    async def localized(meeting: M) -> M:
        return with_account_defaults(
            meeting, await deps.read_models.account_defaults(meeting.account_id))

    @handlers.on(MeetingScheduled)
    async def on_meeting_scheduled(event: MeetingScheduled, meta: EventMeta) -> None:
        meeting = await localized(event)
        await deps.meeting_emails.send_invitations(meeting)
        await deps.reminder_planner.on_meeting(meeting)

    @handlers.on(MeetingUpdated, MeetingRescheduled)
    async def on_meeting_changed(event: MeetingChange, meta: EventMeta) -> None:
        meeting = await localized(event)
        await deps.meeting_emails.send_updates(meeting)
        await deps.reminder_planner.on_meeting(meeting)

    @handlers.on(MeetingCanceled)
    async def on_meeting_canceled(event: MeetingCanceled, meta: EventMeta) -> None:
        meeting = await localized(event)
        await deps.meeting_emails.send_cancellations(meeting)
        await deps.reminder_planner.on_meeting(meeting)

    @handlers.on(ReminderDue)
    async def on_reminder_due(due: ReminderDue, meta: EventMeta) -> None:
        await deps.reminder_emails.send(due)

    @handlers.on(UserUpserted)
    async def on_user_upserted(user: UserUpserted, meta: EventMeta) -> None:
        await deps.read_models.record_user(user)
        await deps.owner_emails.on_owner_known(user.account_id, user.user_id)

    @handlers.on(AccountSettingsChanged)
    async def on_account_settings_changed(settings: AccountSettingsChanged,
                                          meta: EventMeta) -> None:
        await deps.read_models.record_account_settings(settings)

    @handlers.on(BookingRequested, BookingAttemptBlocked)
    async def on_booking_event(event: OwnerEvent, meta: EventMeta) -> None:
        await deps.owner_emails.on_booking_event(event)

    return handlers
