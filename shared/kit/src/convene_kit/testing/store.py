"""An in-memory store for unit tests: :class:`FakeStore`, the one in-memory MongoDB of the
kit's and the services' tests (the slice of the API the kit and the services call, unique
indexes, a BSON round trip on every write and read), run under the real repositories.
"""

from __future__ import annotations

import asyncio
import copy
import operator
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from functools import partial
from typing import Any

import bson
from bson import ObjectId
from bson.codec_options import CodecOptions
from pymongo.errors import BulkWriteError, DuplicateKeyError, WriteError
from pymongo.results import DeleteResult, InsertManyResult, InsertOneResult, UpdateResult

from convene_kit.store import IndexSpec


class FakeCursor:
    """An in-memory cursor for unit tests' fake collections: ``find(query, projection,
    sort=, skip=, limit=, batch_size=)`` as :func:`convene_kit.store.find_all` calls it, the
    chained ``sort/skip/limit`` and ``async for``, ``to_list`` and ``close``."""

    def __init__(self, docs: list[dict[str, Any]], *, sort: Any = None, skip: int = 0,
                 limit: int = 0, copy_docs: Callable[[dict[str, Any]], dict[str, Any]]
                 | None = None, **_options: Any) -> None:
        self.docs = list(docs)
        self._copy = copy_docs or copy.deepcopy
        self.closed = False
        if sort:
            self.sort(sort)
        if skip:
            self.skip(skip)
        if limit:
            self.limit(limit)

    def sort(self, keys: Any) -> FakeCursor:
        """Sort by ``[(field, ±1), ...]``; missing values first, as MongoDB does."""
        for field, direction in reversed(list(keys)):
            self.docs.sort(key=partial(_sort_key, dotted=field), reverse=direction < 0)
        return self

    def skip(self, count: int) -> FakeCursor:
        self.docs = self.docs[count:]
        return self

    def limit(self, count: int) -> FakeCursor:
        self.docs = self.docs[:count] if count else self.docs
        return self

    async def to_list(self, length: int | None = None) -> list[dict[str, Any]]:
        docs = self.docs if length is None else self.docs[:length]
        return [self._copy(d) for d in docs]

    async def close(self) -> None:
        self.closed = True

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        async def iterate() -> AsyncIterator[dict[str, Any]]:
            for doc in self.docs:
                yield self._copy(doc)
        return iterate()


def _sort_key(doc: dict[str, Any], dotted: str) -> tuple[bool, Any]:
    value: Any = doc
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return (value is not None, value)


# ---------------------------------------------------------------------------------------
# An in-memory store for unit tests (the one MongoDB fake of records, meetings and the kit)

_CODEC: CodecOptions[dict[str, Any]] = CodecOptions(tz_aware=True)
_MISSING = object()


def bson_copy(doc: Mapping[str, Any]) -> dict[str, Any]:
    """``doc`` as a store would give it back: a BSON round trip (aware UTC datetimes with
    milliseconds, tuples as lists; a type BSON cannot hold fails here, as it would there)."""
    return bson.decode(bson.encode(doc), codec_options=_CODEC)


def _refuse_nested_arrays(value: Any, inside_array: bool = False) -> None:
    """FerretDB 1.x stores no array directly inside an array (its error code 2, "nested
    arrays are not supported"); MongoDB does. Refused here too, so a unit test meets what
    the embedded store would answer (store ``[{start, end}]``, not ``[[start, end]]``)."""
    if isinstance(value, list):
        if inside_array:
            raise WriteError("invalid value: nested arrays are not supported", 2,
                             {"code": 2, "errmsg": "nested arrays are not supported"})
        for item in value:
            _refuse_nested_arrays(item, inside_array=True)
    elif isinstance(value, Mapping):
        for item in value.values():
            _refuse_nested_arrays(item)


def _get(doc: Mapping[str, Any], path: str) -> Any:
    value: Any = doc
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


_ORDER = {"$lt": operator.lt, "$lte": operator.le, "$gt": operator.gt, "$gte": operator.ge}


def _compare(value: Any, op: str, arg: Any) -> bool:
    if op == "$exists":
        return (value is not _MISSING) == bool(arg)
    if op == "$ne":
        return not _compare(value, "$eq", arg)
    if op == "$in":
        return any(_compare(value, "$eq", item) for item in arg)
    if op == "$size":
        return isinstance(value, list) and len(value) == arg
    if op == "$eq":  # a missing field equals null; an array equals each of its elements
        if value is _MISSING:
            return arg is None
        return bool(value == arg) or (isinstance(value, list) and arg in value)
    if op not in _ORDER:
        raise NotImplementedError(op)
    if isinstance(value, list):
        return any(_compare(item, op, arg) for item in value)
    if value is _MISSING or value is None:
        return False
    try:
        return bool(_ORDER[op](value, arg))
    except TypeError:  # values of other BSON types never compare (type bracketing)
        return False


