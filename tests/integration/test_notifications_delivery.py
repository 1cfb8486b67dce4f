"""SMTP trouble and languages: a 451 for a while still delivers once, a 550 publishes
EmailDeliveryFailed, an Italian contact reads Italian and a Finnish one Finnish."""

from __future__ import annotations

import uuid

import httpx
from convene_schemas.events.meetings import Attendee
from support import wait_for
from support.mail import mails
from support.notifications import (
    attendee,
    calendar,
    new_contact,
    notification_events,
    publish_event,
    received,
    scheduled,
    smtp_faults,
)
from support.services import Stack
from support.skeleton import Account, wait_processed


async def test_a_451_for_a_while_is_retried_and_delivered_once(stack: Stack,
                                                               account: Account) -> None:
    contact = new_contact(stack, account, first_name="Greylisted")
    meeting = scheduled(account, f"Retry-{uuid.uuid4().hex[:8]}", [attendee(contact)])
    with smtp_faults({contact["email"]: [451, "4.7.1 greylisted, try again later"]}) as lift:
        await publish_event(stack, meeting)

        async def retried() -> bool:
            async with httpx.AsyncClient(base_url=stack.url("notifications"),
                                         timeout=10) as client:
                response = await client.get(
                    "/emails", params={"meeting_id": meeting.meeting_id},
                    headers={"Authorization": f"Bearer {account.admin}"})
            items = response.json()["items"] if response.status_code == 200 else []
            return bool(items) and items[0]["state"] == "retrying" and items[0]["error"] and (
                items[0]["error"]["code"] == 451)

        await wait_for(retried, "the 451 to be noted while the email is retried", timeout=30)
        assert mails(meeting.ical_uid, contact["email"]) == []
        lift()
        await wait_for(lambda: mails(meeting.ical_uid, contact["email"]),
                       "the email once the server accepts it", timeout=60)
    partition, offset = await publish_event(stack, meeting)  # and a redelivery
    await wait_processed(stack, partition, offset, "process the redelivery", timeout=60)
    assert received(meeting, contact["email"]) == [("REQUEST", 0)]
    sent = await wait_for(lambda: _for(notification_events(stack, "InvitationSent"),
                                       meeting.meeting_id), "InvitationSent", timeout=30)
    assert [(e["recipient"]["email"], e["kind"], e["sequence"]) for e in sent] == [
        (contact["email"], "invitation", 0)]


async def _for(events, meeting_id: str) -> list[dict] | None:
    """The events (an awaitable list) about one meeting, or None while there are none."""
    found = [e for e in await events if e.get("meeting_id") == meeting_id]
    return found or None


async def test_a_550_publishes_email_delivery_failed(stack: Stack, account: Account) -> None:
    bounce = new_contact(stack, account, first_name="Bounce")
    ok = new_contact(stack, account, first_name="Fine")
    meeting = scheduled(account, f"Bounce-{uuid.uuid4().hex[:8]}",
                        [attendee(bounce), attendee(ok)])
    with smtp_faults({bounce["email"]: [550, "5.1.1 no such user"]}):
        await publish_event(stack, meeting)
        failed = await wait_for(lambda: _for(notification_events(stack, "EmailDeliveryFailed"),
                                             meeting.meeting_id),
                                "EmailDeliveryFailed on the notifications topic", timeout=60)
    assert [(e["recipient_email"], e["smtp_code"], e["enhanced_status"], e["permanent"],
             e["kind"]) for e in failed] == [(bounce["email"], 550, "5.1.1", True, "invitation")]
    await wait_for(lambda: mails(meeting.ical_uid, ok["email"]), "the other attendee's email")
    assert mails(meeting.ical_uid, bounce["email"]) == []


