"""Service functions for meetings: load what the rules need, apply them, store, publish.

Views and event handlers call these; nothing here knows about HTTP. Refusals are the
domain's :class:`~convene_meetings.domain.errors.MeetingsError` subclasses. Meetings are
created, loaded and changed through the kit's versioned aggregates
(:class:`convene_kit.aggregates.Aggregates`, ``deps.aggregates``); the changes themselves
are in :mod:`convene_meetings.changes`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from convene_kit.aggregates import KeyTaken
from convene_kit.idempotent_requests import IdempotencyKeys
from convene_kit.refusals import Refusal

from convene_meetings.deps import Deps
from convene_meetings.domain.errors import MeetingNotFound
from convene_meetings.domain.listing import (
    MeetingFilter,
    Position,
    cursor_after,
    position_of,
)
from convene_meetings.domain.meeting import MEETING_ID_PREFIX, Meeting
from convene_meetings.domain.scheduling import ScheduleMeeting, people_named, schedule_meeting

SCHEDULE_SCOPE = "meetings.schedule"
"""What an Idempotency-Key of POST /meetings is scoped to (with the account and the user)."""


@dataclass(frozen=True)
class Keyed:
    """A request's Idempotency-Key and what it asks for (its fingerprint's material)."""

    key: str
    request: Any


async def schedule(
    deps: Deps, *, account_id: str, organizer_user_id: str, command: ScheduleMeeting,
    keyed: Keyed | None = None,
) -> tuple[Meeting, bool]:
    """Schedule a meeting from a CRM record; stores it with MeetingScheduled and publishes.
    Returns the meeting and whether it is a replay: with an Idempotency-Key (``keyed``) the
    meeting's id derives from the key (:mod:`convene_kit.idempotent_requests`), so a repeat
    finds the meeting the first request stored, even one whose answer was lost in a crash,
    and nothing is stored or sent again."""
    meeting_id = deps.new_meeting_id() if keyed is None else MEETING_ID_PREFIX + (
        IdempotencyKeys.resource_id(SCHEDULE_SCOPE, account_id, organizer_user_id, keyed.key))
    try:
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
            meeting_id=meeting_id,
            connections=connections,
        )
    except Refusal:
        # a repeat whose first request was stored is answered with that meeting even when
        # the rules would refuse it now (its start has passed, the contact was deleted)
        if keyed is not None and (stored := await _stored_repeat(
                deps, account_id, organizer_user_id, keyed, meeting_id)) is not None:
            return stored, True
        raise
    if keyed is not None:
        admission = await deps.idempotency_keys.admit(
            scope=SCHEDULE_SCOPE, account_id=account_id, principal_id=organizer_user_id,
            key=keyed.key, request=keyed.request)
        if admission.repeated and (stored := await deps.aggregates.load(
                deps.meetings, account_id, meeting_id)) is not None:
            return stored, True
    try:
        return await deps.aggregates.create(deps.meetings, meeting,
                                            [meeting.scheduled_event(now)]), False
    except KeyTaken:
        if keyed is None:  # a random id taken: never happens, and is not ours to answer
            raise
        stored = await deps.aggregates.load(deps.meetings, account_id, meeting_id)
        if stored is None:  # the id is another account's: derived ids never collide
            raise
        return stored, True  # a repeat racing the first request lost the insert


async def _stored_repeat(deps: Deps, account_id: str, organizer_user_id: str, keyed: Keyed,
                         meeting_id: str) -> Meeting | None:
    """The meeting a keyed request stored before, checked to be the same request."""
    stored = await deps.aggregates.load(deps.meetings, account_id, meeting_id)
    if stored is not None:
        await deps.idempotency_keys.admit(
            scope=SCHEDULE_SCOPE, account_id=account_id, principal_id=organizer_user_id,
            key=keyed.key, request=keyed.request)
    return stored


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
