"""Record timelines (R5, R6): a meeting shows on the timeline of every record it involves.

Every meeting event carries the meeting's full snapshot, so one projection serves all five:
the entry of a (record, meeting) pair is rebuilt from the latest snapshot, whatever changed.
"Created by" is the organizer who scheduled it, "assigned to" the host (R6).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, NamedTuple

from convene_kit import paging
from convene_kit.paging import InvalidCursor
from convene_schemas.events.meetings import MeetingCanceled, MeetingSnapshot

TimelineStatus = Literal["scheduled", "canceled"]

TIMELINE_RECORD_KINDS: frozenset[str] = frozenset({"contact", "company", "deal", "ticket"})
"""The record kinds whose timelines show meetings (a meeting can be associated with them)."""


class TimelineRecord(NamedTuple):
    """A record that has a timeline: its kind and id."""

    kind: str
    id: str


@dataclass(frozen=True)
class TimelineEntry:
    """One meeting engagement on one record's timeline."""

    account_id: str
    record_kind: str
    record_id: str
    meeting_id: str
    title: str
    start: datetime
    end: datetime
    time_zone: str
    status: TimelineStatus
    outcome: str
    created_by_user_id: str
    assigned_to_user_id: str
    version: int
    updated_at: datetime

    @property
    def entry_id(self) -> str:
        """The entry's stable id: one entry per (record, meeting)."""
        return timeline_entry_id(self.account_id, self.record, self.meeting_id)

    @property
    def record(self) -> TimelineRecord:
        """The record whose timeline shows this entry."""
        return TimelineRecord(self.record_kind, self.record_id)


def timeline_entry_id(account_id: str, record: TimelineRecord, meeting_id: str) -> str:
    """``<account>:<kind>:<record id>:<meeting id>``."""
    return f"{account_id}:{record.kind}:{record.id}:{meeting_id}"


def records_on_timeline(meeting: MeetingSnapshot) -> list[TimelineRecord]:
    """The records whose timelines show ``meeting``: its associated records and its contact
    attendees (R5), each once, in the order the meeting lists them."""
    candidates = [TimelineRecord(ref.kind, ref.id) for ref in meeting.associations]
    candidates += [TimelineRecord(a.kind, a.id) for a in meeting.attendees if a.kind == "contact"]
    return list(dict.fromkeys(r for r in candidates if r.kind in TIMELINE_RECORD_KINDS))


def meeting_status(meeting: MeetingSnapshot) -> TimelineStatus:
    """``canceled`` once a MeetingCanceled was published, ``scheduled`` otherwise."""
    return "canceled" if isinstance(meeting, MeetingCanceled) else "scheduled"


def project_meeting(meeting: MeetingSnapshot) -> list[TimelineEntry]:
    """The timeline entries ``meeting`` has, one per record it involves, at its version."""
    return [
        TimelineEntry(
            account_id=meeting.account_id,
            record_kind=record.kind,
            record_id=record.id,
            meeting_id=meeting.meeting_id,
            title=meeting.title,
            start=meeting.start,
            end=meeting.end,
            time_zone=meeting.time_zone,
            status=meeting_status(meeting),
            outcome=meeting.outcome,
            created_by_user_id=meeting.organizer_user_id,
            assigned_to_user_id=meeting.host_user_id,
            version=meeting.version,
            updated_at=meeting.occurred_at,
        )
        for record in records_on_timeline(meeting)
    ]


@dataclass(frozen=True)
class TimelinePosition:
    """Where a timeline page ended: entries sort by start (newest first), then meeting id."""

    start: datetime
    meeting_id: str


def encode_cursor(position: TimelinePosition) -> str:
    """An opaque cursor for the page after ``position``."""
    return paging.encode_cursor({"s": position.start.isoformat(), "m": position.meeting_id})


def decode_cursor(cursor: str) -> TimelinePosition:
    """The position a cursor from :func:`encode_cursor` stands for; :class:`InvalidCursor`
    for anything else."""
    data = paging.decode_cursor(cursor, ["s", "m"])
    start = paging.cursor_time(data["s"])
    meeting_id = data["m"]
    if not isinstance(meeting_id, str) or not meeting_id:
        raise InvalidCursor("The cursor is not valid.")
    return TimelinePosition(start=start, meeting_id=meeting_id)
