"""Every Kafka subscriber of booking-pages, in one place.

* records.events.v1: users (a host's name on the page; a deactivated host takes no bookings),
  the kit's versioned read model.
* meetings.events.v1: a booked meeting canceled or rescheduled frees its reservation cells
  (the rescheduled time is busy in the host's calendar). Both are idempotent: the booking's
  state changes once, releasing cells twice releases nothing more.

Calendar connections are not consumed: whether a host has a connected, active calendar is
read with the busy time from calendar-sync's availability (one answer, never out of step
with the busy time it describes). Dead letters: none declared; every event is a complete
snapshot the contract validated, so anything raised is an outage or a bug, retried.
"""

from __future__ import annotations

from convene_kit.consumer import EventMeta, Handlers
from convene_schemas.events.meetings import MeetingCanceled, MeetingRescheduled, MeetingsEvent
from convene_schemas.events.records import RecordsEvent, UserUpserted

from convene_booking_pages import public, read_models
from convene_booking_pages.deps import Deps

TOPICS: list[str] = [MeetingsEvent.TOPIC, RecordsEvent.TOPIC]


def build_handlers(deps: Deps) -> Handlers:
    """The event handlers, by the event classes they consume (``Handlers.on``)."""
    handlers = Handlers()

    @handlers.on(UserUpserted)
    async def on_user(user: UserUpserted, meta: EventMeta) -> None:
        await read_models.record_user(deps.users, user)

    @handlers.on(MeetingCanceled)
    async def on_canceled(meeting: MeetingCanceled, meta: EventMeta) -> None:
        if meeting.booking_id:
            await public.meeting_ended(deps, meeting.account_id, meeting.booking_id, "canceled")

    @handlers.on(MeetingRescheduled)
    async def on_rescheduled(meeting: MeetingRescheduled, meta: EventMeta) -> None:
        if meeting.booking_id:
            await public.meeting_ended(deps, meeting.account_id, meeting.booking_id, "moved")

    return handlers
