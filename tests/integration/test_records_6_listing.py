"""Listing without a search, tasks by due time (R7), restoring soft-deleted records, and a
task's associations in step with /associations (issue 6), on the real store and topic."""

from __future__ import annotations

import uuid

import pytest
from convene_schemas.events.records import AssociationChanged, RecordDeleted, TaskUpserted
from support import wait_for
from support.records import RECORDS_TOPIC, CrmAccount, api, events_of
from support.services import Stack
from support.skeleton import Account


@pytest.fixture(scope="module")
def account(stack: Stack) -> Account:
    return Account(stack)


async def every_page(client, path: str, **params) -> list[dict]:
    items, cursor = [], None
    while True:
        response = await client.get(path, params={**params, "limit": 2}
                                    | ({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def test_records_are_listed_and_restored(stack: Stack, account: Account) -> None:
    async with api(stack, account.admin) as client:
        made = {}
        for name in ("Beta", "alpha", "Delta", "gamma", "Epsilon"):
            created = await client.post("/deals", json={"name": name, "stage": "new"})
            assert created.status_code == 201, created.text
            made[name] = created.json()
        assert (await client.delete(f"/deals/{made['Delta']['id']}")).status_code == 204
        listed = await every_page(client, "/deals")
        assert [d["name"] for d in listed] == ["alpha", "Beta", "Epsilon", "gamma"]

        restored = await client.post(f"/deals/{made['Delta']['id']}/restore")
        assert restored.status_code == 200, restored.text
        assert restored.json()["version"] == 3
        assert [d["name"] for d in await every_page(client, "/deals")] == [
            "alpha", "Beta", "Delta", "Epsilon", "gamma"]
        assert [d["id"] for d in await every_page(client, "/deals", name="del")] == [
            made["Delta"]["id"]]
        live = await client.post(f"/deals/{made['Beta']['id']}/restore")
        assert (live.status_code, live.json()["error"]["code"]) == (409, "not_deleted")
        never = await client.post("/deals/deal_never/restore")
        assert never.status_code == 404

        contact = account.contact
        assert (await client.delete(f"/contacts/{contact['id']}")).status_code == 204
        assert contact["id"] not in [c["id"] for c in await every_page(client, "/contacts")]
        back = await client.post(f"/contacts/{contact['id']}/restore")
        assert back.status_code == 200 and back.json() == contact
        assert contact["id"] in [c["id"] for c in await every_page(client, "/contacts")]

    intruder = Account(stack)
    async with api(stack, intruder.admin) as client:
        foreign = await client.post(f"/deals/{made['Beta']['id']}/restore")
        assert foreign.status_code == 404 and "Beta" not in foreign.text
        assert [d["id"] for d in await every_page(client, "/deals")] == []

    history = await wait_for(lambda: _at_least(stack, made["Delta"]["id"], 3), "3 deal events")
    assert [type(e).__name__ for e in history] == ["DealUpserted", "RecordDeleted",
                                                   "DealUpserted"]
    assert isinstance(history[1], RecordDeleted) and history[2].version == 3


async def test_tasks_by_owner_and_due_time(stack: Stack, account: Account) -> None:
    async with api(stack, account.admin) as client:
        other = (await client.post("/users", json={
            "email": f"tess-{uuid.uuid4().hex[:6]}@acme.example", "name": "Tess",
            "time_zone": "UTC", "language": "en"})).json()["id"]
        host = account.host["id"]
        for title, who, due, status in [
                ("march", host, "2031-03-01T10:00:00+01:00", "not_started"),
                ("jan", host, "2031-01-15T09:00:00Z", "in_progress"),
                ("feb", other, "2031-02-01T00:00:00Z", "completed"),
                ("undated", host, None, "not_started"),
                ("jan-too", host, "2031-01-15T09:00:00Z", "waiting")]:
            body = {"title": title, "owner_user_id": who, "status": status,
                    **({"due_at": due} if due else {})}
            assert (await client.post("/tasks", json=body)).status_code == 201

        async def titles(**params) -> list[str]:
            return [t["title"] for t in await every_page(client, "/tasks", **params)]

        by_host = await titles(owner_user_id=host)
        assert by_host[-1] == "undated" and by_host[2] == "march"
        assert sorted(by_host[:2]) == ["jan", "jan-too"]  # same due time: by id
        assert await titles(owner_user_id=host, due_before="2031-03-01T09:00:01Z",
                            due_after="2031-01-15T09:00:00Z") == by_host[:3]
        assert await titles(due_after="2031-01-16T00:00:00Z") == ["feb", "march"]
        assert await titles(owner_user_id=other, status="completed") == ["feb"]
        bad = await client.get("/tasks", params={"due_before": "2031-13-01"})
        assert (bad.status_code, bad.json()["error"]["code"]) == (422, "invalid_due_bound")


async def test_a_tasks_associations_follow_association_changes(
        stack: Stack, account: Account) -> None:
    contact = {"kind": "contact", "id": account.contact["id"]}
    async with api(stack, account.admin) as client:
        company = (await client.post("/companies", json={"name": "Hooli"})).json()
        task = (await client.post("/tasks", json={
            "title": "Follow up", "owner_user_id": account.host["id"],
            "associations": [contact]})).json()
        ref = {"kind": "task", "id": task["id"]}
        links = (await client.get(f"/tasks/{task['id']}/associations")).json()["items"]
        assert len(links) == 1 and links[0]["to_record"] == contact
        added = await client.post("/associations", json={
            "from_record": {"kind": "company", "id": company["id"]}, "to_record": ref})
        assert added.status_code == 201, added.text
        now = (await client.get(f"/tasks/{task['id']}")).json()
        assert now["associations"] == [contact, {"kind": "company", "id": company["id"]}]
        assert (await client.delete(f"/associations/{links[0]['id']}")).status_code == 204
        now = (await client.get(f"/tasks/{task['id']}")).json()
        assert (now["associations"], now["version"]) == (
            [{"kind": "company", "id": company["id"]}], 3)

    events = await wait_for(lambda: _at_least(stack, task["id"], 3), "3 TaskUpserted")
    assert all(isinstance(e, TaskUpserted) for e in events)
    assert [len(e.associations) for e in events] == [1, 2, 1]
    [first, removed] = await wait_for(lambda: _at_least(stack, links[0]["id"], 2),
                                      "the contact association created and removed")
    assert isinstance(first, AssociationChanged) and [first.associated, removed.associated] == [
        True, False]


async def _at_least(stack: Stack, key: str, count: int) -> list | None:
    events = await events_of(stack, RECORDS_TOPIC, key)
    return events if len(events) >= count else None


async def test_another_account_cannot_restore_or_probe_records(stack: Stack) -> None:
    """Every POST .../restore of the OpenAPI document, with a second account's token and
    the first account's ids (live or deleted): 404 and nothing of the first account."""
    owner, intruder = CrmAccount(stack), Account(stack)
    ids = {"contacts": owner.contact["id"], "companies": owner.company["id"],
           "deals": owner.deal["id"], "tickets": owner.ticket["id"], "tasks": owner.task["id"]}
    async with api(stack, owner.admin) as client:
        spec = (await client.get("/openapi.json")).json()
        assert (await client.delete(f"/tickets/{owner.ticket['id']}")).status_code == 204
    paths = [p for p, ops in spec["paths"].items() if p.endswith("/restore") and "post" in ops]
    assert sorted(p.split("/")[1] for p in paths) == sorted(ids)
    for path in paths:
        url = path.replace(path[path.index("{"):path.index("}") + 1], ids[path.split("/")[1]])
        async with api(stack, intruder.admin) as client:
            response = await client.post(url)
        assert response.status_code == 404, (url, response.text)
        for secret in (owner.id, *ids.values(), owner.company["name"], owner.deal["name"]):
            assert secret not in response.text, (url, secret)
    async with api(stack, owner.admin) as client:
        assert (await client.get(f"/tickets/{owner.ticket['id']}")).status_code == 404
