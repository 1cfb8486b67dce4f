"""What the templates show, from the page, the visitor's choices and the free times: the
month view's cells and links, the day's times, the picked time and the form. Pure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from convene_booking_pages.domain.booking import Booking
from convene_booking_pages.domain.slots import Slot
from convene_booking_pages.public import PublicPage
from convene_booking_pages.web.forms import ANSWER, CHECKED, FormState
from convene_booking_pages.web.i18n import Messages
from convene_booking_pages.web.visit import (
    MonthWindow,
    Visit,
    month_grid,
    page_path,
    page_url,
    utc_text,
    zone_names,
)

ALERTS = frozenset({"slot_taken", "calendar_inactive", "pages_turned_off", "host_unavailable",
                    "duration_not_offered"})
"""Refusals the page shows in place, as an alert with the page around it."""


@dataclass(frozen=True)
class Alert:
    code: str
    message: str


def alert(messages: Messages, code: str) -> Alert:
    return Alert(code, messages(f"alert.{code}" if code in ALERTS else "alert.generic"))


@dataclass(frozen=True)
class TimeLink:
    label: str
    href: str
    start: str
    local: str
    selected: bool


def _times(messages: Messages, visit: Visit, slots: list[Slot],
           url: Callable[..., str]) -> list[TimeLink]:
    return [TimeLink(label=messages.time(slot.start, visit.zone),
                     href=url(day=slot.start.astimezone(visit.zone).date().isoformat(),
                              start=utc_text(slot.start)),
                     start=utc_text(slot.start),
                     local=slot.start.astimezone(visit.zone).isoformat(),
                     selected=slot.start == visit.start) for slot in slots]


def _when(messages: Messages, start: datetime, end: datetime, zone: ZoneInfo) -> str:
    return messages("when", date=messages.long_date(start.astimezone(zone).date()),
                    start=messages.time(start, zone), end=messages.time(end, zone),
                    zone=str(zone))


def page_context(found: PublicPage, visit: Visit, window: MonthWindow | None,
                 days: dict[date, list[Slot]], messages: Messages, *,
                 form: FormState | None, shown_alert: Alert | None,
                 detect_zone: bool) -> dict[str, Any]:
    """The page template's values. ``window`` is None on an unavailable page; ``form`` is
    the form to show for the picked time (None: the picked time is not free, or none is)."""
    page, prefix = found.page, found.account.url_prefix

    def url(**changes: object) -> str:
        return page_url(prefix, page.slug, visit, **changes)

    context: dict[str, Any] = {
        "page": page, "host_name": found.owner_name, "status": found.status,
        "visit": visit, "url": url, "zones": zone_names(), "alert": shown_alert,
        "detect_zone": detect_zone, "window": window, "path": page_path(prefix, page.slug),
        "action": page_path(prefix, page.slug) + ("?embed=1" if visit.embed else ""),
        "durations": [(minutes, url(duration=minutes, start=None), minutes == visit.duration)
                      for minutes in page.durations],
        "answer_prefix": ANSWER, "checked": CHECKED,
        "problem": form.problem if form else None,
    }
    if window is None:
        return context
    selected = visit.day if window.holds(visit.day) else None
    day_slots = days.get(selected, []) if selected else []
    chosen = next((s for s in day_slots if s.start == visit.start), None)
    context.update({
        "month_title": messages.month_title(window.month),
        "previous": url(month=f"{window.previous:%Y-%m}", day=None) if window.previous else None,
        "next": url(month=f"{window.next:%Y-%m}", day=None) if window.next else None,
        "weekdays": messages.weekdays(),
        "weeks": [[None if cell is None else {
            "cell": cell, "iso": cell.day.isoformat(),
            "href": url(month=f"{cell.day:%Y-%m}", day=cell.day.isoformat()),
            "label": f"{messages.long_date(cell.day)}: "
                     + (messages.count("free_times", cell.free) if cell.free
                        else messages("no_free_times"))}
            for cell in week]
            for week in month_grid(window, {d: len(s) for d, s in days.items()}, selected,
                                   messages.first_weekday())],
        "any_free": any(days.values()),
        "selected_day": selected,
        "day_title": messages.long_date(selected) if selected else None,
        "times": _times(messages, visit, day_slots, url),
        "chosen": chosen,
        "chosen_local": chosen.start.astimezone(visit.zone).isoformat() if chosen else None,
        "chosen_when": _when(messages, chosen.start, chosen.end, visit.zone) if chosen else None,
        "form": form if chosen else None,
        "start_utc": utc_text(chosen.start) if chosen else None,
    })
    if visit.start is not None and chosen is None and shown_alert is None:
        context["alert"] = alert(messages, "slot_taken")  # a time no longer free
    return context


def confirmation_context(booking: Booking, title: str, host_name: str | None,
                         messages: Messages, *, prefix: str, embed: bool) -> dict[str, Any]:
    zone = ZoneInfo(booking.visitor_time_zone)
    path = page_path(prefix, booking.slug)
    suffix = "?embed=1" if embed else ""
    confirmed = booking.state == "booked" and not booking.offline
    return {
        "title": title, "host_name": host_name, "booking": booking,
        "when": _when(messages, booking.start, booking.end, zone),
        "start_local": booking.start.astimezone(zone).isoformat(),
        "status": booking.state if booking.state != "booked" else
        ("requested" if booking.offline else "booked"),
        "ics": f"{path}/booked/{booking.booking_id}.ics" if confirmed else None,
        "again": f"{path}{suffix}",
    }
