"""A cross-tenant sweep generated from the five OpenAPI documents (tests/integration's
test_records_3_sweep.py did it for records): account A owns a record of every kind, a
meeting, a CalDAV connection and a scheduling page; account B's admin, given A's ids, calls
every method of every path with an id and gets 404 or 403 with none of A's data, and B's
lists (every GET without an id) hold none of A's ids. A new endpoint is swept without
editing this test; an id parameter it cannot fill fails it."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from security_support import FIGURES, Operation, auth, openapi, operations
from security_support.stack import SecurityStack
from support import wait_for
from support.calendar_sync import own_radicale_user, sync_call
from support.calendars import connect_calendar
from support.records import CrmAccount
from support.skeleton import Account, schedule

SERVICES = ("records", "meetings", "calendar-sync", "notifications", "booking-pages")
RECORD_OF_COLLECTION = {"contacts": "contact", "companies": "company", "deals": "deal",
                        "tickets": "ticket", "tasks": "task", "users": "user",
                        "associations": "association"}
IN_TWO_DAYS = (datetime.now(timezone.utc) + timedelta(days=2)).replace(
    hour=9, minute=0, second=0, microsecond=0, tzinfo=None).isoformat()
# Bodies valid for any meeting, page or connection, so a refusal is about the id (a 422
# for the body would prove nothing about tenancy).
BODIES: dict[str, Any] = {
    "/reschedule": {"start": IN_TWO_DAYS, "time_zone": "Europe/Rome", "duration_minutes": 30},
    "/outcome": {"outcome": "completed"},
}


class Owner:
    """Account A: CRM records (support.records.CrmAccount), a meeting, a CalDAV connection
    of its host and a scheduling page."""

    def __init__(self, stack: SecurityStack) -> None:
        self.crm = CrmAccount(stack)
        self.meeting: dict[str, Any] = {}
        self.connection: dict[str, Any] = {}
        self.page: dict[str, Any] = {}

    def ids(self) -> dict[str, str]:
        crm = self.crm
        return {"contact": crm.contact["id"], "company": crm.company["id"], "deal": crm.deal["id"],
                "ticket": crm.ticket["id"], "task": crm.task["id"], "user": crm.host["id"],
                "association": crm.association["id"], "meeting": self.meeting["id"],
                "connection": self.connection["connection_id"], "page": self.page["page_id"],
                "account": crm.id}

    def secrets(self) -> list[str]:
        crm = self.crm
        return [*self.ids().values(), crm.contact["email"], crm.host["email"],
                crm.company["name"], crm.deal["name"], crm.ticket["subject"], crm.task["title"],
                self.meeting["title"], self.page["slug"], self.page["title"]]


@pytest.fixture(scope="module")
async def owner(stack: SecurityStack) -> AsyncIterator[Owner]:
    owner = Owner(stack)
    crm = owner.crm
    await connect_calendar(stack, crm, crm.host["id"])  # meetings needs one (R16)
    owner.meeting = (await schedule(stack, crm, f"Tenancy secret {uuid.uuid4().hex[:6]}",
                                    f"tenancy note {uuid.uuid4().hex}"))["meeting"]
    async with httpx.AsyncClient(base_url=stack.url("records"), timeout=10) as client:
        granted = await client.patch(f"/users/{crm.host['id']}", headers=auth(crm.admin),
                                     json={"personal_email_access": True})
    assert granted.status_code == 200, granted.text
    # A Radicale user of this module with a calendar of its own (a shared user's calendars
    # come and go with other tests: none writable means no connection, 422).
    async with own_radicale_user() as radicale:
        await radicale.make("tenancy")
        with stack.private_urls_allowed():  # Radicale is on 127.0.0.1
            body = {"url": radicale.url, "username": radicale.user, "password": radicale.password}

            async def connect() -> httpx.Response | None:
                answer = await sync_call(stack, "POST", "/connections/caldav", crm.host_token,
                                         json=body)
                return None if answer.status_code == 403 else answer  # the grant not seen yet

            connected = await wait_for(connect, "calendar-sync to let the host connect",
                                       timeout=40)
            assert connected.status_code == 201, connected.text
            owner.connection = connected.json()
        async with httpx.AsyncClient(base_url=stack.url("booking-pages"), timeout=10) as client:
            page = await client.post("/pages", headers=auth(crm.host_token), json={
                "slug": f"tenancy-{uuid.uuid4().hex[:10]}", "title": "Tenancy secret page",
                "time_zone": "Europe/Rome"})
        assert page.status_code == 201, page.text
        owner.page = page.json()
        yield owner


def fill(op: Operation, ids: dict[str, str]) -> str:
    """The path with every id parameter replaced by A's id of that kind."""
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "record_id":
            collection = op.path[:match.start()].rstrip("/").rsplit("/", 1)[-1]
            return ids[RECORD_OF_COLLECTION[collection]]
        kind = name.removesuffix("_id")
        if kind not in ids:
            raise AssertionError(f"the sweep cannot fill {{{name}}} of {op.method} {op.path}")
        return ids[kind]
    return re.sub(r"\{([^}]+)\}", replace, op.path)


