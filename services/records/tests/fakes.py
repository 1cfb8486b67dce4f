"""In-memory stand-ins for the store and the publisher, so unit tests run the real
repositories, outbox and version guards without a database or Kafka. Both are the kit's:
:class:`convene_kit.testing.FakeStore` (unique ``_id`` and unique indexes, the filters and
updates the code uses, a BSON round trip) and :class:`convene_kit.testing.RecordingPublisher`
(``records``, ``events()``, ``fail`` for Kafka being down); the meeting events are records'.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

from convene_kit.testing import FakeStore, RecordingPublisher
from convene_schemas.events.common import RecordRef
from convene_schemas.events.meetings import Attendee, MeetingSnapshot, ical_uid_for

__all__ = ["MEETING_START", "FakeStore", "RecordingPublisher", "meeting_event"]


MEETING_START = datetime(2026, 5, 4, 9, 0, tzinfo=timezone.utc)


def meeting_event(cls: type[MeetingSnapshot], *, account_id: str = "acc_1",
                  meeting_id: str = "mtg_1", version: int = 0, title: str = "Pricing call",
                  start: datetime = MEETING_START, contacts: Iterable[str] = ("ct_a",),
                  associations: Iterable[RecordRef] = (), host: str = "usr_host",
                  organizer: str | None = None, **extra: Any) -> MeetingSnapshot:
    """A meeting event as meetings publishes it: ``contacts`` are invited contact attendees."""
    organizer = organizer or host
    attendees = [Attendee(kind="contact", id=c, email=f"{c}@client.example", invite=True)
                 for c in contacts]
    return cls(
        account_id=account_id, version=version,
        occurred_at=datetime(2026, 5, 1, 8, 0, tzinfo=timezone.utc) + timedelta(minutes=version),
        meeting_id=meeting_id, ical_uid=ical_uid_for(meeting_id), title=title, start=start,
        end=start + timedelta(minutes=30), time_zone="Europe/Rome", duration_minutes=30,
        host_user_id=host, organizer_user_id=organizer, on_behalf=organizer != host,
        attendees=attendees, associations=list(associations), source="crm",
        send_invitations=True, **extra,
    )
