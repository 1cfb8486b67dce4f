"""Outbox entries: built from events, merged into single-document writes, published in order."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, ClassVar

import pytest
from convene_kit.logging import log_context
from convene_kit.outbox import (
    Outbox,
    entry_to_record,
    outbox_entries,
    outbox_entry,
    with_outbox,
)
from convene_kit.testing import FakeStore, RecordingPublisher
from convene_schemas.base import Event
from convene_schemas.envelope import from_kafka_message, to_kafka_message


class WidgetMoved(Event):
    EVENT_TYPE: ClassVar[str] = "com.convene.kittest.OutboxWidgetMoved"
    SERVICE: ClassVar[str] = "kittest"
    TOPIC: ClassVar[str] = "kittest.outbox.v1"
    AGGREGATE_ID_FIELD: ClassVar[str] = "widget_id"
    widget_id: str


def moved(version: int) -> WidgetMoved:
    return WidgetMoved(account_id="acc-1", version=version, widget_id="w-1",
                       occurred_at=datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc))


def test_entry_stores_exactly_the_serialised_record() -> None:
    entry = outbox_entry(moved(3), event_id="ev-3")
    assert entry["event_id"] == "ev-3"
    assert entry_to_record(entry) == to_kafka_message(moved(3), event_id="ev-3")
    assert all(set(h) == {"name", "value"} for h in entry["headers"])  # no nested arrays
    assert entry["created_at"].tzinfo is not None


def test_entry_carries_the_current_traceparent() -> None:
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    with log_context(traceparent=traceparent):
        entry = outbox_entry(moved(1))
    envelope = from_kafka_message(entry["value"], entry_to_record(entry).headers)
    assert envelope.traceparent == traceparent
    assert envelope.event == moved(1)


def test_entries_keep_given_ids_and_order() -> None:
    entries = outbox_entries([(moved(1), "a"), moved(2), (moved(3), "c")])
    assert [e["event_id"] for e in entries][0::2] == ["a", "c"]
    assert len({e["event_id"] for e in entries}) == 3
    assert [from_kafka_message(e["value"], entry_to_record(e).headers).event.version
            for e in entries] == [1, 2, 3]


def test_with_outbox_for_insert() -> None:
    entries = outbox_entries([moved(1)])
    doc = with_outbox({"_id": "w-1", "account_id": "acc-1", "version": 1}, entries)
    assert doc["outbox"] == entries
    assert doc["outbox_pending_since"] == entries[0]["created_at"]


async def stored(store: FakeStore, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """A widget document inserted with ``entries`` in its outbox (as written)."""
    doc = with_outbox({"_id": "w-1", "account_id": "acc-1"}, entries)
    await store.collection("widgets").insert_one(doc)
    return doc


async def test_publish_pending_publishes_in_order_then_clears_the_outbox() -> None:
    store, publisher = FakeStore(), RecordingPublisher()
    entries = outbox_entries([(moved(1), "e1"), (moved(2), "e2")])
    await stored(store, entries)
    widgets = store.collection("widgets")
    assert await Outbox(publisher).publish_pending(widgets, "w-1") == 2  # read back by _id
    assert publisher.records == [entry_to_record(e) for e in entries]
    assert [envelope.id for envelope in publisher.events()] == ["e1", "e2"]
    assert widgets.docs == {"w-1": {"_id": "w-1", "account_id": "acc-1"}}


async def test_failed_publish_leaves_every_entry_for_the_relay() -> None:
    store = FakeStore()
    publisher = RecordingPublisher(fail_on=lambda envelope: envelope.id == "e2")
    entries = outbox_entries([(moved(1), "e1"), (moved(2), "e2")])
    doc = await stored(store, entries)
    widgets = store.collection("widgets")
    with pytest.raises(ConnectionError):
        await Outbox(publisher).publish_pending(widgets, doc)  # as inserted
    assert [envelope.id for envelope in publisher.events()] == ["e1"]
    left = widgets.docs["w-1"]
    assert [e["event_id"] for e in left["outbox"]] == ["e1", "e2"]  # nothing cleared
    assert left["outbox_pending_since"] == doc["outbox_pending_since"]
