"""The Google adapter against the in-process Google Calendar emulator
(infra/emulators/google_calendar), through the official client libraries: OAuth, calendars,
writing meetings, sync, push channels and the mapping of Google's errors."""

from __future__ import annotations

import logging
import socket
import sys
import time
import types
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import google.auth._exponential_backoff as google_backoff
import googleapiclient.http
import pytest
from convene_calendar_sync.domain.calendar_events import BusyInterval
from convene_calendar_sync.domain.tasks import TaskEvent, task_uid
from convene_calendar_sync.providers.base import (
    AccessDenied,
    CalendarGone,
    CursorExpired,
    ProviderUnavailable,
)
from convene_calendar_sync.providers.google import (
    EventConflict,
    GoogleCalendarAdapter,
    GoogleConfig,
    authorization_url,
    exchange_code,
    google_event_id,
    new_code_verifier,
    revoke,
)
from convene_calendar_sync.providers.google_oauth import (
    CALENDAR_SCOPE,
    USERINFO_EMAIL_SCOPE,
    CalendarScopeNotGranted,
    NoRefreshToken,
    OAuthExchangeFailed,
)
from convene_calendar_sync.settings import allow_plain_http_oauth_to_loopback

from infra.emulators.google_calendar.app import EmulatorThread
from infra.emulators.google_calendar.client import EmulatorAdmin
from tests.emulators.google_support import (
    ALICE,
    BOB,
    CALENDAR_READONLY,
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    PushReceiver,
    fresh_world,
)

sys.path.insert(0, str(Path(__file__).parent))
from google_support import (  # noqa: E402
    UTC,
    WINDOW_END,
    WINDOW_START,
    consent,
    meeting,
    read_listing,
    timed,
)


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorThread]:
    with EmulatorThread() as running:
        yield running


@pytest.fixture
def admin(emulator: EmulatorThread) -> Iterator[EmulatorAdmin]:
    """A fresh world per test: the OAuth client, Alice (Europe/Rome) and Bob (UTC)."""
    client = fresh_world(emulator)
    yield client
    client.close()


@pytest.fixture
def config(emulator: EmulatorThread) -> GoogleConfig:
    config = GoogleConfig.at(emulator.base_url, client_id=CLIENT_ID,
                             client_secret=CLIENT_SECRET, redirect_uri=REDIRECT_URI)
    # what bootstrap does for a service configured with the emulator's http endpoints
    assert allow_plain_http_oauth_to_loopback(config.auth_uri, config.token_uri)
    return config


@pytest.fixture(autouse=True)
def retry_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """googleapiclient's and google-auth's back-off sleeps, recorded instead of slept."""
    sleeps: list[float] = []
    monkeypatch.setattr(googleapiclient.http, "time", types.SimpleNamespace(sleep=sleeps.append))
    monkeypatch.setattr(google_backoff, "time", types.SimpleNamespace(sleep=sleeps.append))
    return sleeps


@pytest.fixture
async def connect(config: GoogleConfig, admin: EmulatorAdmin):
    """An adapter for a user, with a refresh token granted as the consent screen would."""
    adapters: list[GoogleCalendarAdapter] = []

    def connect(email: str = ALICE, scopes: tuple[str, ...] = (CALENDAR_SCOPE,),
                **options) -> GoogleCalendarAdapter:
        refresh_token = admin.grant(email, CLIENT_ID, list(scopes))["refresh_token"]
        adapters.append(GoogleCalendarAdapter(config, refresh_token, **options))
        return adapters[-1]

    yield connect
    for adapter in adapters:
        await adapter.close()


@pytest.fixture
def alice(connect) -> GoogleCalendarAdapter:
    return connect(ALICE)


# --- OAuth -------------------------------------------------------------------------------------


