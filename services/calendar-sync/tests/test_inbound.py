"""Calendars into Convene: events with CRM contacts published and followed, others only
busy; our own events flagged; a dropped cursor resyncs without duplicates; access lost and
restored; availability from the mirror, with titles for the owner only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from calendar_sync_support import ACCOUNT, BOOKING_PAGES_TOKEN, NOW, contact_upserted, user_upserted
from convene_calendar_sync.domain.calendar_events import BusyInterval, RemoteEvent
from convene_schemas.events.calendar_sync import (
    CalendarAccessLost,
    CalendarAccessRestored,
    CalendarConnected,
    CalendarEventChanged,
)

CALDAV = {"url": "https://caldav.example/dav/", "username": "alice", "password": "pw"}
PRIMARY = "https://caldav.example/dav/alice/work/"
HOME = "https://caldav.example/dav/alice/home/"


async def _connected(harness: Any, client: httpx.AsyncClient, mint: Any) -> Any:
    await harness.deliver(user_upserted("u1"))
    await harness.deliver(user_upserted("u2"))
    await harness.deliver(contact_upserted("c1", "Dana@Globex.example"))
    account = harness.adapters.account("alice", "alice@caldav.example", "pw")
    account.add_calendar(PRIMARY, primary=True)
    account.add_calendar(HOME)
    connection_id = (await client.post("/connections/caldav", json=CALDAV,
                                       headers=mint("u1"))).json()["connection_id"]
    await client.patch(f"/connections/{connection_id}", headers=mint("u1"),
                       json={"calendar_ids": [PRIMARY, HOME]})
    account.connection_id = connection_id
    await harness.fire_timers()  # first syncs: empty calendars
    return account


def _event(provider_event_id: str, *, hours: int = 24, attendees: tuple[str, ...] = (),
           title: str = "Call", **fields: Any) -> RemoteEvent:
    start = NOW + timedelta(hours=hours)
    end = start + timedelta(hours=1)
    return RemoteEvent(provider_event_id=provider_event_id, deleted=False, title=title,
                       start=start, end=end, organizer_email="alice@caldav.example",
                       attendee_emails=attendees, occurrences=(BusyInterval(start, end),),
                       **fields)


async def _sync(harness: Any) -> None:
    harness.clock.advance(harness.service.settings.sync_interval_s + 1)
    await harness.fire_timers()


async def test_an_event_with_a_contact_is_published_and_followed(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    account = await _connected(harness, client, mint)
    account.put(PRIMARY, _event("e1", attendees=("dana@globex.example",)))
    account.put(PRIMARY, _event("e2", attendees=("someone@else.example",)))
    await _sync(harness)
    [created] = harness.events(CalendarEventChanged)
    assert created.change == "created" and created.provider_event_id == "e1"
    assert created.connection_id == account.connection_id and created.user_id == "u1"
    assert not created.created_by_integration
    account.put(PRIMARY, _event("e1", attendees=("dana@globex.example",), title="Call 2"))
    await _sync(harness)
    await _sync(harness)  # nothing new: nothing published
    account.delete(PRIMARY, "e1")
    account.delete(PRIMARY, "e2")
    await _sync(harness)
    changes = [(e.provider_event_id, e.change, e.version)
               for e in harness.events(CalendarEventChanged)]
    assert changes == [("e1", "created", 0), ("e1", "updated", 1), ("e1", "deleted", 2)]


async def test_our_own_events_are_flagged_so_nothing_loops(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    account = await _connected(harness, client, mint)
    account.put(PRIMARY, _event("evt-mtg_1", attendees=("dana@globex.example",),
                                convene_meeting_id="mtg_1", created_by_integration=True))
    await _sync(harness)
    [flagged] = harness.events(CalendarEventChanged)
    assert flagged.created_by_convene_meeting_id == "mtg_1" and flagged.created_by_integration


async def test_a_dropped_cursor_resyncs_without_duplicates_and_catches_deletions(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    account = await _connected(harness, client, mint)
    account.put(PRIMARY, _event("e1", attendees=("dana@globex.example",)))
    account.put(PRIMARY, _event("e3", attendees=("dana@globex.example",), hours=30))
    await _sync(harness)
    assert len(harness.events(CalendarEventChanged)) == 2
    del account.calendars[PRIMARY].events["e3"]  # gone while the cursor is lost
    account.expire_cursors.add(PRIMARY)
    await _sync(harness)
    changes = [(e.provider_event_id, e.change) for e in harness.events(CalendarEventChanged)]
    assert changes == [("e1", "created"), ("e3", "created"), ("e3", "deleted")]


async def test_a_full_listing_does_not_delete_what_ended_before_its_window(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    account = await _connected(harness, client, mint)
    account.put(PRIMARY, _event("old", attendees=("dana@globex.example",)))
    await _sync(harness)
    harness.clock.advance(timedelta(days=10).total_seconds())  # it ended 9 days ago
    account.expire_cursors.add(PRIMARY)
    await _sync(harness)
    changes = [(e.provider_event_id, e.change) for e in harness.events(CalendarEventChanged)]
    assert changes == [("old", "created")]


async def test_sync_off_keeps_busy_time_but_publishes_nothing(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    account = await _connected(harness, client, mint)
    await client.patch(f"/connections/{account.connection_id}", headers=mint("u1"),
                       json={"sync_enabled": False})
    account.put(PRIMARY, _event("e1", attendees=("dana@globex.example",)))
    await _sync(harness)
    assert harness.events(CalendarEventChanged) == []
    busy = (await client.get("/users/u1/availability", headers=mint("u1"), params={
        "start": NOW.isoformat(), "end": (NOW + timedelta(days=7)).isoformat()})).json()
    assert [b["title"] for b in busy["busy"]] == ["Call"]


async def test_availability_merges_counted_calendars_and_hides_titles_from_others(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    account = await _connected(harness, client, mint)
    account.put(PRIMARY, _event("e1", hours=24, title="Board meeting"))
    account.put(HOME, _event("h1", hours=24, title="Dentist"))
    account.put(HOME, _event("h2", hours=48, title="Gym"))
    await _sync(harness)
    params = {"start": NOW.isoformat(), "end": (NOW + timedelta(days=7)).isoformat()}
    owner = (await client.get("/users/u1/availability", headers=mint("u1"), params=params)).json()
    assert sorted(b["title"] for b in owner["busy"]) == ["Board meeting", "Dentist", "Gym"]
    assert owner["bookable"] is True and len(owner["busy_merged"]) == 2
    other = (await client.get("/users/u1/availability", headers=mint("u2"), params=params)).json()
    assert all(b["title"] is None for b in other["busy"]) and len(other["busy"]) == 2
    foreign = await client.get("/users/u1/availability", params=params,
                               headers=mint("u1", account_id="acc_other"))
    assert foreign.status_code == 404 and foreign.json()["error"]["code"] == "user_not_found"
    unknown = await client.get("/users/u404/availability", headers=mint("u1"), params=params)
    assert unknown.status_code == 404, unknown.text
    too_long = await client.get("/users/u1/availability", headers=mint("u1"), params={
        "start": NOW.isoformat(), "end": (NOW + timedelta(days=200)).isoformat()})
    assert too_long.status_code == 422
    assert too_long.json()["error"]["code"] == "range_too_long"


async def test_another_service_reads_merged_busy_time_with_its_token_only(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    account = await _connected(harness, client, mint)
    account.put(PRIMARY, _event("e1", hours=24, title="Board meeting"))
    account.put(HOME, _event("h1", hours=48, title="Dentist"))
    await _sync(harness)
    params = {"start": NOW.isoformat(), "end": (NOW + timedelta(days=7)).isoformat()}
    route = f"/internal/accounts/{ACCOUNT}/users/u1/availability"
    service = {"Authorization": f"Bearer {BOOKING_PAGES_TOKEN}"}
    view = await client.get(route, headers=service, params=params)
    assert view.status_code == 200, view.text
    body = view.json()
    assert body["bookable"] is True and body["connected"] is True
    assert len(body["busy_merged"]) == 2 and "busy" not in body  # no titles at all
    assert "Board meeting" not in view.text and "Dentist" not in view.text
    other_account = await client.get("/internal/accounts/acc_other/users/u1/availability",
                                     headers=service, params=params)
    assert other_account.json()["busy_merged"] == [] and not other_account.json()["connected"]
    for headers, code in [({}, "missing_token"),
                          ({"Authorization": "Bearer " + "y" * 43}, "invalid_token"),
                          (mint("u1"), "invalid_token")]:  # a user's JWT is no service token
        refused = await client.get(route, headers=headers, params=params)
        assert refused.status_code == 401 and refused.json()["error"]["code"] == code


async def test_a_changed_password_makes_the_user_not_bookable_until_reconnected(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    account = await _connected(harness, client, mint)
    account.secret = "new-password"
    await _sync(harness)
    lost = harness.events(CalendarAccessLost)
    assert len(lost) == 1 and lost[0].reason == "password_changed"
    params = {"start": NOW.isoformat(), "end": (NOW + timedelta(days=7)).isoformat()}
    view = (await client.get("/users/u1/availability", headers=mint("u2"), params=params)).json()
    assert view["bookable"] is False
    again = await client.post("/connections/caldav", headers=mint("u1"),
                              json={**CALDAV, "password": "new-password"})
    assert again.status_code == 201, again.text
    [restored] = harness.events(CalendarAccessRestored)
    assert set(restored.restored_calendar_ids) == {PRIMARY, HOME}
    assert len(harness.events(CalendarConnected)) == 1
    view = (await client.get("/users/u1/availability", headers=mint("u2"), params=params)).json()
    assert view["bookable"] is True
