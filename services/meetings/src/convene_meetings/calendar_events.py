"""Following the users' calendars (R26, R27): CalendarEventChanged -> synced meetings.

An event the user created, with a CRM contact among its attendees, becomes a meeting whose
id is derived from the calendar event (:func:`synced_meeting_id`), so a redelivered or
concurrent "created" cannot make a second one (the insert of that id is atomic). Later
changes and the deletion go through the revision log like every change.
"""

from __future__ import annotations

import logging
from datetime import datetime

from convene_kit.aggregates import KeyTaken
from convene_schemas.events.calendar_sync import CalendarEventChanged

from convene_meetings.changes import change
from convene_meetings.deps import Deps
from convene_meetings.domain.editing import Change
from convene_meetings.domain.meeting import Meeting
from convene_meetings.domain.synced import (
    follow_calendar,
    may_become_meeting,
    meeting_from_calendar,
    synced_meeting_id,
)

logger = logging.getLogger(__name__)


async def follow_calendar_event(deps: Deps, event: CalendarEventChanged) -> Meeting | None:
    """Create, update or cancel the meeting a calendar event stands for; None if none."""
    account_id = event.account_id
    meeting_id = synced_meeting_id(account_id, event.calendar_event_id)
    existing = await deps.meetings.get(account_id, meeting_id)
    contacts = ([] if event.change == "deleted"
                else await deps.read_models.contacts_by_email(account_id, event.attendee_emails))
    if existing is None:
        if event.change == "deleted":
            return None
        directory = await deps.read_models.directory(account_id, {event.user_id}, set())
        user = directory.active_user(event.user_id)
        connection = await deps.calendars.get(account_id, event.connection_id) or {}
        if user is None or not may_become_meeting(
                event, [user.email, connection.get("account_email", "")]):
            return None
        now = deps.clock()
        built = meeting_from_calendar(event, user=user, contacts=contacts, now=now)
        if built is None:
            return None
        meeting, scheduled = built
        try:
            return await deps.aggregates.create(deps.meetings, meeting, [scheduled])
        except KeyTaken:
            logger.info("synced meeting %s already exists; following the change", meeting_id)

    async def rule(meeting: Meeting, now: datetime) -> Change | None:
        return follow_calendar(meeting, event, contacts=contacts, now=now)

    return await change(deps, account_id=account_id, meeting_id=meeting_id, rule=rule)