async def test_consent_then_code_exchange_gives_a_working_refresh_token(config, admin):
    verifier = new_code_verifier()
    url = authorization_url(config, "state-123", verifier, login_hint=ALICE)
    query = parse_qs(urlsplit(url).query)
    assert {k: query[k][0] for k in ("access_type", "prompt", "include_granted_scopes",
                                     "code_challenge_method", "state")} == {
        "access_type": "offline", "prompt": "consent", "include_granted_scopes": "true",
        "code_challenge_method": "S256", "state": "state-123"}
    assert verifier not in url  # only its S256 challenge travels

    callback = consent(url)
    assert callback["state"] == "state-123"
    grant = await exchange_code(config, callback["code"], verifier)
    assert grant.account_email == ALICE
    assert CALENDAR_SCOPE in grant.scopes and USERINFO_EMAIL_SCOPE in grant.scopes
    assert grant.refresh_token not in repr(grant)

    adapter = GoogleCalendarAdapter(config, grant.refresh_token)
    assert (await adapter.list_calendars())[0].calendar_id == ALICE
    await adapter.close()


async def test_a_wrong_pkce_verifier_or_a_used_code_is_refused(config, admin):
    verifier = new_code_verifier()
    code = consent(authorization_url(config, "s", verifier, login_hint=ALICE))["code"]
    with pytest.raises(OAuthExchangeFailed) as caught:
        await exchange_code(config, code, new_code_verifier())
    assert (caught.value.code, caught.value.error) == ("oauth_exchange_failed", "invalid_grant")
    with pytest.raises(OAuthExchangeFailed):  # the code was spent by the failed attempt
        await exchange_code(config, code, verifier)


async def test_a_grant_without_the_calendar_scope_or_offline_access_is_refused(config, admin):
    verifier = new_code_verifier()
    url = authorization_url(config, "s", verifier)
    admin.consent(ALICE, scopes=["openid", USERINFO_EMAIL_SCOPE])  # calendar box unticked
    with pytest.raises(CalendarScopeNotGranted) as caught:
        await exchange_code(config, consent(url)["code"], verifier)
    assert caught.value.code == "oauth_calendar_scope_missing"

    online = authorization_url(config, "s", verifier, login_hint=ALICE).replace(
        "access_type=offline", "access_type=online")
    with pytest.raises(NoRefreshToken) as caught:
        await exchange_code(config, consent(online)["code"], verifier)
    assert caught.value.code == "oauth_no_refresh_token"


async def test_without_the_email_scope_the_primary_calendar_names_the_account(emulator, admin):
    config = GoogleConfig.at(emulator.base_url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                             redirect_uri=REDIRECT_URI, scopes=(CALENDAR_SCOPE,))
    verifier = new_code_verifier()
    grant = await exchange_code(
        config, consent(authorization_url(config, "s", verifier, login_hint=BOB))["code"], verifier)
    assert (grant.account_email, grant.scopes) == (BOB, (CALENDAR_SCOPE,))
    assert admin.requests("calendars.get")[-1]["status"] == 200


async def test_revoke_ends_access_and_a_second_revoke_is_only_logged(config, admin, caplog):
    refresh_token = admin.grant(ALICE, CLIENT_ID, [CALENDAR_SCOPE])["refresh_token"]
    await revoke(config, refresh_token)
    with pytest.raises(AccessDenied) as caught:
        await GoogleCalendarAdapter(config, refresh_token).list_calendars()
    assert caught.value.reason == "token_revoked"

    with caplog.at_level(logging.WARNING):
        await revoke(config, refresh_token)  # Google answers 400 invalid_token: not raised
    assert "invalid_token" in caplog.text and refresh_token not in caplog.text


# --- the account and its calendars ---------------------------------------------------------------


