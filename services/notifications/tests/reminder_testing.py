"""In-memory doubles of the reminder tests: a collection with the operators the reminder
store uses, a publisher that keeps its records, and the meeting, planner and
``ReminderDue`` builders both reminder test modules share."""

from __future__ import annotations

import asyncio
import copy
from datetime import datetime, timedelta, timezone
from email.headerregistry import Address
from typing import Any

from convene_kit.testing import FakeCursor
from convene_notifications.compose import Composer
from convene_notifications.reminder_store import MeetingVersions, ReminderTimers
from convene_notifications.reminders import ReminderPlanner, ReminderSender
from convene_notifications.rendering import Templates
from convene_notifications.store import MailLog
from convene_schemas.events.common import ReminderOffset
from convene_schemas.events.notifications import ReminderDue
from notifications_testing import NOW, FakeCollection, FakeMailer
from pymongo.errors import DuplicateKeyError

SENDER = Address("Convene", "meetings", "convene.test")
START = datetime(2026, 3, 10, 14, 0, tzinfo=timezone.utc)


def offsets(*spec: tuple[int, str]) -> list[ReminderOffset]:
    return [ReminderOffset(amount=amount, unit=unit) for amount, unit in spec]  # type: ignore[arg-type]


def _ok(value: Any, expected: Any) -> bool:
    if isinstance(expected, dict):
        for op, arg in expected.items():
            if op == "$lte" and not (value is not None and value <= arg):
                return False
            if op == "$lt" and not (value is not None and value < arg):
                return False
            if op == "$ne" and value == arg:
                return False
            if op == "$size" and len(value or []) != arg:
                return False
        return True
    return value == expected


class Collection:
    """An in-memory collection with the operators the reminder store uses."""

    def __init__(self) -> None:
        self.docs: dict[Any, dict[str, Any]] = {}

    def _match(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        return [d for d in self.docs.values() if all(_ok(d.get(k), v) for k, v in query.items())]

    async def insert_one(self, doc: dict[str, Any]) -> None:
        await asyncio.sleep(0)  # let racing replicas interleave
        if doc["_id"] in self.docs:
            raise DuplicateKeyError("E11000 duplicate key error")
        self.docs[doc["_id"]] = copy.deepcopy(doc)

    async def count_documents(self, query: dict[str, Any]) -> int:
        return len(self._match(query))

    async def find_one(self, query: dict[str, Any], projection: Any = None) -> Any:
        found = self._match(query)
        return copy.deepcopy(found[0]) if found else None

    def find(self, query: dict[str, Any], projection: Any = None, **options: Any) -> Any:
        return FakeCursor(self._match(query), **options)

    async def update_one(self, query: dict[str, Any], update: dict[str, Any],
                         upsert: bool = False) -> None:
        for doc in self._match(query):
            for op, fields in update.items():
                for key, value in fields.items():
                    if op == "$set":
                        doc[key] = value
                    elif op == "$inc":
                        doc[key] = doc.get(key, 0) + value
                    elif op == "$pullAll":
                        doc[key] = [e for e in doc.get(key, []) if e not in value]
                    elif op == "$unset":
                        doc.pop(key, None)

    async def replace_one(self, query: dict[str, Any], doc: dict[str, Any],
                          upsert: bool = False) -> None:
        self.docs[doc["_id"]] = copy.deepcopy(doc)

    async def delete_one(self, query: dict[str, Any]) -> None:
        for doc in self._match(query)[:1]:
            del self.docs[doc["_id"]]

    async def delete_many(self, query: dict[str, Any]) -> None:
        for doc in self._match(query):
            del self.docs[doc["_id"]]


class Publisher:
    def __init__(self) -> None:
        self.records: list[Any] = []
        self.settings = type("S", (), {"fault": staticmethod(lambda name: False)})()

    async def publish_record(self, record: Any) -> None:
        self.records.append(record)


def planner_with() -> tuple[ReminderPlanner, Collection, Collection]:
    timers, versions = Collection(), Collection()
    return ReminderPlanner(ReminderTimers(timers), MeetingVersions(versions)), timers, versions


def due_for(event: Any, *, version: int = 0, **recipient: Any) -> ReminderDue:
    attendee = event.attendees[0]
    return ReminderDue(
        account_id=event.account_id, version=0, occurred_at=NOW,
        reminder_id=f"{event.meeting_id}:contact:{attendee.id}:60m",
        meeting_id=event.meeting_id, meeting_version=version,
        recipient={"kind": "contact", "id": attendee.id, "email": attendee.email,
                   "time_zone": attendee.time_zone, "language": attendee.language,
                   **recipient},
        offset={"amount": 1, "unit": "hours"}, due_at=event.start - timedelta(hours=1),
        meeting_start=event.start)


def sender_with(mailer: FakeMailer) -> tuple[ReminderSender, ReminderPlanner]:
    planner, _, versions = planner_with()
    sender = ReminderSender(MeetingVersions(versions), MailLog(FakeCollection("mail_log")), mailer,  # type: ignore[arg-type]
                            Composer(templates=Templates(), sender=SENDER), clock=lambda: NOW)
    return sender, planner
