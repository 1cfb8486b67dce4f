"""Calendar v3 semantics of the Google emulator through google-api-python-client: calendar
list, insert/get/patch/update/delete, sync tokens and paging, recurring series, free/busy and
injected faults."""

from __future__ import annotations

import types

import googleapiclient.http
import pytest
from googleapiclient.errors import HttpError

from tests.emulators.google_support import ALICE, BOB


def event(summary: str, start: str, end: str, **fields) -> dict:
    return {"summary": summary, "start": {"dateTime": start}, "end": {"dateTime": end}, **fields}


def reason(error: HttpError) -> str:
    return error.error_details[0]["reason"]


def raises(call, status: int, expected_reason: str) -> HttpError:
    with pytest.raises(HttpError) as caught:
        call.execute()
    assert (caught.value.status_code, reason(caught.value)) == (status, expected_reason), caught.value
    return caught.value


def full_sync(service, calendar_id: str = "primary", **params) -> tuple[list[dict], str, int]:
    """What calendar-sync does: page until nextSyncToken. Returns items, token, pages."""
    items, page_token, pages = [], None, 0
    while True:
        page = service.events().list(calendarId=calendar_id, pageToken=page_token,
                                     **params).execute()
        pages += 1
        items += page["items"]
        assert ("nextPageToken" in page) != ("nextSyncToken" in page)
        if "nextSyncToken" in page:
            return items, page["nextSyncToken"], pages
        page_token = page["nextPageToken"]


def test_calendar_list_shows_own_and_shared_calendars(alice, admin):
    work = admin.add_calendar(ALICE, "Team", "Europe/Rome")
    shared = admin.add_calendar(BOB, "Bob's on-call")
    admin.share_calendar(shared["id"], ALICE, "freeBusyReader")

    entries = alice.calendarList().list().execute()["items"]
    assert [(e["id"], e["accessRole"], e.get("primary", False)) for e in entries] == [
        (ALICE, "owner", True), (work["id"], "owner", False), (shared["id"], "freeBusyReader", False)]
    assert entries[0]["timeZone"] == "Europe/Rome"
    readable = alice.calendarList().list(minAccessRole="reader").execute()["items"]
    assert [e["id"] for e in readable] == [ALICE, work["id"]]
    first = alice.calendarList().list(maxResults=2).execute()
    rest = alice.calendarList().list(maxResults=2, pageToken=first["nextPageToken"]).execute()
    assert len(first["items"]) == 2 and len(rest["items"]) == 1 and "nextPageToken" not in rest
    assert alice.calendars().get(calendarId="primary").execute()["id"] == ALICE

    # Details stay hidden from a free/busy reader; writing needs writer access.
    admin.insert_event(shared["id"], event("Secret", "2030-01-07T10:00:00Z", "2030-01-07T11:00:00Z",
                                           description="private"))
    listed = alice.events().list(calendarId=shared["id"]).execute()
    assert listed["accessRole"] == "freeBusyReader"
    assert [set(i) - {"kind", "etag", "id", "status", "start", "end"} for i in listed["items"]] == [set()]
    raises(alice.events().insert(calendarId=shared["id"], body=event(
        "x", "2030-01-07T10:00:00Z", "2030-01-07T11:00:00Z")), 403, "requiredAccessLevel")
    raises(alice.events().list(calendarId="nobody@group.calendar.google.com"), 404, "notFound")


