"""A reminder that fell due while notifications was stopped fires once when it starts again,
late, and its lateness shows in /metrics (convene_reminder_lateness_seconds). "Once" is
asserted after a barrier (support/barriers.py: a later sentinel reminder arrived and every
ReminderDue published until then was handled)."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from datetime import datetime, timedelta, timezone

import httpx
from convene_schemas.events.common import ReminderOffset
from support import wait_for
from support.barriers import reminders_settled
from support.mail import StoredMail, mails
from support.notifications import attendee, new_contact, publish_event, scheduled
from support.services import Stack
from support.skeleton import Account, wait_processed

DOWN_AFTER_DUE_S = 6


def reminders_to(title: str, address: str) -> list[StoredMail]:
    """Reminder emails (no .ics) of the meeting titled ``title`` stored for ``address``."""
    return [m for m in mails(title, address)
            if not m.calendar_parts() and str(m.message["Subject"]).startswith("Reminder:")]


def lateness(metrics: str) -> tuple[float, float]:
    """(fires, fires later than 5 s) from the lateness histogram of /metrics."""
    def value(pattern: str) -> float:
        found = re.search(pattern, metrics, re.MULTILINE)
        return float(found.group(1)) if found else 0.0

    count = value(r"^convene_reminder_lateness_seconds_count (\S+)$")
    on_time = value(r'^convene_reminder_lateness_seconds_bucket\{le="5\.0"\} (\S+)$')
    return count, count - on_time


async def test_a_reminder_due_while_stopped_fires_once_late_on_start(stack: Stack,
                                                                    account: Account) -> None:
    kim = new_contact(stack, account, first_name="Kim")
    base = scheduled(account, f"Downtime-{uuid.uuid4().hex[:8]}", [attendee(kim)])
    start = (datetime.now(timezone.utc) + timedelta(minutes=1, seconds=25)).replace(
        microsecond=0)
    meeting = base.model_copy(update={
        "start": start, "end": start + timedelta(minutes=30),
        "reminders": [ReminderOffset(amount=1, unit="minutes")],
        "occurred_at": datetime.now(timezone.utc)})
    due = (start - timedelta(minutes=1)).timestamp()
    partition, offset = await publish_event(stack, meeting)
    await wait_processed(stack, partition, offset, "plan the reminder", timeout=60)
    assert time.time() < due - 1, "the machine is too slow for this test's margins"

    await asyncio.to_thread(stack.services["notifications"].stop)
    try:
        # A deliberate observation window, not a barrier: with notifications down there is
        # nothing to wait on, and what is under test is that nothing fires meanwhile (and
        # that the reminder is late when it starts again).
        await asyncio.sleep(max(0.0, due + DOWN_AFTER_DUE_S - time.time()))
        assert reminders_to(meeting.title, kim["email"]) == []  # nobody fired it meanwhile
    finally:
        await asyncio.to_thread(stack.start, "notifications")

    (mail,) = await wait_for(lambda: reminders_to(meeting.title, kim["email"]),
                             "the missed reminder after the start", timeout=60)
    assert mail.path.stat().st_mtime >= due + DOWN_AFTER_DUE_S
    async with httpx.AsyncClient(base_url=stack.url("notifications"), timeout=10) as client:
        metrics = (await client.get("/metrics")).text
    fires, late = lateness(metrics)
    assert fires >= 1 and late >= 1, metrics[:2000]
    await reminders_settled(stack, account, kim, partition=partition)
    assert len(reminders_to(meeting.title, kim["email"])) == 1
