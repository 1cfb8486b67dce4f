"""Contact timelines from meeting events (R5, R6): the handler through the real wiring, its
idempotency, and GET /contacts/{id}/timeline with cursor paging."""

from __future__ import annotations

import asyncio
import copy
from dataclasses import replace
from datetime import timedelta

import pytest
from convene_records.bootstrap import Records
from convene_records.domain.timeline import project_meeting
from convene_records.handlers import TOPICS, build_handlers
from convene_records.store import TIMELINE
from convene_schemas.base import Event
from convene_schemas.envelope import from_kafka_message, new_event_id, to_kafka_message
from convene_schemas.events.common import RecordRef
from convene_schemas.events.meetings import (
    MeetingCanceled,
    MeetingOutcomeRecorded,
    MeetingRescheduled,
    MeetingScheduled,
    MeetingUpdated,
)
from fastapi.testclient import TestClient
from faststream.kafka import TestKafkaBroker

from services.records.tests.fakes import MEETING_START, FakeStore, meeting_event


async def deliver(service: Records, event: Event, event_id: str | None = None) -> None:
    """Hand ``event`` to records' handler as the consumer would (decoded from the wire)."""
    record = to_kafka_message(event, event_id=event_id or new_event_id())
    envelope = from_kafka_message(record.value, record.headers, record.key)
    await build_handlers(service.deps).handle(envelope)


def entries(store: FakeStore) -> dict[str, dict]:
    return {k: v for k, v in store.collection(TIMELINE).docs.items() if v["on_timeline"]}


async def test_a_scheduled_meeting_appears_on_each_contact(service, store) -> None:
    await deliver(service, meeting_event(
        MeetingScheduled, contacts=["ct_a", "ct_b"], organizer="usr_boss", host="usr_host",
        associations=[RecordRef(kind="contact", id="ct_a")]))
    shown = entries(store)
    assert set(shown) == {"acc_1:contact:ct_a:mtg_1", "acc_1:contact:ct_b:mtg_1"}
    entry = shown["acc_1:contact:ct_a:mtg_1"]
    assert (entry["created_by_user_id"], entry["assigned_to_user_id"]) == ("usr_boss", "usr_host")
    assert (entry["status"], entry["version"], entry["start"]) == ("scheduled", 0, MEETING_START)


async def test_the_same_event_twice_leaves_one_entry(service, store) -> None:
    event = meeting_event(MeetingScheduled)
    await deliver(service, event, "ev-1")
    before = dict(store.collection(TIMELINE).docs)
    await deliver(service, event, "ev-1")
    await deliver(service, event, "ev-1-redelivered-under-a-new-id")
    assert store.collection(TIMELINE).docs == before and len(before) == 1


async def test_an_older_event_after_a_newer_one_changes_nothing(service, store) -> None:
    await deliver(service, meeting_event(MeetingUpdated, version=1, title="Pricing call v2",
                                         changed_fields=["title"]))
    await deliver(service, meeting_event(MeetingScheduled, version=0, title="Pricing call"))
    [entry] = entries(store).values()
    assert (entry["title"], entry["version"]) == ("Pricing call v2", 1)


async def test_later_changes_show_on_the_timeline(service, store) -> None:
    moved = MEETING_START + timedelta(days=1)
    await deliver(service, meeting_event(MeetingScheduled))
    await deliver(service, meeting_event(
        MeetingRescheduled, version=1, start=moved, previous_start=MEETING_START,
        previous_end=MEETING_START + timedelta(minutes=30), changed_fields=["start", "end"]))
    await deliver(service, meeting_event(MeetingOutcomeRecorded, version=2, start=moved,
                                         outcome="no_show", recorded_by_user_id="usr_host"))
    await deliver(service, meeting_event(MeetingCanceled, version=3, start=moved,
                                         outcome="no_show", reason="canceled_in_crm"))
    [entry] = entries(store).values()
    assert (entry["start"], entry["outcome"], entry["status"], entry["version"]) == (
        moved, "no_show", "canceled", 3)


async def test_a_contact_taken_off_the_meeting_loses_the_entry_for_good(service, store) -> None:
    await deliver(service, meeting_event(MeetingScheduled, contacts=["ct_a", "ct_b"]))
    await deliver(service, meeting_event(MeetingUpdated, version=1, contacts=["ct_a"],
                                         changed_fields=["attendees"]))
    assert set(entries(store)) == {"acc_1:contact:ct_a:mtg_1"}
    # A replay of the first event must not bring ct_b back.
    await deliver(service, meeting_event(MeetingScheduled, contacts=["ct_a", "ct_b"]))
    assert set(entries(store)) == {"acc_1:contact:ct_a:mtg_1"}


