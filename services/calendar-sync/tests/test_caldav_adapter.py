"""The CalDAV adapter against an embedded Radicale 3.9 (htpasswd auth, 127.0.0.1 allowed
by the egress policy): connect-time checks, idempotent writes, sync-collection changes and
the busy occurrences they carry. The calendar is set up and inspected with a separate,
plain caldav client standing in for the user's own calendar app."""

from __future__ import annotations

import base64
import logging
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
from caldav.aio import AsyncDAVClient
from convene_calendar_sync.domain.calendar_events import (
    Attendee,
    BusyInterval,
    OutboundEvent,
    RemoteEvent,
)
from convene_calendar_sync.domain.tasks import TaskEvent, task_uid
from convene_calendar_sync.providers.base import (
    AccessDenied,
    CalendarGone,
    CursorExpired,
    NotACalendarServer,
    ProviderUnavailable,
    UrlRefused,
)
from convene_calendar_sync.providers.caldav import CalDavAdapter, resource_name
from convene_kit.egress import EgressPolicy

sys.path.insert(0, str(Path(__file__).parent))  # importlib mode: the helper is a sibling
from radicale_support import RadicaleServer, plain_http_server, radicale_server  # noqa: E402

ALICE, ALICE_PW = "alice@example.com", "alice-Secret-pw-1"
BOB, BOB_PW = "bob", "bob-Secret-pw-2"
LOCAL = EgressPolicy(allow_private=True)
BERLIN = ZoneInfo("Europe/Berlin")
WINDOW = {"window_start": datetime(2026, 3, 1, tzinfo=UTC),
          "window_end": datetime(2026, 4, 1, tzinfo=UTC)}


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RadicaleServer]:
    with radicale_server(tmp_path_factory.mktemp("radicale"),
                         {ALICE: ALICE_PW, BOB: BOB_PW}) as server:
        yield server


@pytest.fixture
async def owner(radicale: RadicaleServer) -> AsyncIterator[AsyncDAVClient]:
    """The user's own calendar app: an unguarded caldav client."""
    client = AsyncDAVClient(url=radicale.user_url(ALICE), username=ALICE, password=ALICE_PW)
    yield client
    await client.close()


async def make_calendar(owner: AsyncDAVClient, radicale: RadicaleServer, *,
                        name: str = "Work", time_zone: str | None = None) -> str:
    url = f"{radicale.user_url(ALICE)}{uuid.uuid4().hex[:10]}/"
    vtimezone = None
    if time_zone:
        wrapper = icalendar.Calendar()
        wrapper.add("prodid", "-//tests//EN")
        wrapper.add("version", "2.0")
        wrapper.add_component(icalendar.Timezone.from_tzid(time_zone))
        vtimezone = wrapper.to_ical().decode()
    body = AsyncDAVClient._build_mkcalendar_body(displayname=name, timezone=vtimezone)
    response = await owner.mkcalendar(url, body.decode())
    assert response.status == 201, response.status
    return url


@pytest.fixture
async def calendar(owner: AsyncDAVClient, radicale: RadicaleServer) -> str:
    return await make_calendar(owner, radicale)


@pytest.fixture
async def adapter(radicale: RadicaleServer) -> AsyncIterator[CalDavAdapter]:
    caldav = CalDavAdapter(radicale.user_url(ALICE), ALICE, ALICE_PW, policy=LOCAL,
                           timeout_s=5.0)
    yield caldav
    await caldav.close()


def meeting(**changes: object) -> OutboundEvent:
    fields: dict[str, object] = dict(
        meeting_id="mtg_" + uuid.uuid4().hex[:12], ical_uid=f"{uuid.uuid4()}@convene.test",
        sequence=1, title="Quarterly review", description="Agenda:\nnumbers",
        location="Room 4", start=datetime(2026, 3, 10, 9, tzinfo=UTC),
        end=datetime(2026, 3, 10, 10, tzinfo=UTC), time_zone="Europe/Berlin",
        organizer_email=ALICE, organizer_name="Alice Adams",
        attendees=(Attendee("Bob@Example.com", "Bob Brown"), Attendee("carol@example.com")))
    fields.update(changes)
    return OutboundEvent(**fields)  # type: ignore[arg-type]


