"""The revision log: concurrent changes of one aggregate kept apart on FerretDB 1.x.

Services do not call it directly: :class:`convene_kit.aggregates.Aggregates` runs the
protocol (load with roll-forward, claim, head write, publishing in version order) over it.

FerretDB's conditional updates are not atomic (a version in the filter stops nobody), but
inserting a unique ``_id`` is. So every change of an aggregate (a meeting, a contact, ...)
**claims its new version** by inserting
``{_id: "<aggregate id>:<version>", account_id, aggregate_id, version, state, claimed_at}``
plus the change's events (an outbox the relay sweeps) into the service's revisions
collection. Exactly one writer wins a version; the loser reloads and re-applies its change
on the newer state.

The claim holds the whole new state and the events, so it is the truth; the aggregate's own
document is the *head*, a cache of its latest revision. A crash between claim and head write
leaves the head behind, and every load rolls it forward through revisions ``version + 1,
+ 2, ...`` (:meth:`RevisionLog.state`); a late head write (a slow writer overtaken) is
repaired the same way, since revisions are contiguous. Pass the collection to
``OutboxRelay.from_settings(..., collections=...)``.

Each claim names its head's collection (``head``), so :meth:`RevisionLog.prune` can drop
claims that will never be read again: published, older than a retention far longer than any
request (a slow writer that writes an old state over the head needs the claims above it to be
repaired), and at or below the version the head holds now. Run it with
``ServiceRuntime(background=[log.run_pruning])``.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from convene_kit.clock import Clock, utc_now
from convene_kit.outbox import PENDING_SINCE_FIELD, insert_with_events
from convene_kit.periodic import every
from convene_kit.store import AccountScopedCollection, IndexSpec, find_all, scoped_filter

logger = logging.getLogger(__name__)

RETENTION = timedelta(days=1)
"""How long a published claim is kept after it was made (pruning is safe long before)."""


def revision_key(aggregate_id: str, version: int) -> str:
    """The ``_id`` of a revision claim: ``"<aggregate id>:<version>"``."""
    return f"{aggregate_id}:{version}"


def revision_indexes(collection: str) -> list[IndexSpec]:
    """The index :meth:`RevisionLog.pending` reads (an aggregate's claims by version)."""
    return [IndexSpec(collection=collection,
                      keys=[("account_id", 1), ("aggregate_id", 1), ("version", 1)],
                      name="aggregate_versions"),
            IndexSpec(collection=collection, keys=[("claimed_at", 1)], name="claimed_at")]


class RevisionLog:
    """One claim per aggregate version after the first, account-scoped; ``clock`` dates
    the pruning."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]], *,
                 clock: Clock = utc_now) -> None:
        self.collection = collection
        self.clock = clock
        self._scoped = AccountScopedCollection(collection)
        self._publishing: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary())

    async def claim(self, document: Mapping[str, Any], outbox: Sequence[Mapping[str, Any]],
                    now: datetime, *, head: str) -> dict[str, Any] | None:
        """Claim the version of ``document`` (the head's stored form: ``_id`` = aggregate
        id, ``account_id``, ``version``; the head lives in collection ``head``) with its
        outbox entries; None if already taken."""
        state = dict(document)
        aggregate_id = state.pop("_id")
        return await insert_with_events(self.collection, {
            "_id": revision_key(aggregate_id, state["version"]),
            "account_id": scoped_filter(state["account_id"])["account_id"],
            "aggregate_id": aggregate_id, "head": head, "version": state["version"],
            "state": state, "claimed_at": now}, outbox)

    async def state(self, account_id: str, aggregate_id: str,
                    version: int) -> dict[str, Any] | None:
        """The head document as revision ``version`` left it, or None if nobody claimed it."""
        found = await self._scoped.find_one(account_id,
                                            {"_id": revision_key(aggregate_id, version)})
        return None if found is None else {"_id": aggregate_id, **found["state"]}

    async def pending(self, account_id: str, aggregate_id: str,
                      up_to: int) -> list[dict[str, Any]]:
        """Claims up to version ``up_to`` whose events are not yet published, oldest first."""
        return await self._scoped.find(
            account_id, {"aggregate_id": aggregate_id, "version": {"$lte": up_to},
                         PENDING_SINCE_FIELD: {"$exists": True}},
            sort=[("version", 1)])

    async def withdraw(self, account_id: str, aggregate_id: str, version: int) -> None:
        """Delete a claim whose state can never become the head (a unique key taken)."""
        await self._scoped.delete_one(account_id,
                                      {"_id": revision_key(aggregate_id, version)})

    def publishing(self, aggregate_id: str) -> asyncio.Lock:
        """The lock this process publishes an aggregate's revisions under, so that its
        events leave in version order even when concurrent requests finish out of order."""
        lock = self._publishing.get(aggregate_id)
        if lock is None:
            lock = self._publishing[aggregate_id] = asyncio.Lock()
        return lock

    async def prune(self, now: datetime, *, retention: timedelta = RETENTION,
                    limit: int = 500) -> int:
        """Delete up to ``limit`` claims that will never be read again: claimed before
        ``now - retention``, their events published, and at or below the version their head
        holds. Returns how many were deleted."""
        old = await find_all(
            self.collection,
            {"claimed_at": {"$lt": now - retention}, PENDING_SINCE_FIELD: {"$exists": False}},
            {"account_id": 1, "aggregate_id": 1, "head": 1, "version": 1}, limit=limit)
        database, deleted = self.collection.database, 0
        for claim in old:  # read whole first: no cursor stays open across the writes below
            head = await database[claim["head"]].find_one(
                {"_id": claim["aggregate_id"], "account_id": claim["account_id"]},
                {"version": 1})
            if head is not None and head.get("version", -1) >= claim["version"]:
                await self._scoped.delete_one(claim["account_id"], {"_id": claim["_id"]})
                deleted += 1
        return deleted

    async def run_pruning(self, stopping: asyncio.Event, interval_s: float = 600.0) -> None:
        """Prune every ``interval_s`` until ``stopping`` is set; failures are logged."""
        async def step() -> None:
            deleted = await self.prune(self.clock())
            if deleted:
                logger.info("pruned %d revision claims of %s", deleted, self.collection.name)

        await every(interval_s, stopping, step, what="pruning revision claims")
