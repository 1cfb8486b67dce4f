"""The visitor's side (R29, R30, R35, R41): a page, its free times, holds and bookings.

Anonymous: nothing leaves but the page's public settings and free times. Free times come from
the page's rules (``domain.slots``), the host's busy time in calendar-sync's mirror (every
counted calendar, R29; no provider call) and this service's own reservation cells, so a time
booked a moment ago is gone before the calendar shows it.

Booking (R41): the slot is checked again, then its cells are inserted for the host
(``store.Reservations``): of two visitors racing for overlapping times exactly one inserts
them; the other gets 409 ``slot_taken`` with fresh times. Then the booking is stored with
its BookingRequested in its outbox (one write), and the cells are confirmed. A crash between
the cells and the booking leaves cells with a deadline and no booking: :func:`sweep` (and any
later booking that meets them) drops them once the deadline has passed.

Team pages: in round robin (``team_mode`` ``any``) a time is free while any active member
is, and one member hosts the booking. In team mode ``all`` a time is free only while every
member is, and the booking reserves every member's cells under one reservation id, member
by member in id order; a member whose cells are taken releases the others' (409
``slot_taken``). The owner hosts, the others co-host (BookingRequested's
``co_host_user_ids``). While a member is missing from the users read model or deactivated
the page is ``unavailable``; while a calendar of one is inactive it offers nothing and a
booking is blocked (the owner is told, R30); unless every member has a connected calendar
a booking is a request (``offline``, R35).
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from convene_kit.aggregates import KeyTaken
from convene_schemas.events.booking_pages import FormAnswer

from convene_booking_pages import pages as owner_side
from convene_booking_pages.availability import HostAvailability, Interval
from convene_booking_pages.deps import Deps
from convene_booking_pages.domain import booking as bookings
from convene_booking_pages.domain.account import AccountSettings, robots_txt
from convene_booking_pages.domain.booking import Booking, VisitorRequest
from convene_booking_pages.domain.errors import Conflict, NotFound, RuleViolation
from convene_booking_pages.domain.page import Page
from convene_booking_pages.domain.slots import (
    Slot,
    free_slots,
    offered,
    owner_day,
    team_slots,
)

logger = logging.getLogger(__name__)

PENDING = timedelta(minutes=2)
"""How long a booking's cells wait for the booking to be stored before anyone may drop them."""
STALE_GRACE = timedelta(seconds=30)
"""Margin past a cell's deadline before it counts as abandoned (clock skew between replicas)."""

Status = Literal["available", "offline", "unavailable"]


@dataclass(frozen=True)
class PublicPage:
    page: Page
    account: AccountSettings
    owner_name: str | None
    status: Status
    unavailable_reason: str | None


def _host_name(host: str | None) -> str:
    return (host or "").split(":", 1)[0].strip().lower().rstrip(".")


def _no_page(slug: str) -> NotFound:
    return NotFound("page_not_found", "There is no scheduling page at this address.",
                    {"slug": slug})


async def resolve(deps: Deps, host: str | None, slug: str, *, prefix: str | None = None
                  ) -> tuple[Page, AccountSettings]:
    """The page at ``slug`` as reached through ``host``: on a custom domain only its
    account's pages (R37), on the default domain any; with ``prefix`` (the HTML page's
    path), only at its account's URL prefix. Unknown, deleted, another domain's, another
    prefix's: the same 404."""
    held = await deps.slugs.holder(slug)
    if held is None:
        raise _no_page(slug)
    domain = _host_name(host)
    custom = await deps.domains.holder(domain) if domain else None
    if custom is not None and custom["account_id"] != held["account_id"]:
        raise _no_page(slug)
    page = await deps.pages.get(held["account_id"], held["holder_id"])
    if page is None or page.deleted or page.slug != slug:
        raise _no_page(slug)
    account = await owner_side.account_settings(deps, page.account_id)
    if custom is not None and account.custom_domain != domain:
        raise _no_page(slug)  # a domain the account switched away from
    if prefix is not None and account.url_prefix != prefix:
        raise _no_page(slug)
    return page, account


async def robots(deps: Deps, host: str | None) -> str:
    """robots.txt of the host: R38 on a custom domain whose owner asked."""
    custom = await deps.domains.holder(_host_name(host))
    if custom is None:
        return robots_txt(None)
    account = await owner_side.account_settings(deps, custom["account_id"])
    return robots_txt(account if account.custom_domain == _host_name(host) else None)