async def test_calendars_primary_first_with_access_levels_across_pages(connect, admin):
    team = admin.add_calendar(ALICE, "Team", "America/New_York")
    bobs = admin.add_calendar(BOB, "Bob's travel")
    admin.share_calendar(bobs["id"], ALICE, "freeBusyReader")
    shared = admin.add_calendar(BOB, "Bob's shared")
    admin.share_calendar(shared["id"], ALICE, "reader")
    adapter = connect(ALICE, page_size=2)

    calendars = await adapter.list_calendars()
    assert [(c.calendar_id, c.primary, c.access, c.time_zone) for c in calendars] == [
        (ALICE, True, "owner", "Europe/Rome"),
        (team["id"], False, "owner", "America/New_York"),
        (bobs["id"], False, "free_busy", "UTC"),
        (shared["id"], False, "reader", "UTC")]
    assert len(admin.requests("calendarList.list")) == 2  # two pages of two
    assert await adapter.account_email() == ALICE

    # A free/busy calendar lists times without details: busy time still counts.
    admin.insert_event(bobs["id"], timed("Dentist", "2030-01-09T08:00:00Z", "2030-01-09T09:00:00Z"))
    ((busy,),) = [p.events for p in await read_listing(adapter, bobs["id"])]
    assert (busy.title, busy.occurrences) == ("", (BusyInterval(
        datetime(2030, 1, 9, 8, tzinfo=UTC), datetime(2030, 1, 9, 9, tzinfo=UTC)),))


# --- writing meetings ----------------------------------------------------------------------------


def _write_calls(admin: EmulatorAdmin) -> list[tuple[str, str]]:
    return [(r["operation"], r["query"].get("sendUpdates", ["(absent)"])[0])
            for r in admin.requests() if r["operation"] in (
                "events.insert", "events.update", "events.patch", "events.delete")]


async def test_upsert_is_idempotent_and_sends_no_google_invitations(alice, admin):
    first = meeting(1)
    written = await alice.upsert_event(ALICE, first)
    assert written.provider_event_id == google_event_id(first.meeting_id)
    assert await alice.upsert_event(ALICE, first) == written  # a redelivered version
    changed = meeting(2, meeting_id=first.meeting_id, title="Pipeline review (moved)",
                      start=datetime(2030, 1, 8, 15, 0, tzinfo=UTC))
    assert (await alice.upsert_event(ALICE, changed)).provider_event_id == written.provider_event_id

    (stored,) = admin.stored_events(ALICE)
    assert stored["id"] == written.provider_event_id
    assert stored["iCalUID"] == first.ical_uid
    assert (stored["summary"], stored["sequence"], stored["status"]) == (
        "Pipeline review (moved)", 2, "confirmed")
    assert stored["start"] == {"dateTime": "2030-01-08T16:00:00+01:00", "timeZone": "Europe/Rome"}
    assert stored["extendedProperties"]["private"] == {"conveneMeetingId": first.meeting_id,
                                                       "conveneSequence": "2"}
    assert stored["guestsCanModify"] is False
    assert [(a["email"], a["responseStatus"]) for a in stored["attendees"]] == [
        (ALICE, "accepted"), ("Carol@Client.test", "needsAction")]
    assert _write_calls(admin) == [("events.insert", "none"), ("events.insert", "none"),
                                   ("events.update", "none"), ("events.insert", "none"),
                                   ("events.update", "none")]


async def test_upsert_restores_an_event_the_user_deleted_in_google(alice, admin):
    mtg = meeting(1)
    written = await alice.upsert_event(ALICE, mtg)
    admin.delete_event(ALICE, written.provider_event_id)  # Google's sequence goes up to 2

    again = await alice.upsert_event(ALICE, mtg)
    assert again.provider_event_id == written.provider_event_id
    (stored,) = admin.stored_events(ALICE)
    assert stored["status"] == "confirmed" and stored["sequence"] >= 2


async def test_a_meeting_uid_held_by_another_event_is_a_conflict(alice, admin):
    mtg = meeting(1)
    admin.insert_event(ALICE, timed("Imported invitation", "2030-01-07T09:00:00Z",
                                    "2030-01-07T09:30:00Z", iCalUID=mtg.ical_uid))
    with pytest.raises(EventConflict) as caught:
        await alice.upsert_event(ALICE, mtg)
    assert caught.value.code == "event_conflict"
    assert [e["summary"] for e in admin.stored_events(ALICE)] == ["Imported invitation"]


