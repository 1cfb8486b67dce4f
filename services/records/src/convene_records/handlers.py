"""Every Kafka subscriber of records, in one place.

records consumes the meeting events to keep record timelines (R5, R6) and the per-meeting
facts reports count. All five carry the meeting's full snapshot, so one handler serves them;
it is idempotent by construction (version-guarded writes keyed by record and meeting), so
the consumer keeps no processed-event records for it.
"""

from __future__ import annotations

from convene_kit.consumer import Handler
from convene_schemas.base import Event
from convene_schemas.envelope import Envelope
from convene_schemas.events.meetings import (
    MeetingCanceled,
    MeetingOutcomeRecorded,
    MeetingRescheduled,
    MeetingScheduled,
    MeetingsEvent,
    MeetingSnapshot,
    MeetingUpdated,
)

from convene_records.service_layer import reports, timelines
from convene_records.service_layer.deps import RecordsDeps

TOPICS: list[str] = [MeetingsEvent.TOPIC]

MEETING_EVENTS: tuple[type[MeetingSnapshot], ...] = (
    MeetingScheduled,
    MeetingUpdated,
    MeetingRescheduled,
    MeetingCanceled,
    MeetingOutcomeRecorded,
)


def build_handlers(deps: RecordsDeps) -> dict[type[Event], Handler]:
    """The event handlers, keyed by the event class they consume."""

    async def on_meeting_event(envelope: Envelope) -> None:
        """Show the meeting, as it is now, on the timeline of every record it involves, and
        keep its fact for reports (each write version-guarded)."""
        meeting = envelope.event
        assert isinstance(meeting, MeetingSnapshot)  # routed by MEETING_EVENTS below
        await timelines.show_meeting(deps.timelines, meeting)
        await reports.keep_meeting_fact(deps.meeting_facts, meeting)

    return {event_class: on_meeting_event for event_class in MEETING_EVENTS}
