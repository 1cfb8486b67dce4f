"""The revision log (issue 6): concurrent changes of one record all land with versions that
never repeat; a crash between claim and head write loses nothing; a claim whose head write
cannot land is withdrawn."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timezone

import pytest
from convene_kit.clock import utc_now as utcnow
from convene_kit.http import ApiError
from convene_kit.outbox import outbox_entries
from convene_kit.revisions import revision_key
from convene_records.bootstrap import Records, bootstrap
from convene_records.domain.people import change_contact
from convene_records.service_layer import accounts, crm, people
from convene_schemas.events.records import CompanyUpserted, ContactUpserted, UserUpserted

from services.records.tests.fakes import FakeStore, RecordingPublisher


@pytest.fixture
async def opened(service: Records) -> str:
    account_id = f"acc_{uuid.uuid4().hex[:8]}"
    await accounts.create_account(service.deps, account_id, name="Acme", sandbox=False,
                                  default_time_zone="UTC", default_language="en")
    return account_id


async def new_contact(service: Records, account_id: str) -> str:
    contact = await people.create_contact(service.deps, account_id, email="zoe@client.example",
                                          first_name="Zoe", last_name="C", time_zone=None,
                                          language=None)
    return contact.id


def versions(publisher: RecordingPublisher, cls: type, key: str) -> list[int]:
    return [record.version for record in (e.event for e in publisher.events())
            if isinstance(record, cls) and record.aggregate_id == key]


async def test_what_kafka_refused_the_relay_publishes_through_the_same_publisher(
        service: Records, opened: str, publisher: RecordingPublisher) -> None:
    publisher.fail = True
    contact_id = await new_contact(service, opened)  # saved; its event left in the outbox
    publisher.fail = False
    relay = service.runtime.relay
    assert relay is not None
    relay.clock = lambda: datetime(2100, 1, 1, tzinfo=timezone.utc)  # a lease window opens
    assert await relay.sweep_once() == 1
    assert versions(publisher, ContactUpserted, contact_id) == [1]


async def test_concurrent_changes_of_different_fields_all_land(
        service: Records, opened: str, publisher: RecordingPublisher) -> None:
    contact_id = await new_contact(service, opened)
    wanted = {"email": "new@client.example", "first_name": "Zed", "last_name": "Racer",
              "time_zone": "Asia/Tokyo", "language": "ja"}
    answers = await asyncio.gather(*(
        people.update_contact(service.deps, opened, contact_id, {name: value})
        for name, value in wanted.items()))
    assert sorted(a.version for a in answers) == [2, 3, 4, 5, 6]  # each its own version
    final = await people.get_contact(service.deps, opened, contact_id)
    assert {name: getattr(final, name) for name in wanted} == wanted  # none lost
    assert versions(publisher, ContactUpserted, contact_id) == [1, 2, 3, 4, 5, 6]


async def test_concurrent_changes_of_a_company_all_land(
        service: Records, opened: str, publisher: RecordingPublisher) -> None:
    company = await crm.create_record(service.deps, opened, "company", {"name": "Globex"})
    changes = [{"name": "Globex Two"}, {"domain": "globex.example"}, {"name": "Globex Two"}]
    answers = await asyncio.gather(*(
        crm.update_record(service.deps, opened, "company", company.id, dict(change))
        for change in changes))
    final = await crm.get_record(service.deps, opened, "company", company.id)
    assert final.properties == {"name": "Globex Two", "domain": "globex.example"}
    assert final.version == 3  # the repeated name is a no-op, not a version
    assert {a.version for a in answers} == {2, 3}
    assert versions(publisher, CompanyUpserted, company.id) == [1, 2, 3]


async def test_a_claim_whose_head_was_never_written_is_rolled_forward(
        service: Records, opened: str, publisher: RecordingPublisher, store: FakeStore) -> None:
    deps = service.deps
    contact_id = await new_contact(service, opened)
    contact = await deps.contacts.get(opened, contact_id)
    assert contact is not None
    changed, event = change_contact(contact, {"first_name": "Crash"}, now=utcnow())
    await deps.aggregates.revisions.claim(deps.contacts.document(changed),
                                          outbox_entries([event]), utcnow(),
                                          head=deps.contacts.collection.name)
    # The process dies here: no head write, no publish. The claim keeps the event pending.
    claim = store.collection("record_revisions").docs[revision_key(contact_id, 2)]
    assert claim["outbox"] and claim["outbox_pending_since"]
    assert (await deps.contacts.get(opened, contact_id)).first_name == "Zoe"

    assert (await people.get_contact(deps, opened, contact_id)).first_name == "Crash"
    assert (await deps.contacts.get(opened, contact_id)).version == 2  # head caught up
    after = await people.update_contact(deps, opened, contact_id, {"last_name": "Later"})
    assert (after.first_name, after.last_name, after.version) == ("Crash", "Later", 3)
    # Publishing version 3 sends the forgotten version 2 first.
    assert versions(publisher, ContactUpserted, contact_id) == [1, 2, 3]


async def test_losing_every_claim_answers_409(
        service: Records, opened: str, monkeypatch: pytest.MonkeyPatch) -> None:
    contact_id = await new_contact(service, opened)

    async def always_taken(*_: object, **__: object) -> None:
        return None

    monkeypatch.setattr(service.deps.aggregates.revisions, "claim", always_taken)
    with pytest.raises(ApiError) as raised:
        await people.update_contact(service.deps, opened, contact_id, {"first_name": "X"})
    assert (raised.value.status, raised.value.code) == (409, "concurrent_change")


async def test_a_claim_whose_email_is_taken_meanwhile_is_withdrawn(
        service: Records, opened: str, publisher: RecordingPublisher, store: FakeStore,
        monkeypatch: pytest.MonkeyPatch) -> None:
    def user(email: str):
        return people.create_user(service.deps, opened, email=email, name="U",
                                  time_zone="UTC", language="en", seat="none",
                                  personal_email_access=False)

    await user("alice@acme.example")
    bob = await user("bob@acme.example")

    async def not_yet(*_: object) -> bool:  # the other user took it after this check
        return False

    monkeypatch.setattr(service.deps.users, "email_taken", not_yet)
    with pytest.raises(ApiError) as raised:
        await people.update_user(service.deps, opened, bob.id, {"email": "ALICE@acme.example"})
    assert (raised.value.status, raised.value.code) == (409, "user_email_taken")
    assert revision_key(bob.id, 2) not in store.collection("record_revisions").docs
    assert versions(publisher, UserUpserted, bob.id) == [1]
    renamed = await people.update_user(service.deps, opened, bob.id, {"name": "Bob"})
    assert (renamed.email, renamed.version) == ("bob@acme.example", 2)


async def test_the_injected_clock_dates_changes_and_claims(
        settings, store: FakeStore, publisher: RecordingPublisher, gateway) -> None:
    at = iter([datetime(2030, 1, 2, 9, 0, tzinfo=timezone.utc),
               datetime(2030, 1, 2, 9, 5, tzinfo=timezone.utc)])
    now = next(at)
    records = bootstrap(settings, store=store, publisher=publisher,  # type: ignore[arg-type]
                        verifier=gateway.verifier(), clock=lambda: now)
    await accounts.create_account(records.deps, "acc_clock", name="Acme", sandbox=False,
                                  default_time_zone="UTC", default_language="en")
    contact = await people.create_contact(records.deps, "acc_clock", email=None,
                                          first_name="Zoe", last_name="C", time_zone=None,
                                          language=None)
    now = next(at)
    changed = await people.update_contact(records.deps, "acc_clock", contact.id,
                                          {"first_name": "Zed"})
    assert (contact.updated_at, changed.updated_at) == (
        datetime(2030, 1, 2, 9, 0, tzinfo=timezone.utc), now)
    claim = store.collection("record_revisions").docs[revision_key(contact.id, 2)]
    assert claim["claimed_at"] == now
    assert [e.occurred_at for e in (x.event for x in publisher.events())
            if isinstance(e, ContactUpserted)] == [contact.updated_at, now]
