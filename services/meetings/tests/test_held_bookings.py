"""A booking that arrives before meetings knows its owner, or a contact of its visitor, is
held, not lost, and booked when the owner's UserUpserted and a ContactUpserted with the
visitor's address are both applied; a deactivated owner's booking is refused, not silent."""

from __future__ import annotations

import logging

import pytest
from convene_meetings import read_models
from convene_schemas.envelope import new_event_id
from prometheus_client import REGISTRY

from services.meetings.tests.test_bookings import booking


def counted(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def held(harness) -> list[dict]:
    return list(harness.collection("held_bookings").docs.values())


def scheduled(harness) -> list:
    return [e.event for e in harness.publisher.events()]


async def visitor_is_a_contact(harness, records, acc: str) -> str:
    """A contact with the address test_bookings.booking's visitor has; its id."""
    ct = records.new_id("ct")
    await harness.deliver(records.contact(acc, ct, email="dana@globex.example"))
    return ct


async def test_a_booking_for_an_unknown_owner_is_held_then_booked(harness, records) -> None:
    acc, owner, ct = records.new_id("acc"), records.new_id("usr"), records.new_id("ct")
    await harness.deliver(records.contact(acc, ct))
    before = counted("convene_bookings_held_total")
    event_id = new_event_id()
    await harness.deliver(booking(acc, owner, records, contact_id=ct), event_id)
    assert scheduled(harness) == []
    [kept] = held(harness)
    assert (kept["_id"], kept["owner_user_id"], kept["event_id"]) == (
        f"{acc}:bkg_1", owner, event_id)
    assert counted("convene_bookings_held_total") == before + 1

    await harness.deliver(records.user(acc, owner))
    [meeting] = scheduled(harness)
    assert (meeting.source, meeting.booking_id, meeting.host_user_id) == (
        "booking_page", "bkg_1", owner)
    assert [a.id for a in meeting.attendees] == [ct]
    assert held(harness) == []
    await harness.deliver(records.user(acc, owner, version=1))  # a later upsert: nothing more
    assert len(scheduled(harness)) == 1


async def test_a_booking_redelivered_while_held_is_booked_once(harness, records) -> None:
    acc, owner = records.new_id("acc"), records.new_id("usr")
    await visitor_is_a_contact(harness, records, acc)
    before = counted("convene_bookings_held_total")
    event = booking(acc, owner, records)
    event_id = new_event_id()
    await harness.deliver(event, event_id)
    await harness.deliver(event, event_id)  # redelivered as is
    await harness.deliver(event)  # and as a new event
    assert len(held(harness)) == 1 and held(harness)[0]["event_id"] == event_id
    assert counted("convene_bookings_held_total") == before + 1
    await harness.deliver(records.user(acc, owner))
    await harness.deliver(event)  # redelivered after it was booked
    assert len(scheduled(harness)) == 1
    assert held(harness) == []


async def test_an_owner_known_between_the_check_and_the_hold_is_booked_at_once(
        harness, records, monkeypatch) -> None:
    """The race: the owner's UserUpserted is applied (finding nothing held) after the booking
    handler saw the owner unknown and before its hold landed; the re-read books it."""
    acc, owner = records.new_id("acc"), records.new_id("usr")
    await visitor_is_a_contact(harness, records, acc)
    repo = harness.service.deps.held_bookings
    hold = repo.hold

    async def user_arrives_first(*args, **kwargs):
        await read_models.record_user(harness.service.deps.read_models, records.user(acc, owner))
        return await hold(*args, **kwargs)

    monkeypatch.setattr(repo, "hold", user_arrives_first)
    await harness.deliver(booking(acc, owner, records))
    [meeting] = scheduled(harness)
    assert meeting.host_user_id == owner
    assert held(harness) == []


async def test_a_crash_before_the_held_booking_is_deleted_books_once(
        harness, records, monkeypatch) -> None:
    acc, owner = records.new_id("acc"), records.new_id("usr")
    await visitor_is_a_contact(harness, records, acc)
    await harness.deliver(booking(acc, owner, records))
    repo = harness.service.deps.held_bookings
    release = repo.release

    async def crash(*args, **kwargs):
        raise ConnectionError("store gone")

    monkeypatch.setattr(repo, "release", crash)
    user, event_id = records.user(acc, owner), new_event_id()
    with pytest.raises(ConnectionError):
        await harness.deliver(user, event_id)
    assert len(scheduled(harness)) == 1 and len(held(harness)) == 1
    monkeypatch.setattr(repo, "release", release)
    await harness.deliver(user, event_id)  # the consumer redelivers the uncommitted event
    assert len(scheduled(harness)) == 1
    assert held(harness) == []


async def test_a_deactivated_owner_refuses_the_booking_visibly(harness, records,
                                                               caplog) -> None:
    acc, owner = records.new_id("acc"), records.new_id("usr")
    await harness.deliver(records.user(acc, owner, active=False))
    before = counted("convene_bookings_refused_total", reason="owner_inactive")
    with caplog.at_level(logging.WARNING, logger="convene_meetings.bookings"):
        # The visitor is no contact: a refusal does not wait for one.
        await harness.deliver(booking(acc, owner, records))
    assert scheduled(harness) == [] and held(harness) == []
    assert counted("convene_bookings_refused_total", reason="owner_inactive") == before + 1
    assert any("bkg_1" in r.getMessage() and r.levelno == logging.WARNING
               for r in caplog.records)


async def test_a_held_booking_whose_owner_turns_out_deactivated_is_refused(
        harness, records) -> None:
    acc, owner = records.new_id("acc"), records.new_id("usr")
    await harness.deliver(booking(acc, owner, records))
    before = counted("convene_bookings_refused_total", reason="owner_inactive")
    await harness.deliver(records.user(acc, owner, active=False))
    assert scheduled(harness) == [] and held(harness) == []
    assert counted("convene_bookings_refused_total", reason="owner_inactive") == before + 1


async def test_an_unknown_contact_id_falls_back_to_the_visitor_address(harness,
                                                                        records) -> None:
    acc, owner, ct = records.new_id("acc"), records.new_id("usr"), records.new_id("ct")
    await harness.deliver(records.user(acc, owner))
    await harness.deliver(records.contact(acc, ct, email="dana@globex.example"))
    await harness.deliver(booking(acc, owner, records, contact_id=records.new_id("ct")))
    [meeting] = scheduled(harness)
    assert [a.id for a in meeting.attendees] == [ct]


async def test_a_visitor_who_is_no_contact_is_held_until_the_contact_is_known(
        harness, records) -> None:
    """records makes the visitor a contact; until its ContactUpserted is applied here the
    booking waits, then the meeting has that contact as attendee and association."""
    acc, owner, ct = records.new_id("acc"), records.new_id("usr"), records.new_id("ct")
    await harness.deliver(records.user(acc, owner))
    await harness.deliver(records.calendar(acc, owner))
    before = counted("convene_bookings_held_total")
    event = booking(acc, owner, records)
    await harness.deliver(event)
    await harness.deliver(event)  # redelivered while held
    assert scheduled(harness) == []
    [kept] = held(harness)
    assert (kept["waiting_for"], kept["visitor_email_key"]) == (["contact"],
                                                                "dana@globex.example")
    assert counted("convene_bookings_held_total") == before + 1

    await harness.deliver(records.contact(acc, records.new_id("ct"), email="bo@globex.example"))
    assert scheduled(harness) == [] and len(held(harness)) == 1  # someone else's address

    contact = records.contact(acc, ct, email="Dana@Globex.example")  # the address in any case
    await harness.deliver(contact)
    [meeting] = scheduled(harness)
    assert [(a.kind, a.id, a.invite) for a in meeting.attendees] == [("contact", ct, True)]
    assert [(r.kind, r.id) for r in meeting.associations] == [("contact", ct)]
    assert (meeting.booking_id, meeting.send_invitations) == ("bkg_1", True)
    assert held(harness) == []
    await harness.deliver(contact)  # redelivered: nothing more
    await harness.deliver(event)
    assert len(scheduled(harness)) == 1


@pytest.mark.parametrize("contact_first", [True, False])
async def test_a_booking_waiting_for_owner_and_contact_is_booked_once_both_are_known(
        harness, records, contact_first) -> None:
    acc, owner, ct = records.new_id("acc"), records.new_id("usr"), records.new_id("ct")
    await harness.deliver(booking(acc, owner, records))
    assert held(harness)[0]["waiting_for"] == ["owner", "contact"]
    first, then = records.contact(acc, ct, email="dana@globex.example"), records.user(acc, owner)
    if not contact_first:
        first, then = then, first
    await harness.deliver(first)
    assert scheduled(harness) == []
    assert held(harness)[0]["waiting_for"] == (["owner"] if contact_first else ["contact"])
    await harness.deliver(then)
    [meeting] = scheduled(harness)
    assert (meeting.host_user_id, [a.id for a in meeting.attendees]) == (owner, [ct])
    assert held(harness) == []


async def test_a_contact_known_between_the_check_and_the_hold_is_booked_at_once(
        harness, records, monkeypatch) -> None:
    """The race: the visitor's ContactUpserted is applied (finding nothing held) after the
    booking handler saw no contact and before its hold landed; the re-read books it."""
    acc, owner, ct = records.new_id("acc"), records.new_id("usr"), records.new_id("ct")
    await harness.deliver(records.user(acc, owner))
    repo = harness.service.deps.held_bookings
    hold = repo.hold

    async def contact_arrives_first(*args, **kwargs):
        await read_models.record_contact(harness.service.deps.read_models,
                                         records.contact(acc, ct, email="dana@globex.example"))
        return await hold(*args, **kwargs)

    monkeypatch.setattr(repo, "hold", contact_arrives_first)
    await harness.deliver(booking(acc, owner, records))
    [meeting] = scheduled(harness)
    assert [a.id for a in meeting.attendees] == [ct]
    assert held(harness) == []


async def test_another_accounts_contact_releases_nothing(harness, records) -> None:
    acc, owner = records.new_id("acc"), records.new_id("usr")
    await harness.deliver(records.user(acc, owner))
    await harness.deliver(booking(acc, owner, records))
    await harness.deliver(records.contact(records.new_id("acc"), records.new_id("ct"),
                                          email="dana@globex.example"))
    assert scheduled(harness) == [] and len(held(harness)) == 1
