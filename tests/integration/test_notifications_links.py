"""The video-link contract's fallback through real Kafka, FerretDB and the SMTP sink: with
no join link ``CONVENE_JOIN_LINK_WAIT_S`` after MeetingScheduled, the invitation goes out
without it and the link follows as an update; a link in time makes exactly one invitation."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from convene_schemas.events.common import Location
from support import wait_for
from support.barriers import fallbacks_settled
from support.mail import mails
from support.notifications import (
    attendee,
    calendar,
    new_contact,
    publish_event,
    received,
    scheduled,
    updated,
)
from support.services import Stack
from support.skeleton import Account

WAIT_S = 4
PENDING = Location(kind="video", video_provider="zoom", join_url_pending=True)


@pytest.fixture(scope="module", autouse=True)
def short_link_wait(stack: Stack) -> Iterator[None]:
    """notifications waits WAIT_S for join links while this module runs (then the default)."""
    stack.restart("notifications", extra={"CONVENE_JOIN_LINK_WAIT_S": str(WAIT_S)})
    try:
        yield
    finally:
        stack.restart("notifications")


def linked(url: str) -> Location:
    return Location(kind="video", video_provider="zoom", join_url=url)


async def test_no_link_in_time_invites_without_it_then_the_link_comes_as_an_update(
    stack: Stack, account: Account
) -> None:
    ana = new_contact(stack, account, first_name="Ana")
    base = scheduled(account, f"Video-{uuid.uuid4().hex[:8]}", [attendee(ana)])
    base = base.model_copy(update={"location": PENDING})
    await publish_event(stack, base)

    [first] = await wait_for(lambda: mails(base.ical_uid, ana["email"]) or None,
                             "the invitation without the link", timeout=60)
    assert first.path.stat().st_mtime >= base.occurred_at.timestamp() + WAIT_S - 0.5
    assert received(base, ana["email"]) == [("REQUEST", 0)]
    assert "https://" not in calendar(first)

    url = f"https://zoom.us/j/{uuid.uuid4().int % 10**10}"
    await publish_event(stack, updated(base, 1, ["location.join_url"], location=linked(url)))
    await wait_for(lambda: len(mails(base.ical_uid, ana["email"])) == 2 or None,
                   "the update with the link", timeout=60)
    assert received(base, ana["email"]) == [("REQUEST", 0), ("REQUEST", 1)]
    [update] = [m for m in mails(base.ical_uid, ana["email"]) if url in calendar(m)]
    assert str(update.message["Subject"]).startswith("Updated invitation:")


async def test_a_link_in_time_makes_one_invitation_with_it(stack: Stack,
                                                          account: Account) -> None:
    ben = new_contact(stack, account, first_name="Ben")
    base = scheduled(account, f"Linked-{uuid.uuid4().hex[:8]}", [attendee(ben)])
    base = base.model_copy(update={"location": PENDING})
    url = f"https://zoom.us/j/{uuid.uuid4().int % 10**10}"
    await publish_event(stack, base)
    partition, _ = await publish_event(stack, updated(base, 1, ["location.join_url"],
                                                      location=linked(url)))

    [mail] = await wait_for(lambda: mails(base.ical_uid, ben["email"]) or None,
                            "the invitation with the link", timeout=60)
    assert url in calendar(mail)
    assert str(mail.message["Subject"]).startswith("Invitation:")
    # Past the fallback's due time (a later sentinel's fallback fired), still just that one.
    await fallbacks_settled(stack, account, ben, partition=partition, after=base.occurred_at)
    assert received(base, ben["email"]) == [("REQUEST", 1)]