async def _active_members(deps: Deps, page: Page) -> list[dict[str, Any]]:
    found = await deps.users.get_many(page.account_id, page.members())
    return [user for user in found if user.get("active")]


def _hosts(page: Page, active: list[dict[str, Any]]) -> list[str]:
    """Who can take bookings now, in page order (the owner first): in round robin every
    active member; in team mode ``all`` every member, or nobody while one of them is missing
    from the users read model or deactivated (the meeting needs each of them)."""
    ids = [member["user_id"] for member in active]
    if page.team_mode == "all" and len(ids) != len(page.members()):
        return []
    return ids


async def public_page(deps: Deps, host: str | None, slug: str, *,
                      prefix: str | None = None) -> PublicPage:
    """The page and whether it can be booked now: ``unavailable`` when pages are turned off
    (R36) or no host is active (in team mode ``all``: a member is not); ``offline`` when no
    host has a connected calendar (R35; in team mode ``all``: not every member has one)."""
    page, account = await resolve(deps, host, slug, prefix=prefix)
    members = await _active_members(deps, page)
    owner = next((m for m in members if m["user_id"] == page.owner_user_id), None)
    owner_name = owner["name"] if owner else None
    if not account.pages_enabled:
        return PublicPage(page, account, owner_name, "unavailable", "pages_turned_off")
    hosts = _hosts(page, members)
    if not hosts:
        return PublicPage(page, account, owner_name, "unavailable", "host_unavailable")
    now = deps.clock()
    views = [await deps.availability.of_host(page.account_id, user_id, now,
                                             now + timedelta(minutes=5)) for user_id in hosts]
    connected = all if page.team_mode == "all" else any
    status: Status = "available" if connected(v.connected for v in views) else "offline"
    return PublicPage(page, account, owner_name, status, None)


async def _host_busy(deps: Deps, page: Page, user_id: str, start: datetime, end: datetime,
                     now: datetime, *, own_reservation: str | None = None
                     ) -> tuple[HostAvailability, list[Interval], dict[date, int]]:
    """One host over ``[start, end)``: calendar-sync's view, busy time (the calendars' and
    this service's live cells, but for the visitor's own hold) and the bookings the host
    hosts or co-hosts per local day."""
    schedule = page.schedule()
    pad = timedelta(minutes=schedule.buffer_before_minutes + schedule.buffer_after_minutes)
    view = await deps.availability.of_host(page.account_id, user_id, start - pad, end + pad)
    busy = list(view.busy) if view.connected else []
    for cell in await deps.reservations.of_user_between(page.account_id, user_id,
                                                        start - pad, end + pad):
        if cell["reservation_id"] == own_reservation:
            continue
        if cell["until"] is None or cell["until"] > now:
            busy.append((cell["at"], cell["at"] + bookings.CELL))
    standing = await deps.bookings.of_host_between(page.account_id, user_id,
                                                   start - timedelta(days=1),
                                                   end + timedelta(days=1))
    per_day = Counter(owner_day(schedule, b.start) for b in standing)
    return view, busy, dict(per_day)


@dataclass(frozen=True)
class _HostCheck:
    """One host checked for one start, with the busy time of that moment."""

    user_id: str
    view: HostAvailability
    free: bool  # the start is offered: working hours, notice, daily cap, busy time

    @property
    def inactive(self) -> bool:
        """A calendar of the host is inactive (R30): no booking with them now."""
        return self.view.connected and not self.view.bookable


async def _check_host(deps: Deps, page: Page, user_id: str, start: datetime, duration: int,
                      now: datetime, *, own_reservation: str | None = None) -> _HostCheck:
    end = start + timedelta(minutes=duration)
    view, busy, per_day = await _host_busy(deps, page, user_id, start, end, now,
                                           own_reservation=own_reservation)
    if view.connected and not view.bookable:
        return _HostCheck(user_id, view, free=False)
    return _HostCheck(user_id, view, offered(page.schedule(), duration, start, busy=busy,
                                             now=now, bookings_per_day=per_day))


