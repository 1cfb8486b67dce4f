"""The retry queue: a transient SMTP failure never holds up other mail, is retried with
capped exponential backoff (the exact same bytes each time) by exactly one replica per
attempt, and is given up with EmailDeliveryFailed after the last attempt; a 5xx is final."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from convene_notifications.bootstrap import Notifications
from convene_notifications.domain.retry_policy import RetryPolicy
from convene_notifications.mailer import PermanentDeliveryError, TransientDeliveryError
from convene_notifications.service_layer.reminders import reminder_events
from convene_notifications.timer_store import REMINDER_TIMERS
from convene_schemas.events.common import ReminderOffset
from convene_schemas.events.notifications import (
    EmailDeliveryFailed,
    InvitationSent,
    ReminderDue,
    ReminderSent,
)
from notifications_testing import (
    NOW,
    FakeMailer,
    FakeStore,
    ManualClock,
    RecordingPublisher,
    build,
    contact,
    meeting,
    raised,
    sent_now,
    settings_for,
)

POLICY = RetryPolicy(base_s=10, cap_s=60, max_attempts=3)
GREYLISTED = TransientDeliveryError("4.7.1 greylisted, try again later", 451)


class ScriptedMailer(FakeMailer):
    """A mail server whose replies are scripted per recipient (then it accepts)."""

    def __init__(self, replies: dict[str, Sequence[Exception]]) -> None:
        super().__init__()
        self.replies = {address: list(errors) for address, errors in replies.items()}

    async def send(self, message: EmailMessage | bytes, *, sender: str,
                   recipients: Sequence[str]) -> None:
        script = self.replies.get(recipients[0], [])
        if script:
            self.attempts += 1
            self.raw.append(message if isinstance(message, bytes) else message.as_bytes())
            raise script.pop(0)
        await super().send(message, sender=sender, recipients=recipients)


class World:
    """``replicas`` notifications replicas (each built by bootstrap) over one store, one
    mail server and one Kafka, retrying by :data:`POLICY` without jitter, on a clock the
    test moves."""

    def __init__(self, mailer: FakeMailer, *, replicas: int = 1) -> None:
        self.clock = ManualClock()
        self.mailer = mailer
        self.store = FakeStore()
        settings = settings_for(mail_retry_base_s=POLICY.base_s, mail_retry_cap_s=POLICY.cap_s,
                                mail_retry_max_attempts=POLICY.max_attempts,
                                mail_retry_lease_s=300, smtp_timeout_s=10)  # 30 s send margin
        self.publisher = RecordingPublisher(settings)
        self.replicas: list[Notifications] = [
            build(settings, store=self.store, mailer=mailer, publisher=self.publisher,
                  clock=self.clock) for _ in range(replicas)]
        for replica in self.replicas:
            replica.retries.dispatcher.draw = lambda: 1.0  # the longest wait: no jitter
        self.service = self.replicas[0]
        self.meeting_emails = self.service.deps.meeting_emails

    @property
    def now(self) -> datetime:
        return self.clock.now

    async def entry(self, event: Any, address: str) -> dict[str, Any]:
        [entry] = await self.service.mail_log.for_recipient(event.account_id, event.meeting_id,
                                                            address)
        return entry

    async def later(self, seconds: float) -> int:
        """Move the clock and let every replica sweep once; how many attempts were made."""
        self.clock.advance(seconds)
        return sum(await asyncio.gather(*(r.retries.retry_due() for r in self.replicas)))


# --- the policy (pure) ------------------------------------------------------------------

def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    policy = RetryPolicy(base_s=10, cap_s=60, max_attempts=5)
    assert [policy.delay_s(n, 1.0) for n in (1, 2, 3, 4, 10, 500)] == [10, 20, 40, 60, 60, 60]
    assert [policy.delay_s(n, 0.0) for n in (1, 2, 3, 4)] == [5, 10, 20, 30]
    assert policy.next_attempt_at(NOW, 2, 0.5) == NOW + timedelta(seconds=15)
    assert not policy.gives_up(4) and policy.gives_up(5)


# --- non-blocking: the queue ------------------------------------------------------------

async def test_a_451_queues_the_email_and_other_mail_still_goes_out() -> None:
    mailer = ScriptedMailer({"grey@x.example": [GREYLISTED]})
    world = World(mailer)
    first = meeting(attendees=[contact("grey@x.example")])
    second = meeting(attendees=[contact("fine@y.example")])

    [result] = await world.meeting_emails.send_invitations(first)  # no exception: nothing waits
    await world.meeting_emails.send_invitations(second)

    assert result.state == "retrying" and not result.sent_now
    assert [rcpts for _, _, rcpts in mailer.sent] == [["fine@y.example"]]
    entry = await world.entry(first, "grey@x.example")
    assert (entry["state"], entry["attempts"], entry["error"]["code"]) == ("retrying", 1, 451)
    assert entry["next_attempt_at"] == NOW + timedelta(seconds=10)
    assert entry["retry"]["raw"] == mailer.raw[0]
    assert entry["retry"]["recipient"] == "grey@x.example"
    await world.meeting_emails.send_invitations(first)  # a redelivered event sends nothing
    assert mailer.attempts == 2


async def test_the_retry_sends_the_same_bytes_once_when_due_and_raises_invitation_sent() -> None:
    mailer = ScriptedMailer({"grey@x.example": [GREYLISTED, GREYLISTED]})
    world = World(mailer)
    event = meeting(attendees=[contact("grey@x.example")])
    await world.meeting_emails.send_invitations(event)

    assert await world.later(9) == 0  # not due yet
    assert await world.later(1) == 1  # attempt 2: 451 again, backoff doubles
    assert (await world.entry(event, "grey@x.example"))["next_attempt_at"] == (
        world.now + timedelta(seconds=20))
    assert await world.later(20) == 1  # attempt 3: accepted
    assert await world.later(600) == 0

    [message] = mailer.messages_to("grey@x.example")
    assert mailer.raw[0] == mailer.raw[1] == mailer.raw[2]  # same bytes, same Message-ID
    entry = await world.entry(event, "grey@x.example")
    assert (entry["state"], entry["attempts"], entry["error"]) == ("sent", 3, None)
    assert "retry" not in entry and "next_attempt_at" not in entry
    assert message["Message-ID"] == entry["message_id"]
    [sent] = raised(world.publisher, InvitationSent)
    assert (sent.recipient.email, sent.kind, sent.message_id) == (
        "grey@x.example", "invitation", entry["message_id"])
    assert sent.occurred_at.date() == world.now.date()


async def test_after_the_last_attempt_the_email_fails_with_email_delivery_failed() -> None:
    mailer = ScriptedMailer({"down@x.example": [GREYLISTED] * 5})
    world = World(mailer)
    event = meeting(attendees=[contact("down@x.example")])
    await world.meeting_emails.send_invitations(event)
    for _ in range(5):
        await world.later(100)

    assert mailer.attempts == POLICY.max_attempts and mailer.sent == []
    entry = await world.entry(event, "down@x.example")
    assert entry["state"] == "failed" and entry["error"]["reason"] == "temporary_failure"
    [failed] = raised(world.publisher, EmailDeliveryFailed)
    assert (failed.recipient_email, failed.smtp_code, failed.attempts,
            failed.permanent, failed.enhanced_status) == (
        "down@x.example", 451, 3, True, "4.7.1")


async def test_a_550_on_a_retry_is_final() -> None:
    mailer = ScriptedMailer({"gone@x.example": [GREYLISTED,
                                                PermanentDeliveryError("5.1.1 no such user", 550)]})
    world = World(mailer)
    event = meeting(attendees=[contact("gone@x.example")])
    await world.meeting_emails.send_invitations(event)
    await world.later(10)
    await world.later(3600)

    assert mailer.attempts == 2
    assert (await world.entry(event, "gone@x.example"))["error"]["reason"] == "rejected"
    assert [e.smtp_code for e in raised(world.publisher, EmailDeliveryFailed)] == [550]


async def test_two_replicas_make_each_attempt_once() -> None:
    mailer = ScriptedMailer({"grey@x.example": [GREYLISTED]})
    world = World(mailer, replicas=3)
    event = meeting(attendees=[contact("grey@x.example")])
    await world.meeting_emails.send_invitations(event)

    assert await world.later(10) == 1
    assert await world.later(10) == 0
    assert mailer.attempts == 2 and len(mailer.messages_to("grey@x.example")) == 1


async def test_no_attempt_starts_at_the_end_of_its_lease_window() -> None:
    mailer = ScriptedMailer({"grey@x.example": [GREYLISTED]})
    world = World(mailer)
    event = meeting(attendees=[contact("grey@x.example")])
    await world.meeting_emails.send_invitations(event)
    # The attempt's first window starts when it falls due (NOW + 10 s) and lasts 300 s: a
    # sweep 290 s late has 20 s of it left (< the 30 s margin) and leaves it to the next.
    assert await world.later(300) == 0
    assert await world.later(10) == 1  # the next window's holder makes it
    assert len(mailer.messages_to("grey@x.example")) == 1


# --- reminders use the same path -------------------------------------------------------

async def reminder_world(mailer: FakeMailer, address: str) -> tuple[World, ReminderDue]:
    """A world whose meeting has a reminder for ``address``, and that reminder's due event."""
    world = World(mailer)
    event = meeting(attendees=[contact(address)],
                    reminders=[ReminderOffset(amount=1, unit="hours")])
    await world.service.deps.reminder_planner.on_meeting(event)
    [timer] = world.store.collection(REMINDER_TIMERS).docs.values()
    [due] = reminder_events(timer, NOW)
    return world, due


