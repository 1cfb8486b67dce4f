"""Idempotency: a second copy of an event, or an older event arriving late, changes nothing;
and the loop's handling of one record, without Kafka."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from aiokafka import ConsumerRecord
from meeting_samples import record, scheduled, updated
from meeting_watcher.consumer import handle
from meeting_watcher.parsing import MeetingEvent, Skipped, read
from meeting_watcher.store import Position, Seen, WatcherStore

TOPIC = "meetings.events.v1"


@pytest.fixture
def store(tmp_path: Path):
    store = WatcherStore(tmp_path / "watcher.sqlite3")
    yield store
    store.close()


def parsed(event, event_id: str) -> MeetingEvent:
    sent = record(event, event_id=event_id)
    seen = read(sent.value, sent.headers, sent.key)
    assert isinstance(seen, MeetingEvent)
    return seen


def test_the_same_event_twice_is_remembered_once(store: WatcherStore) -> None:
    event = parsed(scheduled("Twice"), "evt-1")

    first = store.remember(event, Position(TOPIC, 2, 10))
    second = store.remember(event, Position(TOPIC, 2, 11))  # replayed at a new offset

    assert (first, second) == (Seen.NEW, Seen.DUPLICATE)
    [row] = store.events_of(event.meeting_id)
    assert (row["event_id"], row["kafka_offset"]) == ("evt-1", 10)


def test_an_older_version_arriving_late_does_not_overwrite_a_newer_one(store: WatcherStore) -> None:
    original = scheduled("First title")
    renamed = updated(original, "Second title", version=1)

    assert store.remember(parsed(renamed, "evt-2"), Position(TOPIC, 0, 5)) is Seen.NEW
    late = store.remember(parsed(original, "evt-1"), Position(TOPIC, 0, 6))

    assert late is Seen.OUTDATED
    meeting = store.meeting(original.meeting_id)
    assert meeting and (meeting["version"], meeting["title"]) == (1, "Second title")
    assert [(e["event_id"], e["applied"]) for e in store.events_of(original.meeting_id)] == [
        ("evt-1", 0), ("evt-2", 1)]


def test_what_was_seen_survives_a_restart(tmp_path: Path) -> None:
    event = parsed(scheduled("Before the crash"), "evt-1")
    first = WatcherStore(tmp_path / "watcher.sqlite3")
    first.remember(event, Position(TOPIC, 1, 0))
    first.close()

    again = WatcherStore(tmp_path / "watcher.sqlite3")
    try:
        assert again.remember(event, Position(TOPIC, 1, 0)) is Seen.DUPLICATE
    finally:
        again.close()


def test_a_skipped_record_is_remembered_once_per_position(store: WatcherStore) -> None:
    skipped = Skipped("unknown_type", "unknown event type", "evt-9", "com.convene.meetings.X")

    store.remember_skip(skipped, Position(TOPIC, 3, 7))
    store.remember_skip(skipped, Position(TOPIC, 3, 7))  # the same record redelivered

    assert [(s["reason"], s["kafka_offset"]) for s in store.skips()] == [("unknown_type", 7)]


def consumer_record(offset: int, value: bytes, headers: list[tuple[str, bytes]]) -> ConsumerRecord:
    return ConsumerRecord(topic=TOPIC, partition=0, offset=offset, timestamp=0, timestamp_type=0,
                          key=b"mtg", value=value, checksum=None, serialized_key_size=3,
                          serialized_value_size=len(value), headers=headers)


def test_a_bad_record_is_logged_and_skipped_and_the_next_one_is_handled(
    store: WatcherStore, caplog: pytest.LogCaptureFixture
) -> None:
    good = record(scheduled("After the bad one"), event_id="evt-good")
    caplog.set_level(logging.INFO, logger="meeting_watcher")

    handle(consumer_record(0, b"{not json", good.headers), store)
    handle(consumer_record(1, good.value, good.headers), store)
    handle(consumer_record(2, good.value, good.headers), store)  # redelivered

    logged = [(r.getMessage(), r.fields.get("reason") or r.fields.get("seen"))
              for r in caplog.records]
    assert logged == [("record skipped", "undecodable"), ("meeting event", "new"),
                      ("meeting event", "duplicate")]
    assert [s["kafka_offset"] for s in store.skips()] == [0]
    json.dumps(caplog.records[1].fields)  # every field is plain data for the JSON log
