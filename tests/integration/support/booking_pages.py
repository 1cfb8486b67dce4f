"""booking-pages' integration-test helpers: its owner and public API (optionally through a
custom domain's Host header), pages made per test, a visitor's booking, the free times of a
range of days, wall times in the page's zone, and a weekly series with an exception as a
calendar app writes it."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from support.calendar_sync import SyncAccount
from support.services import Stack
from support.skeleton import auth

ROME = ZoneInfo("Europe/Rome")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


async def pages_call(stack: Stack, method: str, path: str, token: str | None = None, *,
                     host: str | None = None, **kwargs: Any) -> httpx.Response:
    """One call of booking-pages' API; ``host`` sends that Host header (a custom domain)."""
    headers = auth(token) if token else {}
    if host:
        headers["Host"] = host
    headers.update(kwargs.pop("headers", {}))
    async with httpx.AsyncClient(base_url=stack.url("booking-pages"), timeout=30) as client:
        return await client.request(method, path, headers=headers, **kwargs)


def every_day(start: str, end: str) -> dict[str, list[dict[str, str]]]:
    """The same working hours on all seven days."""
    return {day: [{"start": start, "end": end}] for day in WEEKDAYS}


async def make_page(stack: Stack, acc: SyncAccount, token: str | None = None,
                    **settings: Any) -> dict[str, Any]:
    """A page of the host (Rome, 30 minutes, 08:00-20:00 every day, an hour's notice, 30
    days ahead unless ``settings`` say otherwise), created through the owner API."""
    slug = settings.pop("slug", None) or f"hana-{uuid.uuid4().hex[:10]}"
    body = {"slug": slug, "title": f"Intro {slug}", "time_zone": "Europe/Rome",
            "durations": [30], "minimum_notice_minutes": 60, "maximum_days_ahead": 30,
            "weekly": every_day("08:00", "20:00"), **settings}
    created = await pages_call(stack, "POST", "/pages", token or acc.token(), json=body)
    assert created.status_code == 201, created.text
    return created.json()


def visitor(start: datetime, email: str, *, name: str = "Vera Visitor",
            time_zone: str = "America/New_York", minutes: int = 30) -> dict[str, Any]:
    """A booking's body: ``start`` is sent with its own offset."""
    return {"start": start.isoformat(), "duration_minutes": minutes, "name": name,
            "email": email, "time_zone": time_zone}


def visitor_email(prefix: str = "v") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@visitors.example"


async def book(stack: Stack, slug: str, start: datetime, email: str, *,
               host: str | None = None, **details: Any) -> httpx.Response:
    """POST /public/pages/{slug}/bookings as a visitor."""
    return await pages_call(stack, "POST", f"/public/pages/{slug}/bookings", host=host,
                            json=visitor(start, email, **details))


async def host_known(stack: Stack, slug: str, status: str) -> bool:
    """Whether the public page answers with ``status`` (booking-pages knows the host, and
    calendar-sync's view of their calendars)."""
    answer = await pages_call(stack, "GET", f"/public/pages/{slug}")
    return answer.status_code == 200 and answer.json()["status"] == status


async def free_times(stack: Stack, slug: str, first: date, last: date, *,
                     time_zone: str = "Europe/Rome", duration: int = 30
                     ) -> dict[date, list[datetime]]:
    """The page's free starts per day of ``first..last`` in the visitor's ``time_zone``, as
    the API gives them (with the visitor's offset)."""
    answer = await pages_call(stack, "GET", f"/public/pages/{slug}/slots", params={
        "duration": duration, "time_zone": time_zone, "from": first.isoformat(),
        "to": last.isoformat()})
    assert answer.status_code == 200, answer.text
    return {date.fromisoformat(d["day"]): [datetime.fromisoformat(s["start"])
                                           for s in d["slots"]]
            for d in answer.json()["days"]}


def utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc)


def in_utc(starts: list[datetime]) -> list[datetime]:
    return [utc(s) for s in starts]


def rome_today() -> date:
    return datetime.now(ROME).date()


def rome_at(day: date, hhmm: str) -> datetime:
    """``hhmm`` on ``day`` on Rome's clocks, as a UTC instant."""
    return utc(datetime.combine(day, time.fromisoformat(hhmm), ROME))


def half_hours(day: date, first: str, last: str) -> list[datetime]:
    """The half-hour starts ``first..last`` (inclusive) on ``day`` in Rome, in UTC."""
    start, end = rome_at(day, first), rome_at(day, last)
    return [start + timedelta(minutes=30 * i) for i in range(int((end - start) / timedelta(
        minutes=30)) + 1)]


def _stamp(moment: datetime) -> str:
    return utc(moment).strftime("%Y%m%dT%H%M%SZ")


def weekly_series(uid: str, title: str, first: datetime, minutes: int, count: int, *,
                  organizer: str, excluded: tuple[datetime, ...] = (),
                  moved: dict[datetime, datetime] | None = None) -> str:
    """A weekly series (UTC times) as a calendar app writes it: ``count`` occurrences from
    ``first``, the ``excluded`` ones removed (EXDATE) and each key of ``moved`` (an
    occurrence) moved to its value (an overriding VEVENT with RECURRENCE-ID)."""
    length = timedelta(minutes=minutes)
    now = _stamp(datetime.now(timezone.utc))
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Test//Calendar//EN",
             "BEGIN:VEVENT", f"UID:{uid}", f"DTSTAMP:{now}", f"DTSTART:{_stamp(first)}",
             f"DTEND:{_stamp(first + length)}", f"SUMMARY:{title}",
             f"ORGANIZER:mailto:{organizer}", f"RRULE:FREQ=WEEKLY;COUNT={count}"]
    lines += [f"EXDATE:{_stamp(e)}" for e in excluded]
    lines.append("END:VEVENT")
    for occurrence, to in (moved or {}).items():
        lines += ["BEGIN:VEVENT", f"UID:{uid}", f"DTSTAMP:{now}",
                  f"RECURRENCE-ID:{_stamp(occurrence)}", f"DTSTART:{_stamp(to)}",
                  f"DTEND:{_stamp(to + length)}", f"SUMMARY:{title} (moved)",
                  f"ORGANIZER:mailto:{organizer}", "END:VEVENT"]
    lines += ["END:VCALENDAR", ""]
    return "\r\n".join(lines)
