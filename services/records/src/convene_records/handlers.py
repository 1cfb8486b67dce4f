"""Every Kafka subscriber of records, in one place.

records consumes the meeting events to keep record timelines (R5, R6) and the per-meeting
facts reports count. All five carry the meeting's full snapshot, so one handler serves them;
it is idempotent by construction (version-guarded writes keyed by record and meeting). It
also consumes booking-pages' ``BookingRequested``: the visitor becomes a contact of the
account (R34), idempotent by construction too (a match by address, or a contact id derived
from the address). So the consumer keeps no processed-event records. Neither handler declares
a rejection: the events were validated by the contract and nothing in them makes the writes
fail, so whatever they raise is an outage or a bug, retried and never dead-lettered
(``convene_kit.consumer``).
"""

from __future__ import annotations

from convene_kit.consumer import EventMeta, Handlers
from convene_schemas.events.booking_pages import BookingPagesEvent, BookingRequested
from convene_schemas.events.meetings import (
    MeetingCanceled,
    MeetingOutcomeRecorded,
    MeetingRescheduled,
    MeetingScheduled,
    MeetingsEvent,
    MeetingSnapshot,
    MeetingUpdated,
)

from convene_records.service_layer import reports, timelines, visitors
from convene_records.service_layer.deps import RecordsDeps

TOPICS: list[str] = [MeetingsEvent.TOPIC, BookingPagesEvent.TOPIC]

MEETING_EVENTS: tuple[type[MeetingSnapshot], ...] = (
    MeetingScheduled,
    MeetingUpdated,
    MeetingRescheduled,
    MeetingCanceled,
    MeetingOutcomeRecorded,
)


def build_handlers(deps: RecordsDeps) -> Handlers:
    """The event handlers, by the event classes they consume."""
    handlers = Handlers()

    @handlers.on(*MEETING_EVENTS)
    async def on_meeting_event(meeting: MeetingSnapshot, meta: EventMeta) -> None:
        """Show the meeting, as it is now, on the timeline of every record it involves, and
        keep its fact for reports (each write version-guarded)."""
        await timelines.show_meeting(deps.timelines, meeting)
        await reports.keep_meeting_fact(deps.meeting_facts, meeting)

    @handlers.on(BookingRequested)
    async def on_booking_requested(booking: BookingRequested, meta: EventMeta) -> None:
        """The visitor becomes a contact of the account, unless one has their address."""
        await visitors.make_visitor_a_contact(deps, booking)

    return handlers
