"""In-memory stand-ins for the store and the publisher, so unit tests run the real
repositories, outbox and version guards without a database or Kafka.

FakeCollection implements the part of PyMongo's AsyncCollection records and the kit use:
inserts with unique ``_id`` and unique indexes, equality / $lt / $gt / $or / $exists / $size
filters, $set / $unset / $push / $pullAll / $min updates, upserts, sort and limit.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from convene_kit.testing import FakeCursor
from bson import ObjectId
from convene_kit.store import IndexSpec, MongoStore
from convene_records.settings import RecordsSettings
from convene_schemas.envelope import Envelope, KafkaRecord, from_kafka_message
from convene_schemas.events.common import RecordRef
from convene_schemas.events.meetings import Attendee, MeetingSnapshot, ical_uid_for
from pymongo.errors import DuplicateKeyError
from pymongo.results import DeleteResult, InsertOneResult, UpdateResult

_MISSING = object()


def _value(doc: Mapping[str, Any], path: str) -> Any:
    current: Any = doc
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return _MISSING
        current = current[part]
    return current


def _compare(value: Any, op: str, arg: Any) -> bool:
    if value is _MISSING:
        return op == "$exists" and not arg
    try:
        return {
            "$eq": lambda: value == arg, "$ne": lambda: value != arg,
            "$lt": lambda: value < arg, "$lte": lambda: value <= arg,
            "$gt": lambda: value > arg, "$gte": lambda: value >= arg,
            "$in": lambda: value in arg, "$exists": lambda: bool(arg),
            "$size": lambda: isinstance(value, list) and len(value) == arg,
        }[op]()
    except TypeError:
        return False


def matches(doc: Mapping[str, Any], query: Mapping[str, Any]) -> bool:
    """True if ``doc`` satisfies the (small) query language described above."""
    for key, condition in query.items():
        if key == "$or":
            if not any(matches(doc, q) for q in condition):
                return False
        elif key == "$and":
            if not all(matches(doc, q) for q in condition):
                return False
        elif isinstance(condition, Mapping) and condition and all(
                op.startswith("$") for op in condition):
            value = _value(doc, key)
            if not all(_compare(value, op, arg) for op, arg in condition.items()):
                return False
        elif _value(doc, key) != condition:
            value = _value(doc, key)
            if not (isinstance(value, list) and not isinstance(condition, list)
                    and condition in value):
                return False
    return True


def apply_update(doc: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    for op, spec in update.items():
        for field, arg in spec.items():
            if op == "$set":
                doc[field] = copy.deepcopy(arg)
            elif op == "$unset":
                doc.pop(field, None)
            elif op == "$push":
                items = arg["$each"] if isinstance(arg, Mapping) and "$each" in arg else [arg]
                doc.setdefault(field, []).extend(copy.deepcopy(items))
            elif op == "$pullAll":
                doc[field] = [item for item in doc.get(field, []) if item not in arg]
            elif op == "$min":
                if field not in doc or arg < doc[field]:
                    doc[field] = arg
            else:
                raise NotImplementedError(op)
    return doc


class FakeCollection:
    def __init__(self, name: str, store: FakeStore) -> None:
        self.name = name
        self.store = store
        self.docs: dict[Any, dict[str, Any]] = {}

    def _check_unique(self, doc: Mapping[str, Any]) -> None:
        for spec in self.store.indexes:
            if spec.collection != self.name or not spec.unique:
                continue
            key = [_value(doc, field) for field, _ in spec.keys]
            for other in self.docs.values():
                if other["_id"] != doc["_id"] and [_value(other, f) for f, _ in spec.keys] == key:
                    raise DuplicateKeyError(f"E11000 duplicate key error index: {spec.name}")

    def _store(self, doc: dict[str, Any], *, new: bool) -> None:
        if new and doc["_id"] in self.docs:
            raise DuplicateKeyError("E11000 duplicate key error index: _id_")
        self._check_unique(doc)
        self.docs[doc["_id"]] = doc

    def _first(self, query: Mapping[str, Any]) -> dict[str, Any] | None:
        return next((d for d in self.docs.values() if matches(d, query)), None)

    async def insert_one(self, document: Mapping[str, Any]) -> InsertOneResult:
        await asyncio.sleep(0)  # a round trip: concurrent requests interleave here
        doc = copy.deepcopy(dict(document))
        doc.setdefault("_id", ObjectId())
        self._store(doc, new=True)
        return InsertOneResult(doc["_id"], True)

    async def find_one(self, query: Mapping[str, Any] | None = None, *_: Any,
                       **__: Any) -> dict[str, Any] | None:
        await asyncio.sleep(0)  # a round trip: concurrent requests interleave here
        found = self._first(query or {})
        return copy.deepcopy(found) if found is not None else None

    def find(self, query: Mapping[str, Any] | None = None, projection: Any = None,
             **options: Any) -> FakeCursor:
        return FakeCursor([d for d in self.docs.values() if matches(d, query or {})],
                          **options)

    async def count_documents(self, query: Mapping[str, Any]) -> int:
        return sum(1 for d in self.docs.values() if matches(d, query))

    async def update_one(self, query: Mapping[str, Any], update: Mapping[str, Any],
                         upsert: bool = False) -> UpdateResult:
        found = self._first(query)
        if found is not None:
            self._store(apply_update(copy.deepcopy(found), update), new=False)
            return UpdateResult({"n": 1, "nModified": 1}, True)
        if not upsert:
            return UpdateResult({"n": 0, "nModified": 0}, True)
        seed = {k: copy.deepcopy(v) for k, v in query.items()
                if not k.startswith("$") and not isinstance(v, Mapping)}
        doc = apply_update(seed, update)
        doc.setdefault("_id", ObjectId())
        self._store(doc, new=True)  # like MongoDB: an existing _id makes the upsert fail
        return UpdateResult({"n": 1, "nModified": 0, "upserted": doc["_id"]}, True)

    async def delete_one(self, query: Mapping[str, Any]) -> DeleteResult:
        found = self._first(query)
        if found is not None:
            del self.docs[found["_id"]]
        return DeleteResult({"n": int(found is not None)}, True)

    async def delete_many(self, query: Mapping[str, Any]) -> DeleteResult:
        doomed = [k for k, d in self.docs.items() if matches(d, query)]
        for key in doomed:
            del self.docs[key]
        return DeleteResult({"n": len(doomed)}, True)

    async def create_index(self, *_: Any, **__: Any) -> None:
        return None


class FakeStore(MongoStore):
    """A MongoStore whose collections live in memory; unique indexes are enforced."""

    def __init__(self, indexes: Iterable[IndexSpec] = ()) -> None:
        super().__init__("mongodb://fake.invalid/", "fake", indexes=indexes)
        self.collections: dict[str, FakeCollection] = {}

    def collection(self, name: str) -> FakeCollection:  # type: ignore[override]
        return self.collections.setdefault(name, FakeCollection(name, self))

    async def ping(self, timeout_s: float | None = None) -> None:
        return None

    async def ensure_indexes(self) -> None:
        return None

    async def close(self) -> None:
        return None


class FakePublisher:
    """Keeps what the outbox publishes; ``failing = True`` simulates Kafka being down."""

    def __init__(self, settings: RecordsSettings) -> None:
        self.settings = settings
        self.records: list[KafkaRecord] = []
        self.failing = False

    async def publish_record(self, record: KafkaRecord) -> None:
        if self.failing:
            raise ConnectionError("kafka unreachable")
        self.records.append(record)

    def envelopes(self) -> list[Envelope]:
        return [from_kafka_message(r.value, r.headers, r.key) for r in self.records]


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
