"""The walking skeleton, end to end, through the five services running as real processes on
the real Kafka, FerretDB and SMTP server:

records (account, host, contact) -> meetings (POST /meetings, outbox) -> MeetingScheduled ->
notifications (invitation with .ics to the SMTP server) and records (timeline entry).
"""

from __future__ import annotations

import uuid

import icalendar
from support import wait_for
from support.mail import mails
from support.services import Stack
from support.skeleton import Account, assert_cloudevents_headers, events_on, schedule, timeline_entry


async def test_a_meeting_flows_from_the_api_to_the_invitation_and_the_timeline(
    stack: Stack, account: Account
) -> None:
    title = f"Kickoff-{uuid.uuid4().hex[:8]}"
    note = f"INTERNAL-NOTE-{uuid.uuid4().hex}"
    created = await schedule(stack, account, title, note)
    meeting = created["meeting"]
    assert meeting["internal_note"] == note  # the host has the team role
    assert created["not_invited"] == []

    contact_email = account.contact["email"]
    invitations = await wait_for(lambda: mails(title, contact_email),
                                 "the invitation in the mail sink", timeout=30)
    entry = await wait_for(lambda: timeline_entry(stack, account, meeting["id"]),
                           "the meeting on the contact's timeline", timeout=30)
    assert entry["created_by_user_id"] == account.host["id"]
    assert entry["assigned_to_user_id"] == account.host["id"]
    assert entry["title"] == title

    assert len(mails(title, contact_email)) == 1, "the invitation arrived more than once"
    [mail] = invitations
    assert note.encode() not in mail.raw
    calendars = [icalendar.Calendar.from_ical(part) for part in mail.calendar_parts()]
    assert calendars, "no text/calendar part"
    for calendar in calendars:
        assert calendar["METHOD"] == "REQUEST"
        [event] = calendar.walk("VEVENT")
        assert str(event["UID"]) == meeting["ical_uid"]
        assert int(event["SEQUENCE"]) == 0
        assert event["DTSTART"].params["TZID"] == "Europe/Rome"
        assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/Rome"]
        assert str(event["ORGANIZER"]).lower() == f"mailto:{account.host['email']}".lower()
        attendees = event["ATTENDEE"] if isinstance(event["ATTENDEE"], list) else [event["ATTENDEE"]]
        assert [str(a).lower() for a in attendees] == [f"mailto:{contact_email}".lower()]

    [user_event] = await events_on(stack, "records.events.v1", account.host["id"])
    assert_cloudevents_headers(user_event, "com.convene.records.UserUpserted", account.id,
                               account.host["id"])
    [contact_event] = await events_on(stack, "records.events.v1", account.contact["id"])
    assert_cloudevents_headers(contact_event, "com.convene.records.ContactUpserted", account.id,
                               account.contact["id"])
    [scheduled] = await events_on(stack, "meetings.events.v1", meeting["id"])
    assert_cloudevents_headers(scheduled, "com.convene.meetings.MeetingScheduled", account.id,
                               meeting["id"])
    assert note.encode() not in scheduled.value

