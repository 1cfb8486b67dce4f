"""Meeting reports (R6): meetings counted by organizer, host, outcome or meeting type.

records keeps one fact per meeting (its latest version, from the meeting events) and counts
the facts whose start falls in the asked range.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from convene_schemas.events.meetings import MeetingCanceled, MeetingSnapshot

GroupBy = Literal["organizer", "host", "outcome", "meeting_type"]

GROUP_FIELDS: dict[str, str] = {
    "organizer": "organizer_user_id",
    "host": "host_user_id",
    "outcome": "outcome",
    "meeting_type": "meeting_type",
}
"""The fact field each grouping counts by."""


class InvalidRange(ValueError):
    """A report range whose end is not after its start."""


@dataclass(frozen=True)
class MeetingFact:
    """What a report needs of one meeting, at its latest version."""

    account_id: str
    meeting_id: str
    start: datetime
    organizer_user_id: str
    host_user_id: str
    outcome: str
    meeting_type: str | None
    canceled: bool
    version: int


@dataclass(frozen=True)
class ReportGroup:
    """One line of a report: a value of the grouping field and how many meetings have it."""

    key: str | None
    count: int


def meeting_fact(meeting: MeetingSnapshot) -> MeetingFact:
    """The fact a meeting event carries."""
    return MeetingFact(
        account_id=meeting.account_id, meeting_id=meeting.meeting_id, start=meeting.start,
        organizer_user_id=meeting.organizer_user_id, host_user_id=meeting.host_user_id,
        outcome=meeting.outcome, meeting_type=meeting.meeting_type,
        canceled=isinstance(meeting, MeetingCanceled), version=meeting.version)


def check_range(start: datetime, end: datetime) -> None:
    """:class:`InvalidRange` unless both are time-zone aware and ``end`` is after ``start``."""
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidRange("from and to need a UTC offset.")
    if end <= start:
        raise InvalidRange("to must be after from.")


def count_meetings(facts: Iterable[MeetingFact], group_by: GroupBy) -> list[ReportGroup]:
    """Meetings per value of ``group_by``, most first, then by key (no key last)."""
    field = GROUP_FIELDS[group_by]
    counts = Counter(getattr(fact, field) for fact in facts)
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0] is None, kv[0] or ""))
    return [ReportGroup(key=key, count=count) for key, count in ordered]
