"""Updates, removed attendees and cancellations reach each attendee exactly once, with a
correct .ics (R14, R21, R42), through real Kafka, FerretDB and the SMTP sink."""

from __future__ import annotations

import uuid

from support import wait_for
from support.mail import mails
from support.notifications import (
    attendee,
    calendar,
    canceled,
    new_contact,
    publish_event,
    received,
    rescheduled,
    scheduled,
    updated,
)
from support.services import Stack
from support.skeleton import Account, wait_processed


async def test_update_removal_and_cancellation_each_arrive_once(stack: Stack,
                                                                account: Account) -> None:
    dana, luca = new_contact(stack, account, first_name="Dana"), new_contact(
        stack, account, first_name="Luca")
    dana_att, luca_att = attendee(dana), attendee(luca)
    title = f"Changes-{uuid.uuid4().hex[:8]}"
    base = scheduled(account, title, [dana_att, luca_att])

    await publish_event(stack, base)
    await wait_for(lambda: len(mails(base.ical_uid)) == 2 or None, "both invitations")

    # v1: the title changes (attendee-visible) -> REQUEST SEQUENCE:1 to both, once each,
    # even though the event is delivered twice.
    v1 = updated(base, 1, ["title"], title=f"{title} (agenda)")
    await publish_event(stack, v1)
    await publish_event(stack, v1)
    await wait_for(lambda: len(mails(base.ical_uid)) == 4 or None, "both updates")

    # v2: only reminders change -> nothing; v3: moved -> REQUEST SEQUENCE:3 to both.
    await publish_event(stack, updated(base, 2, ["reminders"]))
    await publish_event(stack, rescheduled(base, 3))
    await wait_for(lambda: len(mails(base.ical_uid)) == 6 or None, "both reschedule updates")

    # v4: Luca is removed -> CANCEL SEQUENCE:4 to Luca only, REQUEST SEQUENCE:4 to Dana.
    v4 = updated(base, 4, ["attendees"], removed=[luca_att], attendees=[dana_att])
    await publish_event(stack, v4)
    await wait_for(lambda: len(mails(base.ical_uid)) == 8 or None, "the removal emails")

    # v5: canceled -> CANCEL SEQUENCE:5 to Dana (Luca is no longer an attendee).
    # A late copy of v1 afterwards sends nothing (older SEQUENCE).
    await publish_event(stack, canceled(base, 5, attendees=[dana_att]))
    partition, offset = await publish_event(stack, v1)
    await wait_processed(stack, partition, offset, "process the late copy of v1")

    assert received(base, dana["email"]) == [("CANCEL", 5), ("REQUEST", 0), ("REQUEST", 1),
                                             ("REQUEST", 3), ("REQUEST", 4)]
    assert received(base, luca["email"]) == [("CANCEL", 4), ("REQUEST", 0), ("REQUEST", 1),
                                             ("REQUEST", 3)]

    [luca_cancel] = [m for m in mails(base.ical_uid, luca["email"]) if "METHOD:CANCEL" in
                     calendar(m)]
    ics = calendar(luca_cancel)
    assert "STATUS:CANCELLED" in ics and f"UID:{base.ical_uid}" in ics
    assert luca["email"] in ics and dana["email"] not in ics
    [dana_cancel] = [m for m in mails(base.ical_uid, dana["email"]) if "METHOD:CANCEL" in
                     calendar(m)]
    assert "STATUS:CANCELLED" in calendar(dana_cancel)
    assert dana_cancel.message["Subject"].startswith("Canceled: ")
    assert luca_cancel.message.get_body(("calendar",)).get_param("method") == "CANCEL"
    assert all(f"UID:{base.ical_uid}" in calendar(m) for m in mails(base.ical_uid))