def test_insert_with_client_id_uid_marker_and_meet_link(alice, admin):
    body = event("Demo with Carl", "2030-01-07T10:00:00+01:00", "2030-01-07T11:00:00+01:00",
                 id="mtg0123456789abcdefv", iCalUID="meeting-42@convene.test",
                 extendedProperties={"private": {"convene": "mtg_42"}},
                 attendees=[{"email": "carl@client.example"}],
                 conferenceData={"createRequest": {
                     "requestId": "mtg_42-v1", "conferenceSolutionKey": {"type": "hangoutsMeet"}}})
    created = alice.events().insert(calendarId="primary", body=body, sendUpdates="none",
                                    conferenceDataVersion=1).execute()
    assert created["id"] == "mtg0123456789abcdefv"
    assert created["iCalUID"] == "meeting-42@convene.test"
    assert created["extendedProperties"]["private"] == {"convene": "mtg_42"}
    assert created["status"] == "confirmed" and created["sequence"] == 0
    assert created["organizer"] == {"email": ALICE, "self": True}
    assert created["attendees"] == [{"email": "carl@client.example", "responseStatus": "needsAction"}]
    conference = created["conferenceData"]
    assert conference["createRequest"]["status"]["statusCode"] == "success"
    assert conference["conferenceSolution"]["key"]["type"] == "hangoutsMeet"
    video = [e for e in conference["entryPoints"] if e["entryPointType"] == "video"]
    assert created["hangoutLink"] == video[0]["uri"] == \
        f"https://meet.google.com/{conference['conferenceId']}"
    assert len(conference["conferenceId"]) == 12  # aaa-bbbb-ccc
    assert alice.events().get(calendarId="primary", eventId=created["id"]).execute() == created

    # The same id again is a conflict (a redelivered insert never makes a second event).
    raises(alice.events().insert(calendarId="primary", body=body), 409, "duplicate")
    raises(alice.events().insert(calendarId="primary", body=dict(body, id="mtg0123456789abcdef0")),
           409, "duplicate")  # the same iCalUID
    raises(alice.events().insert(calendarId="primary", body=dict(body, id="Not_Base32Hex")),
           400, "invalid")
    raises(alice.events().insert(calendarId="primary", body=dict(body, id="abcd")), 400, "invalid")
    raises(alice.events().insert(calendarId="primary", body={"summary": "no times"}), 400,
           "required")
    raises(alice.events().insert(calendarId="primary", body=event(
        "backwards", "2030-01-07T11:00:00Z", "2030-01-07T10:00:00Z")), 400, "timeRangeEmpty")

    # Without conferenceDataVersion=1 the conference request is ignored.
    plain = alice.events().insert(calendarId="primary", body=dict(
        body, id="plain00001", iCalUID="plain@convene.test")).execute()
    assert "conferenceData" not in plain and "hangoutLink" not in plain

    marked = alice.events().list(calendarId="primary",
                                 privateExtendedProperty="convene=mtg_42").execute()["items"]
    assert sorted(e["id"] for e in marked) == ["mtg0123456789abcdefv", "plain00001"]


def test_patch_and_update_follow_etag_and_sequence(alice, admin):
    created = alice.events().insert(calendarId="primary", body=event(
        "Draft", "2030-01-07T10:00:00Z", "2030-01-07T11:00:00Z",
        extendedProperties={"private": {"convene": "mtg_1", "version": "1"}})).execute()
    renamed = alice.events().patch(calendarId="primary", eventId=created["id"], body={
        "summary": "Final", "extendedProperties": {"private": {"version": "2"}}}).execute()
    assert renamed["etag"] != created["etag"]
    assert renamed["sequence"] == 0  # a title is not a new revision
    assert renamed["extendedProperties"]["private"] == {"convene": "mtg_1", "version": "2"}
    assert renamed["start"] == created["start"]

    moved = alice.events().patch(calendarId="primary", eventId=created["id"], body={
        "start": {"dateTime": "2030-01-08T10:00:00Z"},
        "end": {"dateTime": "2030-01-08T11:00:00Z"}}).execute()
    assert moved["sequence"] == 1

    stale = alice.events().update(calendarId="primary", eventId=created["id"],
                                  body=dict(moved, summary="Lost update"))
    stale.headers["If-Match"] = renamed["etag"]
    raises(stale, 412, "conditionNotMet")
    raises(alice.events().update(calendarId="primary", eventId=created["id"],
                                 body=dict(moved, sequence=0)), 400, "invalid")

    fresh = alice.events().update(calendarId="primary", eventId=created["id"],
                                  body={"summary": "Replaced", "start": moved["start"],
                                        "end": moved["end"], "sequence": moved["sequence"]})
    fresh.headers["If-Match"] = moved["etag"]
    replaced = fresh.execute()
    assert replaced["summary"] == "Replaced"
    assert "extendedProperties" not in replaced  # update replaces the whole event
    raises(alice.events().patch(calendarId="primary", eventId="missing00", body={}), 404,
           "notFound")


