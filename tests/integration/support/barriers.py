"""Barriers for checks that something did NOT happen ("no second email", "no reminder").

Such a check is only worth something once the work that could have done it is provably
over; a sleep only hopes so. Two kinds of barrier:

- **caught up**: a consumer group committed every record a topic holds at this moment
  (:func:`wait_caught_up`); whatever those records were going to cause has happened.
- **a later sentinel**: for what timers do (reminders, the join-link fallback), a second
  meeting whose timer is due after the last moment the one under test could fire, published
  behind the meeting's own events (same partition). Once the sentinel's email is there,
  notifications has processed the meeting's events and its scheduler has swept past that
  moment (timers are swept every 0.5 s; :data:`SENTINEL_GAP_S` is several sweeps), and
  a :func:`wait_caught_up` on notifications' own topic then covers every ``ReminderDue``
  those sweeps published.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from convene_kit.testing import committed_through, end_offsets
from convene_schemas.events.common import Location, ReminderOffset

from support import endpoint, wait_for
from support.mail import StoredMail, mails
from support.notifications import NOTIFICATIONS_TOPIC, attendee, publish_event_on, scheduled
from support.services import Stack
from support.skeleton import Account

SENTINEL_GAP_S = 3.0
"""How much later than the moment under test a sentinel timer is due (several sweeps)."""


async def wait_caught_up(stack: Stack, service: str, topic: str, what: str,
                         timeout: float = 30) -> None:
    """Wait until ``service``'s consumer group has processed (committed) every record the
    stack's ``topic`` holds now."""
    bootstrap = endpoint("CONVENE_KAFKA_BOOTSTRAP")
    physical = stack.topic(topic)
    ends = await end_offsets(bootstrap, physical)
    await wait_for(lambda: committed_through(bootstrap, f"{stack.prefix}{service}", physical,
                                             ends),
                   f"{service} to {what}", timeout=timeout)


def reminder_emails(title: str, address: str) -> list[StoredMail]:
    """Reminder emails (no .ics) of the meeting titled ``title`` stored for ``address``."""
    return [m for m in mails(title, address)
            if not m.calendar_parts() and str(m.message["Subject"]).startswith("Reminder:")]


async def reminders_settled(stack: Stack, account: Account, contact: dict, *,
                            partition: int, after: datetime | None = None) -> None:
    """Barrier before asserting how many reminders a meeting sent: a sentinel meeting of
    ``contact`` whose one-minute reminder is due :data:`SENTINEL_GAP_S` after ``after``
    (default now), published on ``partition`` of the meetings topic (the partition of the
    meeting under test); waits for the sentinel's reminder email, then for notifications
    to handle every ``ReminderDue`` published until then."""
    now = datetime.now(timezone.utc)
    due = max(after or now, now) + timedelta(seconds=SENTINEL_GAP_S)
    start = (due + timedelta(minutes=1, seconds=1)).replace(microsecond=0)
    sentinel = scheduled(account, f"Sentinel-{uuid.uuid4().hex[:8]}", [attendee(contact)])
    sentinel = sentinel.model_copy(update={
        "start": start, "end": start + timedelta(minutes=30),
        "reminders": [ReminderOffset(amount=1, unit="minutes")], "occurred_at": now})
    await publish_event_on(stack, sentinel, partition)
    await wait_for(lambda: reminder_emails(sentinel.title, contact["email"]),
                   "the sentinel's reminder (the scheduler swept past the moment under test)",
                   timeout=(due - now).total_seconds() + 45)
    await wait_caught_up(stack, "notifications", NOTIFICATIONS_TOPIC,
                         "handle every ReminderDue published so far")


async def fallbacks_settled(stack: Stack, account: Account, contact: dict, *,
                            partition: int, after: datetime) -> None:
    """Barrier before asserting what a join-link fallback did: a sentinel video meeting of
    ``contact`` that never gets its link, happened :data:`SENTINEL_GAP_S` after ``after``
    (the ``occurred_at`` of the meeting under test), so its fallback is due that much later
    than the meeting's; published on ``partition`` of the meetings topic, behind the
    meeting's own events. Waits for the sentinel's invitation (sent without the link when
    its fallback fires)."""
    now = datetime.now(timezone.utc)
    occurred_at = max(after + timedelta(seconds=SENTINEL_GAP_S), now)
    sentinel = scheduled(account, f"Sentinel-{uuid.uuid4().hex[:8]}", [attendee(contact)])
    sentinel = sentinel.model_copy(update={
        "location": Location(kind="video", video_provider="zoom", join_url_pending=True),
        "occurred_at": occurred_at})
    await publish_event_on(stack, sentinel, partition)
    await wait_for(lambda: mails(sentinel.ical_uid, contact["email"]),
                   "the sentinel's invitation without its link (its fallback fired)",
                   timeout=(occurred_at - now).total_seconds() + 60)