async def test_a_google_meet_link_is_made_once_and_kept_across_versions(alice, admin):
    first = meeting(1, want_google_meet=True)
    written = await alice.upsert_event(ALICE, first)
    assert written.join_url and written.join_url.startswith("https://meet.google.com/")
    insert = admin.requests("events.insert")[-1]["query"]
    assert insert["conferenceDataVersion"] == ["1"]

    later = meeting(2, meeting_id=first.meeting_id, title="New title", want_google_meet=True)
    assert (await alice.upsert_event(ALICE, later)).join_url == written.join_url
    without = meeting(3, meeting_id=first.meeting_id, want_google_meet=False)
    assert (await alice.upsert_event(ALICE, without)).join_url is None
    assert "hangoutLink" not in admin.stored_events(ALICE)[0]


async def test_delete_twice_and_delete_of_an_unknown_meeting_are_fine(alice, admin):
    mtg = meeting(1)
    await alice.upsert_event(ALICE, mtg)
    await alice.delete_event(ALICE, mtg)
    await alice.delete_event(ALICE, mtg)  # Google: 410 deleted
    await alice.delete_event(ALICE, meeting(1))  # never written: 404
    assert [e["status"] for e in admin.stored_events(ALICE)] == ["cancelled"]
    assert [c for c in _write_calls(admin) if c[0] == "events.delete"] == [
        ("events.delete", "none")] * 3


# --- reading changes -----------------------------------------------------------------------------


async def test_full_listing_pages_resume_then_incremental_changes(connect, admin):
    adapter = connect(ALICE, page_size=2)
    typed = [admin.insert_event(ALICE, timed(f"Call {n}", f"2030-01-0{n + 1}T10:00:00Z",
                                             f"2030-01-0{n + 1}T11:00:00Z")) for n in range(5)]
    admin.insert_event(ALICE, timed("Long gone", "2029-06-01T10:00:00Z", "2029-06-01T11:00:00Z"))

    pages = await read_listing(adapter, ALICE)
    assert [(len(p.events), p.full, p.done) for p in pages] == [
        (2, True, False), (2, True, False), (1, True, True)]
    assert [e.title for p in pages for e in p.events] == [f"Call {n}" for n in range(5)]
    first = pages[0].events[0]
    assert (first.start, first.end, first.time_zone, first.busy) == (
        datetime(2030, 1, 1, 10, tzinfo=UTC), datetime(2030, 1, 1, 11, tzinfo=UTC),
        "Europe/Rome", True)
    assert first.occurrences == (BusyInterval(first.start, first.end),)
    # A crash after page one: its cursor again gives page two again.
    again = await adapter.changes(ALICE, pages[0].cursor, window_start=WINDOW_START,
                                  window_end=WINDOW_END)
    assert again.events == pages[1].events and again.full

    admin.patch_event(ALICE, typed[0]["id"], {"summary": "Call 0 (renamed)"})
    admin.delete_event(ALICE, typed[1]["id"])
    added = admin.insert_event(ALICE, timed("New", "2030-02-01T08:00:00Z", "2030-02-01T09:00:00Z"))
    changes = await read_listing(adapter, ALICE, pages[-1].cursor)
    assert [(len(p.events), p.full, p.done) for p in changes] == [(2, False, False),
                                                                   (1, False, True)]
    assert [(e.provider_event_id, e.deleted, e.title) for p in changes for e in p.events] == [
        (typed[0]["id"], False, "Call 0 (renamed)"), (typed[1]["id"], True, ""),
        (added["id"], False, "New")]
    assert (await adapter.changes(ALICE, changes[-1].cursor, window_start=WINDOW_START,
                                  window_end=WINDOW_END)).events == ()