def test_delete_leaves_a_cancelled_event_and_a_second_delete_is_410(alice, admin):
    created = alice.events().insert(calendarId="primary", body=event(
        "Doomed", "2030-01-07T10:00:00Z", "2030-01-07T11:00:00Z")).execute()
    assert alice.events().delete(calendarId="primary", eventId=created["id"],
                                 sendUpdates="none").execute() == ""
    got = alice.events().get(calendarId="primary", eventId=created["id"]).execute()
    assert got["status"] == "cancelled" and got["summary"] == "Doomed"
    raises(alice.events().delete(calendarId="primary", eventId=created["id"]), 410, "deleted")

    assert alice.events().list(calendarId="primary").execute()["items"] == []
    shown = alice.events().list(calendarId="primary", showDeleted=True).execute()["items"]
    assert [(e["id"], e["status"]) for e in shown] == [(created["id"], "cancelled")]
    assert "summary" not in shown[0]  # deleted events are only guaranteed to have an id


def test_full_then_incremental_sync_loop(alice, admin):
    ids = [alice.events().insert(calendarId="primary", body=event(
        f"Event {n}", f"2030-01-0{n}T10:00:00Z", f"2030-01-0{n}T11:00:00Z")).execute()["id"]
        for n in range(1, 6)]
    items, token, pages = full_sync(alice, maxResults=2, showDeleted=True, singleEvents=True)
    assert pages == 3 and sorted(e["id"] for e in items) == sorted(ids)

    nothing = alice.events().list(calendarId="primary", syncToken=token, singleEvents=True,
                                  showDeleted=True).execute()
    assert nothing["items"] == [] and "nextSyncToken" in nothing

    added = admin.insert_event(ALICE, event("Typed in Google Calendar", "2030-02-01T09:00:00Z",
                                            "2030-02-01T10:00:00Z"))
    alice.events().patch(calendarId="primary", eventId=ids[0], body={"summary": "Renamed"}).execute()
    alice.events().delete(calendarId="primary", eventId=ids[1]).execute()
    changes, next_token, _ = full_sync(alice, syncToken=token, singleEvents=True, maxResults=2)
    assert {(e["id"], e["status"], e.get("summary")) for e in changes} == {
        (added["id"], "confirmed", "Typed in Google Calendar"),
        (ids[0], "confirmed", "Renamed"),
        (ids[1], "cancelled", None)}

    settled = alice.events().list(calendarId="primary", syncToken=next_token).execute()
    assert settled["items"] == [] and "nextSyncToken" in settled

    # A change made while a client pages through a listing is in its next incremental sync.
    listing = alice.events().list(calendarId="primary", maxResults=2).execute()
    late = admin.insert_event(ALICE, event("Late", "2030-03-01T09:00:00Z", "2030-03-01T10:00:00Z"))
    page_token, sync_token = listing["nextPageToken"], None
    while sync_token is None:
        page = alice.events().list(calendarId="primary", maxResults=2, pageToken=page_token).execute()
        assert late["id"] not in [e["id"] for e in page["items"]]
        page_token, sync_token = page.get("nextPageToken"), page.get("nextSyncToken")
    caught_up = alice.events().list(calendarId="primary", syncToken=sync_token).execute()
    assert [e["id"] for e in caught_up["items"]] == [late["id"]]


