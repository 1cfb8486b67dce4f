"""Meeting events as Convene publishes them, built with the published package alone."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from convene_schemas.envelope import KafkaRecord, new_event_id, to_kafka_message
from convene_schemas.events.meetings import Attendee, MeetingScheduled, MeetingUpdated, ical_uid_for

START = datetime(2026, 3, 10, 14, 0, tzinfo=timezone.utc)


def scheduled(title: str = "Globex discovery call", meeting_id: str | None = None) -> MeetingScheduled:
    meeting_id = meeting_id or f"mtg_{uuid.uuid4().hex[:12]}"
    return MeetingScheduled(
        account_id="acc_7f3k2", version=0, occurred_at=START - timedelta(days=4),
        meeting_id=meeting_id, ical_uid=ical_uid_for(meeting_id), title=title, start=START,
        end=START + timedelta(minutes=30), time_zone="Europe/Rome", duration_minutes=30,
        host_user_id="usr_alice", organizer_user_id="usr_alice", on_behalf=False,
        attendees=[Attendee(kind="contact", id="ct_01hzx3", email="dana.lee@globex.example",
                            name="Dana Lee", invite=True)],
        source="crm", send_invitations=True,
    )


def updated(event: MeetingScheduled, title: str, version: int) -> MeetingUpdated:
    return MeetingUpdated(**event.model_dump(exclude={"title", "version"}), title=title,
                          version=version, changed_fields=["title"])


def record(event: MeetingScheduled | MeetingUpdated, event_id: str | None = None) -> KafkaRecord:
    return to_kafka_message(event, event_id=event_id or new_event_id())


def with_body(record: KafkaRecord, change: Any) -> bytes:
    """The record's JSON body after ``change(body)`` edited it in place."""
    body = json.loads(record.value)
    change(body)
    return json.dumps(body).encode()


def with_header(record: KafkaRecord, name: str, value: bytes | None) -> list[tuple[str, bytes | None]]:
    """The record's headers with one replaced (``None``: removed)."""
    headers: list[tuple[str, bytes | None]] = [(k, v) for k, v in record.headers if k != name]
    return headers if value is None else [*headers, (name, value)]
