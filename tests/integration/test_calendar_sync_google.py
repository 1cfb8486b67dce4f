"""calendar-sync with Google Calendar (the emulator, driven by the official client
libraries), as processes on real Kafka and the store: connecting through the authorization
code + PKCE with a state used once, a meeting written once to the primary calendar with our
id, UID and marker and following its edits, events made in Google becoming CRM meetings, a
410 Gone resyncing without duplicates, and a revoked grant making the host not bookable
until they reconnect."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from convene_calendar_sync.providers.google import google_event_id
from convene_schemas.events.calendar_sync import (
    CalendarAccessLost,
    CalendarAccessRestored,
    CalendarEventChanged,
    CalendarEventLinked,
)
from convene_schemas.events.meetings import MeetingCanceled, MeetingScheduled, MeetingUpdated
from support import audit, endpoint, wait_for
from support.calendar_sync import (
    SyncAccount,
    dies_after_the_provider_write,
    host_bookable,
    meeting_events_of,
    meetings_call,
    sync_call,
    sync_events,
)
from support.meetings import post_when_known, publish_event
from support.services import GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET, GOOGLE_REDIRECT_URI, Stack

from infra.emulators.google_calendar.client import EmulatorAdmin

WAITING = ("no_connected_calendar", "unknown_host", "unknown_attendee")


@pytest.fixture
def google() -> Iterator[EmulatorAdmin]:
    """The emulator started with the infrastructure (shared: nothing here resets it), with
    the stack's OAuth client."""
    admin = EmulatorAdmin(endpoint("CONVENE_GOOGLE_URL"))
    admin.add_client(GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET, [GOOGLE_REDIRECT_URI])
    yield admin


def start_in(days: int, hour: int = 10) -> datetime:
    day = datetime.now(timezone.utc) + timedelta(days=days)
    return day.replace(hour=hour, minute=0, second=0, microsecond=0)


async def authorize(stack: Stack, acc: SyncAccount, google: EmulatorAdmin,
                    email: str) -> dict[str, str]:
    """Start connecting, let the emulated user consent, and return the callback's query
    (``state``, ``code``) as Google's redirect carries it."""
    async def start() -> httpx.Response | None:
        answer = await sync_call(stack, "POST", "/connections/google", acc.token())
        return None if answer.status_code == 403 else answer  # host not known yet

    started = await wait_for(start, "calendar-sync to know the host", timeout=40)
    assert started.status_code == 200, started.text
    google.consent(email)
    async with httpx.AsyncClient(timeout=10) as browser:
        redirect = await browser.get(started.json()["authorization_url"])
    assert redirect.status_code == 302, redirect.text
    query = parse_qs(urlparse(redirect.headers["location"]).query)
    return {name: values[0] for name, values in query.items()}


async def connect_google(stack: Stack, acc: SyncAccount, google: EmulatorAdmin,
                         *additional: str) -> tuple[str, dict[str, Any]]:
    email = f"host-{uuid.uuid4().hex[:8]}@gmail.example"
    google.add_user(email, "Hana Host", "Europe/Rome")
    extra = [google.add_calendar(email, name)["id"] for name in additional]
    callback = await authorize(stack, acc, google, email)
    done = await sync_call(stack, "GET", "/connections/google/callback", acc.token(),
                           params=callback)
    assert done.status_code == 201, done.text
    for grant in google.grants(email):  # the run's audit: no refresh token anywhere
        audit.AUDIT.remember_secret(grant["refreshToken"] or "")
    connection = done.json()
    assert connection["provider"] == "google" and connection["sync_enabled"] is True
    if extra:
        changed = await sync_call(stack, "PATCH", f"/connections/{connection['connection_id']}",
                                  acc.token(), json={"calendar_ids": [email, *extra]})
        assert changed.status_code == 200, changed.text
        connection = changed.json()
    return email, connection


async def schedule(stack: Stack, acc: SyncAccount, title: str) -> dict:
    body = {"title": title, "start": start_in(3).isoformat(), "time_zone": "Europe/Rome",
            "duration_minutes": 30, "attendee_description": "First agenda",
            "attendees": [{"kind": "contact", "id": acc.contact["id"]}]}
    created = await post_when_known(stack, acc.token(), body, waiting_for=WAITING)
    assert created.status_code == 201, created.text
    return created.json()["meeting"]


async def test_a_state_is_used_once_and_only_by_its_user(
        stack: Stack, google: EmulatorAdmin, new_account: Any) -> None:
    acc = new_account()
    email = f"host-{uuid.uuid4().hex[:8]}@gmail.example"
    google.add_user(email, "Hana Host", "Europe/Rome")
    callback = await authorize(stack, acc, google, email)
    stolen = await sync_call(stack, "GET", "/connections/google/callback",
                             acc.token(acc.colleague["id"]), params=callback)
    assert stolen.status_code == 400 and stolen.json()["error"]["code"] == "oauth_state_invalid"
    forged = await sync_call(stack, "GET", "/connections/google/callback", acc.token(),
                             params={**callback, "state": uuid.uuid4().hex})
    assert forged.json()["error"]["code"] == "oauth_state_invalid"
    # the stolen attempt used the state up: a replay by its own user is refused too
    replay = await sync_call(stack, "GET", "/connections/google/callback", acc.token(),
                             params=callback)
    assert replay.status_code == 400 and replay.json()["error"]["code"] == "oauth_state_invalid"
    callback = await authorize(stack, acc, google, email)
    done = await sync_call(stack, "GET", "/connections/google/callback", acc.token(),
                           params=callback)
    assert done.status_code == 201, done.text
    again = await sync_call(stack, "GET", "/connections/google/callback", acc.token(),
                            params=callback)
    assert again.json()["error"]["code"] == "oauth_state_invalid"


