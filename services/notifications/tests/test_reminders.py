"""Reminders: timers planned from meeting events, fired once across replicas, sent once
in the recipient's zone and language (edits racing a fired reminder:
``test_reminder_edits.py``)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from convene_kit.testing import FakeStore, RecordingPublisher
from convene_notifications.domain.reminders import plan_timers, timer_id_for
from convene_notifications.timer_store import REMINDER_TIMERS
from notifications_testing import (
    NOW,
    START,
    ManualClock,
    build,
    canceled,
    contact,
    due_for,
    meeting,
    offsets,
    rescheduled,
    sent_now,
    updated,
)

# --- planning (pure) -------------------------------------------------------------------

def test_one_timer_per_offset_at_start_minus_offset() -> None:
    event = meeting(start=START, reminders=offsets((1, "days"), (30, "minutes"), (2, "hours")))
    timers = plan_timers(event)
    assert [t.due_at for t in timers] == [START - timedelta(days=1), START - timedelta(hours=2),
                                         START - timedelta(minutes=30)]
    assert timers[0].timer_id == timer_id_for(event.meeting_id, 1440, 0)
    assert [r.email for r in timers[0].recipients] == ["dana.lee@globex.example"]


def test_due_time_across_a_dst_change_is_an_exact_duration() -> None:
    # Helsinki moves to summer time on 2026-03-29: 09:00 local on the 30th is 06:00 UTC.
    start = datetime(2026, 3, 30, 6, 0, tzinfo=timezone.utc)
    event = meeting(start=start, time_zone="Europe/Helsinki", reminders=offsets((2, "days")))
    (timer,) = plan_timers(event)
    assert timer.due_at == datetime(2026, 3, 28, 6, 0, tzinfo=timezone.utc)
    from zoneinfo import ZoneInfo
    assert timer.due_at.astimezone(ZoneInfo("Europe/Helsinki")).hour == 8  # 48 h, not 2 wall days


def test_no_timers_when_already_past_canceled_or_nobody_invited() -> None:
    late = meeting(start=NOW + timedelta(minutes=10), reminders=offsets((1, "hours")))
    assert plan_timers(late) == []
    base = meeting(start=START, reminders=offsets((1, "hours")))
    assert plan_timers(canceled(base)) == []
    nobody = meeting(start=START, reminders=offsets((1, "hours")),
                     attendees=[contact(None, invite=False)])
    assert plan_timers(nobody) == []


# --- timers in the store ---------------------------------------------------------------


async def test_reschedule_moves_and_cancel_drops_the_timers(service, store) -> None:
    planner, timers = service.deps.reminder_planner, store.collection(REMINDER_TIMERS)
    base = meeting(start=START, reminders=offsets((1, "hours")))
    await planner.on_meeting(base)
    assert [d["due_at"] for d in timers.docs.values()] == [START - timedelta(hours=1)]
    await planner.on_meeting(rescheduled(base, version=1, minutes_later=60))
    assert [(d["due_at"], d["meeting_version"]) for d in timers.docs.values()] == [(START, 1)]
    await planner.on_meeting(base)  # an older event arriving late changes nothing
    assert [d["meeting_version"] for d in timers.docs.values()] == [1]
    await planner.on_meeting(canceled(base, version=2))
    assert timers.docs == {}


async def test_editing_the_reminders_replaces_them(service, store) -> None:
    planner, timers = service.deps.reminder_planner, store.collection(REMINDER_TIMERS)
    base = meeting(start=START, reminders=offsets((1, "hours"), (1, "days")))
    await planner.on_meeting(base)
    await planner.on_meeting(updated(base, version=1, changed_fields=["reminders"],
                                     reminders=[{"amount": 15, "unit": "minutes"}]))
    assert [d["due_at"] for d in timers.docs.values()] == [START - timedelta(minutes=15)]


# --- firing: exactly once across replicas ----------------------------------------------

async def test_two_replicas_fire_each_due_timer_once(store, mailer, publisher) -> None:
    due_clock = ManualClock(START)
    replicas = [build(store=store, mailer=mailer, publisher=publisher, clock=due_clock)
                for _ in range(2)]
    base = meeting(start=START, reminders=offsets((1, "hours")),
                   attendees=[contact("a@x.example"), contact("b@x.example")])
    await replicas[0].deps.reminder_planner.on_meeting(base)
    timers = store.collection(REMINDER_TIMERS)
    fired = await asyncio.gather(*(r.scheduler.fire_due() for r in replicas))
    assert sorted(fired) == [0, 1]
    assert len(publisher.records) == 2  # one ReminderDue per recipient, published once
    assert timers.docs == {}
    assert await asyncio.gather(*(r.scheduler.fire_due() for r in replicas)) == [0, 0]


async def test_nothing_fires_before_its_due_time(service, clock, publisher) -> None:
    await service.deps.reminder_planner.on_meeting(
        meeting(start=START, reminders=offsets((1, "hours"))))
    clock.now = START - timedelta(hours=1, seconds=1)
    assert await service.scheduler.fire_due() == 0 and publisher.records == []


async def test_the_timers_pending_gauge_counts_what_waits_to_fire(service, clock, store) -> None:
    from prometheus_client import REGISTRY

    await service.deps.reminder_planner.on_meeting(
        meeting(start=START, reminders=offsets((1, "hours"), (30, "minutes")),
                attendees=[contact("a@x.example"), contact("b@x.example")]))
    clock.now = START - timedelta(hours=2)
    await service.scheduler.sweep()  # the first sweep counts
    assert REGISTRY.get_sample_value("convene_timers_pending") == len(
        store.collection(REMINDER_TIMERS).docs) == 2


# --- sending ---------------------------------------------------------------------------


async def test_reminder_is_sent_once_in_the_recipients_zone_and_language(service, mailer) -> None:
    event = meeting(start=START, reminders=offsets((1, "hours")),
                    reminders_include_description=True,
                    attendees=[contact("dana@x.example", language="it",
                                       time_zone="Europe/Helsinki")])
    await service.deps.reminder_planner.on_meeting(event)
    due = due_for(event)
    assert sent_now(await service.deps.reminder_emails.send(due))
    again = await service.deps.reminder_emails.send(due)  # a redelivered ReminderDue
    assert again is not None and (again.state, again.sent_now) == ("sent", False)
    (message,) = mailer.messages_to("dana@x.example")
    assert message["Subject"].startswith("Promemoria: Quarterly review")
    assert "16:00" in message["Subject"] and "Europe/Helsinki" in message["Subject"]
    text = message.get_body(("plain",)).get_content()
    assert "Agenda: numbers" in text
    assert not any(p.get_content_type() == "text/calendar" for p in message.walk())


async def test_description_only_when_asked_and_meeting_zone_as_fallback(service, mailer) -> None:
    event = meeting(start=START, reminders=offsets((1, "hours")),
                    attendees=[contact("fi@x.example", language="fi", time_zone=None)])
    await service.deps.reminder_planner.on_meeting(event)
    assert sent_now(await service.deps.reminder_emails.send(due_for(event)))
    (message,) = mailer.messages_to("fi@x.example")
    assert message["Subject"].startswith("Muistutus:") and "Europe/Rome" in message["Subject"]
    assert "Agenda" not in message.get_body(("plain",)).get_content()


# --- timers stored before timers had kinds, and kinds this version does not know -------

async def test_timers_stored_before_kinds_are_adopted_and_fire() -> None:
    store, publisher = FakeStore(), RecordingPublisher()
    clock = ManualClock(START - timedelta(hours=3))
    service = build(store=store, publisher=publisher, clock=clock)
    waiting = meeting(start=START, reminders=offsets((1, "hours")))
    await service.deps.reminder_planner.on_meeting(waiting)
    timers = store.collection(REMINDER_TIMERS)
    for doc in timers.docs.values():  # as the previous version stored them
        del doc["kind"]
    await timers.insert_one({"_id": "mtg_old:join-link", "purpose": "join_link_fallback",
                             "account_id": "acc_1", "meeting_id": "mtg_old",
                             "meeting_version": 0, "due_at": START - timedelta(hours=2)})
    clock.now = START - timedelta(minutes=59)
    assert await service.scheduler.fire_due() == 2  # the reminder and the (unneeded) fallback
    assert [e.event.__class__.__name__ for e in publisher.events()] == ["ReminderDue"]
    assert timers.docs == {}


async def test_timers_of_an_unknown_kind_never_fill_the_batch() -> None:
    store, publisher = FakeStore(), RecordingPublisher()
    clock = ManualClock(START - timedelta(hours=3))
    service = build(store=store, publisher=publisher, clock=clock)
    timers = store.collection(REMINDER_TIMERS)
    for i in range(service.settings.reminder_batch_size + 5):  # planned by a newer version
        await timers.insert_one({"_id": f"future{i}", "kind": "from_the_future",
                                 "account_id": "acc_1", "meeting_id": f"mtg_{i}",
                                 "due_at": START - timedelta(days=1)})
    await service.deps.reminder_planner.on_meeting(
        meeting(start=START, reminders=offsets((1, "hours"))))
    clock.now = START - timedelta(minutes=59)
    assert await service.scheduler.fire_due() == 1
    assert len(timers.docs) == service.settings.reminder_batch_size + 5  # left for others