async def test_an_expired_sync_token_is_cursor_expired(alice, admin):
    (page,) = await read_listing(alice, ALICE)
    admin.add_fault("events.list", "fullSyncRequired")
    with pytest.raises(CursorExpired):
        await alice.changes(ALICE, page.cursor, window_start=WINDOW_START, window_end=WINDOW_END)
    admin.invalidate_sync_tokens(ALICE)
    with pytest.raises(CursorExpired):
        await alice.changes(ALICE, page.cursor, window_start=WINDOW_START, window_end=WINDOW_END)
    with pytest.raises(CursorExpired):
        await alice.changes(ALICE, "not a cursor", window_start=WINDOW_START,
                            window_end=WINDOW_END)


async def test_how_events_are_read(alice, admin):
    mtg = meeting(1)
    ours = await alice.upsert_event(ALICE, mtg)
    admin.insert_event(ALICE, timed("Declined", "2030-01-10T09:00:00Z", "2030-01-10T10:00:00Z",
                                    attendees=[{"email": ALICE, "responseStatus": "declined"},
                                               {"email": "Dan@Client.test"}]))
    admin.insert_event(ALICE, timed("Focus (free)", "2030-01-10T11:00:00Z",
                                    "2030-01-10T12:00:00Z", transparency="transparent"))
    admin.insert_event(ALICE, {"summary": "Holiday", "start": {"date": "2030-01-11"},
                               "end": {"date": "2030-01-12"}})
    admin.insert_event(ALICE, timed("From another CRM", "2030-01-12T09:00:00Z",
                                    "2030-01-12T10:00:00Z",
                                    extendedProperties={"private": {"crmId": "42"}}))
    admin.insert_event(ALICE, timed("Straddles the window", "2030-02-28T23:00:00Z",
                                    "2030-03-01T02:00:00Z"))
    (page,) = await read_listing(alice, ALICE)
    events = {e.title: e for e in page.events}

    mine = events["Pipeline review"]
    assert (mine.provider_event_id, mine.convene_meeting_id, mine.created_by_integration) == (
        ours.provider_event_id, mtg.meeting_id, True)
    assert mine.attendee_emails == (ALICE, "carol@client.test")
    assert mine.organizer_email == ALICE
    declined = events["Declined"]
    assert declined.busy and declined.occurrences == ()
    assert declined.attendee_emails == (ALICE, "dan@client.test")
    free = events["Focus (free)"]
    assert (free.busy, free.occurrences) == (False, ())
    holiday = events["Holiday"]  # midnight to midnight in Alice's calendar zone (Rome)
    assert (holiday.all_day, holiday.start, holiday.end) == (
        True, datetime(2030, 1, 10, 23, tzinfo=UTC), datetime(2030, 1, 11, 23, tzinfo=UTC))
    assert holiday.occurrences == (BusyInterval(holiday.start, holiday.end),)
    other = events["From another CRM"]
    assert (other.convene_meeting_id, other.created_by_integration) == (None, True)
    assert not declined.created_by_integration
    straddling = events["Straddles the window"]
    assert straddling.occurrences == (BusyInterval(datetime(2030, 2, 28, 23, tzinfo=UTC),
                                                   WINDOW_END),)


