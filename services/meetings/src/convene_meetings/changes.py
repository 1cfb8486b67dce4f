"""Service functions changing a meeting: edit, reschedule, cancel, record the outcome,
confirm a request waiting for a calendar.

Each hands a rule to :func:`change`, which runs it through the kit's versioned aggregates
(:meth:`convene_kit.aggregates.Aggregates.change`): the rule sees the latest meeting, the
next version is claimed (the rule is re-applied on a newer meeting after a lost claim, 409
``version_conflict`` after many), the head is written and the events leave in version order.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from convene_kit.aggregates import Revision
from convene_schemas.events.calendar_sync import CalendarEventLinked

from convene_meetings.deps import Deps
from convene_meetings.domain import editing
from convene_meetings.domain.calendars import CalendarConnection
from convene_meetings.domain.editing import Change, MeetingEdit
from convene_meetings.domain.errors import MeetingNotFound
from convene_meetings.domain.meeting import Meeting
from convene_meetings.domain.sending import attendee_ids

logger = logging.getLogger(__name__)

ChangeRule = Callable[[Meeting, datetime], Awaitable[Change | None]]
"""A domain rule: (the latest meeting, now) -> (the meeting at its next version, its event
or None), or None when nothing changes."""


async def change(deps: Deps, *, account_id: str, meeting_id: str, rule: ChangeRule) -> Meeting:
    """Store what ``rule`` makes of the latest meeting as its next version and publish its
    event (nothing for a no-op); :class:`MeetingNotFound` for no such meeting in the account,
    :class:`~convene_meetings.domain.errors.VersionConflict` after repeated lost claims."""
    async def revision(meeting: Meeting, now: datetime) -> Revision[Meeting] | None:
        changed = await rule(meeting, now)
        if changed is None:
            return None
        new, event = changed
        return new, [] if event is None else [event]

    return await deps.aggregates.change(deps.meetings, account_id, meeting_id, revision,
                                        missing=MeetingNotFound(meeting_id))


async def edit(deps: Deps, *, account_id: str, user_id: str, meeting_id: str,
               command: MeetingEdit) -> Meeting:
    """PATCH a meeting (MeetingUpdated with what changed; nothing for a no-op)."""
    users = {a.id for a in command.attendees or () if a.kind == "user"}
    contacts = {a.id for a in command.attendees or () if a.kind == "contact"}
    contacts |= {r.id for r in command.associations or () if r.kind == "contact"}

    async def rule(meeting: Meeting, now: datetime) -> Change | None:
        named_users, named_contacts = users, contacts
        connections: list[CalendarConnection] = []
        if command.send_invitations is not None:  # the switch re-invites the attendees
            present_users, present_contacts = attendee_ids(meeting.attendees)
            named_users, named_contacts = users | present_users, contacts | present_contacts
            connections = await deps.calendars.of_user(account_id, meeting.host_user_id)
        directory = await deps.read_models.directory(
            account_id, named_users | {meeting.host_user_id}, named_contacts)
        return editing.edit_meeting(meeting, command, directory=directory, now=now,
                                    user_id=user_id, connections=connections)

    return await change(deps, account_id=account_id, meeting_id=meeting_id, rule=rule)


async def confirm(deps: Deps, *, account_id: str, user_id: str, roles: Sequence[str],
                  meeting_id: str) -> Meeting:
    """Confirm a request from an offline scheduling page (R35): MeetingUpdated with
    ``awaiting_calendar`` false and invitations on, through the revision log like any
    change (a concurrent second confirmation finds it confirmed: ``not_awaiting_calendar``)."""
    async def rule(meeting: Meeting, now: datetime) -> Change | None:
        users, contacts = attendee_ids(meeting.attendees)
        directory = await deps.read_models.directory(account_id, users, contacts)
        connections = await deps.calendars.of_user(account_id, meeting.host_user_id)
        return editing.confirm_request(meeting, connections=connections, directory=directory,
                                       now=now, user_id=user_id, roles=roles)

    return await change(deps, account_id=account_id, meeting_id=meeting_id, rule=rule)


async def reschedule(deps: Deps, *, account_id: str, user_id: str, meeting_id: str,
                     start: datetime, time_zone: str, duration_minutes: int) -> Meeting:
    """Move a meeting (MeetingRescheduled)."""
    async def rule(meeting: Meeting, now: datetime) -> Change | None:
        return editing.reschedule_meeting(meeting, start=start, time_zone=time_zone,
                                          duration_minutes=duration_minutes, now=now,
                                          user_id=user_id)

    return await change(deps, account_id=account_id, meeting_id=meeting_id, rule=rule)


async def cancel(deps: Deps, *, account_id: str, user_id: str, meeting_id: str) -> Meeting:
    """Cancel a meeting (MeetingCanceled; canceling twice changes nothing)."""
    async def rule(meeting: Meeting, now: datetime) -> Change | None:
        return editing.cancel_meeting(meeting, now=now, user_id=user_id)

    return await change(deps, account_id=account_id, meeting_id=meeting_id, rule=rule)


async def record_outcome(deps: Deps, *, account_id: str, user_id: str, meeting_id: str,
                         outcome: str) -> Meeting:
    """Record the outcome, one of the account's (MeetingOutcomeRecorded)."""
    async def rule(meeting: Meeting, now: datetime) -> Change | None:
        directory = await deps.read_models.directory(account_id, set(), set())
        return editing.record_outcome(meeting, outcome, directory=directory, now=now,
                                      user_id=user_id)

    return await change(deps, account_id=account_id, meeting_id=meeting_id, rule=rule)


async def link_calendar_event(deps: Deps, link: CalendarEventLinked) -> Meeting | None:
    """CalendarEventLinked -> MeetingUpdated with the provider event and the join link.

    A link for a meeting meetings does not know in that account is logged and dropped.
    """
    async def rule(meeting: Meeting, now: datetime) -> Change | None:
        return editing.link_calendar_event(meeting, link, now=now)

    try:
        return await change(deps, account_id=link.account_id, meeting_id=link.meeting_id,
                            rule=rule)
    except MeetingNotFound:
        logger.warning("CalendarEventLinked for unknown meeting %s", link.meeting_id)
        return None
