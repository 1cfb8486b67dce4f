"""A due reminder is judged by the meeting as it is now, not by the version its timer was
set from (R43): every ordering of an edit and a fired reminder, through the planner, the
timers and the reminder emails of one in-memory replica."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from convene_notifications.domain.reminders import REMINDER, wanted_recipient
from convene_notifications.service_layer.reminders import reminder_events
from convene_notifications.timer_store import REMINDER_TIMERS
from convene_schemas.events.notifications import ReminderDue
from notifications_testing import (
    START,
    FakeMailer,
    FakeStore,
    RecordingPublisher,
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


def test_a_due_reminder_is_judged_by_the_current_meeting_not_its_version() -> None:
    shared = "pat@x.example"
    base = meeting(start=START, reminders=offsets((1, "hours")), attendees=[
        contact(shared, name="Pat Contact"), contact(shared, kind="user", id="usr_pat")])
    renamed = updated(base, version=3, title="Budget review")
    due = due_for(base, version=0)
    assert wanted_recipient(due, renamed, canceled=False).name == "Pat Contact"  # type: ignore[union-attr]
    assert wanted_recipient(due, renamed, canceled=True) is None
    assert wanted_recipient(due, None, canceled=False) is None
    # the user shares the contact's address: the planner reminds only the contact
    as_user = due.model_copy(update={"recipient": due.recipient.model_copy(
        update={"kind": "user", "id": "usr_pat"})})
    assert wanted_recipient(as_user, renamed, canceled=False) is None
    no_invitations = renamed.model_copy(update={"send_invitations": False})
    assert wanted_recipient(due, no_invitations, canceled=False) is None


# --- an edit racing a fired reminder: judged by the meeting as it is now (R43) ------------

DUE = START - timedelta(hours=1)


class Replica:
    """One notifications replica (built by bootstrap) on fakes: its planner, its timers and
    its reminder emails; the scheduler's firing is played by :meth:`fire`."""

    def __init__(self) -> None:
        self.mailer, store = FakeMailer(), FakeStore()
        service = build(store=store, mailer=self.mailer, publisher=RecordingPublisher())
        self.planner = service.deps.reminder_planner
        self.reminders = service.deps.reminder_emails
        self.timers = store.collection(REMINDER_TIMERS)

    def fire(self, at: datetime) -> list[ReminderDue]:
        """What the scheduler publishes at ``at``: one ReminderDue per recipient of each
        due timer (the timers are gone afterwards)."""
        due = [doc for doc in self.timers.docs.values()
               if doc["kind"] == REMINDER and doc["due_at"] <= at]
        for doc in due:
            del self.timers.docs[doc["_id"]]
        return [event for doc in due for event in reminder_events(doc, at)]

    async def deliver(self, dues: list[ReminderDue]) -> int:
        """Handle each ReminderDue; how many emails went out."""
        return sum([sent_now(await self.reminders.send(due)) for due in dues])

    def reminders_to(self, address: str) -> list[str]:
        """The subjects of the reminder emails ``address`` got."""
        return [str(m["Subject"]) for m in self.mailer.messages_to(address)]


def dana_meeting() -> Any:
    return meeting(start=START, reminders=offsets((1, "hours")),
                   attendees=[contact("dana@x.example")])


async def test_an_edit_before_the_timer_fires_replaces_it_one_reminder_new_title() -> None:
    replica, base = Replica(), dana_meeting()
    await replica.planner.on_meeting(base)
    await replica.planner.on_meeting(updated(base, title="Budget review"))  # (a)
    dues = replica.fire(DUE)
    assert [due.meeting_version for due in dues] == [1]
    assert await replica.deliver(dues) == 1
    (subject,) = replica.reminders_to("dana@x.example")
    assert subject.startswith("Reminder: Budget review")


async def test_an_edit_processed_after_the_timer_fired_still_sends_the_reminder() -> None:
    replica, base = Replica(), dana_meeting()
    await replica.planner.on_meeting(base)
    dues = replica.fire(DUE)  # (b): v0 fired, its ReminderDue not handled yet
    await replica.planner.on_meeting(updated(base, title="Budget review",
                                             occurred_at=DUE + timedelta(seconds=1)))
    assert replica.timers.docs == {}  # v1 plans nothing: the due time has passed
    assert await replica.deliver(dues) == 1
    assert await replica.deliver(dues) == 0  # redelivered: still one
    (subject,) = replica.reminders_to("dana@x.example")
    assert subject.startswith("Reminder: Budget review")


