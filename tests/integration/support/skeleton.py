"""The walking skeleton's scenario: an account with a host and a contact, scheduling through
the meetings API, and what to look at afterwards (timeline, topics)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import httpx
from aiokafka import AIOKafkaProducer
from convene_kit.testing import committed_offset, read_records
from convene_schemas.events.meetings import Attendee, MeetingScheduled, ical_uid_for

from support import endpoint, wait_for
from support.services import Stack


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Account:
    """An account with a host user and a contact, created through records' API."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.id = f"acc_{uuid.uuid4().hex[:12]}"
        # The gateway knows the user before records does: the first call creates the account.
        self.admin = stack.token(self.id, "usr_admin", roles="admin")
        records = stack.url("records")
        with httpx.Client(base_url=records, headers=auth(self.admin), timeout=10) as client:
            created = client.post("/account", json={"name": "Acme", "default_time_zone": "Europe/Rome"})
            assert created.status_code == 201, created.text
            host = client.post("/users", json={
                "email": f"host-{uuid.uuid4().hex[:6]}@acme.example", "name": "Alice Host",
                "time_zone": "Europe/Rome", "language": "it", "seat": "sales_professional",
            })
            assert host.status_code == 201, host.text
            self.host = host.json()
            contact = client.post("/contacts", json={
                "email": f"zoe-{uuid.uuid4().hex[:6]}@client.example", "first_name": "Zoe",
                "last_name": "Contact", "time_zone": "America/New_York", "language": "en",
            })
            assert contact.status_code == 201, contact.text
            self.contact = contact.json()
        self.host_token = stack.token(self.id, self.host["id"], roles="team")


def meeting_request(account: Account, title: str, note: str) -> dict:
    start = (datetime.now(timezone.utc) + timedelta(days=2)).astimezone().replace(
        hour=10, minute=0, second=0, microsecond=0, tzinfo=None)
    return {
        "title": title,
        "start": start.isoformat(),
        "time_zone": "Europe/Rome",
        "duration_minutes": 30,
        "attendees": [{"kind": "contact", "id": account.contact["id"]}],
        "associations": [{"kind": "contact", "id": account.contact["id"]}],
        "attendee_description": "<p>Agenda: <b>pricing</b></p>",
        "internal_note": note,
    }


async def schedule(stack: Stack, account: Account, title: str, note: str) -> dict:
    """POST /meetings, retrying while meetings has not yet seen records' events."""
    async def attempt() -> dict | None:
        async with httpx.AsyncClient(base_url=stack.url("meetings"), timeout=10) as client:
            response = await client.post("/meetings", json=meeting_request(account, title, note),
                                         headers=auth(account.host_token))
        if response.status_code == 422 and response.json()["error"]["code"] in (
                "unknown_host", "unknown_attendee", "no_connected_calendar"):
            return None  # the read model is not there yet
        assert response.status_code == 201, response.text
        return response.json()

    return await wait_for(attempt, "meetings to accept the meeting (read models filled)", timeout=30)


async def timeline(stack: Stack, account: Account) -> list[dict]:
    async with httpx.AsyncClient(base_url=stack.url("records"), timeout=10) as client:
        response = await client.get(f"/contacts/{account.contact['id']}/timeline",
                                    headers=auth(account.admin))
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def timeline_entry(stack: Stack, account: Account, meeting_id: str) -> dict | None:
    return next((e for e in await timeline(stack, account) if e["meeting_id"] == meeting_id), None)


async def events_on(stack: Stack, topic: str, key: str) -> list:
    records = await read_records(endpoint("CONVENE_KAFKA_BOOTSTRAP"), stack.topic(topic), expected=1)
    return [r for r in records if r.key == key.encode()]


def assert_cloudevents_headers(record, event_type: str, account_id: str, subject: str) -> None:
    headers = dict(record.headers)
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_type"] == event_type.encode()
    assert headers["ce_id"] and headers["ce_source"].startswith(b"/convene/")
    assert headers["ce_time"] and headers["ce_subject"] == subject.encode()
    assert headers["ce_accountid"] == account_id.encode()
    assert headers["ce_dataversion"] == b"1"
    assert headers["content-type"] == b"application/json"


def scheduled_event(account: Account, title: str) -> MeetingScheduled:
    """A MeetingScheduled as meetings would publish it, for a meeting of the account."""
    meeting_id = f"mtg_{uuid.uuid4().hex}"
    start = (datetime.now(timezone.utc) + timedelta(days=3)).replace(microsecond=0)
    contact = account.contact
    return MeetingScheduled(
        account_id=account.id, version=0, occurred_at=datetime.now(timezone.utc),
        meeting_id=meeting_id, ical_uid=ical_uid_for(meeting_id), title=title,
        start=start, end=start + timedelta(minutes=45), time_zone="Europe/Rome",
        duration_minutes=45, host_user_id=account.host["id"], host_email=account.host["email"],
        host_name=account.host["name"], organizer_user_id=account.host["id"], on_behalf=False,
        attendees=[Attendee(kind="contact", id=contact["id"], email=contact["email"],
                            name="Zoe Contact", invite=True)],
        reminders=[], reminders_include_description=False, attendee_description="",
        outcome="scheduled", associations=[], source="crm", send_invitations=True,
    )


async def publish(stack: Stack, topic: str, key: bytes, value: bytes,
                  headers: list[tuple[str, bytes]]) -> tuple[int, int]:
    """Publish one raw record; returns its partition and offset."""
    producer = AIOKafkaProducer(bootstrap_servers=endpoint("CONVENE_KAFKA_BOOTSTRAP"),
                                enable_idempotence=True, acks="all")
    await producer.start()
    try:
        sent = await producer.send_and_wait(stack.topic(topic), value=value, key=key,
                                            headers=headers)
        return sent.partition, sent.offset
    finally:
        await producer.stop()


async def committed_past(stack: Stack, service: str, partition: int, offset: int) -> bool:
    """True once ``service``'s consumer group committed past ``offset`` on the meetings topic."""
    committed = await committed_offset(endpoint("CONVENE_KAFKA_BOOTSTRAP"),
                                       f"{stack.prefix}{service}",
                                       stack.topic("meetings.events.v1"), partition)
    return committed is not None and committed > offset


MEETING_CONSUMERS = ("notifications", "records")


async def wait_processed(stack: Stack, partition: int, offset: int, what: str,
                         timeout: float = 30) -> None:
    """Wait until every consumer of meeting events committed past ``offset``."""
    for service in MEETING_CONSUMERS:
        await wait_for(lambda service=service: committed_past(stack, service, partition, offset),
                       f"{service} to {what}", timeout=timeout)


async def assert_one_email_and_one_entry(stack: Stack, account: Account, title: str,
                                         meeting_id: str) -> None:
    """Exactly one invitation in the sink and one entry on the contact's timeline."""
    from support.mail import mails

    assert len(mails(title, account.contact["email"])) == 1
    entries = [e for e in await timeline(stack, account) if e["meeting_id"] == meeting_id]
    assert len(entries) == 1