def vcalendar(*vevents: icalendar.Event, with_timezones: bool = False) -> str:
    wrapper = icalendar.Calendar()
    wrapper.add("prodid", "-//the user's calendar app//EN")
    wrapper.add("version", "2.0")
    for vevent in vevents:
        vevent.add("dtstamp", datetime(2026, 1, 1, tzinfo=UTC))
        wrapper.add_component(vevent)
    if with_timezones:
        wrapper.add_missing_timezones()
    return wrapper.to_ical().decode()


def vevent(uid: str, summary: str, start: date | datetime, end: date | datetime,
           **props: object) -> icalendar.Event:
    event = icalendar.Event()
    event.add("uid", uid)
    event.add("summary", summary)
    event.add("dtstart", start)
    event.add("dtend", end)
    for name, value in props.items():
        event.add(name.replace("_", "-"), value)
    return event


async def put(owner: AsyncDAVClient, url: str, ics: str, etag: str | None = None) -> None:
    headers = {"Content-Type": "text/calendar"} | ({"If-Match": etag} if etag else {})
    response = await owner.put(url, ics, headers)
    assert response.status in (201, 204), response.status


async def members(owner: AsyncDAVClient, calendar_url: str) -> dict[str, str]:
    """Every resource of the calendar: URL path -> its iCalendar text."""
    listing = await owner.propfind(calendar_url, props=["{DAV:}getetag"], depth=1)
    found = {}
    for result in listing.results:
        if result.href.endswith(".ics"):
            fetched = await owner.request(f"{calendar_url.rstrip('/')}/"
                                          f"{result.href.rsplit('/', 1)[-1]}", "GET")
            found[result.href] = fetched.raw
    return found


def by_uid(events: tuple[RemoteEvent, ...], uid: str) -> RemoteEvent:
    return next(event for event in events if event.ical_uid == uid)


def secrets_in(exc: BaseException) -> list[str]:
    """Passwords found in the messages of ``exc`` and everything chained to it."""
    texts, seen = [], set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        texts.append(f"{current} {current!r}")
        current = current.__cause__ or current.__context__
    return [pw for pw in (ALICE_PW, BOB_PW, "wrong-Secret-pw") if any(pw in t for t in texts)]


# -- connecting --------------------------------------------------------------------------

async def test_verify_lists_the_calendars_primary_first_in_href_order(
        owner: AsyncDAVClient, radicale: RadicaleServer, adapter: CalDavAdapter) -> None:
    berlin = await make_calendar(owner, radicale, name="Berlin office", time_zone="Europe/Berlin")
    plain = await make_calendar(owner, radicale, name="Plain")
    calendars = await adapter.verify()
    by_id = {calendar.calendar_id: calendar for calendar in calendars}
    assert {berlin, plain} <= set(by_id)
    assert [c.calendar_id for c in calendars] == sorted(by_id)
    assert [c.primary for c in calendars] == [True] + [False] * (len(calendars) - 1)
    assert by_id[berlin].name == "Berlin office" and by_id[berlin].time_zone == "Europe/Berlin"
    assert by_id[plain].time_zone is None
    assert {c.access for c in calendars} == {"owner"}
    assert await adapter.list_calendars() == calendars


