"""The MeetingScheduled subscriber, end to end through FastStream's TestKafkaBroker."""

from __future__ import annotations

from datetime import timedelta

from convene_notifications.bootstrap import Notifications, bootstrap
from convene_notifications.mailer import TransientDeliveryError
from convene_notifications.settings import NotificationsSettings
from convene_schemas.envelope import new_event_id, to_kafka_message
from faststream.kafka import KafkaBroker, TestKafkaBroker
from notifications_testing import NOW, FakeMailer, FakeStore, contact, meeting


def service(mailer: FakeMailer) -> Notifications:
    settings = NotificationsSettings(topic_prefix="ut.", consumer_retry_initial_s=0.001,
                                     consumer_retry_max_s=0.002)
    return bootstrap(settings, broker=KafkaBroker(), store=FakeStore(), mailer=mailer,
                     clock=lambda: NOW)


async def publish(broker: KafkaBroker, event, event_id: str) -> None:
    record = to_kafka_message(event, event_id=event_id)
    await broker.publish(record.value, "ut." + record.topic, key=record.key,
                         headers={k: v.decode() for k, v in record.headers})


async def test_a_scheduled_meeting_invites_its_attendees() -> None:
    mailer = FakeMailer()
    notifications = service(mailer)
    event = meeting(attendees=[contact("dana@globex.example"), contact("luca@initech.example")])

    async with TestKafkaBroker(notifications.runtime.broker) as broker:
        await publish(broker, event, new_event_id())

    assert sorted(r for _, _, rcpts in mailer.sent for r in rcpts) == [
        "dana@globex.example", "luca@initech.example"]
    for message, _, _ in mailer.sent:
        calendar = message.get_body(("calendar",))
        assert calendar.get_param("method") == "REQUEST"
        assert f"UID:{event.ical_uid}" in calendar.get_content()


async def test_the_same_event_delivered_twice_sends_once() -> None:
    mailer = FakeMailer()
    notifications = service(mailer)
    event, event_id = meeting(), new_event_id()

    async with TestKafkaBroker(notifications.runtime.broker) as broker:
        await publish(broker, event, event_id)
        await publish(broker, event, event_id)  # redelivery: the same event id
        await publish(broker, event, new_event_id())  # a copy under another id

    assert len(mailer.sent) == 1


async def test_a_temporary_smtp_failure_holds_up_no_other_meeting() -> None:
    mailer = FakeMailer([TransientDeliveryError("4.3.0 try again later", 451)])
    clock = [NOW]
    settings = NotificationsSettings(topic_prefix="ut.", mail_retry_base_s=5)
    notifications = bootstrap(settings, broker=KafkaBroker(), store=FakeStore(), mailer=mailer,
                              clock=lambda: clock[0])
    first = meeting(attendees=[contact("dana@globex.example")])
    second = meeting(attendees=[contact("luca@initech.example")])

    async with TestKafkaBroker(notifications.runtime.broker) as broker:
        await publish(broker, first, new_event_id())
        await publish(broker, second, new_event_id())

    assert [rcpts for _, _, rcpts in mailer.sent] == [["luca@initech.example"]]
    clock[0] = NOW + timedelta(seconds=5)
    assert await notifications.retries.retry_due() == 1
    assert mailer.attempts == 3 and len(mailer.messages_to("dana@globex.example")) == 1
    [entry] = await notifications.mail_log.for_meeting(first.account_id, first.meeting_id)
    assert entry["state"] == "sent" and entry["attempts"] == 2


async def test_updates_and_cancellations_are_consumed_and_outcomes_send_nothing() -> None:
    from convene_schemas.events.meetings import MeetingOutcomeRecorded
    from notifications_testing import canceled, updated

    mailer = FakeMailer()
    notifications = service(mailer)
    base = meeting(attendees=[contact("dana@globex.example")])
    outcome = MeetingOutcomeRecorded.model_validate(
        {**base.model_dump(), "version": 1, "outcome": "completed",
         "recorded_by_user_id": "usr_host"}, strict=False)

    async with TestKafkaBroker(notifications.runtime.broker) as broker:
        await publish(broker, base, new_event_id())
        await publish(broker, outcome, new_event_id())
        await publish(broker, updated(base, version=2, title="Moved agenda"), new_event_id())
        await publish(broker, canceled(base, version=3), new_event_id())

    methods = [(m.get_body(("calendar",)).get_param("method"),
                next(line for line in m.get_body(("calendar",)).get_content().splitlines()
                     if line.startswith("SEQUENCE:"))) for m, _, _ in mailer.sent]
    assert methods == [("REQUEST", "SEQUENCE:0"), ("REQUEST", "SEQUENCE:2"),
                       ("CANCEL", "SEQUENCE:3")]


async def test_a_due_reminder_is_fired_consumed_and_sent_once() -> None:
    from datetime import timedelta

    from convene_schemas.events.common import ReminderOffset

    mailer = FakeMailer()
    clock = [NOW]
    settings = NotificationsSettings(topic_prefix="ut.", consumer_retry_initial_s=0.001,
                                     consumer_retry_max_s=0.002)
    notifications = bootstrap(settings, broker=KafkaBroker(), store=FakeStore(), mailer=mailer,
                              clock=lambda: clock[0])
    event = meeting(attendees=[contact("dana@globex.example", language="fi")],
                    reminders=[ReminderOffset(amount=1, unit="hours")])

    async with TestKafkaBroker(notifications.runtime.broker) as broker:
        await publish(broker, event, new_event_id())
        assert await notifications.scheduler.fire_due() == 0  # not due yet
        clock[0] = event.start - timedelta(hours=1)
        assert await notifications.scheduler.fire_due() == 1
        assert await notifications.scheduler.fire_due() == 0  # fired once

    reminders = [m for m, _, _ in mailer.sent if m["Subject"].startswith("Muistutus:")]
    assert len(reminders) == 1 and len(mailer.sent) == 2  # the invitation and the reminder
