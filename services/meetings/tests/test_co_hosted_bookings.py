"""A booking of a team page where every member must be free names co-hosts: each attends the
meeting as a user, and the booking waits, held, until meetings knows every one of them."""

from __future__ import annotations

from convene_meetings import read_models
from convene_schemas.envelope import new_event_id

from services.meetings.tests.test_bookings import booking


def held(harness) -> list[dict]:
    return list(harness.collection("held_bookings").docs.values())


def scheduled(harness) -> list:
    return [e.event for e in harness.publisher.events()]


async def test_co_hosts_attend_as_invited_users(harness, records) -> None:
    acc, owner, ct = records.new_id("acc"), records.new_id("usr"), records.new_id("ct")
    pekka, mia = records.new_id("usr"), records.new_id("usr")
    for user in (owner, pekka, mia):
        await harness.deliver(records.user(acc, user))
    await harness.deliver(records.contact(acc, ct, email="dana@globex.example"))
    await harness.deliver(records.calendar(acc, owner))
    event = booking(acc, owner, records, co_host_user_ids=[pekka, mia])
    await harness.deliver(event)
    await harness.deliver(event)  # redelivered: still one meeting
    [meeting] = scheduled(harness)
    assert meeting.host_user_id == owner and meeting.send_invitations
    assert [(a.kind, a.id, a.email, a.invite) for a in meeting.attendees] == [
        ("contact", ct, "dana@globex.example", True),
        ("user", pekka, f"{pekka}@acme.example", True),
        ("user", mia, f"{mia}@acme.example", True)]
    assert [(r.kind, r.id) for r in meeting.associations] == [("contact", ct)]


async def test_a_booking_held_for_an_unknown_co_host_is_booked_when_they_arrive(
        harness, records) -> None:
    acc, owner, ct = records.new_id("acc"), records.new_id("usr"), records.new_id("ct")
    pekka = records.new_id("usr")
    await harness.deliver(records.user(acc, owner))
    await harness.deliver(records.contact(acc, ct, email="dana@globex.example"))
    await harness.deliver(records.calendar(acc, owner))
    event, event_id = booking(acc, owner, records, co_host_user_ids=[pekka]), new_event_id()
    await harness.deliver(event, event_id)
    await harness.deliver(event, event_id)  # redelivered while held
    assert scheduled(harness) == []
    [kept] = held(harness)
    assert (kept["waiting_for"], kept["co_host_user_ids"]) == (["co_hosts"], [pekka])

    await harness.deliver(records.user(acc, records.new_id("usr")))  # someone else
    assert scheduled(harness) == [] and len(held(harness)) == 1

    co_host = records.user(acc, pekka)
    await harness.deliver(co_host)
    [meeting] = scheduled(harness)
    assert [(a.kind, a.id, a.invite) for a in meeting.attendees] == [
        ("contact", ct, True), ("user", pekka, True)]
    assert held(harness) == []
    await harness.deliver(co_host)  # redelivered: nothing more
    await harness.deliver(event)
    assert len(scheduled(harness)) == 1


async def test_a_booking_waiting_for_owner_and_co_host_needs_both(harness, records) -> None:
    acc, owner, pekka = records.new_id("acc"), records.new_id("usr"), records.new_id("usr")
    await harness.deliver(records.contact(acc, records.new_id("ct"),
                                          email="dana@globex.example"))
    await harness.deliver(booking(acc, owner, records, co_host_user_ids=[pekka]))
    assert held(harness)[0]["waiting_for"] == ["owner", "co_hosts"]
    await harness.deliver(records.user(acc, owner))
    assert scheduled(harness) == []
    assert held(harness)[0]["waiting_for"] == ["co_hosts"]
    await harness.deliver(records.user(acc, pekka))
    [meeting] = scheduled(harness)
    assert (meeting.host_user_id, [a.id for a in meeting.attendees][1:]) == (owner, [pekka])
    assert held(harness) == []


async def test_a_deactivated_co_host_is_left_out_not_the_booking(harness, records) -> None:
    acc, owner, ct = records.new_id("acc"), records.new_id("usr"), records.new_id("ct")
    pekka, mia = records.new_id("usr"), records.new_id("usr")
    await harness.deliver(records.user(acc, owner))
    await harness.deliver(records.user(acc, pekka, active=False))
    await harness.deliver(records.user(acc, mia))
    await harness.deliver(records.contact(acc, ct, email="dana@globex.example"))
    await harness.deliver(booking(acc, owner, records, co_host_user_ids=[pekka, mia]))
    [meeting] = scheduled(harness)
    assert [(a.kind, a.id) for a in meeting.attendees] == [("contact", ct), ("user", mia)]
    assert held(harness) == []


async def test_a_co_host_known_between_the_check_and_the_hold_is_booked_at_once(
        harness, records, monkeypatch) -> None:
    """The race: the co-host's UserUpserted is applied (finding nothing held) after the
    booking handler saw them unknown and before its hold landed; the re-read books it."""
    acc, owner, pekka = records.new_id("acc"), records.new_id("usr"), records.new_id("usr")
    await harness.deliver(records.user(acc, owner))
    await harness.deliver(records.contact(acc, records.new_id("ct"),
                                          email="dana@globex.example"))
    repo = harness.service.deps.held_bookings
    hold = repo.hold

    async def co_host_arrives_first(*args, **kwargs):
        await read_models.record_user(harness.service.deps.read_models,
                                      records.user(acc, pekka))
        return await hold(*args, **kwargs)

    monkeypatch.setattr(repo, "hold", co_host_arrives_first)
    await harness.deliver(booking(acc, owner, records, co_host_user_ids=[pekka]))
    [meeting] = scheduled(harness)
    assert [a.id for a in meeting.attendees][1:] == [pekka]
    assert held(harness) == []
