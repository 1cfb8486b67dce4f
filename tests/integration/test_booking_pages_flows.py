"""booking-pages' scheduling rules and flows through the real stack (the five services as
processes on real Kafka, the store, Radicale, the SMTP sink), seen only through its public
and owner HTTP APIs and what lands in calendars and mailboxes:

- a Rome page seen from New York across both spring (or autumn) DST changes, and a booking
  in the weeks between them landing at the right instant;
- busy time of an additional counted calendar and of a recurring series with an EXDATE and
  a moved occurrence (R29);
- minimum notice, maximum days ahead, buffers and the daily maximum;
- an offline page's request confirmed once the owner connects a calendar (R35);
- a lost calendar refusing bookings and telling the owner, until they reconnect (R30);
- a custom domain serving only its account's pages, one slug across domains, robots.txt (R37,
  R38); prefill links (R39);
- with booking-pages restarted for them (last, each restoring the stack's settings): an
  expired prefill link, and the rate limits' 429 with Retry-After.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import httpx
import icalendar
import pytest
from convene_schemas.events.calendar_sync import CalendarAccessLost
from support import wait_for
from support.booking_pages import (
    book,
    every_day,
    free_times,
    half_hours,
    host_known,
    in_utc,
    make_page,
    pages_call,
    rome_at,
    rome_today,
    utc,
    visitor_email,
    weekly_series,
)
from support.calendar_sync import (
    RadicaleCalendars,
    SyncAccount,
    connect_caldav,
    meetings_call,
    own_radicale_user,
    sync_call,
    sync_events,
    vevent,
)
from support.mail import mails
from support.services import Stack

NEW_YORK = ZoneInfo("America/New_York")
ROME = ZoneInfo("Europe/Rome")
DAY = timedelta(days=1)


@pytest.fixture
async def radicale() -> AsyncIterator[RadicaleCalendars]:
    calendars = RadicaleCalendars("alice")
    yield calendars
    await calendars.cleanup()


async def online_page(stack: Stack, acc: SyncAccount, radicale: RadicaleCalendars,
                      *additional: str, **settings: Any) -> tuple[dict[str, Any], str]:
    """The host's CalDAV calendar connected (``additional`` calendars counted too) and a page
    that booking-pages sees as bookable; returns the page and the primary calendar."""
    primary = await radicale.make(f"work-{acc.id}")
    await connect_caldav(stack, acc, radicale, primary, *additional)
    page = await make_page(stack, acc, **settings)
    await wait_for(lambda: host_known(stack, page["slug"], "available"),
                   "booking-pages to know the host and see the calendar", timeout=40)
    return page, primary


async def offline_page(stack: Stack, acc: SyncAccount, **settings: Any) -> dict[str, Any]:
    page = await make_page(stack, acc, **settings)
    await wait_for(lambda: host_known(stack, page["slug"], "offline"),
                   "booking-pages to know the host", timeout=40)
    return page


def refused_as(answer: httpx.Response, code: str) -> dict[str, Any]:
    assert answer.status_code == 409, answer.text
    error: dict[str, Any] = answer.json()["error"]
    assert error["code"] == code, error
    return error


async def events_with(radicale: RadicaleCalendars, calendar: str, text: str
                      ) -> dict[str, str] | None:
    found = {h: d for h, d in (await radicale.resources(calendar)).items() if text in d}
    return found or None


def event_start(ics: str) -> datetime:
    [event] = icalendar.Calendar.from_ical(ics).walk("VEVENT")
    return utc(event.decoded("DTSTART"))


async def booked_meeting(stack: Stack, acc: SyncAccount, booking_id: str,
                         awaiting: bool | None = None) -> dict[str, Any] | None:
    """The host's meeting made of ``booking_id``, through meetings' API (None while not
    there yet)."""
    query = f"/meetings?host_user_id={acc.host['id']}"
    if awaiting is not None:
        query += f"&awaiting_calendar={str(awaiting).lower()}"
    answer = await meetings_call(stack, "GET", query, acc.token())
    assert answer.status_code == 200, answer.text
    return next((m for m in answer.json()["items"] if m["booking_id"] == booking_id), None)


# --- DST ------------------------------------------------------------------------------------

def offset_changes(zone: ZoneInfo, first: date, days: int) -> list[date]:
    """The days in ``first..first+days`` whose noon has another UTC offset than the day
    before's (the days the zone's clocks change)."""
    def noon(day: date) -> timedelta | None:
        return datetime.combine(day, time(12), zone).utcoffset()

    return [first + n * DAY for n in range(days) if noon(first + n * DAY) != noon(
        first + (n - 1) * DAY)]


def next_changes(today: date) -> tuple[date, date]:
    """The next two changes that follow each other (New York's and Rome's, in spring or in
    autumn), the first at least eight days away so that the week before it lies ahead."""
    new_york, rome = offset_changes(NEW_YORK, today, 400), offset_changes(ROME, today, 400)
    for first in sorted(new_york + rome):
        if first - 7 * DAY <= today + DAY:
            continue
        second = next(d for d in (rome if first in new_york else new_york) if d > first)
        if second - first <= 28 * DAY:
            return first, second
    raise AssertionError(f"no pair of DST changes found after {today}")


async def test_a_rome_page_seen_from_new_york_keeps_rome_hours_across_both_dst_changes(
        stack: Stack, new_account: Any, radicale: RadicaleCalendars) -> None:
    """Weekdays 09:00-17:00 in Rome; the visitor asks in New York's zone for the week before
    the first change to the week after the second (2027: 14 and 28 March). Every weekday
    offers exactly Rome's 09:00-16:30 starts, which New York's clocks read as 03:00, then
    04:00 in the weeks between the changes (the zones' offsets differ by 5 h, not 6), then
    03:00 again. A booking made in between lands at 10:00 Rome time."""
    acc = new_account()
    page, primary = await online_page(stack, acc, radicale, maximum_days_ahead=365, weekly={
        **every_day("09:00", "17:00"), "sat": [], "sun": []})
    first, second = next_changes(rome_today())
    days = await free_times(stack, page["slug"], first - 7 * DAY, second + 7 * DAY,
                            time_zone="America/New_York")
    assert sorted(days) == [first - 7 * DAY + n * DAY for n in range((second - first).days
                                                                       + 15)]
    seen_from_new_york = {}
    for day, starts in days.items():
        if day.weekday() >= 5:
            assert starts == [], day
            continue
        assert in_utc(starts) == half_hours(day, "09:00", "16:30"), day
        assert {s.utcoffset() for s in starts} == {
            datetime.combine(day, time(12), NEW_YORK).utcoffset()}, day
        seen_from_new_york[day] = starts[0].strftime("%H:%M")
    phases = [sorted({hhmm for day, hhmm in seen_from_new_york.items() if low <= day < high})
              for low, high in ((date.min, first), (first, second), (second, date.max))]
    assert phases == [["03:00"], ["04:00"], ["03:00"]], seen_from_new_york

    between = next(first + n * DAY for n in range(1, 8) if (first + n * DAY).weekday() < 5)
    start = rome_at(between, "10:00").astimezone(NEW_YORK)
    assert start.strftime("%H:%M") == "05:00"  # five hours behind Rome that week
    email = visitor_email("dst")
    booked = await book(stack, page["slug"], start, email, time_zone="America/New_York")
    assert booked.status_code == 201, booked.text
    assert booked.json()["status"] == "booked"
    assert datetime.fromisoformat(booked.json()["start"]) == start
    assert booked.json()["start"].endswith("T05:00:00-04:00")
    meeting = await wait_for(lambda: booked_meeting(stack, acc, booked.json()["booking_id"]),
                             "the booked meeting in meetings", timeout=60)
    assert utc(datetime.fromisoformat(meeting["start"])) == rome_at(between, "10:00")
    events = await wait_for(lambda: events_with(radicale, primary, page["slug"]),
                            "the booked meeting in the host's calendar", timeout=60)
    [ics] = events.values()
    assert event_start(ics) == rome_at(between, "10:00")


# --- busy time of every counted calendar (R29) ----------------------------------------------

async def test_an_additional_calendar_and_a_recurring_series_hide_exactly_their_times(
        stack: Stack, new_account: Any, radicale: RadicaleCalendars) -> None:
    """The additional calendar (counted) holds one hour on day 1; the primary a weekly
    half hour from day 0, four times, the second removed (EXDATE), the third moved two hours
    later. Only those times disappear: the same time on every other day, the excluded
    occurrence and the moved one's old time stay free; booking a hidden time is refused."""
    acc = new_account()
    extra = await radicale.make(f"home-{acc.id}")
    page, primary = await online_page(stack, acc, radicale, extra, maximum_days_ahead=60,
                                      weekly=every_day("09:00", "17:00"))
    day0 = rome_today() + 2 * DAY
    series = [rome_at(day0, "13:00") + 7 * n * DAY for n in range(4)]  # UTC-weekly
    moved_to = series[2] + timedelta(hours=2)
    await radicale.put(primary, weekly_series(
        f"series-{uuid.uuid4().hex}", "Weekly review", series[0], 30, 4,
        organizer=acc.host["email"], excluded=(series[1],), moved={series[2]: moved_to}))
    elsewhere = rome_at(day0 + DAY, "11:00")
    await radicale.put(extra, vevent(f"gym-{uuid.uuid4().hex}", "Gym", elsewhere, 60,
                                     organizer="me@home.example"))
    hidden = {series[0], series[3], moved_to, elsewhere, elsewhere + timedelta(minutes=30)}
    last = (series[3] + DAY).date()

    async def calendars_read() -> set[datetime] | None:
        days = await free_times(stack, page["slug"], day0 - DAY, last, time_zone="UTC")
        offered = {s for starts in days.values() for s in in_utc(starts)}
        return offered if not hidden & offered else None

    offered = await wait_for(calendars_read, "the calendars' busy time to hide its slots",
                             timeout=60)
    same_time_elsewhere = {series[0] + n * DAY for n in range(1, 22) if n % 7}
    still_free = {series[1], series[2], elsewhere - DAY, elsewhere + DAY,
                  elsewhere - timedelta(minutes=30), elsewhere + timedelta(hours=1)}
    assert same_time_elsewhere | still_free <= offered, sorted(
        (same_time_elsewhere | still_free) - offered)
    for day in (day0 + n * DAY for n in range(22)):  # nothing else is hidden
        expected = set(half_hours(day, "09:00", "16:30")) - hidden
        assert {s for s in offered if s.astimezone(ROME).date() == day} == expected, day

    refused_as(await book(stack, page["slug"], elsewhere, visitor_email()), "slot_taken")
    refused_as(await book(stack, page["slug"], series[0], visitor_email()), "slot_taken")
    excluded = await book(stack, page["slug"], series[1], visitor_email())
    assert excluded.status_code == 201, excluded.text


# --- notice, horizon, buffers, daily maximum ------------------------------------------------

async def test_minimum_notice_and_maximum_days_ahead_bound_what_is_offered_and_booked(
        stack: Stack, new_account: Any) -> None:
    """Three days' notice, ten days ahead, 08:00-20:00 in Rome (an offline page: the rules
    are the page's, no calendar needed)."""
    acc = new_account()
    page = await offline_page(stack, acc, minimum_notice_minutes=3 * 24 * 60,
                              maximum_days_ahead=10)
    today = rome_today()
    asked_at = datetime.now(timezone.utc)
    days = await free_times(stack, page["slug"], today, today + 13 * DAY)
    offered = [s for starts in days.values() for s in in_utc(starts)]
    # the first offered start is the first working half hour after the notice (or the next
    # one, had a half hour struck between asking and the service's clock)
    after_notice = [s for n in range(14) for s in half_hours(today + n * DAY, "08:00", "19:30")
                    if s >= asked_at + timedelta(days=3)]
    assert offered and min(offered) in after_notice[:2], (min(offered), after_notice[:2])
    for n in (0, 1, 12, 13):  # inside the notice; past the horizon (even if the day turns)
        assert days[today + n * DAY] == [], n
    for n in range(4, 11):
        assert in_utc(days[today + n * DAY]) == half_hours(today + n * DAY, "08:00", "19:30")

    too_soon = await book(stack, page["slug"], rome_at(today + DAY, "12:00"), visitor_email())
    assert refused_as(too_soon, "slot_taken")["details"]["fresh_slots"] == []
    too_far = await book(stack, page["slug"], rome_at(today + 12 * DAY, "12:00"),
                         visitor_email())
    assert refused_as(too_far, "slot_taken")["details"]["fresh_slots"] == []
    within = await book(stack, page["slug"], rome_at(today + 5 * DAY, "12:00"),
                        visitor_email())
    assert within.status_code == 201, within.text
    assert within.json()["status"] == "requested"


async def test_buffers_keep_time_around_a_busy_event_and_a_full_day_disappears(
        stack: Stack, new_account: Any, radicale: RadicaleCalendars) -> None:
    """30 minutes free before a meeting and an hour after it, at most two bookings a day:
    an event 12:00-13:00 hides 11:00-13:00 starts (not 10:30, not 13:30); after two bookings
    the day offers nothing and a third booking is refused, while the next day is intact."""
    acc = new_account()
    page, primary = await online_page(stack, acc, radicale, weekly=every_day("09:00", "17:00"),
                                      buffer_before_minutes=30, buffer_after_minutes=60,
                                      maximum_per_day=2)
    busy_day, full_day = rome_today() + 3 * DAY, rome_today() + 5 * DAY
    await radicale.put(primary, vevent(f"lunch-{uuid.uuid4().hex}", "Lunch",
                                       rome_at(busy_day, "12:00"), 60,
                                       organizer=acc.host["email"]))

    async def busy_day_read() -> list[datetime] | None:
        starts = in_utc((await free_times(stack, page["slug"], busy_day, busy_day))[busy_day])
        return starts if rome_at(busy_day, "11:00") not in starts else None

    starts = await wait_for(busy_day_read, "the event to hide its time and buffers",
                            timeout=60)
    assert starts == (half_hours(busy_day, "09:00", "10:30")
                      + half_hours(busy_day, "13:30", "16:30"))
    for inside_a_buffer in ("11:00", "13:00"):
        refused_as(await book(stack, page["slug"], rome_at(busy_day, inside_a_buffer),
                              visitor_email()), "slot_taken")

    days = await free_times(stack, page["slug"], full_day, full_day + DAY)
    assert in_utc(days[full_day]) == half_hours(full_day, "09:00", "16:30")
    for hhmm in ("09:00", "14:00"):
        booked = await book(stack, page["slug"], rome_at(full_day, hhmm), visitor_email())
        assert booked.status_code == 201, booked.text
    days = await free_times(stack, page["slug"], full_day, full_day + DAY)
    assert days[full_day] == []
    assert in_utc(days[full_day + DAY]) == half_hours(full_day + DAY, "09:00", "16:30")
    third = await book(stack, page["slug"], rome_at(full_day, "16:00"), visitor_email())
    assert refused_as(third, "slot_taken")["details"]["fresh_slots"] == []


# --- an offline page's request, confirmed with a calendar (R35) -----------------------------

async def test_an_offline_request_is_confirmed_once_the_owner_connects_a_calendar(
        stack: Stack, new_account: Any, radicale: RadicaleCalendars) -> None:
    acc = new_account()
    page = await offline_page(stack, acc)
    start = rome_at(rome_today() + 3 * DAY, "10:00")
    email = visitor_email("req")
    requested = await book(stack, page["slug"], start, email)
    assert requested.status_code == 201, requested.text
    assert requested.json()["status"] == "requested"
    booking_id = requested.json()["booking_id"]
    told = await wait_for(lambda: mails(email, acc.host["email"]),
                          "the owner's email about the request", timeout=60)
    text = told[0].message.get_body(("plain",)).get_content()
    assert "Vera Visitor" in text and "requested a meeting" in text and page["slug"] in text
    meeting = await wait_for(lambda: booked_meeting(stack, acc, booking_id, awaiting=True),
                             "the request waiting for a calendar in meetings", timeout=60)
    assert mails(page["slug"], email) == []  # no invitation yet

    primary = await radicale.make(f"work-{acc.id}")
    await connect_caldav(stack, acc, radicale, primary)

    async def confirmed() -> httpx.Response | None:
        answer = await meetings_call(stack, "POST", f"/meetings/{meeting['id']}/confirm",
                                     acc.token())
        if answer.status_code == 422 and answer.json()["error"]["code"] == (
                "no_connected_calendar"):
            return None  # the connection has not reached meetings yet
        return answer

    answer = await wait_for(confirmed, "meetings to accept the confirmation", timeout=60)
    assert answer.status_code == 200, answer.text
    assert answer.json()["awaiting_calendar"] is False
    invitations = await wait_for(lambda: mails(page["slug"], email),
                                 "the visitor's invitation", timeout=60)
    assert any(b"METHOD:REQUEST" in part for part in invitations[0].calendar_parts())
    events = await wait_for(lambda: events_with(radicale, primary, page["slug"]),
                            "the confirmed meeting in the owner's calendar", timeout=60)
    [ics] = events.values()
    assert event_start(ics) == start
    assert len(mails(page["slug"], email)) == 1


# --- a lost calendar (R30) ------------------------------------------------------------------

async def test_a_lost_calendar_refuses_bookings_tells_the_owner_and_reconnecting_ends_it(
        stack: Stack, new_account: Any) -> None:
    acc = new_account()
    async with own_radicale_user() as radicale:
        page, _ = await online_page(stack, acc, radicale)
        day = rome_today() + 2 * DAY
        start = rome_at(day, "11:00")
        assert start in in_utc((await free_times(stack, page["slug"], day, day))[day])
        new_password = radicale.change_password()

        async def lost() -> list[Any] | None:
            return await sync_events(stack, acc.id, CalendarAccessLost) or None

        await wait_for(lost, "calendar-sync to lose access to the calendar", timeout=40)
        assert (await free_times(stack, page["slug"], day, day))[day] == []
        email = visitor_email("lost")
        refused = refused_as(await book(stack, page["slug"], start, email), "calendar_inactive")
        assert "told" in refused["message"], refused
        told = await wait_for(lambda: mails(email, acc.host["email"]),
                              "the owner's email about the blocked attempt", timeout=60)
        text = told[0].message.get_body(("plain",)).get_content()
        assert "Vera Visitor tried to book" in text and page["title"] in text
        assert "lost access" in text

        again = await sync_call(stack, "POST", "/connections/caldav", acc.token(), json={
            "url": radicale.url, "username": radicale.user, "password": new_password})
        assert again.status_code == 201, again.text

        async def bookable_again() -> bool:
            return start in in_utc((await free_times(stack, page["slug"], day, day))[day])

        await wait_for(bookable_again, "the page to offer times again", timeout=40)
        booked = await book(stack, page["slug"], start, email)
        assert booked.status_code == 201, booked.text
        assert booked.json()["status"] == "booked"
        await wait_for(lambda: mails(page["slug"], email), "the visitor's invitation",
                       timeout=60)


# --- custom domain and robots.txt (R37, R38) ------------------------------------------------

async def test_a_custom_domain_serves_its_accounts_pages_and_a_slug_is_one_across_domains(
        stack: Stack, new_account: Any) -> None:
    a, b = new_account(), new_account()
    domain = f"a-{uuid.uuid4().hex[:12]}.example"
    connected = await pages_call(stack, "PATCH", "/account/booking-settings",
                                 a.token(roles="admin"), json={
                                     "custom_domain": domain,
                                     "hide_custom_domain_from_search": True})
    assert connected.status_code == 200, connected.text
    page = await make_page(stack, a)
    slug = page["slug"]
    assert page["url"] == f"https://{domain}/meetings/{slug}"
    links = await pages_call(stack, "GET", f"/pages/{page['page_id']}/links", a.token())
    assert links.json()["url"] == page["url"]

    on_domain = await pages_call(stack, "GET", f"/public/pages/{slug}", host=domain)
    on_default = await pages_call(stack, "GET", f"/public/pages/{slug}")
    assert on_domain.status_code == on_default.status_code == 200, (on_domain.text,
                                                                    on_default.text)
    assert on_domain.json()["title"] == on_default.json()["title"] == page["title"]
    assert on_domain.json()["slug"] == on_default.json()["slug"] == slug

    taken = await pages_call(stack, "POST", "/pages", b.token(), json={
        "slug": slug, "title": "Not yours", "time_zone": "Europe/Rome"})
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "slug_taken", taken.text
    others = await make_page(stack, b)
    assert (await pages_call(stack, "GET", f"/public/pages/{others['slug']}")).status_code == 200
    for path in (f"/public/pages/{others['slug']}",
                 f"/public/pages/{others['slug']}/slots?duration=30&time_zone=UTC"
                 f"&from={rome_today()}&to={rome_today()}"):
        hidden = await pages_call(stack, "GET", path, host=domain)
        assert hidden.status_code == 404, (path, hidden.text)
        assert hidden.json()["error"]["code"] == "page_not_found"
    domain_taken = await pages_call(stack, "PATCH", "/account/booking-settings",
                                    b.token(roles="admin"), json={"custom_domain": domain})
    assert domain_taken.status_code == 409, domain_taken.text
    assert domain_taken.json()["error"]["code"] == "domain_taken"

    robots = await pages_call(stack, "GET", "/robots.txt", host=domain)
    assert "Disallow: /meetings*" in robots.text.splitlines(), robots.text
    default_robots = await pages_call(stack, "GET", "/robots.txt")
    assert default_robots.status_code == 200
    assert "Disallow: /meetings" not in default_robots.text, default_robots.text
    shown = await pages_call(stack, "PATCH", "/account/booking-settings",
                             a.token(roles="admin"),
                             json={"hide_custom_domain_from_search": False})
    assert shown.status_code == 200, shown.text
    robots = await pages_call(stack, "GET", "/robots.txt", host=domain)
    assert "Disallow: /meetings" not in robots.text, robots.text


# --- prefill links (R39) --------------------------------------------------------------------

def prefill_token(url: str) -> str:
    [token] = parse_qs(urlsplit(url).query)["prefill"]
    return token


async def prefill_of(stack: Stack, slug: str, token: str) -> dict[str, Any] | None:
    answer = await pages_call(stack, "GET", f"/public/pages/{slug}", params={"prefill": token})
    assert answer.status_code == 200, answer.text
    prefill: dict[str, Any] | None = answer.json()["prefill"]
    return prefill


def with_other_email(token: str, email: str) -> str:
    """The token with its payload's email replaced, its signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["email"] = email
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


async def make_prefill(stack: Stack, acc: SyncAccount, page: dict[str, Any]) -> str:
    made = await pages_call(stack, "POST", f"/pages/{page['page_id']}/prefill-links",
                            acc.token(), json={"name": "Dana Client",
                                               "email": acc.contact["email"],
                                               "answers": {"company": "Client Co"}})
    assert made.status_code == 201, made.text
    assert made.json()["url"].startswith(page["url"] + "?prefill=")
    return prefill_token(made.json()["url"])


COMPANY = [{"key": "company", "label": "Company"}]


async def test_a_prefill_link_fills_only_its_own_page_and_only_untampered(
        stack: Stack, new_account: Any) -> None:
    acc = new_account()
    page = await make_page(stack, acc, form_fields=COMPANY)
    other = await make_page(stack, acc, form_fields=COMPANY)
    token = await make_prefill(stack, acc, page)
    assert await prefill_of(stack, page["slug"], token) == {
        "name": "Dana Client", "email": acc.contact["email"],
        "answers": {"company": "Client Co"}}
    assert await prefill_of(stack, other["slug"], token) is None
    assert await prefill_of(stack, page["slug"],
                            with_other_email(token, "mallory@evil.example")) is None
    header, payload, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert await prefill_of(stack, page["slug"], f"{header}.{payload}.{flipped}") is None
    assert await prefill_of(stack, page["slug"], "not-a-token") is None


# --- with booking-pages restarted (last: each puts the stack's settings back) ---------------

async def test_an_expired_prefill_link_shows_nothing(stack: Stack, new_account: Any) -> None:
    acc = new_account()
    page = await make_page(stack, acc, form_fields=COMPANY)
    stack.restart("booking-pages", extra={"CONVENE_PREFILL_TTL_S": "10"})
    try:
        token = await make_prefill(stack, acc, page)
        assert (await prefill_of(stack, page["slug"], token) or {}).get("name") == "Dana Client"

        async def expired() -> bool:
            return await prefill_of(stack, page["slug"], token) is None

        await wait_for(expired, "the prefill link to expire", timeout=60, interval=1)
        fresh = await make_prefill(stack, acc, page)  # links as such still work
        assert (await prefill_of(stack, page["slug"], fresh) or {}).get("name") == "Dana Client"
    finally:
        stack.start("booking-pages")


async def test_rate_limits_answer_429_with_retry_after(stack: Stack, new_account: Any) -> None:
    """Per client (the address a trusted proxy saw), per page and, for bookings, per client
    on their own budget. Hourly budgets: nothing refills while the test runs."""
    acc = new_account()
    page = await offline_page(stack, acc)
    second = await offline_page(stack, acc)
    slug = page["slug"]
    stack.restart("booking-pages", extra={
        "CONVENE_PUBLIC_RATE_PER_CLIENT": "4/hour", "CONVENE_PUBLIC_RATE_PER_PAGE": "10/hour",
        "CONVENE_BOOKING_RATE_PER_CLIENT": "2/hour", "CONVENE_TRUSTED_PROXIES": "1"})
    try:
        def client(n: int) -> dict[str, str]:
            return {"X-Forwarded-For": f"203.0.113.{n}"}

        async def read(n: int, page_slug: str = slug) -> httpx.Response:
            return await pages_call(stack, "GET", f"/public/pages/{page_slug}",
                                    headers=client(n))

        def limited(answer: httpx.Response) -> None:
            assert answer.status_code == 429, answer.text
            assert answer.json()["error"]["code"] == "rate_limited"
            assert int(answer.headers["Retry-After"]) >= 1

        assert [(await read(1)).status_code for _ in range(4)] == [200] * 4  # page: 4
        limited(await read(1))  # the client's budget (a refusal charges nothing)
        assert (await read(2)).status_code == 200  # another client: page 5
        day = rome_today() + 3 * DAY
        for hhmm in ("10:00", "11:00"):  # page 7
            requested = await pages_call(stack, "POST", f"/public/pages/{slug}/bookings",
                                         headers=client(3), json={
                                             "start": rome_at(day, hhmm).isoformat(),
                                             "duration_minutes": 30, "name": "Rita Rate",
                                             "email": visitor_email("rate"),
                                             "time_zone": "Europe/Rome"})
            assert requested.status_code == 201, requested.text
        limited(await pages_call(stack, "POST", f"/public/pages/{slug}/bookings",
                                 headers=client(3), json={
                                     "start": rome_at(day, "12:00").isoformat(),
                                     "duration_minutes": 30, "name": "Rita Rate",
                                     "email": visitor_email("rate"), "time_zone": "Europe/Rome"}))
        assert (await read(3)).status_code == 200  # reads have their own budget: page 8
        assert [(await read(n)).status_code for n in (4, 5)] == [200, 200]  # page 10
        limited(await read(6))  # a new client, but the page's budget is spent
        assert (await read(6, second["slug"])).status_code == 200  # another page is not
    finally:
        stack.start("booking-pages")
