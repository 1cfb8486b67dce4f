"""The public scheduling page in a real browser: Debian's Chromium driven by Playwright
(``executable_path``; infra/browser.py installs it where root may), against booking-pages and
the rest of the stack as processes on the real servers.

A visitor whose browser is in New York opens the page: it switches itself to the browser's
zone, the visitor changes the zone by hand, picks a day and a time, fills the form, books,
and sees the confirmation with an .ics of the meeting's UID; the invitation reaches the SMTP
sink. A second visitor who had the same time's form open sends it afterwards and gets the
conflict message and the day's fresh times. A screenshot of each step is kept
(``$CONVENE_HOME/artifacts/``, else ``.convene/artifacts/``)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from convene_schemas.events.meetings import booked_meeting_id, ical_uid_for
from icalendar import Calendar
from support import REPO_ROOT, wait_for
from support.booking_pages import host_known, make_page, visitor_email
from support.calendar_sync import RadicaleCalendars, connect_caldav
from support.mail import mails
from support.services import Stack

from infra.browser import FLAGS, INSTALL_HINT, chromium_path

playwright_api = pytest.importorskip("playwright.async_api")

ARTIFACTS = Path(os.environ.get("CONVENE_HOME", REPO_ROOT / ".convene")) / "artifacts"


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    executable = chromium_path()
    if executable is None:
        pytest.skip(f"no Chromium on this machine: {INSTALL_HINT}")
    async with playwright_api.async_playwright() as driver:
        launched = await driver.chromium.launch(
            executable_path=str(executable), headless=True,
            args=[flag for flag in FLAGS if flag != "--headless"])
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def radicale() -> AsyncIterator[RadicaleCalendars]:
    calendars = RadicaleCalendars("alice")
    yield calendars
    await calendars.cleanup()


async def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"booking-page-{name}.png"), full_page=True)


def zone_of(url: str) -> str | None:
    return parse_qs(urlsplit(url).query).get("tz", [None])[0]


async def open_day_and_time(page: Any, start_utc: str) -> None:
    """Pick the day of the slot starting at ``start_utc`` and then that slot (the form)."""
    await page.locator(f'[data-testid="slot"][data-start="{start_utc}"]').click()
    await page.wait_for_selector('[data-testid="booking-form"]')


async def test_a_visitor_books_in_chromium_and_a_second_one_meets_the_conflict(
        stack: Stack, new_account: Any, radicale: RadicaleCalendars, browser: Any) -> None:
    acc = new_account()
    primary = await radicale.make(f"work-{acc.id}")
    await connect_caldav(stack, acc, radicale, primary)
    created = await make_page(stack, acc, title="Intro call with Hana", maximum_days_ahead=60)
    slug = created["slug"]
    await wait_for(lambda: host_known(stack, slug, "available"),
                   "booking-pages to know the host and see the calendar", timeout=40)
    url = f"{stack.url('booking-pages')}/meetings/{slug}"

    first = await browser.new_context(timezone_id="America/New_York", locale="en-US")
    second = await browser.new_context(timezone_id="Europe/Rome", locale="it-IT")
    try:
        page = await first.new_page()
        await page.goto(url)
        # The page's script moves the visitor to the browser's own zone.
        await page.wait_for_url(lambda address: zone_of(address) == "America/New_York")
        assert await page.locator("#page-title").inner_text() == "Intro call with Hana"
        await shot(page, "1-new-york")

        # The zone changed by hand: the same free time shows on Helsinki's clock.
        await page.select_option('[data-testid="zone-select"]', "Europe/Helsinki")
        await page.locator("#zone-form button[type=submit]").click()
        await page.wait_for_url(lambda address: zone_of(address) == "Europe/Helsinki")

        # A day two or more days ahead (clear of the page's notice), then its first time.
        helsinki = ZoneInfo("Europe/Helsinki")
        day = (datetime.now(helsinki) + timedelta(days=2)).date()
        day_link = page.locator(f'[data-testid="day"][data-day="{day.isoformat()}"]')
        if await day_link.count() == 0:  # the day is in next month's view
            await page.locator('[data-testid="next-month"]').click()
        await day_link.click()
        await page.wait_for_selector('[data-testid="slot"]')
        slot = page.locator('[data-testid="slot"]').first
        start_utc = await slot.get_attribute("data-start")
        assert start_utc is not None
        start = datetime.fromisoformat(start_utc.replace("Z", "+00:00"))
        shown = await slot.locator("time").get_attribute("datetime")
        assert shown is not None
        assert datetime.fromisoformat(shown).utcoffset() == start.astimezone(helsinki).utcoffset()
        # 08:00 in Rome is the first time the page offers: 09:00 on Helsinki's clock.
        assert start.astimezone(ZoneInfo("Europe/Rome")).strftime("%H:%M") == "08:00"
        assert start.astimezone(helsinki).strftime("%H:%M") == "09:00"
        assert (await slot.inner_text()).replace("\xa0", " ") == "9:00 AM"  # an English page
        await shot(page, "2-day")

        # The second visitor opens the same time's form before the first one books.
        rival = await second.new_page()
        await rival.goto(f"{url}?tz=Europe/Rome&day={start.astimezone(ZoneInfo('Europe/Rome')).date()}")
        await open_day_and_time(rival, start_utc)

        await open_day_and_time(page, start_utc)
        email = visitor_email("browser")
        await page.fill('input[name="name"]', "Vera Visitor")
        await page.fill('input[name="email"]', email)
        await page.locator('[data-testid="submit"]').click()
        confirmation = page.locator('[data-testid="confirmation"]')
        await confirmation.wait_for()
        assert await confirmation.get_attribute("data-status") == "booked"
        await shot(page, "3-confirmation")

        # "Add to calendar": the meeting's own UID, so the invitation updates the same event.
        link = await page.locator('[data-testid="add-to-calendar"]').get_attribute("href")
        assert link is not None
        download = await page.request.get(link if link.startswith("http") else
                                           f"{stack.url('booking-pages')}{link}")
        assert download.ok and download.headers["content-type"].startswith("text/calendar")
        event = next(iter(Calendar.from_ical(await download.body()).walk("VEVENT")))
        booking_id = urlsplit(page.url).path.rsplit("/", 1)[-1]
        assert str(event["UID"]) == ical_uid_for(booked_meeting_id(acc.id, booking_id))
        assert event.decoded("DTSTART") == start

        # The invitation reaches the visitor (records makes the contact, meetings the
        # meeting, notifications the email).
        invitation = await wait_for(lambda: mails(email) or None, "the visitor's invitation",
                                    timeout=60)
        assert "Intro call with Hana" in str(invitation[0].message["Subject"])

        # The rival sends the same time: the conflict (in the page's language, whatever the
        # browser's), with the day's fresh times.
        await rival.fill('input[name="name"]', "Rita Rivale")
        await rival.fill('input[name="email"]', visitor_email("rival"))
        await rival.locator('[data-testid="submit"]').click()
        conflict = rival.locator("#conflict")
        await conflict.wait_for()
        assert await conflict.get_attribute("data-code") == "slot_taken"
        assert "just taken" in await conflict.inner_text()
        fresh = [await s.get_attribute("data-start")
                 for s in await rival.locator('[data-testid="slot"]').all()]
        assert fresh, "fresh times are offered"
        assert start_utc not in fresh
        await shot(rival, "4-conflict")
    finally:
        await first.close()
        await second.close()
