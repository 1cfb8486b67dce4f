"""Every Kafka subscriber of records, in one place.

records consumes the meeting events to keep record timelines (R5, R6) and the per-meeting
facts reports count. All five carry the meeting's full snapshot, so one handler serves them;
it is idempotent by construction (version-guarded writes keyed by record and meeting), so
the consumer keeps no processed-event records for it. It declares no rejection: the
snapshot was validated by the contract and nothing in it makes the writes fail, so whatever
it raises is an outage or a bug, retried and never dead-lettered (``convene_kit.consumer``).
"""

from __future__ import annotations

from convene_kit.consumer import EventMeta, Handlers
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


def build_handlers(deps: RecordsDeps) -> Handlers:
    """The event handlers, by the event classes they consume."""
    handlers = Handlers()

    @handlers.on(*MEETING_EVENTS)
    async def on_meeting_event(meeting: MeetingSnapshot, meta: EventMeta) -> None:
        """Show the meeting, as it is now, on the timeline of every record it involves, and
        keep its fact for reports (each write version-guarded)."""
        await timelines.show_meeting(deps.timelines, meeting)
        await reports.keep_meeting_fact(deps.meeting_facts, meeting)

    return handlers
