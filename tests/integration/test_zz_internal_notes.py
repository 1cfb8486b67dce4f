"""Internal team notes never leave the team (R11, issue 7), checked over the whole test run.

This module runs last (pytest collects files in name order). The first test sends a note
down every path a meeting takes here (invitation, update, reminder, timeline, every GET of
every service as a caller without the team role); the second searches everything the run
produced for every note any test wrote (support/audit.py remembers each ``internal_note``
sent to a service): every message on every topic of the session's stack, DLQs included,
every email the SMTP sink stored since the run began (raw and each decoded part), and every
API answer to a caller without the team role.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from convene_kit.testing import topic_partitions
from convene_schemas.registry import load_registry
from support import endpoint, wait_for
from support.audit import AUDIT
from support.mail import mails
from support.services import Stack
from support.skeleton import Account, auth

PATH_PARAMETER = re.compile(r"\{[^}]+\}")


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


async def test_a_note_on_every_path(stack: Stack, account: Account) -> None:
    title = f"Noted-{uuid.uuid4().hex[:8]}"
    note = f"TEAM-ONLY-{uuid.uuid4().hex}"
    meeting = await schedule_with_note(stack, account, title, note)
    address = account.contact["email"]
    async with httpx.AsyncClient(base_url=stack.url("meetings"), timeout=10) as client:
        edited = await client.patch(f"/meetings/{meeting['id']}", headers=auth(account.host_token),
                                    json={"title": title + " v2", "internal_note": note + "-2"})
        assert edited.status_code == 200, edited.text
        assert edited.json()["internal_note"] == note + "-2"  # the team sees it

    def delivered() -> bool:
        got = mails(title, address)
        return len([m for m in got if m.calendar_parts()]) >= 2 and any(
            str(m.message["Subject"]).startswith("Reminder:") for m in got)

    await wait_for(delivered, "the invitation, its update and the reminder", timeout=60)
    outsider = stack.token(account.id, account.host["id"])  # the same user, no team role
    calls = await get_every_path(stack, outsider, {
        "meetings": meeting["id"], "contacts": account.contact["id"],
        "users": account.host["id"]})
    assert calls >= 5
    async with httpx.AsyncClient(base_url=stack.url("meetings"), timeout=10) as client:
        seen = await client.get(f"/meetings/{meeting['id']}", headers=auth(outsider))
    assert seen.status_code == 200 and "internal_note" not in seen.json()


async def every_message(bootstrap: str, topics: list[str]) -> list[tuple[str, bytes]]:
    """(topic, value and header bytes) of every record of ``topics``."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(t, p) for t in topics
                      for p in sorted(await topic_partitions(bootstrap, t))]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found: list[tuple[str, bytes]] = []
        remaining = {tp for tp in partitions if ends[tp] > 0}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=2000)
            if not batch:
                raise AssertionError(f"could not read {sorted(map(str, remaining))} to the end")
            for tp, records in batch.items():
                for record in records:
                    headers = b"".join(k.encode() + b"=" + (v or b"") for k, v in record.headers)
                    found.append((tp.topic, (record.value or b"") + b"\n" + headers))
                    if record.offset + 1 >= ends[tp]:
                        remaining.discard(tp)
        return found
    finally:
        await consumer.stop()


def decoded_mail(path: Path) -> bytes:
    """The raw message and every decoded part (base64 and quoted-printable undone)."""
    raw = path.read_bytes()
    parts = [raw]
    for part in message_from_bytes(raw, policy=policy.default).walk():
        if not part.is_multipart():
            parts.append(part.get_payload(decode=True) or b"")
    return b"\n".join(parts)


async def test_no_note_left_the_team(stack: Stack) -> None:
    assert AUDIT.notes, "no test of this run wrote an internal note"
    # The audit can see a note: the team's own answers carry them.
    assert any(AUDIT.leaks(r.body) for r in AUDIT.responses if r.team)

    registry = load_registry()
    topics = [stack.topic(name) for spec in registry.topics
              for name in (spec.name, spec.dlq.topic)]
    messages = await every_message(endpoint("CONVENE_KAFKA_BOOTSTRAP"), topics)
    assert any(topic.endswith("meetings.events.v1") for topic, _ in messages)
    leaked = [(topic, AUDIT.leaks(data)) for topic, data in messages if AUDIT.leaks(data)]
    assert leaked == [], f"notes on public topics: {leaked}"

    sink = Path(endpoint("CONVENE_MAIL_SINK_DIR"))
    emails = [p for p in sink.glob("*.eml") if p.stat().st_mtime >= AUDIT.started_at - 1]
    assert emails, "the run sent no email"
    leaked = [(p.name, AUDIT.leaks(decoded_mail(p))) for p in emails if AUDIT.leaks(decoded_mail(p))]
    assert leaked == [], f"notes in emails: {leaked}"

    outside = [r for r in AUDIT.responses if not r.team]
    assert outside, "no call of the run was made without the team role"
    leaked = [(r.method, r.url, AUDIT.leaks(r.body, echo_of=r.request_body))
              for r in outside if AUDIT.leaks(r.body, echo_of=r.request_body)]
    assert leaked == [], f"notes in answers to callers without the team role: {leaked}"
