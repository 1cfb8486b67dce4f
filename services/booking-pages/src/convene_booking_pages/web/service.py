"""What the HTML views need beyond the visitor's service functions in
:mod:`convene_booking_pages.public`, built on them (nothing of their rules is repeated):
a month's free times in the visitor's zone, and a booking for its confirmation."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from convene_booking_pages import public
from convene_booking_pages.deps import Deps
from convene_booking_pages.domain.account import AccountSettings
from convene_booking_pages.domain.booking import Booking
from convene_booking_pages.domain.errors import NotFound
from convene_booking_pages.domain.page import Page
from convene_booking_pages.domain.slots import Slot
from convene_booking_pages.web.visit import MonthWindow, Visit, chunks

BOOKING_ID = re.compile(r"^bkg_[0-9a-f]{24}$")


async def language_of(deps: Deps, host: str | None, slug: str, fallback: str) -> str:
    """The page's language, for a refusal that came after the page was found (503)."""
    try:
        page, _ = await public.resolve(deps, host, slug)
    except NotFound:
        return fallback
    return page.language


async def free_days(deps: Deps, page: Page, visit: Visit, window: MonthWindow
                    ) -> dict[date, list[Slot]]:
    """The free times of the window's days, by day in the visitor's zone: one
    :func:`public.slots` per run of at most ``max_slot_range_days`` days."""
    days: dict[date, list[Slot]] = defaultdict(list)
    limit = deps.settings.max_slot_range_days
    for first, last in chunks(window.first, window.last, limit):
        start, end = public.visitor_window(first, last, visit.zone_name, limit)
        for slot in await public.slots(deps, page, visit.duration, start, end):
            days[slot.start.astimezone(visit.zone).date()].append(slot)
    return dict(days)


@dataclass(frozen=True)
class Booked:
    page: Page
    account: AccountSettings
    booking: Booking
    host_name: str | None


async def booked(deps: Deps, host: str | None, prefix: str, slug: str,
                 booking_id: str) -> Booked:
    """A booking of this page for its confirmation; another page's, another domain's and an
    unknown one are the same 404. The booking id (``bkg_`` + 96 random bits) is the
    visitor's capability: nothing lists bookings."""
    page, account = await public.resolve(deps, host, slug, prefix=prefix)
    booking = (await deps.bookings.get(page.account_id, booking_id)
               if BOOKING_ID.match(booking_id) else None)
    if booking is None or booking.page_id != page.page_id:
        raise NotFound("booking_not_found", "There is no such booking on this page.")
    hosts = await deps.users.get_many(page.account_id, [booking.host_user_id])
    return Booked(page, account, booking, hosts[0].get("name") if hosts else None)
