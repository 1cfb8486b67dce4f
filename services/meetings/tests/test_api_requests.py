"""Through the real app with fakes: offline-page requests awaiting a calendar (R35) listed
and confirmed, and the user's switch to send no invitations."""

from __future__ import annotations

from datetime import timedelta

from convene_kit.revisions import revision_key
from convene_schemas.events.booking_pages import BookingRequested, Visitor
from convene_schemas.events.meetings import MeetingUpdated

from services.meetings.tests.test_api_changes import NOTE, request, setup


def booking(ids: dict[str, str], records, booking_id: str, offline: bool = True,
            days: int = 3) -> BookingRequested:
    start = records.now + timedelta(days=days)
    return BookingRequested(
        account_id=ids["acc"], version=0, occurred_at=records.now, booking_id=booking_id,
        page_id="pg_1", slug="alice", owner_user_id=ids["host"], title="Intro call",
        start=start, end=start + timedelta(minutes=30), time_zone="Europe/Rome",
        visitor=Visitor(name="Dana Lee", email="dana@globex.example", time_zone="UTC"),
        contact_id=ids["ct"], page_offline=offline)


async def waiting(client, ids, headers, **params) -> dict:
    response = await client.get("/meetings", headers=headers, params={
        "awaiting_calendar": "true", "host_user_id": ids["host"], **params})
    assert response.status_code == 200, response.text
    return response.json()


async def test_an_offline_request_waits_until_the_host_confirms_it(client, harness, mint,
                                                                   records) -> None:
    ids = await setup(harness, records)
    host = mint(ids["acc"], ids["host"])
    await harness.deliver(booking(ids, records, "bkg_1"))
    [scheduled] = [e.event for e in harness.publisher.events()]
    assert scheduled.awaiting_calendar and not scheduled.send_invitations
    [listed] = (await waiting(client, ids, host))["items"]
    mid = listed["id"]
    assert listed["awaiting_calendar"] is True and listed["booking_id"] == "bkg_1"

    refused = await client.post(f"/meetings/{mid}/confirm", headers=host)
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "no_connected_calendar"
    assert "connect a calendar" in refused.json()["error"]["message"]
    await harness.deliver(records.calendar(ids["acc"], ids["host"]))
    bob = mint(ids["acc"], records.new_id("usr"))
    assert (await client.post(f"/meetings/{mid}/confirm", headers=bob)).status_code == 403
    other = mint(records.new_id("acc"), ids["host"])
    assert (await client.post(f"/meetings/{mid}/confirm", headers=other)).status_code == 404

    confirmed = await client.post(f"/meetings/{mid}/confirm", headers=host)
    assert confirmed.status_code == 200, confirmed.text
    body = confirmed.json()
    assert (body["awaiting_calendar"], body["send_invitations"], body["version"]) == (
        False, True, 1)
    assert [a["invite"] for a in body["attendees"]] == [True]
    assert (await waiting(client, ids, host))["items"] == []
    again = await client.post(f"/meetings/{mid}/confirm", headers=host)
    assert again.status_code == 422
    assert again.json()["error"]["code"] == "not_awaiting_calendar"
    events = [e.event for e in harness.publisher.events()]
    assert [type(e).__name__ for e in events] == ["MeetingScheduled", "MeetingUpdated"]
    assert isinstance(events[1], MeetingUpdated) and "awaiting_calendar" in events[1].changed_fields
    assert revision_key(mid, 1) in harness.collection("meeting_revisions").docs


async def test_an_online_booking_does_not_wait(harness, records) -> None:
    ids = await setup(harness, records)
    await harness.deliver(records.calendar(ids["acc"], ids["host"]))
    await harness.deliver(booking(ids, records, "bkg_2", offline=False))
    [scheduled] = [e.event for e in harness.publisher.events()]
    assert not scheduled.awaiting_calendar and scheduled.send_invitations


async def test_the_waiting_list_is_paged_and_keeps_notes_to_the_team(client, harness, mint,
                                                                      records) -> None:
    ids = await setup(harness, records)
    for n in range(3):
        await harness.deliver(booking(ids, records, f"bkg_{n}", days=3 + n))
    await harness.deliver(records.calendar(ids["acc"], ids["host"]))
    created = await client.post("/meetings", json=request(ids),  # not waiting: not listed
                                headers=mint(ids["acc"], ids["host"]))
    assert created.status_code == 201
    host = mint(ids["acc"], ids["host"])
    first = await waiting(client, ids, host, limit=2)
    second = await waiting(client, ids, host, limit=2, cursor=first["next_cursor"])
    ids_seen = [m["id"] for m in first["items"] + second["items"]]
    assert len(set(ids_seen)) == 3 and second["next_cursor"] is None
    starts = [m["start"] for m in first["items"] + second["items"]]
    assert starts == sorted(starts)
    everything = await client.get("/meetings", headers=host,
                                  params={"host_user_id": ids["host"]})
    assert len(everything.json()["items"]) == 4
    assert all("internal_note" not in m for m in everything.json()["items"])
    team = await client.get("/meetings", headers=mint(ids["acc"], ids["host"], roles=("team",)),
                            params={"awaiting_calendar": "false"})
    assert [m["internal_note"] for m in team.json()["items"]] == [NOTE]
    elsewhere = await client.get("/meetings", headers=mint(records.new_id("acc"), ids["host"]))
    assert elsewhere.json()["items"] == []
    bad = await client.get("/meetings", headers=host, params={"cursor": "garbage"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_cursor"


async def test_the_switch_logs_without_invitations_then_invites(client, harness, mint,
                                                                records) -> None:
    ids = await setup(harness, records)
    await harness.deliver(records.calendar(ids["acc"], ids["host"]))
    host = mint(ids["acc"], ids["host"])
    created = await client.post("/meetings", json=request(ids, send_invitations=False),
                                headers=host)
    assert created.status_code == 201
    assert created.json()["not_invited"] == [
        {"kind": "contact", "id": ids["ct"], "reason": "invitations_off"}]
    assert created.json()["meeting"]["no_invitations_reason"] == "disabled_by_user"
    mid = created.json()["meeting"]["id"]
    on = await client.patch(f"/meetings/{mid}", json={"send_invitations": True}, headers=host)
    assert on.status_code == 200 and on.json()["send_invitations"] is True
    scheduled, updated = [e.event for e in harness.publisher.events()]
    assert scheduled.no_invitations_reason == "disabled_by_user"
    assert updated.changed_fields == ["send_invitations", "attendees"]
    assert [a.invite for a in updated.attendees] == [True]


async def test_a_confirmation_left_unwritten_by_a_crash_still_counts(client, harness, mint,
                                                                     records) -> None:
    ids = await setup(harness, records)
    await harness.deliver(booking(ids, records, "bkg_crash"))
    await harness.deliver(records.calendar(ids["acc"], ids["host"]))
    host = mint(ids["acc"], ids["host"])
    [listed] = (await waiting(client, ids, host))["items"]
    mid = listed["id"]
    assert (await client.post(f"/meetings/{mid}/confirm", headers=host)).status_code == 200
    heads = harness.collection("meetings").docs
    heads[mid] = {**heads[mid], "version": 0, "awaiting_calendar": True}  # head write lost
    again = await client.post(f"/meetings/{mid}/confirm", headers=host)
    assert again.json()["error"]["code"] == "not_awaiting_calendar"
    read = await client.get(f"/meetings/{mid}", headers=host)
    assert (read.json()["version"], read.json()["awaiting_calendar"]) == (1, False)
    assert len(harness.publisher.events()) == 2  # MeetingScheduled, one MeetingUpdated
