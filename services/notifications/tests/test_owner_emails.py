"""The page owner's emails (R44): an offline request, a blocked attempt, once each, in the
owner's language and zone; held until the owner is known; failures as for invitations."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from convene_kit.testing import capture_dead_letters
from convene_notifications.domain.owner_emails import owner_email_for
from convene_notifications.mailer import PermanentDeliveryError, TransientDeliveryError
from convene_notifications.service_layer.owner_emails import BOOKING_PATH, OWNER_KNOWN_PATH
from convene_notifications.store import MAIL_LOG
from convene_schemas.events.notifications import EmailDeliveryFailed
from faststream.kafka import TestKafkaBroker
from notifications_testing import (
    NOW,
    TOPIC_PREFIX,
    FakeMailer,
    attempt_blocked,
    booking_requested,
    publish,
    raised,
    unchecked,
    user_upserted,
)


def strictly_parsed(mailer: FakeMailer, address: str):
    [message] = mailer.messages_to(address)
    return message_from_bytes(message.as_bytes(), policy=policy.default)


@pytest.mark.contract
async def test_an_offline_request_emails_the_owner_in_their_language_once(service, mailer) -> None:
    owner = user_upserted(language="it", time_zone="Europe/Rome", email="olga@acme.example")
    request = booking_requested(owner.user_id)

    async with TestKafkaBroker(service.runtime.broker) as broker:
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


@pytest.mark.contract
async def test_an_online_booking_sends_the_owner_nothing(service, mailer) -> None:
    owner = user_upserted()

    async with TestKafkaBroker(service.runtime.broker) as broker:
        await publish(broker, owner)
        await publish(broker, booking_requested(owner.user_id, offline=False))

    assert mailer.sent == []


@pytest.mark.contract
@pytest.mark.parametrize(("reason", "says"), [
    ("calendar_access_lost", "remove the inactive calendar in your calendar settings"),
    ("pages_turned_off", "Scheduling pages are turned off for your account"),
])
async def test_a_blocked_attempt_tells_the_owner_why(service, mailer, reason: str,
                                                     says: str) -> None:
    owner = user_upserted(language="en", time_zone="America/New_York", email="olga@acme.example")

    async with TestKafkaBroker(service.runtime.broker) as broker:
        await publish(broker, owner)
        await publish(broker, attempt_blocked(owner.user_id, reason=reason))

    message = strictly_parsed(mailer, "olga@acme.example")
    assert message["Subject"] == ("Booking attempt blocked: olga-intro @ "
                                  "Fri, Mar 13, 2026 5:00 AM (America/New_York)")
    text = message.get_body(("plain",)).get_content()
    assert says in text and "jian@example.org" in text
    assert ("team-sales@group.calendar.google.com" in text) == (reason == "calendar_access_lost")


@pytest.mark.contract
async def test_a_blocked_attempt_names_the_visitor_and_the_page_when_it_knows_them(
        service, mailer) -> None:
    owner = user_upserted(language="en", time_zone="America/New_York", email="olga@acme.example")

    async with TestKafkaBroker(service.runtime.broker) as broker:
        await publish(broker, owner)
        await publish(broker, attempt_blocked(owner.user_id, visitor_name="Jian Li",
                                              page_title="Intro call with Olga"))

    text = strictly_parsed(mailer, "olga@acme.example").get_body(("plain",)).get_content()
    assert ('Jian Li tried to book a meeting with you on your scheduling page '
            '"Intro call with Olga"') in text


@pytest.mark.contract
async def test_a_finnish_owner_reads_finnish(service, mailer) -> None:
    owner = user_upserted(language="fi", time_zone="Europe/Helsinki", email="olga@acme.example")

    async with TestKafkaBroker(service.runtime.broker) as broker:
        await publish(broker, owner)
        await publish(broker, attempt_blocked(owner.user_id))

    message = strictly_parsed(mailer, "olga@acme.example")
    assert message["Subject"].startswith("Varausyritys estetty: olga-intro @ pe 13.3.2026 11.00")


@pytest.mark.contract
async def test_an_unknown_owner_gets_the_email_when_records_tells_us_about_them(service, mailer) -> None:
    owner = user_upserted(email="olga@acme.example")

    async with TestKafkaBroker(service.runtime.broker) as broker:
        await publish(broker, booking_requested(owner.user_id))
        assert mailer.sent == []  # held, and the booking event was committed
        await publish(broker, owner)
        await publish(broker, owner)  # a redelivery of the user sends nothing more

    assert len(mailer.messages_to("olga@acme.example")) == 1


async def test_a_visitor_name_with_a_line_break_adds_no_header(service, mailer) -> None:
    # The contract refuses a line break in a name (next test); one that slips through
    # anyway (built without validation here) still adds no header.
    owner = user_upserted(email="olga@acme.example")
    await service.deps.read_models.record_user(owner)
    request = booking_requested(owner.user_id)
    request = unchecked(request, visitor=unchecked(request.visitor,
                                                   name="Eve\r\nBcc: spy@evil.example"))

    await service.deps.owner_emails.on_booking_event(request)

    message = strictly_parsed(mailer, "olga@acme.example")
    assert message["Bcc"] is None and "spy@evil.example" not in str(message["To"])
    assert message["Subject"].startswith("Booking request: Eve Bcc: spy@evil.example @ ")
    assert [r for _, _, rcpts in mailer.sent for r in rcpts] == ["olga@acme.example"]


@pytest.mark.contract
@pytest.mark.parametrize("name", ["Eve\r\nBcc: spy@evil.example", "nul\x00name"])
async def test_a_booking_with_text_the_contract_refuses_is_dead_lettered_and_the_next_mailed(
        service, mailer, name: str) -> None:
    owner = user_upserted(email="olga@acme.example")
    bad = booking_requested(owner.user_id)
    bad = unchecked(bad, visitor=unchecked(bad.visitor, name=name))
    dead = capture_dead_letters(service.runtime.broker,
                                TOPIC_PREFIX + "booking-pages.events.v1.dlq")

    async with TestKafkaBroker(service.runtime.broker) as broker:
        await publish(broker, owner)
        await publish(broker, bad)
        await publish(broker, booking_requested(owner.user_id))

    assert [dict(record.headers)["dlq_reason"] for record in dead] == [b"validation_failed"]
    message = strictly_parsed(mailer, "olga@acme.example")  # the good booking's, only
    assert message["Subject"].startswith("Booking request: Priya Shah @ ")


async def test_a_5xx_fails_for_good_and_raises_email_delivery_failed(
        service, mailer, store, publisher) -> None:
    mailer.failures.append(PermanentDeliveryError("5.1.1 no such user", 550))
    owner = user_upserted(email="olga@acme.example")
    await service.deps.read_models.record_user(owner)
    request = booking_requested(owner.user_id)

    await service.deps.owner_emails.on_booking_event(request)
    await service.deps.owner_emails.on_booking_event(request)

    assert mailer.attempts == 1
    planned = owner_email_for(request)
    entry = store.collection(MAIL_LOG).docs[planned.email_id]
    assert (entry["state"], entry["error"]["code"], entry["kind"]) == (
        "failed", 550, "offline_booking_request")
    [failed] = raised(publisher, EmailDeliveryFailed)
    assert (failed.kind, failed.smtp_code, failed.email_id) == (
        "offline_booking_request", 550, planned.email_id)


async def test_an_owner_address_that_cannot_be_mailed_fails_like_every_email(
        service, mailer, store) -> None:
    # The schema takes a non-ASCII local part; SMTP without SMTPUTF8 cannot send to it.
    owner = user_upserted(email="ölga@acme.example")
    await service.deps.read_models.record_user(owner)
    request = booking_requested(owner.user_id)

    assert await service.deps.owner_emails.on_booking_event(request) == "failed"
    assert await service.deps.owner_emails.on_booking_event(request) == "failed"

    assert mailer.attempts == 0
    entry = store.collection(MAIL_LOG).docs[owner_email_for(request).email_id]
    assert (entry["state"], entry["error"]["reason"], entry["attempts"]) == (
        "failed", "invalid_address", 0)  # nothing was handed to the server


async def test_a_temporary_failure_goes_to_the_retry_queue_which_sends_once(
        service, mailer, clock) -> None:
    mailer.failures.append(TransientDeliveryError("4.7.1 try later", 451))
    owner = user_upserted(email="olga@acme.example")
    await service.deps.read_models.record_user(owner)
    request = booking_requested(owner.user_id)

    assert await service.deps.owner_emails.on_booking_event(request) == "retrying"
    await service.deps.owner_emails.on_booking_event(request)  # redelivered: queued already
    assert mailer.attempts == 1
    clock.now = NOW + timedelta(minutes=1)
    assert await service.retries.retry_due() == 1
    await service.deps.owner_emails.on_booking_event(request)

    assert mailer.attempts == 2 and len(mailer.sent) == 1


async def test_only_the_path_that_claimed_an_owner_email_sends_it(service, mailer) -> None:
    owner_emails = service.deps.owner_emails
    owner = user_upserted(email="olga@acme.example")
    await service.deps.read_models.record_user(owner)
    request = booking_requested(owner.user_id)
    planned = owner_email_for(request)
    user = await service.deps.read_models.user("acc_1", owner.user_id)
    claimed = owner_emails.job(planned, request, user, None, path=BOOKING_PATH)
    await service.mail_log.claim(claimed.entry, NOW)  # the booking path is sending it

    assert await owner_emails.deliver(planned, request, user, path=OWNER_KNOWN_PATH) is None
    assert mailer.sent == []
    await owner_emails.deliver(planned, request, user, path=BOOKING_PATH)  # its own retry
    assert len(mailer.sent) == 1