def visitor_window(from_day: date, to_day: date, time_zone: str, max_days: int
                   ) -> tuple[datetime, datetime]:
    """``[from_day 00:00, to_day+1 00:00)`` in the visitor's zone, as UTC instants."""
    try:
        zone = ZoneInfo(time_zone)
    except (KeyError, ValueError):
        raise RuleViolation("time_zone_unknown", "Unknown time zone.",
                            {"time_zone": time_zone}) from None
    if to_day < from_day or (to_day - from_day).days >= max_days:
        raise RuleViolation("range_invalid", f"Ask for 1 to {max_days} days.",
                            {"from": from_day.isoformat(), "to": to_day.isoformat()})
    start = datetime.combine(from_day, time(0), zone).astimezone(UTC)
    end = datetime.combine(to_day + timedelta(days=1), time(0), zone).astimezone(UTC)
    return start, end


async def slots(deps: Deps, page: Page, duration: int, start: datetime,
                end: datetime) -> list[Slot]:
    """Free times of the page in ``[start, end)``: in round robin those of any active host,
    in team mode ``all`` those every member has (none while a calendar of one is inactive)."""
    bookings.check_duration(page, duration)
    now = deps.clock()
    per_host: dict[str, list[Slot]] = {}
    for user_id in _hosts(page, await _active_members(deps, page)):
        view, busy, per_day = await _host_busy(deps, page, user_id, start, end, now)
        if view.connected and not view.bookable:  # a calendar of this host is inactive (R30)
            if page.team_mode == "all":
                return []
            continue
        per_host[user_id] = free_slots(page.schedule(), duration, busy=busy,
                                       window_start=start, window_end=end, now=now,
                                       bookings_per_day=per_day)
    return [Slot(s.start, s.end) for s in team_slots(per_host, page.team_mode)]


async def _fresh_slots(deps: Deps, page: Page, request: VisitorRequest) -> list[dict[str, str]]:
    """The visitor's day's free times, for a 409."""
    zone = ZoneInfo(request.time_zone)
    day = request.start.astimezone(zone).date()
    start, end = visitor_window(day, day, request.time_zone, 1)
    found = await slots(deps, page, request.duration_minutes, start, end)
    return [{"start": s.start.astimezone(zone).isoformat(),
             "end": s.end.astimezone(zone).isoformat()} for s in found]


async def _slot_taken(deps: Deps, page: Page, request: VisitorRequest) -> Conflict:
    return Conflict("slot_taken", "This time is no longer free; please pick another one.",
                    {"fresh_slots": await _fresh_slots(deps, page, request)})


async def _blocked(deps: Deps, page: Page, request: VisitorRequest, host_user_id: str,
                   reason: Literal["calendar_access_lost", "pages_turned_off"],
                   inactive: list[str]) -> Conflict:
    """Tell the host someone tried to book (once per page, slot, visitor and reason), and the
    visitor's refusal."""
    event = bookings.attempt_blocked(page, request, host_user_id=host_user_id, reason=reason,
                                     inactive_calendar_ids=inactive, now=deps.clock())
    try:
        await deps.aggregates.create(deps.attempts, event, [event])
    except KeyTaken:
        pass  # this visitor's attempt at this slot was told already
    if reason == "pages_turned_off":
        return Conflict("pages_turned_off", "This scheduling page is not taking bookings "
                        "right now. The host has been told that you tried.")
    return Conflict("calendar_inactive", "This host cannot take bookings right now. They "
                    "have been told that you tried to book, and can contact you.")


async def _order_hosts(deps: Deps, page: Page, members: list[dict[str, Any]]) -> list[str]:
    """Round robin: the host with the fewest bookings of this page first, then page order."""
    ids = [m["user_id"] for m in members]
    counts = {i: await deps.bookings.count_of_page(page.account_id, page.page_id, i)
              for i in ids}
    return sorted(ids, key=lambda i: (counts[i], ids.index(i)))


async def _host_groups(deps: Deps, page: Page, active: list[dict[str, Any]]
                       ) -> list[list[str]]:
    """Who may take a booking, each group tried in turn: in round robin one host at a
    time, the fewest bookings of this page first; in team mode ``all`` the whole team at
    once, the owner first (the host; the others attend as co-hosts)."""
    if page.team_mode == "all":
        hosts = _hosts(page, active)
        return [hosts] if hosts else []
    return [[host] for host in await _order_hosts(deps, page, active)]


