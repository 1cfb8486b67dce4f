"""The page owner's emails (R44): an offline request, a blocked attempt, once each, in the
owner's language and zone; held until the owner is known; failures as for invitations."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from convene_notifications.bootstrap import Notifications, bootstrap
from convene_notifications.domain.owner_emails import owner_email_for
from convene_notifications.mailer import PermanentDeliveryError, TransientDeliveryError
from convene_notifications.owner_emails import BOOKING_PATH, OWNER_KNOWN_PATH
from convene_notifications.settings import NotificationsSettings
from convene_schemas.envelope import new_event_id, to_kafka_message
from faststream.kafka import KafkaBroker, TestKafkaBroker
from notifications_testing import NOW, FakeMailer
from read_model_testing import (
    ReadModelStore,
    attempt_blocked,
    booking_requested,
    user_upserted,
)


def service(mailer: FakeMailer, store: ReadModelStore | None = None) -> Notifications:
    settings = NotificationsSettings(topic_prefix="ut.", consumer_retry_initial_s=0.001,
                                     consumer_retry_max_s=0.002)
    return bootstrap(settings, broker=KafkaBroker(), store=store or ReadModelStore(),
                     mailer=mailer, clock=lambda: NOW)


async def publish(broker: KafkaBroker, event, event_id: str | None = None) -> None:
    record = to_kafka_message(event, event_id=event_id or new_event_id())
    await broker.publish(record.value, "ut." + record.topic, key=record.key,
                         headers={k: v.decode() for k, v in record.headers})


def strictly_parsed(mailer: FakeMailer, address: str):
    [message] = mailer.messages_to(address)
    return message_from_bytes(message.as_bytes(), policy=policy.default)


async def test_an_offline_request_emails_the_owner_in_their_language_once() -> None:
    mailer = FakeMailer()
    notifications = service(mailer)
    owner = user_upserted(language="it", time_zone="Europe/Rome", email="olga@acme.example")
    request = booking_requested(owner.user_id)

    async with TestKafkaBroker(notifications.runtime.broker) as broker:
        await publish(broker, owner)
        await publish(broker, request)
        await publish(broker, request)  # published twice: new event id, same booking

    message = strictly_parsed(mailer, "olga@acme.example")
    # 09:00 UTC is 10:00 in Rome, written the Italian way
    assert message["Subject"] == ("Richiesta di prenotazione: Priya Shah @ "
                                  "ven 13 mar 2026 10:00 (Europe/Rome)")
    assert message["Reply-To"].addresses[0].addr_spec == "priya@hooli.example"
    text = message.get_body(("plain",)).get_content()
    assert "priya@hooli.example" in text and "«olga-intro»" in text
    assert "non è stato aggiunto nulla a nessun calendario" in text
    assert "What would you like to discuss?: Pricing for <40> seats" in text
    html = message.get_body(("html",)).get_content()
    assert "Pricing for &lt;40&gt; seats" in html and "<40>" not in html
    assert "Risposte del modulo" in html  # the answers table, headed in Italian


async def test_an_online_booking_sends_the_owner_nothing() -> None:
    mailer = FakeMailer()
    notifications = service(mailer)
    owner = user_upserted()

    async with TestKafkaBroker(notifications.runtime.broker) as broker:
        await publish(broker, owner)
        await publish(broker, booking_requested(owner.user_id, offline=False))

    assert mailer.sent == []


@pytest.mark.parametrize(("reason", "says"), [
    ("calendar_access_lost", "remove the inactive calendar in your calendar settings"),
    ("pages_turned_off", "Scheduling pages are turned off for your account"),
])
async def test_a_blocked_attempt_tells_the_owner_why(reason: str, says: str) -> None:
    mailer = FakeMailer()
    notifications = service(mailer)
    owner = user_upserted(language="en", time_zone="America/New_York", email="olga@acme.example")

    async with TestKafkaBroker(notifications.runtime.broker) as broker:
        await publish(broker, owner)
        await publish(broker, attempt_blocked(owner.user_id, reason=reason))

    message = strictly_parsed(mailer, "olga@acme.example")
    assert message["Subject"] == ("Booking attempt blocked: olga-intro @ "
                                  "Fri, Mar 13, 2026 5:00 AM (America/New_York)")
    text = message.get_body(("plain",)).get_content()
    assert says in text and "jian@example.org" in text
    assert ("team-sales@group.calendar.google.com" in text) == (reason == "calendar_access_lost")


async def test_a_finnish_owner_reads_finnish() -> None:
    mailer = FakeMailer()
    notifications = service(mailer)
    owner = user_upserted(language="fi", time_zone="Europe/Helsinki", email="olga@acme.example")

    async with TestKafkaBroker(notifications.runtime.broker) as broker:
        await publish(broker, owner)
        await publish(broker, attempt_blocked(owner.user_id))

    message = strictly_parsed(mailer, "olga@acme.example")
    assert message["Subject"].startswith("Varausyritys estetty: olga-intro @ pe 13.3.2026 11.00")


async def test_an_unknown_owner_gets_the_email_when_records_tells_us_about_them() -> None:
    mailer = FakeMailer()
    notifications = service(mailer)
    owner = user_upserted(email="olga@acme.example")

    async with TestKafkaBroker(notifications.runtime.broker) as broker:
        await publish(broker, booking_requested(owner.user_id))
        assert mailer.sent == []  # held, and the booking event was committed
        await publish(broker, owner)
        await publish(broker, owner)  # a redelivery of the user sends nothing more

    assert len(mailer.messages_to("olga@acme.example")) == 1


async def test_a_visitor_name_with_a_line_break_adds_no_header() -> None:
    mailer = FakeMailer()
    notifications = service(mailer)
    owner = user_upserted(email="olga@acme.example")

    async with TestKafkaBroker(notifications.runtime.broker) as broker:
        await publish(broker, owner)
        await publish(broker, booking_requested(owner.user_id,
                                                visitor_name="Eve\r\nBcc: spy@evil.example"))

    message = strictly_parsed(mailer, "olga@acme.example")
    assert message["Bcc"] is None and "spy@evil.example" not in str(message["To"])
    assert message["Subject"].startswith("Booking request: Eve Bcc: spy@evil.example @ ")
    assert [r for _, _, rcpts in mailer.sent for r in rcpts] == ["olga@acme.example"]


async def test_a_5xx_fails_for_good_and_raises_email_delivery_failed() -> None:
    mailer = FakeMailer([PermanentDeliveryError("5.1.1 no such user", 550)])
    store = ReadModelStore()
    notifications = service(mailer, store)
    owner = user_upserted(email="olga@acme.example")
    await notifications.read_models.record_user(owner)
    request = booking_requested(owner.user_id)

    await notifications.owner_emails.on_booking_event(request)
    await notifications.owner_emails.on_booking_event(request)

    assert mailer.attempts == 1
    planned = owner_email_for(request)
    entry = store.collection("mail_log").docs[planned.email_id]
    assert (entry["state"], entry["error"]["code"], entry["kind"]) == (
        "failed", 550, "offline_booking_request")


async def test_a_temporary_failure_goes_to_the_retry_queue_which_sends_once() -> None:
    mailer = FakeMailer([TransientDeliveryError("4.7.1 try later", 451)])
    notifications = service(mailer)
    owner = user_upserted(email="olga@acme.example")
    await notifications.read_models.record_user(owner)
    request = booking_requested(owner.user_id)

    assert await notifications.owner_emails.on_booking_event(request) == "retrying"
    await notifications.owner_emails.on_booking_event(request)  # redelivered: queued already
    assert mailer.attempts == 1
    notifications.retries.clock = lambda: NOW + timedelta(minutes=1)
    assert await notifications.retries.retry_due() == 1
    await notifications.owner_emails.on_booking_event(request)

    assert mailer.attempts == 2 and len(mailer.sent) == 1


async def test_only_the_path_that_claimed_an_owner_email_sends_it() -> None:
    mailer = FakeMailer()
    notifications = service(mailer)
    owner_emails = notifications.owner_emails
    owner = user_upserted(email="olga@acme.example")
    await notifications.read_models.record_user(owner)
    request = booking_requested(owner.user_id)
    planned = owner_email_for(request)
    user = await notifications.read_models.user("acc_1", owner.user_id)
    entry = {"_id": planned.email_id, "account_id": "acc_1", "message_id": "<x@convene.test>",
             "claimed_by": BOOKING_PATH}
    await notifications.mail_log.claim("acc_1", entry)  # the booking path is sending it

    assert await owner_emails.deliver(planned, request, user, path=OWNER_KNOWN_PATH) is None
    assert mailer.sent == []
    await owner_emails.deliver(planned, request, user, path=BOOKING_PATH)  # its own retry
    assert len(mailer.sent) == 1
