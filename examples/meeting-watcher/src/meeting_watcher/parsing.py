"""From a Kafka record to a meeting event, or to the reason the record is skipped. Pure: no I/O.

What Convene's catalogue (docs/events.md) asks of a consumer, and where it happens here:

- CloudEvents binary mode: ``from_kafka_message`` reads the ``ce_*`` headers and the JSON body.
- Unknown fields, top level or nested, are ignored (the models' ``parse_data``), so the
  producer may add an optional field without warning anyone.
- ``ce_dataversion`` picks the model's major version (1 when absent). A major version this
  package does not know is skipped: the producer publishes a new major beside v1 until
  every consumer reads it, so the v1 copy of the same fact arrives too.
- An unknown event type (an event added to the topic after this package was built) is
  skipped.
- A record that cannot be decoded or fails validation is skipped with its reason. Convene's
  services send such records to ``<topic>.dlq``; this watcher's only effect is a log and a
  row, nothing a later replay would repair, so it keeps the skip in its own store instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from convene_schemas.envelope import InvalidEvent, from_kafka_message
from convene_schemas.events.meetings import MeetingCanceled, MeetingSnapshot

Headers = Sequence[tuple[str, bytes | None]]


@dataclass(frozen=True)
class MeetingEvent:
    """What the watcher keeps of one meeting event: its identity and the meeting's state."""

    event_id: str  # ce_id: the same on every redelivery of one event
    event_type: str  # the event's name, e.g. MeetingScheduled
    account_id: str
    meeting_id: str
    version: int  # the meeting's version after the change (its iCalendar SEQUENCE)
    occurred_at: datetime
    title: str
    start: datetime
    canceled: bool


@dataclass(frozen=True)
class Skipped:
    """A record the watcher does not act on, and why (``reason`` is a short code)."""

    reason: str
    detail: str
    event_id: str | None = None
    event_type: str | None = None


def read(value: bytes | None, headers: Headers, key: bytes | None = None) -> MeetingEvent | Skipped:
    """Parse one record of the meetings topic. Never raises: a record that cannot be read is
    a :class:`Skipped`, so one bad record never stops the partition behind it."""
    try:
        envelope = from_kafka_message(value, [(k, v) for k, v in headers if v is not None], key)
    except InvalidEvent as exc:  # undecodable, unknown_type, unknown_version, validation_failed
        return _skipped(exc.reason, str(exc), headers)
    except Exception as exc:  # parsing does no I/O: whatever it raises is the record's fault
        return _skipped("undecodable", f"{type(exc).__name__}: {exc}", headers)
    event = envelope.event
    if not isinstance(event, MeetingSnapshot):  # a known event of another topic, misrouted
        return _skipped("not_a_meeting_event", f"{envelope.type} is not a meeting event", headers)
    return MeetingEvent(
        event_id=envelope.id,
        event_type=type(event).__name__,
        account_id=event.account_id,
        meeting_id=event.meeting_id,
        version=event.version,
        occurred_at=event.occurred_at,
        title=event.title,
        start=event.start,
        canceled=isinstance(event, MeetingCanceled),
    )


def _skipped(reason: str, detail: str, headers: Headers) -> Skipped:
    found = {name: value for name, value in headers if value is not None}

    def header(name: str) -> str | None:
        raw = found.get(name)
        return raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else None

    return Skipped(reason, detail[:500], header("ce_id"), header("ce_type"))
