"""Changing a scheduled meeting (R18-R20): edits, reschedules, cancellations, outcomes.

Each function takes the meeting as it is and returns ``(new meeting, event)`` with the
version (iCalendar SEQUENCE) raised by one, or None when nothing changes (a no-op publishes
nothing). Events are built from the snapshot fields of :class:`MeetingSnapshot`, so the
internal note never reaches them (R11). A change of the internal note alone raises the
version without an event: the contract has no field for it and notes never leave the team.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, cast

from convene_schemas.base import Event
from convene_schemas.events.calendar_sync import CalendarEventLinked
from convene_schemas.events.common import RecordRef, ReminderOffset
from convene_schemas.events.meetings import (
    CalendarEventRef,
    MeetingCanceled,
    MeetingField,
    MeetingOutcomeRecorded,
    MeetingRescheduled,
    MeetingSnapshot,
    MeetingUpdated,
)

from convene_meetings.domain.calendars import (
    CalendarConnection,
    no_connected_calendar,
    syncs_calendar,
)
from convene_meetings.domain.directory import Directory
from convene_meetings.domain.errors import NotAllowed, RuleViolation
from convene_meetings.domain.invitations import SEND_INVITATIONS
from convene_meetings.domain.meeting import TEAM_ROLE, Meeting
from convene_meetings.domain.rules import (
    ensure_meeting_type,
    ensure_outcome,
    ensure_reminders_fire_in_time,
    ensure_sandbox_attendees,
)
from convene_meetings.domain.scheduling import (
    LocationChoice,
    PartyRef,
    meeting_location,
    meeting_reminders,
    refuse_unknown_associated_contacts,
    resolve_attendees,
    unique,
)
from convene_meetings.domain.sending import (
    current_policy,
    reinvited_attendees,
    switched_policy,
)
from convene_meetings.domain.text import sanitise_attendee_description
from convene_meetings.domain.times import end_instant, ensure_not_past, start_instant

Change = tuple[Meeting, Event | None]
SWITCH: Final = "send_invitations"


@dataclass(frozen=True)
class MeetingEdit:
    """PATCH: every field left None stays as it is."""

    title: str | None = None
    attendees: Sequence[PartyRef] | None = None
    location: LocationChoice | None = None
    reminders: Sequence[ReminderOffset] | None = None
    reminders_include_description: bool | None = None
    attendee_description: str | None = None
    internal_note: str | None = None
    associations: Sequence[RecordRef] | None = None
    meeting_type: str | None = None
    send_invitations: bool | None = None  # the user's switch (see domain.sending)


def _snapshot(meeting: Meeting) -> dict[str, Any]:
    return meeting.snapshot_fields(MeetingSnapshot)


def _next(meeting: Meeting, now: datetime, values: dict[str, Any]) -> Meeting:
    return meeting.model_copy(update={**values, "version": meeting.version + 1,
                                      "updated_at": now})


def _ensure_open(meeting: Meeting) -> None:
    if meeting.status == "canceled":
        raise RuleViolation("meeting_canceled", "The meeting is canceled.")


def edit_meeting(meeting: Meeting, edit: MeetingEdit, *, directory: Directory,
                 now: datetime, user_id: str,
                 connections: Sequence[CalendarConnection] = ()) -> Change | None:
    """Apply a PATCH; MeetingUpdated with the fields that really changed, or None.

    ``connections`` (the host's) matter only when the invitation switch is turned on.
    ``directory`` must know the attendees when the switch is given (they are re-invited).
    """
    _ensure_open(meeting)
    values: dict[str, Any] = {}
    policy = current_policy(meeting)
    if edit.send_invitations is not None:
        policy = switched_policy(meeting, edit.send_invitations, connections)
        values["send_invitations"] = policy.send
        values["no_invitations_reason"] = policy.reason
        if policy != current_policy(meeting) and edit.attendees is None:
            values["attendees"] = reinvited_attendees(meeting.attendees, directory, policy)
    if edit.title is not None:
        values["title"] = edit.title.strip()
    if edit.attendee_description is not None:
        values["attendee_description"] = sanitise_attendee_description(edit.attendee_description)
    if edit.attendees is not None:
        refs = list(edit.attendees)
        ensure_sandbox_attendees([(r.kind, r.id) for r in refs], directory)
        if meeting.on_behalf and ("user", meeting.host_user_id) not in {(r.kind, r.id) for r in refs}:
            refs.append(PartyRef(kind="user", id=meeting.host_user_id))
        values["attendees"] = resolve_attendees(refs, directory, policy)
    if edit.location is not None:
        wanted = meeting_location(edit.location)
        old = meeting.location
        if not (old and wanted and (old.kind, old.value, old.video_provider)
                == (wanted.kind, wanted.value, wanted.video_provider)):
            values["location"] = wanted
    if edit.reminders is not None:
        values["reminders"] = meeting_reminders(edit.reminders, directory)
        ensure_reminders_fire_in_time(values["reminders"], meeting.start, now)
    if edit.reminders_include_description is not None:
        values["reminders_include_description"] = edit.reminders_include_description
    if edit.associations is not None:
        associations = unique(edit.associations, key=lambda r: (r.kind, r.id))
        refuse_unknown_associated_contacts(associations, directory)
        values["associations"] = associations
    if edit.meeting_type is not None:
        ensure_meeting_type(edit.meeting_type, directory)
        values["meeting_type"] = edit.meeting_type
    if edit.internal_note is not None:
        values["internal_note"] = edit.internal_note
    changed = [f for f, v in values.items() if getattr(meeting, f) != v]
    if not changed:
        return None
    new = _next(meeting, now, {f: values[f] for f in changed})
    # no_invitations_reason is part of the send_invitations switch in changed_fields
    public = cast(list[MeetingField], unique(
        (SWITCH if f == "no_invitations_reason" else f for f in changed
         if f != "internal_note"), key=lambda f: f))
    if not public:
        return new, None
    before = {(a.kind, a.id) for a in new.attendees}
    removed = [a for a in meeting.attendees if (a.kind, a.id) not in before]
    return new, MeetingUpdated(**_snapshot(new), occurred_at=now, changed_fields=public,
                               removed_attendees=removed, changed_by_user_id=user_id)


def reschedule_meeting(meeting: Meeting, *, start: datetime, time_zone: str,
                       duration_minutes: int, now: datetime, user_id: str) -> Change | None:
    """Move the meeting (R20): MeetingRescheduled, or MeetingUpdated for a zone-only change."""
    _ensure_open(meeting)
    if duration_minutes <= 0:
        raise RuleViolation("invalid_duration", "The duration must be at least one minute.")
    new_start = start_instant(start, time_zone)
    ensure_not_past(new_start, now)
    ensure_reminders_fire_in_time(meeting.reminders, new_start, now)
    values = {"start": new_start, "end": end_instant(new_start, duration_minutes),
              "time_zone": time_zone, "duration_minutes": duration_minutes}
    changed = [f for f, v in values.items() if getattr(meeting, f) != v]
    if not changed:
        return None
    new = _next(meeting, now, values)
    common = {**_snapshot(new), "occurred_at": now, "changed_fields": changed,
              "changed_by_user_id": user_id}
    if {"start", "end"} & set(changed):
        return new, MeetingRescheduled(**common, previous_start=meeting.start,
                                       previous_end=meeting.end)
    return new, MeetingUpdated(**common)


def cancel_meeting(meeting: Meeting, *, now: datetime, user_id: str) -> Change | None:
    """Cancel it (R14): MeetingCanceled; canceling a canceled meeting changes nothing."""
    if meeting.status == "canceled":
        return None
    new = _next(meeting, now, {"status": "canceled"})
    return new, MeetingCanceled(**_snapshot(new), occurred_at=now, reason="canceled_in_crm",
                                canceled_by_user_id=user_id)


def record_outcome(meeting: Meeting, outcome: str, *, directory: Directory, now: datetime,
                   user_id: str) -> Change | None:
    """Record the outcome (R19), one of the account's outcomes: MeetingOutcomeRecorded."""
    ensure_outcome(outcome, directory)
    if meeting.outcome == outcome:
        return None
    new = _next(meeting, now, {"outcome": outcome})
    return new, MeetingOutcomeRecorded(**_snapshot(new), occurred_at=now,
                                       previous_outcome=meeting.outcome,
                                       recorded_by_user_id=user_id)


def link_calendar_event(meeting: Meeting, link: CalendarEventLinked, *, now: datetime) -> Change | None:
    """The video-link contract (step 3): the host's provider event, and the join link.

    MeetingUpdated with ``[location.join_url, calendar_event]`` when a link was made,
    ``[location, calendar_event]`` when none could be (the pending flag is cleared), and
    ``[calendar_event]`` otherwise; a link already applied changes nothing (redelivery).
    """
    ref = CalendarEventRef(connection_id=link.connection_id, provider=link.provider,
                           calendar_id=link.calendar_id, provider_event_id=link.provider_event_id)
    values: dict[str, Any] = {}
    changed: list[MeetingField] = []
    location = meeting.location
    if location is not None and location.kind == "video" and location.join_url_pending:
        created = link.conference_status == "created"
        values["location"] = location.model_copy(update={
            "join_url": link.join_url if created else None, "join_url_pending": False})
        changed.append("location.join_url" if created else "location")
    if meeting.calendar_event != ref:
        values["calendar_event"] = ref
        changed.append("calendar_event")
    if not changed:
        return None
    new = _next(meeting, now, values)
    return new, MeetingUpdated(**_snapshot(new), occurred_at=now, changed_fields=changed)


def confirm_request(meeting: Meeting, *, connections: Sequence[CalendarConnection],
                    directory: Directory, now: datetime, user_id: str,
                    roles: Sequence[str]) -> Change:
    """The host (or the team) confirms a request from an offline scheduling page (R35).

    Refused: 403 ``confirm_not_allowed`` for anyone else, ``meeting_canceled``,
    ``not_awaiting_calendar`` (never awaited, or confirmed already), and R16's
    ``no_connected_calendar`` while the host has no active connection with calendar sync on.
    Confirmed: MeetingUpdated with ``awaiting_calendar`` false, invitations on and the
    attendees re-invited (R13), so notifications sends the invitations then.
    """
    if user_id != meeting.host_user_id and TEAM_ROLE not in roles:
        raise NotAllowed("confirm_not_allowed",
                         "Only the host or the meetings team can confirm this request.",
                         {"meeting_id": meeting.meeting_id})
    _ensure_open(meeting)
    if not meeting.awaiting_calendar:
        raise RuleViolation("not_awaiting_calendar",
                            "The meeting is not a request waiting for a calendar: there is "
                            "nothing to confirm.", {"meeting_id": meeting.meeting_id})
    if not syncs_calendar(connections):
        raise no_connected_calendar()
    attendees = reinvited_attendees(meeting.attendees, directory, SEND_INVITATIONS)
    changed: list[MeetingField] = ["awaiting_calendar", SWITCH]
    if attendees != meeting.attendees:
        changed.append("attendees")
    new = _next(meeting, now, {"awaiting_calendar": False, "send_invitations": True,
                               "no_invitations_reason": None, "attendees": attendees})
    return new, MeetingUpdated(**_snapshot(new), occurred_at=now, changed_fields=changed,
                               changed_by_user_id=user_id)