async def test_an_edit_made_after_the_due_time_before_the_timer_fired_keeps_it() -> None:
    """The service was down (or behind) at the due time: the edit, made after it, reaches the
    planner before the overdue timer fired; the timer still fires, judged by the edit."""
    replica, base = Replica(), dana_meeting()
    await replica.planner.on_meeting(base)
    await replica.planner.on_meeting(updated(base, title="Budget review",
                                             occurred_at=DUE + timedelta(seconds=30)))
    dues = replica.fire(DUE + timedelta(minutes=1))
    assert [due.meeting_version for due in dues] == [0]
    assert await replica.deliver(dues) == 1
    (subject,) = replica.reminders_to("dana@x.example")
    assert subject.startswith("Reminder: Budget review")


async def test_a_reschedule_made_after_the_due_time_before_the_timer_fired() -> None:
    """The overdue timer of the old time fires but sends nothing (the meeting moved); the
    reminder of the new time is sent at its own time."""
    replica, base = Replica(), dana_meeting()
    await replica.planner.on_meeting(base)
    await replica.planner.on_meeting(rescheduled(base, minutes_later=60).model_copy(
        update={"occurred_at": DUE + timedelta(seconds=30)}))
    assert await replica.deliver(replica.fire(DUE + timedelta(minutes=1))) == 0
    assert await replica.deliver(replica.fire(START)) == 1
    (subject,) = replica.reminders_to("dana@x.example")
    assert "11:00" in subject and "10:00" not in subject


async def test_one_reminder_due_under_two_versions_is_sent_once() -> None:
    replica, base = Replica(), dana_meeting()
    await replica.planner.on_meeting(base)
    first = replica.fire(DUE)
    # v1 happened before the due time but is processed after v0 fired: it plans its own
    # timer for the same reminder, which fires too.
    await replica.planner.on_meeting(updated(base, title="Budget review",
                                             occurred_at=DUE - timedelta(seconds=5)))
    second = replica.fire(DUE + timedelta(seconds=1))
    assert [d.reminder_id for d in second] == [d.reminder_id for d in first]
    assert await replica.deliver(first + second) == 1
    assert len(replica.reminders_to("dana@x.example")) == 1


async def test_a_reschedule_after_the_timer_fired_sends_only_at_the_new_time() -> None:
    replica, base = Replica(), dana_meeting()
    await replica.planner.on_meeting(base)
    dues = replica.fire(DUE)
    moved = rescheduled(base, minutes_later=60).model_copy(  # (c)
        update={"occurred_at": DUE + timedelta(seconds=1)})
    await replica.planner.on_meeting(moved)
    assert await replica.deliver(dues) == 0
    assert replica.fire(DUE + timedelta(minutes=59)) == []
    assert await replica.deliver(replica.fire(START)) == 1
    (subject,) = replica.reminders_to("dana@x.example")
    assert "11:00" in subject and "10:00" not in subject  # the new start, in New York


def _canceled(base: Any) -> Any:
    return canceled(base).model_copy(update={"occurred_at": DUE + timedelta(seconds=1)})


def _offset_removed(base: Any) -> Any:
    return updated(base, changed_fields=["reminders"], occurred_at=DUE + timedelta(seconds=1),
                   reminders=[{"amount": 15, "unit": "minutes"}])


def _recipient_removed(base: Any) -> Any:
    return updated(base, changed_fields=["attendees"], occurred_at=DUE + timedelta(seconds=1),
                   attendees=[contact("sam@x.example").model_dump()], removed=base.attendees)


@pytest.mark.parametrize("edit", [_canceled, _offset_removed, _recipient_removed],
                         ids=["(d) canceled", "(e) offset removed", "(f) recipient removed"])
async def test_a_fired_reminder_no_longer_wanted_sends_nothing(edit: Any) -> None:
    from prometheus_client import REGISTRY

    replica, base = Replica(), dana_meeting()
    await replica.planner.on_meeting(base)
    dues = replica.fire(DUE)
    await replica.planner.on_meeting(edit(base))
    stale_before = REGISTRY.get_sample_value("convene_reminders_stale_total") or 0
    assert await replica.deliver(dues) == 0
    assert REGISTRY.get_sample_value("convene_reminders_stale_total") == stale_before + 1
    assert replica.mailer.sent == []
