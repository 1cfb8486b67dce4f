"""Internal team notes never leave the team (R11, issue 7).

The module's fixture sends a note of its own down every path a meeting takes here
(invitation, update, reminder, timeline, every GET of every service as a caller without the
team role). Each test then searches what the session's stack holds so far for every note
the run wrote (support/audit.py remembers each ``internal_note`` sent to a service: this
module's own and any earlier module's): every message on every topic of the stack, DLQs
included; every email the SMTP sink stored since the run began (raw and each decoded part);
every API answer to a caller without the team role. Each first checks that what it searches
holds this module's own meeting, so the module proves something alone, first or last.
Notes written by modules that run later are searched when the run ends (the ``stack``
fixture, tests/integration/conftest.py).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from support import wait_for
from support.audit import (
    AUDIT,
    emails_of_the_run,
    leaks_in_answers,
    leaks_in_emails,
    leaks_in_messages,
    stack_messages,
)
from support.mail import StoredMail, mails
from support.notifications import events_about
from support.services import Stack
from support.skeleton import Account, auth

PATH_PARAMETER = re.compile(r"\{[^}]+\}")


@dataclass(frozen=True)
class NotedMeeting:
    """A meeting of this module with a note, edited, reminded, and read by an outsider."""

    id: str
    title: str
    notes: tuple[str, str]  # as scheduled, as edited
    outsider: str  # the host's token without the team role
    outsider_calls: int  # GETs made with it
    outsider_answers_kept: int  # answers to those GETs the audit kept as an outsider's
    emails: list[StoredMail]


async def schedule_with_note(stack: Stack, account: Account, title: str, note: str) -> dict:
    """A meeting whose one-minute reminder is due a few seconds from now, with a note."""
    start = (datetime.now(timezone.utc) + timedelta(minutes=1, seconds=8)).replace(microsecond=0)
    body = {
        "title": title, "start": start.isoformat(), "time_zone": "Europe/Rome",
        "duration_minutes": 30,
        "attendees": [{"kind": "contact", "id": account.contact["id"]}],
        "associations": [{"kind": "contact", "id": account.contact["id"]}],
        "attendee_description": "<p>Agenda</p>", "internal_note": note,
        "reminders": [{"amount": 1, "unit": "minutes"}],
        "reminders_include_description": True,
    }
    async with httpx.AsyncClient(base_url=stack.url("meetings"), timeout=10) as client:
        response = await client.post("/meetings", json=body, headers=auth(account.host_token))
    assert response.status_code == 201, response.text
    return response.json()["meeting"]


async def get_every_path(stack: Stack, token: str, ids: dict[str, str]) -> int:
    """GET every parameterised and plain GET path of every service's OpenAPI as ``token``;
    a path parameter is filled with the id of the resource its path starts with."""
    calls = 0
    for service in ("records", "meetings", "calendar-sync", "notifications", "booking-pages"):
        async with httpx.AsyncClient(base_url=stack.url(service), timeout=10,
                                     headers=auth(token)) as client:
            spec = (await client.get("/openapi.json")).json()
            for path, operations in spec.get("paths", {}).items():
                if "get" not in operations or path in ("/metrics",):
                    continue
                resource = path.strip("/").split("/")[0]
                concrete = PATH_PARAMETER.sub(ids.get(resource, ids["meetings"]), path)
                await client.get(concrete, params={"meeting_id": ids["meetings"]})
                calls += 1
    return calls


@pytest.fixture(scope="module")
async def noted(stack: Stack, account: Account) -> NotedMeeting:
    """A note down every path: scheduled and edited by the team (the team reads it back),
    invited, updated and reminded by email, on the topics, then every GET as an outsider."""
    title = f"Noted-{uuid.uuid4().hex[:8]}"
    note = f"TEAM-ONLY-{uuid.uuid4().hex}"
    meeting = await schedule_with_note(stack, account, title, note)
    async with httpx.AsyncClient(base_url=stack.url("meetings"), timeout=10) as client:
        edited = await client.patch(f"/meetings/{meeting['id']}", headers=auth(account.host_token),
                                    json={"title": title + " v2", "internal_note": note + "-2"})
    assert edited.status_code == 200, edited.text
    assert edited.json()["internal_note"] == note + "-2"  # the team sees it

    address = account.contact["email"]

    def delivered() -> list[StoredMail] | None:
        got = mails(title, address)
        invitations = [m for m in got if m.calendar_parts()]
        reminders = [m for m in got if str(m.message["Subject"]).startswith("Reminder:")]
        return got if len(invitations) >= 2 and reminders else None

    emails = await wait_for(delivered, "the invitation, its update and the reminder", timeout=90)
    await wait_for(lambda: events_about(stack, "ReminderSent", meeting["id"]),
                   "ReminderSent on the notifications topic", timeout=30)
    outsider = stack.token(account.id, account.host["id"])  # the same user, no team role
    kept_before = len(AUDIT.responses)
    calls = await get_every_path(stack, outsider, {
        "meetings": meeting["id"], "contacts": account.contact["id"],
        "users": account.host["id"]})
    kept = [r for r in AUDIT.responses[kept_before:] if not r.team]
    return NotedMeeting(id=meeting["id"], title=title, notes=(note, note + "-2"),
                        outsider=outsider, outsider_calls=calls,
                        outsider_answers_kept=len(kept), emails=emails)


async def test_the_audit_knows_the_notes(noted: NotedMeeting) -> None:
    assert set(noted.notes) <= AUDIT.notes
    # The audit can see a note: the team's own answers carry them.
    team_answers = [r.body for r in AUDIT.responses if r.team]
    assert any(noted.notes[1].encode() in body for body in team_answers)


async def test_an_outsider_reads_the_meeting_without_its_note(stack: Stack,
                                                              noted: NotedMeeting) -> None:
    async with httpx.AsyncClient(base_url=stack.url("meetings"), timeout=10) as client:
        seen = await client.get(f"/meetings/{noted.id}", headers=auth(noted.outsider))
    assert seen.status_code == 200 and "internal_note" not in seen.json()


async def test_no_note_on_any_topic(stack: Stack, noted: NotedMeeting) -> None:
    messages = await stack_messages(stack)
    ours = {topic.removeprefix(stack.prefix) for topic, data in messages
            if noted.id.encode() in data}
    assert {"meetings.events.v1", "notifications.events.v1"} <= ours, ours
    leaked = leaks_in_messages(messages)
    assert leaked == [], f"notes on public topics: {leaked}"


async def test_no_note_in_any_email(noted: NotedMeeting) -> None:
    emails = emails_of_the_run()
    assert {m.path for m in noted.emails} <= set(emails)
    leaked = leaks_in_emails(emails)
    assert leaked == [], f"notes in emails: {leaked}"


async def test_no_note_in_answers_to_callers_without_the_team_role(noted: NotedMeeting) -> None:
    # Every GET as an outsider (and the OpenAPI reads before them) was kept for the search.
    assert noted.outsider_answers_kept >= noted.outsider_calls >= 5
    leaked = leaks_in_answers()
    assert leaked == [], f"notes in answers to callers without the team role: {leaked}"
