"""Test support for notifications: meeting builders and in-memory stand-ins for the store
and the mail server (unit tests: no network). A uniquely named module, so that test
sessions spanning several services never import another service's helpers by mistake."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from convene_kit.store import MongoStore
from convene_kit.testing import FakeCursor
from convene_schemas.events.meetings import (
    Attendee,
    MeetingCanceled,
    MeetingRescheduled,
    MeetingScheduled,
    MeetingUpdated,
    ical_uid_for,
)
from pymongo.errors import DuplicateKeyError

_OPERATORS = {
    "$lte": lambda value, arg: value is not None and value <= arg,
    "$lt": lambda value, arg: value is not None and value < arg,
    "$ne": lambda value, arg: value != arg,
    "$size": lambda value, arg: len(value or []) == arg,
}


def _matches(doc: dict[str, Any], query: dict[str, Any]) -> bool:
    for key, expected in query.items():
        if isinstance(expected, dict) and any(k.startswith("$") for k in expected):
            for op, arg in expected.items():
                if op not in _OPERATORS:
                    raise NotImplementedError(f"operator query {expected!r}")
                if not _OPERATORS[op](doc.get(key), arg):
                    return False
            continue
        if doc.get(key) != expected:
            return False
    return True


class _Result:
    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


class FakeCollection:
    """The subset of AsyncCollection the service uses, with unique ``_id``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.docs: dict[Any, dict[str, Any]] = {}

    async def insert_one(self, doc: dict[str, Any]) -> _Result:
        if doc["_id"] in self.docs:
            raise DuplicateKeyError("E11000 duplicate key error")
        self.docs[doc["_id"]] = copy.deepcopy(doc)
        return _Result(inserted_id=doc["_id"])

    async def find_one(self, query: dict[str, Any], projection: Any = None,
                       **_: Any) -> dict[str, Any] | None:
        for doc in self.docs.values():
            if _matches(doc, query):
                return copy.deepcopy(doc)
        return None

    def find(self, query: dict[str, Any], projection: Any = None, **options: Any) -> FakeCursor:
        return FakeCursor([d for d in self.docs.values() if _matches(d, query)], **options)

    async def update_one(self, query: dict[str, Any], update: dict[str, Any],
                         upsert: bool = False) -> _Result:
        for doc in self.docs.values():
            if _matches(doc, query):
                for op, fields in update.items():
                    for field, value in fields.items():
                        if op == "$set":
                            doc[field] = copy.deepcopy(value)
                        elif op == "$inc":
                            doc[field] = doc.get(field, 0) + value
                        elif op == "$pullAll":
                            doc[field] = [e for e in doc.get(field, []) if e not in value]
                        elif op == "$unset":
                            doc.pop(field, None)
                        else:
                            raise NotImplementedError(op)
                return _Result(matched_count=1, upserted_id=None)
        return _Result(matched_count=0, upserted_id=None)

    async def delete_one(self, query: dict[str, Any]) -> _Result:
        for key, doc in list(self.docs.items()):
            if _matches(doc, query):
                del self.docs[key]
                return _Result(deleted_count=1)
        return _Result(deleted_count=0)

    async def delete_many(self, query: dict[str, Any]) -> _Result:
        doomed = [key for key, doc in self.docs.items() if _matches(doc, query)]
        for key in doomed:
            del self.docs[key]
        return _Result(deleted_count=len(doomed))

    async def replace_one(self, query: dict[str, Any], doc: dict[str, Any],
                          upsert: bool = False) -> _Result:
        self.docs[doc["_id"]] = copy.deepcopy(doc)
        return _Result(matched_count=1, upserted_id=None)

    async def count_documents(self, query: dict[str, Any]) -> int:
        return sum(1 for d in self.docs.values() if _matches(d, query))


class FakeStore(MongoStore):
    """A MongoStore whose collections live in memory (never connects)."""

    def __init__(self) -> None:
        super().__init__("mongodb://unused.invalid/", "unit")
        self.collections: dict[str, FakeCollection] = {}

    def collection(self, name: str) -> Any:
        return self.collections.setdefault(name, FakeCollection(name))


