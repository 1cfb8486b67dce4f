"""Whether a meeting sends invitations, and changing that later (R13, R28, R35).

Three things turn invitations off: the host's calendar (no sync: ``calendar_sync_off``;
synced in from a calendar: ``synced_from_calendar``), the user's switch
(``disabled_by_user``), and a request from an offline scheduling page waiting for a calendar
(``awaiting_calendar``, confirmed in :func:`convene_meetings.domain.editing.confirm_request`).
When the policy changes, every attendee's invitation flag is recomputed from the directory.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from convene_schemas.events.meetings import Attendee

from convene_meetings.domain.calendars import CalendarConnection, calendar_policy
from convene_meetings.domain.directory import Directory
from convene_meetings.domain.errors import RuleViolation
from convene_meetings.domain.invitations import InvitationPolicy
from convene_meetings.domain.meeting import Meeting
from convene_meetings.domain.scheduling import PartyRef, resolve_attendees


def current_policy(meeting: Meeting) -> InvitationPolicy:
    """The invitation policy the meeting has now."""
    return InvitationPolicy(meeting.send_invitations, meeting.no_invitations_reason)


def switched_policy(meeting: Meeting, send_requested: bool,
                    connections: Iterable[CalendarConnection]) -> InvitationPolicy:
    """The policy after the user sets the "send invitations" switch to ``send_requested``.

    - the switch as it is, or a meeting synced in from a calendar (the calendar invited its
      attendees): unchanged;
    - a request waiting for a calendar (R35): switching on is refused (``awaiting_calendar``),
      it is confirmed instead;
    - off: ``disabled_by_user``;
    - on: invitations only with an active connection with sync on, else the meeting stays
      logged without invitations, reason ``calendar_sync_off`` (R28 wins over the switch).
    """
    current = current_policy(meeting)
    if send_requested == meeting.send_invitations or (
            meeting.no_invitations_reason == "synced_from_calendar"):
        return current
    if meeting.awaiting_calendar:
        raise RuleViolation(
            "awaiting_calendar",
            "This meeting is a request from an offline scheduling page: confirm it "
            "(POST /meetings/{id}/confirm) once a calendar is connected to send invitations.",
            {"meeting_id": meeting.meeting_id},
        )
    if not send_requested:
        return InvitationPolicy(send=False, reason="disabled_by_user")
    return calendar_policy(connections)


def reinvited_attendees(attendees: Sequence[Attendee], directory: Directory,
                        policy: InvitationPolicy) -> list[Attendee]:
    """The same attendees, with addresses and invitation flags recomputed under ``policy``
    (R13: a contact is invited only with a valid address). An attendee the directory no
    longer knows (a contact deleted since, a deactivated user) is kept and not invited."""
    known = [PartyRef(kind=a.kind, id=a.id) for a in attendees
             if (a.kind == "contact" and a.id in directory.contacts)
             or (a.kind == "user" and directory.active_user(a.id) is not None)]
    fresh = {(a.kind, a.id): a for a in resolve_attendees(known, directory, policy)}
    return [fresh.get((a.kind, a.id)) or a.model_copy(
                update={"invite": False, "no_invite_reason": "invitations_off"})
            for a in attendees]


def attendee_ids(attendees: Iterable[Attendee]) -> tuple[set[str], set[str]]:
    """The user ids and contact ids among ``attendees`` (what the directory must hold)."""
    users = {a.id for a in attendees if a.kind == "user"}
    contacts = {a.id for a in attendees if a.kind == "contact"}
    return users, contacts
