"""Updates, removed attendees and cancellations (R14, R21, R42): who gets what, once."""

from __future__ import annotations

from convene_notifications.domain.planning import plan_changes
from convene_notifications.mailer import PermanentDeliveryError
from convene_notifications.store import MAIL_EVENTS
from convene_schemas.events.notifications import EmailDeliveryFailed, InvitationSent
from notifications_testing import (
    FakeMailer,
    canceled,
    contact,
    meeting,
    raised,
    rescheduled,
    updated,
)

DANA, LUCA = "dana@globex.example", "luca@initech.example"


def calendar_of(message) -> str:
    return message.get_body(("calendar",)).get_content()


def sent(mailer: FakeMailer) -> list[tuple[str, str, str]]:
    """(recipient, METHOD, SEQUENCE line) of every sent message."""
    out = []
    for message, _, [rcpt] in mailer.sent:
        ics = calendar_of(message)
        sequence = next(line for line in ics.splitlines() if line.startswith("SEQUENCE:"))
        out.append((rcpt, message.get_body(("calendar",)).get_param("method"), sequence))
    return out


async def test_an_update_sends_a_request_with_the_new_sequence_to_every_attendee(
        service, mailer) -> None:
    emails = service.deps.meeting_emails
    base = meeting(attendees=[contact(DANA), contact(LUCA)])
    await emails.send_invitations(base)
    await emails.send_updates(updated(base, version=1, title="New title"))
    await emails.send_updates(updated(base, version=1, title="New title"))  # redelivered

    assert sorted(sent(mailer)) == [(DANA, "REQUEST", "SEQUENCE:0"), (DANA, "REQUEST", "SEQUENCE:1"),
                                    (LUCA, "REQUEST", "SEQUENCE:0"), (LUCA, "REQUEST", "SEQUENCE:1")]
    update = mailer.messages_to(DANA)[-1]
    assert update["Subject"].startswith("Updated invitation: New title")
    assert f"UID:{base.ical_uid}" in calendar_of(update)
    kinds = [e["kind"] for e in await service.mail_log.for_meeting("acc_1", base.meeting_id)]
    assert sorted(kinds) == ["invitation", "invitation", "update", "update"]


async def test_a_reschedule_is_an_update_too(service, mailer) -> None:
    base = meeting(attendees=[contact(DANA)])
    await service.deps.meeting_emails.send_updates(rescheduled(base, version=2))
    [(_, method, sequence)] = sent(mailer)
    assert (method, sequence) == ("REQUEST", "SEQUENCE:2")
    assert "DTSTART;TZID=Europe/Rome:20260310T160000" in calendar_of(mailer.sent[0][0])


async def test_edits_attendees_cannot_see_send_nothing(service, mailer) -> None:
    base = meeting()
    emails = service.deps.meeting_emails
    await emails.send_updates(updated(base, changed_fields=["reminders", "meeting_type"]))
    await emails.send_updates(updated(base, changed_fields=["calendar_event"]))
    assert mailer.sent == []


async def test_a_removed_attendee_gets_a_cancel_naming_only_them(service, mailer) -> None:
    luca = contact(LUCA)
    base = meeting(attendees=[contact(DANA), luca])
    change = updated(base, version=1, changed_fields=["attendees"],
                     attendees=[base.attendees[0]], removed=[luca])
    await service.deps.meeting_emails.send_updates(change)

    assert sorted(sent(mailer)) == [(DANA, "REQUEST", "SEQUENCE:1"),
                                    (LUCA, "CANCEL", "SEQUENCE:1")]
    cancel = calendar_of(mailer.messages_to(LUCA)[0])
    assert "METHOD:CANCEL" in cancel and "STATUS:CANCELLED" in cancel
    assert LUCA in cancel and DANA not in cancel
    assert LUCA not in calendar_of(mailer.messages_to(DANA)[0])