async def test_a_series_with_exceptions_is_read_as_instances(alice, admin):
    series = admin.insert_event(ALICE, {
        "summary": "Weekly sync", "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=4"],
        "start": {"dateTime": "2030-01-07T09:00:00", "timeZone": "Europe/Rome"},
        "end": {"dateTime": "2030-01-07T09:30:00", "timeZone": "Europe/Rome"}})
    moved_id, dropped_id = f"{series['id']}_20300114T080000Z", f"{series['id']}_20300121T080000Z"
    admin.patch_event(ALICE, moved_id, {"start": {"dateTime": "2030-01-15T09:00:00+01:00"},
                                        "end": {"dateTime": "2030-01-15T10:00:00+01:00"}})
    admin.delete_event(ALICE, dropped_id)

    (page,) = await read_listing(alice, ALICE)
    by_id = {e.provider_event_id: e for e in page.events}
    assert set(by_id) == {f"{series['id']}_20300107T080000Z", moved_id, dropped_id,
                          f"{series['id']}_20300128T080000Z"}
    assert all(e.series_event_id == series["id"] for e in page.events)
    moved = by_id[moved_id]
    assert (moved.original_start, moved.start, moved.occurrences) == (
        datetime(2030, 1, 14, 8, tzinfo=UTC), datetime(2030, 1, 15, 8, tzinfo=UTC),
        (BusyInterval(datetime(2030, 1, 15, 8, tzinfo=UTC), datetime(2030, 1, 15, 9, tzinfo=UTC)),))
    dropped = by_id[dropped_id]
    assert (dropped.deleted, dropped.original_start, dropped.occurrences) == (
        True, datetime(2030, 1, 21, 8, tzinfo=UTC), ())

    admin.delete_event(ALICE, series["id"])  # the whole series: every instance goes
    (changes,) = await read_listing(alice, ALICE, page.cursor)
    assert {e.provider_event_id for e in changes.events if e.deleted} == {
        f"{series['id']}_20300107T080000Z", moved_id, f"{series['id']}_20300128T080000Z"}


# --- errors --------------------------------------------------------------------------------------


async def test_a_revoked_grant_is_access_denied_token_revoked(alice, admin):
    await alice.list_calendars()
    admin.revoke_user(ALICE)
    for call in (alice.list_calendars(), alice.upsert_event(ALICE, meeting(1)),
                 alice.changes(ALICE, None, window_start=WINDOW_START, window_end=WINDOW_END)):
        with pytest.raises(AccessDenied) as caught:
            await call
        assert caught.value.reason == "token_revoked"


async def test_an_expired_access_token_is_refreshed_without_the_caller_noticing(alice, admin):
    await alice.list_calendars()
    admin.expire_access_tokens(ALICE)
    assert len(await alice.list_calendars()) == 1
    assert [r["status"] for r in admin.requests("calendarList.list")] == [200, 401, 200]


async def test_rate_limits_are_retried_then_unavailable(alice, admin, retry_sleeps):
    admin.add_fault("events.list", "rateLimitExceeded")
    (page,) = await read_listing(alice, ALICE)
    assert page.done and len(retry_sleeps) == 1

    admin.add_fault("events.insert", "429", count=3)  # num_retries=2: three attempts
    with pytest.raises(ProviderUnavailable):
        await alice.upsert_event(ALICE, meeting(1))
    admin.add_fault("calendarList.list", "503", count=3)
    with pytest.raises(ProviderUnavailable):
        await alice.list_calendars()
    assert len(retry_sleeps) == 5
    assert admin.faults() == []


async def test_refusals_are_permission_denied_and_a_removed_calendar_is_gone(connect, admin):
    reader = connect(ALICE, scopes=(CALENDAR_READONLY,))
    with pytest.raises(AccessDenied) as caught:  # 403 insufficientPermissions
        await reader.upsert_event(ALICE, meeting(1))
    assert caught.value.reason == "permission_denied"

    alice = connect(ALICE)
    admin.add_fault("events.delete", "custom", status=403, reason="forbiddenForNonOrganizer",
                    message="Forbidden")
    with pytest.raises(AccessDenied) as caught:
        await alice.delete_event(ALICE, meeting(1))
    assert caught.value.reason == "permission_denied"

    team = admin.add_calendar(ALICE, "Team")
    admin.remove_calendar(team["id"])
    with pytest.raises(CalendarGone):
        await alice.changes(team["id"], None, window_start=WINDOW_START, window_end=WINDOW_END)


async def test_an_unreachable_google_is_unavailable(config, admin):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    nowhere = GoogleConfig.at(f"http://127.0.0.1:{port}", client_id=CLIENT_ID,
                              client_secret=CLIENT_SECRET, redirect_uri=REDIRECT_URI)
    with pytest.raises(ProviderUnavailable):
        await GoogleCalendarAdapter(nowhere, "1//some-refresh-token").list_calendars()


