"""Service functions for meetings: load what the rules need, apply them, store, publish.

Views and event handlers call these; nothing here knows about HTTP. Refusals are the
domain's :class:`~convene_meetings.domain.errors.MeetingsError` subclasses. Meetings are
created, loaded and changed through the kit's versioned aggregates
(:class:`convene_kit.aggregates.Aggregates`, ``deps.aggregates``); the changes themselves
are in :mod:`convene_meetings.changes`.
"""

from __future__ import annotations

from convene_meetings.deps import Deps
from convene_meetings.domain.errors import MeetingNotFound
from convene_meetings.domain.listing import (
    MeetingFilter,
    Position,
    cursor_after,
    position_of,
)
from convene_meetings.domain.meeting import Meeting
from convene_meetings.domain.scheduling import ScheduleMeeting, people_named, schedule_meeting


async def schedule(
    deps: Deps, *, account_id: str, organizer_user_id: str, command: ScheduleMeeting
) -> Meeting:
    """Schedule a meeting from a CRM record; stores it with MeetingScheduled and publishes."""
    user_ids, contact_ids = people_named(command, organizer_user_id)
    directory = await deps.read_models.directory(account_id, user_ids, contact_ids)
    host_id = command.host_user_id or organizer_user_id
    connections = await deps.calendars.of_user(account_id, host_id)
    now = deps.clock()
    meeting = schedule_meeting(
        command,
        account_id=account_id,
        organizer_user_id=organizer_user_id,
        directory=directory,
        now=now,
        meeting_id=deps.new_meeting_id(),
        connections=connections,
    )
    return await deps.aggregates.create(deps.meetings, meeting, [meeting.scheduled_event(now)])


async def get_meeting(deps: Deps, *, account_id: str, meeting_id: str) -> Meeting:
    """The account's meeting at its latest claimed revision (a head a crash left behind is
    rolled forward), or :class:`MeetingNotFound`."""
    meeting = await deps.aggregates.load(deps.meetings, account_id, meeting_id)
    if meeting is None:
        raise MeetingNotFound(meeting_id)
    return meeting


async def list_meetings(deps: Deps, *, account_id: str, wanted: MeetingFilter,
                        cursor: str | None, limit: int) -> tuple[list[Meeting], str | None]:
    """One page of the account's meetings matching ``wanted`` (by start, then id) and the
    cursor of the next page (None on the last). Reads the heads: a head a crash left behind
    its revisions shows its previous version until the next load rolls it forward."""
    after = position_of(cursor) if cursor else None
    found = await deps.meetings.page(account_id, wanted, after, limit + 1)
    page = found[:limit]
    if len(found) <= limit:
        return page, None
    return page, cursor_after(Position(start=page[-1].start, meeting_id=page[-1].meeting_id))
