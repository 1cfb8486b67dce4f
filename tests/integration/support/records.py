"""Helpers for records' integration tests: CRM records through the API, meeting events
published as meetings would, timelines and reports read back."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from convene_kit.testing import read_records
from convene_schemas.base import Event
from convene_schemas.envelope import from_kafka_message, new_event_id, to_kafka_message
from convene_schemas.events.meetings import MeetingScheduled, MeetingSnapshot, ical_uid_for

from support import endpoint, wait_for
from support.services import Stack
from support.skeleton import Account, auth

MEETINGS_TOPIC = "meetings.events.v1"
RECORDS_TOPIC = "records.events.v1"


def api(stack: Stack, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=stack.url("records"), headers=auth(token), timeout=15)


class CrmAccount(Account):
    """An account with a host, a contact, a company, a deal, a ticket, a task and one
    association (company - deal)."""

    def __init__(self, stack: Stack) -> None:
        super().__init__(stack)
        suffix = uuid.uuid4().hex[:8]
        with httpx.Client(base_url=stack.url("records"), headers=auth(self.admin),
                          timeout=10) as client:
            self.company = self._create(client, "/companies", {
                "name": f"Globex {suffix}", "domain": f"globex-{suffix}.example",
                "owner_user_id": self.host["id"]})
            self.deal = self._create(client, "/deals", {
                "name": f"Renewal {suffix}", "stage": "qualified", "amount": "1500.00",
                "currency": "EUR"})
            self.ticket = self._create(client, "/tickets", {
                "subject": f"Login fails {suffix}", "status": "new", "priority": "high"})
            self.task = self._create(client, "/tasks", {
                "title": f"Send quote {suffix}", "owner_user_id": self.host["id"],
                "due_at": "2031-01-15T09:00:00Z", "status": "not_started",
                "associations": [{"kind": "deal", "id": self.deal["id"]}]})
            self.association = self._create(client, "/associations", {
                "from_record": {"kind": "company", "id": self.company["id"]},
                "to_record": {"kind": "deal", "id": self.deal["id"]}})

    @staticmethod
    def _create(client: httpx.Client, path: str, body: dict) -> dict:
        response = client.post(path, json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def refs(self) -> list[dict[str, str]]:
        """Associations naming the contact, the company and the deal."""
        return [{"kind": "contact", "id": self.contact["id"]},
                {"kind": "company", "id": self.company["id"]},
                {"kind": "deal", "id": self.deal["id"]}]

    def timeline_paths(self) -> list[str]:
        return [f"/contacts/{self.contact['id']}/timeline",
                f"/companies/{self.company['id']}/timeline",
                f"/deals/{self.deal['id']}/timeline"]


async def publish_events(stack: Stack, events: list[Event]) -> list[tuple[int, int]]:
    """Publish events on their topics as their service would (new event ids), in order;
    returns each one's (partition, offset)."""
    producer = AIOKafkaProducer(bootstrap_servers=endpoint("CONVENE_KAFKA_BOOTSTRAP"),
                                enable_idempotence=True, acks="all")
    await producer.start()
    try:
        sent = []
        for event in events:
            record = to_kafka_message(event, event_id=new_event_id())
            meta = await producer.send_and_wait(stack.topic(type(event).TOPIC),
                                                value=record.value, key=record.key,
                                                headers=record.headers)
            sent.append((meta.partition, meta.offset))
        return sent
    finally:
        await producer.stop()


async def events_of(stack: Stack, topic: str, key: str) -> list[Any]:
    """The decoded events of one aggregate on a topic, in order."""
    records = await read_records(endpoint("CONVENE_KAFKA_BOOTSTRAP"), stack.topic(topic),
                                 expected=1)
    return [from_kafka_message(r.value, r.headers, r.key).event
            for r in records if r.key == key.encode()]


async def timeline(stack: Stack, token: str, path: str) -> list[dict]:
    async with api(stack, token) as client:
        response = await client.get(path, params={"limit": 200})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def quiet_meeting(account_id: str, *, organizer: str, host: str, start: datetime,
                  outcome: str = "scheduled", meeting_type: str | None = None,
                  contacts: tuple[str, ...] = (), associations: list[dict] | None = None,
                  title: str = "Fixture meeting") -> MeetingScheduled:
    """A MeetingScheduled that sends no invitation (so no mail reaches the sink)."""
    meeting_id = f"mtg_{uuid.uuid4().hex}"
    return MeetingScheduled(
        account_id=account_id, version=0, occurred_at=datetime.now(timezone.utc),
        meeting_id=meeting_id, ical_uid=ical_uid_for(meeting_id), title=title,
        start=start, end=start + timedelta(minutes=30), time_zone="Europe/Rome",
        duration_minutes=30, host_user_id=host, organizer_user_id=organizer,
        on_behalf=organizer != host,
        attendees=[{"kind": "contact", "id": c, "invite": False,
                    "no_invite_reason": "invitations_off"} for c in contacts],
        meeting_type=meeting_type, outcome=outcome, associations=associations or [],
        source="crm", send_invitations=False, no_invitations_reason="disabled_by_user")


def next_version(meeting: MeetingSnapshot, cls: type[MeetingSnapshot], **changes: Any) -> Any:
    """The meeting's next event of class ``cls`` with ``changes`` applied (full snapshot)."""
    data = meeting.model_dump()
    data.update(version=meeting.version + 1, occurred_at=datetime.now(timezone.utc), **changes)
    allowed = set(cls.model_fields)
    return cls(**{k: v for k, v in data.items() if k in allowed})


async def wait_for_timelines(stack: Stack, token: str, paths: list[str], meeting_id: str,
                             check, what: str, timeout: float = 45) -> list[dict]:
    """Poll until the meeting's entry on every path satisfies ``check``; returns the entries."""
    async def probe() -> list[dict] | None:
        found = []
        for path in paths:
            entry = next((e for e in await timeline(stack, token, path)
                          if e["meeting_id"] == meeting_id), None)
            if entry is None or not check(entry):
                return None
            found.append(entry)
        return found

    return await wait_for(probe, what, timeout=timeout, interval=0.3)


async def connect_calendar(stack: Stack, account: Account) -> None:
    """Announce a connected Google calendar of the host, as calendar-sync would, so that
    meetings lets the host schedule (R16)."""
    from convene_schemas.events.calendar_sync import Calendar, CalendarConnected

    connection_id = f"conn_{uuid.uuid4().hex}"
    await publish_events(stack, [CalendarConnected(
        account_id=account.id, version=1, occurred_at=datetime.now(timezone.utc),
        connection_id=connection_id, user_id=account.host["id"], provider="google",
        account_email=account.host["email"],
        calendars=[Calendar(calendar_id="primary", name="Work", primary=True, access="owner",
                            active=True)],
        primary_calendar_id="primary", sync_enabled=True, purpose="all")])
