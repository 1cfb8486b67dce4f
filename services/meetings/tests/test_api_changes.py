"""Calendar connections (R16, R28) and meeting changes through the real app with fakes."""

from __future__ import annotations

from typing import Any

from convene_kit.revisions import revision_key
from convene_schemas.events.calendar_sync import (
    CalendarAccessLost,
    CalendarConnectionUpdated,
    CalendarEventLinked,
)
from convene_schemas.events.meetings import MeetingRescheduled, MeetingUpdated

NOTE = "TEAM-ONLY: walk-away price 40k"


async def setup(harness, records) -> dict[str, str]:
    acc, host, ct = records.new_id("acc"), records.new_id("usr"), records.new_id("ct")
    await harness.deliver(records.settings(acc))
    await harness.deliver(records.user(acc, host))
    await harness.deliver(records.contact(acc, ct))
    return {"acc": acc, "host": host, "ct": ct}


def request(ids: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {"title": "Renewal", "start": "2026-04-01T10:00:00", "time_zone": "Europe/Rome",
            "duration_minutes": 45, "attendees": [{"kind": "contact", "id": ids["ct"]}],
            "internal_note": NOTE, **extra}


async def test_r16_no_calendar_then_connected_then_access_lost(client, harness, mint,
                                                               records) -> None:
    ids = await setup(harness, records)
    headers = mint(ids["acc"], ids["host"])
    refused = await client.post("/meetings", json=request(ids), headers=headers)
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "no_connected_calendar"
    assert "connect a calendar" in refused.json()["error"]["message"]
    connected = records.calendar(ids["acc"], ids["host"], version=1)
    await harness.deliver(connected)
    assert (await client.post("/meetings", json=request(ids), headers=headers)).status_code == 201
    await harness.deliver(CalendarAccessLost(
        account_id=ids["acc"], version=2, occurred_at=records.now, user_id=ids["host"],
        connection_id=connected.connection_id, provider="google", reason="token_revoked",
        affected_calendar_ids=["primary"]))
    again = await client.post("/meetings", json=request(ids), headers=headers)
    assert again.json()["error"]["code"] == "no_connected_calendar"


async def test_r28_sync_off_logs_without_invitations_and_versions_guard(client, harness, mint,
                                                                        records) -> None:
    ids = await setup(harness, records)
    connected = records.calendar(ids["acc"], ids["host"], version=1)
    off = CalendarConnectionUpdated(**{**connected.model_dump(exclude={"reconnected"}),
                                       "version": 3, "sync_enabled": False,
                                       "changed_fields": ["sync_enabled"]})
    await harness.deliver(off)
    await harness.deliver(connected)  # older, arriving late: changes nothing
    response = await client.post("/meetings", json=request(ids),
                                 headers=mint(ids["acc"], ids["host"]))
    assert response.status_code == 201
    meeting = response.json()["meeting"]
    assert (meeting["send_invitations"], meeting["no_invitations_reason"]) == (
        False, "calendar_sync_off")
    assert response.json()["not_invited"] == [
        {"kind": "contact", "id": ids["ct"], "reason": "invitations_off"}]
    [event] = harness.publisher.events()
    assert event.event.send_invitations is False


async def scheduled(client, harness, mint, records) -> tuple[dict[str, str], str]:
    ids = await setup(harness, records)
    await harness.deliver(records.calendar(ids["acc"], ids["host"]))
    response = await client.post("/meetings", json=request(ids),
                                 headers=mint(ids["acc"], ids["host"]))
    return ids, response.json()["meeting"]["id"]


async def test_changes_raise_the_sequence_and_a_no_op_publishes_nothing(client, harness, mint,
                                                                        records) -> None:
    ids, mid = await scheduled(client, harness, mint, records)
    team, outsider = mint(ids["acc"], ids["host"], roles=("team",)), mint(ids["acc"], ids["host"])
    patched = await client.patch(f"/meetings/{mid}", json={"title": "Renewal v2"}, headers=team)
    assert patched.status_code == 200 and patched.json()["version"] == 1
    assert patched.json()["internal_note"] == NOTE
    same = await client.patch(f"/meetings/{mid}", json={"title": "Renewal v2"}, headers=outsider)
    assert same.json()["version"] == 1 and "internal_note" not in same.json()
    moved = await client.post(f"/meetings/{mid}/reschedule", headers=team, json={
        "start": "2026-04-02T11:00:00", "time_zone": "Europe/Rome", "duration_minutes": 30})
    outcome = await client.post(f"/meetings/{mid}/outcome", json={"outcome": "completed"},
                                headers=team)
    bad = await client.post(f"/meetings/{mid}/outcome", json={"outcome": "won"}, headers=team)
    canceled = await client.post(f"/meetings/{mid}/cancel", headers=team)
    assert [moved.json()["version"], outcome.json()["version"]] == [2, 3]
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "unknown_outcome"
    assert canceled.json()["status"] == "canceled" and canceled.json()["version"] == 4
    events = [e.event for e in harness.publisher.events()]
    assert [e.version for e in events] == [0, 1, 2, 3, 4]
    assert isinstance(events[1], MeetingUpdated) and isinstance(events[2], MeetingRescheduled)
    for record in harness.publisher.records:
        assert NOTE.encode() not in record.value
    other = await client.patch(f"/meetings/{mid}", json={"title": "x"},
                               headers=mint(records.new_id("acc"), ids["host"]))
    assert other.status_code == 404


async def test_a_claimed_revision_left_unwritten_is_rolled_forward(client, harness, mint,
                                                                   records) -> None:
    ids, mid = await scheduled(client, harness, mint, records)
    team = mint(ids["acc"], ids["host"], roles=("team",))
    await client.patch(f"/meetings/{mid}", json={"title": "v1"}, headers=team)
    heads = harness.collection("meetings").docs
    heads[mid] = {**heads[mid], "version": 0, "title": "Renewal"}  # crash before the head write
    read = await client.get(f"/meetings/{mid}", headers=team)
    assert (read.json()["version"], read.json()["title"]) == (1, "v1")
    assert not harness.collection("meeting_revisions").docs[revision_key(mid, 1)].get("outbox")


async def test_losing_every_claim_is_a_409(client, harness, mint, records, monkeypatch) -> None:
    ids, mid = await scheduled(client, harness, mint, records)

    async def taken(*_: Any, **__: Any) -> None:
        return None

    monkeypatch.setattr(harness.service.deps.aggregates.revisions, "claim", taken)
    response = await client.patch(f"/meetings/{mid}", json={"title": "x"},
                                  headers=mint(ids["acc"], ids["host"]))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "version_conflict"


async def test_calendar_event_linked_brings_the_join_url_once(client, harness, mint,
                                                              records) -> None:
    ids = await setup(harness, records)
    await harness.deliver(records.calendar(ids["acc"], ids["host"]))
    created = await client.post("/meetings", headers=mint(ids["acc"], ids["host"]), json=request(
        ids, location={"kind": "video", "video_provider": "google_meet"}))
    mid = created.json()["meeting"]["id"]
    link = CalendarEventLinked(
        account_id=ids["acc"], version=0, occurred_at=records.now, meeting_id=mid,
        meeting_version=0, connection_id="conn_1", provider="google", calendar_id="primary",
        provider_event_id="evt_1", conference_status="created",
        conference_provider="google_meet", join_url="https://meet.google.com/abc-defg-hij")
    await harness.deliver(link)
    await harness.deliver(link)  # redelivered with another id: nothing new
    events = [e.event for e in harness.publisher.events()]
    assert [type(e).__name__ for e in events] == ["MeetingScheduled", "MeetingUpdated"]
    update = events[1]
    assert update.version == 1 and update.changed_fields == ["location.join_url", "calendar_event"]
    assert update.location.join_url == "https://meet.google.com/abc-defg-hij"
    assert not update.location.join_url_pending
    assert update.calendar_event.provider_event_id == "evt_1"
