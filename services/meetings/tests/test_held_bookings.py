"""A booking that arrives before meetings knows its owner is held, not lost, and booked when
the owner's UserUpserted is applied; a deactivated owner's booking is refused, not silent."""

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


async def test_a_visitor_matching_no_contact_is_no_attendee(harness, records) -> None:
    acc, owner = records.new_id("acc"), records.new_id("usr")
    await harness.deliver(records.user(acc, owner))
    await harness.deliver(booking(acc, owner, records, contact_id=records.new_id("ct")))
    [meeting] = scheduled(harness)
    assert (meeting.attendees, meeting.associations) == ([], [])
