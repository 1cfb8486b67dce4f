"""CRM tasks in a sub-calendar (R33), as processes on real Kafka and the store, for CalDAV
(Radicale) and Google (the emulator): a task made through records' API for a user with a
paid seat and task sync on appears in a calendar made for tasks (never the primary, never
listed as one of the account's calendars), with its title at its due time; an edit of title
and due time follows, completion is shown ("✓ " and free), deletion removes it; a user
without a paid seat gets no tasks calendar at all."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import icalendar
import pytest
from convene_calendar_sync.domain.tasks import TASK_EVENT_MINUTES, task_calendar_key
from support import endpoint, wait_for
from support.calendar_sync import (
    RadicaleCalendars,
    SyncAccount,
    add_user,
    connect_caldav,
    connect_google_account,
    records_call,
    sync_call,
    turn_task_sync_on,
)
from support.services import GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET, GOOGLE_REDIRECT_URI, Stack

from infra.emulators.google_calendar.client import EmulatorAdmin

UTC = timezone.utc


@pytest.fixture
async def radicale() -> AsyncIterator[RadicaleCalendars]:
    calendars = RadicaleCalendars("alice")
    yield calendars
    await calendars.cleanup()


@pytest.fixture
def google() -> Iterator[EmulatorAdmin]:
    admin = EmulatorAdmin(endpoint("CONVENE_GOOGLE_URL"))
    admin.add_client(GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET, [GOOGLE_REDIRECT_URI])
    yield admin
    admin.close()


def due_in(days: int, hour: int) -> datetime:
    day = datetime.now(UTC) + timedelta(days=days)
    return day.replace(hour=hour, minute=0, second=0, microsecond=0)


async def make_task(stack: Stack, acc: SyncAccount, owner_id: str, title: str,
                    due: datetime) -> dict[str, Any]:
    made = await records_call(stack, "POST", "/tasks", acc.token(), json={
        "title": title, "owner_user_id": owner_id, "due_at": due.isoformat()})
    assert made.status_code == 201, made.text
    return made.json()


async def change_task(stack: Stack, acc: SyncAccount, task_id: str, **changes: Any) -> None:
    changed = await records_call(stack, "PATCH", f"/tasks/{task_id}", acc.token(),
                                 json=changes)
    assert changed.status_code == 200, changed.text


# --- CalDAV ------------------------------------------------------------------------------------

async def caldav_tasks(radicale: RadicaleCalendars, tasks_url: str) -> list[dict[str, Any]]:
    """The events of the tasks collection, read back with icalendar."""
    shown = []
    for ics in (await radicale.resources(tasks_url)).values():
        for vevent in icalendar.Calendar.from_ical(ics).walk("VEVENT"):
            shown.append({"summary": str(vevent["SUMMARY"]),
                          "start": vevent.decoded("DTSTART"), "end": vevent.decoded("DTEND"),
                          "transp": str(vevent.get("TRANSP", "OPAQUE")),
                          "task_id": str(vevent.get("X-CONVENE-TASK-ID", ""))})
    return shown


async def test_caldav_a_task_appears_in_its_own_calendar_and_follows_edits_to_deletion(
        stack: Stack, radicale: RadicaleCalendars, new_account: Any) -> None:
    acc = new_account()
    primary = await radicale.make("work")
    connection = await connect_caldav(stack, acc, radicale, primary)
    connection_id = connection["connection_id"]
    await turn_task_sync_on(stack, acc.token(), connection_id)
    title, due = f"Call Dana {uuid.uuid4().hex[:6]}", due_in(2, 9)
    task = await make_task(stack, acc, acc.host["id"], title, due)

    collection = f"convene-tasks-{task_calendar_key(connection_id)}"

    async def tasks_url() -> str | None:
        return next((u for u in await radicale.calendar_urls() if collection in u), None)

    url = await wait_for(tasks_url, "the tasks calendar in Radicale", timeout=60)

    async def shown_as(summary: str, start: datetime) -> list | None:
        found = await caldav_tasks(radicale, url)
        return found if [(e["summary"], e["start"]) for e in found] == [(summary, start)] \
            else None

    [event] = await wait_for(lambda: shown_as(title, due), "the task in its calendar",
                             timeout=60)
    assert event["end"] == due + timedelta(minutes=TASK_EVENT_MINUTES)
    assert (event["task_id"], event["transp"]) == (task["id"], "OPAQUE")
    assert await radicale.resources(primary) == {}  # never in the primary calendar
    listed = await sync_call(stack, "GET", f"/connections/{connection_id}", acc.token())
    assert collection not in listed.text  # never offered, counted or synced inbound

    moved_title, moved = f"{title} (moved)", due_in(3, 15)
    await change_task(stack, acc, task["id"], title=moved_title, due_at=moved.isoformat())
    await wait_for(lambda: shown_as(moved_title, moved), "the edit to follow", timeout=60)

    await change_task(stack, acc, task["id"], status="completed")
    [done] = await wait_for(lambda: shown_as(f"✓ {moved_title}", moved),
                            "the task to show as completed", timeout=60)
    assert done["transp"] == "TRANSPARENT"

    deleted = await records_call(stack, "DELETE", f"/tasks/{task['id']}", acc.token())
    assert deleted.status_code == 204

    async def emptied() -> bool:
        return await caldav_tasks(radicale, url) == []

    await wait_for(emptied, "the deleted task to leave the calendar", timeout=60)


async def test_caldav_a_user_without_a_paid_seat_gets_no_tasks_calendar(
        stack: Stack, radicale: RadicaleCalendars, new_account: Any) -> None:
    acc = new_account()
    nora = await add_user(stack, acc, "Nora", seat="none")
    bob = RadicaleCalendars("bob")
    nora_primary = await bob.make("nora")
    try:
        body = {"url": bob.url, "username": bob.user, "password": bob.password}

        async def connect() -> httpx.Response | None:
            answer = await sync_call(stack, "POST", "/connections/caldav", acc.token(nora["id"]),
                                     json=body)
            return None if answer.status_code == 403 else answer  # not known yet

        connected = await wait_for(connect, "calendar-sync to know Nora", timeout=40)
        assert connected.status_code == 201, connected.text
        nora_connection = connected.json()["connection_id"]
        await turn_task_sync_on(stack, acc.token(nora["id"]), nora_connection)
        # the host (paid) is the witness that tasks are being written meanwhile
        primary = await radicale.make("work")
        host_connection = (await connect_caldav(stack, acc, radicale, primary))["connection_id"]
        await turn_task_sync_on(stack, acc.token(), host_connection)

        await make_task(stack, acc, nora["id"], "Nora's task", due_in(2, 9))
        await make_task(stack, acc, acc.host["id"], "Host's task", due_in(2, 10))
        host_collection = f"convene-tasks-{task_calendar_key(host_connection)}"

        async def host_task() -> list | None:
            url = next((u for u in await radicale.calendar_urls() if host_collection in u), None)
            return (await caldav_tasks(radicale, url)) if url else None

        await wait_for(host_task, "the host's task", timeout=60)
        nora_collection = f"convene-tasks-{task_calendar_key(nora_connection)}"
        assert not any(nora_collection in u for u in await bob.calendar_urls())
        assert await bob.resources(nora_primary) == {}
    finally:
        await sync_call(stack, "DELETE", f"/connections/{nora_connection}",
                        acc.token(nora["id"]))
        await bob.cleanup()


# --- Google ------------------------------------------------------------------------------------

async def connect_google_as(stack: Stack, acc: SyncAccount, google: EmulatorAdmin,
                            user_id: str) -> tuple[str, str]:
    """Connect ``user_id``'s Google account (a new emulator user) through the authorization
    code flow; returns the account's email and the connection id."""
    email = f"user-{uuid.uuid4().hex[:8]}@gmail.example"
    google.add_user(email, "Someone", "Europe/Rome")
    connection = await connect_google_account(stack, acc.token(user_id), google, email)
    return email, connection["connection_id"]


