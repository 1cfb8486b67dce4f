"""Helpers of the notifications integration tests: contacts with a language, meeting events
built from the contract (meetings does not publish edits yet), the SMTP sink's faults
scoped to one test's addresses, and what notifications published."""

from __future__ import annotations

import json
import os
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
from convene_kit.testing import read_records, topic_size
from convene_schemas.base import Event
from convene_schemas.envelope import new_event_id, to_kafka_message
from convene_schemas.events.meetings import (
    Attendee,
    MeetingCanceled,
    MeetingRescheduled,
    MeetingScheduled,
    MeetingUpdated,
    ical_uid_for,
)

from support import endpoint
from support.mail import StoredMail, mails
from support.services import Stack
from support.skeleton import Account, auth, publish

MEETINGS_TOPIC = "meetings.events.v1"
NOTIFICATIONS_TOPIC = "notifications.events.v1"


def new_contact(stack: Stack, account: Account, *, language: str = "en",
                first_name: str = "Pat", time_zone: str = "Europe/Rome") -> dict:
    """A contact with a unique address, created through records' API."""
    with httpx.Client(base_url=stack.url("records"), headers=auth(account.admin),
                      timeout=10) as client:
        created = client.post("/contacts", json={
            "email": f"{first_name.lower()}-{uuid.uuid4().hex[:8]}@client.example",
            "first_name": first_name, "last_name": "Tester", "time_zone": time_zone,
            "language": language})
    assert created.status_code == 201, created.text
    return created.json()


def attendee(contact: dict) -> Attendee:
    """The contact as meetings names an invited attendee in its events."""
    return Attendee(kind="contact", id=contact["id"], email=contact["email"],
                    name=f"{contact['first_name']} {contact['last_name']}",
                    language=contact["language"], time_zone=contact["time_zone"], invite=True)


def scheduled(account: Account, title: str, attendees: list[Attendee]) -> MeetingScheduled:
    """A MeetingScheduled (version 0) of a new meeting with these invited attendees."""
    meeting_id = f"mtg_{uuid.uuid4().hex}"
    start = (datetime.now(timezone.utc) + timedelta(days=4)).replace(minute=0, second=0,
                                                                    microsecond=0)
    return MeetingScheduled(
        account_id=account.id, version=0, occurred_at=datetime.now(timezone.utc),
        meeting_id=meeting_id, ical_uid=ical_uid_for(meeting_id), title=title, start=start,
        end=start + timedelta(minutes=30), time_zone="Europe/Rome", duration_minutes=30,
        host_user_id=account.host["id"], host_email=account.host["email"],
        host_name=account.host["name"], organizer_user_id=account.host["id"], on_behalf=False,
        attendees=attendees, attendee_description="<p>Agenda</p>", source="crm",
        send_invitations=True)


def _snapshot(base: MeetingScheduled, version: int, **changes: Any) -> dict[str, Any]:
    return {**base.model_dump(), "version": version,
            "occurred_at": datetime.now(timezone.utc), **changes}


def updated(base: MeetingScheduled, version: int, changed_fields: list[str],
            removed: list[Attendee] | None = None, **changes: Any) -> MeetingUpdated:
    """A MeetingUpdated of ``base`` at ``version``."""
    return MeetingUpdated.model_validate(
        {**_snapshot(base, version, **changes), "changed_fields": changed_fields,
         "removed_attendees": [a.model_dump() for a in removed or []],
         "changed_by_user_id": base.host_user_id}, strict=False)


def rescheduled(base: MeetingScheduled, version: int, hours_later: int = 1) -> MeetingRescheduled:
    """A MeetingRescheduled of ``base`` moved ``hours_later``."""
    shift = timedelta(hours=hours_later)
    return MeetingRescheduled.model_validate(
        {**_snapshot(base, version, start=base.start + shift, end=base.end + shift),
         "previous_start": base.start, "previous_end": base.end,
         "changed_fields": ["start", "end"], "changed_by_user_id": base.host_user_id},
        strict=False)


def canceled(base: MeetingScheduled, version: int, **changes: Any) -> MeetingCanceled:
    """A MeetingCanceled of ``base`` at ``version`` (with ``changes`` to its snapshot)."""
    return MeetingCanceled.model_validate(
        {**_snapshot(base, version, **changes), "reason": "canceled_in_crm",
         "canceled_by_user_id": base.host_user_id}, strict=False)


async def publish_event(stack: Stack, event: Event, event_id: str | None = None) -> tuple[int, int]:
    """Publish ``event`` on the stack's prefixed meetings topic as meetings would."""
    record = to_kafka_message(event, event_id=event_id or new_event_id())
    return await publish(stack, MEETINGS_TOPIC, record.key, record.value, record.headers)


def calendar(mail: StoredMail) -> str:
    """The text/calendar alternative of a stored email."""
    return mail.calendar_parts()[0].decode()


def method_and_sequence(mail: StoredMail) -> tuple[str, int]:
    """(METHOD, SEQUENCE) of a stored email's .ics."""
    lines = calendar(mail).splitlines()
    method = next(line.split(":", 1)[1] for line in lines if line.startswith("METHOD:"))
    sequence = next(int(line.split(":", 1)[1]) for line in lines if line.startswith("SEQUENCE:"))
    return method, sequence


def received(meeting: MeetingScheduled, address: str) -> list[tuple[str, int]]:
    """(METHOD, SEQUENCE) of every email of ``meeting`` the sink stored for ``address``."""
    return sorted(method_and_sequence(m) for m in mails(meeting.ical_uid, address))


