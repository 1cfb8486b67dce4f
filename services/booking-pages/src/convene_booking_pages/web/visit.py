"""What the visitor chose on the public page, read from the query string (or the booking
form's hidden fields), and the month they see. Pure: no I/O.

Reading is forgiving, never a refusal: a page link is shared, pasted and cut short, so a
value that does not parse is left out (an unknown length is the page's first, an unknown
zone the page's zone, with a notice), and the page is shown as well as it can be.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo, available_timezones

from convene_booking_pages.domain.page import Page

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PREFILL_MAX = 4000
_PREFILLED_MAX = 320


@cache
def zone_names() -> tuple[str, ...]:
    """Every IANA zone the visitor may pick, sorted (the zone select's options)."""
    return tuple(sorted(available_timezones()))


@dataclass(frozen=True)
class Visit:
    """The visitor's choices: meeting length, time zone, shown month and day, picked time,
    the embed view, and what fills the form (a prefill token, a name, an email)."""

    duration: int
    zone_name: str
    unknown_zone: str | None = None
    month: date | None = None
    day: date | None = None
    start: datetime | None = None
    embed: bool = False
    prefill: str | None = None
    name: str | None = None
    email: str | None = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.zone_name)


def _text(params: Mapping[str, str], key: str, limit: int) -> str | None:
    value = params.get(key)
    return value.strip() if value and len(value) <= limit and value.strip() else None


def _month(text: str | None) -> date | None:
    found = _MONTH.match(text or "")
    if found is None or not 1 <= int(found[2]) <= 12 or int(found[1]) < 1900:
        return None
    return date(int(found[1]), int(found[2]), 1)


def _day(text: str | None) -> date | None:
    if not text or not _DAY.match(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _instant(text: str | None) -> datetime | None:
    if not text or len(text) > 40:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo is not None else None


def read_visit(page: Page, params: Mapping[str, str]) -> Visit:
    """The visitor's choices from ``params`` (``duration``, ``tz``, ``month``, ``day``,
    ``start``, ``embed``, ``prefill``, ``name``, ``email``), each checked, none refused."""
    duration_text = params.get("duration") or ""
    duration = int(duration_text) if duration_text.isdigit() and len(duration_text) < 4 else 0
    asked_zone = _text(params, "tz", 64)
    zone_known = asked_zone in zone_names()
    start = _instant(params.get("start"))
    visit = Visit(
        duration=duration if duration in page.durations else page.durations[0],
        zone_name=asked_zone if asked_zone and zone_known else page.time_zone,
        unknown_zone=asked_zone if asked_zone and not zone_known else None,
        month=_month(params.get("month")), day=_day(params.get("day")), start=start,
        embed=params.get("embed") == "1", prefill=_text(params, "prefill", _PREFILL_MAX),
        name=_text(params, "name", _PREFILLED_MAX), email=_text(params, "email", _PREFILLED_MAX))
    if start is not None:  # the picked time names its day and month
        day = start.astimezone(visit.zone).date()
        visit = replace(visit, day=day, month=day.replace(day=1))
    elif visit.day is not None and visit.month is None:
        visit = replace(visit, month=visit.day.replace(day=1))
    return visit


@dataclass(frozen=True)
class MonthWindow:
    """The shown month, the days of it that may have free times (``first``..``last``;
    ``first`` > ``last`` when none), and the neighbouring months one may go to."""

    month: date
    first: date
    last: date
    today: date
    previous: date | None
    next: date | None

    def days(self) -> range:
        return range((self.last - self.first).days + 1)

    def holds(self, day: date | None) -> bool:
        return day is not None and self.first <= day <= self.last


def _month_after(month: date) -> date:
    return (month + timedelta(days=32)).replace(day=1)


def month_window(page: Page, visit: Visit, now: datetime) -> MonthWindow:
    """The month to show, in the visitor's zone: the asked one, held between the current
    month and the month of the page's last bookable day (``maximum_days_ahead`` after the
    owner's today)."""
    zone = visit.zone
    today = now.astimezone(zone).date()
    owner_zone = ZoneInfo(page.time_zone)
    owner_today = now.astimezone(owner_zone).date()
    horizon_end = datetime.combine(owner_today + timedelta(days=page.maximum_days_ahead + 1),
                                   time(0), owner_zone)
    last_day = (horizon_end - timedelta(microseconds=1)).astimezone(zone).date()
    current, final = today.replace(day=1), last_day.replace(day=1)
    month = min(max(visit.month or current, current), final)
    month_end = month.replace(day=calendar.monthrange(month.year, month.month)[1])
    return MonthWindow(
        month=month, first=max(month, today), last=min(month_end, last_day), today=today,
        previous=(month - timedelta(days=1)).replace(day=1) if month > current else None,
        next=_month_after(month) if month < final else None)


def chunks(first: date, last: date, max_days: int) -> list[tuple[date, date]]:
    """``first..last`` in runs of at most ``max_days`` days (the free-times query's limit)."""
    runs = []
    while first <= last:
        end = min(last, first + timedelta(days=max_days - 1))
        runs.append((first, end))
        first = end + timedelta(days=1)
    return runs


@dataclass(frozen=True)
class DayCell:
    day: date
    free: int
    selected: bool
    today: bool


def month_grid(window: MonthWindow, free: Mapping[date, int], selected: date | None,
               first_weekday: int) -> list[list[DayCell | None]]:
    """The shown month's weeks, from ``first_weekday`` (0 = Monday); None outside it."""
    weeks = calendar.Calendar(first_weekday).monthdatescalendar(window.month.year,
                                                                window.month.month)
    return [[DayCell(day, free.get(day, 0), day == selected, day == window.today)
             if day.month == window.month.month else None for day in week] for week in weeks]


def page_path(prefix: str, slug: str) -> str:
    return f"/{quote(prefix)}/{quote(slug)}"


def page_url(prefix: str, slug: str, visit: Visit, **changes: object) -> str:
    """The page's address with the visitor's choices, ``changes`` applied (None drops one):
    what every link of the page carries, so the zone, the length, the embed view and the
    form's prefill follow the visitor from the month to the day to the time."""
    values: dict[str, object] = {
        "duration": visit.duration, "tz": visit.zone_name,
        "month": f"{visit.month:%Y-%m}" if visit.month else None,
        "day": visit.day.isoformat() if visit.day else None,
        "start": None, "embed": "1" if visit.embed else None,
        "prefill": visit.prefill, "name": visit.name, "email": visit.email,
        **changes}
    query = urlencode([(key, str(value)) for key, value in values.items() if value is not None])
    return f"{page_path(prefix, slug)}?{query}"


def utc_text(instant: datetime) -> str:
    """An instant as ISO 8601 in UTC with ``Z`` (the slot links' ``start``, ``data-start``)."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