def google_tasks(google: EmulatorAdmin, calendar_id: str) -> list[dict[str, Any]]:
    return [e for e in google.stored_events(calendar_id) if e.get("status") != "cancelled"]


def instant(value: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(value["dateTime"].replace("Z", "+00:00")).astimezone(UTC)


async def test_google_a_task_appears_in_its_own_calendar_and_follows_edits_to_deletion(
        stack: Stack, google: EmulatorAdmin, new_account: Any) -> None:
    acc = new_account()
    email, connection_id = await connect_google_as(stack, acc, google, acc.host["id"])
    await turn_task_sync_on(stack, acc.token(), connection_id)
    title, due = f"Send the quote {uuid.uuid4().hex[:6]}", due_in(2, 9)
    task = await make_task(stack, acc, acc.host["id"], title, due)

    def tasks_calendar() -> str | None:
        return next((c for c in google.calendar_ids(email) if c != email), None)

    calendar_id = await wait_for(tasks_calendar, "the tasks calendar in Google", timeout=60)
    made = google.calendar(calendar_id)
    assert made["owner"] == email and made["summary"] == "Convene tasks"

    def shown_as(summary: str, start: datetime) -> list | None:
        found = google_tasks(google, calendar_id)
        return found if [(e["summary"], instant(e["start"])) for e in found] == [
            (summary, start)] else None

    [event] = await wait_for(lambda: shown_as(title, due), "the task in its calendar",
                             timeout=60)
    assert instant(event["end"]) == due + timedelta(minutes=TASK_EVENT_MINUTES)
    assert event["extendedProperties"]["private"]["conveneTaskId"] == task["id"]
    assert event.get("transparency", "opaque") == "opaque"
    assert google_tasks(google, email) == []  # never in the primary calendar
    listed = await sync_call(stack, "GET", f"/connections/{connection_id}", acc.token())
    assert calendar_id not in listed.text  # never offered, counted or synced inbound

    moved_title, moved = f"{title} (moved)", due_in(3, 15)
    await change_task(stack, acc, task["id"], title=moved_title, due_at=moved.isoformat())
    await wait_for(lambda: shown_as(moved_title, moved), "the edit to follow", timeout=60)

    await change_task(stack, acc, task["id"], status="completed")
    [done] = await wait_for(lambda: shown_as(f"✓ {moved_title}", moved),
                            "the task to show as completed", timeout=60)
    assert done["transparency"] == "transparent"
    [written] = [e for e in google.stored_events(calendar_id)]  # one event, edited in place
    assert written["id"] == event["id"]

    deleted = await records_call(stack, "DELETE", f"/tasks/{task['id']}", acc.token())
    assert deleted.status_code == 204
    await wait_for(lambda: google_tasks(google, calendar_id) == [],
                   "the deleted task to leave the calendar", timeout=60)

    # task sync off: the tasks calendar goes, with its events
    off = await sync_call(stack, "PATCH", f"/connections/{connection_id}", acc.token(),
                          json={"task_sync_enabled": False})
    assert off.status_code == 200, off.text
    await wait_for(lambda: calendar_id not in google.calendar_ids(email),
                   "the tasks calendar to be deleted", timeout=60)


async def test_google_a_user_without_a_paid_seat_gets_no_tasks_calendar(
        stack: Stack, google: EmulatorAdmin, new_account: Any) -> None:
    acc = new_account()
    nora = await add_user(stack, acc, "Nora", seat="none")
    nora_email, nora_connection = await connect_google_as(stack, acc, google, nora["id"])
    await turn_task_sync_on(stack, acc.token(nora["id"]), nora_connection)
    host_email, host_connection = await connect_google_as(stack, acc, google, acc.host["id"])
    await turn_task_sync_on(stack, acc.token(), host_connection)
    try:
        await make_task(stack, acc, nora["id"], "Nora's task", due_in(2, 9))
        await make_task(stack, acc, acc.host["id"], "Host's task", due_in(2, 10))

        def host_task() -> list | None:
            made = [c for c in google.calendar_ids(host_email) if c != host_email]
            return google_tasks(google, made[0]) if made else None

        await wait_for(host_task, "the host's task (the witness)", timeout=60)
        assert google.calendar_ids(nora_email) == [nora_email]
        assert google_tasks(google, nora_email) == []
        assert [r for r in google.requests("calendars.insert")
                if r.get("user") == nora_email] == []
    finally:
        await sync_call(stack, "DELETE", f"/connections/{nora_connection}",
                        acc.token(nora["id"]))
