"""Concurrent changes of one record (issue 6): every PATCH sent at the same moment lands,
and the record's events carry strictly increasing versions, never one twice.

FerretDB 1.x cannot do this with a version condition in an update (two writers both win,
tests/integration/test_infra_store.py); records claims each version with a unique insert.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from support import wait_for
from support.records import RECORDS_TOPIC, CrmAccount, api, events_of
from support.services import Stack

ROUNDS = 3


@pytest.fixture(scope="module")
def crm(stack: Stack) -> CrmAccount:
    return CrmAccount(stack)


async def patch_at_once(stack: Stack, token: str, path: str, bodies: list[dict]) -> list[dict]:
    """Send every PATCH truly concurrently (one client each); all must answer 200."""
    async def one(body: dict) -> dict:
        async with api(stack, token) as client:
            response = await client.patch(path, json=body)
        assert response.status_code == 200, (body, response.text)
        return response.json()

    return list(await asyncio.gather(*(one(body) for body in bodies)))


async def versions_published(stack: Stack, key: str, count: int) -> list:
    """The aggregate's events once ``count`` are on the topic."""
    async def enough() -> list | None:
        events = await events_of(stack, RECORDS_TOPIC, key)
        return events if len(events) >= count else None

    return await wait_for(enough, f"{count} events of {key}", timeout=60, interval=0.5)


def strictly_increasing(versions: list[int]) -> bool:
    return all(a < b for a, b in zip(versions, versions[1:], strict=False))


async def test_concurrent_patches_of_one_contact_all_land(stack: Stack, crm: CrmAccount) -> None:
    other = await _user(stack, crm)
    path = f"/contacts/{crm.contact['id']}"
    for round_ in range(ROUNDS):
        tag = f"{round_}{uuid.uuid4().hex[:4]}"
        wanted = {"email": f"moved-{tag}@client.example", "first_name": f"Zed{tag}",
                  "last_name": f"Racer{tag}",
                  "time_zone": ["Asia/Tokyo", "Europe/Paris", "America/Lima"][round_],
                  "language": ["ja", "fr", "es"][round_],
                  "owner_user_id": [other, crm.host["id"], other][round_]}
        await patch_at_once(stack, crm.admin, path, [{k: v} for k, v in wanted.items()])
        async with api(stack, crm.admin) as client:
            final = (await client.get(path)).json()
        shown = {k: v for k, v in wanted.items() if k != "owner_user_id"}
        assert {k: final[k] for k in shown} == shown, round_  # no change was lost

    changes = ROUNDS * 6
    events = await versions_published(stack, crm.contact["id"], 1 + changes)
    versions = [e.version for e in events]
    assert versions == list(range(1, 2 + changes)), versions  # increasing, no repeat, no gap
    last = events[-1]
    assert (last.email, last.first_name, last.owner_user_id) == (
        wanted["email"], wanted["first_name"], wanted["owner_user_id"])


async def test_concurrent_patches_of_one_company_and_deal_all_land(
    stack: Stack, crm: CrmAccount
) -> None:
    other = await _user(stack, crm)
    cases = [
        (f"/companies/{crm.company['id']}", crm.company["id"], lambda tag, i: {
            "name": f"Globex {tag}", "domain": f"globex-{tag}.example",
            "owner_user_id": [other, crm.host["id"]][i % 2]}),
        (f"/deals/{crm.deal['id']}", crm.deal["id"], lambda tag, i: {
            "name": f"Renewal {tag}", "stage": f"stage-{tag}",
            "close_at": f"2031-0{i + 1}-01T10:00:00Z",
            "owner_user_id": [other, crm.host["id"]][i % 2],
            "amount": f"{1000 + i}.50"}),
    ]
    for path, key, fields in cases:
        answered: list[int] = []
        for round_ in range(ROUNDS):
            wanted = fields(f"{round_}{uuid.uuid4().hex[:4]}", round_)
            answers = await patch_at_once(stack, crm.admin, path,
                                          [{k: v} for k, v in wanted.items()])
            answered += [a["version"] for a in answers]
            async with api(stack, crm.admin) as client:
                final = (await client.get(path)).json()
            for name, value in wanted.items():
                shown = final[name]
                if name == "close_at":
                    shown = shown.replace("+00:00", "Z")
                assert shown == value, (path, name, final)
        assert len(set(answered)) == len(answered), answered  # each 200 its own version
        changes = len(answered)
        events = await versions_published(stack, key, 1 + changes)
        versions = [e.version for e in events]
        assert strictly_increasing(versions) and versions[-1] == 1 + changes, versions
        assert sorted(answered) == versions[1:]


async def _user(stack: Stack, crm: CrmAccount) -> str:
    async with api(stack, crm.admin) as client:
        created = await client.post("/users", json={
            "email": f"racer-{uuid.uuid4().hex[:6]}@acme.example", "name": "Rita Racer",
            "time_zone": "UTC", "language": "en"})
    assert created.status_code == 201, created.text
    return created.json()["id"]