async def test_an_older_event_cannot_add_a_contact_the_newer_one_dropped(service, store) -> None:
    await deliver(service, meeting_event(MeetingUpdated, version=1, contacts=["ct_a"],
                                         changed_fields=["attendees"]))
    await deliver(service, meeting_event(MeetingScheduled, contacts=["ct_a", "ct_b"]))
    assert set(entries(store)) == {"acc_1:contact:ct_a:mtg_1"}


async def test_each_entry_write_is_version_guarded(service: Records, store: FakeStore) -> None:
    """The entry itself refuses an older version, even if the meeting's marker is behind
    (a crash between the entry writes and the marker)."""
    newer, older = (project_meeting(meeting_event(MeetingUpdated, version=1, title=title,
                                                  changed_fields=["title"]))[0]
                    for title in ("New title", "Old title"))
    older = replace(older, version=0)
    assert await service.deps.timelines.put(newer) is True
    assert await service.deps.timelines.put(older) is False
    assert await service.deps.timelines.put(newer) is False
    [entry] = entries(store).values()
    assert (entry["title"], entry["version"]) == ("New title", 1)


@pytest.mark.contract  # the rest of this module is unit tests
async def test_meeting_events_reach_the_timeline_through_the_consumer(
        service: Records, store: FakeStore) -> None:
    """The contract: a CloudEvents record on meetings.events.v1 (with the topic prefix) is
    consumed by records' subscriber; a redelivery with the same ce_id changes nothing (the
    writes are version-guarded; no processed-event records are kept)."""
    record = to_kafka_message(meeting_event(MeetingScheduled), event_id="ev-contract")
    headers = {name: value.decode() for name, value in record.headers}
    async with TestKafkaBroker(service.runtime.broker) as broker:
        await broker.publish(record.value, service.settings.topic(TOPICS[0]),
                             key=record.key, headers=headers)
        first = copy.deepcopy(entries(store))
        await broker.publish(record.value, service.settings.topic(TOPICS[0]),
                             key=record.key, headers=headers)
    assert set(entries(store)) == {"acc_1:contact:ct_a:mtg_1"}
    assert entries(store) == first
    assert store.collection("processed_events").docs == {}


def make_contact(client: TestClient, headers: dict) -> str:
    response = client.post("/contacts", json={"email": "zoe@client.example"}, headers=headers)
    assert response.status_code == 201
    return response.json()["id"]


def schedule_on_timeline(client: TestClient, service: Records, headers: dict, contact_id: str,
                         count: int) -> None:
    """``count`` meetings with the contact, starting on three different days."""
    account_id = client.get("/account", headers=headers).json()["id"]
    for n in range(count):
        event = meeting_event(MeetingScheduled, account_id=account_id, meeting_id=f"mtg_{n}",
                              title=f"Call {n}", contacts=[contact_id],
                              start=MEETING_START + timedelta(days=n % 3))
        asyncio.run(deliver(service, event))


def test_the_timeline_lists_newest_start_first_in_pages(client: TestClient, service,
                                                        account) -> None:
    contact_id = make_contact(client, account)
    schedule_on_timeline(client, service, account, contact_id, 5)
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get(f"/contacts/{contact_id}/timeline", params=params, headers=account)
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["items"]) <= 2
        seen += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert [e["meeting_id"] for e in seen] == ["mtg_2", "mtg_4", "mtg_1", "mtg_3", "mtg_0"]
    first = seen[0]
    assert set(first) == {"meeting_id", "title", "start", "end", "time_zone", "status",
                          "outcome", "created_by_user_id", "assigned_to_user_id", "version",
                          "updated_at"}
    assert (first["title"], first["status"], first["created_by_user_id"]) == (
        "Call 2", "scheduled", "usr_host")


def test_an_empty_timeline(client: TestClient, account) -> None:
    contact_id = make_contact(client, account)
    body = client.get(f"/contacts/{contact_id}/timeline", headers=account).json()
    assert body == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("params, status, code", [
    ({"limit": 201}, 422, "validation_error"), ({"limit": 0}, 422, "validation_error"),
    ({"cursor": "bogus"}, 400, "invalid_cursor")])
def test_timeline_paging_parameters_are_checked(client: TestClient, account, params, status,
                                                code) -> None:
    contact_id = make_contact(client, account)
    response = client.get(f"/contacts/{contact_id}/timeline", params=params, headers=account)
    assert response.status_code == status and response.json()["error"]["code"] == code


def test_an_unknown_contact_has_no_timeline(client: TestClient, account) -> None:
    response = client.get("/contacts/ct_nope/timeline", headers=account)
    assert response.status_code == 404
