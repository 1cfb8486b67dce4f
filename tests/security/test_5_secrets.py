"""A secrets scan of what the run produced: every service log of the stack, every message
on every topic (DLQs included), every email the SMTP sink stored since the run began and
every answer a service gave (the fuzzer's too) hold none of the credentials the run
handled: minted gateway tokens, the service token, the prefill signing key, the
credentials keyring, CalDAV passwords (the SSRF probes' and the tenancy connection's) and
a Google refresh token, which this module obtains through the emulator and has calendar-sync
use by writing a meeting to Google. The same scan over planted data finds every kind of
place, so it can fail. (The session's ``stack`` fixture runs it once more at the end.)"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from convene_schemas.events.calendar_sync import CalendarEventLinked
from security_support import FIGURES
from security_support.stack import SecurityStack
from support import audit, endpoint, wait_for
from support.calendar_sync import SyncAccount, connect_google_account, meetings_call, sync_events
from support.services import GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET, GOOGLE_REDIRECT_URI

from infra.emulators.google_calendar.client import EmulatorAdmin


@pytest.fixture(scope="module")
async def google_refresh_token(stack: SecurityStack) -> str:
    """A host connected to Google (the emulator) through calendar-sync's OAuth flow, with a
    meeting calendar-sync wrote there (the refresh token used); the refresh token."""
    google = EmulatorAdmin(endpoint("CONVENE_GOOGLE_URL"))
    google.add_client(GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET, [GOOGLE_REDIRECT_URI])
    acc = SyncAccount(stack)
    email = f"sec-{uuid.uuid4().hex[:8]}@gmail.example"
    google.add_user(email, "Hana Host", "Europe/Rome")
    await connect_google_account(stack, acc.token(), google, email)
    grants = [g["refreshToken"] for g in google.grants(email) if g["refreshToken"]]
    assert grants, "the emulator issued no refresh token"
    for token in grants:
        audit.AUDIT.remember_secret(token)
    start_at = (datetime.now(timezone.utc) + timedelta(days=3)).replace(
        hour=10, minute=0, second=0, microsecond=0)
    body = {"title": f"Secrets {uuid.uuid4().hex[:6]}", "start": start_at.isoformat(),
            "time_zone": "Europe/Rome", "duration_minutes": 30,
            "attendees": [{"kind": "contact", "id": acc.contact["id"]}]}

    async def scheduled() -> httpx.Response | None:
        answer = await meetings_call(stack, "POST", "/meetings", acc.token(), json=body)
        if answer.status_code == 422 and answer.json()["error"]["code"] in (
                "no_connected_calendar", "unknown_host", "unknown_attendee"):
            return None
        return answer

    meeting = await wait_for(scheduled, "meetings to know the Google-connected host", timeout=40)
    assert meeting.status_code == 201, meeting.text
    meeting_id = meeting.json()["meeting"]["id"]

    async def linked() -> bool:
        return any(e.meeting_id == meeting_id
                   for e in await sync_events(stack, acc.id, CalendarEventLinked))

    await wait_for(linked, "calendar-sync to write the meeting to Google", timeout=60)
    return grants[0]


async def test_no_credential_in_logs_events_emails_or_answers(
        stack: SecurityStack, google_refresh_token: str) -> None:
    messages = await audit.stack_messages(stack)
    logs = sorted(stack.workdir.glob("*.log"))
    emails = audit.emails_of_the_run()
    places = audit.secret_leaks_of_the_run(stack, messages)
    FIGURES.add("secrets scan", credentials=len(audit.AUDIT.secrets), logs=len(logs),
                log_bytes=sum(p.stat().st_size for p in logs), events=len(messages),
                emails=len(emails), answers=len(audit.AUDIT.responses), found=len(places))
    # What was scanned is what the run produced (an empty scan finds nothing).
    assert google_refresh_token in audit.AUDIT.secrets
    assert stack.service_token in audit.AUDIT.secrets
    assert len(logs) >= 5 and all(p.stat().st_size > 0 for p in logs), logs
    assert messages and emails and len(audit.AUDIT.responses) > 50
    assert not places, f"credentials found in: {sorted(set(places))}"


def test_the_scan_finds_a_planted_credential(stack: SecurityStack, tmp_path: Path,
                                             google_refresh_token: str) -> None:
    """The control: the same scan over a log, a message and an answer that hold a
    credential (as a log line, a JSON field and an error text) names each place."""
    planted_stack = SimpleNamespace(workdir=tmp_path)
    (tmp_path / "calendar-sync.log").write_text(
        f'{{"level": "error", "msg": "refresh failed", "token": "{google_refresh_token}"}}\n')
    messages = [("planted.events.v1", f'{{"password": "{stack.service_token}"}}'.encode())]
    answer = audit.Response("GET", "http://planted/answer", 500,
                            f"error: {google_refresh_token[:-1]}|{google_refresh_token}".encode(),
                            team=True)
    audit.AUDIT.responses.append(answer)
    try:
        places = audit.secret_leaks_of_the_run(planted_stack, messages)  # type: ignore[arg-type]
    finally:
        audit.AUDIT.responses.remove(answer)
    assert "log calendar-sync.log" in places, places
    assert "topic planted.events.v1" in places, places
    assert "answer to GET http://planted/answer" in places, places
