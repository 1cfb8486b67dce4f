"""Service functions for meetings: load what the rules need, apply them, store, publish.

Views and (later) event handlers call these; nothing here knows about HTTP. Refusals are the
domain's :class:`~convene_meetings.domain.errors.MeetingsError` subclasses.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from convene_kit.outbox import outbox_entries

from convene_meetings.deps import Deps
from convene_meetings.domain.errors import MeetingNotFound
from convene_meetings.domain.meeting import Meeting
from convene_meetings.domain.scheduling import ScheduleMeeting, people_named, schedule_meeting

logger = logging.getLogger(__name__)


async def schedule(
    deps: Deps, *, account_id: str, organizer_user_id: str, command: ScheduleMeeting
) -> Meeting:
    """Schedule a meeting from a CRM record; stores it with MeetingScheduled and publishes."""
    user_ids, contact_ids = people_named(command, organizer_user_id)
    directory = await deps.read_models.directory(account_id, user_ids, contact_ids)
    now = deps.clock()
    meeting = schedule_meeting(
        command,
        account_id=account_id,
        organizer_user_id=organizer_user_id,
        directory=directory,
        now=now,
        meeting_id=deps.new_meeting_id(),
    )
    document = await deps.meetings.add(meeting, outbox_entries([meeting.scheduled_event(now)]))
    await publish_now(deps, document)
    return meeting


async def get_meeting(deps: Deps, *, account_id: str, meeting_id: str) -> Meeting:
    """The account's meeting, or :class:`MeetingNotFound` (also for another account's id)."""
    meeting = await deps.meetings.get(account_id, meeting_id)
    if meeting is None:
        raise MeetingNotFound(meeting_id)
    return meeting


async def publish_now(deps: Deps, document: Mapping[str, Any]) -> None:
    """Publish a just-written document's events; on failure the relay's sweep sends them.

    The meeting is saved either way, so a Kafka outage does not fail the request.
    """
    try:
        await deps.outbox.publish_pending(deps.meetings.collection, document)
    except Exception:
        logger.warning("publishing the events of %s failed; the outbox relay will retry",
                       document.get("_id"), exc_info=True)