def test_a_410_forces_a_full_resync(alice, admin):
    alice.events().insert(calendarId="primary", body=event(
        "Kept", "2030-01-07T10:00:00Z", "2030-01-07T11:00:00Z")).execute()
    _, token, _ = full_sync(alice)

    admin.invalidate_sync_tokens(ALICE)
    error = raises(alice.events().list(calendarId="primary", syncToken=token), 410,
                   "fullSyncRequired")
    assert error.error_details[0]["location"] == "syncToken"
    items, fresh, _ = full_sync(alice)  # the client clears its copy and lists everything again
    assert [e["summary"] for e in items] == ["Kept"]
    assert alice.events().list(calendarId="primary", syncToken=fresh).execute()["items"] == []

    admin.add_fault("events.list", "fullSyncRequired")  # on demand, for the next call only
    raises(alice.events().list(calendarId="primary", syncToken=fresh), 410, "fullSyncRequired")
    alice.events().list(calendarId="primary", syncToken=fresh).execute()
    raises(alice.events().list(calendarId="primary", syncToken="CPnot-a-token"), 410,
           "fullSyncRequired")
    raises(alice.events().list(calendarId="primary", syncToken=fresh,
                               timeMin="2030-01-01T00:00:00Z"), 400, "invalid")


def test_empty_pages_with_a_next_page_token_are_followed(alice, admin):
    alice.events().insert(calendarId="primary", body=event(
        "Only", "2030-01-07T10:00:00Z", "2030-01-07T11:00:00Z")).execute()
    admin.add_fault("events.list", "emptyPage")
    items, _, pages = full_sync(alice)
    assert pages == 2 and [e["summary"] for e in items] == ["Only"]


def test_time_bounds_are_exclusive_on_end_and_start(alice, admin):
    for name, start, end in (("before", "09:00", "10:00"), ("inside", "10:30", "11:00"),
                             ("after", "12:00", "13:00"), ("spanning", "09:30", "10:30")):
        alice.events().insert(calendarId="primary", body=event(
            name, f"2030-01-07T{start}:00Z", f"2030-01-07T{end}:00Z")).execute()
    window = alice.events().list(calendarId="primary", singleEvents=True, orderBy="startTime",
                                 timeMin="2030-01-07T10:00:00Z",
                                 timeMax="2030-01-07T12:00:00Z").execute()
    assert [e["summary"] for e in window["items"]] == ["spanning", "inside"]
    raises(alice.events().list(calendarId="primary", timeMin="2030-01-07T12:00:00Z",
                               timeMax="2030-01-07T10:00:00Z"), 400, "timeRangeEmpty")
    raises(alice.events().list(calendarId="primary", orderBy="startTime"), 400, "invalid")