async def test_a_wrong_password_is_access_denied_without_the_password(
        radicale: RadicaleServer, calendar: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # caldav, httpx and httpcore log requests at DEBUG
    caldav = CalDavAdapter(radicale.user_url(ALICE), ALICE, "wrong-Secret-pw", policy=LOCAL)
    with pytest.raises(AccessDenied) as caught:
        await caldav.verify()
    await caldav.close()
    assert caught.value.reason == "password_changed"
    assert secrets_in(caught.value) == []
    right = CalDavAdapter(radicale.user_url(ALICE), ALICE, ALICE_PW, policy=LOCAL)
    await right.changes(calendar, None, **WINDOW)
    await right.close()
    assert "PROPFIND" in caplog.text or "REPORT" in caplog.text  # requests were logged
    basic = base64.b64encode(f"{ALICE}:{ALICE_PW}".encode()).decode()
    assert "wrong-Secret-pw" not in caplog.text and ALICE_PW not in caplog.text
    assert basic not in caplog.text  # nor the Authorization header


@pytest.mark.parametrize("status", [200, 404])
async def test_a_server_that_is_not_caldav_is_refused(status: int) -> None:
    with plain_http_server(status) as url:
        caldav = CalDavAdapter(url, ALICE, ALICE_PW, policy=LOCAL)
        with pytest.raises(NotACalendarServer):
            await caldav.verify()
        await caldav.close()


async def test_a_loopback_url_is_refused_by_the_default_policy(radicale: RadicaleServer) -> None:
    caldav = CalDavAdapter(radicale.user_url(ALICE), ALICE, ALICE_PW, policy=EgressPolicy())
    with pytest.raises(UrlRefused) as caught:
        await caldav.verify()
    await caldav.close()
    assert secrets_in(caught.value) == []
    for url in ("file:///etc/passwd", "http:///no-host/", "http://host:port/"):
        with pytest.raises(UrlRefused):
            CalDavAdapter(url, ALICE, ALICE_PW, policy=LOCAL)


async def test_an_internal_host_the_operator_trusts_is_reached_through_the_guard(
        radicale: RadicaleServer, calendar: str) -> None:
    port = radicale.base_url.rsplit(":", 1)[1].strip("/")

    async def resolve(host: str, port: int) -> list[str]:
        assert host == "calendar.corp.internal"
        return ["127.0.0.1"]

    caldav = CalDavAdapter(f"http://calendar.corp.internal:{port}/{ALICE}/", ALICE, ALICE_PW,
                           policy=EgressPolicy(allowed_hosts=frozenset({"calendar.corp.internal"})),
                           resolver=resolve)
    calendars = await caldav.verify()
    await caldav.close()
    assert calendar.replace("127.0.0.1", "calendar.corp.internal") in {
        c.calendar_id for c in calendars}


async def test_server_errors_refusals_and_timeouts_are_temporary() -> None:
    with plain_http_server(500) as url:
        caldav = CalDavAdapter(url, ALICE, ALICE_PW, policy=LOCAL)
        with pytest.raises(ProviderUnavailable):
            await caldav.verify()
        await caldav.close()
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        caldav = CalDavAdapter(f"http://127.0.0.1:{port}/", ALICE, ALICE_PW, policy=LOCAL,
                               timeout_s=0.3)
        with pytest.raises(ProviderUnavailable, match="timed out"):
            await caldav.verify()
        await caldav.close()
    caldav = CalDavAdapter(f"http://127.0.0.1:{port}/", ALICE, ALICE_PW, policy=LOCAL)
    with pytest.raises(ProviderUnavailable):  # the port is closed now: connection refused
        await caldav.verify()
    await caldav.close()


async def test_account_email(radicale: RadicaleServer, adapter: CalDavAdapter) -> None:
    assert await adapter.account_email() == ALICE  # Radicale has no mailto: address
    bob = CalDavAdapter(radicale.user_url(BOB), BOB, BOB_PW, policy=LOCAL)
    assert await bob.account_email() == "bob@127.0.0.1"
    await bob.close()


async def test_radicale_offers_no_server_side_scheduling(
        owner: AsyncDAVClient, radicale: RadicaleServer) -> None:
    dav = (await owner.options(radicale.user_url(ALICE))).headers["DAV"]
    assert "calendar-access" in dav and "calendar-auto-schedule" not in dav


# -- writing -------------------------------------------------------------------------------

async def test_upsert_twice_leaves_one_resource_with_the_new_content(
        owner: AsyncDAVClient, calendar: str, adapter: CalDavAdapter) -> None:
    first = meeting()
    written = await adapter.upsert_event(calendar, first)
    again = await adapter.upsert_event(calendar, meeting(
        meeting_id=first.meeting_id, ical_uid=first.ical_uid, sequence=2, title="Moved review",
        start=first.start + timedelta(hours=2), end=first.end + timedelta(hours=2)))
    assert again == written
    assert written.provider_event_id == adapter.event_url(calendar, first)
    stored = await members(owner, calendar)
    assert len(stored) == 1
    vevent_ = icalendar.Calendar.from_ical(next(iter(stored.values()))).walk("VEVENT")[0]
    assert str(vevent_["SUMMARY"]) == "Moved review" and vevent_["SEQUENCE"] == 2
    assert str(vevent_["X-CONVENE-SEQUENCE"]) == "2"
    assert vevent_.start == datetime(2026, 3, 10, 12, tzinfo=BERLIN)  # 11:00Z in Berlin


async def test_what_is_written_asks_for_no_scheduling(
        owner: AsyncDAVClient, calendar: str, adapter: CalDavAdapter) -> None:
    await adapter.upsert_event(calendar, meeting())
    stored = icalendar.Calendar.from_ical(next(iter((await members(owner, calendar)).values())))
    vevent_ = stored.walk("VEVENT")[0]
    attendees = {str(a): a.params for a in vevent_["ATTENDEE"]}
    assert attendees["mailto:Bob@Example.com"]["CN"] == "Bob Brown"
    for params in attendees.values():
        assert params["PARTSTAT"] == "NEEDS-ACTION" and params["RSVP"] == "FALSE"
        assert params["ROLE"] == "REQ-PARTICIPANT" and params["SCHEDULE-AGENT"] == "CLIENT"
    assert vevent_["ORGANIZER"].params["SCHEDULE-AGENT"] == "CLIENT"
    assert [tz["TZID"] for tz in stored.walk("VTIMEZONE")] == ["Europe/Berlin"]


async def test_upsert_replaces_an_event_the_user_edited(
        owner: AsyncDAVClient, calendar: str, adapter: CalDavAdapter) -> None:
    event = meeting()
    href = (await adapter.upsert_event(calendar, event)).provider_event_id
    current = await owner.request(href, "GET")
    edited = icalendar.Calendar.from_ical(current.raw)
    edited.walk("VEVENT")[0]["SUMMARY"] = icalendar.vText("Edited in the calendar app")
    await put(owner, href, edited.to_ical().decode(), etag=current.headers["ETag"])
    await adapter.upsert_event(calendar, meeting(meeting_id=event.meeting_id,
                                                 ical_uid=event.ical_uid, sequence=2,
                                                 title="Second version"))
    stored = list((await members(owner, calendar)).values())
    assert len(stored) == 1 and "SUMMARY:Second version" in stored[0]


async def test_a_write_that_loses_a_race_is_retried(
        owner: AsyncDAVClient, calendar: str, adapter: CalDavAdapter,
        monkeypatch: pytest.MonkeyPatch) -> None:
    event = meeting()
    await adapter.upsert_event(calendar, event)
    real_etag = adapter._etag
    answers = iter(['"somebody-else-wrote-since"'])

    async def stale_then_real(href: str, calendar_id: str) -> str | None:
        return next(answers, None) or await real_etag(href, calendar_id)

    monkeypatch.setattr(adapter, "_etag", stale_then_real)
    await adapter.upsert_event(calendar, meeting(meeting_id=event.meeting_id,
                                                 ical_uid=event.ical_uid, title="After race"))
    stored = list((await members(owner, calendar)).values())
    assert len(stored) == 1 and "SUMMARY:After race" in stored[0]


async def test_delete_twice_is_fine(owner: AsyncDAVClient, calendar: str,
                                    adapter: CalDavAdapter) -> None:
    event = meeting()
    await adapter.upsert_event(calendar, event)
    await adapter.delete_event(calendar, event)
    await adapter.delete_event(calendar, event)
    assert await members(owner, calendar) == {}


async def test_a_deleted_calendar_is_gone(owner: AsyncDAVClient, radicale: RadicaleServer,
                                          adapter: CalDavAdapter) -> None:
    calendar = await make_calendar(owner, radicale)
    assert (await owner.delete(calendar)).status in (200, 204)
    with pytest.raises(CalendarGone):
        await adapter.upsert_event(calendar, meeting())
    with pytest.raises(CalendarGone):
        await adapter.changes(calendar, None, **WINDOW)


def test_resource_names_are_safe_stable_and_distinct() -> None:
    assert resource_name("mtg_123") == "mtg_123"
    odd = resource_name("a/b@c d")
    assert odd == resource_name("a/b@c d") and odd.startswith("a_b_c_d-")
    assert resource_name("a_b_c d") != resource_name("a_b_c_d")
    assert resource_name("../../etc") != "../../etc" and "/" not in resource_name("../../etc")


# -- reading -------------------------------------------------------------------------------

async def test_full_listing_then_deltas(owner: AsyncDAVClient, calendar: str,
                                        adapter: CalDavAdapter) -> None:
    ours = meeting()
    our_href = (await adapter.upsert_event(calendar, ours)).provider_event_id
    theirs_href = f"{calendar}lunch.ics"
    await put(owner, theirs_href, vcalendar(vevent("lunch-1", "Lunch",
                                                   datetime(2026, 3, 11, 11, tzinfo=UTC),
                                                   datetime(2026, 3, 11, 12, tzinfo=UTC))))
    full = await adapter.changes(calendar, None, **WINDOW)
    assert full.full and full.done and full.cursor
    assert {e.provider_event_id for e in full.events} == {our_href, theirs_href}
    assert all(not e.deleted and e.etag for e in full.events)

    nothing = await adapter.changes(calendar, full.cursor, **WINDOW)
    assert nothing.events == () and not nothing.full

    await put(owner, theirs_href, vcalendar(vevent("lunch-1", "Long lunch",
                                                   datetime(2026, 3, 11, 11, tzinfo=UTC),
                                                   datetime(2026, 3, 11, 13, tzinfo=UTC))))
    await put(owner, f"{calendar}gym.ics", vcalendar(vevent(
        "gym-1", "Gym", datetime(2026, 3, 12, 7, tzinfo=UTC), datetime(2026, 3, 12, 8, tzinfo=UTC))))
    await adapter.delete_event(calendar, ours)
    delta = await adapter.changes(calendar, full.cursor, **WINDOW)
    assert not delta.full and delta.done and delta.cursor != full.cursor
    assert {(e.provider_event_id, e.deleted) for e in delta.events} == {
        (our_href, True), (theirs_href, False), (f"{calendar}gym.ics", False)}
    lunch = by_uid(delta.events, "lunch-1")
    assert lunch.title == "Long lunch"
    assert lunch.etag != by_uid(full.events, "lunch-1").etag
    assert lunch.occurrences == (BusyInterval(datetime(2026, 3, 11, 11, tzinfo=UTC),
                                              datetime(2026, 3, 11, 13, tzinfo=UTC)),)
    assert not lunch.created_by_integration and lunch.convene_meeting_id is None


@pytest.mark.parametrize("cursor", ["http://radicale.org/ns/sync/" + "0" * 64, "garbage"])
async def test_an_invalid_cursor_expires(calendar: str, adapter: CalDavAdapter,
                                         cursor: str) -> None:
    with pytest.raises(CursorExpired):
        await adapter.changes(calendar, cursor, **WINDOW)


async def test_our_marker_and_fields_round_trip(calendar: str, adapter: CalDavAdapter) -> None:
    event = meeting()
    await adapter.upsert_event(calendar, event)
    (read,) = (await adapter.changes(calendar, None, **WINDOW)).events
    assert read.convene_meeting_id == event.meeting_id and read.created_by_integration
    assert read.ical_uid == event.ical_uid and read.title == event.title
    assert read.description == event.description
    assert (read.start, read.end) == (event.start, event.end)
    assert read.time_zone == "Europe/Berlin" and not read.all_day and read.busy
    assert read.organizer_email == ALICE
    assert read.attendee_emails == ("bob@example.com", "carol@example.com")
    assert read.occurrences == (BusyInterval(event.start, event.end),)
    assert read.rrule is None


async def test_a_weekly_series_with_an_exception_and_a_moved_occurrence(
        owner: AsyncDAVClient, calendar: str, adapter: CalDavAdapter) -> None:
    master = vevent("standup", "Standup", datetime(2026, 3, 2, 10, tzinfo=BERLIN),
                    datetime(2026, 3, 2, 11, tzinfo=BERLIN),
                    rrule={"FREQ": "WEEKLY", "COUNT": 6},
                    exdate=datetime(2026, 3, 9, 10, tzinfo=BERLIN))
    moved = vevent("standup", "Standup (moved)", datetime(2026, 3, 17, 14, tzinfo=BERLIN),
                   datetime(2026, 3, 17, 15, tzinfo=BERLIN),
                   recurrence_id=datetime(2026, 3, 16, 10, tzinfo=BERLIN))
    await put(owner, f"{calendar}standup.ics", vcalendar(master, moved, with_timezones=True))
    (series,) = (await adapter.changes(calendar, None, **WINDOW)).events
    assert series.rrule == "FREQ=WEEKLY;COUNT=6" and series.time_zone == "Europe/Berlin"
    assert series.start == datetime(2026, 3, 2, 9, tzinfo=UTC)
    # Mar 9 excluded, Mar 16 moved to the 17th, Mar 30 after the DST change (08:00Z),
    # Apr 6 outside the window.
    assert [(i.start, i.end - i.start) for i in series.occurrences] == [
        (datetime(2026, 3, 2, 9, tzinfo=UTC), timedelta(hours=1)),
        (datetime(2026, 3, 17, 13, tzinfo=UTC), timedelta(hours=1)),
        (datetime(2026, 3, 23, 9, tzinfo=UTC), timedelta(hours=1)),
        (datetime(2026, 3, 30, 8, tzinfo=UTC), timedelta(hours=1)),
    ]


async def test_free_cancelled_and_declined_events_block_no_time(
        owner: AsyncDAVClient, calendar: str, adapter: CalDavAdapter) -> None:
    start, end = datetime(2026, 3, 4, 15, tzinfo=UTC), datetime(2026, 3, 4, 16, tzinfo=UTC)
    await put(owner, f"{calendar}free.ics",
              vcalendar(vevent("free", "Focus (free)", start, end, transp="TRANSPARENT")))
    await put(owner, f"{calendar}cancelled.ics",
              vcalendar(vevent("cancelled", "Call off", start, end, status="CANCELLED")))
    declined = vevent("declined", "Their meeting", start, end,
                      organizer=icalendar.vCalAddress("mailto:carol@example.com"))
    declined.add("attendee", "mailto:ALICE@example.com", parameters={"PARTSTAT": "DECLINED"})
    await put(owner, f"{calendar}declined.ics", vcalendar(declined))
    other = vevent("other-declined", "Bob declined", start, end)
    other.add("attendee", "mailto:bob@example.com", parameters={"PARTSTAT": "DECLINED"})
    other.add("attendee", "mailto:alice@example.com", parameters={"PARTSTAT": "ACCEPTED"})
    await put(owner, f"{calendar}other.ics", vcalendar(other))
    events = (await adapter.changes(calendar, None, **WINDOW)).events
    assert not by_uid(events, "free").busy and by_uid(events, "free").occurrences == ()
    assert not by_uid(events, "cancelled").busy and by_uid(events, "cancelled").occurrences == ()
    assert by_uid(events, "declined").occurrences == ()
    assert by_uid(events, "declined").organizer_email == "carol@example.com"
    assert by_uid(events, "other-declined").occurrences == (BusyInterval(start, end),)


async def test_all_day_events_use_the_calendars_time_zone(
        owner: AsyncDAVClient, radicale: RadicaleServer, calendar: str,
        adapter: CalDavAdapter) -> None:
    berlin = await make_calendar(owner, radicale, time_zone="Europe/Berlin")
    for url in (calendar, berlin):
        await put(owner, f"{url}holiday.ics", vcalendar(
            vevent("holiday", "Holiday", date(2026, 3, 5), date(2026, 3, 6))))
    (in_utc,) = (await adapter.changes(calendar, None, **WINDOW)).events
    (in_berlin,) = (await adapter.changes(berlin, None, **WINDOW)).events
    assert in_utc.all_day and in_berlin.all_day
    assert in_utc.occurrences == (BusyInterval(datetime(2026, 3, 5, tzinfo=UTC),
                                               datetime(2026, 3, 6, tzinfo=UTC)),)
    assert in_berlin.occurrences == (BusyInterval(datetime(2026, 3, 4, 23, tzinfo=UTC),
                                                  datetime(2026, 3, 5, 23, tzinfo=UTC)),)
    assert in_berlin.start == datetime(2026, 3, 4, 23, tzinfo=UTC)


async def test_occurrences_are_those_overlapping_the_half_open_window(
        owner: AsyncDAVClient, calendar: str, adapter: CalDavAdapter) -> None:
    start, end = WINDOW["window_start"], WINDOW["window_end"]
    for uid, first, last in (("ends-at-start", start - timedelta(hours=1), start),
                             ("starts-at-end", end, end + timedelta(hours=1)),
                             ("straddles-end", end - timedelta(hours=1), end + timedelta(hours=1)),
                             ("much-later", datetime(2026, 5, 1, 9, tzinfo=UTC),
                              datetime(2026, 5, 1, 10, tzinfo=UTC))):
        await put(owner, f"{calendar}{uid}.ics", vcalendar(vevent(uid, uid, first, last)))
    events = (await adapter.changes(calendar, None, **WINDOW)).events
    assert {e.ical_uid: len(e.occurrences) for e in events} == {
        "ends-at-start": 0, "starts-at-end": 0, "straddles-end": 1, "much-later": 0}
    assert by_uid(events, "much-later").start == datetime(2026, 5, 1, 9, tzinfo=UTC)


async def test_a_task_is_not_an_event(owner: AsyncDAVClient, calendar: str,
                                      adapter: CalDavAdapter) -> None:
    todo = icalendar.Todo()
    todo.add("uid", "todo-1")
    todo.add("summary", "Buy milk")
    todo.add("dtstamp", datetime(2026, 1, 1, tzinfo=UTC))
    wrapper = icalendar.Calendar()
    wrapper.add("prodid", "-//tests//EN")
    wrapper.add("version", "2.0")
    wrapper.add_component(todo)
    await put(owner, f"{calendar}todo.ics", wrapper.to_ical().decode())
    assert (await adapter.changes(calendar, None, **WINDOW)).events == ()



# -- tasks (R33) ---------------------------------------------------------------------------

def _task(version: int = 1, *, title: str = "Call Dana back",
          completed: bool = False) -> TaskEvent:
    start = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    return TaskEvent(task_id="tsk_1", uid=task_uid("tsk_1"), version=version,
                     title=f"✓ {title}" if completed else title, start=start,
                     end=start + timedelta(minutes=30), completed=completed)


async def test_the_tasks_calendar_is_made_once_and_never_listed(
        owner: AsyncDAVClient, adapter: CalDavAdapter) -> None:
    key = uuid.uuid4().hex[:16]
    calendar_id = await adapter.ensure_task_calendar(key, "Convene tasks")
    assert calendar_id.rstrip("/").endswith(f"convene-tasks-{key}")
    # a crash before its id was remembered: asked again, the same collection
    assert await adapter.ensure_task_calendar(key, "Convene tasks") == calendar_id
    assert calendar_id not in [c.calendar_id for c in await adapter.list_calendars()]
    found = await owner.propfind(calendar_id, props=["{DAV:}displayname"], depth=0)
    assert found.status == 207


async def test_a_task_event_is_replaced_in_place_and_deleted_with_its_calendar(
        owner: AsyncDAVClient, adapter: CalDavAdapter) -> None:
    calendar_id = await adapter.ensure_task_calendar(uuid.uuid4().hex[:16], "Convene tasks")
    href = await adapter.upsert_task_event(calendar_id, _task(1))
    assert await adapter.upsert_task_event(calendar_id, _task(1)) == href  # written again
    await adapter.upsert_task_event(calendar_id, _task(2, title="Call Dana", completed=True))
    stored = await members(owner, calendar_id)
    assert len(stored) == 1
    vevent_ = icalendar.Calendar.from_ical(next(iter(stored.values()))).walk("VEVENT")[0]
    assert (str(vevent_["SUMMARY"]), str(vevent_["TRANSP"]), vevent_["SEQUENCE"]) == (
        "✓ Call Dana", "TRANSPARENT", 2)
    assert str(vevent_["UID"]) == task_uid("tsk_1")
    assert str(vevent_["X-CONVENE-TASK-ID"]) == "tsk_1"
    assert "ORGANIZER" not in vevent_ and "ATTENDEE" not in vevent_

    await adapter.delete_task_event(calendar_id, "tsk_1")
    await adapter.delete_task_event(calendar_id, "tsk_1")  # gone already: fine
    assert await members(owner, calendar_id) == {}
    await adapter.upsert_task_event(calendar_id, _task(3))
    await adapter.delete_calendar(calendar_id)
    await adapter.delete_calendar(calendar_id)  # gone already: fine
    found = await owner.propfind(calendar_id, props=["{DAV:}resourcetype"], depth=0)
    assert found.status == 404
