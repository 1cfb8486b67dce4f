"""Changing users (deactivation, seat, R1) and contacts (re-flagged email, R3, R13)."""

from __future__ import annotations

import pytest
from convene_schemas.events.records import ContactUpserted, UserUpserted
from fastapi.testclient import TestClient

ALICE = {"email": "alice@acme.example", "name": "Alice", "time_zone": "Europe/Rome",
         "language": "it"}


def code(response) -> str:
    return response.json()["error"]["code"]


def test_an_admin_deactivates_a_user_and_changes_the_seat(client: TestClient, auth,
                                                          publisher) -> None:
    admin = auth("acc_people", roles=("admin",))
    client.post("/account", json={"name": "Acme"}, headers=admin)
    user = client.post("/users", json=ALICE, headers=admin).json()
    bob = client.post("/users", json={**ALICE, "email": "bob@acme.example"},
                      headers=admin).json()
    changed = client.patch(f"/users/{user['id']}", headers=admin,
                           json={"active": False, "seat": "service_enterprise"})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["active"], changed.json()["seat"]) == (False, "service_enterprise")
    event = publisher.events()[-1].event
    assert isinstance(event, UserUpserted) and event.version == 2 and not event.active
    assert client.get(f"/users/{user['id']}", headers=admin).json() == changed.json()
    taken = client.patch(f"/users/{bob['id']}", json={"email": "ALICE@acme.example"},
                         headers=admin)
    assert taken.status_code == 409 and code(taken) == "user_email_taken"
    bad = client.patch(f"/users/{bob['id']}", json={"email": "nope"}, headers=admin)
    assert bad.status_code == 422 and code(bad) == "invalid_email"
    member = client.patch(f"/users/{bob['id']}", json={"active": False},
                          headers=auth("acc_people"))
    assert member.status_code == 403
    assert client.get(f"/users/{bob['id']}", headers=admin).json()["active"] is True


@pytest.mark.parametrize("roles", [(), ("team",)], ids=["no-role", "team"])
def test_only_an_admin_adds_users_as_only_an_admin_changes_them(
        client: TestClient, auth, publisher, roles: tuple[str, ...]) -> None:
    admin = auth("acc_staff", roles=("admin",))
    assert client.post("/account", json={"name": "Acme"}, headers=admin).status_code == 201
    caller = auth("acc_staff", user_id="usr_member", roles=roles)
    published = len(publisher.records)

    added = client.post("/users", json=ALICE, headers=caller)
    assert added.status_code == 403 and code(added) == "forbidden"
    assert len(publisher.records) == published  # nothing was created, nothing published
    user = client.post("/users", json=ALICE, headers=admin)
    assert user.status_code == 201, user.text
    changed = client.patch(f"/users/{user.json()['id']}", json={"name": "Al"}, headers=caller)
    assert changed.status_code == 403 and code(changed) == "forbidden"


def test_a_contact_email_change_is_flagged_not_refused(client: TestClient, account,
                                                       publisher) -> None:
    contact = client.post("/contacts", json={"email": "zoe@client.example",
                                             "first_name": "Zoe"}, headers=account).json()
    broken = client.patch(f"/contacts/{contact['id']}", json={"email": "zoe at client"},
                          headers=account)
    assert broken.status_code == 200, broken.text
    assert (broken.json()["email"], broken.json()["email_valid"],
            broken.json()["email_invalid_reason"]) == ("zoe at client", False, "malformed")
    event = publisher.events()[-1].event
    assert isinstance(event, ContactUpserted) and event.version == 2
    assert event.email_invalid_reason == "malformed"
    renamed = client.patch(f"/contacts/{contact['id']}", json={"last_name": "Quinn",
                                                               "email": None}, headers=account)
    assert renamed.json()["email_invalid_reason"] == "missing"
    found = client.get("/contacts", params={"name": "zoe qu"}, headers=account).json()
    assert [c["id"] for c in found["items"]] == [contact["id"]]
    gone = client.get("/contacts", params={"email": "zoe@client.example"}, headers=account)
    assert gone.json()["items"] == []
    owner = client.patch(f"/contacts/{contact['id']}", json={"owner_user_id": "usr_none"},
                         headers=account)
    assert owner.status_code == 422 and code(owner) == "unknown_owner"


def test_a_deleted_contact_is_gone_everywhere(client: TestClient, account, publisher) -> None:
    from convene_schemas.events.records import RecordDeleted

    contact = client.post("/contacts", json={"email": "gone@client.example",
                                             "first_name": "Gone"}, headers=account).json()
    deal = client.post("/deals", json={"name": "D", "stage": "s"}, headers=account).json()
    assert client.delete(f"/contacts/{contact['id']}", headers=account).status_code == 204
    event = publisher.events()[-1].event
    assert isinstance(event, RecordDeleted)
    assert (event.record_kind, event.record_id, event.version) == ("contact", contact["id"], 2)
    for path in (f"/contacts/{contact['id']}", f"/contacts/{contact['id']}/timeline",
                 f"/contacts/{contact['id']}/associations"):
        assert client.get(path, headers=account).status_code == 404, path
    assert client.get("/contacts", params={"email": "gone@client.example"},
                      headers=account).json()["items"] == []
    linked = client.post("/associations", headers=account, json={
        "from_record": {"kind": "contact", "id": contact["id"]},
        "to_record": {"kind": "deal", "id": deal["id"]}})
    assert linked.status_code == 404
    assert client.delete(f"/contacts/{contact['id']}", headers=account).status_code == 404
