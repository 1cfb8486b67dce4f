"""Listing a kind without a search, tasks by due time (R7), restoring a soft-deleted record,
and a task's ``associations`` kept in step with /associations (issue 6)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from convene_records.domain.tasks import (
    DuePosition,
    InvalidDueBound,
    decode_due_cursor,
    due_query,
    encode_due_cursor,
)
from convene_records.domain.timeline import InvalidCursor
from convene_schemas.events.records import AssociationChanged, ContactUpserted, TaskUpserted
from fastapi.testclient import TestClient

from services.records.tests.fakes import RecordingPublisher


def code(response) -> str:
    return response.json()["error"]["code"]


def every_page(client: TestClient, path: str, headers, **params) -> list[dict]:
    """All items of a listing, two at a time, following ``next_cursor``."""
    items, cursor = [], None
    while True:
        paging = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        response = client.get(path, headers=headers, params={**params, **paging})
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def owner(client: TestClient, headers, email: str = "o@acme.example") -> str:
    return client.post("/users", json={"email": email, "name": "Owner", "time_zone": "UTC",
                                       "language": "en"}, headers=headers).json()["id"]


def test_a_kind_is_listed_by_name_without_deleted_ones_and_restore_brings_one_back(
        client: TestClient, account, auth, publisher: RecordingPublisher) -> None:
    ids = {name: client.post("/companies", json={"name": name}, headers=account).json()["id"]
           for name in ("beta", "Alpha", "delta", "Gamma", "epsilon")}
    client.delete(f"/companies/{ids['delta']}", headers=account)
    listed = every_page(client, "/companies", account)
    assert [c["name"] for c in listed] == ["Alpha", "beta", "epsilon", "Gamma"]
    assert every_page(client, "/companies", account, name="E") == [listed[2]]  # search still

    restored = client.post(f"/companies/{ids['delta']}/restore", headers=account)
    assert restored.status_code == 200, restored.text
    assert (restored.json()["name"], restored.json()["version"]) == ("delta", 3)
    assert [c["name"] for c in every_page(client, "/companies", account)] == [
        "Alpha", "beta", "delta", "epsilon", "Gamma"]
    assert client.get(f"/companies/{ids['delta']}", headers=account).status_code == 200
    live = client.post(f"/companies/{ids['delta']}/restore", headers=account)
    assert live.status_code == 409 and code(live) == "not_deleted"
    for missing in ("co_never", ids["beta"]):
        other = auth("acc_other") if missing != "co_never" else account
        gone = client.post(f"/companies/{missing}/restore", headers=other)
        assert gone.status_code == 404 and code(gone) == "company_not_found"
    assert every_page(client, "/companies", auth("acc_other")) == []


def test_contacts_are_listed_and_a_deleted_contact_restored(
        client: TestClient, account, publisher: RecordingPublisher) -> None:
    made = [client.post("/contacts", json={"first_name": first, "last_name": "X"},
                        headers=account).json() for first in ("Zoe", "Adam", "Mia")]
    client.delete(f"/contacts/{made[2]['id']}", headers=account)
    assert [c["first_name"] for c in every_page(client, "/contacts", account)] == ["Adam", "Zoe"]
    restored = client.post(f"/contacts/{made[2]['id']}/restore", headers=account)
    assert restored.status_code == 200 and restored.json() == made[2]
    event = publisher.events()[-1].event
    assert isinstance(event, ContactUpserted) and event.version == 3
    assert [c["first_name"] for c in every_page(client, "/contacts", account,
                                                name="mi")] == ["Mia"]
    again = client.post(f"/contacts/{made[0]['id']}/restore", headers=account)
    assert again.status_code == 409 and code(again) == "not_deleted"


def test_tasks_are_listed_by_owner_due_range_and_status(client: TestClient, account) -> None:
    ann, bob = owner(client, account), owner(client, account, "bob@acme.example")

    def task(title: str, who: str, due: str | None, status: str = "not_started") -> str:
        body = {"title": title, "owner_user_id": who, "status": status,
                **({"due_at": due} if due else {})}
        response = client.post("/tasks", json=body, headers=account)
        assert response.status_code == 201, response.text
        return response.json()["id"]

    task("march", ann, "2031-03-01T09:00:00+01:00")
    task("jan", ann, "2031-01-15T09:00:00Z")
    task("feb", bob, "2031-02-01T00:00:00Z", "completed")
    task("someday", ann, None)
    gone = task("dropped", ann, "2031-01-20T00:00:00Z")
    client.delete(f"/tasks/{gone}", headers=account)

    def titles(**params) -> list[str]:
        return [t["title"] for t in every_page(client, "/tasks", account, **params)]

    assert titles(owner_user_id=ann) == ["jan", "march", "someday"]  # undated last
    assert titles(due_after="2031-01-01T00:00:00Z") == ["jan", "feb", "march"]
    assert titles(due_before="2031-03-01T08:00:00Z") == ["jan", "feb"]  # 09:00+01 = 08:00Z
    assert titles(owner_user_id=ann, due_before="2031-12-31T00:00:00Z",
                  due_after="2031-02-01T00:00:00Z") == ["march"]
    assert titles(status="completed") == ["feb"]
    assert titles() == ["feb", "jan", "march", "someday"]  # by title; "dropped" is deleted
    for params in ({"due_before": "tomorrow"}, {"due_after": "2031-01-01T00:00:00"},
                   {"due_after": "2031-02-01T00:00:00Z", "due_before": "2031-01-01T00:00:00Z"}):
        bad = client.get("/tasks", params=params, headers=account)
        assert bad.status_code == 422 and code(bad) == "invalid_due_bound", params
    both = client.get("/tasks", params={"name": "j", "status": "completed"}, headers=account)
    assert both.status_code == 422 and code(both) == "invalid_search"
    cursor = client.get("/tasks", params={"owner_user_id": ann, "cursor": "x"}, headers=account)
    assert cursor.status_code == 400 and code(cursor) == "invalid_cursor"


def test_a_tasks_associations_follow_the_association_documents(
        client: TestClient, account, publisher: RecordingPublisher) -> None:
    deal = client.post("/deals", json={"name": "D", "stage": "s"}, headers=account).json()
    company = client.post("/companies", json={"name": "C"}, headers=account).json()
    task = client.post("/tasks", json={"title": "T", "owner_user_id": owner(client, account),
                                       "associations": [{"kind": "deal", "id": deal["id"]}]},
                       headers=account).json()
    ref_deal, ref_company = {"kind": "deal", "id": deal["id"]}, {"kind": "company",
                                                                  "id": company["id"]}
    linked = client.get(f"/tasks/{task['id']}/associations", headers=account).json()["items"]
    assert [a["to_record"] for a in linked] == [ref_deal]

    created = client.post("/associations", headers=account, json={
        "from_record": ref_company, "to_record": {"kind": "task", "id": task["id"]}})
    assert created.status_code == 201, created.text
    now = client.get(f"/tasks/{task['id']}", headers=account).json()
    assert (now["associations"], now["version"]) == ([ref_deal, ref_company], 2)
    last = publisher.events()[-1].event
    assert isinstance(last, TaskUpserted) and last.version == 2  # after AssociationChanged
    assert isinstance(publisher.events()[-2].event, AssociationChanged)

    client.delete(f"/associations/{linked[0]['id']}", headers=account)
    now = client.get(f"/tasks/{task['id']}", headers=account).json()
    assert (now["associations"], now["version"]) == ([ref_company], 3)

    patched = client.patch(f"/tasks/{task['id']}", headers=account,
                           json={"associations": [ref_deal], "status": "waiting"})
    assert patched.status_code == 200, patched.text
    assert (patched.json()["associations"], patched.json()["status"]) == ([ref_deal], "waiting")
    assert patched.json()["version"] == 4  # one new version for both changes
    others = client.get(f"/tasks/{task['id']}/associations", headers=account).json()["items"]
    assert [a["to_record"] if a["from_record"]["kind"] == "task" else a["from_record"]
            for a in others] == [ref_deal]
    same = client.patch(f"/tasks/{task['id']}", headers=account,
                        json={"associations": [ref_deal]})
    assert same.json()["version"] == 4  # already in step: a no-op
    itself = client.patch(f"/tasks/{task['id']}", headers=account, json={
        "associations": [ref_company, {"kind": "task", "id": task["id"]}]})
    assert itself.status_code == 422 and code(itself) == "self_association"
    assert client.get(f"/tasks/{task['id']}", headers=account).json() == same.json()


def test_due_bounds_and_cursors() -> None:
    query = due_query("usr_1", "2031-01-01T10:00:00+02:00", None, "waiting")
    assert query.due_after == datetime(2031, 1, 1, 8, tzinfo=timezone.utc)
    assert (query.due_before, query.owner_user_id, query.status) == (None, "usr_1", "waiting")
    for after, before in (("2031-01-01", None), (None, "soon"),
                          ("2031-01-02T00:00:00Z", "2031-01-01T00:00:00Z")):
        with pytest.raises(InvalidDueBound):
            due_query(None, after, before, None)
    position = DuePosition(due=datetime(2031, 1, 1, tzinfo=timezone.utc), id="task_1")
    assert decode_due_cursor(encode_due_cursor(position)) == position
    for cursor in ("nonsense", encode_due_cursor(position)[:-3]):
        with pytest.raises(InvalidCursor):
            decode_due_cursor(cursor)
