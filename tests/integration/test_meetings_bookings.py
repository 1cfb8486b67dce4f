"""Bookings through the real stack (R34, R35) and the switch to send no invitations:
what the visitor receives (the SMTP sink), what the topics and the contact's timeline show,
and a brand-new visitor made a contact by records before meetings books them."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import httpx
from convene_schemas.envelope import new_event_id
from convene_schemas.events.booking_pages import BookingRequested, Visitor
from convene_schemas.events.meetings import MeetingScheduled, MeetingUpdated
from support import wait_for
from support.calendars import connect_calendar
from support.mail import mails
from support.meetings import (
    MeetingsAccount,
    account_records,
    booked_records,
    call,
    consumed_by,
    contacts_with_email,
    known_without_calendar,
    meeting_body,
    meeting_events,
    post_when_known,
    publish_as,
)
from support.services import Stack
from support.skeleton import auth, wait_processed

BOOKINGS = "booking-pages.events.v1"


def booking(acc: MeetingsAccount, *, offline: bool) -> BookingRequested:
    start = (datetime.now(timezone.utc) + timedelta(days=6)).replace(microsecond=0)
    return BookingRequested(
        account_id=acc.id, version=0, occurred_at=datetime.now(timezone.utc),
        booking_id=f"bkg_{uuid.uuid4().hex[:12]}", page_id="pg_intro", slug="host-intro",
        owner_user_id=acc.uid("host"), contact_id=acc.contact["id"],
        visitor=Visitor(name="Peter", email=acc.contact["email"], time_zone="UTC"),
        title=f"Booked-{uuid.uuid4().hex[:8]}", start=start,
        end=start + timedelta(minutes=30), time_zone="Europe/Rome", page_offline=offline)


async def the_booked_meeting(stack: Stack, event: BookingRequested) -> tuple:
    found = await wait_for(lambda: booked_records(stack, event.account_id, event.booking_id),
                           f"the meeting of booking {event.booking_id}", timeout=60)
    return found[0]


async def on_timeline(stack: Stack, acc: MeetingsAccount, meeting_id: str,
                      contact_id: str | None = None) -> dict | None:
    admin = stack.token(acc.id, "usr_admin", roles="admin")
    async with httpx.AsyncClient(base_url=stack.url("records"), timeout=20) as client:
        response = await client.get(f"/contacts/{contact_id or acc.contact['id']}/timeline",
                                    headers=auth(admin))
    assert response.status_code == 200, response.text
    return next((e for e in response.json()["items"] if e["meeting_id"] == meeting_id), None)


async def test_an_online_booking_invites_the_visitor_once(stack: Stack) -> None:
    acc = MeetingsAccount(stack)
    await connect_calendar(stack, acc, acc.uid("host"))
    ready = await post_when_known(stack, acc.token("host"), meeting_body(
        acc, send_invitations=False), waiting_for=("no_connected_calendar", "unknown_host",
                                                    "unknown_attendee"))
    assert ready.status_code == 201, ready.text
    event = booking(acc, offline=False)
    event_id = new_event_id()
    await publish_as(stack, event, event_id)
    await publish_as(stack, event, event_id)  # redelivered as is
    partition, offset = await publish_as(stack, event, new_event_id())  # and as a new event
    record, scheduled = await the_booked_meeting(stack, event)
    assert isinstance(scheduled, MeetingScheduled)
    assert (scheduled.source, scheduled.send_invitations, scheduled.awaiting_calendar) == (
        "booking_page", True, False)
    assert [(a.id, a.invite) for a in scheduled.attendees] == [(acc.contact["id"], True)]
    visitor = acc.contact["email"]
    await wait_for(lambda: mails(event.title, visitor), "the visitor's invitation", timeout=60)
    await consumed_by(stack, "meetings", BOOKINGS, partition, offset)
    await wait_processed(stack, record.partition, record.offset, "handle the booked meeting",
                         timeout=60)
    assert len(await booked_records(stack, acc.id, event.booking_id)) == 1
    assert len(mails(event.title, visitor)) == 1


async def test_a_new_visitor_becomes_a_contact_invited_to_the_meeting(stack: Stack) -> None:
    """No contact has the visitor's address: records makes one (once, though the booking is
    delivered three times), meetings waits for it and books the meeting with it, the
    visitor gets one invitation and the meeting is on the new contact's timeline."""
    acc = MeetingsAccount(stack)
    await connect_calendar(stack, acc, acc.uid("host"))
    ready = await post_when_known(stack, acc.token("host"), meeting_body(
        acc, send_invitations=False), waiting_for=("no_connected_calendar", "unknown_host",
                                                    "unknown_attendee"))
    assert ready.status_code == 201, ready.text
    visitor = f"Nova.{uuid.uuid4().hex[:8]}@Visitor.example"  # as typed, capitals and all
    event = booking(acc, offline=False).model_copy(update={
        "contact_id": None,
        "visitor": Visitor(name="Nova Quinn", email=visitor, time_zone="UTC")})
    event_id = new_event_id()
    await publish_as(stack, event, event_id)
    await publish_as(stack, event, event_id)  # redelivered as is
    partition, offset = await publish_as(stack, event, new_event_id())  # and as a new event

    record, scheduled = await the_booked_meeting(stack, event)
    await consumed_by(stack, "records", BOOKINGS, partition, offset)
    [contact] = await contacts_with_email(stack, acc, visitor.lower())
    assert (contact["email"], contact["first_name"], contact["last_name"]) == (
        visitor, "Nova", "Quinn")
    assert [(a.kind, a.id, a.invite) for a in scheduled.attendees] == [
        ("contact", contact["id"], True)]
    assert [(r.kind, r.id) for r in scheduled.associations] == [("contact", contact["id"])]
    await wait_for(lambda: mails(event.title, visitor), "the new visitor's invitation",
                   timeout=60)
    await wait_for(lambda: on_timeline(stack, acc, scheduled.meeting_id, contact["id"]),
                   "the meeting on the new contact's timeline", timeout=60)
    await consumed_by(stack, "meetings", BOOKINGS, partition, offset)
    await wait_processed(stack, record.partition, record.offset, "handle the booked meeting",
                         timeout=60)
    assert len(await booked_records(stack, acc.id, event.booking_id)) == 1
    assert len(mails(event.title, visitor)) == 1
    assert len(await contacts_with_email(stack, acc, visitor)) == 1