@contextmanager
def smtp_faults(rcpt: dict[str, list]):
    """RCPT replies for these (test-owned) addresses while the block runs; returns a
    function that lifts them early. Other entries of the shared faults file are kept."""
    path = Path(endpoint("CONVENE_MAIL_SINK_DIR")) / "faults.json"

    def update(change) -> None:
        try:
            faults = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            faults = {}
        change(faults.setdefault("rcpt", {}))
        tmp = path.with_name(f".faults-{uuid.uuid4().hex}.tmp")
        tmp.write_text(json.dumps(faults))
        os.replace(tmp, path)

    def lift() -> None:
        update(lambda entries: [entries.pop(a.lower(), None) for a in rcpt])

    update(lambda entries: entries.update({a.lower(): reply for a, reply in rcpt.items()}))
    try:
        yield lift
    finally:
        lift()


async def notification_events(stack: Stack, event_type: str) -> list[dict]:
    """The bodies of every ``event_type`` notifications published on the stack's topic."""
    topic = stack.topic(NOTIFICATIONS_TOPIC)
    size = await topic_size(endpoint("CONVENE_KAFKA_BOOTSTRAP"), topic)
    if size == 0:
        return []
    records = await read_records(endpoint("CONVENE_KAFKA_BOOTSTRAP"), topic, expected=size)
    return [json.loads(r.value) for r in records
            if dict(r.headers).get("ce_type") == f"com.convene.notifications.{event_type}".encode()]


async def publish_event_on(stack: Stack, event: Event, partition: int) -> tuple[int, int]:
    """Publish ``event`` on one chosen partition of the meetings topic (to put two meetings
    behind each other in one consumer's queue); returns its partition and offset."""
    from aiokafka import AIOKafkaProducer

    record = to_kafka_message(event, event_id=new_event_id())
    producer = AIOKafkaProducer(bootstrap_servers=endpoint("CONVENE_KAFKA_BOOTSTRAP"),
                                enable_idempotence=True, acks="all")
    await producer.start()
    try:
        sent = await producer.send_and_wait(stack.topic(MEETINGS_TOPIC), value=record.value,
                                            key=record.key, headers=record.headers,
                                            partition=partition)
        return sent.partition, sent.offset
    finally:
        await producer.stop()


async def email_entries(stack: Stack, account: Account, meeting_id: str) -> list[dict]:
    """notifications' mail log of one meeting (GET /emails), oldest first."""
    async with httpx.AsyncClient(base_url=stack.url("notifications"), timeout=10) as client:
        response = await client.get("/emails", params={"meeting_id": meeting_id},
                                    headers=auth(account.admin))
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def events_about(stack: Stack, event_type: str, meeting_id: str) -> list[dict] | None:
    """The ``event_type`` events notifications published about one meeting, None if none."""
    found = [e for e in await notification_events(stack, event_type)
             if e.get("meeting_id") == meeting_id]
    return found or None


# --- owner emails and the account's defaults (test_notifications_owner.py) -----------------

BOOKING_PAGES_TOPIC = "booking-pages.events.v1"
RECORDS_TOPIC = "records.events.v1"


def new_user(stack: Stack, account: Account, *, language: str, time_zone: str,
             name: str = "Olga Owner") -> dict:
    """A user (a page owner) with a unique address, created through records' API."""
    with httpx.Client(base_url=stack.url("records"), headers=auth(account.admin),
                      timeout=10) as client:
        created = client.post("/users", json={
            "email": f"owner-{uuid.uuid4().hex[:8]}@acme.example", "name": name,
            "time_zone": time_zone, "language": language})
    assert created.status_code == 201, created.text
    return created.json()


def bare_contact(stack: Stack, account: Account) -> dict:
    """A contact with an address but no language and no time zone."""
    with httpx.Client(base_url=stack.url("records"), headers=auth(account.admin),
                      timeout=10) as client:
        created = client.post("/contacts", json={
            "email": f"bare-{uuid.uuid4().hex[:8]}@client.example", "first_name": "Bea",
            "last_name": "Bare"})
    assert created.status_code == 201, created.text
    return created.json()


def change_account_settings(stack: Stack, account: Account, **changes: Any) -> dict:
    """PATCH /account/settings as the account's admin; the settings after the change."""
    with httpx.Client(base_url=stack.url("records"), headers=auth(account.admin),
                      timeout=10) as client:
        changed = client.patch("/account/settings", json=changes)
    assert changed.status_code == 200, changed.text
    return changed.json()


async def publish_on_its_topic(stack: Stack, event: Event) -> tuple[int, int]:
    """Publish ``event`` on the stack's prefixed topic of its class (as its producer would)."""
    record = to_kafka_message(event, event_id=new_event_id())
    return await publish(stack, event.TOPIC, record.key, record.value, record.headers)


async def notifications_committed_past(stack: Stack, topic: str, partition: int,
                                       offset: int) -> bool:
    """True once notifications' consumer group committed past ``offset`` of ``topic``."""
    from convene_kit.testing import committed_offset

    committed = await committed_offset(endpoint("CONVENE_KAFKA_BOOTSTRAP"),
                                       f"{stack.prefix}notifications", stack.topic(topic),
                                       partition)
    return committed is not None and committed > offset


async def record_position(stack: Stack, key: str, version: int) -> tuple[int, int] | None:
    """(partition, offset) of records' event with this key and version, once published."""
    topic = stack.topic(RECORDS_TOPIC)
    size = await topic_size(endpoint("CONVENE_KAFKA_BOOTSTRAP"), topic)
    if size == 0:
        return None
    records = await read_records(endpoint("CONVENE_KAFKA_BOOTSTRAP"), topic, expected=size)
    return next(((r.partition, r.offset) for r in records if r.key == key.encode()
                 and json.loads(r.value).get("version") == version), None)
