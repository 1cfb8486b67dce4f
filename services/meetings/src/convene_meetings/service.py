"""Service functions for meetings: load what the rules need, apply them, store, publish.

Views and event handlers call these; nothing here knows about HTTP. Refusals are the
domain's :class:`~convene_meetings.domain.errors.MeetingsError` subclasses. Changes go
through the revision log (:mod:`convene_kit.revisions`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

from convene_kit.outbox import outbox_entries
from pymongo.asynchronous.collection import AsyncCollection

from convene_meetings.deps import Deps
from convene_meetings.domain.editing import Change
from convene_meetings.domain.errors import MeetingNotFound, VersionConflict
from convene_meetings.domain.listing import (
    MeetingFilter,
    Position,
    cursor_after,
    position_of,
)
from convene_meetings.domain.meeting import Meeting
from convene_meetings.domain.scheduling import ScheduleMeeting, people_named, schedule_meeting
from convene_meetings.store import meeting_document, meeting_from_document

logger = logging.getLogger(__name__)

CLAIM_ATTEMPTS = 8
"""How often a change is re-applied on a newer version before 409 ``version_conflict``."""

ChangeRule = Callable[[Meeting, datetime], Awaitable[Change | None]]


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
    document = await deps.meetings.add(meeting, outbox_entries([meeting.scheduled_event(now)]))
    await publish_now(deps, deps.meetings.collection, document)
    return meeting


async def load_meeting(deps: Deps, *, account_id: str, meeting_id: str) -> Meeting:
    """The account's meeting at its latest claimed revision, or :class:`MeetingNotFound`.

    A head left behind its revisions (a crash between claim and write, a late write) is
    rolled forward here.
    """
    meeting = await deps.meetings.get(account_id, meeting_id)
    if meeting is None:
        raise MeetingNotFound(meeting_id)
    while (ahead := await deps.revisions.state(account_id, meeting_id, meeting.version + 1)):
        meeting = meeting_from_document(ahead)
        await deps.meetings.write_head(meeting)
    return meeting


get_meeting = load_meeting


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


async def change(deps: Deps, *, account_id: str, meeting_id: str, rule: ChangeRule) -> Meeting:
    """Apply ``rule`` to the latest meeting and store the result as its next version.

    Losing the claim of that version to a concurrent change re-applies ``rule`` on the newer
    meeting; after :data:`CLAIM_ATTEMPTS` losses, :class:`VersionConflict`. A rule answering
    None (nothing changes) stores and publishes nothing.
    """
    for _ in range(CLAIM_ATTEMPTS):
        meeting = await load_meeting(deps, account_id=account_id, meeting_id=meeting_id)
        now = deps.clock()
        result = await rule(meeting, now)
        if result is None:
            return meeting
        new, event = result
        claimed = await deps.revisions.claim(meeting_document(new),
                                             outbox_entries([event] if event else []), now,
                                             head=deps.meetings.collection.name)
        if claimed is None:
            logger.info("version %s of %s was claimed concurrently; re-applying the change",
                        new.version, meeting_id)
            continue
        await deps.meetings.write_head(new)
        await publish_now(deps, deps.revisions.collection, claimed)
        return new
    raise VersionConflict(meeting_id)


async def publish_now(
    deps: Deps, collection: AsyncCollection[dict[str, Any]], document: Mapping[str, Any]
) -> None:
    """Publish a just-written document's events; on failure the relay's sweep sends them.

    The change is saved either way, so a Kafka outage does not fail the request.
    """
    try:
        await deps.outbox.publish_pending(collection, document)
    except Exception:
        logger.warning("publishing the events of %s failed; the outbox relay will retry",
                       document.get("_id"), exc_info=True)
