"""Reminders (R10, R43) through real Kafka, FerretDB and the SMTP sink: a reminder email
arrives once at start - offset (not before), a cancellation drops it, a reschedule moves
it, and two notifications replicas still send it once.

"Once" and "none" are asserted after a barrier (support/barriers.py): a sentinel meeting's
reminder due later, published behind the meeting's events, has arrived and notifications
has handled every ReminderDue published until then."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from convene_schemas.events.common import ReminderOffset
from convene_schemas.events.meetings import MeetingRescheduled, MeetingScheduled
from support import wait_for
from support.barriers import reminders_settled
from support.mail import StoredMail, mails
from support.notifications import (
    MEETINGS_TOPIC,
    attendee,
    canceled,
    new_contact,
    notifications_committed_past,
    publish_event,
    scheduled,
)
from support.services import ServiceProcess, Stack, free_port
from support.skeleton import Account

ONE_MINUTE = [ReminderOffset(amount=1, unit="minutes")]


def reminders_to(title: str, address: str) -> list[StoredMail]:
    """Reminder emails (no .ics) of the meeting titled ``title`` stored for ``address``."""
    return [m for m in mails(title, address)
            if not m.calendar_parts() and str(m.message["Subject"]).startswith("Reminder:")]


def soon(account: Account, address_contact: dict, *, lead_s: float) -> MeetingScheduled:
    """A meeting whose 1-minute reminder is due ``lead_s`` seconds from now."""
    base = scheduled(account, f"Reminder-{uuid.uuid4().hex[:8]}", [attendee(address_contact)])
    start = (datetime.now(timezone.utc) + timedelta(minutes=1, seconds=lead_s)).replace(
        microsecond=0)
    return base.model_copy(update={"start": start, "end": start + timedelta(minutes=30),
                                   "reminders": ONE_MINUTE,
                                   "occurred_at": datetime.now(timezone.utc)})


async def test_reminder_arrives_once_at_its_due_time(stack: Stack, account: Account) -> None:
    dana = new_contact(stack, account, first_name="Dana", language="en",
                       time_zone="America/New_York")
    meeting = soon(account, dana, lead_s=6)
    due = (meeting.start - timedelta(minutes=1)).timestamp()
    await publish_event(stack, meeting)
    partition, _ = await publish_event(stack, meeting)  # twice: still one timer, one email

    (mail,) = await wait_for(lambda: reminders_to(meeting.title, dana["email"]),
                             "the reminder email", timeout=40)
    assert mail.path.stat().st_mtime >= due - 0.5  # not before it was due
    assert "America/New_York" in str(mail.message["Subject"])
    await reminders_settled(stack, account, dana, partition=partition)
    assert len(reminders_to(meeting.title, dana["email"])) == 1


async def test_canceled_meeting_sends_no_reminder(stack: Stack, account: Account) -> None:
    luca = new_contact(stack, account, first_name="Luca")
    meeting = soon(account, luca, lead_s=10)
    due = meeting.start - timedelta(minutes=1)
    await publish_event(stack, meeting)
    partition, offset = await publish_event(stack, canceled(meeting, 1))
    await wait_for(lambda: notifications_committed_past(stack, MEETINGS_TOPIC, partition,
                                                        offset),
                   "notifications to process the cancellation", timeout=30)
    if time.time() >= due.timestamp():
        pytest.fail("the cancellation was processed only after the reminder was due, so "
                    "this run cannot show that a cancellation drops it (setup too slow)")
    await wait_for(lambda: len(mails(meeting.ical_uid, luca["email"])) == 2 or None,
                   "the invitation and the cancellation", timeout=30)
    # The sentinel is due after the canceled reminder was: whatever it would have sent is
    # in the sink by then.
    await reminders_settled(stack, account, luca, partition=partition, after=due)
    assert reminders_to(meeting.title, luca["email"]) == []


async def test_reschedule_moves_the_reminder(stack: Stack, account: Account) -> None:
    sara = new_contact(stack, account, first_name="Sara")
    far = scheduled(account, f"Moved-{uuid.uuid4().hex[:8]}", [attendee(sara)])
    far = far.model_copy(update={"reminders": ONE_MINUTE})  # due in ~4 days
    await publish_event(stack, far)
    near = soon(account, sara, lead_s=6)
    moved = MeetingRescheduled.model_validate(
        {**far.model_dump(), "version": 1, "occurred_at": datetime.now(timezone.utc),
         "start": near.start, "end": near.end, "previous_start": far.start,
         "previous_end": far.end, "changed_fields": ["start", "end"],
         "changed_by_user_id": far.host_user_id}, strict=False)
    partition, _ = await publish_event(stack, moved)
    (mail,) = await wait_for(lambda: reminders_to(far.title, sara["email"]),
                             "the moved reminder", timeout=40)
    assert mail.path.stat().st_mtime >= (near.start - timedelta(minutes=1)).timestamp() - 0.5
    await reminders_settled(stack, account, sara, partition=partition)
    assert len(reminders_to(far.title, sara["email"])) == 1


async def test_two_replicas_send_one_reminder(stack: Stack, account: Account) -> None:
    second = ServiceProcess("notifications", free_port(), {}, stack.workdir /
                            f"notifications-2-{uuid.uuid4().hex[:6]}.log")
    second.env = stack.env_for("notifications", second.port)
    second.start()
    try:
        await asyncio.to_thread(second.wait_ready, 60)
        ines = new_contact(stack, account, first_name="Ines")
        meeting = soon(account, ines, lead_s=8)
        partition, _ = await publish_event(stack, meeting)
        await wait_for(lambda: reminders_to(meeting.title, ines["email"]),
                       "the reminder email", timeout=45)
        # Both replicas sweep every 0.5 s: by the sentinel's time both have seen the timer.
        await reminders_settled(stack, account, ines, partition=partition)
        assert len(reminders_to(meeting.title, ines["email"])) == 1
    finally:
        await asyncio.to_thread(second.stop)
