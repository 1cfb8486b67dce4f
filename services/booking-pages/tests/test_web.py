"""The public page, server-rendered (/<prefix>/<slug>): its languages, the month of free
times in the visitor's zone, booking by form with its confirmation and .ics, the refusals
as pages, the embed view, prefill, escaping, rate limits, the URL prefix and custom domains."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from importlib.resources import files
from typing import Any

import httpx
import pytest
from booking_pages_support import create_hosted_page
from convene_schemas.events.booking_pages import BookingAttemptBlocked, BookingRequested
from convene_schemas.events.meetings import booked_meeting_id, ical_uid_for
from icalendar import Calendar

PAGE = {"slug": "olga-intro", "title": "Intro call with Olga", "time_zone": "Europe/Rome",
        "durations": [30, 60], "minimum_notice_minutes": 60,
        "form_fields": [{"key": "company", "label": "Company", "required": True},
                        {"key": "notes", "label": "Notes", "kind": "textarea"}]}
PATH = "/meetings/olga-intro"
TUESDAY_10_ROME = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
AT_10_ROME = "2026-03-03T09:00:00Z"
IN_NEW_YORK = {"tz": "America/New_York", "day": "2026-03-03"}
BOOKED = re.compile(r"^/meetings/olga-intro/booked/(bkg_[0-9a-f]{24})$")


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: str = ""
    children: list[Element] = field(default_factory=list)


class _Parser(HTMLParser):
    VOID = {"input", "meta", "link", "br", "img"}

    def __init__(self) -> None:
        super().__init__()
        self.found: list[Element] = []
        self.open: list[Element] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.found.append(element)
        if tag not in self.VOID:
            self.open.append(element)

    def handle_endtag(self, tag: str) -> None:
        while self.open and self.open.pop().tag != tag:
            pass

    def handle_data(self, data: str) -> None:
        for element in self.open:
            element.text += data


def find(html: str, tag: str | None = None, **attrs: str) -> list[Element]:
    """Elements of ``tag`` with these attributes (``data_testid`` for ``data-testid``)."""
    parser = _Parser()
    parser.feed(html)
    wanted = {k.replace("_", "-"): v for k, v in attrs.items()}
    return [e for e in parser.found if (tag is None or e.tag == tag)
            and all(e.attrs.get(k) == v for k, v in wanted.items())]


def one(html: str, tag: str | None = None, **attrs: str) -> Element:
    [element] = find(html, tag, **attrs)
    return element


def slots(html: str) -> dict[str, str]:
    """The day's times: data-start (UTC) -> the time shown."""
    return {a.attrs["data-start"]: a.text.strip() for a in find(html, "a", data_testid="slot")}


def day_links(html: str) -> list[str]:
    return [a.attrs["data-day"] for a in find(html, "a", data_testid="day")]


async def _page(harness: Any, client: httpx.AsyncClient, mint: Any, **fields: Any) -> dict:
    return await create_hosted_page(harness, client, mint, PAGE, **fields)


def form(start: str = AT_10_ROME, **fields: str) -> dict[str, str]:
    return {"start": start, "duration": "30", "tz": "America/New_York", "name": "Dana Lee",
            "email": "dana@globex.example", "answers.company": "Globex", **fields}


async def _book(client: httpx.AsyncClient, path: str = PATH, **fields: str) -> httpx.Response:
    return await client.post(path, data=form(**fields))


@pytest.mark.parametrize(("language", "expected", "english_only"), [
    ("en", ["Pick a day", "March 2026", "Book a meeting", "Tuesday, March 3, 2026"], []),
    ("it", ["Scegli un giorno", "marzo 2026", "Prenota un incontro", "martedì 3 marzo 2026",
            "Nome e cognome", "Prenota questo orario"], ["Pick a day", "Your name"]),
    ("fi", ["Valitse päivä", "maaliskuu 2026", "Varaa tapaaminen", "tiistai 3. maaliskuuta 2026",
            "Sähköpostiosoite", "Varaa tämä aika"], ["Pick a day", "Email address"]),
])
async def test_the_page_speaks_its_language(harness: Any, client: httpx.AsyncClient, mint: Any,
                                            language: str, expected: list[str],
                                            english_only: list[str]) -> None:
    await _page(harness, client, mint, language=language)
    shown = await client.get(PATH, params={"day": "2026-03-03", "start": AT_10_ROME})
    assert shown.status_code == 200, shown.text
    assert shown.headers["content-type"] == "text/html; charset=utf-8"
    assert one(shown.text, "html").attrs["lang"] == language
    assert one(shown.text, "h1").text == "Intro call with Olga"
    for text in expected:
        assert text in shown.text, text
    for text in english_only:
        assert text not in shown.text, text


