"""meetings following calendar-sync and booking-pages through Kafka: calendar events become
meetings (R26), ours never do (R27), CalendarEventLinked brings the video link (video-link
contract), a BookingRequested becomes a meeting (R34)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from convene_kit.testing import read_records
from convene_schemas.envelope import from_kafka_message
from convene_schemas.events.booking_pages import BookingRequested, Visitor
from convene_schemas.events.calendar_sync import CalendarEventChanged, CalendarEventLinked
from convene_schemas.events.meetings import MeetingUpdated
from support import endpoint, wait_for
from support.calendars import connect_calendar, publish_calendar_event
from support.meetings import (
    MeetingsAccount,
    meeting_body,
    meeting_events,
    post_when_known,
    publish_event,
)
from support.services import Stack


async def synced_meetings(stack: Stack, account_id: str) -> list:
    records = await read_records(endpoint("CONVENE_KAFKA_BOOTSTRAP"),
                                 stack.topic("meetings.events.v1"), expected=1)
    events = [from_kafka_message(r.value, r.headers, r.key).event for r in records]
    return [e for e in events if e.account_id == account_id and e.source == "calendar_sync"]


async def test_a_calendar_event_with_a_contact_becomes_a_meeting_and_ours_do_not(
        stack: Stack) -> None:
    acc = MeetingsAccount(stack)
    connected = await connect_calendar(stack, acc, acc.uid("host"))
    # wait until meetings knows the host, the contact and the connection
    ready = await post_when_known(stack, acc.token("host"), meeting_body(acc),
                                  waiting_for=("no_connected_calendar", "unknown_host",
                                               "unknown_attendee"))
    assert ready.status_code == 201, ready.text
    start = (datetime.now(timezone.utc) + timedelta(days=5)).replace(microsecond=0)

    def changed(title: str, **fields) -> CalendarEventChanged:
        return CalendarEventChanged(
            account_id=acc.id, version=0, occurred_at=datetime.now(timezone.utc),
            calendar_event_id=f"cev_{uuid.uuid4().hex[:12]}", connection_id=connected.connection_id,
            user_id=acc.uid("host"), provider="google", calendar_id="primary",
            provider_event_id=uuid.uuid4().hex, change="created", title=title, start=start,
            end=start + timedelta(minutes=30), organizer_email=acc.users["host"]["email"],
            attendee_emails=[acc.contact["email"]], **fields)

    ours = changed("Ours", created_by_integration=True,
                   created_by_convene_meeting_id=ready.json()["meeting"]["id"])
    theirs = changed("From the calendar")
    await publish_calendar_event(stack, ours)
    await publish_calendar_event(stack, theirs)
    [synced] = await wait_for(lambda: synced_meetings(stack, acc.id), "the synced meeting",
                              timeout=40)
    assert synced.title == "From the calendar" and synced.send_invitations is False
    assert [a.id for a in synced.attendees] == [acc.contact["id"]]


async def test_calendar_event_linked_publishes_the_join_url(stack: Stack) -> None:
    acc = MeetingsAccount(stack)
    connected = await connect_calendar(stack, acc, acc.uid("host"))
    body = meeting_body(acc, location={"kind": "video", "video_provider": "zoom"})
    created = await post_when_known(stack, acc.token("host"), body,
                                    waiting_for=("no_connected_calendar", "unknown_host",
                                                 "unknown_attendee"))
    assert created.status_code == 201, created.text
    meeting = created.json()["meeting"]
    assert meeting["location"]["join_url_pending"] is True
    await publish_calendar_event(stack, CalendarEventLinked(
        account_id=acc.id, version=0, occurred_at=datetime.now(timezone.utc),
        meeting_id=meeting["id"], meeting_version=0, connection_id=connected.connection_id,
        provider="google", calendar_id="primary", provider_event_id="evt_zoom",
        conference_status="created", conference_provider="zoom",
        join_url="https://zoom.us/j/123456789"))
    scheduled, updated = await meeting_events(stack, meeting["id"], 2)
    assert isinstance(updated, MeetingUpdated) and updated.version == 1
    assert updated.location.join_url == "https://zoom.us/j/123456789"
    assert updated.changed_fields == ["location.join_url", "calendar_event"]


async def test_a_booking_becomes_a_meeting(stack: Stack) -> None:
    acc = MeetingsAccount(stack)
    await connect_calendar(stack, acc, acc.uid("host"))
    ready = await post_when_known(stack, acc.token("host"), meeting_body(acc),
                                  waiting_for=("no_connected_calendar", "unknown_host",
                                               "unknown_attendee"))
    assert ready.status_code == 201, ready.text
    start = (datetime.now(timezone.utc) + timedelta(days=6)).replace(microsecond=0)
    booking_id = f"bkg_{uuid.uuid4().hex[:12]}"
    await publish_event(stack, BookingRequested(
        account_id=acc.id, version=0, occurred_at=datetime.now(timezone.utc),
        booking_id=booking_id, page_id="pg_1", slug="host", owner_user_id=acc.uid("host"),
        visitor=Visitor(name="Peter", email=acc.contact["email"], time_zone="UTC"),
        contact_id=acc.contact["id"], title="Booked intro", start=start,
        end=start + timedelta(minutes=30), time_zone="Europe/Rome", page_offline=False))

    async def booked() -> list:
        records = await read_records(endpoint("CONVENE_KAFKA_BOOTSTRAP"),
                                     stack.topic("meetings.events.v1"), expected=1)
        events = [from_kafka_message(r.value, r.headers, r.key).event for r in records]
        return [e for e in events if e.account_id == acc.id and e.booking_id == booking_id]

    [meeting] = await wait_for(booked, "the booked meeting", timeout=40)
    assert (meeting.source, meeting.host_user_id, meeting.send_invitations) == (
        "booking_page", acc.uid("host"), True)
    assert [a.id for a in meeting.attendees] == [acc.contact["id"]]