def matches(doc: Mapping[str, Any], query: Mapping[str, Any]) -> bool:
    """True if ``doc`` satisfies the filter: fields (dotted paths) equal to a value or
    meeting ``$eq $ne $lt $lte $gt $gte $in $exists $size``, and ``$or``/``$and``."""
    for key, condition in query.items():
        if key == "$or":
            if not any(matches(doc, q) for q in condition):
                return False
        elif key == "$and":
            if not all(matches(doc, q) for q in condition):
                return False
        elif isinstance(condition, Mapping) and condition and all(
                str(op).startswith("$") for op in condition):
            value = _get(doc, key)
            if not all(_compare(value, op, arg) for op, arg in condition.items()):
                return False
        elif not _compare(_get(doc, key), "$eq", condition):
            return False
    return True


def _parent(doc: dict[str, Any], field: str, *, create: bool
            ) -> tuple[dict[str, Any] | None, str]:
    """The sub-document a dotted path (``events.abc``) ends in, and the last key; as MongoDB
    and FerretDB do, ``$set`` creates the missing levels."""
    *path, leaf = field.split(".")
    for key in path:
        child = doc.get(key)
        if not isinstance(child, dict):
            if not create:
                return None, leaf
            child = doc[key] = {}
        doc = child
    return doc, leaf


def apply_update(doc: dict[str, Any], update: Mapping[str, Any]) -> None:
    """Apply an operator update in place: ``$set $unset $inc $push ($each) $pullAll $min``;
    ``$set`` and ``$unset`` follow dotted paths into sub-documents."""
    for op, spec in update.items():
        for field, arg in spec.items():
            if op == "$set":
                parent, leaf = _parent(doc, field, create=True)
                assert parent is not None
                parent[leaf] = arg
            elif op == "$unset":
                parent, leaf = _parent(doc, field, create=False)
                if parent is not None:
                    parent.pop(leaf, None)
            elif op == "$push":
                items = arg["$each"] if isinstance(arg, Mapping) and "$each" in arg else [arg]
                doc.setdefault(field, []).extend(items)
            elif op == "$pullAll":
                doc[field] = [item for item in doc.get(field, []) if item not in arg]
            elif op == "$min":
                if field not in doc or arg < doc[field]:
                    doc[field] = arg
            elif op == "$inc":
                doc[field] = doc.get(field, 0) + arg
            else:
                raise NotImplementedError(op)


