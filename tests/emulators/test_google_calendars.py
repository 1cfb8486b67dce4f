"""calendars.insert and calendars.delete of the Google emulator through
google-api-python-client: a secondary calendar owned by the caller, in their calendar list,
with Google's id; deleted only by its owner, never the primary; gone afterwards."""

from __future__ import annotations

import pytest
from googleapiclient.errors import HttpError

from tests.emulators.google_support import ALICE, BOB


def failure(call) -> tuple[int, str]:
    with pytest.raises(HttpError) as caught:
        call.execute()
    return caught.value.status_code, caught.value.error_details[0]["reason"]


def test_insert_makes_a_secondary_calendar_of_the_caller(alice, admin):
    made = alice.calendars().insert(body={
        "summary": "Convene tasks", "description": "tasks (marker)", "timeZone": "UTC",
        "id": "chosen-by-the-client"}).execute()

    assert made["id"].endswith("@group.calendar.google.com")  # Google's id, not the client's
    assert made["kind"] == "calendar#calendar" and made["dataOwner"] == ALICE
    assert (made["summary"], made["description"], made["timeZone"]) == (
        "Convene tasks", "tasks (marker)", "UTC")
    entries = {e["id"]: e for e in alice.calendarList().list().execute()["items"]}
    assert entries[made["id"]]["accessRole"] == "owner"
    assert entries[made["id"]]["description"] == "tasks (marker)"
    assert made["id"] in admin.calendar_ids(ALICE)
    assert alice.calendars().get(calendarId=made["id"]).execute()["summary"] == "Convene tasks"
    # it takes events like any calendar the user owns
    alice.events().insert(calendarId=made["id"], body={
        "summary": "Call back", "start": {"dateTime": "2026-03-02T09:00:00Z"},
        "end": {"dateTime": "2026-03-02T09:30:00Z"}}).execute()
    assert [e["summary"] for e in admin.stored_events(made["id"])] == ["Call back"]


def test_insert_needs_a_title_and_a_known_zone(alice):
    assert failure(alice.calendars().insert(body={"description": "x"})) == (400, "required")
    assert failure(alice.calendars().insert(body={"summary": "T", "timeZone": "Mars/Base"})
                   ) == (400, "invalid")


def test_a_new_calendar_without_a_zone_takes_the_owners(alice):
    made = alice.calendars().insert(body={"summary": "Team"}).execute()
    assert made["timeZone"] == "Europe/Rome"


def test_delete_removes_the_calendar_and_its_events(alice, admin):
    made = alice.calendars().insert(body={"summary": "Convene tasks"}).execute()
    alice.events().insert(calendarId=made["id"], body={
        "summary": "Call back", "start": {"dateTime": "2026-03-02T09:00:00Z"},
        "end": {"dateTime": "2026-03-02T09:30:00Z"}}).execute()

    alice.calendars().delete(calendarId=made["id"]).execute()

    assert made["id"] not in admin.calendar_ids(ALICE)
    assert failure(alice.calendars().get(calendarId=made["id"])) == (404, "notFound")
    assert failure(alice.events().list(calendarId=made["id"])) == (404, "notFound")
    assert failure(alice.calendars().delete(calendarId=made["id"])) == (404, "notFound")


def test_only_the_owner_deletes_and_never_the_primary(alice, bob, admin):
    made = alice.calendars().insert(body={"summary": "Shared"}).execute()
    admin.share_calendar(made["id"], BOB, "writer")
    assert failure(bob.calendars().delete(calendarId=made["id"])) == (403, "requiredAccessLevel")
    assert made["id"] in admin.calendar_ids(ALICE)
    assert failure(alice.calendars().delete(calendarId="primary")) == (400, "badRequest")
    assert failure(alice.calendars().delete(calendarId=ALICE)) == (400, "badRequest")
    assert ALICE in admin.calendar_ids(ALICE)