def test_recurring_series_with_exceptions(alice, admin):
    series = alice.events().insert(calendarId="primary", body={
        "summary": "Weekly", "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=4"],
        "start": {"dateTime": "2030-03-25T10:00:00", "timeZone": "Europe/Rome"},
        "end": {"dateTime": "2030-03-25T11:00:00", "timeZone": "Europe/Rome"}}).execute()
    instances = alice.events().instances(calendarId="primary", eventId=series["id"]).execute()
    ids = [i["id"] for i in instances["items"]]
    # Daylight saving starts on 2030-03-31 in Rome: 10:00 local stays 10:00 local.
    assert ids == [f"{series['id']}_{day}" for day in
                   ("20300325T090000Z", "20300401T080000Z", "20300408T080000Z", "20300415T080000Z")]
    moved = alice.events().patch(calendarId="primary", eventId=ids[1], body={
        "start": {"dateTime": "2030-04-02T15:00:00+02:00"},
        "end": {"dateTime": "2030-04-02T16:00:00+02:00"}}).execute()
    assert moved["recurringEventId"] == series["id"]
    assert moved["originalStartTime"] == {"dateTime": "2030-04-01T10:00:00+02:00",
                                          "timeZone": "Europe/Rome"}
    alice.events().delete(calendarId="primary", eventId=ids[2]).execute()

    masters = alice.events().list(calendarId="primary", singleEvents=False).execute()["items"]
    assert [(e["id"], e["status"]) for e in masters] == [
        (series["id"], "confirmed"), (ids[1], "confirmed"), (ids[2], "cancelled")]
    assert masters[0]["recurrence"] == ["RRULE:FREQ=WEEKLY;COUNT=4"]
    assert masters[2] == {"kind": "calendar#event", "etag": masters[2]["etag"], "id": ids[2],
                          "status": "cancelled", "recurringEventId": series["id"],
                          "originalStartTime": {"dateTime": "2030-04-08T10:00:00+02:00",
                                                "timeZone": "Europe/Rome"}}

    singles = alice.events().list(calendarId="primary", singleEvents=True,
                                  orderBy="startTime").execute()["items"]
    assert [(e["id"], e["start"]["dateTime"]) for e in singles] == [
        (ids[0], "2030-03-25T10:00:00+01:00"), (ids[1], "2030-04-02T15:00:00+02:00"),
        (ids[3], "2030-04-15T10:00:00+02:00")]
    assert all(e["recurringEventId"] == series["id"] for e in singles)
    with_deleted = alice.events().list(calendarId="primary", singleEvents=True,
                                       showDeleted=True).execute()["items"]
    assert {e["id"] for e in with_deleted} == set(ids)
    window = alice.events().list(calendarId="primary", singleEvents=True,
                                 timeMin="2030-04-10T00:00:00Z").execute()["items"]
    assert [e["id"] for e in window] == [ids[3]]

    _, token, _ = full_sync(alice, singleEvents=True)
    alice.events().patch(calendarId="primary", eventId=ids[3], body={"summary": "Last"}).execute()
    changes = alice.events().list(calendarId="primary", syncToken=token,
                                  singleEvents=True).execute()["items"]
    assert [(e["id"], e["summary"]) for e in changes] == [(ids[3], "Last")]
    got = alice.events().get(calendarId="primary", eventId=ids[0]).execute()
    assert got["start"]["dateTime"] == "2030-03-25T10:00:00+01:00"
    raises(alice.events().get(calendarId="primary", eventId=f"{series['id']}_20300326T090000Z"),
           404, "notFound")


def test_freebusy_merges_busy_time_of_each_calendar(alice, bob, admin):
    for body in (
        event("a", "2030-01-07T09:00:00Z", "2030-01-07T10:00:00Z"),
        event("b overlaps a", "2030-01-07T09:30:00Z", "2030-01-07T10:30:00Z"),
        event("free", "2030-01-07T12:00:00Z", "2030-01-07T13:00:00Z", transparency="transparent"),
        event("declined", "2030-01-07T14:00:00Z", "2030-01-07T15:00:00Z",
              attendees=[{"email": ALICE, "responseStatus": "declined"}]),
        {"summary": "daily", "recurrence": ["RRULE:FREQ=DAILY;COUNT=3"],
         "start": {"dateTime": "2030-01-06T16:00:00", "timeZone": "UTC"},
         "end": {"dateTime": "2030-01-06T17:00:00", "timeZone": "UTC"}},
    ):
        alice.events().insert(calendarId="primary", body=body).execute()
    bob.events().insert(calendarId="primary", body=event(
        "bob", "2030-01-07T07:00:00Z", "2030-01-07T08:00:00Z")).execute()

    answer = alice.freebusy().query(body={
        "timeMin": "2030-01-07T08:00:00Z", "timeMax": "2030-01-08T00:00:00Z",
        "items": [{"id": "primary"}, {"id": BOB}, {"id": "ghost@example.test"}]}).execute()
    assert answer["kind"] == "calendar#freeBusy"
    assert answer["calendars"]["primary"]["busy"] == [
        {"start": "2030-01-07T09:00:00Z", "end": "2030-01-07T10:30:00Z"},
        {"start": "2030-01-07T16:00:00Z", "end": "2030-01-07T17:00:00Z"}]
    assert answer["calendars"][BOB]["busy"] == []  # 07:00-08:00 ends where the window starts
    assert answer["calendars"]["ghost@example.test"]["errors"] == [
        {"domain": "global", "reason": "notFound"}]


