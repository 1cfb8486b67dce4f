"""Team pages where every member must be free (``team_mode`` ``all``): the free times every
member has, one booking reserving every member's time or none of it, the owner hosting and
the others named as co-hosts, holds, and the settings rule. Round robin is in test_booking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from booking_pages_support import ACCOUNT, NOW, create_page, user_upserted
from convene_schemas.events.booking_pages import BookingAttemptBlocked, BookingRequested

TUESDAY_10_ROME = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
AT_10 = "2026-03-03T10:00:00+01:00"
PAGE = {"title": "Demo with the sales team", "time_zone": "Europe/Rome", "durations": [30, 60],
        "minimum_notice_minutes": 60}


def visitor(start: datetime = TUESDAY_10_ROME, **fields: Any) -> dict[str, Any]:
    return {"start": start.isoformat(), "duration_minutes": 30, "name": "Dana Lee",
            "email": "dana@globex.example", "time_zone": "Europe/Rome", **fields}


async def _users(harness: Any, *user_ids: str) -> None:
    for user_id in user_ids:
        await harness.deliver(user_upserted(user_id, name=f"User {user_id}"))
        harness.availability.set(user_id)


async def _page(client: httpx.AsyncClient, mint: Any, slug: str, owner: str = "u1",
                **fields: Any) -> dict[str, Any]:
    return await create_page(client, mint, PAGE, owner=owner, slug=slug, **fields)


async def _times(client: httpx.AsyncClient, slug: str) -> list[str]:
    answer = await client.get(f"/public/pages/{slug}/slots", params={
        "duration": 30, "time_zone": "Europe/Rome", "from": "2026-03-03", "to": "2026-03-03"})
    assert answer.status_code == 200, answer.text
    return [s["start"] for d in answer.json()["days"] for s in d["slots"]]


async def _book(client: httpx.AsyncClient, slug: str, **fields: Any) -> httpx.Response:
    return await client.post(f"/public/pages/{slug}/bookings", json=visitor(**fields))


def _cells(harness: Any) -> list[dict[str, Any]]:
    return list(harness.store.collection("reservations").docs.values())


async def test_only_times_every_member_has_free_are_offered(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    await _users(harness, "u1", "u2")
    await _page(client, mint, "team-all", team_user_ids=["u2"], team_mode="all")
    await _page(client, mint, "team-any", team_user_ids=["u2"])  # round robin
    assert AT_10 in await _times(client, "team-all")
    harness.availability.set("u2", busy=[(TUESDAY_10_ROME,
                                          TUESDAY_10_ROME + timedelta(minutes=30))])
    every = await _times(client, "team-all")
    assert AT_10 not in every and len(every) == 15  # the owner is free at 10:00
    assert AT_10 in await _times(client, "team-any")
    refused = await _book(client, "team-all")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "slot_taken"
    fresh = [s["start"] for s in refused.json()["error"]["details"]["fresh_slots"]]
    assert fresh and AT_10 not in fresh
    assert harness.events(BookingRequested) == [] and _cells(harness) == []


async def test_a_booking_reserves_every_members_time_and_names_the_co_hosts(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    await _users(harness, "u1", "u2", "u3")
    await _page(client, mint, "team-all", team_user_ids=["u3", "u2"], team_mode="all")
    await _page(client, mint, "pekka", owner="u2")
    await _page(client, mint, "mia", owner="u3", maximum_per_day=1)
    booked = await _book(client, "team-all")
    assert booked.status_code == 201, booked.text
    assert booked.json()["status"] == "booked"
    [event] = harness.events(BookingRequested)
    assert (event.owner_user_id, event.co_host_user_ids, event.page_offline) == (
        "u1", ["u3", "u2"], False)
    assert {(c["user_id"], c["reservation_id"]) for c in _cells(harness)} == {
        (u, event.booking_id) for u in ("u1", "u2", "u3")}
    # u2's own page cannot give u2's 10:00 to another visitor
    assert AT_10 not in await _times(client, "pekka")
    taken = await _book(client, "pekka", email="other@example.org")
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "slot_taken"
    # the team booking counts in u3's bookings of the day (maximum_per_day 1 on u3's page)
    assert await _times(client, "mia") == []


async def test_a_member_taken_meanwhile_releases_the_members_reserved_before(
        harness: Any, client: httpx.AsyncClient, mint: Any, monkeypatch: Any) -> None:
    """The race: u3's time is booked elsewhere after the team booking checked it and before
    it reserved it. Members are reserved in id order, so u1 and u2 are, then let go."""
    await _users(harness, "u1", "u2", "u3")
    await _page(client, mint, "team-all", team_user_ids=["u3", "u2"], team_mode="all")
    await _page(client, mint, "pekka", owner="u2")
    reservations = harness.service.deps.reservations
    reserve = reservations.reserve
    order: list[str] = []

    async def rival_first(account_id: str, user_id: str, *args: Any) -> list[str]:
        order.append(user_id)
        if user_id == "u3":
            await reserve(ACCOUNT, "u3", TUESDAY_10_ROME,
                          TUESDAY_10_ROME + timedelta(minutes=30), "bkg_rival", None, NOW)
        return await reserve(account_id, user_id, *args)

    monkeypatch.setattr(reservations, "reserve", rival_first)
    refused = await _book(client, "team-all")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "slot_taken"
    assert order == ["u1", "u2", "u3"]
    assert {c["reservation_id"] for c in _cells(harness)} == {"bkg_rival"}
    assert harness.events(BookingRequested) == []
    monkeypatch.undo()
    alone = await _book(client, "pekka", email="other@example.org")
    assert alone.status_code == 201, alone.text
    [event] = harness.events(BookingRequested)
    assert (event.owner_user_id, event.co_host_user_ids) == ("u2", [])


async def test_a_hold_holds_every_member_and_only_its_own_time(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    await _users(harness, "u1", "u2")
    await _page(client, mint, "team-all", team_user_ids=["u2"], team_mode="all",
                hold_minutes=5)
    await _page(client, mint, "pekka", owner="u2")
    held = await client.post("/public/pages/team-all/holds", json={
        "start": TUESDAY_10_ROME.isoformat(), "duration_minutes": 30})
    assert held.status_code == 201, held.text
    hold_id = held.json()["hold_id"]
    assert {c["user_id"] for c in _cells(harness) if c["reservation_id"] == hold_id} == {
        "u1", "u2"}
    assert (await _book(client, "pekka", email="other@example.org")).status_code == 409
    # the hold does not stand in for another time: 11:00 is reserved like any booking
    elsewhere = await _book(client, "team-all", start=TUESDAY_10_ROME + timedelta(hours=1),
                            hold_id=hold_id)
    assert elsewhere.status_code == 201, elsewhere.text
    assert elsewhere.json()["booking_id"] != hold_id
    assert "2026-03-03T11:00:00+01:00" not in await _times(client, "pekka")
    mine = await _book(client, "team-all", hold_id=hold_id)
    assert mine.status_code == 201, mine.text
    assert mine.json()["booking_id"] == hold_id
    assert [e.co_host_user_ids for e in harness.events(BookingRequested)] == [["u2"], ["u2"]]
    assert all(c["until"] is None for c in _cells(harness))  # both bookings' cells confirmed
    harness.availability.set("u2", busy=[(TUESDAY_10_ROME + timedelta(hours=2),
                                          TUESDAY_10_ROME + timedelta(hours=3))])
    busy = await client.post("/public/pages/team-all/holds", json={
        "start": (TUESDAY_10_ROME + timedelta(hours=2)).isoformat(), "duration_minutes": 30})
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "slot_taken"
    assert len(_cells(harness)) == 2 * 2 * 6  # two bookings, two members, six cells each


async def test_a_missing_or_inactive_member_makes_the_page_unavailable(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    await _users(harness, "u1")  # u2 is not known yet
    await _page(client, mint, "team-all", team_user_ids=["u2"], team_mode="all")
    await _page(client, mint, "team-any", team_user_ids=["u2"])
    page = (await client.get("/public/pages/team-all")).json()
    assert (page["status"], page["unavailable_reason"]) == ("unavailable", "host_unavailable")
    assert (await client.get("/public/pages/team-any")).json()["status"] == "available"
    assert await _times(client, "team-all") == []
    refused = await _book(client, "team-all")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "host_unavailable"
    await _users(harness, "u2")
    assert (await client.get("/public/pages/team-all")).json()["status"] == "available"
    await harness.deliver(user_upserted("u2", active=False, version=2))
    assert (await client.get("/public/pages/team-all")).json()["status"] == "unavailable"
    assert harness.events(BookingRequested) == []


async def test_a_members_inactive_calendar_blocks_booking_and_tells_the_owner(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    await _users(harness, "u1", "u2")
    await _page(client, mint, "team-all", team_user_ids=["u2"], team_mode="all")
    harness.availability.set("u2", bookable=False, inactive=["pekka@acme.example"])
    assert await _times(client, "team-all") == []
    refused = await _book(client, "team-all")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "calendar_inactive"
    [blocked] = harness.events(BookingAttemptBlocked)
    assert (blocked.owner_user_id, blocked.reason, blocked.inactive_calendar_ids) == (
        "u1", "calendar_access_lost", ["pekka@acme.example"])
    assert _cells(harness) == []


async def test_unless_every_member_has_a_connected_calendar_a_booking_is_a_request(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    await _users(harness, "u1", "u2")
    await _page(client, mint, "team-all", team_user_ids=["u2"], team_mode="all")
    harness.availability.set("u2", connected=False, bookable=False)
    assert (await client.get("/public/pages/team-all")).json()["status"] == "offline"
    requested = await _book(client, "team-all")
    assert requested.status_code == 201 and requested.json()["status"] == "requested"
    [event] = harness.events(BookingRequested)
    assert (event.page_offline, event.co_host_user_ids) == (True, ["u2"])


async def test_all_mode_needs_a_team_member_besides_the_owner(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    for team in ([], ["u1"]):
        refused = await client.post("/pages", headers=mint("u1"), json={
            **PAGE, "slug": "team-all", "team_user_ids": team, "team_mode": "all"})
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"] == {**refused.json()["error"],
                                           "code": "team_mode_invalid",
                                           "details": {"field": "team_mode"}}
    page = await _page(client, mint, "team-all", team_user_ids=["u2"])
    assert page["team_mode"] == "any"
    path, owner = f"/pages/{page['page_id']}", mint("u1")
    changed = await client.patch(path, headers=owner, json={"team_mode": "all"})
    assert changed.status_code == 200 and changed.json()["team_mode"] == "all"
    emptied = await client.patch(path, headers=owner, json={"team_user_ids": []})
    assert emptied.status_code == 422
    assert emptied.json()["error"]["code"] == "team_mode_invalid"
    assert (await client.get(path, headers=owner)).json()["team_user_ids"] == ["u2"]
