"""The visitor's side: free times, booking without double booking, offline requests, blocked
attempts, holds, the rate limit, and cells freed when the meeting goes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from booking_pages_support import NOW, create_hosted_page, user_upserted
from convene_booking_pages import public
from convene_schemas.events.booking_pages import BookingAttemptBlocked, BookingRequested
from convene_schemas.events.meetings import MeetingCanceled

PAGE = {"slug": "olga-intro", "title": "Intro call with Olga", "time_zone": "Europe/Rome",
        "durations": [30, 60], "minimum_notice_minutes": 60,
        "form_fields": [{"key": "company", "label": "Company", "required": True}]}
TUESDAY_10_ROME = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)


def visitor(start: datetime = TUESDAY_10_ROME, **fields: Any) -> dict[str, Any]:
    return {"start": start.isoformat(), "duration_minutes": 30, "name": "Dana Lee",
            "email": "dana@globex.example", "time_zone": "America/New_York",
            "answers": {"company": "Globex"}, **fields}


async def _page(harness: Any, client: httpx.AsyncClient, mint: Any, **fields: Any) -> dict:
    return await create_hosted_page(harness, client, mint, PAGE, **fields)


async def _slots(client: httpx.AsyncClient, day: str = "2026-03-03",
                 time_zone: str = "Europe/Rome") -> list[str]:
    answer = await client.get("/public/pages/olga-intro/slots", params={
        "duration": 30, "time_zone": time_zone, "from": day, "to": day})
    assert answer.status_code == 200, answer.text
    return [s["start"] for d in answer.json()["days"] for s in d["slots"]]


async def test_free_times_leave_out_busy_time_in_any_counted_calendar(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    await _page(harness, client, mint)
    assert len(await _slots(client)) == 16  # 09:00-17:00 Rome in 30-minute slots
    harness.availability.set("u1", busy=[(TUESDAY_10_ROME, TUESDAY_10_ROME + timedelta(hours=1))])
    times = await _slots(client)
    assert "2026-03-03T10:00:00+01:00" not in times and "2026-03-03T10:30:00+01:00" not in times
    assert len(times) == 14
    in_new_york = await _slots(client, time_zone="America/New_York")
    assert in_new_york[0] == "2026-03-03T03:00:00-05:00"  # the visitor's zone


async def test_a_booking_publishes_one_booking_requested_and_takes_the_time(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    await _page(harness, client, mint)
    booked = await client.post("/public/pages/olga-intro/bookings", json=visitor())
    assert booked.status_code == 201, booked.text
    assert booked.json()["status"] == "booked"
    assert booked.json()["start"] == "2026-03-03T04:00:00-05:00"
    [event] = harness.events(BookingRequested)
    assert (event.owner_user_id, event.start, event.page_offline) == ("u1", TUESDAY_10_ROME,
                                                                      False)
    assert event.visitor.email == "dana@globex.example" and event.time_zone == "Europe/Rome"
    assert [(a.field, a.value) for a in event.form_answers] == [("company", "Globex")]
    assert "2026-03-03T10:00:00+01:00" not in await _slots(client)  # before any calendar shows it
    again = await client.post("/public/pages/olga-intro/bookings",
                              json=visitor(email="other@example.org"))
    assert again.status_code == 409 and again.json()["error"]["code"] == "slot_taken"
    fresh = again.json()["error"]["details"]["fresh_slots"]
    assert fresh and "2026-03-03T04:00:00-05:00" not in [s["start"] for s in fresh]


async def test_of_a_hundred_visitors_booking_one_slot_exactly_one_gets_it(
        make_harness: Any, mint: Any) -> None:
    harness = make_harness(booking_rate_per_client="1000/minute",
                            public_rate_per_client="1000/minute")
    transport = httpx.ASGITransport(app=harness.service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://pages.test") as client:
        await _page(harness, client, mint)
        # overlapping, not only equal: 60 minutes from 09:30 overlaps 10:00 too
        tries = [visitor(email=f"v{i}@example.org") for i in range(99)]
        tries.append(visitor(start=TUESDAY_10_ROME - timedelta(minutes=30),
                             duration_minutes=60, email="early@example.org"))
        answers = await asyncio.gather(*[client.post("/public/pages/olga-intro/bookings",
                                                     json=body) for body in tries])
    codes = sorted(a.status_code for a in answers)
    assert codes == [201] + [409] * 99, codes
    assert len(harness.events(BookingRequested)) == 1


async def test_required_answers_and_offered_lengths_are_checked(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    await _page(harness, client, mint)
    for body, code in [(visitor(answers={}), "answer_required"),
                       (visitor(duration_minutes=45), "duration_not_offered"),
                       (visitor(answers={"company": "G", "ssn": "1"}), "answer_unknown")]:
        refused = await client.post("/public/pages/olga-intro/bookings", json=body)
        assert refused.status_code == 422 and refused.json()["error"]["code"] == code
    outside = await client.post("/public/pages/olga-intro/bookings",
                                json=visitor(start=TUESDAY_10_ROME.replace(hour=20)))
    assert outside.status_code == 409  # 21:00 Rome is outside working hours
    too_soon = await client.post("/public/pages/olga-intro/bookings",
                                 json=visitor(start=NOW + timedelta(minutes=30)))
    assert too_soon.status_code == 409  # within the hour of minimum notice
    assert harness.events(BookingRequested) == []


async def test_a_textarea_answer_may_span_lines_and_a_text_answer_may_not(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    await _page(harness, client, mint, form_fields=[
        {"key": "company", "label": "Company", "required": True},
        {"key": "agenda", "label": "Agenda", "kind": "textarea"}])
    one_line = await client.post("/public/pages/olga-intro/bookings", json=visitor(
        answers={"company": "Globex\nInc"}))
    assert one_line.status_code == 422 and one_line.json()["error"]["code"] == "answer_invalid"
    booked = await client.post("/public/pages/olga-intro/bookings", json=visitor(
        answers={"company": "Globex", "agenda": "1. pricing\n2. rollout"}))
    assert booked.status_code == 201, booked.text
    (event,) = harness.events(BookingRequested)
    assert [a.value for a in event.form_answers if a.field == "agenda"] == [
        "1. pricing\n2. rollout"]


async def test_an_offline_page_takes_requests_not_bookings(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    await _page(harness, client, mint)
    harness.availability.set("u1", connected=False, bookable=False)
    page = (await client.get("/public/pages/olga-intro")).json()
    assert page["status"] == "offline" and page["host_name"] == "Olga Host"
    assert "u1@acme.example" not in str(page)  # no host address on a public answer
    requested = await client.post("/public/pages/olga-intro/bookings", json=visitor())
    assert requested.status_code == 201 and requested.json()["status"] == "requested"
    [event] = harness.events(BookingRequested)
    assert event.page_offline is True


async def test_a_lost_calendar_blocks_booking_and_tells_the_host_once(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    await _page(harness, client, mint)
    harness.availability.set("u1", bookable=False, inactive=["work@acme.example"])
    for _ in range(2):
        refused = await client.post("/public/pages/olga-intro/bookings", json=visitor())
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "calendar_inactive"
    [blocked] = harness.events(BookingAttemptBlocked)
    assert (blocked.reason, blocked.inactive_calendar_ids) == ("calendar_access_lost",
                                                               ["work@acme.example"])
    assert (blocked.visitor_name, blocked.page_title) == ("Dana Lee", "Intro call with Olga")
    assert await _slots(client) == []
    harness.availability.set("u1")  # access restored
    assert (await client.post("/public/pages/olga-intro/bookings",
                              json=visitor())).status_code == 201


async def test_pages_turned_off_answer_unavailable_and_tell_the_host(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    await _page(harness, client, mint)
    await client.patch("/account/booking-settings", headers=mint("a", roles=("admin",)),
                       json={"pages_enabled": False})
    page = (await client.get("/public/pages/olga-intro")).json()
    assert (page["status"], page["unavailable_reason"]) == ("unavailable", "pages_turned_off")
    refused = await client.post("/public/pages/olga-intro/bookings", json=visitor())
    assert refused.json()["error"]["code"] == "pages_turned_off"
    [blocked] = harness.events(BookingAttemptBlocked)
    assert blocked.reason == "pages_turned_off"
    assert (await client.get("/pages", headers=mint("u1"))).json()["pages"]  # data kept


async def test_a_hold_keeps_the_slot_for_its_visitor_until_it_expires(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    await _page(harness, client, mint, hold_minutes=5)
    held = await client.post("/public/pages/olga-intro/holds",
                             json={"start": TUESDAY_10_ROME.isoformat(), "duration_minutes": 30})
    assert held.status_code == 201, held.text
    other = await client.post("/public/pages/olga-intro/bookings",
                              json=visitor(email="other@example.org"))
    assert other.status_code == 409
    mine = await client.post("/public/pages/olga-intro/bookings",
                             json=visitor(hold_id=held.json()["hold_id"]))
    assert mine.status_code == 201, mine.text
    assert mine.json()["booking_id"] == held.json()["hold_id"]
    # a hold nobody books is let go after its time
    later = TUESDAY_10_ROME + timedelta(hours=2)
    await client.post("/public/pages/olga-intro/holds",
                      json={"start": later.isoformat(), "duration_minutes": 30})
    assert "2026-03-03T12:00:00+01:00" not in await _slots(client)
    harness.clock.advance(6 * 60)
    assert "2026-03-03T12:00:00+01:00" in await _slots(client)
    await public.sweep(harness.service.deps)
    cells = harness.store.collection("reservations").docs.values()
    assert {c["reservation_id"] for c in cells} == {held.json()["hold_id"]}


async def test_only_a_length_the_page_offers_can_be_held(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    await _page(harness, client, mint, hold_minutes=5)
    refused = await client.post("/public/pages/olga-intro/holds",
                                json={"start": TUESDAY_10_ROME.isoformat(),
                                      "duration_minutes": 720})
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "duration_not_offered"
    assert harness.store.collection("reservations").docs == {}


async def test_cells_of_a_booking_that_was_never_stored_are_taken_back(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    await _page(harness, client, mint)
    deps = harness.service.deps
    # a replica died between reserving the cells and storing the booking
    await deps.reservations.reserve("acc_1", "u1", TUESDAY_10_ROME,
                                    TUESDAY_10_ROME + timedelta(minutes=30), "bkg_lost",
                                    NOW + public.PENDING, NOW)
    assert (await client.post("/public/pages/olga-intro/bookings",
                              json=visitor())).status_code == 409
    harness.clock.advance((public.PENDING + public.STALE_GRACE).total_seconds() + 1)
    taken = await client.post("/public/pages/olga-intro/bookings", json=visitor())
    assert taken.status_code == 201, taken.text


async def test_a_canceled_meeting_frees_its_time(harness: Any, client: httpx.AsyncClient,
                                                 mint: Any) -> None:
    await _page(harness, client, mint)
    booked = (await client.post("/public/pages/olga-intro/bookings", json=visitor())).json()
    assert "2026-03-03T10:00:00+01:00" not in await _slots(client)
    canceled = _canceled(booked["booking_id"])
    await harness.deliver(canceled)
    await harness.deliver(canceled)  # redelivered: nothing more happens
    assert "2026-03-03T10:00:00+01:00" in await _slots(client)


async def test_round_robin_gives_the_slot_to_a_free_team_member(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    await _page(harness, client, mint, team_user_ids=["u2"])
    await harness.deliver(user_upserted("u2", name="Pekka"))
    harness.availability.set("u2")
    first = await client.post("/public/pages/olga-intro/bookings", json=visitor())
    second = await client.post("/public/pages/olga-intro/bookings",
                               json=visitor(email="second@example.org"))
    third = await client.post("/public/pages/olga-intro/bookings",
                              json=visitor(email="third@example.org"))
    assert (first.status_code, second.status_code, third.status_code) == (201, 201, 409)
    hosts = sorted(e.owner_user_id for e in harness.events(BookingRequested))
    assert hosts == ["u1", "u2"]


async def test_anonymous_endpoints_answer_429_with_retry_after(
        make_harness: Any, mint: Any) -> None:
    harness = make_harness(public_rate_per_client="5/minute")
    transport = httpx.ASGITransport(app=harness.service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://pages.test") as client:
        await _page(harness, client, mint)
        answers = [await client.get("/public/pages/olga-intro") for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert int(answers[-1].headers["Retry-After"]) >= 1
    assert answers[-1].json()["error"]["code"] == "rate_limited"


async def test_calendar_sync_down_is_a_503_not_a_guess(harness: Any, client: httpx.AsyncClient,
                                                      mint: Any) -> None:
    await _page(harness, client, mint)
    harness.availability.down = True
    refused = await client.post("/public/pages/olga-intro/bookings", json=visitor())
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "availability_unavailable"
    assert harness.events(BookingRequested) == []
    assert harness.store.collection("reservations").docs == {}


def _canceled(booking_id: str) -> MeetingCanceled:
    start = TUESDAY_10_ROME
    return MeetingCanceled.model_validate({
        "account_id": "acc_1", "version": 1, "occurred_at": NOW.isoformat(),
        "meeting_id": "mtg_x", "ical_uid": "mtg_x@convene", "title": "Intro", "start":
        start.isoformat(), "end": (start + timedelta(minutes=30)).isoformat(),
        "time_zone": "Europe/Rome", "duration_minutes": 30, "host_user_id": "u1",
        "organizer_user_id": "u1", "on_behalf": False, "attendees": [], "source": "booking_page",
        "booking_id": booking_id, "send_invitations": True, "reason": "canceled_in_crm"},
        strict=False)