@pytest.mark.parametrize(("kind", "status", "expected"), [
    ("rateLimitExceeded", 403, "rateLimitExceeded"),
    ("userRateLimitExceeded", 403, "userRateLimitExceeded"),
    ("429", 429, "rateLimitExceeded"),
    ("500", 500, "backendError"),
    ("503", 503, "backendError"),
])
def test_faults_surface_as_http_errors_and_are_retried(alice, admin, monkeypatch, kind, status,
                                                       expected):
    sleeps: list[float] = []
    monkeypatch.setattr(googleapiclient.http, "time", types.SimpleNamespace(sleep=sleeps.append))
    admin.add_fault("events.insert", kind, count=3)
    body = event("Retried", "2030-01-07T10:00:00Z", "2030-01-07T11:00:00Z", id="retried001")
    raises(alice.events().insert(calendarId="primary", body=body), status, expected)
    alice.events().insert(calendarId="primary", body=body).execute(num_retries=2)
    assert len(sleeps) == 2
    assert [r["status"] for r in admin.requests("events.insert")] == [status] * 3 + [200]


def test_a_403_that_is_not_a_rate_limit_is_not_retried(alice, admin, monkeypatch):
    monkeypatch.setattr(googleapiclient.http, "time",
                        types.SimpleNamespace(sleep=lambda s: pytest.fail("retried")))
    admin.add_fault("events.*", "custom", status=403, reason="forbiddenForNonOrganizer",
                    message="Shared properties can only be changed by the organizer of the event.",
                    domain="calendar")
    raises(alice.events().list(calendarId="primary"), 403, "forbiddenForNonOrganizer")
    assert admin.faults() == []


def test_all_day_series_with_until_and_exdate_and_deleting_a_series(alice, admin):
    series = alice.events().insert(calendarId="primary", body={
        "summary": "Offsite", "start": {"date": "2030-01-06"}, "end": {"date": "2030-01-07"},
        "recurrence": ["RRULE:FREQ=DAILY;UNTIL=20300110", "EXDATE;VALUE=DATE:20300108"]}).execute()
    listed = alice.events().list(calendarId="primary", singleEvents=True,
                                 orderBy="startTime").execute()["items"]
    assert [(e["id"], e["start"]) for e in listed] == [
        (f"{series['id']}_{day}", {"date": f"2030-01-{day[-2:]}"})
        for day in ("20300106", "20300107", "20300109", "20300110")]
    # All-day events are bounded in the calendar's zone (Europe/Rome: 23:00 UTC the day before).
    window = alice.events().list(calendarId="primary", singleEvents=True,
                                 timeMin="2030-01-09T22:30:00Z",
                                 timeMax="2030-01-09T23:30:00Z").execute()["items"]
    assert [e["id"] for e in window] == [f"{series['id']}_20300109", f"{series['id']}_20300110"]
    raises(alice.events().insert(calendarId="primary", body={
        "summary": "No zone", "recurrence": ["RRULE:FREQ=DAILY"],
        "start": {"dateTime": "2030-01-06T10:00:00Z"},
        "end": {"dateTime": "2030-01-06T11:00:00Z"}}), 400, "required")
    raises(alice.events().insert(calendarId="primary", body=dict(
        series, id=None, iCalUID=None, recurrence=["RRULE:FREQ=SOMETIMES"])), 400, "invalid")

    alice.events().patch(calendarId="primary", eventId=f"{series['id']}_20300107",
                         body={"summary": "Offsite, day 2"}).execute()
    _, token, _ = full_sync(alice)
    alice.events().delete(calendarId="primary", eventId=series["id"]).execute()
    changes = alice.events().list(calendarId="primary", syncToken=token).execute()["items"]
    assert [(e["id"], e["status"]) for e in changes] == [
        (series["id"], "cancelled"), (f"{series['id']}_20300107", "cancelled")]
    assert alice.events().list(calendarId="primary", singleEvents=True).execute()["items"] == []
