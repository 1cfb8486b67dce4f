"""The retry queue through real Kafka, FerretDB and the SMTP sink: a recipient whose server
answers 451 for a while gets the invitation exactly once afterwards, and meanwhile another
meeting's invitation queued behind it on the same partition goes out (nothing waits); a
550 publishes EmailDeliveryFailed once and sends nothing."""

from __future__ import annotations

import uuid

from support import wait_for
from support.mail import mails
from support.notifications import (
    attendee,
    email_entries,
    events_about,
    new_contact,
    publish_event,
    publish_event_on,
    received,
    scheduled,
    smtp_faults,
)
from support.services import Stack
from support.skeleton import Account, wait_processed


async def test_a_451_for_a_while_delays_only_its_own_email(stack: Stack,
                                                          account: Account) -> None:
    grey = new_contact(stack, account, first_name="Greyq")
    other = new_contact(stack, account, first_name="Otherq")
    stuck = scheduled(account, f"Queued-{uuid.uuid4().hex[:8]}", [attendee(grey)])
    behind = scheduled(account, f"Behind-{uuid.uuid4().hex[:8]}", [attendee(other)])
    with smtp_faults({grey["email"]: [451, "4.7.1 greylisted, try again later"]}) as lift:
        partition, _ = await publish_event(stack, stuck)

        async def retrying() -> bool:
            entries = await email_entries(stack, account, stuck.meeting_id)
            return bool(entries) and entries[0]["state"] == "retrying" and (
                entries[0]["error"]["code"] == 451)

        await wait_for(retrying, "the 451 to put the email on the retry queue", timeout=60)
        await publish_event_on(stack, behind, partition)  # behind it in the same queue
        await wait_for(lambda: mails(behind.ical_uid, other["email"]),
                       "the other meeting's invitation while the first still fails",
                       timeout=60)
        assert mails(stuck.ical_uid, grey["email"]) == []
        assert (await email_entries(stack, account, stuck.meeting_id))[0]["state"] == "retrying"
        lift()
        await wait_for(lambda: mails(stuck.ical_uid, grey["email"]),
                       "the queued invitation once the server accepts it", timeout=180)

    partition, offset = await publish_event(stack, stuck)  # a redelivery sends nothing
    await wait_processed(stack, partition, offset, "process the redelivery", timeout=60)
    assert received(stuck, grey["email"]) == [("REQUEST", 0)]
    [entry] = await email_entries(stack, account, stuck.meeting_id)
    assert entry["state"] == "sent" and entry["error"] is None
    [stored] = mails(stuck.ical_uid, grey["email"])
    assert stored.message["Message-ID"] == entry["message_id"]
    sent = await wait_for(lambda: events_about(stack, "InvitationSent", stuck.meeting_id),
                          "InvitationSent", timeout=30)
    assert [(e["recipient"]["email"], e["kind"]) for e in sent] == [(grey["email"], "invitation")]


async def test_a_550_fails_once_with_email_delivery_failed(stack: Stack,
                                                          account: Account) -> None:
    gone = new_contact(stack, account, first_name="Goneq")
    meeting = scheduled(account, f"Gone-{uuid.uuid4().hex[:8]}", [attendee(gone)])
    with smtp_faults({gone["email"]: [550, "5.1.1 no such user"]}):
        await publish_event(stack, meeting)
        failed = await wait_for(lambda: events_about(stack, "EmailDeliveryFailed",
                                                     meeting.meeting_id),
                                "EmailDeliveryFailed on notifications.events.v1", timeout=60)
        partition, offset = await publish_event(stack, meeting)  # redelivered: no new try
        await wait_processed(stack, partition, offset, "process the redelivery", timeout=60)
    assert [(e["recipient_email"], e["smtp_code"], e["permanent"], e["attempts"])
            for e in failed] == [(gone["email"], 550, True, 1)]
    [entry] = await email_entries(stack, account, meeting.meeting_id)
    assert (entry["state"], entry["error"]["reason"]) == ("failed", "rejected")
    assert len(await events_about(stack, "EmailDeliveryFailed", meeting.meeting_id) or []) == 1
    assert mails(meeting.ical_uid, gone["email"]) == []
