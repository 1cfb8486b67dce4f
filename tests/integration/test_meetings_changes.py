"""Changing meetings through the running service: each change raises the sequence and
publishes its event; concurrent PATCHes lose nothing; internal notes stay inside (R11,
R18-R20)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from convene_schemas.events.meetings import (
    MeetingCanceled,
    MeetingOutcomeRecorded,
    MeetingRescheduled,
    MeetingScheduled,
    MeetingUpdated,
)
from support.calendars import connect_calendar
from support.meetings import (
    MeetingsAccount,
    call,
    future_start,
    meeting_body,
    meeting_events,
    post_when_known,
)
from support.services import Stack


@pytest.fixture(scope="module")
async def acc(stack: Stack) -> MeetingsAccount:
    account = MeetingsAccount(stack)
    await connect_calendar(stack, account, account.uid("host"))
    return account


async def schedule(stack: Stack, acc: MeetingsAccount, note: str) -> dict:
    created = await post_when_known(stack, acc.token("host"), meeting_body(acc, internal_note=note),
                                    waiting_for=("no_connected_calendar", "unknown_host",
                                                 "unknown_attendee"))
    assert created.status_code == 201, created.text
    return created.json()["meeting"]


async def test_each_change_raises_the_sequence_and_publishes_its_event(
        stack: Stack, acc: MeetingsAccount) -> None:
    note = f"NOTE-{uuid.uuid4().hex}"
    meeting = await schedule(stack, acc, note)
    path, token = f"/meetings/{meeting['id']}", acc.token("host")
    answers = [
        await call(stack, "PATCH", path, token, {"title": "Renamed", "internal_note": note + "2"}),
        await call(stack, "PATCH", path, token, {"title": "Renamed"}),  # no-op
        await call(stack, "POST", f"{path}/reschedule", token, {
            "start": future_start(days=4), "time_zone": "Europe/Rome", "duration_minutes": 45}),
        await call(stack, "POST", f"{path}/outcome", token, {"outcome": "completed"}),
        await call(stack, "POST", f"{path}/cancel", token),
        await call(stack, "POST", f"{path}/cancel", token),  # no-op
    ]
    assert [a.status_code for a in answers] == [200] * 6, [a.text for a in answers]
    assert [a.json()["version"] for a in answers] == [1, 1, 2, 3, 4, 4]
    events = await meeting_events(stack, meeting["id"], 5)
    assert [type(e) for e in events] == [MeetingScheduled, MeetingUpdated, MeetingRescheduled,
                                         MeetingOutcomeRecorded, MeetingCanceled]
    assert [e.version for e in events] == [0, 1, 2, 3, 4]
    assert events[1].changed_fields == ["title"]
    refused = await call(stack, "PATCH", path, token, {"title": "After cancel"})
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "meeting_canceled"
    bad = await call(stack, "POST", f"{path}/outcome", token, {"outcome": "won"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "unknown_outcome"
    stranger = stack.token(f"acc_{uuid.uuid4().hex[:12]}", acc.uid("host"), roles="team")
    assert (await call(stack, "PATCH", path, stranger, {"title": "x"})).status_code == 404


async def test_concurrent_patches_lose_no_change_and_sequences_increase(
        stack: Stack, acc: MeetingsAccount) -> None:
    meeting = await schedule(stack, acc, "n")
    path, token = f"/meetings/{meeting['id']}", acc.token("host")
    patches = [
        {"title": "Concurrent title"},
        {"attendee_description": "<p>Concurrent agenda</p>"},
        {"reminders": [{"amount": 30, "unit": "minutes"}]},
        {"location": {"kind": "phone", "value": "+39 06 555"}},
        {"reminders_include_description": True},
        {"associations": [{"kind": "deal", "id": "deal_concurrent"}]},
    ]
    answers = await asyncio.gather(*(call(stack, "PATCH", path, token, p) for p in patches))
    assert all(a.status_code in (200, 409) for a in answers), [a.text for a in answers]
    applied = [p for p, a in zip(patches, answers, strict=True) if a.status_code == 200]
    assert len(applied) == len(patches), "the service retries a lost claim"
    assert sorted(a.json()["version"] for a in answers) == list(range(1, len(patches) + 1))
    final = (await call(stack, "GET", path, token)).json()
    assert final["version"] == len(patches)
    assert final["title"] == "Concurrent title"
    assert final["attendee_description"] == "<p>Concurrent agenda</p>"
    assert final["reminders"] == [{"amount": 30, "unit": "minutes"}]
    assert final["location"]["value"] == "+39 06 555"
    assert final["reminders_include_description"] is True
    assert final["associations"] == [{"kind": "deal", "id": "deal_concurrent"}]
    events = await meeting_events(stack, meeting["id"], len(patches) + 1)
    versions = [e.version for e in events]
    assert versions == sorted(versions) == list(range(len(patches) + 1))


async def test_internal_notes_stay_with_the_team(stack: Stack, acc: MeetingsAccount) -> None:
    note = f"SECRET-{uuid.uuid4().hex}"
    meeting = await schedule(stack, acc, note)
    path = f"/meetings/{meeting['id']}"
    patched = await call(stack, "PATCH", path, acc.token("host"),
                         {"internal_note": note + "-edited", "title": "With note"})
    assert patched.json()["internal_note"] == note + "-edited"
    for method, route, body in (("GET", path, None), ("PATCH", path, {"title": "Outsider"})):
        answer = await call(stack, method, route, acc.token("host", team=False), body)
        assert answer.status_code == 200 and "internal_note" not in answer.json()
        assert note not in answer.text
    events = await meeting_events(stack, meeting["id"], 3)
    for event in events:
        assert note not in event.model_dump_json()