async def test_a_canceled_meeting_sends_cancel_to_every_invited_attendee(service, mailer) -> None:
    base = meeting(attendees=[contact(DANA), contact(LUCA),
                              contact(None, invite=False, no_invite_reason="email_missing")])
    emails = service.deps.meeting_emails
    await emails.send_cancellations(canceled(base, version=3))
    await emails.send_cancellations(canceled(base, version=3))

    assert sorted(sent(mailer)) == [(DANA, "CANCEL", "SEQUENCE:3"), (LUCA, "CANCEL", "SEQUENCE:3")]
    message = mailer.messages_to(DANA)[0]
    assert "STATUS:CANCELLED" in calendar_of(message)
    assert message["Subject"].startswith("Canceled: ")


async def test_an_older_sequence_arriving_late_sends_nothing(service, mailer) -> None:
    base = meeting(attendees=[contact(DANA)])
    emails = service.deps.meeting_emails
    await emails.send_updates(updated(base, version=3, title="Third"))
    await emails.send_updates(updated(base, version=2, title="Second"))
    await emails.send_cancellations(canceled(base, version=1))
    assert sent(mailer) == [(DANA, "REQUEST", "SEQUENCE:3")]


async def test_invitations_off_or_a_pending_link_send_nothing(service, mailer) -> None:
    off = meeting(attendees=[contact(DANA, invite=False, no_invite_reason="invitations_off")],
                  send_invitations=False, no_invitations_reason="calendar_sync_off")
    emails = service.deps.meeting_emails
    await emails.send_updates(updated(off, title="x"))
    await emails.send_cancellations(canceled(off))
    pending = meeting(location={"kind": "video", "video_provider": "zoom",
                                "join_url_pending": True})
    await emails.send_updates(updated(pending, changed_fields=["title"]))
    assert mailer.sent == []


async def test_the_update_bringing_the_join_link_is_the_first_invitation(service, mailer) -> None:
    pending = meeting(attendees=[contact(DANA)],
                      location={"kind": "video", "video_provider": "zoom",
                                "join_url_pending": True})
    emails = service.deps.meeting_emails
    await emails.send_invitations(pending)  # held back
    link = {"kind": "video", "video_provider": "zoom", "join_url": "https://zoom.us/j/1",
            "join_url_pending": False}
    await emails.send_updates(updated(pending, changed_fields=["location.join_url",
                                                                  "calendar_event"],
                                       location=link))
    [message] = [m for m, _, _ in mailer.sent]
    assert message["Subject"].startswith("Invitation: ")
    assert "https://zoom.us/j/1" in calendar_of(message)


def test_a_removed_attendee_still_invited_under_the_same_address_gets_no_cancel() -> None:
    dana_contact, dana_user = contact(DANA), contact(DANA.upper(), kind="user")
    base = meeting(attendees=[dana_contact, dana_user])
    change = updated(base, changed_fields=["attendees"], attendees=[dana_user],
                     removed=[dana_contact])
    assert [(p.kind, p.method) for p in plan_changes(change)] == [("update", "REQUEST")]


async def test_sent_and_rejected_emails_publish_their_events_once(
        service, mailer, publisher, store) -> None:
    mailer.failures.append(PermanentDeliveryError("5.1.1 no such user", 550))
    base = meeting(attendees=[contact("bounce@globex.example"), contact(DANA)])
    emails = service.deps.meeting_emails
    await emails.send_invitations(base)
    await emails.send_invitations(base)

    types = sorted(envelope.type for envelope in publisher.events())
    assert types == ["com.convene.notifications.EmailDeliveryFailed",
                     "com.convene.notifications.InvitationSent"]
    [failed] = raised(publisher, EmailDeliveryFailed)
    assert (failed.smtp_code, failed.permanent, failed.enhanced_status) == (550, True, "5.1.1")
    assert failed.recipient_email == "bounce@globex.example"
    [sent_event] = raised(publisher, InvitationSent)
    assert (sent_event.recipient.email, sent_event.kind, sent_event.sequence) == (
        DANA, "invitation", 0)
    assert store.collection(MAIL_EVENTS).docs == {}  # published, then dropped
