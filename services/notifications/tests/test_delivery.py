"""Invitations go out once per (meeting, recipient, kind, sequence), whatever happens."""

from __future__ import annotations

from convene_notifications.bootstrap import Notifications
from convene_notifications.domain.planning import plan_invitations
from convene_notifications.mailer import PermanentDeliveryError, TransientDeliveryError
from notifications_testing import NOW, contact, meeting
from pymongo.errors import NetworkTimeout


async def entries(service: Notifications, event) -> list[dict]:
    return await service.mail_log.for_meeting(event.account_id, event.meeting_id)


async def test_each_invited_attendee_receives_one_invitation(service, mailer) -> None:
    event = meeting(attendees=[contact("dana@globex.example"), contact("luca@initech.example"),
                               contact("no-invite@x.example", invite=False,
                                       no_invite_reason="email_invalid")])
    await service.deps.meeting_emails.send_invitations(event)

    assert sorted(r for _, _, rcpts in mailer.sent for r in rcpts) == [
        "dana@globex.example", "luca@initech.example"]
    assert {sender for _, sender, _ in mailer.sent} == {"meetings@convene.test"}
    logged = await entries(service, event)
    assert [(e["recipient"], e["state"], e["kind"], e["sequence"]) for e in logged] == [
        ("dana@globex.example", "sent", "invitation", 0),
        ("luca@initech.example", "sent", "invitation", 0)]
    assert all(e["sent_at"] == NOW and e["account_id"] == "acc_1" for e in logged)


async def test_the_same_event_handled_twice_sends_once(service, mailer) -> None:
    event, emails = meeting(), service.deps.meeting_emails
    await emails.send_invitations(event)
    second = await emails.send_invitations(event)

    assert len(mailer.sent) == 1
    assert [r.sent_now for r in second] == [False]


async def test_the_key_ignores_the_case_of_the_address(service, mailer) -> None:
    emails = service.deps.meeting_emails
    first = meeting(attendees=[contact("dana@globex.example")])
    await emails.send_invitations(first)
    await emails.send_invitations(first.model_copy(
        update={"attendees": [contact("DANA@Globex.example")]}))
    assert len(mailer.sent) == 1


async def test_a_new_sequence_is_a_new_email(service, mailer) -> None:
    event, emails = meeting(), service.deps.meeting_emails
    await emails.send_invitations(event)
    await emails.send_invitations(event.model_copy(update={"version": 1}))
    assert len(mailer.sent) == 2


async def test_a_sending_leftover_is_sent_again_with_the_same_message_id(service, mailer) -> None:
    event, emails = meeting(), service.deps.meeting_emails
    [planned] = plan_invitations(event)
    # A crash between the claim and the send left the entry in "sending".
    assert await service.mail_log.claim(emails.job(planned, event).entry, NOW) is None

    await emails.send_invitations(event)

    [message] = mailer.messages_to("dana.lee@globex.example")
    assert message["Message-ID"] == f"<{planned.email_id}@convene.test>"
    [entry] = await entries(service, event)
    assert entry["state"] == "sent" and entry["message_id"] == message["Message-ID"]


async def test_a_permanent_refusal_marks_the_email_failed_and_is_not_retried(
        service, mailer) -> None:
    mailer.failures.append(PermanentDeliveryError("5.1.1 no such user", 550))
    event, emails = meeting(), service.deps.meeting_emails
    await emails.send_invitations(event)
    await emails.send_invitations(event)

    assert mailer.attempts == 1 and mailer.sent == []
    [entry] = await entries(service, event)
    assert entry["state"] == "failed"
    assert entry["error"] == {"reason": "rejected", "code": 550, "message": "5.1.1 no such user"}


async def test_a_temporary_failure_queues_the_email_instead_of_raising(service, mailer) -> None:
    mailer.failures.append(TransientDeliveryError("4.3.0 try again later", 451))
    event, emails = meeting(), service.deps.meeting_emails

    [result] = await emails.send_invitations(event)  # returns: the consumer commits
    assert result.state == "retrying" and mailer.sent == []
    [entry] = await entries(service, event)
    assert entry["state"] == "retrying" and entry["error"]["code"] == 451
    assert entry["attempts"] == 1 and entry["next_attempt_at"] > NOW

    await emails.send_invitations(event)  # a redelivery leaves it to the retry queue
    assert mailer.attempts == 1


async def test_an_address_that_does_not_parse_is_failed_and_never_sent(service, mailer) -> None:
    # Invited upstream (meetings checks addresses), yet not mailable here.
    event = meeting(attendees=[contact("dana@@globex.example"), contact("luca@initech.example")])
    await service.deps.meeting_emails.send_invitations(event)

    assert [rcpts for _, _, rcpts in mailer.sent] == [["luca@initech.example"]]
    states = {e["recipient"]: (e["state"], e["error"] and e["error"]["reason"])
              for e in await entries(service, event)}
    assert states == {"dana@@globex.example": ("failed", "invalid_address"),
                      "luca@initech.example": ("sent", None)}


async def test_nothing_is_sent_when_the_meeting_sends_no_invitations(service, mailer) -> None:
    event = meeting(send_invitations=False, no_invitations_reason="disabled_by_user",
                    attendees=[contact(invite=False, no_invite_reason="invitations_off")])
    await service.deps.meeting_emails.send_invitations(event)
    assert mailer.attempts == 0
    assert await entries(service, event) == []


async def test_a_store_timeout_after_the_server_accepted_does_not_send_twice(
        service, mailer, store) -> None:
    # The store is overloaded right after the server took the email: writing the outcome
    # times out once. The write is tried again in place; the email is not sent again.
    event, emails = meeting(), service.deps.meeting_emails
    collection = store.collection("mail_log")
    real_update = collection.update_one
    timeouts = [NetworkTimeout("timed out")]

    async def update_one(query, update, upsert=False):
        if timeouts and update.get("$set", {}).get("state") == "sent":
            raise timeouts.pop()
        return await real_update(query, update, upsert=upsert)

    collection.update_one = update_one  # type: ignore[method-assign]
    results = await emails.send_invitations(event)
    again = await emails.send_invitations(event)  # the event redelivered after all

    assert [r.sent_now for r in results] == [True] and [r.sent_now for r in again] == [False]
    assert len(mailer.sent) == 1 and timeouts == []
    assert [(e["state"], e["attempts"]) for e in await entries(service, event)] == [("sent", 1)]
