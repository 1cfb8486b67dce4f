"""Scheduling a meeting from a CRM record (R8-R13): the rules, as one pure function.

The service layer loads the :class:`~convene_meetings.domain.directory.Directory` for the ids
a :class:`ScheduleMeeting` names (:func:`people_named`), then calls :func:`schedule_meeting`
with the current time and a new id, and stores the :class:`Meeting` it returns.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TypeVar

from convene_schemas.events.common import MAX_REMINDERS, Location, RecordRef, ReminderOffset
from convene_schemas.events.meetings import Attendee, ical_uid_for
from pydantic import ValidationError

from convene_meetings.domain.calendars import CalendarConnection, host_invitation_policy
from convene_meetings.domain.directory import Directory
from convene_meetings.domain.errors import RuleViolation
from convene_meetings.domain.invitations import (
    InvitationPolicy,
    contact_no_invite_reason,
    invitation_policy_for_crm_meeting,
    with_user_switch,
)
from convene_meetings.domain.meeting import Meeting
from convene_meetings.domain.rules import (
    ensure_meeting_type,
    ensure_on_behalf_allowed,
    ensure_reminders_fire_in_time,
    ensure_sandbox_attendees,
)
from convene_meetings.domain.text import sanitise_attendee_description
from convene_meetings.domain.times import end_instant, ensure_not_past, start_instant


@dataclass(frozen=True)
class PartyRef:
    """An attendee as the request names it."""

    kind: Literal["contact", "user"]
    id: str


@dataclass(frozen=True)
class LocationChoice:
    """Where the user said the meeting takes place (R9); links are made later."""

    kind: Literal["phone", "in_person", "video", "custom"]
    value: str | None = None
    video_provider: Literal["zoom", "google_meet", "microsoft_teams"] | None = None


@dataclass(frozen=True)
class ScheduleMeeting:
    """The command: what the scheduling form sends (R8)."""

    title: str
    start: datetime  # naive: a wall time in time_zone; aware: an instant
    time_zone: str
    duration_minutes: int
    attendees: Sequence[PartyRef] = ()
    host_user_id: str | None = None  # None: the organizer hosts
    associations: Sequence[RecordRef] = ()
    attendee_description: str | None = None
    internal_note: str | None = None
    location: LocationChoice | None = None
    reminders: Sequence[ReminderOffset] | None = None  # None: the account's default (R10)
    reminders_include_description: bool = False
    meeting_type: str | None = None
    send_invitations: bool = True  # the user's switch; calendar sync off still wins (R28)


def people_named(command: ScheduleMeeting, organizer_user_id: str) -> tuple[set[str], set[str]]:
    """The user ids and contact ids the rules need to look up: (users, contacts)."""
    users = {command.host_user_id or organizer_user_id, organizer_user_id}
    users |= {a.id for a in command.attendees if a.kind == "user"}
    contacts = {a.id for a in command.attendees if a.kind == "contact"}
    contacts |= {r.id for r in command.associations if r.kind == "contact"}
    return users, contacts


def schedule_meeting(
    command: ScheduleMeeting,
    *,
    account_id: str,
    organizer_user_id: str,
    directory: Directory,
    now: datetime,
    meeting_id: str,
    policy: InvitationPolicy | None = None,
    connections: Sequence[CalendarConnection] | None = None,
) -> Meeting:
    """A new meeting (version 0) from ``command``, or :class:`RuleViolation` saying why not.

    ``connections`` are the host's calendar connections (R16, R17, R28); None (unit tests
    of other rules) means "invitations are sent".
    """
    if command.duration_minutes <= 0:
        raise RuleViolation("invalid_duration", "The duration must be at least one minute.")
    reminders = meeting_reminders(command.reminders, directory)
    start = start_instant(command.start, command.time_zone)
    ensure_not_past(start, now)
    host_id = command.host_user_id or organizer_user_id
    host = directory.active_user(host_id)
    if host is None:
        raise RuleViolation(
            "unknown_host", "The host is not an active user of this account.", {"ids": [host_id]}
        )
    if host.user_id != organizer_user_id:
        ensure_on_behalf_allowed(directory.active_user(organizer_user_id), host)
    ensure_meeting_type(command.meeting_type, directory)
    ensure_reminders_fire_in_time(reminders, start, now)
    refs = list(command.attendees)
    ensure_sandbox_attendees([(r.kind, r.id) for r in refs], directory)
    if host.user_id != organizer_user_id and ("user", host.user_id) not in {
            (r.kind, r.id) for r in refs}:
        refs.append(PartyRef(kind="user", id=host.user_id))  # R17: the host is invited too
    if policy is None and connections is not None:
        policy = host_invitation_policy(connections, on_behalf=host.user_id != organizer_user_id)
    policy = with_user_switch(policy or invitation_policy_for_crm_meeting(),
                              command.send_invitations)
    attendees = resolve_attendees(refs, directory, policy)
    associations = unique(command.associations, key=lambda r: (r.kind, r.id))
    refuse_unknown_associated_contacts(associations, directory)
    return Meeting(
        meeting_id=meeting_id,
        account_id=account_id,
        ical_uid=ical_uid_for(meeting_id),
        version=0,
        title=command.title.strip(),
        start=start,
        end=end_instant(start, command.duration_minutes),
        time_zone=command.time_zone,
        duration_minutes=command.duration_minutes,
        host_user_id=host.user_id,
        host_email=host.email,
        host_name=host.name,
        organizer_user_id=organizer_user_id,
        attendees=attendees,
        location=meeting_location(command.location),
        reminders=reminders,
        reminders_include_description=command.reminders_include_description,
        attendee_description=sanitise_attendee_description(command.attendee_description),
        internal_note=command.internal_note,
        meeting_type=command.meeting_type,
        associations=associations,
        source="crm",
        send_invitations=policy.send,
        no_invitations_reason=policy.reason,
        created_at=now,
        updated_at=now,
    )


def meeting_reminders(
    requested: Sequence[ReminderOffset] | None, directory: Directory
) -> list[ReminderOffset]:
    """At most three reminders (R10); none requested means the account's defaults if on.

    An offset given twice counts once: two identical reminders would be one email.
    """
    if requested is None:
        account = directory.account
        enabled = account is not None and account.reminders_enabled_by_default
        requested = list(account.default_reminders) if account and enabled else []
    if len(requested) > MAX_REMINDERS:
        raise RuleViolation(
            "too_many_reminders",
            f"A meeting has at most {MAX_REMINDERS} reminders.",
            {"max": MAX_REMINDERS, "given": len(requested)},
        )
    return unique(requested, key=lambda r: r.minutes())


def resolve_attendees(
    refs: Sequence[PartyRef], directory: Directory, policy: InvitationPolicy
) -> list[Attendee]:
    """The attendees with their addresses and invitation flags (R13), or
    ``unknown_attendee`` naming every id the account does not know."""
    refs = unique(refs, key=lambda r: (r.kind, r.id))
    unknown = [
        r for r in refs
        if (r.kind == "contact" and r.id not in directory.contacts)
        or (r.kind == "user" and directory.active_user(r.id) is None)
    ]
    if unknown:
        raise _unknown_attendees([("attendees", r.kind, r.id) for r in unknown])
    account = directory.account  # its defaults stand in for a contact's missing zone/language
    attendees = []
    for ref in refs:
        if ref.kind == "contact":
            contact = directory.contacts[ref.id]
            reason = contact_no_invite_reason(contact)
            email, name = contact.email or None, contact.name
            language = contact.language or (account.default_language if account else None)
            time_zone = contact.time_zone or (account.default_time_zone if account else None)
        else:
            user = directory.users[ref.id]
            reason = None
            email, name, language, time_zone = user.email, user.name, user.language, user.time_zone
        if not policy.send:
            reason = "invitations_off"
        attendees.append(
            Attendee(kind=ref.kind, id=ref.id, email=email, name=name, language=language,
                     time_zone=time_zone, invite=reason is None, no_invite_reason=reason)
        )
    return attendees


def meeting_location(choice: LocationChoice | None) -> Location | None:
    """The meeting's location; a video location waits for its join link (video-link contract)."""
    if choice is None:
        return None
    try:
        return Location(kind=choice.kind, value=choice.value, video_provider=choice.video_provider,
                        join_url=None, join_url_pending=choice.kind == "video")
    except ValidationError as exc:
        reason = "; ".join(err["msg"] for err in exc.errors())
        raise RuleViolation("invalid_location", f"The location is not valid: {reason}") from exc


def refuse_unknown_associated_contacts(
    associations: Sequence[RecordRef], directory: Directory
) -> None:
    unknown = [r for r in associations if r.kind == "contact" and r.id not in directory.contacts]
    if unknown:
        raise _unknown_attendees([("associations", r.kind, r.id) for r in unknown])


def _unknown_attendees(found: list[tuple[str, str, str]]) -> RuleViolation:
    return RuleViolation(
        "unknown_attendee",
        "Some attendees or associated contacts are not known in this account.",
        {
            "ids": [record_id for _, _, record_id in found],
            "unknown": [{"field": f, "kind": k, "id": i} for f, k, i in found],
        },
    )


T = TypeVar("T")


def unique(items: Iterable[T], key: Callable[[T], Hashable]) -> list[T]:
    """``items`` without repeats (by ``key``), first occurrence kept, order kept."""
    seen: set[Hashable] = set()
    kept: list[T] = []
    for item in items:
        k = key(item)
        if k not in seen:
            seen.add(k)
            kept.append(item)
    return kept
