"""The scheduling rules (R8-R13), as pure functions: no store, no broker, no HTTP."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from convene_meetings.domain.directory import (
    AccountDefaults,
    ContactProfile,
    Directory,
    UserProfile,
)
from convene_meetings.domain.errors import RuleViolation
from convene_meetings.domain.invitations import InvitationPolicy, NotInvited
from convene_meetings.domain.scheduling import (
    LocationChoice,
    PartyRef,
    ScheduleMeeting,
    people_named,
    schedule_meeting,
)
from convene_schemas.events.common import RecordRef, ReminderOffset
from convene_schemas.events.meetings import MeetingScheduled

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
ALICE = UserProfile(user_id="usr_alice", email="alice@acme.example", name="Alice Moretti",
                    time_zone="Europe/Rome", language="it", seat="sales_professional")
BOB = UserProfile(user_id="usr_bob", email="bob@acme.example", name="Bob Rossi",
                  time_zone="Europe/Rome", language="it", seat="service_enterprise")
DANA = ContactProfile(contact_id="ct_dana", email="dana@globex.example", email_valid=True,
                      first_name="Dana", last_name="Lee", time_zone="America/New_York",
                      language="en")
NOMAIL = ContactProfile(contact_id="ct_nomail", email=None, email_valid=False,
                        email_invalid_reason="missing", first_name="Sam")
BADMAIL = ContactProfile(contact_id="ct_bad", email="sam at initech", email_valid=False,
                         email_invalid_reason="malformed", first_name="Sam", last_name="Ng")
DIRECTORY = Directory(
    users={u.user_id: u for u in (ALICE, BOB)},
    contacts={c.contact_id: c for c in (DANA, NOMAIL, BADMAIL)},
    account=AccountDefaults(default_time_zone="Europe/Rome", default_language="it"),
)
COMMAND = ScheduleMeeting(
    title="  Globex discovery call ",
    start=datetime(2026, 3, 10, 15, 0),
    time_zone="Europe/Rome",
    duration_minutes=30,
    attendees=[PartyRef("contact", "ct_dana")],
    associations=[RecordRef(kind="contact", id="ct_dana"), RecordRef(kind="deal", id="deal_1")],
    internal_note="Dana is price sensitive",
)


def schedule(command: ScheduleMeeting = COMMAND, directory: Directory = DIRECTORY, **kw):
    options = {"account_id": "acc_1", "organizer_user_id": "usr_alice", "directory": directory,
               "now": NOW, "meeting_id": "mtg_1"}
    options.update(kw)
    return schedule_meeting(command, **options)


def refused(code: str, command: ScheduleMeeting = COMMAND, **kw) -> RuleViolation:
    with pytest.raises(RuleViolation) as caught:
        schedule(command, **kw)
    assert caught.value.code == code
    return caught.value


def test_a_meeting_is_scheduled_with_utc_times_and_the_host_from_the_directory() -> None:
    meeting = schedule()
    assert meeting.title == "Globex discovery call"
    assert meeting.start == datetime(2026, 3, 10, 14, 0, tzinfo=timezone.utc)
    assert meeting.end == datetime(2026, 3, 10, 14, 30, tzinfo=timezone.utc)
    assert (meeting.host_user_id, meeting.host_email, meeting.host_name) == (
        "usr_alice", "alice@acme.example", "Alice Moretti")
    assert meeting.organizer_user_id == "usr_alice" and not meeting.on_behalf
    assert meeting.ical_uid == "mtg_1@meetings.convene" and meeting.version == 0
    assert meeting.send_invitations and meeting.outcome == "scheduled"


def test_a_meeting_for_another_user_is_on_behalf() -> None:
    meeting = schedule(replace(COMMAND, host_user_id="usr_bob"))
    assert meeting.host_user_id == "usr_bob" and meeting.host_email == "bob@acme.example"
    assert meeting.on_behalf
    # R17: the host is invited too; the organizer is not an attendee unless added.
    assert [(a.kind, a.id, a.invite) for a in meeting.attendees] == [
        ("contact", "ct_dana", True), ("user", "usr_bob", True)]


def test_contacts_without_a_valid_email_are_kept_but_not_invited() -> None:
    command = replace(COMMAND, attendees=[PartyRef("contact", "ct_dana"),
                                          PartyRef("contact", "ct_nomail"),
                                          PartyRef("contact", "ct_bad"),
                                          PartyRef("user", "usr_bob")])
    meeting = schedule(command)
    flags = {a.id: (a.invite, a.no_invite_reason, a.email) for a in meeting.attendees}
    assert flags == {
        "ct_dana": (True, None, "dana@globex.example"),
        "ct_nomail": (False, "email_missing", None),
        "ct_bad": (False, "email_invalid", "sam at initech"),
        "usr_bob": (True, None, "bob@acme.example"),
    }
    assert meeting.not_invited() == [NotInvited("contact", "ct_nomail", "email_missing"),
                                     NotInvited("contact", "ct_bad", "email_invalid")]


def test_attendees_carry_name_language_and_zone_with_account_fallbacks() -> None:
    command = replace(COMMAND, attendees=[PartyRef("contact", "ct_dana"),
                                          PartyRef("contact", "ct_nomail")])
    dana, sam = schedule(command).attendees
    assert (dana.name, dana.language, dana.time_zone) == ("Dana Lee", "en", "America/New_York")
    assert (sam.name, sam.language, sam.time_zone) == ("Sam", "it", "Europe/Rome")


def test_an_attendee_named_twice_is_invited_once() -> None:
    command = replace(COMMAND, attendees=[PartyRef("contact", "ct_dana")] * 2)
    assert [a.id for a in schedule(command).attendees] == ["ct_dana"]


def test_unknown_attendees_are_refused_naming_every_id() -> None:
    command = replace(COMMAND, attendees=[PartyRef("contact", "ct_dana"),
                                          PartyRef("contact", "ct_ghost"),
                                          PartyRef("user", "usr_ghost")])
    violation = refused("unknown_attendee", command)
    assert violation.details["ids"] == ["ct_ghost", "usr_ghost"]


def test_an_unknown_associated_contact_is_refused() -> None:
    command = replace(COMMAND, associations=[RecordRef(kind="contact", id="ct_gone"),
                                             RecordRef(kind="company", id="co_any")])
    violation = refused("unknown_attendee", command)
    assert violation.details["unknown"] == [{"field": "associations", "kind": "contact",
                                             "id": "ct_gone"}]


def test_an_unknown_or_deactivated_host_is_refused() -> None:
    assert refused("unknown_host", replace(COMMAND, host_user_id="usr_x")).details == {
        "ids": ["usr_x"]}
    inactive = replace(DIRECTORY, users={"usr_alice": replace(ALICE, active=False)})
    refused("unknown_host", directory=inactive)


def test_a_start_in_the_past_is_refused() -> None:
    refused("start_in_past", replace(COMMAND, start=datetime(2026, 3, 2, 9, 59)))  # 08:59Z


def test_a_wall_time_in_the_spring_gap_is_refused() -> None:
    refused("nonexistent_local_time", replace(COMMAND, start=datetime(2026, 3, 29, 2, 30)))


def test_more_than_three_reminders_are_refused() -> None:
    four = [ReminderOffset(amount=n, unit="hours") for n in (1, 2, 3, 4)]
    violation = refused("too_many_reminders", replace(COMMAND, reminders=four))
    assert violation.details == {"max": 3, "given": 4}
    assert len(schedule(replace(COMMAND, reminders=four[:3])).reminders) == 3


def test_without_reminders_the_account_defaults_apply_when_switched_on() -> None:
    defaults = (ReminderOffset(amount=1, unit="days"),)
    on = replace(DIRECTORY, account=AccountDefaults(reminders_enabled_by_default=True,
                                                    default_reminders=defaults))
    assert schedule(directory=on).reminders == list(defaults)
    assert schedule(replace(COMMAND, reminders=[]), directory=on).reminders == []
    assert schedule(directory=replace(DIRECTORY, account=None)).reminders == []


def test_the_same_offset_twice_is_one_reminder() -> None:
    reminders = [ReminderOffset(amount=1, unit="hours"), ReminderOffset(amount=60, unit="minutes")]
    assert schedule(replace(COMMAND, reminders=reminders)).reminders == reminders[:1]


def test_a_video_location_waits_for_its_link_and_a_bad_location_is_refused() -> None:
    video = schedule(replace(COMMAND, location=LocationChoice("video", None, "google_meet")))
    assert video.location.join_url_pending and video.location.join_url is None
    refused("invalid_location", replace(COMMAND, location=LocationChoice("phone")))


def test_the_attendee_description_is_sanitised() -> None:
    command = replace(COMMAND, attendee_description='<p>Hi<script>x()</script></p>')
    assert schedule(command).attendee_description == "<p>Hi</p>"


def test_without_invitations_nobody_is_invited() -> None:
    policy = InvitationPolicy(send=False, reason="calendar_sync_off")
    meeting = schedule(policy=policy)
    assert not meeting.send_invitations and meeting.no_invitations_reason == "calendar_sync_off"
    assert [(a.invite, a.no_invite_reason) for a in meeting.attendees] == [
        (False, "invitations_off")]
    assert meeting.scheduled_event(NOW).send_invitations is False


def test_the_scheduled_event_carries_the_snapshot_and_never_the_note() -> None:
    meeting = schedule()
    event = meeting.scheduled_event(NOW)
    assert isinstance(event, MeetingScheduled)
    assert (event.meeting_id, event.version, event.source, event.organizer_user_id) == (
        "mtg_1", 0, "crm", "usr_alice")
    assert event.start == meeting.start and event.duration_minutes == 30
    assert event.associations == meeting.associations
    assert "price sensitive" not in event.model_dump_json()
    assert not [name for name in MeetingScheduled.model_fields if "note" in name]


def test_people_named_lists_what_the_rules_look_up() -> None:
    command = replace(COMMAND, attendees=[PartyRef("user", "usr_bob")])
    assert people_named(command, "usr_alice") == ({"usr_alice", "usr_bob"}, {"ct_dana"})


def test_a_duration_of_zero_is_refused() -> None:
    refused("invalid_duration", replace(COMMAND, duration_minutes=0))


def test_scheduling_a_meeting_far_ahead_works() -> None:
    later = replace(COMMAND, start=datetime(2027, 3, 10, 15, 0))
    assert schedule(later).start - schedule().start == timedelta(days=365)
