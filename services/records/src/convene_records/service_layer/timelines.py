"""Keeping record timelines in step with meeting events (R5, R6), and reading them."""

from __future__ import annotations

from dataclasses import dataclass

from convene_kit.http import ApiError
from convene_schemas.events.meetings import MeetingSnapshot

from convene_records.domain.timeline import (
    InvalidCursor,
    TimelineEntry,
    TimelinePosition,
    TimelineRecord,
    decode_cursor,
    encode_cursor,
    project_meeting,
)
from convene_records.domain.versions import is_newer
from convene_records.service_layer.deps import RecordsDeps
from convene_records.service_layer.lookups import record_exists
from convene_records.store import TimelineRepository


async def show_meeting(timelines: TimelineRepository, meeting: MeetingSnapshot) -> bool:
    """Bring every timeline the meeting touches up to its version; False if the event is
    a duplicate or older than what the timelines show (nothing changes then).

    Records that no longer involve the meeting lose its entry. The meeting's own marker is
    written last, so a crash half-way is finished by the redelivered event; each entry
    write is version-guarded as well.
    """
    shown = await timelines.shown(meeting.account_id, meeting.meeting_id)
    if shown is not None and not is_newer(meeting.version, shown.version):
        return False
    entries = project_meeting(meeting)
    for entry in entries:
        await timelines.put(entry)
    current = [entry.record for entry in entries]
    for record in shown.records if shown is not None else []:
        if record not in current:
            await timelines.withdraw(meeting.account_id, record, meeting.meeting_id,
                                     meeting.version, meeting.occurred_at)
    await timelines.remember_shown(meeting.account_id, meeting.meeting_id, meeting.version,
                                   current)
    return True


@dataclass(frozen=True)
class TimelinePage:
    """One page of a timeline and the cursor of the next one (None on the last page)."""

    items: list[TimelineEntry]
    next_cursor: str | None


async def contact_timeline(
    deps: RecordsDeps, account_id: str, contact_id: str, *, limit: int, cursor: str | None
) -> TimelinePage:
    """The contact's meetings, newest start first. 404 ``contact_not_found`` for a contact
    outside the account; 400 ``invalid_cursor`` for a cursor this service did not issue."""
    return await record_timeline(deps, account_id, TimelineRecord("contact", contact_id),
                                 limit=limit, cursor=cursor)


async def record_timeline(
    deps: RecordsDeps, account_id: str, record: TimelineRecord, *, limit: int,
    cursor: str | None
) -> TimelinePage:
    """A record's meetings, newest start first. 404 ``<kind>_not_found`` for a record that
    is missing, deleted or of another account; 400 ``invalid_cursor``."""
    if not await record_exists(deps, account_id, record.kind, record.id):
        raise ApiError(404, f"{record.kind}_not_found", f"No such {record.kind}.")
    try:
        after = decode_cursor(cursor) if cursor else None
    except InvalidCursor as exc:
        raise ApiError(400, "invalid_cursor", str(exc)) from exc
    found = await deps.timelines.page(account_id, record, limit=limit + 1, after=after)
    items = found[:limit]
    next_cursor = None
    if len(found) > limit:
        last = items[-1]
        next_cursor = encode_cursor(TimelinePosition(start=last.start, meeting_id=last.meeting_id))
    return TimelinePage(items=items, next_cursor=next_cursor)