async def test_a_meeting_is_written_once_to_the_primary_google_calendar(
        stack: Stack, google: EmulatorAdmin, new_account: Any) -> None:
    acc = new_account()
    email, connection = await connect_google(stack, acc, google, "Personal")
    [personal] = [c["calendar_id"] for c in connection["calendars"]
                  if c["calendar_id"] != email and c["added"]]
    meeting = await schedule(stack, acc, f"Demo-{uuid.uuid4().hex[:6]}")
    event_id = google_event_id(meeting["id"])

    def stored(**wanted: Any) -> list[dict] | None:
        found = [e for e in google.stored_events(email) if e["id"] == event_id]
        return found if found and all(found[0].get(k) == v for k, v in wanted.items()) else None

    [event] = await wait_for(lambda: stored(), "the meeting in the primary calendar", timeout=40)
    assert event["iCalUID"] == meeting["ical_uid"]
    assert event["extendedProperties"]["private"]["conveneMeetingId"] == meeting["id"]
    assert event["description"] == "First agenda"
    assert google.stored_events(personal) == []
    edited = await meetings_call(stack, "PATCH", f"/meetings/{meeting['id']}", acc.token(),
                                 json={"title": "Renamed", "attendee_description": "New agenda"})
    assert edited.status_code == 200, edited.text
    await wait_for(lambda: stored(summary="Renamed", description="New agenda"),
                   "the edit in Google", timeout=40)
    moved_to = start_in(4, hour=15)
    moved = await meetings_call(stack, "POST", f"/meetings/{meeting['id']}/reschedule",
                                acc.token(), json={"start": moved_to.isoformat(),
                                                   "time_zone": "Europe/Rome",
                                                   "duration_minutes": 45})
    assert moved.status_code == 200, moved.text

    def moved_in_google() -> list[dict] | None:
        found = stored()
        return found if found and datetime.fromisoformat(
            found[0]["start"]["dateTime"]) == moved_to else None

    await wait_for(moved_in_google, "the reschedule in Google", timeout=40)
    canceled = await meetings_call(stack, "POST", f"/meetings/{meeting['id']}/cancel",
                                   acc.token(), json={})
    assert canceled.status_code == 200
    await wait_for(lambda: stored(status="cancelled"), "the event deleted", timeout=40)
    assert len([e for e in google.stored_events(email) if e["id"] == event_id]) == 1
    assert len(await sync_events(stack, acc.id, CalendarEventLinked)) == 1


async def test_google_events_become_crm_meetings_and_a_410_resync_duplicates_nothing(
        stack: Stack, google: EmulatorAdmin, new_account: Any) -> None:
    acc = new_account()
    email, _ = await connect_google(stack, acc, google)
    our_meeting = await schedule(stack, acc, f"Ours-{uuid.uuid4().hex[:6]}")
    start = start_in(2, 14)
    lonely = google.insert_event(email, {
        "summary": "Dentist", "start": {"dateTime": start_in(2, 8).isoformat()},
        "end": {"dateTime": (start_in(2, 8) + timedelta(minutes=30)).isoformat()}})
    made = google.insert_event(email, {
        "summary": "Call with Dana", "organizer": {"email": email},
        "start": {"dateTime": start.isoformat()},
        "end": {"dateTime": (start + timedelta(minutes=30)).isoformat()},
        "attendees": [{"email": acc.contact["email"]}]})

    async def synced(kind: type) -> list | None:
        found = [e for e in await meeting_events_of(stack, acc.id)
                 if e.source == "calendar_sync" and isinstance(e, kind)]
        return found or None

    [created] = await wait_for(lambda: synced(MeetingScheduled), "the synced meeting",
                               timeout=60)
    assert created.title == "Call with Dana"
    async def ours_read_back() -> list | None:
        found = [e for e in await sync_events(stack, acc.id, CalendarEventChanged)
                 if e.created_by_convene_meeting_id == our_meeting["id"]]
        return found or None

    ours = await wait_for(ours_read_back, "our meeting's event read back, flagged", timeout=40)
    assert all(e.created_by_integration for e in ours)  # ours: flagged, so no loop
    changed = await sync_events(stack, acc.id, CalendarEventChanged)
    assert lonely["id"] not in {e.provider_event_id for e in changed}  # no contact: not published
    assert {e.title for e in changed if not e.created_by_integration} == {"Call with Dana"}
    google.invalidate_sync_tokens(email)
    google.patch_event(email, made["id"], {"summary": "Call with Dana, renamed"})
    await wait_for(lambda: synced(MeetingUpdated), "the rename after a full resync",
                   timeout=60)
    assert len(await synced(MeetingScheduled) or []) == 1  # the resync made no second one
    synced_ids = {e.meeting_id for e in await meeting_events_of(stack, acc.id)
                  if e.source == "calendar_sync"}
    assert synced_ids == {created.meeting_id}  # our own meeting never came back as new
    google.delete_event(email, made["id"])
    await wait_for(lambda: synced(MeetingCanceled), "the synced meeting canceled", timeout=60)


