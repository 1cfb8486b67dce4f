"""Read models of another service's aggregates, each document written only by a newer version.

records (and calendar-sync, for connections) publish the full state of an aggregate with
every change, on compacted topics; a consumer keeps the latest state it has seen. The same
rules hold for every such read model, so they live here once:

* a document's ``_id`` is ``"<account_id>:<aggregate_id>"`` (:func:`read_model_key`):
  aggregate ids are unique only within an account;
* it is written only if the incoming version is newer than the stored one
  (:func:`convene_kit.idempotency.apply_if_newer`), so a redelivered event or an older one
  arriving late changes nothing;
* every read and write is scoped to the account, and reads are by ``_id``: FerretDB serves
  an ``_id`` equality from its index, where other filters scan.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from convene_kit.idempotency import apply_if_newer
from convene_kit.store import MAX_FIND, find_all, scoped_filter


def read_model_key(account_id: str, aggregate_id: str) -> str:
    """The ``_id`` of a read-model document: ``"<account_id>:<aggregate_id>"``."""
    return f"{account_id}:{aggregate_id}"


class VersionedReadModel:
    """One collection of read-model documents, one per aggregate of an account, each
    carrying ``account_id``, ``version`` and the fields of the aggregate's state."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self.collection = collection

    async def put(self, account_id: str, aggregate_id: str, version: int,
                  state: Mapping[str, Any]) -> bool:
        """Set the fields of ``state`` on the aggregate's document if ``version`` is newer
        than the stored one (creating the document if there is none); True if written,
        False for the same or an older version. Fields ``state`` does not name keep their
        values, so pass the full state (or, for a tombstone, the fields to change)."""
        query = scoped_filter(account_id, {"_id": read_model_key(account_id, aggregate_id)})
        return await apply_if_newer(self.collection, query, version, {"$set": dict(state)})

    async def get(self, account_id: str, aggregate_id: str) -> dict[str, Any] | None:
        """The stored document of the account's aggregate, or None if none was written."""
        return await self.collection.find_one(
            scoped_filter(account_id, {"_id": read_model_key(account_id, aggregate_id)}))

    async def get_many(self, account_id: str,
                       aggregate_ids: Iterable[str]) -> list[dict[str, Any]]:
        """The stored documents of these aggregates of the account, in the order first
        named, the unknown ones left out. One id is one ``find_one`` by ``_id`` (the usual
        case, served from FerretDB's index); several are one ``$in`` find, of at most
        :data:`convene_kit.store.MAX_FIND` ids (more raise ``ValueError``)."""
        keys = list(dict.fromkeys(read_model_key(account_id, i) for i in aggregate_ids))
        if not keys:
            return []
        if len(keys) > MAX_FIND:
            raise ValueError(f"get_many reads at most {MAX_FIND} documents, not {len(keys)}")
        if len(keys) == 1:
            found = await self.collection.find_one(scoped_filter(account_id, {"_id": keys[0]}))
            return [] if found is None else [found]
        by_key = {d["_id"]: d for d in await find_all(
            self.collection, scoped_filter(account_id, {"_id": {"$in": keys}}), limit=len(keys))}
        return [by_key[k] for k in keys if k in by_key]
