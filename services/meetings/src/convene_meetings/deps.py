"""What the service functions, views and handlers are given: repositories, the versioned
aggregates (revision log and outbox), the clock.

Built once by :func:`convene_meetings.bootstrap.bootstrap`; tests build it with fakes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from convene_kit.aggregates import Aggregates
from convene_kit.clock import Clock, utc_now
from convene_kit.idempotent_requests import IdempotencyKeys

from convene_meetings.domain.meeting import new_meeting_id
from convene_meetings.held_store import HeldBookingRepository
from convene_meetings.store import (
    CalendarConnectionRepository,
    MeetingRepository,
    ReadModelRepository,
)


@dataclass
class Deps:
    """The dependencies of meetings' service functions."""

    meetings: MeetingRepository
    read_models: ReadModelRepository
    calendars: CalendarConnectionRepository
    held_bookings: HeldBookingRepository
    aggregates: Aggregates  # creates, loads and changes meetings (revision log, outbox)
    idempotency_keys: IdempotencyKeys  # POST /meetings' Idempotency-Key
    clock: Clock = field(default=utc_now)  # the same clock as aggregates.clock
    new_meeting_id: Callable[[], str] = field(default=new_meeting_id)