async def _reserve(deps: Deps, page: Page, user_id: str, start: datetime, end: datetime,
                   reservation_id: str, until: datetime | None) -> bool:
    """Insert the host's cells of ``[start, end)``; abandoned cells in the way (past their
    deadline, no booking behind them) are dropped and the insert tried once more."""
    now = deps.clock()
    for _ in range(4):
        taken = await deps.reservations.reserve(page.account_id, user_id, start, end,
                                                reservation_id, until, now)
        if not taken:
            return True
        dropped = False
        for cell in await deps.reservations.holders(taken):
            if await _abandoned(deps, cell, now):
                dropped |= await deps.reservations.drop_stale(cell)
        if not dropped:
            return False
    return False


async def _reserve_all(deps: Deps, page: Page, user_ids: list[str], start: datetime,
                       end: datetime, reservation_id: str, until: datetime | None) -> bool:
    """Insert the cells of every one of ``user_ids`` under one reservation, or none: when a
    host's cells are taken, those inserted for the hosts before are released. Hosts go in
    id order, so two bookings sharing hosts race for the first shared one's cells: the
    loser stops there, holding nothing the winner needs (no two bookings each blocking the
    other). A crash midway leaves cells with a deadline, dropped like any abandoned ones."""
    for user_id in sorted(user_ids):
        if not await _reserve(deps, page, user_id, start, end, reservation_id, until):
            await deps.reservations.release(reservation_id)
            return False
    return True


async def _abandoned(deps: Deps, cell: dict[str, Any], now: datetime) -> bool:
    if cell["until"] is None or cell["until"] + STALE_GRACE > now:
        return False
    booked = await deps.bookings.get(cell["account_id"], cell["reservation_id"])
    return booked is None or booked.state != "booked"


async def hold(deps: Deps, host: str | None, slug: str, start: datetime,
               duration: int) -> tuple[str, datetime]:
    """Hold a slot while the visitor fills the form (the page's ``hold_minutes``): for one
    free host in round robin, for every member in team mode ``all``."""
    page, account = await resolve(deps, host, slug)
    bookings.check_duration(page, duration)
    if page.hold_minutes == 0:
        raise RuleViolation("holds_off", "This page does not hold slots.")
    if not account.pages_enabled:
        raise Conflict("pages_turned_off", "This scheduling page is not taking bookings "
                       "right now.")
    now = deps.clock()
    hold_id = f"bkg_{uuid.uuid4().hex[:24]}"
    until = now + timedelta(minutes=page.hold_minutes)
    end = start + timedelta(minutes=duration)
    for group in await _host_groups(deps, page, await _active_members(deps, page)):
        checks = [await _check_host(deps, page, u, start, duration, now) for u in group]
        if all(c.free for c in checks) and await _reserve_all(deps, page, group, start, end,
                                                               hold_id, until):
            return hold_id, until
    raise Conflict("slot_taken", "This time was just taken; please pick another one.")


async def book(deps: Deps, host: str | None, slug: str, request: VisitorRequest,
               hold_id: str | None = None) -> tuple[Booking, Page]:
    """Book a slot, or refuse: 409 ``slot_taken`` (with fresh times), ``calendar_inactive``
    or ``pages_turned_off`` (the host is emailed, R30/R36); 422 for the form. In team mode
    ``all`` the owner hosts, every other member's time is reserved too, and an inactive
    calendar of any member blocks the booking (the owner is emailed)."""
    page, account = await resolve(deps, host, slug)
    answers = bookings.check_request(page, request)
    members = await _active_members(deps, page)
    if not account.pages_enabled:
        raise await _blocked(deps, page, request, page.owner_user_id, "pages_turned_off", [])
    groups = await _host_groups(deps, page, members)
    if not groups:
        raise Conflict("host_unavailable", "This page is not taking bookings.")
    now = deps.clock()
    start = request.start.astimezone(UTC)
    end = start + timedelta(minutes=request.duration_minutes)
    held = await _held_by(deps, page, hold_id, start, end, now) if hold_id else frozenset()
    blocked: tuple[str, list[str]] | None = None  # the group's host, inactive calendars
    for group in groups:
        if held and held != set(group):
            continue
        checks = [await _check_host(deps, page, u, start, request.duration_minutes, now,
                                    own_reservation=hold_id if held else None)
                  for u in group]
        if any(c.inactive for c in checks):
            blocked = blocked or (group[0], [calendar for c in checks if c.inactive
                                             for calendar in c.view.inactive_calendar_ids])
            continue
        if not all(c.free for c in checks):
            continue
        booking_id = hold_id if held and hold_id else f"bkg_{uuid.uuid4().hex[:24]}"
        if not held and not await _reserve_all(deps, page, group, start, end, booking_id,
                                               now + PENDING):
            continue
        return await _store(deps, page, request, answers, booking_id, checks,
                            reserved_here=not held, now=now), page
    if blocked is not None:  # told: round robin's host, team mode all's owner
        raise await _blocked(deps, page, request, blocked[0], "calendar_access_lost",
                             blocked[1])
    raise await _slot_taken(deps, page, request)


