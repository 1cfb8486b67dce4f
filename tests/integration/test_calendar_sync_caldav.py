"""calendar-sync with a real CalDAV server (Radicale), as processes on real Kafka and the
store: a meeting scheduled through the meetings API lands once in the host's primary
calendar and follows its edits, a redelivery or a crash between the provider write and the
commit still leaves one event, events made in the calendar with a contact become CRM
meetings (and ours never loop back), a dropped sync token resyncs without duplicates, a
changed password makes the host not bookable until they reconnect, and availability merges
the counted calendars with a recurring series and its exception."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from convene_schemas.events.calendar_sync import (
    CalendarAccessLost,
    CalendarAccessRestored,
    CalendarEventChanged,
    CalendarEventLinked,
)
from convene_schemas.events.meetings import (
    MeetingCanceled,
    MeetingRescheduled,
    MeetingScheduled,
)
from pymongo import AsyncMongoClient
from support import endpoint, wait_for
from support.calendar_sync import (
    RadicaleCalendars,
    SyncAccount,
    connect_caldav,
    dies_after_the_provider_write,
    host_bookable,
    meeting_events_of,
    meetings_call,
    own_radicale_user,
    sync_call,
    sync_events,
    vevent,
)
from support.meetings import post_when_known
from support.services import Stack

WAITING = ("no_connected_calendar", "unknown_host", "unknown_attendee")


@pytest.fixture
async def radicale() -> AsyncIterator[RadicaleCalendars]:
    calendars = RadicaleCalendars("alice")
    yield calendars
    await calendars.cleanup()


def start_in(days: int, hour: int = 10) -> datetime:
    day = datetime.now(timezone.utc) + timedelta(days=days)
    return day.replace(hour=hour, minute=0, second=0, microsecond=0)


async def schedule(stack: Stack, acc: SyncAccount, title: str, days: int = 3) -> dict:
    body = {"title": title, "start": start_in(days).isoformat(), "time_zone": "Europe/Rome",
            "duration_minutes": 30, "attendee_description": "First agenda",
            "attendees": [{"kind": "contact", "id": acc.contact["id"]}]}
    created = await post_when_known(stack, acc.token(), body, waiting_for=WAITING)
    assert created.status_code == 201, created.text
    return created.json()["meeting"]


async def resources_with(radicale: RadicaleCalendars, calendar: str, text: str,
                         count: int = 1) -> dict[str, str]:
    async def found() -> tuple[dict[str, str]] | None:  # a tuple: truthy even when empty
        matching = {h: d for h, d in (await radicale.resources(calendar)).items() if text in d}
        return (matching,) if len(matching) == count else None

    [matching] = await wait_for(found, f"{count} resource(s) holding {text!r}", timeout=40)
    return matching


async def test_a_meeting_lands_once_in_the_primary_calendar_and_follows_its_edits(
        stack: Stack, radicale: RadicaleCalendars, new_account: Any) -> None:
    acc = new_account()
    primary, extra = await radicale.make("work"), await radicale.make("home")
    await connect_caldav(stack, acc, radicale, primary, extra)
    meeting = await schedule(stack, acc, f"Demo-{uuid.uuid4().hex[:6]}")
    [(href, ics)] = (await resources_with(radicale, primary, meeting["ical_uid"])).items()
    assert f"UID:{meeting['ical_uid']}" in ics and f"X-CONVENE-MEETING-ID:{meeting['id']}" in ics
    assert "First agenda" in ics
    assert await radicale.resources(extra) == {}  # only the primary calendar

    async def linked() -> list | None:
        found = await sync_events(stack, acc.id, CalendarEventLinked)
        return found or None

    [link] = await wait_for(linked, "CalendarEventLinked")
    assert link.meeting_id == meeting["id"] and link.calendar_id == primary

    edited = await meetings_call(stack, "PATCH", f"/meetings/{meeting['id']}", acc.token(),
                                 json={"title": "Renamed demo",
                                       "attendee_description": "Second agenda"})
    assert edited.status_code == 200, edited.text
    [(_, ics)] = (await resources_with(radicale, primary, "Second agenda")).items()
    assert "SUMMARY:Renamed demo" in ics and "SEQUENCE:" in ics
    moved_to = start_in(4, hour=15)
    moved = await meetings_call(stack, "POST", f"/meetings/{meeting['id']}/reschedule",
                                acc.token(), json={"start": moved_to.isoformat(),
                                                   "time_zone": "Europe/Rome",
                                                   "duration_minutes": 45})
    assert moved.status_code == 200, moved.text
    local = moved_to.astimezone(ZoneInfo("Europe/Rome")).strftime("%Y%m%dT%H%M%S")
    [(_, ics)] = (await resources_with(radicale, primary, local)).items()
    assert "TZID=Europe/Rome" in ics
    canceled = await meetings_call(stack, "POST", f"/meetings/{meeting['id']}/cancel",
                                   acc.token(), json={})
    assert canceled.status_code == 200, canceled.text
    await resources_with(radicale, primary, meeting["ical_uid"], count=0)
    assert len(await sync_events(stack, acc.id, CalendarEventLinked)) == 1


async def test_a_crash_after_the_provider_write_and_a_redelivery_leave_one_event(
        stack: Stack, radicale: RadicaleCalendars, new_account: Any) -> None:
    acc = new_account()
    primary = await radicale.make("work")
    await connect_caldav(stack, acc, radicale, primary)
    title = f"Crash-{uuid.uuid4().hex[:6]}"
    async with dies_after_the_provider_write(stack, title):
        meeting = await schedule(stack, acc, title)
    # the provider has the event; nothing of it was recorded or committed before the crash
    await resources_with(radicale, primary, meeting["ical_uid"])
    # redelivered after the restart: written again to the same resource, linked once
    async def linked() -> list | None:
        return await sync_events(stack, acc.id, CalendarEventLinked) or None

    await wait_for(linked, "CalendarEventLinked after the restart", timeout=40)
    [(_, ics)] = (await resources_with(radicale, primary, meeting["ical_uid"])).items()
    # the same MeetingScheduled delivered once more changes nothing
    [scheduled] = [e for e in await meeting_events_of(stack, acc.id)
                   if isinstance(e, MeetingScheduled) and e.meeting_id == meeting["id"]]
    from support.meetings import publish_event

    await publish_event(stack, scheduled)
    edited = await meetings_call(stack, "PATCH", f"/meetings/{meeting['id']}", acc.token(),
                                 json={"title": f"{title}-after"})
    assert edited.status_code == 200
    await resources_with(radicale, primary, f"SUMMARY:{title}-after")
    assert len(await radicale.resources(primary)) == 1
    assert len(await sync_events(stack, acc.id, CalendarEventLinked)) == 1


async def test_events_made_in_the_calendar_follow_into_the_crm_and_ours_do_not_loop(
        stack: Stack, radicale: RadicaleCalendars, new_account: Any) -> None:
    acc = new_account()
    primary = await radicale.make("work")
    await connect_caldav(stack, acc, radicale, primary)
    ours = await schedule(stack, acc, f"Ours-{uuid.uuid4().hex[:6]}")
    lonely_uid, uid = f"lonely-{uuid.uuid4().hex}", f"direct-{uuid.uuid4().hex}"
    await radicale.put(primary, vevent(lonely_uid, "Dentist", start_in(2),
                                       organizer=acc.host["email"]))
    href = await radicale.put(primary, vevent(uid, "Call with Dana", start_in(2, 14),
                                              organizer=acc.host["email"],
                                              attendees=(acc.contact["email"],)))

    async def synced_meeting() -> list | None:
        found = [e for e in await meeting_events_of(stack, acc.id)
                 if e.source == "calendar_sync"]
        return found or None

    [created] = await wait_for(synced_meeting, "the meeting made from the calendar event",
                               timeout=60)
    assert isinstance(created, MeetingScheduled) and created.title == "Call with Dana"
    assert [a.id for a in created.attendees] == [acc.contact["id"]]
    changed = await sync_events(stack, acc.id, CalendarEventChanged)
    assert all(lonely_uid != e.ical_uid for e in changed)  # no contact: never published
    flagged = [e for e in changed if e.created_by_convene_meeting_id == ours["id"]]
    assert all(e.created_by_integration for e in flagged)

    await radicale.put(primary, vevent(uid, "Call with Dana, moved", start_in(2, 16),
                                       organizer=acc.host["email"],
                                       attendees=(acc.contact["email"],)))

    async def followed(kind: type) -> list | None:
        found = [e for e in await meeting_events_of(stack, acc.id)
                 if e.meeting_id == created.meeting_id and isinstance(e, kind)]
        return found or None

    await wait_for(lambda: followed(MeetingRescheduled), "the synced meeting to follow the edit",
                   timeout=60)
    await radicale.delete(href)
    await wait_for(lambda: followed(MeetingCanceled), "the synced meeting to be canceled",
                   timeout=60)
    synced = {e.meeting_id for e in await meeting_events_of(stack, acc.id)
              if e.source == "calendar_sync"}
    assert synced == {created.meeting_id}  # our own meeting never came back as a new one


async def test_a_dropped_sync_token_resyncs_without_duplicates(
        stack: Stack, radicale: RadicaleCalendars, new_account: Any) -> None:
    acc = new_account()
    primary = await radicale.make("work")
    connection = await connect_caldav(stack, acc, radicale, primary)
    uid = f"direct-{uuid.uuid4().hex}"
    await radicale.put(primary, vevent(uid, "Kept", start_in(2, 9), organizer=acc.host["email"],
                                       attendees=(acc.contact["email"],)))

    async def published() -> list | None:
        found = [e for e in await sync_events(stack, acc.id, CalendarEventChanged)
                 if e.ical_uid == uid]
        return found or None

    await wait_for(published, "the event to be published", timeout=40)
    client = AsyncMongoClient(endpoint("CONVENE_MONGO_URL"))
    try:  # the server forgets the token: a token it never issued is refused the same way
        states = client[stack.database("calendar-sync")]["sync_state"]

        async def stored() -> bool:  # the page's events are published before its cursor
            state = await states.find_one({"connection_id": connection["connection_id"],
                                           "calendar_id": primary})
            return bool(state and state.get("cursor"))

        await wait_for(stored, "the sync cursor to be stored")
        result = await states.update_many(
            {"connection_id": connection["connection_id"], "calendar_id": primary},
            {"$set": {"cursor": "http://radicale.org/ns/sync/" + "0" * 64}})
        assert result.matched_count == 1
    finally:
        await client.close()
    later = f"direct-{uuid.uuid4().hex}"
    await radicale.put(primary, vevent(later, "Added meanwhile", start_in(2, 11),
                                       organizer=acc.host["email"],
                                       attendees=(acc.contact["email"],)))

    async def both() -> list | None:
        found = await sync_events(stack, acc.id, CalendarEventChanged)
        return found if {uid, later} <= {e.ical_uid for e in found} else None

    found = await wait_for(both, "the full resync to publish the new event", timeout=60)
    assert [e.change for e in found if e.ical_uid == uid] == ["created"]  # not again
    assert [e.change for e in found if e.ical_uid == later] == ["created"]


async def test_a_changed_password_makes_the_host_not_bookable_until_reconnected(
        stack: Stack, new_account: Any) -> None:
    acc = new_account()
    async with own_radicale_user() as radicale:
        first_password = radicale.password
        primary = await radicale.make("work")
        await connect_caldav(stack, acc, radicale, primary)
        new_password = radicale.change_password()

        async def lost() -> list | None:
            return await sync_events(stack, acc.id, CalendarAccessLost) or None

        [loss] = await wait_for(lost, "CalendarAccessLost", timeout=40)
        assert loss.reason == "password_changed"
        assert await host_bookable(stack, acc) is False
        again = await sync_call(stack, "POST", "/connections/caldav", acc.token(), json={
            "url": radicale.url, "username": radicale.user, "password": new_password})
        assert again.status_code == 201, again.text
        assert (await sync_events(stack, acc.id, CalendarAccessRestored))
        assert await host_bookable(stack, acc) is True
        sync_log = stack.services["calendar-sync"].log_tail(100_000)
        assert new_password not in sync_log and first_password not in sync_log


async def test_availability_merges_counted_calendars_with_a_recurring_series(
        stack: Stack, radicale: RadicaleCalendars, new_account: Any) -> None:
    acc = new_account()
    primary, extra = await radicale.make("work"), await radicale.make("home")
    await connect_caldav(stack, acc, radicale, primary, extra)
    monday = start_in(7 - start_in(0).weekday(), hour=8)  # next Monday 08:00 UTC
    series = f"series-{uuid.uuid4().hex}"
    moved = monday + timedelta(days=7)
    await radicale.put(extra, vevent(series, "Gym", monday, 60, organizer="me@home.example",
                                     extra="RRULE:FREQ=WEEKLY;COUNT=3") .replace(
        "END:VEVENT\r\nEND:VCALENDAR",
        "END:VEVENT\r\nBEGIN:VEVENT\r\nUID:" + series + "\r\nDTSTAMP:20260101T000000Z\r\n"
        f"RECURRENCE-ID:{moved.strftime('%Y%m%dT%H%M%SZ')}\r\n"
        f"DTSTART:{(moved + timedelta(hours=3)).strftime('%Y%m%dT%H%M%SZ')}\r\n"
        f"DTEND:{(moved + timedelta(hours=4)).strftime('%Y%m%dT%H%M%SZ')}\r\n"
        "SUMMARY:Gym (moved)\r\nEND:VEVENT\r\nEND:VCALENDAR"))
    await radicale.put(primary, vevent(f"board-{uuid.uuid4().hex}", "Board", monday
                                       + timedelta(hours=2), 60, organizer=acc.host["email"]))
    window = {"start": monday.isoformat(), "end": (monday + timedelta(days=21)).isoformat()}

    async def owner_view() -> dict | None:
        answer = await sync_call(stack, "GET", f"/users/{acc.host['id']}/availability",
                                 acc.token(), params=window)
        body = answer.json()
        return body if len(body["busy"]) == 4 else None

    body = await wait_for(owner_view, "four busy blocks", timeout=60)
    # one title per event (the series'), the exception at its own time, not the rule's
    assert sorted(b["title"] for b in body["busy"]) == ["Board", "Gym", "Gym", "Gym"]
    gym = sorted(datetime.fromisoformat(b["start"]) for b in body["busy"] if b["title"] == "Gym")
    assert gym == [monday, moved + timedelta(hours=3), monday + timedelta(days=14)]
    other = await sync_call(stack, "GET", f"/users/{acc.host['id']}/availability",
                            acc.token(acc.colleague["id"]), params=window)
    assert other.status_code == 200 and other.json()["bookable"] is True
    assert all(b["title"] is None for b in other.json()["busy"])
    assert len(other.json()["busy"]) == 4  # none of them overlap


async def test_private_and_loopback_urls_are_refused_with_the_setting_off(
        stack: Stack, new_account: Any) -> None:
    acc = new_account()
    stack.restart("calendar-sync", extra={"CONVENE_ALLOW_PRIVATE_URLS": "false"})
    try:
        radicale = RadicaleCalendars("alice")
        port = radicale.url.rsplit(":", 1)[1]
        for url in (radicale.url, f"http://localhost:{port}", "http://[::1]/dav/",
                    "http://[::ffff:127.0.0.1]/", "http://169.254.169.254/latest/",
                    "http://10.1.2.3/dav/", "http://0.0.0.0/", "http://2130706433/"):
            async def refused(url: str = url) -> dict | None:
                answer = await sync_call(stack, "POST", "/connections/caldav", acc.token(),
                                         json={"url": url, "username": "alice",
                                               "password": radicale.password})
                return None if answer.status_code == 403 else answer.json()  # host not known

            body = await wait_for(refused, f"an answer for {url}", timeout=40)
            assert body["error"]["code"] == "url_refused", (url, body)
        assert "alice" not in str(await sync_events(stack, acc.id))  # nothing was connected
    finally:
        stack.start("calendar-sync")
