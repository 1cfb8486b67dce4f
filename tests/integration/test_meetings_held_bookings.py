"""Nothing is lost: a booking that reaches meetings before its owner's UserUpserted is held,
then booked exactly once when the owner becomes known, with the contact records made of the
visitor (real stack, real Kafka and store)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from convene_schemas.envelope import from_kafka_message, new_event_id
from convene_schemas.events.booking_pages import BookingRequested, Visitor
from convene_schemas.events.meetings import MeetingScheduled
from convene_schemas.events.records import UserUpserted
from pymongo import AsyncMongoClient
from support import endpoint, wait_for
from support.meetings import (
    MeetingsAccount,
    booked_records,
    call,
    consumed_by,
    contacts_with_email,
    publish_as,
)
from support.services import Stack
from support.skeleton import events_on

BOOKINGS = "booking-pages.events.v1"
RECORDS = "records.events.v1"


async def held_bookings(stack: Stack, account_id: str) -> list[dict]:
    """meetings' held bookings of the account, read from its database."""
    client: AsyncMongoClient = AsyncMongoClient(endpoint("CONVENE_MONGO_URL"))
    try:
        held = client[stack.database("meetings")]["held_bookings"]
        return [d async for d in held.find({"account_id": account_id})]
    finally:
        await client.close()


async def owners_meetings(stack: Stack, acc: MeetingsAccount, owner: str) -> list[dict]:
    """GET /meetings?host_user_id=owner, as a member of the team sees them."""
    team = stack.token(acc.id, "usr_admin", roles="team")
    response = await call(stack, "GET", f"/meetings?host_user_id={owner}", team)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def owner_upserted(account_id: str, user_id: str) -> UserUpserted:
    """records' announcement of the page owner, as records would publish it."""
    return UserUpserted(
        account_id=account_id, version=1, occurred_at=datetime.now(timezone.utc),
        user_id=user_id, email=f"owner-{uuid.uuid4().hex[:8]}@held.example", name="Olive Owner",
        time_zone="Europe/Rome", language="en", seat="sales_professional",
        personal_email_access=True, active=True)


async def test_a_booking_before_its_owner_is_held_then_booked_once(stack: Stack) -> None:
    """The order is forced, not hoped for: the owner is a fresh user id that records never
    created, so no UserUpserted of it exists until this test publishes one on the records
    topic (as records would: full state, paid seat, version 1; records never publishes for
    this id, so no other version competes). The booking (also redelivered, with the same and
    with a new event id) is consumed first; records makes the visitor a contact, and only
    once meetings knows that contact (the booking then waits for its owner alone) is the
    owner announced."""
    acc = MeetingsAccount(stack)
    owner = f"usr_{uuid.uuid4().hex}"
    start = (datetime.now(timezone.utc) + timedelta(days=5)).replace(microsecond=0)
    event = BookingRequested(
        account_id=acc.id, version=0, occurred_at=datetime.now(timezone.utc),
        booking_id=f"bkg_{uuid.uuid4().hex[:12]}", page_id="pg_held", slug="olive",
        owner_user_id=owner, contact_id=None,
        visitor=Visitor(name="Vera", email=f"vera-{uuid.uuid4().hex[:6]}@visitor.example",
                        time_zone="UTC"),
        title=f"Held-{uuid.uuid4().hex[:8]}", start=start, end=start + timedelta(minutes=30),
        time_zone="Europe/Rome", page_offline=False)
    event_id = new_event_id()
    await publish_as(stack, event, event_id)
    await publish_as(stack, event, event_id)  # redelivered as is
    partition, offset = await publish_as(stack, event, new_event_id())  # and as a new event
    await consumed_by(stack, "meetings", BOOKINGS, partition, offset)
    assert await owners_meetings(stack, acc, owner) == []
    [held] = await held_bookings(stack, acc.id)
    assert (held["_id"], held["owner_user_id"], held["event_id"]) == (
        f"{acc.id}:{event.booking_id}", owner, event_id)

    async def waiting_for_the_owner_alone() -> bool:
        return [h["waiting_for"] for h in await held_bookings(stack, acc.id)] == [["owner"]]

    await wait_for(waiting_for_the_owner_alone, "meetings to know the visitor's contact",
                   timeout=60)
    [visitor] = await contacts_with_email(stack, acc, event.visitor.email)
    partition, offset = await publish_as(stack, owner_upserted(acc.id, owner), new_event_id())
    found = await wait_for(lambda: booked_records(stack, acc.id, event.booking_id),
                           "the held booking's meeting", timeout=60)
    scheduled = found[0][1]
    assert isinstance(scheduled, MeetingScheduled)
    assert (scheduled.source, scheduled.booking_id, scheduled.host_user_id, scheduled.title) == (
        "booking_page", event.booking_id, owner, event.title)
    assert [a.id for a in scheduled.attendees] == [visitor["id"]]
    await consumed_by(stack, "meetings", RECORDS, partition, offset)
    assert await held_bookings(stack, acc.id) == []
    assert [(m["id"], m["booking_id"]) for m in await owners_meetings(stack, acc, owner)] == [
        (scheduled.meeting_id, event.booking_id)]
    on_topic = [from_kafka_message(r.value, r.headers, r.key).event
                for r in await events_on(stack, "meetings.events.v1", scheduled.meeting_id)]
    assert [type(e) for e in on_topic] == [MeetingScheduled]
