"""The meeting subscribers, end to end through FastStream's TestKafkaBroker."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from convene_kit.testing import capture_dead_letters
from convene_notifications.bootstrap import Notifications
from convene_notifications.mailer import TransientDeliveryError
from convene_schemas.envelope import new_event_id
from convene_schemas.events.common import ReminderOffset
from convene_schemas.events.meetings import MeetingOutcomeRecorded
from faststream.kafka import TestKafkaBroker
from notifications_testing import (
    NOW,
    TOPIC_PREFIX,
    FakeMailer,
    FakeStore,
    ManualClock,
    build,
    canceled,
    consume,
    contact,
    meeting,
    publish,
    settings_for,
    unchecked,
    updated,
)

pytestmark = pytest.mark.contract


@pytest.fixture
def service(store: FakeStore, mailer: FakeMailer, clock: ManualClock) -> Notifications:
    """The whole wiring: what the service publishes goes through the broker too."""
    return build(store=store, mailer=mailer, clock=clock)


async def test_a_scheduled_meeting_invites_its_attendees(service, mailer) -> None:
    event = meeting(attendees=[contact("dana@globex.example"), contact("luca@initech.example")])

    await consume(service, event)

    assert sorted(r for _, _, rcpts in mailer.sent for r in rcpts) == [
        "dana@globex.example", "luca@initech.example"]
    for message, _, _ in mailer.sent:
        calendar = message.get_body(("calendar",))
        assert calendar.get_param("method") == "REQUEST"
        assert f"UID:{event.ical_uid}" in calendar.get_content()


async def test_the_same_event_delivered_twice_sends_once(service, mailer) -> None:
    event, event_id = meeting(), new_event_id()

    async with TestKafkaBroker(service.runtime.broker) as broker:
        await publish(broker, event, event_id)
        await publish(broker, event, event_id)  # redelivery: the same event id
        await publish(broker, event, new_event_id())  # a copy under another id

    assert len(mailer.sent) == 1


async def test_a_temporary_smtp_failure_holds_up_no_other_meeting(store, mailer, clock) -> None:
    mailer.failures.append(TransientDeliveryError("4.3.0 try again later", 451))
    service = build(settings_for(mail_retry_base_s=5), store=store, mailer=mailer, clock=clock)
    first = meeting(attendees=[contact("dana@globex.example")])
    second = meeting(attendees=[contact("luca@initech.example")])

    await consume(service, first, second)

    assert [rcpts for _, _, rcpts in mailer.sent] == [["luca@initech.example"]]
    clock.now = NOW + timedelta(seconds=5)
    assert await service.retries.retry_due() == 1
    assert mailer.attempts == 3 and len(mailer.messages_to("dana@globex.example")) == 1
    [entry] = await service.mail_log.for_meeting(first.account_id, first.meeting_id)
    assert entry["state"] == "sent" and entry["attempts"] == 2


async def test_updates_and_cancellations_are_consumed_and_outcomes_send_nothing(
        service, mailer) -> None:
    base = meeting(attendees=[contact("dana@globex.example")])
    outcome = MeetingOutcomeRecorded.model_validate(
        {**base.model_dump(), "version": 1, "outcome": "completed",
         "recorded_by_user_id": "usr_host"}, strict=False)

    await consume(service, base, outcome, updated(base, version=2, title="Moved agenda"),
                  canceled(base, version=3))

    methods = [(m.get_body(("calendar",)).get_param("method"),
                next(line for line in m.get_body(("calendar",)).get_content().splitlines()
                     if line.startswith("SEQUENCE:"))) for m, _, _ in mailer.sent]
    assert methods == [("REQUEST", "SEQUENCE:0"), ("REQUEST", "SEQUENCE:2"),
                       ("CANCEL", "SEQUENCE:3")]


async def test_a_due_reminder_is_fired_consumed_and_sent_once(service, mailer, clock) -> None:
    event = meeting(attendees=[contact("dana@globex.example", language="fi")],
                    reminders=[ReminderOffset(amount=1, unit="hours")])

    async with TestKafkaBroker(service.runtime.broker) as broker:
        await publish(broker, event)
        assert await service.scheduler.fire_due() == 0  # not due yet
        clock.now = event.start - timedelta(hours=1)
        assert await service.scheduler.fire_due() == 1
        assert await service.scheduler.fire_due() == 0  # fired once

    reminders = [m for m, _, _ in mailer.sent if m["Subject"].startswith("Muistutus:")]
    assert len(reminders) == 1 and len(mailer.sent) == 2  # the invitation and the reminder


@pytest.mark.parametrize("bad", [
    # 23:59 in Rome on the last day of 9999: the invitation's .ics would need year 10000.
    {"start": datetime(9999, 12, 31, 22, 59, tzinfo=timezone.utc),
     "end": datetime(9999, 12, 31, 23, 29, tzinfo=timezone.utc)},
    {"title": "nul\x00title"},  # PostgreSQL behind FerretDB cannot store U+0000
], ids=["year-9999", "nul-in-title"])
async def test_a_meeting_the_contract_refuses_is_dead_lettered_and_stalls_nothing(
        store, mailer, clock, bad: dict) -> None:
    """Such an event (from an older or foreign producer: meetings refuses both) is invalid,
    not a bug: dead-lettered at once, and the next meeting of the partition is mailed."""
    service = build(settings_for(kafka_max_poll_interval_s=0.2), store=store, mailer=mailer,
                    clock=clock)
    poison = unchecked(meeting(attendees=[contact("dana@globex.example")]), **bad)
    dead = capture_dead_letters(service.runtime.broker, TOPIC_PREFIX + "meetings.events.v1.dlq")

    await consume(service, poison, meeting(attendees=[contact("luca@initech.example")]))

    assert [dict(record.headers)["dlq_reason"] for record in dead] == [b"validation_failed"]
    assert [rcpts for _, _, rcpts in mailer.sent] == [["luca@initech.example"]]
