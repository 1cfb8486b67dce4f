"""R34: a booking becomes one meeting of the page owner; invitations follow R28."""

from __future__ import annotations

from datetime import timedelta

from convene_schemas.events.booking_pages import BookingRequested, Visitor


def booking(acc: str, owner: str, records, **fields) -> BookingRequested:
    start = records.now + timedelta(days=3)
    values = {"contact_id": None, "page_offline": False}
    values.update(fields)
    return BookingRequested(
        account_id=acc, version=0, occurred_at=records.now, booking_id="bkg_1", page_id="pg_1",
        slug="alice", owner_user_id=owner, title="Intro call", start=start,
        end=start + timedelta(minutes=30), time_zone="Europe/Rome",
        visitor=Visitor(name="Dana Lee", email="dana@globex.example", time_zone="UTC"),
        **values)


async def test_a_booking_becomes_one_meeting_with_the_matched_contact(harness, records) -> None:
    acc, owner, ct = records.new_id("acc"), records.new_id("usr"), records.new_id("ct")
    await harness.deliver(records.user(acc, owner))
    await harness.deliver(records.contact(acc, ct, email="dana@globex.example"))
    await harness.deliver(records.calendar(acc, owner))
    event = booking(acc, owner, records)
    await harness.deliver(event)
    await harness.deliver(event)  # redelivered: still one meeting
    [scheduled] = [e.event for e in harness.publisher.events()]
    assert (scheduled.source, scheduled.booking_id, scheduled.host_user_id) == (
        "booking_page", "bkg_1", owner)
    assert [(a.id, a.invite) for a in scheduled.attendees] == [(ct, True)]
    assert scheduled.send_invitations


async def test_an_offline_page_logs_the_meeting_without_invitations(harness, records) -> None:
    acc, owner, ct = records.new_id("acc"), records.new_id("usr"), records.new_id("ct")
    await harness.deliver(records.user(acc, owner))
    await harness.deliver(records.contact(acc, ct))
    await harness.deliver(booking(acc, owner, records, contact_id=ct, page_offline=True))
    [scheduled] = [e.event for e in harness.publisher.events()]
    assert (scheduled.send_invitations, scheduled.no_invitations_reason) == (
        False, "calendar_sync_off")
    assert [(a.id, a.no_invite_reason) for a in scheduled.attendees] == [(ct, "invitations_off")]


async def test_a_contact_whose_address_differs_in_case_is_the_visitor(harness, records) -> None:
    acc, owner, ct = records.new_id("acc"), records.new_id("usr"), records.new_id("ct")
    await harness.deliver(records.user(acc, owner))
    await harness.deliver(records.contact(acc, ct, email="DANA@Globex.example"))
    await harness.deliver(booking(acc, owner, records))  # dana@globex.example
    [scheduled] = [e.event for e in harness.publisher.events()]
    assert [a.id for a in scheduled.attendees] == [ct]


async def test_of_several_contacts_with_the_address_the_lowest_id_attends(harness,
                                                                         records) -> None:
    acc, owner = records.new_id("acc"), records.new_id("usr")
    await harness.deliver(records.user(acc, owner))
    for ct in ("ct_b", "ct_a", "ct_c"):
        await harness.deliver(records.contact(acc, ct, email="dana@globex.example"))
    await harness.deliver(booking(acc, owner, records))
    [scheduled] = [e.event for e in harness.publisher.events()]
    assert [a.id for a in scheduled.attendees] == ["ct_a"]
