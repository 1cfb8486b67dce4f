"""In-memory stand-ins for the store and the publisher (meetings' unit tests, no servers).

``FakeCollection`` implements the slice of the MongoDB API the kit and meetings use
(equality, $in, $lt, $gt, $ne, $exists, $or, $and, $size; $set, $unset, $push/$each, $pullAll,
$min; upserts; a duplicate _id is refused). Every document goes through a real BSON round
trip, so what a test reads back is what a store would keep (aware UTC datetimes with
milliseconds, no Python-only types).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from convene_kit.testing import FakeCursor
import bson
from bson.codec_options import CodecOptions
from convene_kit.settings import ServiceSettings
from convene_kit.store import IndexSpec
from convene_schemas.envelope import Envelope, KafkaRecord, from_kafka_message
from pymongo.errors import DuplicateKeyError

_CODEC = CodecOptions(tz_aware=True)



def _bson(doc: dict[str, Any]) -> dict[str, Any]:
    return bson.decode(bson.encode(doc), codec_options=_CODEC)


_MISSING = object()


def _get(doc: dict[str, Any], path: str) -> Any:
    value: Any = doc
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _matches_condition(value: Any, condition: Any) -> bool:
    if isinstance(condition, dict) and condition and all(k.startswith("$") for k in condition):
        for op, arg in condition.items():
            if op == "$in":
                ok = value is not _MISSING and value in arg
            elif op == "$lt":
                ok = value is not _MISSING and value is not None and value < arg
            elif op == "$gt":
                ok = value is not _MISSING and value is not None and value > arg
            elif op == "$ne":
                ok = value is _MISSING or value != arg
            elif op == "$exists":
                ok = (value is not _MISSING) == bool(arg)
            elif op == "$size":
                ok = isinstance(value, list) and len(value) == arg
            else:
                raise NotImplementedError(op)
            if not ok:
                return False
        return True
    return value is not _MISSING and value == condition


def matches(doc: dict[str, Any], query: dict[str, Any]) -> bool:
    """True if ``doc`` matches the MongoDB filter ``query`` (the supported subset)."""
    for key, condition in query.items():
        if key == "$or":
            if not any(matches(doc, sub) for sub in condition):
                return False
        elif key == "$and":
            if not all(matches(doc, sub) for sub in condition):
                return False
        elif not _matches_condition(_get(doc, key), condition):
            return False
    return True


def apply_update(doc: dict[str, Any], update: dict[str, Any]) -> None:
    """Apply an operator update to ``doc`` in place (the supported subset)."""
    for op, spec in update.items():
        for field, arg in spec.items():
            if op == "$set":
                doc[field] = arg
            elif op == "$unset":
                doc.pop(field, None)
            elif op == "$push":
                items = arg["$each"] if isinstance(arg, dict) and "$each" in arg else [arg]
                doc.setdefault(field, []).extend(items)
            elif op == "$pullAll":
                doc[field] = [v for v in doc.get(field, []) if v not in _bson({"v": arg})["v"]]
            elif op == "$min":
                if field not in doc or arg < doc[field]:
                    doc[field] = arg
            else:
                raise NotImplementedError(op)


@dataclass
class _Result:
    matched_count: int = 0
    modified_count: int = 0
    upserted_id: Any = None
    inserted_id: Any = None
    deleted_count: int = 0


class FakeCollection:
    """An in-memory stand-in for a PyMongo AsyncCollection."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.docs: dict[Any, dict[str, Any]] = {}
        self.fail_with: BaseException | None = None

    def _check(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with

    async def insert_one(self, document: dict[str, Any]) -> _Result:
        self._check()
        doc = _bson(document)
        doc.setdefault("_id", uuid.uuid4().hex)
        if doc["_id"] in self.docs:
            raise DuplicateKeyError(f"duplicate _id {doc['_id']!r} in {self.name}")
        self.docs[doc["_id"]] = doc
        return _Result(inserted_id=doc["_id"])

    async def find_one(self, query: dict[str, Any], projection: Any = None,
                       **_: Any) -> dict[str, Any] | None:
        self._check()
        for doc in self.docs.values():
            if matches(doc, query):
                return _bson(doc)
        return None

    def find(self, query: dict[str, Any] | None = None, projection: Any = None,
             **options: Any) -> FakeCursor:
        self._check()
        return FakeCursor([_bson(d) for d in self.docs.values() if matches(d, query or {})],
                          **options)

    async def count_documents(self, query: dict[str, Any]) -> int:
        return sum(1 for d in self.docs.values() if matches(d, query))

    async def update_one(self, query: dict[str, Any], update: dict[str, Any],
                         upsert: bool = False) -> _Result:
        self._check()
        for key, doc in self.docs.items():
            if matches(doc, query):
                changed = _bson(doc)
                apply_update(changed, _bson(update))
                self.docs[key] = _bson(changed)
                return _Result(matched_count=1, modified_count=int(changed != doc))
        if not upsert:
            return _Result()
        seed = {k: v for k, v in query.items()
                if not k.startswith("$") and not (isinstance(v, dict) and any(
                    str(o).startswith("$") for o in v))}
        doc = _bson(seed)
        apply_update(doc, _bson(update))
        await self.insert_one(doc)
        return _Result(upserted_id=doc.get("_id"))

    async def delete_one(self, query: dict[str, Any]) -> _Result:
        for key, doc in list(self.docs.items()):
            if matches(doc, query):
                del self.docs[key]
                return _Result(deleted_count=1)
        return _Result()

    async def delete_many(self, query: dict[str, Any]) -> _Result:
        keys = [k for k, d in self.docs.items() if matches(d, query)]
        for key in keys:
            del self.docs[key]
        return _Result(deleted_count=len(keys))


class FakeStore:
    """A MongoStore stand-in holding FakeCollections."""

    def __init__(self) -> None:
        self.collections: dict[str, FakeCollection] = {}
        self.indexes: list[IndexSpec] = []

    def collection(self, name: str) -> FakeCollection:
        return self.collections.setdefault(name, FakeCollection(name))

    def declare(self, *specs: IndexSpec) -> None:
        self.indexes.extend(specs)

    async def connect(self) -> None:
        return None

    async def ensure_indexes(self) -> None:
        return None

    async def ping(self, timeout_s: float | None = None) -> None:
        return None

    async def close(self) -> None:
        return None


class FakePublisher:
    """Captures what the outbox publishes; ``fail`` makes Kafka unreachable."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.sent: list[KafkaRecord] = []
        self.fail = False

    async def publish_record(self, record: KafkaRecord) -> None:
        if self.fail:
            raise ConnectionError("kafka unreachable")
        self.sent.append(record)

    def events(self) -> list[Envelope]:
        return [from_kafka_message(r.value, r.headers, r.key) for r in self.sent]
