"""Tenancy sweep over every records endpoint (GET, PATCH, DELETE, POST on a record), generated from records'
OpenAPI document: a second account's token, given the first account's ids, gets 404 (or
403) and none of the first account's data. A new endpoint is swept without editing this
test."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from support import wait_for
from support.records import CrmAccount, api, publish_events, quiet_meeting, timeline
from support.services import Stack
from support.skeleton import Account

KIT_PATHS = {"/healthz", "/readyz", "/metrics"}
KIND_OF_COLLECTION = {"contacts": "contact", "companies": "company", "deals": "deal",
                      "tickets": "ticket", "tasks": "task", "users": "user",
                      "associations": "association"}


@pytest.fixture(scope="module")
def owner(stack: Stack) -> CrmAccount:
    return CrmAccount(stack)


@pytest.fixture(scope="module")
def intruder(stack: Stack) -> Account:
    return Account(stack)


def ids_of(owner: CrmAccount) -> dict[str, str]:
    return {"contact": owner.contact["id"], "company": owner.company["id"],
            "deal": owner.deal["id"], "ticket": owner.ticket["id"], "task": owner.task["id"],
            "user": owner.host["id"],
            "association": owner.association["id"]}


def fill(path: str, ids: dict[str, str]) -> str:
    """The path with each parameter replaced by the owner's id of the collection it follows."""
    def replace(match: re.Match[str]) -> str:
        collection = path[:match.start()].rstrip("/").rsplit("/", 1)[-1]
        return ids[KIND_OF_COLLECTION[collection]]
    return re.sub(r"\{[^}]+\}", replace, path)


def query_for(operation: dict, owner: CrmAccount) -> dict[str, str]:
    """Values for the operation's required query parameters, and for search filters (the
    owner's contact's email)."""
    now = datetime.now(timezone.utc)
    values: dict[str, str] = {}
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "query" and parameter["name"] == "email":
            values["email"] = owner.contact["email"]
            continue
        if parameter["in"] != "query" or not parameter.get("required"):
            continue
        schema = parameter.get("schema", {})
        if "enum" in schema:
            values[parameter["name"]] = schema["enum"][0]
        elif parameter["name"] == "name":
            values["name"] = owner.company["name"][:6]
        elif parameter["name"] == "from":
            values["from"] = (now - timedelta(days=3650)).isoformat()
        elif parameter["name"] == "to":
            values["to"] = (now + timedelta(days=3650)).isoformat()
        else:
            raise AssertionError(f"no value for required query parameter {parameter}")
    return values


def secrets_of(owner: CrmAccount) -> list[str]:
    return [owner.id, *ids_of(owner).values(), owner.contact["email"], owner.host["email"],
            owner.company["name"], owner.deal["name"], owner.ticket["subject"],
            owner.task["title"]]


async def test_another_account_reaches_nothing_of_the_first(
    stack: Stack, owner: CrmAccount, intruder: Account
) -> None:
    # Give the owner's records a meeting, so their timelines and the report are not empty.
    start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=2)
    meeting = quiet_meeting(owner.id, organizer=owner.host["id"], host=owner.host["id"],
                            start=start, contacts=(owner.contact["id"],),
                            associations=owner.refs(), title="Secret strategy")
    await publish_events(stack, [meeting])
    await wait_for(lambda: timeline(stack, owner.admin, owner.timeline_paths()[2]),
                   "the owner's deal timeline", timeout=45)

    async with api(stack, owner.admin) as client:
        spec = (await client.get("/openapi.json")).json()
    ids = ids_of(owner)
    secrets = secrets_of(owner) + [meeting.meeting_id, "Secret strategy"]
    swept = []
    for path, operations in spec["paths"].items():
        if path in KIT_PATHS:
            continue
        for method in ("get", "patch", "delete", "post"):
            if method not in operations or (method == "post" and "{" not in path):
                continue  # POST to a collection creates in the caller's own account
            url, params = fill(path, ids), query_for(operations[method], owner)
            body = {} if method in ("patch", "post") else None  # a no-op for the owner
            if method in ("get", "patch"):
                async with api(stack, owner.admin) as client:
                    own = await client.request(method.upper(), url, params=params, json=body)
                assert own.status_code == 200, (url, own.text)  # the ids are the right ones
            async with api(stack, intruder.admin) as client:
                response = await client.request(method.upper(), url, params=params, json=body)
            if "{" in path:
                assert response.status_code in (403, 404), (method, url, response.text)
                assert "error" in response.json()
            else:
                assert response.status_code in (200, 403, 404), (method, url, response.text)
            for secret in secrets:
                assert secret not in response.text, (method, url, secret)
            swept.append((method, path))

    assert ("get", "/deals/{record_id}/timeline") in swept
    assert any(method == "post" and path.endswith("/restore") for method, path in swept)
    assert ("delete", "/companies/{record_id}") in swept
    assert ("patch", "/tasks/{record_id}") in swept and ("get", "/companies") in swept
    assert ("delete", "/contacts/{contact_id}") in swept
    assert ("get", "/reports/meetings") in swept and ("get", "/contacts") in swept
    assert len(swept) >= 20
    # The intruder's deletes and changes touched nothing.
    async with api(stack, owner.admin) as client:
        for url in (f"/companies/{ids['company']}", f"/deals/{ids['deal']}",
                    f"/tickets/{ids['ticket']}", f"/tasks/{ids['task']}",
                    f"/associations/{ids['association']}", f"/contacts/{ids['contact']}"):
            found = await client.get(url)
            assert found.status_code == 200 and found.json().get("version", 1) == 1, url
    async with api(stack, intruder.admin) as client:
        crossing = await client.post("/associations", json={
            "from_record": {"kind": "contact", "id": intruder.contact["id"]},
            "to_record": {"kind": "deal", "id": ids["deal"]}})
        unknown = await client.post("/associations", json={
            "from_record": {"kind": "contact", "id": intruder.contact["id"]},
            "to_record": {"kind": "deal", "id": "deal_never_existed"}})
    # The same answer as for an id that never existed (the id echoed is the caller's own).
    assert crossing.status_code == unknown.status_code == 404
    assert crossing.text.replace(ids["deal"], "deal_never_existed") == unknown.text
