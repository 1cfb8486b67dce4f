"""records' HTTP API through the real wiring: bodies, error codes, tenancy, auth, outbox."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest
from convene_records.store import ACCOUNTS, CONTACTS, USERS
from convene_schemas.events.records import AccountSettingsChanged, ContactUpserted, UserUpserted
from fastapi.testclient import TestClient

from services.records.tests.fakes import FakeStore, RecordingPublisher

ALICE = {"email": "alice@acme.example", "name": "Alice Host", "time_zone": "Europe/Rome",
         "language": "it", "seat": "sales_professional"}
ZOE = {"email": "zoe@client.example", "first_name": "Zoe", "last_name": "Contact",
       "time_zone": "America/New_York", "language": "en"}


def error_code(response) -> str:
    return response.json()["error"]["code"]


def test_opening_the_account_of_the_token(client: TestClient, auth, publisher) -> None:
    headers = auth("acc_rome")
    created = client.post("/account", json={"name": "Acme", "default_time_zone": "Europe/Rome"},
                          headers=headers)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body == {"id": "acc_rome", "name": "Acme", "sandbox": False,
                    "default_time_zone": "Europe/Rome", "default_language": "en",
                    "created_at": body["created_at"]}
    assert datetime.fromisoformat(body["created_at"]).tzinfo is not None
    assert client.get("/account", headers=headers).json() == body

    [envelope] = publisher.events()
    assert isinstance(envelope.event, AccountSettingsChanged)
    assert envelope.subject == "acc_rome" and envelope.event.version == 1
    assert envelope.event.default_time_zone == "Europe/Rome"
    assert envelope.event.account_created_at == datetime.fromisoformat(body["created_at"])


def test_an_account_is_opened_once(client: TestClient, account) -> None:
    again = client.post("/account", json={"name": "Acme again"}, headers=account)
    assert again.status_code == 409 and error_code(again) == "account_exists"


def test_no_account_yet(client: TestClient, auth) -> None:
    headers = auth("acc_nobody", roles=("admin",))
    assert error_code(client.get("/account", headers=headers)) == "account_not_found"
    for path, body in [("/users", ALICE), ("/contacts", ZOE)]:
        response = client.post(path, json=body, headers=headers)
        assert response.status_code == 404 and error_code(response) == "account_not_found"


def test_creating_and_reading_a_user(client: TestClient, account, publisher) -> None:
    created = client.post("/users", json=ALICE, headers=account)
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["id"].startswith("usr_")
    assert user == {**ALICE, "id": user["id"], "personal_email_access": False, "active": True}
    assert client.get(f"/users/{user['id']}", headers=account).json() == user

    event = publisher.events()[-1].event
    assert isinstance(event, UserUpserted)
    assert (event.user_id, event.email, event.seat, event.version) == (
        user["id"], "alice@acme.example", "sales_professional", 1)


def test_one_user_per_email_in_an_account(client: TestClient, account, auth) -> None:
    assert client.post("/users", json=ALICE, headers=account).status_code == 201
    shouting = {**ALICE, "email": "ALICE@Acme.Example", "name": "Alice Again"}
    taken = client.post("/users", json=shouting, headers=account)
    assert taken.status_code == 409 and error_code(taken) == "user_email_taken"

    other = auth(f"acc_{uuid.uuid4().hex[:8]}", roles=("admin",))
    assert client.post("/account", json={"name": "Other"}, headers=other).status_code == 201
    assert client.post("/users", json=ALICE, headers=other).status_code == 201


def test_a_user_with_an_invalid_email_is_refused(client: TestClient, account) -> None:
    response = client.post("/users", json={**ALICE, "email": "alice at acme"}, headers=account)
    assert response.status_code == 422 and error_code(response) == "invalid_email"


def test_creating_and_reading_a_contact(client: TestClient, account, publisher) -> None:
    created = client.post("/contacts", json=ZOE, headers=account)
    assert created.status_code == 201, created.text
    contact = created.json()
    assert contact["id"].startswith("ct_")
    assert contact == {**ZOE, "id": contact["id"], "email_valid": True,
                       "email_invalid_reason": None}
    assert client.get(f"/contacts/{contact['id']}", headers=account).json() == contact
    event = publisher.events()[-1].event
    assert isinstance(event, ContactUpserted) and event.contact_id == contact["id"]
    assert (event.email, event.email_valid, event.version) == ("zoe@client.example", True, 1)


def test_a_contact_with_a_bad_or_no_email_is_saved_and_flagged(client: TestClient,
                                                                account, publisher) -> None:
    bad = client.post("/contacts", json={"email": "sam at initech", "first_name": "Sam"},
                      headers=account)
    assert bad.status_code == 201, bad.text
    assert bad.json() == {"id": bad.json()["id"], "email": "sam at initech",
                          "email_valid": False, "email_invalid_reason": "malformed",
                          "first_name": "Sam", "last_name": "", "time_zone": None,
                          "language": None}
    none = client.post("/contacts", json={"last_name": "Nobody"}, headers=account)
    assert none.status_code == 201
    assert (none.json()["email"], none.json()["email_valid"],
            none.json()["email_invalid_reason"]) == (None, False, "missing")
    flagged = [(e.event.email_valid, e.event.email_invalid_reason)
               for e in publisher.events()[-2:]]
    assert flagged == [(False, "malformed"), (False, "missing")]


@pytest.mark.parametrize("body", [{**ZOE, "time_zone": "Mars/Olympus"},
                                  {**ZOE, "language": "English!"},
                                  {**ZOE, "emial": "typo@client.example"}])
def test_contact_fields_are_validated(client: TestClient, account, body) -> None:
    response = client.post("/contacts", json=body, headers=account)
    assert response.status_code == 422 and error_code(response) == "validation_error"


def test_records_of_another_account_do_not_exist(client: TestClient, account, auth) -> None:
    user = client.post("/users", json=ALICE, headers=account).json()
    contact = client.post("/contacts", json=ZOE, headers=account).json()
    stranger = auth(f"acc_{uuid.uuid4().hex[:8]}")
    assert client.post("/account", json={"name": "Stranger"}, headers=stranger).status_code == 201
    for path, code in [(f"/users/{user['id']}", "user_not_found"),
                       (f"/contacts/{contact['id']}", "contact_not_found"),
                       (f"/contacts/{contact['id']}/timeline", "contact_not_found")]:
        response = client.get(path, headers=stranger)
        assert response.status_code == 404 and error_code(response) == code
        assert user["email"] not in response.text and "Zoe" not in response.text


@pytest.mark.parametrize("method, path", [
    ("post", "/account"), ("get", "/account"), ("post", "/users"), ("get", "/users/usr_1"),
    ("post", "/contacts"), ("get", "/contacts/ct_1"), ("get", "/contacts/ct_1/timeline")])
def test_every_endpoint_needs_a_token(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, path, json={} if method == "post" else None)
    assert response.status_code == 401 and error_code(response) == "missing_token"


def test_events_leave_the_outbox_once_published(client: TestClient, account, store: FakeStore,
                                                publisher: RecordingPublisher) -> None:
    contact = client.post("/contacts", json=ZOE, headers=account).json()
    doc = store.collection(CONTACTS).docs[contact["id"]]
    assert not doc.get("outbox") and "outbox_pending_since" not in doc
    assert publisher.events()[-1].subject == contact["id"]


def test_with_kafka_down_the_change_is_kept_and_its_event_waits(
        client: TestClient, account, store: FakeStore, publisher: RecordingPublisher) -> None:
    publisher.fail = True
    created = client.post("/users", json=ALICE, headers=account)
    assert created.status_code == 201
    doc = store.collection(USERS).docs[created.json()["id"]]
    assert len(doc["outbox"]) == 1 and doc["outbox_pending_since"] is not None
    assert doc["outbox"][0]["key"] == created.json()["id"].encode()


def test_the_account_carries_its_outbox_in_the_same_document(
        client: TestClient, auth, store: FakeStore, publisher: RecordingPublisher) -> None:
    publisher.fail = True
    client.post("/account", json={"name": "Acme"}, headers=auth("acc_outbox"))
    doc = store.collection(ACCOUNTS).docs["acc_outbox"]
    assert doc["name"] == "Acme" and doc["version"] == 1
    assert [e["topic"] for e in doc["outbox"]] == ["records.events.v1"]
