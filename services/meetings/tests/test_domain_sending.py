"""Invitations on and off as pure rules: the user's switch, offline-page requests awaiting a
calendar (R35) and their confirmation, the list cursor."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from convene_meetings.domain.booked import meeting_from_booking
from convene_meetings.domain.calendars import CalendarConnection, host_invitation_policy
from convene_meetings.domain.editing import MeetingEdit, confirm_request, edit_meeting
from convene_meetings.domain.errors import NotAllowed, RuleViolation
from convene_meetings.domain.listing import Position, cursor_after, position_of
from convene_meetings.domain.scheduling import PartyRef, schedule_meeting
from convene_schemas.events.booking_pages import BookingRequested, Visitor
from convene_schemas.events.meetings import MeetingUpdated

from services.meetings.tests.test_domain_scheduling import COMMAND, DIRECTORY, NOW

LATER = NOW + timedelta(hours=1)
SYNCING = CalendarConnection(connection_id="conn_1", user_id="usr_alice", connected=True,
                             sync_enabled=True, primary_calendar_id="primary")
SYNC_OFF = replace(SYNCING, sync_enabled=False)
LOST = replace(SYNCING, lost_calendar_ids=frozenset({"primary"}))
TWO_CONTACTS = replace(COMMAND, attendees=[PartyRef("contact", "ct_dana"),
                                           PartyRef("contact", "ct_bad")])


def schedule(command=COMMAND, connections=(SYNCING,)):
    return schedule_meeting(command, account_id="acc_1", organizer_user_id="usr_alice",
                            directory=DIRECTORY, now=NOW, meeting_id="mtg_1",
                            connections=list(connections))


def booked(page_offline: bool, connections=(SYNCING,), contact="ct_dana"):
    start = NOW + timedelta(days=2)
    booking = BookingRequested(
        account_id="acc_1", version=0, occurred_at=NOW, booking_id="bkg_1", page_id="pg_1",
        slug="alice", owner_user_id="usr_alice", title="Intro", start=start,
        end=start + timedelta(minutes=30), time_zone="Europe/Rome", page_offline=page_offline,
        visitor=Visitor(name="Dana Lee", email="dana@globex.example", time_zone="UTC"))
    meeting, _ = meeting_from_booking(booking, directory=DIRECTORY,
                                      contact=DIRECTORY.contacts.get(contact),
                                      connections=list(connections), now=NOW)
    return meeting


def confirm(meeting, connections=(SYNCING,), user_id="usr_alice", roles=()):
    return confirm_request(meeting, connections=list(connections), directory=DIRECTORY,
                           now=LATER, user_id=user_id, roles=roles)


# --- the user's switch (POST /meetings send_invitations, PATCH) -------------------------

def test_switch_off_logs_the_meeting_and_invites_nobody() -> None:
    meeting = schedule(replace(TWO_CONTACTS, send_invitations=False))
    assert (meeting.send_invitations, meeting.no_invitations_reason) == (False, "disabled_by_user")
    assert [(n.id, n.reason) for n in meeting.not_invited()] == [
        ("ct_dana", "invitations_off"), ("ct_bad", "invitations_off")]


def test_calendar_sync_off_wins_over_the_switch() -> None:
    meeting = schedule(replace(COMMAND, send_invitations=False), connections=[SYNC_OFF])
    assert meeting.no_invitations_reason == "calendar_sync_off"


def test_switching_on_later_invites_contacts_with_a_valid_address() -> None:
    meeting = schedule(replace(TWO_CONTACTS, send_invitations=False))
    new, event = edit_meeting(meeting, MeetingEdit(send_invitations=True), directory=DIRECTORY,
                              now=LATER, user_id="usr_alice", connections=[SYNCING])
    assert isinstance(event, MeetingUpdated) and event.version == 1
    assert event.changed_fields == ["send_invitations", "attendees"]
    assert (event.send_invitations, event.no_invitations_reason) == (True, None)
    assert [(a.id, a.invite, a.no_invite_reason) for a in event.attendees] == [
        ("ct_dana", True, None), ("ct_bad", False, "email_invalid")]


def test_switching_on_without_calendar_sync_stays_logged_as_sync_off() -> None:
    meeting = schedule(replace(COMMAND, send_invitations=False))
    _, event = edit_meeting(meeting, MeetingEdit(send_invitations=True), directory=DIRECTORY,
                            now=LATER, user_id="usr_alice", connections=[SYNC_OFF])
    assert (event.send_invitations, event.no_invitations_reason) == (False, "calendar_sync_off")
    assert event.changed_fields == ["send_invitations"]


def test_switching_off_then_as_it_is() -> None:
    meeting = schedule()
    new, event = edit_meeting(meeting, MeetingEdit(send_invitations=False),
                              directory=DIRECTORY, now=LATER, user_id="usr_alice")
    assert (event.no_invitations_reason, event.changed_fields) == (
        "disabled_by_user", ["send_invitations", "attendees"])
    assert not any(a.invite for a in event.attendees)
    assert edit_meeting(new, MeetingEdit(send_invitations=False), directory=DIRECTORY,
                        now=LATER, user_id="usr_alice") is None


# --- offline scheduling pages (R35) -------------------------------------------------------

@pytest.mark.parametrize(("offline", "connections"), [
    (True, [SYNCING]), (False, []), (False, [SYNC_OFF]), (False, [LOST])])
def test_a_booking_without_a_syncing_calendar_awaits_one(offline, connections) -> None:
    meeting = booked(offline, connections)
    assert meeting.awaiting_calendar and not meeting.send_invitations
    assert meeting.no_invitations_reason == "calendar_sync_off"
    assert [(a.id, a.no_invite_reason) for a in meeting.attendees] == [
        ("ct_dana", "invitations_off")]
    meeting.scheduled_event(NOW)  # valid under the contract


def test_an_online_booking_invites_the_visitor() -> None:
    meeting = booked(False)
    assert not meeting.awaiting_calendar and meeting.send_invitations
    assert [a.invite for a in meeting.attendees] == [True]


def test_confirming_invites_the_visitor_and_ends_the_wait() -> None:
    new, event = confirm(booked(True))
    assert isinstance(event, MeetingUpdated) and event.version == new.version == 1
    assert event.changed_fields == ["awaiting_calendar", "send_invitations", "attendees"]
    assert (event.awaiting_calendar, event.send_invitations) == (False, True)
    assert [(a.id, a.invite) for a in event.attendees] == [("ct_dana", True)]
    assert event.changed_by_user_id == "usr_alice"


@pytest.mark.parametrize("connections", [[], [SYNC_OFF], [LOST]])
def test_confirming_without_a_syncing_calendar_is_r16s_refusal(connections) -> None:
    with pytest.raises(RuleViolation) as r16:
        host_invitation_policy([], on_behalf=False)
    with pytest.raises(RuleViolation) as refused:
        confirm(booked(True), connections)
    assert (refused.value.code, refused.value.message) == (r16.value.code, r16.value.message)


def test_confirming_twice_or_a_canceled_request_is_refused() -> None:
    confirmed, _ = confirm(booked(True))
    with pytest.raises(RuleViolation, match="nothing to confirm") as again:
        confirm(confirmed)
    assert again.value.code == "not_awaiting_calendar"
    canceled = booked(True).model_copy(update={"status": "canceled"})
    with pytest.raises(RuleViolation) as refused:
        confirm(canceled)
    assert refused.value.code == "meeting_canceled"


def test_only_the_host_or_the_team_confirm() -> None:
    with pytest.raises(NotAllowed):
        confirm(booked(True), user_id="usr_bob")
    _, event = confirm(booked(True), user_id="usr_bob", roles=("team",))
    assert event.changed_by_user_id == "usr_bob"


def test_a_request_is_confirmed_not_switched_on() -> None:
    with pytest.raises(RuleViolation) as refused:
        edit_meeting(booked(True), MeetingEdit(send_invitations=True), directory=DIRECTORY,
                     now=LATER, user_id="usr_alice", connections=[SYNCING])
    assert refused.value.code == "awaiting_calendar"


# --- the list cursor ----------------------------------------------------------------------

def test_a_cursor_names_the_last_position_and_garbage_is_refused() -> None:
    position = Position(start=NOW, meeting_id="mtg_9")
    assert position_of(cursor_after(position)) == position
    for garbage in ("nope", cursor_after(position)[:-3], "e30"):
        with pytest.raises(RuleViolation) as refused:
            position_of(garbage)
        assert refused.value.code == "invalid_cursor"