async def test_a_revoked_grant_makes_the_host_not_bookable_until_they_reconnect(
        stack: Stack, google: EmulatorAdmin, new_account: Any) -> None:
    acc = new_account()
    email, connection = await connect_google(stack, acc, google)
    google.revoke_user(email)

    async def lost() -> list | None:
        return await sync_events(stack, acc.id, CalendarAccessLost) or None

    [loss] = await wait_for(lost, "CalendarAccessLost", timeout=40)
    assert loss.reason == "token_revoked"
    assert await host_bookable(stack, acc) is False
    callback = await authorize(stack, acc, google, email)
    again = await sync_call(stack, "GET", "/connections/google/callback", acc.token(),
                            params=callback)
    assert again.status_code == 201, again.text
    assert again.json()["connection_id"] == connection["connection_id"]
    assert await sync_events(stack, acc.id, CalendarAccessRestored)
    assert await host_bookable(stack, acc) is True


async def test_a_crash_after_the_google_write_and_a_redelivery_leave_one_event(
        stack: Stack, google: EmulatorAdmin, new_account: Any) -> None:
    acc = new_account()
    email, _ = await connect_google(stack, acc, google)
    title = f"Crash-{uuid.uuid4().hex[:6]}"
    async with dies_after_the_provider_write(stack, title):
        meeting = await schedule(stack, acc, title)
    event_id = google_event_id(meeting["id"])

    async def linked() -> list | None:
        return await sync_events(stack, acc.id, CalendarEventLinked) or None

    await wait_for(linked, "CalendarEventLinked after the restart", timeout=40)
    [scheduled] = [e for e in await meeting_events_of(stack, acc.id)
                   if isinstance(e, MeetingScheduled) and e.meeting_id == meeting["id"]]
    await publish_event(stack, scheduled)  # delivered once more
    edited = await meetings_call(stack, "PATCH", f"/meetings/{meeting['id']}", acc.token(),
                                 json={"title": f"{title}-after"})
    assert edited.status_code == 200

    def renamed() -> list[dict] | None:
        found = [e for e in google.stored_events(email) if e["id"] == event_id]
        return found if found and found[0]["summary"] == f"{title}-after" else None

    await wait_for(renamed, "the edit after the crash", timeout=40)
    mine = [e for e in google.stored_events(email)
            if e.get("iCalUID") == meeting["ical_uid"]]
    assert [e["id"] for e in mine] == [event_id]  # one event, ours
    assert len(await sync_events(stack, acc.id, CalendarEventLinked)) == 1


async def test_push_notifications_bring_changes_without_waiting_for_the_poll(
        stack: Stack, google: EmulatorAdmin, new_account: Any) -> None:
    """calendar-sync opens a channel per synced calendar (events.watch) at its push address;
    with the poll an hour away, a change made in Google arrives through the notification the
    emulator POSTs; disconnecting stops the channel."""
    port = stack.services["calendar-sync"].port
    address = f"http://127.0.0.1:{port}/push/google"
    stack.restart("calendar-sync", extra={"CONVENE_GOOGLE_PUSH_ADDRESS": address,
                                          "CONVENE_SYNC_INTERVAL_S": "3600"})
    try:
        acc = new_account()
        email, connection = await connect_google(stack, acc, google)

        def channel() -> list[dict] | None:
            found = [c for c in google.channels() if c["calendarId"] == email and c["active"]]
            return found or None

        [opened] = await wait_for(channel, "a push channel on the primary calendar", timeout=40)
        assert opened["address"] == address
        start = start_in(2, 14)
        made = google.insert_event(email, {
            "summary": "Pushed call", "organizer": {"email": email},
            "start": {"dateTime": start.isoformat()},
            "end": {"dateTime": (start + timedelta(minutes=30)).isoformat()},
            "attendees": [{"email": acc.contact["email"]}]})

        async def published() -> list | None:
            found = [e for e in await sync_events(stack, acc.id, CalendarEventChanged)
                     if e.provider_event_id == made["id"]]
            return found or None

        await wait_for(published, "the change, brought by the push notification", timeout=30)
        delivered = [n for n in google.notifications()
                     if n["channelId"] == opened["id"] and n.get("state") == "exists"]
        assert delivered and delivered[0].get("status") == 204
        gone = await sync_call(stack, "DELETE", f"/connections/{connection['connection_id']}",
                               acc.token())
        assert gone.status_code == 200
        stopped = [c for c in google.channels() if c["id"] == opened["id"]]
        assert stopped and stopped[0]["stopped"] is True
    finally:
        stack.start("calendar-sync")
