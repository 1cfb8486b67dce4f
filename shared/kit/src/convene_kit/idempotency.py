"""Applying events at least once without applying them twice.

Two tools, use whichever fits the effect:

* :class:`ProcessedEvents` remembers event ids a consumer group has processed
  (``_id = "<group>:<event_id>"``), for effects that are not naturally idempotent (sending
  an e-mail). Records are pruned after a retention period by a periodic task
  (:meth:`ProcessedEvents.run_pruning`): FerretDB 1.x may not expire TTL indexes.
* :func:`apply_if_newer` writes a projection only if the incoming aggregate version is
  newer than the stored one, so redelivered or out-of-order events cannot regress state.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from convene_kit.clock import Clock, utc_now
from convene_kit.periodic import every
from convene_kit.store import IndexSpec

logger = logging.getLogger(__name__)

PROCESSED_EVENTS_COLLECTION = "processed_events"


class ProcessedEvents:
    """Event ids processed by one consumer group, kept for ``retention_s`` seconds."""

    def __init__(
        self,
        collection: AsyncCollection[dict[str, Any]],
        group: str,
        *,
        retention_s: float = 7 * 24 * 3600.0,
        clock: Clock = utc_now,
    ) -> None:
        self.collection = collection
        self.group = group
        self.retention = timedelta(seconds=retention_s)
        self.clock = clock

    @staticmethod
    def indexes(collection: str = PROCESSED_EVENTS_COLLECTION) -> list[IndexSpec]:
        """The index pruning uses (lookups are by ``_id``)."""
        return [IndexSpec(collection=collection, keys=[("processed_at", 1)], name="processed_at")]

    def _key(self, event_id: str) -> str:
        return f"{self.group}:{event_id}"

    async def seen(self, event_id: str) -> bool:
        """True if this group already processed ``event_id``."""
        found = await self.collection.find_one({"_id": self._key(event_id)}, {"_id": 1})
        return found is not None

    async def mark(self, event_id: str) -> bool:
        """Record ``event_id`` as processed; False if it already was (a concurrent duplicate)."""
        try:
            await self.collection.insert_one(
                {
                    "_id": self._key(event_id),
                    "group": self.group,
                    "event_id": event_id,
                    "processed_at": self.clock(),
                }
            )
        except DuplicateKeyError:
            return False
        return True

    async def prune(self, now: datetime | None = None) -> int:
        """Delete this group's records older than the retention; returns how many."""
        cutoff = (now or self.clock()) - self.retention
        result = await self.collection.delete_many(
            {"group": self.group, "processed_at": {"$lt": cutoff}}
        )
        return result.deleted_count

    async def run_pruning(self, stopping: asyncio.Event, interval_s: float) -> None:
        """Prune every ``interval_s`` until ``stopping`` is set; failures are logged."""
        async def step() -> None:
            deleted = await self.prune()
            if deleted:
                logger.info("pruned %d processed-event records", deleted)

        await every(interval_s, stopping, step, what="pruning processed events")


async def apply_if_newer(
    collection: AsyncCollection[dict[str, Any]],
    query: Mapping[str, Any],
    version: int,
    update: Mapping[str, Any],
    *,
    upsert: bool = True,
    version_field: str = "version",
) -> bool:
    """Apply ``update`` to the document matching ``query`` only if ``version`` is newer.

    ``query`` should identify the document by ``_id`` (the aggregate id): with ``upsert``
    a missing document is created from it. The stored ``version_field`` is set to
    ``version`` in the same write. Returns True if the update was applied, False if the
    stored version was the same or newer (a duplicate or an older event).

    Safe against a concurrent upsert of a new document: the loser's insert fails with
    ``DuplicateKeyError`` and is retried as a conditional update. On FerretDB 1.x the
    condition and the write are not atomic (read, modify, write back), so two *concurrent*
    calls for one existing document could still let the older version land last; the
    consumer never makes such calls, because all events of one aggregate share a partition
    and a partition is processed one record at a time.
    """
    if "$or" in query:
        raise ValueError("apply_if_newer adds its own $or; put alternatives in $and")
    conditional = {
        **query,
        "$or": [{version_field: {"$lt": version}}, {version_field: {"$exists": False}}],
    }
    if any(not op.startswith("$") for op in update):
        raise ValueError("apply_if_newer needs an operator update ($set, $unset, ...)")
    full_update: dict[str, Any] = {op: dict(spec) for op, spec in update.items()}
    full_update.setdefault("$set", {})[version_field] = version
    try:
        result = await collection.update_one(conditional, full_update, upsert=upsert)
    except DuplicateKeyError:
        # The document exists with a version >= ours (the upsert tried to insert it again),
        # or a concurrent upsert won: retry as a plain conditional update.
        result = await collection.update_one(conditional, full_update, upsert=False)
    return result.matched_count > 0 or result.upserted_id is not None
