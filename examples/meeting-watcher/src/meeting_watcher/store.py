"""What the watcher has seen, in one SQLite file: the idempotency that makes at-least-once
delivery safe.

Kafka delivers every record at least once: after a crash before the offset commit, a
rebalance, or a producer's retry, the same event arrives again. Two checks make a second
copy change nothing, as docs/events.md asks:

- by event id: ``events`` holds every ``ce_id`` seen, so a redelivered event is a duplicate;
- by version: ``meetings`` holds each meeting's newest state and takes an event only when its
  ``version`` is newer, so an older event arriving late never overwrites a newer one.

Each event is written in one transaction, before the consumer commits its offset.
"""

from __future__ import annotations

import enum
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from meeting_watcher.parsing import MeetingEvent, Skipped

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    event_id        TEXT PRIMARY KEY,   -- ce_id
    event_type      TEXT NOT NULL,
    meeting_id      TEXT NOT NULL,
    version         INTEGER NOT NULL,
    applied         INTEGER NOT NULL,   -- 0: the meeting was already at this version or newer
    topic           TEXT NOT NULL,      -- where it was first seen
    kafka_partition INTEGER NOT NULL,
    kafka_offset    INTEGER NOT NULL,
    seen_at         TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meetings (
    meeting_id      TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL,
    version         INTEGER NOT NULL,   -- the newest version applied
    title           TEXT NOT NULL,
    start           TEXT NOT NULL,
    canceled        INTEGER NOT NULL,
    last_event_type TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS skipped (
    topic           TEXT NOT NULL,
    kafka_partition INTEGER NOT NULL,
    kafka_offset    INTEGER NOT NULL,
    reason          TEXT NOT NULL,
    event_type      TEXT,
    event_id        TEXT,
    detail          TEXT NOT NULL,
    seen_at         TEXT NOT NULL,
    PRIMARY KEY (topic, kafka_partition, kafka_offset)
);
"""


class Seen(enum.Enum):
    """What remembering an event did."""

    NEW = "new"  # first time seen; the meeting's state is now this event's
    OUTDATED = "outdated"  # first time seen, but the meeting was already at this version or newer
    DUPLICATE = "duplicate"  # this event id was seen before: nothing changed


@dataclass(frozen=True)
class Position:
    """Where a record was read: topic, partition and offset."""

    topic: str
    partition: int
    offset: int


class WatcherStore:
    """The watcher's SQLite file. One writer: the watcher process."""

    def __init__(self, path: Path | str) -> None:
        self._db = sqlite3.connect(path)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")  # readers (a person, a test) never block it
        self._db.executescript(SCHEMA)

    def remember(self, event: MeetingEvent, position: Position) -> Seen:
        """Record one meeting event; a second copy of it changes nothing."""
        now = _now()
        with self._db:  # one transaction: committed here, before Kafka's offset commit
            if self._db.execute("SELECT 1 FROM events WHERE event_id = ?",
                                (event.event_id,)).fetchone():
                return Seen.DUPLICATE
            applied = self._db.execute(
                """INSERT INTO meetings (meeting_id, account_id, version, title, start, canceled,
                                         last_event_type, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (meeting_id) DO UPDATE SET
                       account_id = excluded.account_id, version = excluded.version,
                       title = excluded.title, start = excluded.start,
                       canceled = excluded.canceled, last_event_type = excluded.last_event_type,
                       updated_at = excluded.updated_at
                   WHERE excluded.version > meetings.version""",
                (event.meeting_id, event.account_id, event.version, event.title,
                 event.start.isoformat(), int(event.canceled), event.event_type, now),
            ).rowcount
            self._db.execute(
                """INSERT INTO events (event_id, event_type, meeting_id, version, applied, topic,
                                       kafka_partition, kafka_offset, seen_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (event.event_id, event.event_type, event.meeting_id, event.version,
                 int(applied > 0), position.topic, position.partition, position.offset, now),
            )
        return Seen.NEW if applied else Seen.OUTDATED

    def remember_skip(self, skipped: Skipped, position: Position) -> None:
        """Record a record the watcher did not act on (once per position)."""
        with self._db:
            self._db.execute(
                """INSERT INTO skipped (topic, kafka_partition, kafka_offset, reason, event_type,
                                        event_id, detail, seen_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING""",
                (position.topic, position.partition, position.offset, skipped.reason,
                 skipped.event_type, skipped.event_id, skipped.detail, _now()),
            )

    def meeting(self, meeting_id: str) -> dict[str, Any] | None:
        """The newest state seen of one meeting."""
        row = self._db.execute("SELECT * FROM meetings WHERE meeting_id = ?",
                               (meeting_id,)).fetchone()
        return dict(row) if row else None

    def events_of(self, meeting_id: str) -> list[dict[str, Any]]:
        """The events seen of one meeting, oldest version first."""
        rows = self._db.execute("SELECT * FROM events WHERE meeting_id = ? ORDER BY version",
                                (meeting_id,))
        return [dict(row) for row in rows]

    def skips(self) -> list[dict[str, Any]]:
        """Every record skipped, in the order read."""
        rows = self._db.execute("SELECT * FROM skipped ORDER BY seen_at, kafka_offset")
        return [dict(row) for row in rows]

    def close(self) -> None:
        self._db.close()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()