async def test_the_month_shows_days_with_free_times_and_the_times_in_the_visitors_zone(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    await _page(harness, client, mint, language="it")
    harness.availability.set("u1", busy=[(TUESDAY_10_ROME + timedelta(hours=1),
                                          TUESDAY_10_ROME + timedelta(hours=2))])
    shown = await client.get(PATH, params=IN_NEW_YORK)
    grid = one(shown.text, "table", id="month-grid")
    assert grid.attrs["data-month"] == "2026-03" and "marzo 2026" in grid.text
    days = day_links(shown.text)
    assert days[0] == "2026-03-02" and "2026-03-03" in days and "2026-03-31" in days
    assert "2026-03-07" not in days and "2026-03-08" not in days  # the weekend
    tuesday = one(shown.text, "a", data_day="2026-03-03")
    assert tuesday.attrs["aria-current"] == "true"
    assert tuesday.attrs["aria-label"] == "martedì 3 marzo 2026: 14 orari liberi"
    times = slots(shown.text)
    assert times[AT_10_ROME] == "04:00"  # 10:00 in Rome is 04:00 in New York
    assert times["2026-03-03T08:00:00Z"] == "03:00"
    assert "2026-03-03T10:00:00Z" not in times and "2026-03-03T10:30:00Z" not in times  # busy
    assert len(times) == 14
    assert one(shown.text, "option", selected="").text == "America/New_York"


async def test_an_unknown_zone_shows_the_pages_zone_with_a_notice(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    await _page(harness, client, mint)
    shown = await client.get(PATH, params={"tz": "Mars/Olympus", "day": "2026-03-03"})
    assert shown.status_code == 200
    notice = one(shown.text, id="zone-notice")
    assert "Mars/Olympus" in notice.text and "Europe/Rome" in notice.text
    assert slots(shown.text)[AT_10_ROME] == "10:00\u00a0AM"
    assert one(shown.text, "option", selected="").text == "Europe/Rome"
    assert not find((await client.get(PATH, params=IN_NEW_YORK)).text, id="zone-notice")


async def test_a_form_booking_leads_to_its_confirmation_and_an_ics_of_the_meeting(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    await _page(harness, client, mint)
    posted = await _book(client, **{"answers.notes": "Line one\r\nLine two"})
    assert posted.status_code == 303, posted.text
    found = BOOKED.match(posted.headers["location"])
    assert found is not None, posted.headers["location"]
    booking_id = found[1]
    [event] = harness.events(BookingRequested)
    assert (event.booking_id, event.start, event.visitor.time_zone) == (
        booking_id, TUESDAY_10_ROME, "America/New_York")
    assert [(a.field, a.value) for a in event.form_answers] == [
        ("company", "Globex"), ("notes", "Line one\nLine two")]
    shown = await client.get(posted.headers["location"])
    assert shown.status_code == 200 and shown.headers["cache-control"] == "no-store"
    confirmation = one(shown.text, id="confirmation")
    assert confirmation.attrs["data-status"] == "booked"
    assert one(shown.text, id="confirmed-title").text == "Intro call with Olga"
    assert one(shown.text, id="confirmed-host").text == "Olga Host"
    assert one(shown.text, id="confirmed-when").text == (
        "Tuesday, March 3, 2026, 4:00\u00a0AM–4:30\u00a0AM (America/New_York)")
    assert "u1@acme.example" not in shown.text  # never the host's address
    link = one(shown.text, "a", id="add-to-calendar").attrs["href"]
    assert link == f"{PATH}/booked/{booking_id}.ics"
    ics = await client.get(link)
    assert ics.status_code == 200
    assert ics.headers["content-type"] == "text/calendar; charset=utf-8"
    assert ics.headers["content-disposition"] == 'attachment; filename="olga-intro.ics"'
    calendar = Calendar.from_ical(ics.content)
    assert str(calendar["METHOD"]) == "PUBLISH"
    [vevent] = calendar.walk("VEVENT")
    assert str(vevent["UID"]) == ical_uid_for(booked_meeting_id("acc_1", booking_id))
    assert vevent.decoded("DTSTART") == TUESDAY_10_ROME
    assert vevent.decoded("DTEND") == TUESDAY_10_ROME + timedelta(minutes=30)
    assert str(vevent["SUMMARY"]) == "Intro call with Olga"
    assert "ORGANIZER" not in vevent and b"acme.example" not in ics.content


async def test_a_time_taken_meanwhile_answers_409_with_the_days_fresh_times(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    await _page(harness, client, mint)
    assert (await _book(client)).status_code == 303
    again = await _book(client, email="other@example.org")
    assert again.status_code == 409
    conflict = one(again.text, id="conflict")
    assert conflict.attrs["role"] == "alert" and conflict.attrs["data-code"] == "slot_taken"
    assert conflict.text == "This time was just taken; please pick another one."
    times = slots(again.text)
    assert AT_10_ROME not in times and times["2026-03-03T09:30:00Z"] == "4:30\u00a0AM"
    assert not find(again.text, "form", id="booking-form")  # the taken time cannot be sent
    assert len(harness.events(BookingRequested)) == 1
    # a link to the taken time says so too
    stale = await client.get(PATH, params={**IN_NEW_YORK, "start": AT_10_ROME})
    assert one(stale.text, id="conflict").attrs["data-code"] == "slot_taken"


async def test_form_problems_answer_422_next_to_the_field_with_what_was_entered(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    await _page(harness, client, mint)
    bad_email = await _book(client, email="not-an-email")
    assert bad_email.status_code == 422
    assert one(bad_email.text, "input", id="field-name").attrs["value"] == "Dana Lee"
    email = one(bad_email.text, "input", id="field-email")
    assert email.attrs["value"] == "not-an-email" and email.attrs["aria-invalid"] == "true"
    error = one(bad_email.text, id=email.attrs["aria-describedby"])
    assert error.attrs["role"] == "alert" and "valid email address" in error.text
    assert one(bad_email.text, "input", name="answers.company").attrs["value"] == "Globex"
    no_answer = await _book(client, **{"answers.company": " ", "answers.notes": "Hi\r\nthere"})
    assert no_answer.status_code == 422
    company = one(no_answer.text, "input", name="answers.company")
    assert company.attrs["aria-describedby"] == "field-answers-company-error"
    assert one(no_answer.text, id="field-answers-company-error").text == (
        "Please answer this question.")
    assert one(no_answer.text, "textarea", name="answers.notes").text == "Hi\nthere"
    assert one(no_answer.text, "input", name="start").attrs["value"] == AT_10_ROME
    tampered = await _book(client, start="soon")
    assert tampered.status_code == 422
    assert one(tampered.text, id="form-problem").attrs["role"] == "alert"
    as_json = await client.post(PATH, json=form())
    assert as_json.status_code == 415
    assert one(as_json.text, id="refusal").attrs["data-code"] == "unsupported_media_type"
    assert harness.events(BookingRequested) == []


async def test_an_unavailable_page_says_so_and_offers_no_form(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    await _page(harness, client, mint, language="fi")
    await client.patch("/account/booking-settings", headers=mint("a", roles=("admin",)),
                       json={"pages_enabled": False})
    shown = await client.get(PATH, params={**IN_NEW_YORK, "start": AT_10_ROME})
    assert shown.status_code == 200
    assert one(shown.text, id="unavailable").text == (
        "Tämä sivu ei ota varauksia vastaan juuri nyt.")
    assert not find(shown.text, id="month-grid") and not find(shown.text, id="booking-form")
    refused = await _book(client)
    assert refused.status_code == 409
    assert one(refused.text, id="alert").attrs["data-code"] == "pages_turned_off"
    assert [e.reason for e in harness.events(BookingAttemptBlocked)] == ["pages_turned_off"]


async def test_an_offline_page_takes_a_request_and_offers_no_ics(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    await _page(harness, client, mint)
    harness.availability.set("u1", connected=False, bookable=False)
    shown = await client.get(PATH, params={**IN_NEW_YORK, "start": AT_10_ROME})
    assert "The host will confirm" in one(shown.text, id="offline").text
    assert one(shown.text, "button", id="book").text == "Request this time"
    posted = await _book(client)
    assert posted.status_code == 303
    confirmation = await client.get(posted.headers["location"])
    assert one(confirmation.text, id="confirmation").attrs["data-status"] == "requested"
    assert one(confirmation.text, id="confirmed-status").text == (
        "Requested, awaiting the host's confirmation")
    assert not find(confirmation.text, id="add-to-calendar")
    ics = await client.get(posted.headers["location"] + ".ics")
    assert ics.status_code == 404
    assert one(ics.text, id="refusal").attrs["data-code"] == "booking_not_confirmed"


async def test_a_lost_calendar_refuses_with_the_visitors_message_in_the_pages_language(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    await _page(harness, client, mint, language="it")
    harness.availability.set("u1", bookable=False, inactive=["work@acme.example"])
    refused = await _book(client)
    assert refused.status_code == 409
    alert = one(refused.text, id="alert")
    assert alert.attrs["data-code"] == "calendar_inactive"
    assert alert.text.startswith("Questo organizzatore non può accettare prenotazioni")
    assert "work@acme.example" not in refused.text


async def test_the_embed_view_has_no_chrome_keeps_embed_and_may_be_framed(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    await _page(harness, client, mint)
    normal = await client.get(PATH, params=IN_NEW_YORK)
    assert normal.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in normal.headers["content-security-policy"]
    assert find(normal.text, "header") and find(normal.text, "footer")
    embedded = await client.get(PATH, params={**IN_NEW_YORK, "embed": "1",
                                              "start": AT_10_ROME})
    assert embedded.status_code == 200
    assert "x-frame-options" not in embedded.headers
    assert "frame-ancestors *" in embedded.headers["content-security-policy"]
    assert not find(embedded.text, "header") and not find(embedded.text, "footer")
    links = [a.attrs["href"] for a in find(embedded.text, "a")
             if a.attrs.get("data-testid") in ("day", "slot", "duration", "next-month")]
    assert links and all("embed=1" in href for href in links)
    assert one(embedded.text, "form", id="booking-form").attrs["action"] == f"{PATH}?embed=1"
    assert one(embedded.text, "input", name="embed").attrs["value"] == "1"
    posted = await client.post(f"{PATH}?embed=1", data=form())
    assert posted.status_code == 303 and posted.headers["location"].endswith("?embed=1")
    confirmation = await client.get(posted.headers["location"])
    assert "x-frame-options" not in confirmation.headers
    assert find(confirmation.text, id="confirmation") and not find(confirmation.text, "header")


async def test_a_prefill_link_fills_the_form_on_its_own_page_only(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    page = await _page(harness, client, mint)
    await client.post("/pages", headers=mint("u1"), json={**PAGE, "slug": "olga-other"})
    made = await client.post(f"/pages/{page['page_id']}/prefill-links", headers=mint("u1"),
                             json={"name": "Dana Lee", "email": "dana@globex.example",
                                   "answers": {"company": "Globex"}})
    token = made.json()["url"].split("prefill=", 1)[1]
    shown = await client.get(PATH, params={**IN_NEW_YORK, "start": AT_10_ROME,
                                           "prefill": token})
    assert one(shown.text, "input", id="field-name").attrs["value"] == "Dana Lee"
    assert one(shown.text, "input", id="field-email").attrs["value"] == "dana@globex.example"
    assert one(shown.text, "input", name="answers.company").attrs["value"] == "Globex"
    assert all("prefill=" in href for href in [a.attrs["href"] for a in find(
        shown.text, "a", data_testid="slot")])  # it follows the visitor to another time
    elsewhere = await client.get("/meetings/olga-other", params={
        **IN_NEW_YORK, "start": AT_10_ROME, "prefill": token})
    assert elsewhere.status_code == 200
    assert one(elsewhere.text, "input", id="field-name").attrs["value"] == ""
    assert one(elsewhere.text, "input", name="answers.company").attrs["value"] == ""
    plain = await client.get(PATH, params={**IN_NEW_YORK, "start": AT_10_ROME, "name": "Ann",
                                           "email": "ann@example.org",
                                           "answers.company": "Evil", "company": "Evil"})
    assert one(plain.text, "input", id="field-name").attrs["value"] == "Ann"
    assert one(plain.text, "input", id="field-email").attrs["value"] == "ann@example.org"
    assert one(plain.text, "input", name="answers.company").attrs["value"] == ""


async def test_what_hosts_and_visitors_type_is_escaped_and_no_script_is_inline(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    await _page(harness, client, mint, title="<script>alert(1)</script>",
                description="<img src=x onerror=alert(2)>")
    shown = await client.get(PATH, params={**IN_NEW_YORK, "start": AT_10_ROME,
                                           "name": '"><script>alert(3)</script>'})
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown.text
    assert "<script>alert" not in shown.text and "<img src=x" not in shown.text
    assert one(shown.text, "h1").text == "<script>alert(1)</script>"
    assert one(shown.text, "input", id="field-name").attrs["value"] == '"><script>alert(3)</script>'
    assert all(s.attrs.get("src") for s in find(shown.text, "script"))
    assert " style=" not in shown.text  # the policy allows no inline style either
    policy = shown.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy


async def test_the_page_is_rate_limited_with_a_429_page_that_keeps_retry_after(
        make_harness: Any, mint: Any) -> None:
    harness = make_harness(public_rate_per_client="3/minute")
    transport = httpx.ASGITransport(app=harness.service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://pages.test") as client:
        await _page(harness, client, mint)
        # the page and the JSON API spend one budget
        answers = [await client.get(PATH), await client.get("/public/pages/olga-intro"),
                   await client.get(PATH),
                   await client.get(PATH, headers={"Accept-Language": "fi;q=0.9, de"})]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    refused = answers[-1]
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["content-type"] == "text/html; charset=utf-8"
    assert one(refused.text, id="refusal").attrs["data-code"] == "rate_limited"
    assert one(refused.text, "html").attrs["lang"] == "fi"
    assert one(refused.text, "h1").text == "Liikaa pyyntöjä"


async def test_calendar_sync_down_is_a_503_page_with_retry_after(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    await _page(harness, client, mint, language="it")
    harness.availability.down = True
    for answer in (await client.get(PATH), await _book(client)):
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "2"
        assert one(answer.text, id="refusal").attrs["data-code"] == "availability_unavailable"
        assert one(answer.text, "h1").text == "Riprova tra poco"
    assert harness.events(BookingRequested) == []


async def test_a_page_answers_only_at_its_accounts_url_prefix(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    await _page(harness, client, mint)
    for path in ("/book/olga-intro", "/meetings/nobody-here"):
        missing = await client.get(path)
        assert missing.status_code == 404, path
        assert one(missing.text, id="refusal").attrs["data-code"] == "page_not_found"
        assert one(missing.text, "h1").text == "Page not found"
    assert (await client.post("/book/olga-intro", data=form())).status_code == 404
    changed = await client.patch("/account/booking-settings",
                                 headers=mint("a", roles=("admin",)), json={"url_prefix": "book"})
    assert changed.status_code == 200
    moved = await client.get("/book/olga-intro")
    assert moved.status_code == 200
    assert one(moved.text, "link").attrs["href"].startswith("/book/_static/page.css?v=")
    assert (await client.get(PATH)).status_code == 404
    assert harness.events(BookingRequested) == []


async def test_a_custom_domain_serves_its_accounts_pages_only(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    await _page(harness, client, mint)
    await client.patch("/account/booking-settings", headers=mint("a", roles=("admin",)),
                       json={"custom_domain": "meet.acme.example"})
    await client.patch("/account/booking-settings",
                       headers=mint("b", "acc_other", roles=("admin",)),
                       json={"custom_domain": "meet.globex.example"})
    own = await client.get(PATH, headers={"Host": "meet.acme.example"})
    other = await client.get(PATH, headers={"Host": "meet.globex.example"})
    assert (own.status_code, other.status_code) == (200, 404)
    booked = await client.post(PATH, data=form(), headers={"Host": "meet.globex.example"})
    assert booked.status_code == 404 and harness.events(BookingRequested) == []


async def test_a_confirmation_shows_only_a_booking_of_its_own_page(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    await _page(harness, client, mint)
    await client.post("/pages", headers=mint("u1"), json={**PAGE, "slug": "olga-other"})
    posted = await _book(client)
    booking_id = posted.headers["location"].rsplit("/", 1)[1]
    for path in (f"/meetings/olga-other/booked/{booking_id}",
                 f"/meetings/olga-other/booked/{booking_id}.ics",
                 f"{PATH}/booked/bkg_{'0' * 24}", f"{PATH}/booked/not-an-id"):
        answer = await client.get(path)
        assert answer.status_code == 404, path
        assert one(answer.text, id="refusal").attrs["data-code"] == "booking_not_found"


async def test_the_month_view_goes_from_this_month_to_the_last_bookable_one(
        make_harness: Any, mint: Any) -> None:
    harness = make_harness(max_slot_range_days=7)  # a month takes several queries
    transport = httpx.ASGITransport(app=harness.service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://pages.test") as client:
        await _page(harness, client, mint, maximum_days_ahead=40)  # until April 11
        march = await client.get(PATH, params={"tz": "Europe/Rome"})
        april = await client.get(PATH, params={"tz": "Europe/Rome", "month": "2026-04"})
        past = await client.get(PATH, params={"tz": "Europe/Rome", "month": "2025-12"})
        later = await client.get(PATH, params={"tz": "Europe/Rome", "month": "2026-09"})
    assert not find(march.text, id="previous-month")
    assert "month=2026-04" in one(march.text, id="next-month").attrs["href"]
    assert "2026-03-31" in day_links(march.text) and "2026-03-02" in day_links(march.text)
    assert "month=2026-03" in one(april.text, id="previous-month").attrs["href"]
    assert not find(april.text, id="next-month")
    assert day_links(april.text)[-1] == "2026-04-10"  # a Friday; nothing after the 11th
    assert one(past.text, "table", id="month-grid").attrs["data-month"] == "2026-03"
    assert one(later.text, "table", id="month-grid").attrs["data-month"] == "2026-04"


async def test_the_script_only_finds_the_browsers_zone_and_is_served_from_this_origin(
        harness: Any, client: httpx.AsyncClient, mint: Any) -> None:
    await _page(harness, client, mint)
    first = await client.get(PATH)
    root = one(first.text, "html")
    assert root.attrs["data-detect-zone"] == "1" and root.attrs["data-zone"] == "Europe/Rome"
    assert "data-detect-zone" not in one((await client.get(PATH, params=IN_NEW_YORK)).text,
                                         "html").attrs
    assert "data-detect-zone" not in one((await _book(client, email="x")).text, "html").attrs
    script = await client.get(one(first.text, "script").attrs["src"])
    assert script.status_code == 200 and "text/javascript" in script.headers["content-type"]
    assert "Intl.DateTimeFormat().resolvedOptions().timeZone" in script.text
    style = await client.get(one(first.text, "link").attrs["href"])
    assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")
    assert ":focus-visible" in style.text
    assert (await client.get("/meetings/_static/other.js")).status_code == 404


def test_every_language_has_every_message_and_its_own_words() -> None:
    def catalogue(language: str) -> dict[str, str]:
        text = files("convene_booking_pages.web").joinpath("catalogues", f"{language}.json")
        return dict(json.loads(text.read_text(encoding="utf-8")))

    english = catalogue("en")
    for language in ("it", "fi"):
        other = catalogue(language)
        assert other.keys() == english.keys(), language
        for key, text in other.items():
            assert set(re.findall(r"{\w+}", text)) == set(re.findall(r"{\w+}", english[key])), key
        same = [key for key in english if other[key] == english[key]]
        assert len(same) <= 2, (language, same)  # "{minutes} min" and the like only
