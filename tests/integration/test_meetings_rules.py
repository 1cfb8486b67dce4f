"""meetings' scheduling refusals and invitation policy through the running service, with
calendar-sync's events published from the contract (R2, R8, R10, R16, R17, R28)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from support.calendars import connect_calendar
from support.meetings import MeetingsAccount, meeting_body, meeting_events, post_when_known
from support.services import Stack


@pytest.fixture(scope="module")
def acc(stack: Stack) -> MeetingsAccount:
    return MeetingsAccount(stack)


def code(response) -> str:
    assert response.status_code == 422, response.text
    return response.json()["error"]["code"]


async def test_r16_a_host_without_a_connected_calendar_is_told_to_connect_one(
        stack: Stack, acc: MeetingsAccount) -> None:
    refused = await post_when_known(stack, acc.token("host"), meeting_body(acc))
    assert code(refused) == "no_connected_calendar"
    assert "connect a calendar" in refused.json()["error"]["message"]
    await connect_calendar(stack, acc, acc.uid("host"))
    created = await post_when_known(stack, acc.token("host"), meeting_body(acc),
                                    waiting_for=("no_connected_calendar",))
    assert created.status_code == 201, created.text
    assert created.json()["meeting"]["send_invitations"] is True


async def test_r28_sync_off_logs_the_meeting_without_invitations(
        stack: Stack, acc: MeetingsAccount) -> None:
    await connect_calendar(stack, acc, acc.uid("pro"), sync_enabled=False)
    body = meeting_body(acc, attendees=[{"kind": "contact", "id": acc.contact["id"]},
                                        {"kind": "contact", "id": acc.nomail["id"]}])
    created = await post_when_known(stack, acc.token("pro"), body,
                                    waiting_for=("no_connected_calendar", "unknown_host"))
    assert created.status_code == 201, created.text
    meeting = created.json()["meeting"]
    assert (meeting["send_invitations"], meeting["no_invitations_reason"]) == (
        False, "calendar_sync_off")
    assert {n["id"] for n in created.json()["not_invited"]} == {acc.contact["id"],
                                                                acc.nomail["id"]}
    [event] = await meeting_events(stack, meeting["id"], 1)
    assert (event.send_invitations, event.no_invitations_reason) == (False, "calendar_sync_off")


async def test_r17_on_behalf_refusals_each_have_their_code(stack: Stack,
                                                           acc: MeetingsAccount) -> None:
    await connect_calendar(stack, acc, acc.uid("host"))
    # a free-seat organizer cannot schedule for the host
    free = await post_when_known(stack, acc.token("free"),
                                 meeting_body(acc, host_user_id=acc.uid("host")))
    assert code(free) == "organizer_seat_required"
    # nobody schedules for a free-seat host
    for_free = await post_when_known(stack, acc.token("host"),
                                     meeting_body(acc, host_user_id=acc.uid("free")))
    assert code(for_free) == "host_seat_required"


async def test_r17_on_behalf_invites_the_host_and_not_the_organizer(
        stack: Stack, acc: MeetingsAccount) -> None:
    await connect_calendar(stack, acc, acc.uid("host"))
    created = await post_when_known(stack, acc.token("pro"),
                                    meeting_body(acc, host_user_id=acc.uid("host")),
                                    waiting_for=("no_connected_calendar", "unknown_host"))
    assert created.status_code == 201, created.text
    meeting = created.json()["meeting"]
    assert meeting["on_behalf"] and meeting["organizer_user_id"] == acc.uid("pro")
    people = {(a["kind"], a["id"]): a["invite"] for a in meeting["attendees"]}
    assert people == {("contact", acc.contact["id"]): True, ("user", acc.uid("host")): True}


async def test_r17_on_behalf_needs_the_hosts_sync_on(stack: Stack) -> None:
    other = MeetingsAccount(stack)
    await connect_calendar(stack, other, other.uid("pro"), sync_enabled=False)
    refused = await post_when_known(stack, other.token("host"),
                                    meeting_body(other, host_user_id=other.uid("pro")),
                                    waiting_for=("no_connected_calendar", "unknown_host",
                                                 "unknown_attendee"))
    assert code(refused) == "host_calendar_sync_off"


async def test_scheduling_refusals_have_their_documented_codes(stack: Stack,
                                                               acc: MeetingsAccount) -> None:
    await connect_calendar(stack, acc, acc.uid("host"))
    token = acc.token("host")
    ready = await post_when_known(stack, token, meeting_body(acc),
                                  waiting_for=("no_connected_calendar",) + ("unknown_host",))
    assert ready.status_code == 201, ready.text
    four = [{"amount": n, "unit": "minutes"} for n in (5, 10, 15, 20)]
    past = (datetime.now(timezone.utc) - timedelta(days=1)).isoformat()
    cases = {
        "too_many_reminders": meeting_body(acc, reminders=four),
        "reminder_in_past": meeting_body(acc, reminders=[{"amount": 10, "unit": "weeks"}]),
        "start_in_past": meeting_body(acc, start=past),
        "meeting_types_disabled": meeting_body(acc, meeting_type="Demo"),
        "unknown_attendee": meeting_body(acc, attendees=[{"kind": "contact", "id": "ct_nobody"}]),
    }
    for expected, body in cases.items():
        response = await post_when_known(stack, token, body, waiting_for=())
        assert code(response) == expected, (expected, response.text)
    zero = await post_when_known(stack, token, meeting_body(acc, duration_minutes=0),
                                 waiting_for=())
    assert code(zero) == "validation_error"


async def test_r2_a_sandbox_account_books_only_its_own_users(stack: Stack) -> None:
    sandbox = MeetingsAccount(stack, sandbox=True)
    await connect_calendar(stack, sandbox, sandbox.uid("host"))
    refused = await post_when_known(stack, sandbox.token("host"), meeting_body(sandbox),
                                    waiting_for=("no_connected_calendar", "unknown_host",
                                                 "unknown_attendee"))
    assert code(refused) == "sandbox_attendee_not_user"
    users_only = meeting_body(sandbox, attendees=[{"kind": "user", "id": sandbox.uid("pro")}])
    created = await post_when_known(stack, sandbox.token("host"), users_only,
                                    waiting_for=("unknown_attendee",))
    assert created.status_code == 201, created.text