_CRLF = policy.default.clone(linesep="\r\n", refold_source="none")  # round-trips exactly


class FakeMailer:
    """Records every message; ``failures`` are raised, one per send, before succeeding."""

    def __init__(self, failures: Sequence[Exception] = ()) -> None:
        self.sent: list[tuple[EmailMessage, str, list[str]]] = []
        self.failures = list(failures)
        self.attempts = 0
        self.raw: list[bytes] = []  # every attempt's bytes, failed ones too

    async def send(self, message: EmailMessage | bytes, *, sender: str,
                   recipients: Sequence[str]) -> None:
        self.attempts += 1
        if isinstance(message, bytes):  # the exact bytes: read back for the assertions
            self.raw.append(message)
            message = BytesParser(policy=_CRLF).parsebytes(message)  # type: ignore[assignment]
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((message, sender, list(recipients)))  # type: ignore[arg-type]

    def messages_to(self, address: str) -> list[EmailMessage]:
        return [m for m, _, rcpts in self.sent if address in rcpts]


NOW = datetime(2026, 3, 6, 9, 0, tzinfo=timezone.utc)


def contact(email: str | None = "dana.lee@globex.example", *, name: str = "Dana Lee",
            invite: bool = True, **overrides: Any) -> Attendee:
    values: dict[str, Any] = {
        "kind": "contact", "id": f"ct_{uuid.uuid4().hex[:8]}", "email": email, "name": name,
        "language": "en", "time_zone": "America/New_York", "invite": invite,
        "no_invite_reason": None if invite else ("email_missing" if not email else "email_invalid"),
    }
    values.update(overrides)
    return Attendee(**values)


def meeting(**overrides: Any) -> MeetingScheduled:
    """A scheduled meeting in Europe/Rome with one invited contact (random ids)."""
    meeting_id = overrides.pop("meeting_id", f"mtg_{uuid.uuid4().hex[:10]}")
    start = overrides.pop("start", datetime(2026, 3, 10, 14, 0, tzinfo=timezone.utc))
    minutes = overrides.pop("duration_minutes", 30)
    values: dict[str, Any] = {
        "account_id": "acc_1", "version": 0, "occurred_at": NOW,
        "meeting_id": meeting_id, "ical_uid": ical_uid_for(meeting_id),
        "title": "Quarterly review", "start": start, "end": start + timedelta(minutes=minutes),
        "time_zone": "Europe/Rome", "duration_minutes": minutes,
        "host_user_id": "usr_host", "host_email": "marco.rossi@convene.example",
        "host_name": "Marco Rossi", "organizer_user_id": "usr_host", "on_behalf": False,
        "attendees": [contact()], "attendee_description": "<p>Agenda: <b>numbers</b></p>",
        "source": "crm", "send_invitations": True,
    }
    values.update(overrides)
    return MeetingScheduled(**values)


def updated(base: MeetingScheduled, *, version: int = 1, changed_fields: Sequence[str] = ("title",),
            removed: Sequence[Attendee] = (), **overrides: Any) -> MeetingUpdated:
    """A MeetingUpdated of ``base`` (its snapshot with ``overrides``)."""
    values = {**base.model_dump(), "version": version, **overrides,
              "changed_fields": list(changed_fields),
              "removed_attendees": [a.model_dump() for a in removed]}
    return MeetingUpdated.model_validate(values, strict=False)


def rescheduled(base: MeetingScheduled, *, version: int = 1,
                minutes_later: int = 60) -> MeetingRescheduled:
    """A MeetingRescheduled of ``base``, moved ``minutes_later``."""
    shift = timedelta(minutes=minutes_later)
    values = {**base.model_dump(), "version": version, "start": base.start + shift,
              "end": base.end + shift, "previous_start": base.start, "previous_end": base.end,
              "changed_fields": ["start", "end"]}
    return MeetingRescheduled.model_validate(values, strict=False)


def canceled(base: MeetingScheduled, *, version: int = 1) -> MeetingCanceled:
    """A MeetingCanceled of ``base``."""
    values = {**base.model_dump(), "version": version, "reason": "canceled_in_crm"}
    return MeetingCanceled.model_validate(values, strict=False)