async def test_an_offline_request_is_logged_then_confirmed_with_a_calendar(stack: Stack) -> None:
    acc = MeetingsAccount(stack)
    r16 = (await known_without_calendar(stack, acc)).json()["error"]
    event = booking(acc, offline=True)
    partition, offset = await publish_as(stack, event, new_event_id())
    record, scheduled = await the_booked_meeting(stack, event)
    meeting_id = scheduled.meeting_id
    assert (scheduled.awaiting_calendar, scheduled.send_invitations,
            scheduled.no_invitations_reason) == (True, False, "calendar_sync_off")
    assert [(a.invite, a.no_invite_reason) for a in scheduled.attendees] == [
        (False, "invitations_off")]
    await wait_for(lambda: on_timeline(stack, acc, meeting_id), "the request on the timeline",
                   timeout=60)
    await wait_processed(stack, record.partition, record.offset, "handle the request",
                         timeout=60)
    visitor = acc.contact["email"]
    assert mails(event.title, visitor) == []

    host = acc.token("host", team=False)
    waiting = await call(stack, "GET", f"/meetings?awaiting_calendar=true&host_user_id="
                         f"{acc.uid('host')}", host)
    assert [m["id"] for m in waiting.json()["items"]] == [meeting_id]
    assert "internal_note" not in waiting.json()["items"][0]
    refused = await call(stack, "POST", f"/meetings/{meeting_id}/confirm", host)
    assert refused.status_code == 422
    assert (refused.json()["error"]["code"], refused.json()["error"]["message"]) == (
        r16["code"], r16["message"])

    elsewhere = stack.token(f"acc_{uuid.uuid4().hex[:12]}", acc.uid("host"))
    hidden = await call(stack, "POST", f"/meetings/{meeting_id}/confirm", elsewhere)
    assert (hidden.status_code, hidden.json()["error"]["code"]) == (404, "meeting_not_found")
    await connect_calendar(stack, acc, acc.uid("host"))

    async def confirmed() -> httpx.Response | None:
        response = await call(stack, "POST", f"/meetings/{meeting_id}/confirm", host)
        if response.status_code == 422 and response.json()["error"]["code"] == r16["code"]:
            return None  # the connection has not reached meetings yet
        return response

    answer = await wait_for(confirmed, "meetings to accept the confirmation", timeout=60)
    assert answer.status_code == 200, answer.text
    _, updated = await meeting_events(stack, meeting_id, 2)
    assert isinstance(updated, MeetingUpdated) and updated.version == 1
    assert (updated.awaiting_calendar, updated.send_invitations) == (False, True)
    assert {"awaiting_calendar", "send_invitations", "attendees"} <= set(updated.changed_fields)
    await wait_for(lambda: mails(event.title, visitor), "the invitation after confirming",
                   timeout=60)

    again = await call(stack, "POST", f"/meetings/{meeting_id}/confirm", host)
    assert again.status_code == 422
    assert again.json()["error"]["code"] == "not_awaiting_calendar"
    records = await meeting_events(stack, meeting_id, 2)
    assert len(records) == 2  # the second confirmation published nothing
    last = (await booked_records(stack, acc.id, event.booking_id))[-1][0]
    await wait_processed(stack, last.partition, last.offset, "handle the confirmation",
                         timeout=60)
    assert len(mails(event.title, visitor)) == 1
    waiting = await call(stack, "GET", f"/meetings?awaiting_calendar=true&host_user_id="
                         f"{acc.uid('host')}", host)
    assert waiting.json()["items"] == []


async def test_the_switch_sends_nothing_until_turned_on(stack: Stack) -> None:
    acc = MeetingsAccount(stack)
    await connect_calendar(stack, acc, acc.uid("host"))
    title = f"Quiet-{uuid.uuid4().hex[:8]}"
    created = await post_when_known(stack, acc.token("host"), meeting_body(
        acc, title=title, send_invitations=False), waiting_for=(
        "no_connected_calendar", "unknown_host", "unknown_attendee"))
    assert created.status_code == 201, created.text
    meeting_id = created.json()["meeting"]["id"]
    assert created.json()["not_invited"] == [
        {"kind": "contact", "id": acc.contact["id"], "reason": "invitations_off"}]
    [scheduled] = await meeting_events(stack, meeting_id, 1)
    assert scheduled.no_invitations_reason == "disabled_by_user"
    [record] = [r for r, e in await account_records(stack, acc.id) if e.meeting_id == meeting_id]
    await wait_processed(stack, record.partition, record.offset, "handle the quiet meeting",
                         timeout=60)
    visitor = acc.contact["email"]
    assert mails(title, visitor) == []

    on = await call(stack, "PATCH", f"/meetings/{meeting_id}", acc.token("host"),
                    {"send_invitations": True})
    assert on.status_code == 200 and on.json()["send_invitations"] is True
    _, updated = await meeting_events(stack, meeting_id, 2)
    assert {"send_invitations", "attendees"} <= set(updated.changed_fields)
    await wait_for(lambda: mails(title, visitor), "the invitation once switched on", timeout=60)
    assert len(mails(title, visitor)) == 1