# --- push channels -------------------------------------------------------------------------------


async def test_watch_then_stop_a_channel(alice, admin):
    receiver = PushReceiver()
    try:
        before = time.time()
        resource_id, expiration = await alice.watch(ALICE, "chan-1", receiver.url, "secret", 3600)
        assert abs(expiration - datetime.fromtimestamp(before, UTC) - timedelta(hours=1)) < \
            timedelta(seconds=10)
        (sync,) = receiver.wait_for(1)
        assert (sync["x-goog-resource-state"], sync["x-goog-resource-id"],
                sync["x-goog-channel-token"]) == ("sync", resource_id, "secret")

        await alice.upsert_event(ALICE, meeting(1))
        assert receiver.wait_for(2)[1]["x-goog-resource-state"] == "exists"

        await alice.stop_channel("chan-1", resource_id)
        await alice.stop_channel("chan-1", resource_id)  # stopped already: fine
        (channel,) = admin.channels()
        assert channel["stopped"]
    finally:
        receiver.close()


# --- tasks (R33) ---------------------------------------------------------------------------------


def _task(version: int = 1, *, title: str = "Call Dana back", completed: bool = False
          ) -> TaskEvent:
    start = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
    return TaskEvent(task_id="tsk_1", uid=task_uid("tsk_1"), version=version,
                     title=f"✓ {title}" if completed else title, start=start,
                     end=start + timedelta(minutes=30), completed=completed)


async def test_the_tasks_calendar_is_made_once_found_again_and_never_listed(alice, admin):
    calendar_id = await alice.ensure_task_calendar("k1", "Convene tasks")
    # a crash before its id was remembered: asked again, the same calendar, not a second
    assert await alice.ensure_task_calendar("k1", "Convene tasks") == calendar_id
    assert len(admin.requests("calendars.insert")) == 1
    assert calendar_id != ALICE and calendar_id in admin.calendar_ids(ALICE)
    assert admin.calendar(calendar_id)["summary"] == "Convene tasks"
    assert calendar_id not in [c.calendar_id for c in await alice.list_calendars()]
    assert await alice.ensure_task_calendar("k2", "Convene tasks") != calendar_id  # another key


async def test_a_task_event_is_written_in_place_and_deleted_with_its_calendar(alice, admin):
    calendar_id = await alice.ensure_task_calendar("k1", "Convene tasks")
    event_id = await alice.upsert_task_event(calendar_id, _task(1))
    assert await alice.upsert_task_event(calendar_id, _task(1)) == event_id  # written again
    await alice.upsert_task_event(calendar_id, _task(2, title="Call Dana", completed=True))
    (stored,) = admin.stored_events(calendar_id)
    assert stored["id"] == event_id
    assert (stored["summary"], stored["transparency"], stored["status"]) == (
        "✓ Call Dana", "transparent", "confirmed")
    assert stored["start"]["dateTime"].startswith("2030-01-07T09:00:00")
    assert stored["extendedProperties"]["private"]["conveneTaskId"] == "tsk_1"
    assert admin.stored_events(ALICE) == []  # never the primary
    assert {r["query"].get("sendUpdates", ["(absent)"])[0] for r in admin.requests()
            if r["operation"].startswith("events.")} == {"none"}

    await alice.delete_task_event(calendar_id, "tsk_1")
    await alice.delete_task_event(calendar_id, "tsk_1")  # gone already: fine
    assert [e["status"] for e in admin.stored_events(calendar_id)] == ["cancelled"]
    assert await alice.upsert_task_event(calendar_id, _task(3)) == event_id  # restored

    await alice.delete_calendar(calendar_id)
    await alice.delete_calendar(calendar_id)  # gone already: fine
    assert calendar_id not in admin.calendar_ids(ALICE)
    with pytest.raises(CalendarGone):
        await alice.upsert_task_event(calendar_id, _task(4))
