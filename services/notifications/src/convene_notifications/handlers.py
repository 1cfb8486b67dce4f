"""Every Kafka subscriber of notifications, in one place.

A handler receives the decoded envelope and calls the delivery service; each email's own
idempotency key (not only the event id) keeps a redelivered event from sending twice.
MeetingOutcomeRecorded and the other events of the topic send nothing (committed, skipped).
"""

from __future__ import annotations

from convene_kit.consumer import Handler
from convene_schemas.base import Event
from convene_schemas.envelope import Envelope
from convene_schemas.events.meetings import (
    MeetingCanceled,
    MeetingChange,
    MeetingRescheduled,
    MeetingScheduled,
    MeetingSnapshot,
    MeetingUpdated,
)
from convene_schemas.events.notifications import ReminderDue

from convene_notifications.delivery import Deliveries
from convene_notifications.reminders import ReminderPlanner, ReminderSender

TOPICS: list[str] = [MeetingScheduled.TOPIC, ReminderDue.TOPIC]


def build_handlers(deliveries: Deliveries, planner: ReminderPlanner | None = None,
                   sender: ReminderSender | None = None) -> dict[type[Event], Handler]:
    """The event handlers, keyed by the event class they consume. Meeting events also
    keep the reminder timers (when ``planner`` is given); ``ReminderDue`` (our own topic)
    sends the reminder email."""

    async def plan(envelope: Envelope) -> None:
        if planner is not None:
            assert isinstance(envelope.event, MeetingSnapshot)
            await planner.on_meeting(envelope.event)

    async def on_meeting_scheduled(envelope: Envelope) -> None:
        assert isinstance(envelope.event, MeetingScheduled)
        await deliveries.send_invitations(envelope.event)
        await plan(envelope)

    async def on_meeting_changed(envelope: Envelope) -> None:
        assert isinstance(envelope.event, MeetingChange)
        await deliveries.send_updates(envelope.event)
        await plan(envelope)

    async def on_meeting_canceled(envelope: Envelope) -> None:
        assert isinstance(envelope.event, MeetingCanceled)
        await deliveries.send_cancellations(envelope.event)
        await plan(envelope)

    handlers: dict[type[Event], Handler] = {
        MeetingScheduled: on_meeting_scheduled, MeetingUpdated: on_meeting_changed,
        MeetingRescheduled: on_meeting_changed, MeetingCanceled: on_meeting_canceled}
    if sender is not None:
        async def on_reminder_due(envelope: Envelope) -> None:
            assert isinstance(envelope.event, ReminderDue)
            await sender.send(envelope.event)

        handlers[ReminderDue] = on_reminder_due
    return handlers