async def _store(deps: Deps, page: Page, request: VisitorRequest, answers: list[FormAnswer],
                 booking_id: str, checks: list[_HostCheck], *, reserved_here: bool,
                 now: datetime) -> Booking:
    """Store the booking of these hosts (the first hosts, the others co-host) with its
    BookingRequested (one write), then confirm its cells. Offline (a request, R35) unless
    every one of them has a connected calendar."""
    host, *co_hosts = [c.user_id for c in checks]
    booking = bookings.new_booking(page, request, booking_id=booking_id, host_user_id=host,
                                   co_host_user_ids=co_hosts,
                                   offline=not all(c.view.connected for c in checks), now=now)
    event = bookings.booking_requested(booking, page, answers, now)
    try:
        await deps.aggregates.create(deps.bookings, booking, [event])
    except BaseException:
        if reserved_here:
            await deps.reservations.release(booking_id)
        raise
    expected = len(bookings.cells(booking.start, booking.end)) * len(checks)
    if await deps.reservations.confirm(booking_id) < expected:
        # Only a replica stalled past PENDING + STALE_GRACE between its cells and its
        # booking gets here: the booking stands, and the time may be held twice.
        logger.error("booking %s was stored after its cells were taken back", booking_id)
    logger.info("booking %s of page %s for host %s (co-hosts %s)", booking_id, page.page_id,
                host, co_hosts)
    return booking


async def _held_by(deps: Deps, page: Page, hold_id: str, start: datetime, end: datetime,
                   now: datetime) -> frozenset[str]:
    """The hosts a live hold of exactly ``[start, end)`` on this account reserved; none if
    the hold is unknown, expired, booked already or of another time (then it is no hold:
    booking goes through the cells like any other)."""
    found = await deps.reservations.of_reservation(hold_id)
    if not found or any(c["until"] is None or c["until"] <= now
                        or c["account_id"] != page.account_id for c in found):
        return frozenset()
    users = frozenset(str(c["user_id"]) for c in found)
    times = bookings.cells(start, end)
    if {(c["user_id"], c["at"]) for c in found} != {(u, at) for u in users for at in times} \
            or len(found) != len(users) * len(times):
        return frozenset()
    return users


async def sweep(deps: Deps) -> int:
    """Drop cells past their deadline with no booking behind them (expired holds, crashed
    bookings); confirm those whose booking was stored; forget cells of the past."""
    now = deps.clock()
    handled = 0
    for cell in await deps.reservations.expired(now - STALE_GRACE):
        booked = await deps.bookings.get(cell["account_id"], cell["reservation_id"])
        if booked is not None and booked.state == "booked":
            await deps.reservations.confirm(cell["reservation_id"])
        else:
            await deps.reservations.drop_stale(cell)
        handled += 1
    handled += await deps.reservations.prune_past(now - timedelta(days=2))
    return handled


async def meeting_ended(deps: Deps, account_id: str, booking_id: str,
                        state: Literal["canceled", "moved"]) -> None:
    """The booking's meeting was canceled or moved: its cells no longer hold the time (a
    moved meeting's new time is busy in the host's calendar)."""
    async def rule(booking: Booking, now: datetime) -> tuple[Booking, list[Any]] | None:
        changed = bookings.ended(booking, state, now)
        return None if changed is None else (changed, [])

    if await deps.bookings.get(account_id, booking_id) is None:
        return  # not one of ours (a test's, or made before this service)
    await deps.aggregates.change(deps.bookings, account_id, booking_id, rule,
                                 missing=NotFound("booking_not_found", "No such booking."))
    await deps.reservations.release(booking_id)
