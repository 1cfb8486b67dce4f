"""Read models of records' events: idempotent, version-guarded, scoped by account."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from convene_kit.idempotency import PROCESSED_EVENTS_COLLECTION
from convene_schemas.envelope import new_event_id, to_kafka_message
from convene_schemas.events.records import RecordDeleted
from faststream.kafka import TestKafkaBroker


async def directory(harness, account_id: str, users=(), contacts=()):
    return await harness.service.deps.read_models.directory(account_id, users, contacts)


def deleted(account_id: str, record_id: str, version: int, kind: str = "contact",
            permanent: bool = False) -> RecordDeleted:
    return RecordDeleted(account_id=account_id, version=version,
                         occurred_at=datetime(2026, 3, 1, tzinfo=timezone.utc),
                         record_kind=kind, record_id=record_id, permanent=permanent)


async def test_a_user_is_stored_under_account_and_id(harness, records) -> None:
    acc, usr = records.new_id("acc"), records.new_id("usr")
    await harness.deliver(records.user(acc, usr, email="alice@acme.example", name="Alice"))
    doc = harness.collection("users").docs[f"{acc}:{usr}"]
    assert (doc["account_id"], doc["user_id"], doc["version"]) == (acc, usr, 0)
    found = await directory(harness, acc, users=[usr])
    assert found.users[usr].email == "alice@acme.example"
    assert (await directory(harness, records.new_id("acc"), users=[usr])).users == {}


async def test_the_same_event_twice_changes_nothing(harness, records) -> None:
    acc, ct = records.new_id("acc"), records.new_id("ct")
    event = records.contact(acc, ct, version=3, first_name="Dana")
    event_id = new_event_id()
    await harness.deliver(event, event_id)
    before = dict(harness.collection("contacts").docs)
    await harness.deliver(event, event_id)
    await harness.deliver(event)  # a re-publish with a new id, same version
    assert harness.collection("contacts").docs == before
    assert len(before) == 1


async def test_an_older_event_after_a_newer_one_changes_nothing(harness, records) -> None:
    acc, usr, ct = records.new_id("acc"), records.new_id("usr"), records.new_id("ct")
    await harness.deliver(records.user(acc, usr, version=5, name="Alice Moretti-Rossi"))
    await harness.deliver(records.user(acc, usr, version=4, name="Alice Moretti"))
    await harness.deliver(records.contact(acc, ct, version=2, email="new@globex.example"))
    await harness.deliver(records.contact(acc, ct, version=1, email="old@globex.example"))
    await harness.deliver(records.settings(acc, version=7, default_time_zone="Asia/Tokyo"))
    await harness.deliver(records.settings(acc, version=6, default_time_zone="Europe/Rome"))
    found = await directory(harness, acc, users=[usr], contacts=[ct])
    assert found.users[usr].name == "Alice Moretti-Rossi"
    assert found.contacts[ct].email == "new@globex.example"
    assert found.account.default_time_zone == "Asia/Tokyo"
    assert harness.collection("users").docs[f"{acc}:{usr}"]["version"] == 5


async def test_a_newer_event_replaces_the_state(harness, records) -> None:
    acc, ct = records.new_id("acc"), records.new_id("ct")
    await harness.deliver(records.contact(acc, ct, version=1))
    await harness.deliver(records.contact(acc, ct, version=2, email="x", email_valid=False,
                                          email_invalid_reason="malformed"))
    contact = (await directory(harness, acc, contacts=[ct])).contacts[ct]
    assert (contact.email, contact.email_valid, contact.email_invalid_reason) == (
        "x", False, "malformed")


async def test_a_deleted_contact_is_unknown_and_a_late_older_upsert_does_not_revive_it(
    harness, records
) -> None:
    acc, ct = records.new_id("acc"), records.new_id("ct")
    await harness.deliver(records.contact(acc, ct, version=1))
    await harness.deliver(deleted(acc, ct, version=2))
    assert (await directory(harness, acc, contacts=[ct])).contacts == {}
    await harness.deliver(records.contact(acc, ct, version=1))  # redelivered, older
    assert (await directory(harness, acc, contacts=[ct])).contacts == {}
    await harness.deliver(records.contact(acc, ct, version=3))  # restored in records
    assert ct in (await directory(harness, acc, contacts=[ct])).contacts


async def test_a_deletion_arriving_first_leaves_a_tombstone(harness, records) -> None:
    acc, ct = records.new_id("acc"), records.new_id("ct")
    await harness.deliver(deleted(acc, ct, version=4, permanent=True))
    await harness.deliver(records.contact(acc, ct, version=3))
    assert (await directory(harness, acc, contacts=[ct])).contacts == {}


async def test_deletions_of_other_record_kinds_are_ignored(harness, records) -> None:
    await harness.deliver(deleted(records.new_id("acc"), "deal_1", version=1, kind="deal"))
    assert harness.collection("contacts").docs == {}


@pytest.mark.contract  # the rest of this module is unit tests
async def test_records_events_reach_the_read_models_through_the_consumer(
    harness, records
) -> None:
    """Contract: the real subscriber wiring, FastStream's TestKafkaBroker as Kafka."""
    acc, ct = records.new_id("acc"), records.new_id("ct")
    event_id = new_event_id()
    record = to_kafka_message(records.contact(acc, ct, version=1), event_id=event_id)
    headers = {name: value.decode() for name, value in record.headers}
    async with TestKafkaBroker(harness.service.runtime.broker) as broker:
        for _ in range(2):  # delivered twice: processed once
            await broker.publish(record.value, record.topic, key=record.key, headers=headers)
    assert ct in (await directory(harness, acc, contacts=[ct])).contacts
    processed = harness.collection(PROCESSED_EVENTS_COLLECTION).docs
    assert list(processed) == [f"meetings:{event_id}"]


async def test_contacts_are_found_by_address_in_any_case(harness, records) -> None:
    acc, ct = records.new_id("acc"), records.new_id("ct")
    await harness.deliver(records.contact(acc, ct, email=" Dana@Globex.Example"))
    assert harness.collection("contacts").docs[f"{acc}:{ct}"]["email_key"] == (
        "dana@globex.example")
    repo = harness.service.deps.read_models
    for address in ("dana@globex.example", "DANA@GLOBEX.EXAMPLE"):
        assert [c.contact_id for c in await repo.contacts_by_email(acc, [address])] == [ct]
    assert await repo.contacts_by_email(records.new_id("acc"), ["dana@globex.example"]) == []


async def test_a_contact_stored_before_email_key_is_found_by_its_address(harness,
                                                                          records) -> None:
    acc, ct = records.new_id("acc"), records.new_id("ct")
    await harness.deliver(records.contact(acc, ct, email="dana@globex.example"))
    legacy = harness.collection("contacts").docs[f"{acc}:{ct}"]
    del legacy["email_key"]
    repo = harness.service.deps.read_models
    found = await repo.contacts_by_email(acc, ["Dana@Globex.example"])
    assert [c.contact_id for c in found] == [ct]
