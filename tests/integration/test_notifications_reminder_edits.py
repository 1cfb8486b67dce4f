"""A reminder is not lost to an edit that does not move the meeting (R43), through real
Kafka, FerretDB and the SMTP sink.

The ordering of the bug, made deterministic: the meeting's 1-minute reminder is due a few
seconds ahead; a title change (version 1) that happened right after the due time is
processed first (so version 1 plans no timer: its due time has passed, and version 0's
timer is replaced), THEN the ``ReminderDue`` of version 0 arrives, exactly as the
scheduler publishes it when it fired before the edit. The reminder goes out once, with
the new title.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime, timedelta, timezone

from convene_schemas.events.common import ReminderOffset
from convene_schemas.events.meetings import MeetingScheduled
from convene_schemas.events.notifications import Recipient, ReminderDue, reminder_id_for
from support import wait_for
from support.barriers import reminders_settled
from support.mail import StoredMail, mails
from support.notifications import (
    MEETINGS_TOPIC,
    attendee,
    email_entries,
    events_about,
    new_contact,
    notifications_committed_past,
    publish_event,
    publish_on_its_topic,
    scheduled,
    updated,
)
from support.services import Stack
from support.skeleton import Account

LEAD_S = 20  # seconds from now to the reminder's due time: room to process the edit first


def reminders_to(title: str, address: str) -> list[StoredMail]:
    """Reminder emails (no .ics) stored for ``address`` that mention ``title``."""
    return [m for m in mails(title, address)
            if not m.calendar_parts() and str(m.message["Subject"]).startswith("Reminder:")]


def due_of(meeting: MeetingScheduled, contact: dict) -> ReminderDue:
    """The ReminderDue the scheduler publishes when version 0's timer fires."""
    (offset,) = meeting.reminders
    person = meeting.attendees[0]
    return ReminderDue(
        account_id=meeting.account_id, version=0, occurred_at=datetime.now(timezone.utc),
        reminder_id=reminder_id_for(meeting.meeting_id, "contact", contact["id"],
                                    offset.minutes()),
        meeting_id=meeting.meeting_id, meeting_version=0,
        recipient=Recipient(kind="contact", id=contact["id"], email=contact["email"],
                            time_zone=person.time_zone, language=person.language),
        offset=offset, due_at=meeting.start - timedelta(minutes=offset.minutes()),
        meeting_start=meeting.start)


async def test_a_title_change_processed_before_the_due_reminder_keeps_it(
        stack: Stack, account: Account) -> None:
    dana = new_contact(stack, account, first_name="Dana")
    old_title = f"Reminder-{uuid.uuid4().hex[:8]}"
    new_title = f"Renamed-{uuid.uuid4().hex[:8]}"
    base = scheduled(account, old_title, [attendee(dana)])
    start = (datetime.now(timezone.utc) + timedelta(minutes=1, seconds=LEAD_S)).replace(
        microsecond=0)
    meeting = base.model_copy(update={
        "start": start, "end": start + timedelta(minutes=30),
        "reminders": [ReminderOffset(amount=1, unit="minutes")],
        "occurred_at": datetime.now(timezone.utc)})
    due_at = meeting.start - timedelta(minutes=1)
    renamed = updated(meeting, 1, ["title"], title=new_title,
                      occurred_at=due_at + timedelta(seconds=1))

    await publish_event(stack, meeting)
    partition, offset = await publish_event(stack, renamed)
    await wait_for(lambda: notifications_committed_past(stack, MEETINGS_TOPIC, partition,
                                                        offset),
                   "notifications to process the title change", timeout=LEAD_S - 2)
    assert time.time() < due_at.timestamp(), "the edit must be processed before the due time"

    while time.time() < due_at.timestamp():  # the timer of version 0 would fire now
        await asyncio.sleep(0.5)
    await publish_on_its_topic(stack, due_of(meeting, dana))

    (mail,) = await wait_for(lambda: reminders_to(new_title, dana["email"]),
                             "the reminder with the new title", timeout=40)
    assert new_title in str(mail.message["Subject"])
    sent = await wait_for(lambda: events_about(stack, "ReminderSent", meeting.meeting_id),
                          "ReminderSent", timeout=30)
    assert [event["meeting_version"] for event in sent] == [1]  # the version it shows
    # No second reminder (version 1 planned no timer), once a later sentinel got its own.
    await reminders_settled(stack, account, dana, partition=partition)
    assert len(reminders_to(new_title, dana["email"])) == 1
    assert reminders_to(old_title, dana["email"]) == []
    entries = await email_entries(stack, account, meeting.meeting_id)
    assert [e["kind"] for e in entries].count("reminder") == 1
