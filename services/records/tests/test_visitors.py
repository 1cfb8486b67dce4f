"""A visitor who books on a scheduling page becomes a contact of the account (R34): matched
by address (any case), else made once, whatever the redeliveries and concurrent bookings;
never another account's contact, never an existing contact changed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest
from convene_records.bootstrap import Records
from convene_records.domain.versions import FIRST_VERSION
from convene_records.domain.visitors import split_name, visitor_contact_id
from convene_records.handlers import build_handlers
from convene_records.store import CONTACTS
from convene_schemas.envelope import from_kafka_message, new_event_id, to_kafka_message
from convene_schemas.events.booking_pages import BookingRequested, Visitor
from convene_schemas.events.records import ContactUpserted
from fastapi.testclient import TestClient

from services.records.tests.fakes import FakeStore, RecordingPublisher

START = datetime(2026, 5, 4, 9, 0, tzinfo=timezone.utc)


class Account:
    """An open account with a user (the page's owner), through records' API."""

    def __init__(self, client: TestClient, auth: Callable[..., dict[str, str]]) -> None:
        self.client = client
        self.id = f"acc_{uuid.uuid4().hex[:12]}"
        self.headers = auth(self.id, roles=("admin",))
        assert client.post("/account", json={"name": "Hooli"},
                           headers=self.headers).status_code == 201
        owner = client.post("/users", json={"email": f"olive-{self.id}@acme.example",
                                            "name": "Olive", "time_zone": "Europe/Rome",
                                            "language": "en"}, headers=self.headers)
        assert owner.status_code == 201, owner.text
        self.owner_id = owner.json()["id"]

    def booking(self, email: str = "priya@hooli.example", name: str = "Priya Shah",
                owner_id: str | None = None) -> BookingRequested:
        return BookingRequested(
            account_id=self.id, version=0, occurred_at=START - timedelta(days=2),
            booking_id=f"bk_{uuid.uuid4().hex[:12]}", page_id="pg_intro", slug="olive",
            owner_user_id=owner_id or self.owner_id,
            visitor=Visitor(name=name, email=email, time_zone="Europe/London", language="en"),
            title="Intro call", start=START, end=START + timedelta(minutes=30),
            time_zone="Europe/Rome", page_offline=False)

    def with_email(self, email: str) -> list[dict]:
        """GET /contacts?email=: the account's live contacts with the address."""
        found = self.client.get("/contacts", params={"email": email}, headers=self.headers)
        assert found.status_code == 200, found.text
        return found.json()["items"]


@pytest.fixture
def acc(client: TestClient, auth) -> Account:
    return Account(client, auth)


async def deliver(service: Records, event: BookingRequested, event_id: str | None = None) -> None:
    """Hand the booking to records' handler as the consumer would (decoded from the wire)."""
    record = to_kafka_message(event, event_id=event_id or new_event_id())
    envelope = from_kafka_message(record.value, record.headers, record.key)
    await build_handlers(service.deps).handle(envelope)


def upserted(publisher: RecordingPublisher, account_id: str) -> list[ContactUpserted]:
    return [e.event for e in publisher.events()
            if isinstance(e.event, ContactUpserted) and e.event.account_id == account_id]


def test_a_new_visitor_becomes_one_contact(service, acc: Account, publisher, store) -> None:
    asyncio.run(deliver(service, acc.booking()))
    [contact] = acc.with_email("priya@hooli.example")
    assert contact["id"] == visitor_contact_id(acc.id, "priya@hooli.example")
    assert (contact["first_name"], contact["last_name"], contact["email"],
            contact["email_valid"], contact["time_zone"], contact["language"]) == (
        "Priya", "Shah", "priya@hooli.example", True, "Europe/London", "en")
    assert store.collection(CONTACTS).docs[contact["id"]]["owner_user_id"] == acc.owner_id
    [event] = upserted(publisher, acc.id)
    assert (event.contact_id, event.email, event.version) == (
        contact["id"], "priya@hooli.example", FIRST_VERSION)


def test_a_redelivery_or_another_booking_of_the_address_makes_no_second_contact(
        service, acc: Account, publisher) -> None:
    booking, event_id = acc.booking(), new_event_id()
    asyncio.run(deliver(service, booking, event_id))
    asyncio.run(deliver(service, booking, event_id))  # redelivered as is
    asyncio.run(deliver(service, booking))  # and as a new event
    asyncio.run(deliver(service, acc.booking(email="PRIYA@Hooli.Example", name="P. Shah")))
    [contact] = acc.with_email("priya@hooli.example")
    assert (contact["first_name"], contact["last_name"]) == ("Priya", "Shah")
    assert len(upserted(publisher, acc.id)) == 1


def test_concurrent_bookings_of_one_new_visitor_make_one_contact(service, acc: Account,
                                                                  publisher) -> None:
    async def both() -> None:
        await asyncio.gather(deliver(service, acc.booking()),
                             deliver(service, acc.booking(email="Priya@hooli.example")))

    asyncio.run(both())
    assert len(acc.with_email("priya@hooli.example")) == 1
    assert len(upserted(publisher, acc.id)) == 1


def test_an_existing_contact_is_matched_and_left_as_it_is(service, acc: Account,
                                                          client: TestClient, publisher) -> None:
    made = client.post("/contacts", json={"email": "Priya@Hooli.example", "first_name": "P"},
                       headers=acc.headers).json()
    before = upserted(publisher, acc.id)
    asyncio.run(deliver(service, acc.booking()))
    assert acc.with_email("priya@hooli.example") == [made]
    assert upserted(publisher, acc.id) == before


def test_another_accounts_contact_is_not_the_visitor(service, acc: Account, client: TestClient,
                                                     auth, publisher) -> None:
    other = Account(client, auth)
    theirs = client.post("/contacts", json={"email": "priya@hooli.example"},
                         headers=other.headers).json()
    asyncio.run(deliver(service, acc.booking()))
    [ours] = acc.with_email("priya@hooli.example")
    assert ours["id"] != theirs["id"]
    assert other.with_email("priya@hooli.example") == [theirs]
    assert [e.contact_id for e in upserted(publisher, acc.id)] == [ours["id"]]


def test_a_visitor_whose_contact_was_deleted_becomes_a_contact_again(
        service, acc: Account, client: TestClient, publisher) -> None:
    asyncio.run(deliver(service, acc.booking()))
    [first] = acc.with_email("priya@hooli.example")
    assert client.delete(f"/contacts/{first['id']}", headers=acc.headers).status_code == 204
    again = acc.booking()
    asyncio.run(deliver(service, again))
    asyncio.run(deliver(service, again))  # redelivered: still one new contact
    [second] = acc.with_email("priya@hooli.example")
    assert second["id"] == visitor_contact_id(acc.id, "priya@hooli.example", 1)
    assert client.get(f"/contacts/{first['id']}", headers=acc.headers).status_code == 404
    assert [e.contact_id for e in upserted(publisher, acc.id)] == [first["id"], second["id"]]


def test_a_contact_given_another_address_keeps_it(service, acc: Account,
                                                  client: TestClient) -> None:
    asyncio.run(deliver(service, acc.booking()))
    [first] = acc.with_email("priya@hooli.example")
    changed = client.patch(f"/contacts/{first['id']}", json={"email": "priya@pied.example"},
                           headers=acc.headers)
    assert changed.status_code == 200, changed.text
    asyncio.run(deliver(service, acc.booking()))
    [second] = acc.with_email("priya@hooli.example")
    assert second["id"] != first["id"]
    assert acc.with_email("priya@pied.example")[0]["id"] == first["id"]


def test_an_owner_records_does_not_know_owns_nothing(service, acc: Account, store) -> None:
    asyncio.run(deliver(service, acc.booking(owner_id="usr_unknown")))
    [contact] = acc.with_email("priya@hooli.example")
    assert store.collection(CONTACTS).docs[contact["id"]]["owner_user_id"] is None


def test_a_booking_of_an_account_records_does_not_know_makes_nothing(
        service, acc: Account, store: FakeStore, publisher) -> None:
    unknown = acc.booking().model_copy(update={"account_id": f"acc_{uuid.uuid4().hex[:12]}"})
    asyncio.run(deliver(service, unknown))
    assert [d for d in store.collection(CONTACTS).docs.values()
            if d["account_id"] == unknown.account_id] == []
    assert upserted(publisher, unknown.account_id) == []


@pytest.mark.parametrize(("name", "parts"), [
    ("Priya Shah", ("Priya", "Shah")),
    ("  Maria  de la Cruz ", ("Maria", "de la Cruz")),
    ("Cher", ("Cher", "")),
])
def test_a_name_typed_in_one_field_is_split_at_the_first_word(name: str,
                                                               parts: tuple[str, str]) -> None:
    assert split_name(name) == parts
