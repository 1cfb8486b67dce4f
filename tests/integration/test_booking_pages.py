"""booking-pages through the real stack (processes on real Kafka, the store, Radicale and
the SMTP sink): of a hundred visitors racing for one slot exactly one books it, the meeting
lands once in the host's primary CalDAV calendar and the slot is gone; a host without a
calendar gets a request by email (R35); pages turned off refuse and tell the host (R36)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from support import wait_for
from support.booking_pages import host_known, make_page, pages_call, visitor
from support.calendar_sync import RadicaleCalendars, connect_caldav
from support.mail import mails
from support.services import Stack


@pytest.fixture
async def radicale() -> AsyncIterator[RadicaleCalendars]:
    calendars = RadicaleCalendars("alice")
    yield calendars
    await calendars.cleanup()


def slot_start(days: int = 2) -> datetime:
    """10:00 Europe/Rome (09:00 UTC in winter, 08:00 in summer) some days ahead."""
    from zoneinfo import ZoneInfo

    day = (datetime.now(timezone.utc) + timedelta(days=days)).astimezone(ZoneInfo("Europe/Rome"))
    return day.replace(hour=10, minute=0, second=0, microsecond=0).astimezone(timezone.utc)


async def test_a_hundred_visitors_race_for_one_slot_and_one_meeting_lands_in_the_calendar(
        stack: Stack, new_account: Any, radicale: RadicaleCalendars) -> None:
    acc = new_account()
    primary = await radicale.make(f"work-{acc.id}")
    await connect_caldav(stack, acc, radicale, primary)
    page = await make_page(stack, acc)
    await wait_for(lambda: host_known(stack, page["slug"], "available"),
                   "booking-pages to know the host and see the calendar", timeout=40)
    start = slot_start()
    tag = uuid.uuid4().hex[:6]
    async with httpx.AsyncClient(base_url=stack.url("booking-pages"), timeout=60) as client:
        answers = await asyncio.gather(*[
            client.post(f"/public/pages/{page['slug']}/bookings",
                        json=visitor(start, f"v{i}-{tag}@visitors.example"))
            for i in range(100)])
    codes = [a.status_code for a in answers]
    assert sorted(codes) == [201] + [409] * 99, sorted(codes)
    winner = answers[codes.index(201)].json()
    assert winner["status"] == "booked"
    assert all(a.json()["error"]["code"] == "slot_taken" for a in answers if a.status_code == 409)

    async def in_calendar() -> dict[str, str] | None:
        found = {h: d for h, d in (await radicale.resources(primary)).items()
                 if page["title"] in d}
        return found or None

    events = await wait_for(in_calendar, "the booked meeting in the host's calendar", timeout=60)
    assert len(events) == 1, events
    day = start.astimezone(timezone.utc).date().isoformat()
    free = await pages_call(stack, "GET", f"/public/pages/{page['slug']}/slots", params={
        "duration": 30, "time_zone": "UTC", "from": day, "to": day})
    starts = [s["start"] for d in free.json()["days"] for s in d["slots"]]
    assert starts and start.isoformat().replace("+00:00", "Z") not in starts
    assert not any(s.startswith(start.strftime("%Y-%m-%dT%H:%M")) for s in starts)


async def test_without_a_calendar_a_visitor_requests_a_time_and_the_host_is_emailed(
        stack: Stack, new_account: Any) -> None:
    acc = new_account()
    page = await make_page(stack, acc)
    await wait_for(lambda: host_known(stack, page["slug"], "offline"),
                   "booking-pages to know the host", timeout=40)
    email = f"req-{uuid.uuid4().hex[:8]}@visitors.example"
    requested = await pages_call(stack, "POST", f"/public/pages/{page['slug']}/bookings",
                                 json=visitor(slot_start(3), email))
    assert requested.status_code == 201, requested.text
    assert requested.json()["status"] == "requested"
    told = await wait_for(lambda: mails(email, acc.host["email"]),
                          "the host's email about the request", timeout=60)
    assert len(told) == 1


async def test_pages_turned_off_refuse_and_tell_the_host_who_tried(stack: Stack,
                                                                   new_account: Any) -> None:
    acc = new_account()
    page = await make_page(stack, acc)
    await wait_for(lambda: host_known(stack, page["slug"], "offline"),
                   "booking-pages to know the host", timeout=40)
    off = await pages_call(stack, "PATCH", "/account/booking-settings",
                           acc.token(roles="admin"), json={"pages_enabled": False})
    assert off.status_code == 200, off.text
    email = f"blocked-{uuid.uuid4().hex[:8]}@visitors.example"
    refused = await pages_call(stack, "POST", f"/public/pages/{page['slug']}/bookings",
                               json=visitor(slot_start(4), email))
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "pages_turned_off"
    told = await wait_for(lambda: mails(email, acc.host["email"]),
                          "the host's email about the blocked attempt", timeout=60)
    text = told[0].message.get_body(("plain",)).get_content()
    assert "Vera Visitor tried to book" in text and page["title"] in text