def enum_value(document: dict[str, Any], schema: dict[str, Any]) -> str | None:
    """The first value of an enumerated parameter (inline or through a $ref), else None."""
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    for option in schema.get("anyOf", []) + schema.get("allOf", []):
        found = enum_value(document, option)
        if found is not None:
            return found
    return str(schema["enum"][0]) if schema.get("enum") else None


def query(op: Operation, owner: Owner, document: dict[str, Any]) -> dict[str, str]:
    """A's values for the required query parameters (A's meeting for /emails), wide ranges
    for from/to, a week for start/end (availability), and the first value of an enumerated
    one (a report's group_by)."""
    now = datetime.now(timezone.utc)
    values = {"meeting_id": owner.meeting["id"], "email": owner.crm.contact["email"],
              "from": (now - timedelta(days=3650)).isoformat(),
              "to": (now + timedelta(days=3650)).isoformat(), "name": owner.crm.company["name"][:6],
              "start": now.isoformat(), "end": (now + timedelta(days=7)).isoformat()}
    found = {}
    for parameter in op.spec.get("parameters", []):
        name = parameter["name"]
        if parameter["in"] != "query" or not parameter.get("required"):
            continue
        value = values.get(name) or enum_value(document, parameter.get("schema", {}))
        # An id must be A's (else the answer proves nothing); other text is just filled in
        # (an OAuth callback's state and code).
        assert value is not None or not name.endswith("_id"), \
            f"no value for required query parameter {name} of {op.path}"
        found[name] = value or "sec-probe"
    if any(p["name"] == "meeting_id" for p in op.spec.get("parameters", [])):
        found["meeting_id"] = owner.meeting["id"]
    return found


def body_for(op: Operation) -> Any:
    if op.method not in ("post", "patch", "put") or "requestBody" not in op.spec:
        return None
    return next((body for suffix, body in BODIES.items() if op.path.endswith(suffix)), {})


async def test_account_b_reaches_nothing_of_account_a(stack: SecurityStack, owner: Owner) -> None:
    intruder = Account(stack)
    b_token = stack.token(intruder.id, intruder.host["id"], roles="admin,team")
    ids, secrets = owner.ids(), owner.secrets()
    requests, leaks, refused, inconclusive = 0, [], 0, []
    for service in SERVICES:
        document = openapi(stack.url(service))
        async with httpx.AsyncClient(base_url=stack.url(service), timeout=15) as client:
            for op in operations(document):
                if not op.requires_token or (op.method == "post" and not op.path_parameters):
                    continue  # public pages; creating lands in the caller's own account
                url, params, body = fill(op, ids), query(op, owner, document), body_for(op)
                answer = await client.request(op.method.upper(), url, params=params, json=body,
                                              headers=auth(b_token))
                requests += 1
                # A's id that B sent (in the path or the query) may be echoed in the refusal.
                sent = (url, *params.values())
                shown = [s for s in secrets
                         if s in answer.text and not any(s in part for part in sent)]
                where = f"{service} {op.method.upper()} {op.path}"
                if op.path_parameters and answer.is_success or shown:
                    leaks.append((where, answer.status_code, shown, answer.text[:200]))
                elif op.path_parameters and answer.status_code in (403, 404, 401):
                    refused += 1
                elif op.path_parameters:
                    inconclusive.append((where, answer.status_code, answer.text[:200]))
    FIGURES.add("cross-tenant sweep", requests=requests, leaks=len(leaks), refused=refused,
                inconclusive=len(inconclusive))
    print(f"cross-tenant sweep: {requests} requests, {len(leaks)} leaks, {refused} refused")
    assert not leaks, f"account B saw or changed account A's data: {leaks}"
    assert not inconclusive, f"answers that prove nothing about tenancy: {inconclusive}"
    assert refused >= 30, refused  # every service's id paths were reached
    # A's things are as they were.
    crm = owner.crm
    async with httpx.AsyncClient(timeout=10) as client:
        meeting = await client.get(f"{stack.url('meetings')}/meetings/{ids['meeting']}",
                                   headers=auth(crm.host_token))
        page = await client.get(f"{stack.url('booking-pages')}/pages/{ids['page']}",
                                headers=auth(crm.host_token))
        connection = await client.get(f"{stack.url('calendar-sync')}/connections/{ids['connection']}",
                                      headers=auth(crm.host_token))
        contact = await client.get(f"{stack.url('records')}/contacts/{ids['contact']}",
                                   headers=auth(crm.admin))
    assert meeting.status_code == 200 and meeting.json()["version"] == owner.meeting["version"]
    assert meeting.json()["outcome"] == owner.meeting["outcome"]
    assert page.status_code == 200 and page.json()["version"] == owner.page["version"]
    assert connection.status_code == 200 and connection.json()["status"] == "active"
    assert contact.status_code == 200 and contact.json() == crm.contact  # no version on contacts
