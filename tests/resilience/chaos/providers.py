"""The host's calendar: a real Google connection (the authorization code flow of
support.calendar_sync) to the suite's own Google emulator, and what calendar-sync wrote in it.

calendar-sync writes a meeting under an event id derived from the meeting id
(``google_event_id``) with the meeting's iCalUID and its id in a private extended property
(``conveneMeetingId``), so a redelivery or a crash between the write and its commit updates
the same event. An event is counted as a meeting's when any of the three names it: a second
event under another id would be a duplicate, and is counted as one.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx
from convene_calendar_sync.providers.google import google_event_id
from convene_schemas.events.meetings import ical_uid_for
from support.calendar_sync import connect_google_account, sync_call
from support.services import Stack
from support.skeleton import Account, auth

from infra.emulators.google_calendar.client import EmulatorAdmin


@dataclass(frozen=True)
class HostCalendar:
    """The host's primary Google calendar (its id is the Google account's address)."""

    google: EmulatorAdmin
    email: str
    connection_id: str

    async def stored_events(self) -> list[dict[str, Any]]:
        """Everything the emulator stores in the calendar (cancelled events included)."""
        return await asyncio.to_thread(self.google.stored_events, self.email)


async def connect_host(stack: Stack, account: Account, google: EmulatorAdmin) -> HostCalendar:
    """Give the host the permission to connect a calendar (R22) and connect a new Google
    account of the emulator as their calendar."""
    async with httpx.AsyncClient(base_url=stack.url("records"), headers=auth(account.admin),
                                 timeout=30) as client:
        granted = await client.patch(f"/users/{account.host['id']}",
                                     json={"personal_email_access": True})
    assert granted.status_code == 200, granted.text
    email = f"host-{uuid.uuid4().hex[:8]}@gmail.example"
    google.add_user(email, "Alice Host", "Europe/Rome")
    connection = await connect_google_account(stack, account.host_token, google, email)
    assert connection["provider"] == "google" and connection["sync_enabled"] is True
    assert connection["primary_calendar_id"] == email
    return HostCalendar(google, email, connection["connection_id"])


async def connection_of(stack: Stack, account: Account, calendar: HostCalendar) -> dict:
    """The host's connection as calendar-sync answers it (status, bookable, access lost)."""
    answer = await sync_call(stack, "GET", "/connections", account.host_token)
    assert answer.status_code == 200, answer.text
    [connection] = [c for c in answer.json()["connections"]
                    if c["connection_id"] == calendar.connection_id]
    return connection  # type: ignore[no-any-return]


def events_per_meeting(stored: Iterable[dict[str, Any]],
                       meeting_ids: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
    """Meeting id -> (event id, status) of every stored event that names the meeting by its
    derived event id, its iCalUID or its ``conveneMeetingId``."""
    by_event_id = {google_event_id(mid): mid for mid in meeting_ids}
    by_uid = {ical_uid_for(mid): mid for mid in by_event_id.values()}
    found: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for event in stored:
        marker = ((event.get("extendedProperties") or {}).get("private") or {}).get(
            "conveneMeetingId")
        mid = (by_event_id.get(event.get("id", "")) or by_uid.get(event.get("iCalUID", ""))
               or (marker if marker in by_uid.values() else None))
        if mid is not None:
            found[mid].append((event["id"], event.get("status", "confirmed")))
    return dict(found)


def lost_events(found: dict[str, list[tuple[str, str]]], meeting_ids: Iterable[str]) -> int:
    """Meetings without a live event under their own event id."""
    return sum(1 for mid in meeting_ids
               if not any(event_id == google_event_id(mid) and status != "cancelled"
                          for event_id, status in found.get(mid, [])))


def duplicated_events(found: dict[str, list[tuple[str, str]]]) -> int:
    """Events beyond the first per meeting (any status: a second event is a duplicate)."""
    return sum(max(0, len(events) - 1) for events in found.values())
