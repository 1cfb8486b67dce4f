"""calendar-sync with Google Calendar (the emulator, driven by the official client
libraries), as processes on real Kafka and the store: connecting through the authorization
code + PKCE with a state used once, a meeting written once to the primary calendar with our
id, UID and marker and following its edits, events made in Google becoming CRM meetings, a
410 Gone resyncing without duplicates, a revoked grant making the host not bookable
until they reconnect, and a throttling storm plus a revoked grant converging with nothing
duplicated (issue 17)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from convene_calendar_sync.providers.google import google_event_id
from convene_schemas.events.calendar_sync import (
    CalendarAccessLost,
    CalendarAccessRestored,
    CalendarEventChanged,
    CalendarEventLinked,
)
from convene_schemas.events.meetings import MeetingCanceled, MeetingScheduled, MeetingUpdated
from support import endpoint, wait_for
from support.calendar_sync import (
    SyncAccount,
    add_throttling_storm,
    authorize_google,
    connect_google_account,
    dies_after_the_provider_write,
    failed_calls,
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


async def connect_google(stack: Stack, acc: SyncAccount, google: EmulatorAdmin,
                         *additional: str) -> tuple[str, dict[str, Any]]:
    email = f"host-{uuid.uuid4().hex[:8]}@gmail.example"
    google.add_user(email, "Hana Host", "Europe/Rome")
    extra = [google.add_calendar(email, name)["id"] for name in additional]
    connection = await connect_google_account(stack, acc.token(), google, email)
    assert connection["provider"] == "google" and connection["sync_enabled"] is True
    if extra:
        changed = await sync_call(stack, "PATCH", f"/connections/{connection['connection_id']}",
                                  acc.token(), json={"calendar_ids": [email, *extra]})
        assert changed.status_code == 200, changed.text
        connection = changed.json()
    return email, connection


async def schedule(stack: Stack, acc: SyncAccount, title: str, *,
                   start: datetime | None = None) -> dict:
    body = {"title": title, "start": (start or start_in(3)).isoformat(), "time_zone": "Europe/Rome",
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
    callback = await authorize_google(stack, acc.token(), google, email)
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
    callback = await authorize_google(stack, acc.token(), google, email)
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
    callback = await authorize_google(stack, acc.token(), google, email)
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


@pytest.mark.timeout(240)
async def test_a_throttling_storm_and_a_revoked_grant_converge_without_duplicates(
        stack: Stack, google: EmulatorAdmin, new_account: Any) -> None:
    """Issue 17: while Google throttles every events call (a mix of 403 rate limits, 429 and
    503), meetings scheduled in the CRM and events made in Google all converge, each once,
    with nothing looping back; then a revoked grant makes the host not bookable until they
    reconnect, and the reconnect duplicates nothing."""
    acc = new_account()
    email, connection = await connect_google(stack, acc, google)
    tag = uuid.uuid4().hex[:6]
    try:
        add_throttling_storm(google, rounds=4)
        meetings = [await schedule(stack, acc, f"Storm-{tag}-{n}", start=start_in(3, 8 + n))
                    for n in range(5)]
        inbound: dict[str, dict] = {}
        for n in range(3):
            start = start_in(2, 8 + 2 * n)
            made = google.insert_event(email, {
                "summary": f"Inbound-{tag}-{n}", "organizer": {"email": email},
                "start": {"dateTime": start.isoformat()},
                "end": {"dateTime": (start + timedelta(minutes=30)).isoformat()},
                "attendees": [{"email": acc.contact["email"]}]})
            inbound[made["id"]] = made

        def provider_events() -> dict[str, list[dict]] | None:
            """Per meeting, the stored events with its id or its iCalUID, once each has one."""
            stored = google.stored_events(email)
            found = {m["id"]: [e for e in stored if e["id"] == google_event_id(m["id"])
                               or e.get("iCalUID") == m["ical_uid"]] for m in meetings}
            return found if all(found.values()) else None

        def assert_one_event_per_meeting(found: dict[str, list[dict]]) -> None:
            for meeting in meetings:
                [event] = found[meeting["id"]]  # one event: ours, under our id and UID
                assert event["id"] == google_event_id(meeting["id"])
                assert event["iCalUID"] == meeting["ical_uid"]
                assert event["status"] != "cancelled"
                assert event["extendedProperties"]["private"]["conveneMeetingId"] == meeting["id"]

        written = await wait_for(provider_events, "every meeting written through the storm",
                                 timeout=120)
        assert_one_event_per_meeting(written)

        async def synced_meetings() -> list[MeetingScheduled]:
            return [e for e in await meeting_events_of(stack, acc.id)
                    if e.source == "calendar_sync" and isinstance(e, MeetingScheduled)]

        inbound_titles = {e["summary"] for e in inbound.values()}

        async def all_synced() -> list[MeetingScheduled] | None:
            found = await synced_meetings()
            return found if {e.title for e in found} >= inbound_titles else None

        await wait_for(all_synced, "every Google event as a CRM meeting", timeout=60)

        async def ours_read_back() -> list[CalendarEventChanged] | None:
            found = [e for e in await sync_events(stack, acc.id, CalendarEventChanged)
                     if e.created_by_convene_meeting_id is not None]
            read = {e.created_by_convene_meeting_id for e in found}
            return found if read >= {m["id"] for m in meetings} else None

        ours = await wait_for(ours_read_back, "our meetings read back, flagged", timeout=40)
        assert all(e.created_by_integration for e in ours)  # flagged: no loop

        failed = failed_calls(google, email)  # the storm hit this host's calls
        assert len(failed) >= 10, failed
        assert "events.insert" in {r["operation"] for r in failed}, failed
        assert len({(r["status"], r["reason"]) for r in failed}) >= 2, failed
        google.clear_faults()

        changed = await sync_events(stack, acc.id, CalendarEventChanged)
        for event_id in inbound:  # each Google event published as created exactly once
            created = [e for e in changed
                       if e.provider_event_id == event_id and e.change == "created"]
            assert len(created) == 1, created
        synced = await synced_meetings()
        assert sorted(e.title for e in synced) == sorted(inbound_titles)  # one each, none of ours
        assert await host_bookable(stack, acc) is True  # throttling is not lost access
        assert len(await sync_events(stack, acc.id, CalendarEventLinked)) == len(meetings)

        # the grant revoked: a change that needs Google, the host no longer bookable
        google.revoke_user(email)
        moved = meetings[0]
        moved_to = start_in(4, 15)
        answer = await meetings_call(stack, "POST", f"/meetings/{moved['id']}/reschedule",
                                     acc.token(), json={"start": moved_to.isoformat(),
                                                        "time_zone": "Europe/Rome",
                                                        "duration_minutes": 45})
        assert answer.status_code == 200, answer.text

        async def lost() -> list | None:
            return await sync_events(stack, acc.id, CalendarAccessLost) or None

        [loss] = await wait_for(lost, "CalendarAccessLost", timeout=40)
        assert loss.reason == "token_revoked"
        assert await host_bookable(stack, acc) is False

        polls_before = len([r for r in google.requests("events.list")
                            if r.get("user") == email and r.get("status") == 200])
        callback = await authorize_google(stack, acc.token(), google, email)
        again = await sync_call(stack, "GET", "/connections/google/callback", acc.token(),
                                params=callback)
        assert again.status_code == 201, again.text
        assert again.json()["connection_id"] == connection["connection_id"]
        assert await host_bookable(stack, acc) is True

        def polled_again() -> bool:
            return len([r for r in google.requests("events.list")
                        if r.get("user") == email and r.get("status") == 200]) > polls_before

        await wait_for(polled_again, "a sync with the new grant", timeout=30)

        def moved_in_google() -> dict | None:
            [event] = (provider_events() or {}).get(moved["id"]) or [None]
            start = (event or {}).get("start", {}).get("dateTime")
            return event if start and datetime.fromisoformat(start) == moved_to else None

        # the reschedule made while the grant was revoked waited, and is written now
        await wait_for(moved_in_google, "the reschedule made while revoked in Google", timeout=30)
        assert_one_event_per_meeting(provider_events() or {})
        assert sorted(e.title for e in await synced_meetings()) == sorted(inbound_titles)
        assert len(await sync_events(stack, acc.id, CalendarEventLinked)) == len(meetings)
    finally:
        google.clear_faults()
