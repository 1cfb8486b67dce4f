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
    MeetingUpdated,
)

from convene_notifications.delivery import Deliveries

TOPICS: list[str] = [MeetingScheduled.TOPIC]


def build_handlers(deliveries: Deliveries) -> dict[type[Event], Handler]:
    """The event handlers, keyed by the event class they consume."""

    async def on_meeting_scheduled(envelope: Envelope) -> None:
        assert isinstance(envelope.event, MeetingScheduled)
        await deliveries.send_invitations(envelope.event)

    async def on_meeting_changed(envelope: Envelope) -> None:
        assert isinstance(envelope.event, MeetingChange)
        await deliveries.send_updates(envelope.event)

    async def on_meeting_canceled(envelope: Envelope) -> None:
        assert isinstance(envelope.event, MeetingCanceled)
        await deliveries.send_cancellations(envelope.event)

    return {MeetingScheduled: on_meeting_scheduled,
            MeetingUpdated: on_meeting_changed,
            MeetingRescheduled: on_meeting_changed,
            MeetingCanceled: on_meeting_canceled}
