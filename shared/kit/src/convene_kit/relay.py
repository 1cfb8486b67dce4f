"""The outbox relay: publishes what a crash left in documents' outboxes.

The normal path publishes right after the write (:meth:`convene_kit.outbox.Outbox.publish_pending`).
The relay only looks at documents whose ``outbox_pending_since`` is older than a grace
period, so it rarely races the writer. Every replica runs a relay.

Claiming a document. On MongoDB a conditional ``find_one_and_update`` would be an atomic
claim; on FerretDB 1.24 it is not (it reads, updates in memory and writes the whole document
back, so two claimers both win: pinned in tests/integration/test_infra_store.py). The relay
therefore leases each document through :class:`convene_kit.claims.Claims`, a unique insert
of ``<collection>:<_id>#<window>``: exactly one replica wins each lease window, and the
aggregate document itself is never written by the claim. A relay only starts on a document
while at least half of the window is left, so a lease does not run out under a normal
publish; if one does (a stalled replica), the next window's holder may publish the same
entries again. Delivery is at least once, with stable event ids for consumers to drop
duplicates; the common case is exactly once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from convene_kit.claims import Claims
from convene_kit.clock import Clock, utc_now
from convene_kit.kafka import EventPublisher
from convene_kit.metrics import OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE, OUTBOX_RELAYED
from convene_kit.outbox import (
    OUTBOX_FIELD,
    PENDING_SINCE_FIELD,
    outbox_indexes,
    publish_and_clear,
)
from convene_kit.periodic import every
from convene_kit.settings import ServiceSettings
from convene_kit.store import IndexSpec, MongoStore, find_all

logger = logging.getLogger(__name__)

OUTBOX_LEASES_COLLECTION = "outbox_leases"


class OutboxRelay:
    """Sweeps outbox-carrying collections and publishes entries older than the grace period."""

    def __init__(
        self,
        store: MongoStore,
        publisher: EventPublisher,
        *,
        replica_id: str,
        collections: Iterable[str],
        grace_s: float = 10.0,
        lease_s: float = 30.0,
        interval_s: float = 5.0,
        batch_size: int = 100,
        leases_collection: str = OUTBOX_LEASES_COLLECTION,
        clock: Clock = utc_now,
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.replica_id = replica_id
        self.collections = list(collections)
        self.grace = timedelta(seconds=grace_s)
        self.lease = timedelta(seconds=lease_s)
        self.interval_s = interval_s
        self.batch_size = batch_size
        self.leases = Claims(store.collection(leases_collection), owner=replica_id)
        self.clock = clock

    @classmethod
    def from_settings(
        cls,
        store: MongoStore,
        publisher: EventPublisher,
        settings: ServiceSettings,
        *,
        collections: Iterable[str],
        clock: Clock = utc_now,
    ) -> OutboxRelay:
        """The relay a service's bootstrap hands to ``ServiceRuntime(relay=...)``: sweeps
        ``collections`` (every collection whose documents carry an outbox) with the
        ``outbox_*`` settings and publishes through ``publisher``, the one the service's
        writes publish through. Declares on ``store`` the indexes the sweep and the leases
        need (:func:`~convene_kit.outbox.outbox_indexes`, :meth:`indexes`)."""
        swept = list(collections)
        store.declare(*outbox_indexes(swept), *cls.indexes())
        return cls(
            store,
            publisher,
            replica_id=settings.replica_id,
            collections=swept,
            grace_s=settings.outbox_grace_s,
            lease_s=settings.outbox_lease_s,
            interval_s=settings.outbox_sweep_interval_s,
            batch_size=settings.outbox_batch_size,
            clock=clock,
        )

    @staticmethod
    def indexes(leases_collection: str = OUTBOX_LEASES_COLLECTION) -> list[IndexSpec]:
        """The index pruning old leases uses."""
        return [IndexSpec(leases_collection, [("claimed_at", 1)], name="claimed_at")]

    async def sweep_once(self) -> int:
        """One bounded pass over every collection; returns how many entries it published."""
        published = 0
        for name in self.collections:
            published += await self._sweep_collection(name)
            await self.measure(name)
        await self.leases.prune(older_than=self.lease * 10)
        return published

    def _window_left(self, now: datetime) -> float:
        seconds = self.lease.total_seconds()
        return seconds - (now.timestamp() % seconds)

    async def _sweep_collection(self, name: str) -> int:
        collection = self.store.collection(name)
        now = self.clock()
        candidates = [doc["_id"] for doc in await find_all(
            collection, {PENDING_SINCE_FIELD: {"$lt": now - self.grace}}, {"_id": 1},
            sort=[(PENDING_SINCE_FIELD, 1)], limit=self.batch_size)]
        published = 0
        for doc_id in candidates:
            now = self.clock()
            if self._window_left(now) < self.lease.total_seconds() / 2:
                break  # too little of this lease window left: the next sweep continues
            lease = await self.leases.lease(f"{name}:{doc_id}", self.lease, now=now)
            if lease is None:
                continue  # another replica holds it
            # Read again under the lease: the writer or another relay may have finished it.
            doc: dict[str, Any] | None = await collection.find_one(
                {"_id": doc_id}, {OUTBOX_FIELD: 1, PENDING_SINCE_FIELD: 1}
            )
            if doc is None or PENDING_SINCE_FIELD not in doc:
                continue
            relayed = await publish_and_clear(self.publisher, collection, doc)
            if relayed:
                logger.warning("relayed %d outbox entries left behind in %s/%s",
                               relayed, name, doc_id)
            OUTBOX_RELAYED.labels(collection=name).inc(relayed)
            published += relayed
        return published

    async def measure(self, name: str) -> tuple[int, float]:
        """Update the backlog gauges of one collection; returns (documents pending, age s)."""
        collection = self.store.collection(name)
        pending = {PENDING_SINCE_FIELD: {"$exists": True}}
        backlog = await collection.count_documents(pending)
        age = 0.0
        if backlog:
            oldest: dict[str, Any] | None = await collection.find_one(
                pending, {PENDING_SINCE_FIELD: 1, OUTBOX_FIELD: 1},
                sort=[(PENDING_SINCE_FIELD, 1)],
            )
            if oldest is not None:
                times = [e["created_at"] for e in oldest.get(OUTBOX_FIELD) or []]
                times.append(oldest[PENDING_SINCE_FIELD])
                age = max(0.0, (self.clock() - min(times)).total_seconds())
        OUTBOX_BACKLOG.labels(collection=name).set(backlog)
        OUTBOX_OLDEST_AGE.labels(collection=name).set(age)
        return backlog, age

    async def run(self, stopping: asyncio.Event) -> None:
        """Sweep every ``interval_s`` until ``stopping`` is set; failures are logged, not fatal."""
        await every(self.interval_s, stopping, self.sweep_once, what="the outbox relay sweep")