class FakeCollection:
    """An in-memory AsyncCollection: what the kit and the services call of it, with a
    unique ``_id``, the store's unique indexes, a BSON round trip on every write and read,
    and a yield to the event loop on every insert and ``find_one`` (a round trip, where
    concurrent requests interleave). ``fail_with`` makes every call raise (an outage)."""

    def __init__(self, name: str, store: FakeStore) -> None:
        self.name = name
        self.database = store
        self.docs: dict[Any, dict[str, Any]] = {}
        self.fail_with: BaseException | None = None

    def _check(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with

    def _first(self, query: Mapping[str, Any]) -> dict[str, Any] | None:
        return next((d for d in self.docs.values() if matches(d, query)), None)

    def _store(self, doc: dict[str, Any], *, new: bool) -> None:
        _refuse_nested_arrays(doc)
        if new and doc["_id"] in self.docs:
            raise DuplicateKeyError(f"E11000 duplicate key error {self.name} index: _id_")
        for spec in self.database.indexes:
            if spec.collection != self.name or not spec.unique:
                continue
            key = [_get(doc, field) for field, _ in spec.keys]
            if any(other["_id"] != doc["_id"] and [_get(other, f) for f, _ in spec.keys] == key
                   for other in self.docs.values()):
                raise DuplicateKeyError(f"E11000 duplicate key error {self.name} "
                                        f"index: {spec.name}")
        self.docs[doc["_id"]] = doc

    async def insert_one(self, document: Mapping[str, Any]) -> InsertOneResult:
        await asyncio.sleep(0)
        self._check()
        doc = bson_copy({"_id": ObjectId(), **document})
        self._store(doc, new=True)
        return InsertOneResult(doc["_id"], True)

    async def insert_many(self, documents: Iterable[Mapping[str, Any]],
                          ordered: bool = True) -> InsertManyResult:
        """As MongoDB: ordered stops at the first duplicate and raises BulkWriteError with
        ``nInserted`` and the failed document's index; unordered inserts all it can."""
        await asyncio.sleep(0)
        self._check()
        inserted: list[Any] = []
        errors: list[dict[str, Any]] = []
        for index, document in enumerate(documents):
            doc = bson_copy({"_id": ObjectId(), **document})
            try:
                self._store(doc, new=True)
            except DuplicateKeyError as exc:
                errors.append({"index": index, "code": 11000, "errmsg": str(exc)})
                if ordered:
                    break
                continue
            inserted.append(doc["_id"])
        if errors:
            raise BulkWriteError({"nInserted": len(inserted), "writeErrors": errors,
                                  "writeConcernErrors": [], "nUpserted": 0, "nMatched": 0,
                                  "nModified": 0, "nRemoved": 0, "upserted": []})
        return InsertManyResult(inserted, True)

    async def find_one(self, query: Mapping[str, Any] | None = None, *_: Any,
                       **__: Any) -> dict[str, Any] | None:
        await asyncio.sleep(0)
        self._check()
        found = self._first(query or {})
        return None if found is None else bson_copy(found)

    def find(self, query: Mapping[str, Any] | None = None, projection: Any = None,
             **options: Any) -> FakeCursor:
        self._check()
        return FakeCursor([d for d in self.docs.values() if matches(d, query or {})],
                          copy_docs=bson_copy, **options)

    async def count_documents(self, query: Mapping[str, Any]) -> int:
        self._check()
        return sum(1 for d in self.docs.values() if matches(d, query))

    async def update_one(self, query: Mapping[str, Any], update: Mapping[str, Any],
                         upsert: bool = False) -> UpdateResult:
        self._check()
        found = self._first(query)
        if found is not None:
            changed = bson_copy(found)
            apply_update(changed, bson_copy(update))
            self._store(bson_copy(changed), new=False)
            return UpdateResult({"n": 1, "nModified": int(changed != found)}, True)
        if not upsert:
            return UpdateResult({"n": 0, "nModified": 0}, True)
        doc = bson_copy({k: v for k, v in query.items() if not k.startswith("$") and not (
            isinstance(v, Mapping) and any(str(op).startswith("$") for op in v))})
        apply_update(doc, bson_copy(update))
        doc = bson_copy({"_id": ObjectId(), **doc})
        self._store(doc, new=True)  # as on MongoDB: an existing _id makes the upsert fail
        return UpdateResult({"n": 1, "nModified": 0, "upserted": doc["_id"]}, True)

    async def update_many(self, query: Mapping[str, Any],
                          update: Mapping[str, Any]) -> UpdateResult:
        self._check()
        matched = modified = 0
        for found in [d for d in self.docs.values() if matches(d, query)]:
            changed = bson_copy(found)
            apply_update(changed, bson_copy(update))
            self._store(bson_copy(changed), new=False)
            matched += 1
            modified += int(changed != found)
        return UpdateResult({"n": matched, "nModified": modified}, True)

    async def replace_one(self, query: Mapping[str, Any], replacement: Mapping[str, Any],
                          upsert: bool = False) -> UpdateResult:
        self._check()
        found = self._first(query)
        if found is None and not upsert:
            return UpdateResult({"n": 0, "nModified": 0}, True)
        doc = bson_copy({"_id": found["_id"] if found is not None else ObjectId(),
                         **replacement})
        self._store(doc, new=found is None)
        return UpdateResult({"n": 1, "nModified": int(found is not None)}, True)

    async def delete_one(self, query: Mapping[str, Any]) -> DeleteResult:
        self._check()
        found = self._first(query)
        if found is not None:
            del self.docs[found["_id"]]
        return DeleteResult({"n": int(found is not None)}, True)

    async def delete_many(self, query: Mapping[str, Any]) -> DeleteResult:
        self._check()
        doomed = [key for key, doc in self.docs.items() if matches(doc, query)]
        for key in doomed:
            del self.docs[key]
        return DeleteResult({"n": len(doomed)}, True)

    async def create_index(self, *_: Any, **__: Any) -> None:
        return None


class FakeStore:
    """A MongoStore stand-in whose collections live in memory; unique indexes given here or
    declared later (:meth:`declare`, as bootstrap does) are enforced."""

    def __init__(self, indexes: Iterable[IndexSpec] = ()) -> None:
        self.indexes: list[IndexSpec] = list(indexes)
        self.collections: dict[str, FakeCollection] = {}

    def collection(self, name: str) -> FakeCollection:
        return self.collections.setdefault(name, FakeCollection(name, self))

    __getitem__ = collection

    def declare(self, *specs: IndexSpec) -> None:
        self.indexes.extend(specs)

    async def connect(self) -> None:
        return None

    async def ping(self, timeout_s: float | None = None) -> None:
        return None

    async def ensure_indexes(self) -> None:
        return None

    async def close(self) -> None:
        return None
