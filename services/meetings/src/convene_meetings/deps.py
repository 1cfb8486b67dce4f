"""What the service functions, views and handlers are given: repositories, outbox, clock.

Built once by :func:`convene_meetings.bootstrap.bootstrap`; tests build it with fakes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from convene_kit.outbox import Outbox, utcnow
from convene_kit.revisions import RevisionLog

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
    outbox: Outbox
    calendars: CalendarConnectionRepository
    revisions: RevisionLog
    held_bookings: HeldBookingRepository
    clock: Callable[[], datetime] = field(default=utcnow)  # aware UTC, milliseconds
    new_meeting_id: Callable[[], str] = field(default=new_meeting_id)
