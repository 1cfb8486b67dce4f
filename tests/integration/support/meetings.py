"""meetings' integration-test helpers: an account of its own (so calendar connections made
here never touch the shared ``account`` fixture), posting while read models fill, reading
the meetings topic."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
from convene_kit.testing import read_records
from convene_schemas.envelope import from_kafka_message

from support import endpoint, wait_for
from support.services import Stack
from support.skeleton import auth

NOT_YET = ("unknown_host", "unknown_attendee")
"""Codes meaning "meetings has not seen records' events yet"."""


class MeetingsAccount:
    """An account with users of several seats and two contacts, made through records' API."""

    def __init__(self, stack: Stack, *, sandbox: bool = False) -> None:
        self.stack = stack
        self.id = f"acc_{uuid.uuid4().hex[:12]}"
        admin = stack.token(self.id, "usr_admin", roles="admin")
        self.users: dict[str, dict[str, Any]] = {}
        with httpx.Client(base_url=stack.url("records"), headers=auth(admin), timeout=10) as c:
            assert c.post("/account", json={"name": "Initech", "sandbox": sandbox}).status_code == 201
            for name, seat in (("host", "sales_professional"), ("pro", "service_enterprise"),
                               ("free", "none")):
                made = c.post("/users", json={
                    "email": f"{name}-{uuid.uuid4().hex[:6]}@initech.example", "name": name,
                    "time_zone": "Europe/Rome", "language": "en", "seat": seat})
                assert made.status_code == 201, made.text
                self.users[name] = made.json()
            contact = c.post("/contacts", json={
                "email": f"peter-{uuid.uuid4().hex[:6]}@client.example", "first_name": "Peter"})
            nomail = c.post("/contacts", json={"first_name": "Milton"})
            assert contact.status_code == nomail.status_code == 201
            self.contact, self.nomail = contact.json(), nomail.json()

    def uid(self, name: str) -> str:
        return self.users[name]["id"]

    def token(self, name: str, team: bool = True) -> str:
        return self.stack.token(self.id, self.uid(name), roles="team" if team else "")


def future_start(days: int = 3) -> str:
    start = datetime.now(timezone.utc) + timedelta(days=days)
    return start.replace(hour=10, minute=0, second=0, microsecond=0, tzinfo=None).isoformat()


def meeting_body(acc: MeetingsAccount, **extra: Any) -> dict[str, Any]:
    return {"title": f"Sync-{uuid.uuid4().hex[:8]}", "start": future_start(),
            "time_zone": "Europe/Rome", "duration_minutes": 30,
            "attendees": [{"kind": "contact", "id": acc.contact["id"]}], **extra}


async def call(stack: Stack, method: str, path: str, token: str,
               json: Any = None) -> httpx.Response:
    async with httpx.AsyncClient(base_url=stack.url("meetings"), timeout=20) as client:
        return await client.request(method, path, json=json, headers=auth(token))


async def post_when_known(stack: Stack, token: str, body: dict[str, Any],
                          waiting_for: tuple[str, ...] = NOT_YET) -> httpx.Response:
    """POST /meetings, repeated while the answer is one of ``waiting_for`` (read models
    not filled yet); returns the first other answer."""
    async def attempt() -> httpx.Response | None:
        response = await call(stack, "POST", "/meetings", token, body)
        if response.status_code == 422 and response.json()["error"]["code"] in waiting_for:
            return None
        return response

    return await wait_for(attempt, f"meetings to answer other than {waiting_for}", timeout=40)


async def meeting_events(stack: Stack, meeting_id: str, expected: int) -> list[Any]:
    """The meeting's events on the stack's meetings topic, in topic order."""
    async def enough() -> list[Any] | None:
        records = await read_records(endpoint("CONVENE_KAFKA_BOOTSTRAP"),
                                     stack.topic("meetings.events.v1"), expected=1)
        mine = [r for r in records if r.key == meeting_id.encode()]
        return mine if len(mine) >= expected else None

    records = await wait_for(enough, f"{expected} events of {meeting_id}", timeout=40)
    return [from_kafka_message(r.value, r.headers, r.key).event for r in records]


async def publish_event(stack: Stack, event: Any) -> None:
    """Publish any contract event as its owning service would (booking-pages, ...)."""
    from support.calendars import publish_calendar_event

    await publish_calendar_event(stack, event)


async def publish_as(stack: Stack, event: Any, event_id: str) -> tuple[int, int]:
    """Publish a contract event with a chosen event id (a redelivery reuses it); returns the
    record's partition and offset."""
    from convene_schemas.envelope import to_kafka_message

    from support.skeleton import publish

    record = to_kafka_message(event, event_id=event_id)
    return await publish(stack, record.topic, record.key, record.value, record.headers)


async def account_records(stack: Stack, account_id: str) -> list[Any]:
    """The account's records on the meetings topic, decoded: [(record, event)], topic order."""
    records = await read_records(endpoint("CONVENE_KAFKA_BOOTSTRAP"),
                                 stack.topic("meetings.events.v1"), expected=1)
    decoded = [(r, from_kafka_message(r.value, r.headers, r.key).event) for r in records]
    return [(r, e) for r, e in decoded if e.account_id == account_id]


async def booked_records(stack: Stack, account_id: str, booking_id: str) -> list[Any]:
    """The meetings topic's records of the meeting made from ``booking_id``: [(record, event)]."""
    return [(r, e) for r, e in await account_records(stack, account_id)
            if e.booking_id == booking_id]


async def contacts_with_email(stack: Stack, acc: MeetingsAccount, email: str) -> list[dict]:
    """GET /contacts?email= on records' API: the account's live contacts with the address
    (compared case-insensitively)."""
    admin = stack.token(acc.id, "usr_admin", roles="admin")
    async with httpx.AsyncClient(base_url=stack.url("records"), timeout=20) as client:
        response = await client.get("/contacts", params={"email": email}, headers=auth(admin))
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def consumed_by(stack: Stack, service: str, topic: str, partition: int,
                      offset: int) -> None:
    """Wait until ``service``'s consumer group committed past ``offset`` of ``topic``."""
    from convene_kit.testing import committed_offset

    async def past() -> bool:
        committed = await committed_offset(endpoint("CONVENE_KAFKA_BOOTSTRAP"),
                                           f"{stack.prefix}{service}", stack.topic(topic),
                                           partition)
        return committed is not None and committed > offset

    await wait_for(past, f"{service} to consume {topic}[{partition}]@{offset}", timeout=60)


async def known_without_calendar(stack: Stack, acc: MeetingsAccount) -> httpx.Response:
    """Wait until meetings knows the host (who has no calendar) and the contact: the contact
    through a meeting of user "pro" (calendar connected, no invitations sent), the host by
    R16's refusal. Returns that refusal."""
    from support.calendars import connect_calendar

    await connect_calendar(stack, acc, acc.uid("pro"))
    warm = await post_when_known(stack, acc.token("pro"), meeting_body(acc, send_invitations=False),
                                 waiting_for=NOT_YET + ("no_connected_calendar",))
    assert warm.status_code == 201, warm.text
    refused = await post_when_known(stack, acc.token("host"), meeting_body(acc))
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "no_connected_calendar"
    return refused