async def test_a_reminder_451_is_retried_and_a_550_raises_email_delivery_failed() -> None:
    mailer = ScriptedMailer({"late@x.example": [GREYLISTED]})
    world, due = await reminder_world(mailer, "late@x.example")
    reminders = world.service.deps.reminder_emails
    result = await reminders.send(due)
    assert result is not None and not result.sent_now  # queued, not sent
    assert result.state == "retrying"
    await world.later(10)
    [message] = mailer.messages_to("late@x.example")
    assert message["Subject"].startswith("Reminder:")
    assert [e.reminder_id for e in raised(world.publisher, ReminderSent)] == [due.reminder_id]

    mailer = ScriptedMailer({"gone@x.example": [PermanentDeliveryError("5.1.1 no user", 550)]})
    world, due = await reminder_world(mailer, "gone@x.example")
    reminders = world.service.deps.reminder_emails
    assert not sent_now(await reminders.send(due))
    assert not sent_now(await reminders.send(due))  # failed for good: not tried again
    assert mailer.attempts == 1
    [failed] = raised(world.publisher, EmailDeliveryFailed)
    assert (failed.kind, failed.smtp_code, failed.recipient_email) == (
        "reminder", 550, "gone@x.example")


async def test_metrics_count_attempts_by_outcome_and_the_queue() -> None:
    from prometheus_client import REGISTRY

    def attempts(outcome: str) -> float:
        return REGISTRY.get_sample_value("convene_email_attempts_total",
                                         {"kind": "invitation", "outcome": outcome}) or 0.0

    def sends() -> float:
        return REGISTRY.get_sample_value("convene_email_send_seconds_count",
                                         {"kind": "invitation"}) or 0.0

    before, sends_before = (attempts("retrying"), attempts("sent")), sends()
    world = World(ScriptedMailer({"grey@x.example": [GREYLISTED]}))
    await world.meeting_emails.send_invitations(meeting(attendees=[contact("grey@x.example")]))
    await world.later(0)  # a sweep: counts the queue
    assert REGISTRY.get_sample_value("convene_email_retries_pending") == 1
    await world.later(10)
    assert (attempts("retrying"), attempts("sent")) == (before[0] + 1, before[1] + 1)
    assert sends() == sends_before + 2  # the latency of both attempts, failed or not
