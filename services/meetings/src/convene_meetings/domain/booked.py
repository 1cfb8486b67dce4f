"""Meetings booked on a scheduling page (R34): BookingRequested -> a meeting of the page owner.

The meeting id is derived from the booking id, so a redelivered booking cannot make two
meetings. The visitor attends as the contact ``contact_id`` names or, failing that, the
contact with the visitor's address (records makes one for every visitor, R34): the attendee
the invitation goes to, and the association that puts the meeting on the contact's
timeline. The co-hosts (``co_host_user_ids``: the team of a page where every member must be
free) attend as users. Until meetings knows that contact, the page's owner and every
co-host, the booking waits (:func:`waiting_for`; the caller holds it, ``bookings.py``): an
unknown owner or co-host is no refusal. A co-host known but deactivated is left out of the
meeting (:func:`co_hosts_attending`), which the owner and the visitor still have.
On an offline page (``page_offline``, R35), or when meetings knows no active connection of
the owner with calendar sync on, the booking is a *request*: the meeting is logged on the
records with ``awaiting_calendar``, no invitations (``calendar_sync_off``), and waits for the
owner to confirm it with a connected calendar (``editing.confirm_request``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from convene_schemas.events.booking_pages import BookingRequested
from convene_schemas.events.common import RecordRef
from convene_schemas.events.meetings import MeetingScheduled, booked_meeting_id, ical_uid_for

from convene_meetings.domain.calendars import CalendarConnection, calendar_policy
from convene_meetings.domain.directory import ContactProfile, Directory
from convene_meetings.domain.invitations import InvitationPolicy
from convene_meetings.domain.meeting import Meeting
from convene_meetings.domain.scheduling import PartyRef, resolve_attendees


def booking_policy(booking: BookingRequested,
                   connections: Sequence[CalendarConnection]) -> InvitationPolicy:
    """Invitations only on an online page of an owner with an active connection with
    calendar sync on; otherwise the booking awaits a calendar (R28, R35)."""
    if booking.page_offline:
        return InvitationPolicy(send=False, reason="calendar_sync_off")
    return calendar_policy(connections)


def booking_refusal(booking: BookingRequested, directory: Directory) -> str | None:
    """Why a booking makes no meeting: ``owner_unknown`` (not in the users read model: the
    caller holds it instead), ``owner_inactive`` (deactivated in records), ``too_short``
    (under a minute); None when it can be booked."""
    if booking.owner_user_id not in directory.users:
        return "owner_unknown"
    if directory.active_user(booking.owner_user_id) is None:
        return "owner_inactive"
    if (booking.end - booking.start).total_seconds() < 60:
        return "too_short"
    return None


def booking_users(booking: BookingRequested) -> set[str]:
    """The users a booking names: its owner and its co-hosts."""
    return {booking.owner_user_id, *booking.co_host_user_ids}


def waiting_for(booking: BookingRequested, directory: Directory, *,
                visitor_known: bool) -> list[str]:
    """What a booking waits for before it becomes a meeting: ``owner`` while the users read
    model lacks the page's owner, ``co_hosts`` while it lacks one of the co-hosts,
    ``contact`` while meetings knows no contact of the visitor (``visitor_known``). Nothing
    when it can be booked, or when it is refused whatever the others (a deactivated owner,
    under a minute: :func:`booking_refusal`)."""
    waiting = []
    if booking.owner_user_id not in directory.users:
        waiting.append("owner")
    elif booking_refusal(booking, directory) is not None:
        return []
    if any(user_id not in directory.users for user_id in booking.co_host_user_ids):
        waiting.append("co_hosts")
    if not visitor_known:
        waiting.append("contact")
    return waiting


def co_hosts_attending(booking: BookingRequested, directory: Directory) -> list[str]:
    """The co-hosts who attend, in the booking's order: the active ones (a co-host
    deactivated since the visitor booked cannot take part in a new meeting)."""
    return [user_id for user_id in booking.co_host_user_ids
            if user_id != booking.owner_user_id and directory.active_user(user_id) is not None]


def meeting_from_booking(booking: BookingRequested, *, directory: Directory,
                         contact: ContactProfile | None,
                         connections: Sequence[CalendarConnection], now: datetime
                         ) -> tuple[Meeting, MeetingScheduled] | None:
    """The booked meeting (version 0), or None when :func:`booking_refusal` refuses it."""
    host = directory.active_user(booking.owner_user_id)
    if host is None or booking_refusal(booking, directory) is not None:
        return None
    minutes = int((booking.end - booking.start).total_seconds() // 60)
    policy = booking_policy(booking, connections)
    refs = [PartyRef(kind="contact", id=contact.contact_id)] if contact else []
    refs += [PartyRef(kind="user", id=user_id) for user_id in co_hosts_attending(booking,
                                                                                 directory)]
    attendees = resolve_attendees(refs, directory, policy)
    meeting_id = booked_meeting_id(booking.account_id, booking.booking_id)
    meeting = Meeting(
        meeting_id=meeting_id, account_id=booking.account_id, ical_uid=ical_uid_for(meeting_id),
        version=0, title=booking.title, start=booking.start,
        end=booking.start + timedelta(minutes=minutes), time_zone=booking.time_zone,
        duration_minutes=minutes, host_user_id=host.user_id, host_email=host.email,
        host_name=host.name, organizer_user_id=host.user_id, attendees=attendees,
        location=booking.location,
        associations=[RecordRef(kind="contact", id=contact.contact_id)] if contact else [],
        source="booking_page", booking_id=booking.booking_id,
        send_invitations=policy.send, no_invitations_reason=policy.reason,
        awaiting_calendar=not policy.send,
        created_at=now, updated_at=now,
    )
    return meeting, meeting.scheduled_event(now)
