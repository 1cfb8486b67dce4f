"""Helpers of the Google adapter's tests: meetings as calendar-sync writes them, the browser's
part of the consent screen, and reading a whole listing page by page."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import httpx
from convene_calendar_sync.domain.calendar_events import Attendee, ChangePage, OutboundEvent

from tests.emulators.google_support import REDIRECT_URI

UTC = timezone.utc
WINDOW_START = datetime(2030, 1, 1, tzinfo=UTC)
WINDOW_END = datetime(2030, 3, 1, tzinfo=UTC)


def meeting(sequence: int = 0, *, meeting_id: str | None = None, title: str = "Pipeline review",
            start: datetime = datetime(2030, 1, 7, 9, 0, tzinfo=UTC), minutes: int = 30,
            want_google_meet: bool = False, organizer: str = "alice@example.test") -> OutboundEvent:
    meeting_id = meeting_id or f"mtg-{uuid.uuid4().hex[:12]}"
    return OutboundEvent(
        meeting_id=meeting_id, ical_uid=f"{meeting_id}@convene.test", sequence=sequence,
        title=title, description="Agenda: numbers", location="Room 4", start=start,
        end=start + timedelta(minutes=minutes), time_zone="Europe/Rome",
        organizer_email=organizer, organizer_name="Alice",
        attendees=(Attendee("Carol@Client.test", "Carol"), Attendee(organizer, "Alice")),
        want_google_meet=want_google_meet)


def timed(summary: str, start: str, end: str, **fields: object) -> dict:
    """An event body as the calendar's owner types it into Google Calendar."""
    return {"summary": summary, "start": {"dateTime": start}, "end": {"dateTime": end}, **fields}


def consent(url: str) -> dict[str, str]:
    """The browser: open Google's consent screen, read the redirect's query."""
    response = httpx.get(url, follow_redirects=False, trust_env=False)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI), location
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


async def read_listing(adapter, calendar_id: str, cursor: str | None = None
                       ) -> list[ChangePage]:
    """Every page of one listing, until Google hands out the sync token."""
    pages: list[ChangePage] = []
    while True:
        page = await adapter.changes(calendar_id, cursor, window_start=WINDOW_START,
                                     window_end=WINDOW_END)
        pages.append(page)
        cursor = page.cursor
        if page.done:
            return pages
        assert len(pages) < 50, "the listing never ended"
