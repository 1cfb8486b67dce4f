"""R11: internal team notes never reach an event, whatever the caller's role."""

from __future__ import annotations

from convene_schemas.events.meetings import MeetingScheduled

NOTE = "TEAM-ONLY: Dana hinted at a competitor offer (do not share)"


async def test_no_published_event_contains_the_internal_note(client, harness, mint,
                                                             records) -> None:
    acc, host, ct = records.new_id("acc"), records.new_id("usr"), records.new_id("ct")
    await harness.deliver(records.user(acc, host))
    await harness.deliver(records.contact(acc, ct))
    await harness.deliver(records.calendar(acc, host))
    request = {
        "title": "Renewal", "start": "2026-04-01T10:00:00", "time_zone": "Europe/Rome",
        "duration_minutes": 45, "attendees": [{"kind": "contact", "id": ct}],
        "associations": [{"kind": "contact", "id": ct}], "internal_note": NOTE,
        "attendee_description": "<p>Renewal terms</p>",
    }
    for roles in (("team",), ()):
        response = await client.post("/meetings", json=request,
                                     headers=mint(acc, host, roles=roles))
        assert response.status_code == 201

    assert len(harness.publisher.records) == 2
    for record in harness.publisher.records:
        wire = record.value + record.key + b"".join(v for _, v in record.headers)
        assert NOTE.encode() not in wire and b"competitor" not in wire
        assert b"note" not in record.value.lower()
    assert all(isinstance(e.event, MeetingScheduled) for e in harness.publisher.events())
    # ... while the meetings store does keep it.
    assert [d["internal_note"] for d in harness.collection("meetings").docs.values()] == [
        NOTE, NOTE]
