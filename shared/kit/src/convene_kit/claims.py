"""Exactly-one-winner claims built on unique inserts, the one write that is atomic on the
embedded store (FerretDB 1.24.2 on PostgreSQL) as well as on MongoDB.

FerretDB 1.x applies ``update_one``/``find_one_and_update`` by reading the document, updating
it in memory and writing the whole document back by ``_id``: two concurrent conditional
claims both "win", and concurrent updates of different fields of one document lose one of
them (measured and pinned in tests/integration/test_infra_store.py). Inserting a document
with a unique ``_id`` is atomic on both stores, so every claim here is an insert, and no claim
id is ever reused:

- :meth:`Claims.claim` claims a key once, for good (a reminder firing, an email sending).
- :meth:`Claims.lease` claims a key for one time window: the id carries the window's number,
  so when the window has passed the next claimer inserts a new id. A lease that is not
  released simply expires; nobody deletes or rewrites another's claim, which is what makes it
  safe without compare-and-swap.

Claims are pruned after a retention period (:meth:`Claims.prune`), well after any holder can
still act on them.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from convene_kit.clock import utc_now


@dataclass(frozen=True)
class Lease:
    """A held lease: valid until ``expires_at``; act only while :meth:`valid` is true."""

    key: str
    claim_id: str
    owner: str
    expires_at: datetime

    def valid(self, margin: timedelta = timedelta(seconds=1)) -> bool:
        """True while the lease has more than ``margin`` left."""
        return utc_now() + margin < self.expires_at


class Claims:
    """Claims and leases kept in one collection (``_id`` = claim id, ``claimed_at`` indexed)."""

    def __init__(self, collection: AsyncCollection, owner: str | None = None) -> None:
        self.collection = collection
        self.owner = owner or uuid.uuid4().hex

    async def claim(self, key: str, **details: Any) -> bool:
        """Claim ``key`` for good. True for exactly one caller, however many race."""
        try:
            await self.collection.insert_one(
                {"_id": key, "owner": self.owner, "claimed_at": utc_now(), **details})
        except DuplicateKeyError:
            return False
        return True

    async def holder(self, key: str) -> dict[str, Any] | None:
        """The claim document for ``key``, if anyone claimed it."""
        return await self.collection.find_one({"_id": key})

    async def release_claim(self, key: str) -> bool:
        """Give a permanent claim back (e.g. the work failed and may be retried by anyone).
        Only the claimer may call this."""
        result = await self.collection.delete_one({"_id": key, "owner": self.owner})
        return result.deleted_count == 1

    async def lease(self, key: str, duration: timedelta, now: datetime | None = None) -> Lease | None:
        """Lease ``key`` for the current window of length ``duration``.

        Windows are aligned to the epoch, so every replica computes the same window number
        and at most one of them leases ``key`` per window. The holder has until the window
        ends; then anyone may lease it again.
        """
        now = now or utc_now()
        seconds = duration.total_seconds()
        window = math.floor(now.timestamp() / seconds)
        claim_id = f"{key}#{window}"
        expires_at = datetime.fromtimestamp((window + 1) * seconds, timezone.utc)
        try:
            await self.collection.insert_one({"_id": claim_id, "key": key, "owner": self.owner,
                                              "claimed_at": now, "expires_at": expires_at})
        except DuplicateKeyError:
            return None
        return Lease(key=key, claim_id=claim_id, owner=self.owner, expires_at=expires_at)

    async def prune(self, older_than: timedelta) -> int:
        """Delete claims made more than ``older_than`` ago. Returns how many."""
        result = await self.collection.delete_many({"claimed_at": {"$lt": utc_now() - older_than}})
        return result.deleted_count