async def test_italian_and_finnish_contacts_get_their_language(stack: Stack,
                                                              account: Account) -> None:
    italian = new_contact(stack, account, language="it", first_name="Giulia")
    finnish = new_contact(stack, account, language="fi", first_name="Aino",
                          time_zone="Europe/Helsinki")
    english = new_contact(stack, account, language="en", first_name="Sam")
    meeting = scheduled(account, f"Lang-{uuid.uuid4().hex[:8]}",
                        [attendee(italian), attendee(finnish), attendee(english)])
    await publish_event(stack, meeting)
    await wait_for(lambda: len(mails(meeting.ical_uid)) == 3 or None, "three invitations",
                   timeout=60)

    def texts(address: str) -> tuple[str, str, str]:
        [mail] = mails(meeting.ical_uid, address)
        message = mail.message
        return (message["Subject"], message.get_body(("plain",)).get_content(),
                message.get_body(("html",)).get_content())

    subject, text, html = texts(italian["email"])
    assert subject.startswith("Invito: ") and "Gentile Giulia Tester" in text
    assert "ti ha invitato a una riunione" in text and '<html lang="it">' in html
    subject, text, html = texts(finnish["email"])
    assert subject.startswith("Kutsu: ") and "Hei Aino Tester" in text
    assert "kutsui sinut kokoukseen" in text and "(Europe/Helsinki)" in text
    assert '<html lang="fi">' in html
    subject, text, _ = texts(english["email"])
    assert subject.startswith("Invitation: ") and "invited you to a meeting" in text


async def test_cr_lf_in_multi_line_fields_adds_no_header_recipient_or_property(
    stack: Stack, account: Account
) -> None:
    # Only the multi-line fields (a location's value, the attendee description) may carry
    # CR/LF on the wire; the contract refuses them in titles and names, and any control
    # character (NUL included) everywhere else: such events are dead-lettered as invalid
    # (shared/schemas/tests/test_text_and_time_rules.py, the composers' defence in depth in
    # services/notifications/tests/test_message.py and test_ics.py).
    contact = new_contact(stack, account, first_name="Eve")
    evil = f"evil-{uuid.uuid4().hex[:8]}@attacker.example"
    marker = uuid.uuid4().hex[:8]
    injected = Attendee(kind="contact", id=contact["id"], email=contact["email"],
                        name=f"Eve Bcc: {evil} X-Injected: {marker}", language="en",
                        time_zone="Europe/Rome", invite=True)
    meeting = scheduled(account, f"Inject-{marker} Bcc: {evil} ATTENDEE:mailto:{evil}",
                        [injected])
    meeting = type(meeting).model_validate({
        **meeting.model_dump(),
        "location": {"kind": "custom", "value": f"Room 1\r\nORGANIZER:mailto:{evil}"},
        "attendee_description": f"<p>Hi</p>\r\nBEGIN:VALARM\r\nX-Injected:{marker}"},
        strict=False)
    await publish_event(stack, meeting)
    [mail] = await wait_for(lambda: mails(meeting.ical_uid, contact["email"]) or None,
                            "the invitation", timeout=60)

    assert mail.rcpt_tos == [contact["email"]]
    assert mails(meeting.ical_uid, evil) == []
    message = mail.message
    assert message["Bcc"] is None and message["X-Injected"] is None
    # The text stays inside the display name / subject, on one line: no address of its own.
    assert [a.addr_spec for a in message["To"].addresses] == [contact["email"]]
    assert "\n" not in message["Subject"] and "\n" not in str(message["To"])
    lines = calendar_lines(mail)
    assert not any(line.startswith(("ATTENDEE:mailto:" + evil, "BEGIN:VALARM", "X-INJECTED",
                                    "X-Injected")) for line in lines)
    assert [line for line in lines if line.startswith("ORGANIZER")] == [
        next(line for line in lines if line.startswith("ORGANIZER"))]
    assert evil not in next(line for line in lines if line.startswith("ORGANIZER"))
    assert sum(1 for line in lines if line.startswith("ATTENDEE")) == 1


def calendar_lines(mail) -> list[str]:
    """The unfolded lines of the .ics (continuation lines joined)."""
    return calendar(mail).replace("\r\n ", "").replace("\n ", "").splitlines()
