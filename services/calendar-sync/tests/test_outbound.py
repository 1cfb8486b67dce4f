"""Meetings into the host's primary calendar: once per version, idempotent, in order, with
the link reported once; a provider that is down retried by a timer, not by the partition."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from calendar_sync_support import ACCOUNT, NOW, connect_google, user_upserted
from convene_schemas.events.calendar_sync import CalendarAccessLost, CalendarEventLinked
from convene_schemas.events.common import Location
from convene_schemas.events.meetings import (
    Attendee,
    CalendarEventRef,
    MeetingCanceled,
    MeetingRescheduled,
    MeetingScheduled,
    MeetingUpdated,
)

CALDAV = {"url": "https://caldav.example/dav/", "username": "alice", "password": "pw"}
PRIMARY = "https://caldav.example/dav/alice/work/"


async def _connected(harness: Any, client: httpx.AsyncClient, mint: Any) -> Any:
    await harness.deliver(user_upserted("u1"))
    account = harness.adapters.account("alice", "alice@caldav.example", "pw")
    account.add_calendar(PRIMARY, primary=True)
    account.add_calendar("https://caldav.example/dav/alice/home/")
    answer = await client.post("/connections/caldav", json=CALDAV, headers=mint("u1"))
    assert answer.status_code == 201
    connection_id = answer.json()["connection_id"]
    await client.patch(f"/connections/{connection_id}", headers=mint("u1"), json={
        "calendar_ids": [PRIMARY, "https://caldav.example/dav/alice/home/"]})
    account.connection_id = connection_id
    return account


def _meeting(version: int = 0, cls: type = MeetingScheduled, **fields: Any) -> Any:
    start = NOW + timedelta(days=2)
    values: dict[str, Any] = dict(
        account_id=ACCOUNT, version=version, occurred_at=NOW + timedelta(seconds=version),
        meeting_id="mtg_1", ical_uid="mtg_1@meetings.convene", title="Demo",
        start=start, end=start + timedelta(minutes=30), time_zone="Europe/Rome",
        duration_minutes=30, host_user_id="u1", host_email="u1@acme.example",
        host_name="User u1", organizer_user_id="u1", on_behalf=False,
        attendees=[Attendee(kind="contact", id="c1", email="dana@globex.example",
                            name="Dana", invite=True)],
        source="crm", send_invitations=True, attendee_description="Agenda")
    if cls in (MeetingUpdated, MeetingRescheduled):
        values.setdefault("changed_fields", ["title"])
    if cls is MeetingRescheduled:
        values.update(previous_start=start - timedelta(hours=1),
                      previous_end=start - timedelta(minutes=30), changed_fields=["start", "end"])
    if cls is MeetingCanceled:
        values.update(reason="canceled_in_crm")
    values.update(fields)
    return cls(**values)


async def test_a_meeting_is_written_once_to_the_primary_calendar_and_linked_once(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    account = await _connected(harness, client, mint)
    scheduled = _meeting()
    await harness.deliver(scheduled)
    await harness.deliver(scheduled)  # redelivered
    assert [(kind, cal, e.sequence) for kind, cal, e in account.writes] == [
        ("upsert", PRIMARY, 0)]
    written = account.writes[0][2]
    assert written.ical_uid == "mtg_1@meetings.convene" and written.description == "Agenda"
    assert [a.email for a in written.attendees] == ["dana@globex.example"]
    [linked] = harness.events(CalendarEventLinked)
    assert linked.provider_event_id == "evt-mtg_1" and linked.calendar_id == PRIMARY
    assert linked.conference_status == "not_requested" and linked.meeting_version == 0
    # the write made the calendar's sync due: the meeting is busy time at once, not a poll later
    await harness.fire_timers()
    busy = (await client.get("/users/u1/availability", headers=mint("u1"), params={
        "start": NOW.isoformat(), "end": (NOW + timedelta(days=7)).isoformat()})).json()
    assert [b["title"] for b in busy["busy"]] == ["Demo"]
    # meetings answers with the link: nothing to write, nothing to link again
    ref = CalendarEventRef(connection_id=account.connection_id, provider="caldav",
                           calendar_id=PRIMARY, provider_event_id="evt-mtg_1")
    await harness.deliver(_meeting(1, MeetingUpdated, calendar_event=ref,
                                   changed_fields=["calendar_event"]))
    assert len(account.writes) == 1 and len(harness.events(CalendarEventLinked)) == 1


async def test_edits_follow_and_an_older_version_never_overwrites_a_newer_one(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    account = await _connected(harness, client, mint)
    await harness.deliver(_meeting())
    await harness.deliver(_meeting(2, MeetingRescheduled))
    await harness.deliver(_meeting(1, MeetingUpdated, title="Old title"))  # late
    await harness.deliver(_meeting(3, MeetingUpdated, title="New title",
                                   attendee_description="New agenda",
                                   changed_fields=["title", "attendee_description"]))
    await harness.deliver(_meeting(4, MeetingCanceled))
    assert [(kind, e.sequence) for kind, _, e in account.writes] == [
        ("upsert", 0), ("upsert", 2), ("upsert", 3), ("delete", 4)]
    assert account.writes[2][2].description == "New agenda"
    assert account.calendars[PRIMARY].events["evt-mtg_1"].deleted


async def test_no_connection_or_sync_off_writes_nothing(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    await harness.deliver(_meeting(host_user_id="u9", organizer_user_id="u9"))
    account = await _connected(harness, client, mint)
    await client.patch(f"/connections/{account.connection_id}", headers=mint("u1"),
                       json={"sync_enabled": False})
    await harness.deliver(_meeting(meeting_id="mtg_2", ical_uid="mtg_2@meetings.convene"))
    assert account.writes == [] and harness.events(CalendarEventLinked) == []


async def test_a_google_meet_location_gets_its_link(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    google = await connect_google(harness, client, mint)
    await harness.deliver(_meeting(location=Location(kind="video", video_provider="google_meet",
                                                     join_url_pending=True)))
    [linked] = harness.events(CalendarEventLinked)
    assert linked.conference_status == "created"
    assert linked.join_url == "https://meet.example/abc-defg-hij"
    assert google.writes[0][2].want_google_meet
    # meetings answers with the link: an echo, nothing to write; reminders: not visible (R21)
    ref = CalendarEventRef(connection_id=linked.connection_id, provider="google",
                           calendar_id=linked.calendar_id,
                           provider_event_id=linked.provider_event_id)
    meet = Location(kind="video", video_provider="google_meet", join_url=linked.join_url)
    await harness.deliver(_meeting(1, MeetingUpdated, location=meet, calendar_event=ref,
                                   changed_fields=["location.join_url", "calendar_event"]))
    await harness.deliver(_meeting(2, MeetingUpdated, location=meet, calendar_event=ref,
                                   changed_fields=["reminders"]))
    assert len(google.writes) == 1
    await harness.deliver(_meeting(3, MeetingUpdated, location=meet, calendar_event=ref,
                                   title="Visible", changed_fields=["title"]))
    assert [e.title for _, _, e in google.writes] == ["Demo", "Visible"]
    assert len(harness.events(CalendarEventLinked)) == 1


async def test_a_provider_that_is_down_is_retried_by_a_timer(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    account = await _connected(harness, client, mint)
    await harness.fire_timers()  # the first syncs
    account.unavailable = 1
    await harness.deliver(_meeting())
    assert account.writes == [] and harness.events(CalendarEventLinked) == []
    assert await harness.fire_timers() == 0  # not due yet
    harness.clock.advance(harness.service.settings.sync_retry_s + 1)
    await harness.fire_timers()
    assert [e.sequence for _, _, e in account.writes] == [0]
    assert len(harness.events(CalendarEventLinked)) == 1
    assert "outbound:mtg_1" not in harness.collection("timers").docs


async def test_a_refused_password_marks_the_calendars_inactive(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    account = await _connected(harness, client, mint)
    account.secret = "changed-by-the-user"
    await harness.deliver(_meeting())
    [lost] = harness.events(CalendarAccessLost)
    assert lost.reason == "password_changed" and PRIMARY in lost.affected_calendar_ids
    listing = (await client.get("/connections", headers=mint("u1"))).json()
    assert listing["connections"][0]["bookable"] is False


async def test_changes_made_while_access_was_lost_are_written_after_a_reconnect(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    account = await _connected(harness, client, mint)
    await harness.deliver(_meeting())
    account.secret = "changed-by-the-user"
    await harness.deliver(_meeting(1, MeetingRescheduled))  # refused: access lost
    await harness.deliver(_meeting(2, MeetingUpdated, title="Demo, new title"))  # waits
    await harness.fire_timers()
    assert [e.sequence for _, _, e in account.writes] == [0]
    again = await client.post("/connections/caldav", headers=mint("u1"),
                              json={**CALDAV, "password": "changed-by-the-user"})
    assert again.status_code in (200, 201), again.text
    await harness.fire_timers()
    # the newest version only, once; then nothing is left waiting
    assert [(e.sequence, e.title) for _, _, e in account.writes] == [
        (0, "Demo"), (2, "Demo, new title")]
    await harness.fire_timers()
    assert len(account.writes) == 2
    assert harness.collection("meeting_links").docs["mtg_1"]["pending"] is None


async def test_a_change_made_while_access_was_lost_is_written_once_a_sync_succeeds_again(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    account = await _connected(harness, client, mint)
    await harness.fire_timers()  # the first syncs
    account.secret = "changed-by-the-user"
    await harness.deliver(_meeting())  # never written: access lost
    assert account.writes == [] and len(harness.events(CalendarAccessLost)) == 1
    account.secret = "pw"  # the user changed the password back
    harness.clock.advance(harness.service.settings.sync_interval_s + 1)
    await harness.fire_timers()  # the sync succeeds: access restored, the meeting written
    await harness.fire_timers()
    assert [e.sequence for _, _, e in account.writes] == [0]
    assert len(harness.events(CalendarEventLinked)) == 1
