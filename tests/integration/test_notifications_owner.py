"""The page owner's emails (R44) and the account's default language, against the real
stack: booking-pages' events (built from the contract) reach the owner once, in their
language and time zone; an online booking emails nobody; a contact without a language
reads the account's default language."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage

from convene_schemas.events.booking_pages import (
    BookingAttemptBlocked,
    BookingRequested,
    FormAnswer,
    Visitor,
)
from convene_schemas.events.meetings import Attendee
from convene_schemas.events.records import UserUpserted
from support import wait_for
from support.mail import StoredMail, mails
from support.notifications import (
    BOOKING_PAGES_TOPIC,
    RECORDS_TOPIC,
    bare_contact,
    change_account_settings,
    new_user,
    notification_events,
    notifications_committed_past,
    publish_event,
    publish_on_its_topic,
    record_position,
    scheduled,
    smtp_faults,
)
from support.services import Stack
from support.skeleton import Account

START = datetime(2027, 1, 15, 9, 0, tzinfo=timezone.utc)  # 10:00 in Rome, 04:00 in New York
STRICT = policy.default.clone(raise_on_defect=True)


def offline_request(account: Account, owner: dict, marker: str, *,
                    offline: bool = True) -> BookingRequested:
    """A visitor's booking on ``owner``'s page; ``marker`` names the visitor and the page."""
    return BookingRequested(
        account_id=account.id, version=0, occurred_at=datetime.now(timezone.utc),
        booking_id=f"bk_{uuid.uuid4().hex}", page_id=f"pg_{marker}", slug=f"intro-{marker}",
        owner_user_id=owner["id"],
        visitor=Visitor(name=f"Priya {marker}", email=f"priya-{marker}@hooli.example",
                        time_zone="Europe/London", language="en"),
        title=f"Intro call {marker}", start=START, end=START + timedelta(minutes=30),
        time_zone="Europe/Rome", page_offline=offline,
        form_answers=[FormAnswer(field="topic", label="Topic", value="Pricing for 40 seats")])


def blocked_attempt(account: Account, owner: dict, marker: str,
                    reason: str) -> BookingAttemptBlocked:
    return BookingAttemptBlocked(
        account_id=account.id, version=0, occurred_at=datetime.now(timezone.utc),
        attempt_id=f"ba_{uuid.uuid4().hex}", page_id=f"pg_{marker}", slug=f"intro-{marker}",
        owner_user_id=owner["id"], reason=reason,
        inactive_calendar_ids=["sales@group.calendar.google.com"]
        if reason == "calendar_access_lost" else [],
        attempted_start=START, attempted_end=START + timedelta(minutes=30),
        time_zone="Europe/Berlin", visitor_email=f"jian-{marker}@example.org")


def strictly_parsed(mail: StoredMail) -> EmailMessage:
    """The stored bytes parsed with the default policy, any defect an error."""
    message = message_from_bytes(mail.raw, policy=STRICT)
    assert all(not part.defects for part in message.walk())
    return message  # type: ignore[return-value]


def text_of(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()


async def the_one_email(marker: str, owner: dict) -> EmailMessage:
    found = await wait_for(lambda: mails(marker, owner["email"]),
                           "the owner's email", timeout=60)
    assert len(found) == 1
    return strictly_parsed(found[0])


async def processed(stack: Stack, position: tuple[int, int], topic: str = BOOKING_PAGES_TOPIC,
                    what: str = "notifications to process the booking event") -> None:
    await wait_for(lambda: notifications_committed_past(stack, topic, *position), what,
                   timeout=60)


async def test_an_offline_request_emails_the_owner_once_in_their_language(
        stack: Stack, account: Account) -> None:
    owner = new_user(stack, account, language="it", time_zone="Europe/Rome")
    marker = uuid.uuid4().hex[:10]
    request = offline_request(account, owner, marker)

    await publish_on_its_topic(stack, request)
    again = await publish_on_its_topic(stack, request)  # published twice

    message = await the_one_email(marker, owner)
    await processed(stack, again)
    assert len(mails(marker, owner["email"])) == 1
    assert str(message["Subject"]) == (f"Richiesta di prenotazione: Priya {marker} @ "
                                       "ven 15 gen 2027 10:00 (Europe/Rome)")
    assert message["To"].addresses[0].addr_spec == owner["email"]
    assert message["Reply-To"].addresses[0].addr_spec == f"priya-{marker}@hooli.example"
    text = text_of(message)
    assert f"priya-{marker}@hooli.example" in text and f"«intro-{marker}»" in text
    assert "non è stato aggiunto nulla a nessun calendario" in text
    assert "Topic: Pricing for 40 seats" in text


async def test_an_online_booking_emails_the_owner_nothing(stack: Stack,
                                                          account: Account) -> None:
    owner = new_user(stack, account, language="en", time_zone="Europe/Rome")
    marker = uuid.uuid4().hex[:10]

    position = await publish_on_its_topic(stack, offline_request(account, owner, marker,
                                                                 offline=False))

    await processed(stack, position)
    assert mails(marker) == []


async def test_a_blocked_attempt_emails_the_owner_once(stack: Stack, account: Account) -> None:
    owner = new_user(stack, account, language="en", time_zone="America/New_York")
    marker = uuid.uuid4().hex[:10]

    await publish_on_its_topic(stack, blocked_attempt(account, owner, marker,
                                                      "calendar_access_lost"))

    message = await the_one_email(marker, owner)
    assert str(message["Subject"]) == (f"Booking attempt blocked: intro-{marker} @ "
                                       "Fri, Jan 15, 2027 4:00 AM (America/New_York)")
    text = text_of(message)
    assert "remove the inactive calendar in your calendar settings" in text
    assert "sales@group.calendar.google.com" in text and f"jian-{marker}@example.org" in text


async def test_a_finnish_owner_reads_finnish(stack: Stack, account: Account) -> None:
    owner = new_user(stack, account, language="fi", time_zone="Europe/Helsinki")
    marker = uuid.uuid4().hex[:10]

    await publish_on_its_topic(stack, blocked_attempt(account, owner, marker,
                                                      "pages_turned_off"))

    message = await the_one_email(marker, owner)
    assert str(message["Subject"]).startswith(f"Varausyritys estetty: intro-{marker} @ "
                                              "pe 15.1.2027 11.00")
    assert "Ajanvaraussivut on poistettu käytöstä tililtäsi" in text_of(message)


async def test_a_contact_without_a_language_reads_the_accounts_default(stack: Stack) -> None:
    account = Account(stack)  # its own account: the shared one keeps English
    settings = change_account_settings(stack, account, default_language="it")
    position = await wait_for(lambda: record_position(stack, account.id, settings["version"]),
                              "AccountSettingsChanged on the records topic", timeout=30)
    await processed(stack, position, RECORDS_TOPIC, "notifications to read the settings")
    contact = bare_contact(stack, account)
    assert contact["language"] is None
    meeting = scheduled(account, f"Defaults-{uuid.uuid4().hex[:8]}", [Attendee(
        kind="contact", id=contact["id"], email=contact["email"], name="Bea Bare",
        invite=True)])

    await publish_event(stack, meeting)

    [mail] = await wait_for(lambda: mails(meeting.ical_uid, contact["email"]),
                            "the invitation", timeout=60)
    message = strictly_parsed(mail)
    assert str(message["Subject"]).startswith(f"Invito: {meeting.title} @ ")
    assert "ti ha invitato a una riunione" in text_of(message)


async def test_an_owner_records_has_not_told_us_about_gets_the_email_once_they_are_known(
        stack: Stack, account: Account) -> None:
    marker = uuid.uuid4().hex[:10]
    owner = {"id": f"usr_{marker}", "email": f"late-{marker}@acme.example"}
    position = await publish_on_its_topic(stack, offline_request(account, owner, marker))
    await processed(stack, position)  # committed without the owner: held, not blocking
    assert mails(marker) == []
    user = UserUpserted(account_id=account.id, version=0, occurred_at=datetime.now(timezone.utc),
                        user_id=owner["id"], email=owner["email"], name="Late Owner",
                        time_zone="Europe/Rome", language="en", seat="none",
                        personal_email_access=False, active=True)

    await publish_on_its_topic(stack, user)
    again = await publish_on_its_topic(stack, user)  # a redelivery sends nothing more

    message = await the_one_email(marker, owner)
    await processed(stack, again, RECORDS_TOPIC, "notifications to process the user again")
    assert len(mails(marker, owner["email"])) == 1
    assert str(message["Subject"]).startswith(f"Booking request: Priya {marker} @ ")


async def test_a_5xx_for_the_owner_publishes_email_delivery_failed(stack: Stack,
                                                                   account: Account) -> None:
    owner = new_user(stack, account, language="en", time_zone="Europe/Rome")
    marker = uuid.uuid4().hex[:10]

    async def failed() -> list[dict] | None:
        found = [e for e in await notification_events(stack, "EmailDeliveryFailed")
                 if e["recipient_email"] == owner["email"]]
        return found or None

    with smtp_faults({owner["email"]: [550, "5.1.1 no such user"]}):
        await publish_on_its_topic(stack, blocked_attempt(account, owner, marker,
                                                          "calendar_access_lost"))
        events = await wait_for(failed, "EmailDeliveryFailed for the owner", timeout=60)
    assert [(e["kind"], e["smtp_code"], e["permanent"], e["meeting_id"]) for e in events] == [
        ("booking_attempt_blocked", 550, True, None)]
    assert mails(marker) == []
