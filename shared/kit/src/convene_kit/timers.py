"""Durable timers with kinds: one collection of timer documents, and one scheduler, run by
every replica, firing each due timer through the handler of its ``kind``.

A timer is a document with ``_id``, ``kind``, ``due_at`` and whatever its kind needs
(:class:`Timers`). Every ``interval_s`` the :class:`TimerScheduler` reads a bounded batch
of due timers, earliest first, shuffles it (so replicas rarely race for the same timer) and
hands each to its kind's :class:`TimerKind`, up to ``firing_concurrency`` at a time. A
kind makes its firing happen once across replicas by itself (a unique-insert claim, a
lease: :mod:`convene_kit.claims`) and then deletes the timer, or moves it to its next due
time (a periodic poll). A kind that raises leaves the timer for the next sweep. Only
timers of the kinds this replica knows are read, so a kind added by a newer version
(planned during a rolling deploy) is left to the replicas that know it and never fills
this one's batch.

Writes to one timer. FerretDB 1.x applies an update by reading the document, changing it
in memory and writing it back whole by ``_id`` (tests/integration/test_infra_store.py pins
it), so two concurrent writes of one timer are last-writer-wins, whole document, and a
write racing a delete can lose to it on either store. Exact plans need one writer per
timer at a time (notifications: only the consumer holding a meeting's partition writes
that meeting's timers; the scheduler's kinds only delete what they fired). Where two
writers cannot be avoided (a user's "sync this calendar now" against the poll kind moving
the timer after a poll), last-writer-wins is safe for timers, because:

* :meth:`Timers.schedule` writes the whole plan (kind, due time, fields) in one update, so
  the write that lands last leaves one writer's consistent plan, never a mix of two;
* a timer is a wake-up, not the work: its kind decides at firing what to do from the
  current state (a reminder checks the meeting's newest version, a poll reads the
  calendar), so firing at the losing writer's time, or once more, does no harm;
* a kind that must never miss a wake-up keeps its timer (moves it after firing instead
  of deleting it), so a lost reschedule costs at most one interval, never the timer.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from prometheus_client import Counter, Gauge
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from convene_kit.clock import Clock, utc_now
from convene_kit.periodic import every
from convene_kit.store import IndexSpec, find_all

logger = logging.getLogger(__name__)

# One scheduler per process: the gauge has no label for the collection (the dashboard
# takes the max over replicas of each job).
TIMERS_PENDING = Gauge("convene_timers_pending",
                       "Durable timers waiting to fire (every kind), all accounts.")
TIMERS_FIRED = Counter("convene_timers_fired_total",
                       "Durable timers fired by this replica, by kind.", ["kind"])

FIRING_CONCURRENCY = 16
"""Timers one replica fires at once, by default."""

COUNT_EVERY = 20
"""Sweeps between counts of the timers (``convene_timers_pending``): the first sweep
counts, then every ``COUNT_EVERY``-th."""


def timer_indexes(collection: str) -> list[IndexSpec]:
    """The indexes a timer collection needs: ``due_at``, which the due query ranges and
    sorts on. No ``kind`` index: a service has a handful of kinds, so one would not narrow
    the due query and would cost every write."""
    return [IndexSpec(collection=collection, keys=[("due_at", 1)], name="due_at")]


class Timers:
    """The durable timers of every kind, in one collection (indexes: :func:`timer_indexes`).

    Fired timers are deleted (or moved), so the collection holds only what is still to come.
    A service subclasses it for its own selections (e.g. every timer of one meeting).
    """

    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self.collection = collection

    async def add(self, timer: Mapping[str, Any]) -> bool:
        """Plan ``timer`` (a document with ``_id``, ``kind`` and ``due_at``); a timer planned
        already under its ``_id`` is kept as it is (a redelivered event plans the same ids).
        True when this call planned it."""
        try:
            await self.collection.insert_one(dict(timer))
        except DuplicateKeyError:
            return False
        return True

    async def schedule(self, timer_id: str, kind: str, due_at: datetime, **fields: Any) -> None:
        """Plan timer ``timer_id`` of ``kind`` for ``due_at``, or move it there if it exists
        (a reschedule, "sync this calendar now"); ``fields`` are set too, others kept.

        An upsert: concurrent schedules of one timer are last-writer-wins, whole plan (see
        the module's notes on writes to one timer)."""
        if "_id" in fields:
            raise ValueError("a timer's _id is timer_id; it cannot be a field")
        update = {"$set": {"kind": kind, "due_at": due_at, **fields}}
        try:
            await self.collection.update_one({"_id": timer_id}, update, upsert=True)
        except DuplicateKeyError:  # a concurrent first schedule inserted it: move that one
            await self.collection.update_one({"_id": timer_id}, update)

    async def due(self, now: datetime, limit: int, kinds: Iterable[str]) -> list[dict[str, Any]]:
        """Timers of ``kinds`` due at ``now``, earliest first, at most ``limit``. Only the
        kinds the caller fires: timers of a kind it does not know (planned by a newer
        replica during a rolling deploy) never fill its batch."""
        known = sorted(kinds)
        if not known:
            return []
        return await find_all(self.collection, {"due_at": {"$lte": now}, "kind": {"$in": known}},
                              sort=[("due_at", 1)], limit=limit)

    async def delete(self, timer_id: str) -> bool:
        """Delete one timer (fired, or no longer wanted); True if it was there."""
        result = await self.collection.delete_one({"_id": timer_id})
        return result.deleted_count == 1

    async def delete_where(self, query: Mapping[str, Any]) -> int:
        """Delete every timer matching ``query`` (e.g. all of a meeting, of a calendar);
        returns how many."""
        result = await self.collection.delete_many(dict(query))
        return result.deleted_count

    async def pending(self) -> int:
        """How many timers wait to fire (all accounts, every kind)."""
        return await self.collection.count_documents({})


class TimerKind(Protocol):
    """What fires the timers of one kind."""

    async def fire(self, timer: dict[str, Any]) -> bool:
        """Fire ``timer`` once across replicas, then delete or move it; True when this
        replica fired it. Raising leaves the timer for the next sweep."""
        ...


class TimerScheduler:
    """Fires due timers of every kind; run by every replica, each timer fired once (by
    its kind's own claim or lease).

    ``on_first_sweep`` runs once, before the first batch is read (and again at the next
    sweep until it has succeeded): a service's start-up fix-up of stored timers (e.g.
    giving a kind to timers stored before kinds existed); it returns how many timers it
    changed. ``housekeeping`` tasks run every ``housekeeping_every`` sweeps (e.g. pruning
    old fire claims).
    """

    def __init__(self, timers: Timers, kinds: Mapping[str, TimerKind], *,
                 interval_s: float = 0.5, batch_size: int = 100,
                 firing_concurrency: int = FIRING_CONCURRENCY,
                 housekeeping: Sequence[Callable[[], Awaitable[object]]] = (),
                 housekeeping_every: int = 1000,
                 on_first_sweep: Callable[[], Awaitable[int]] | None = None,
                 clock: Clock = utc_now) -> None:
        if firing_concurrency < 1 or housekeeping_every < 1:
            raise ValueError("firing_concurrency and housekeeping_every must be at least 1")
        self.timers = timers
        self.kinds = dict(kinds)
        self.interval_s = interval_s
        self.batch_size = batch_size
        self.firing_concurrency = firing_concurrency
        self.housekeeping = list(housekeeping)
        self.housekeeping_every = housekeeping_every
        self.on_first_sweep = on_first_sweep
        self.clock = clock
        self._rounds = 0
        self._first_sweep_done = on_first_sweep is None

    async def fire_due(self) -> int:
        """Fire every due timer of one bounded batch; returns how many this replica fired."""
        if not self._first_sweep_done and self.on_first_sweep is not None:
            changed = await self.on_first_sweep()  # raising: tried again at the next sweep
            if changed:
                logger.info("%s timer(s) changed before the first sweep", changed)
            self._first_sweep_done = True
        due = await self.timers.due(self.clock(), self.batch_size, self.kinds)
        random.shuffle(due)
        slots = asyncio.Semaphore(self.firing_concurrency)

        async def fire_one(timer: dict[str, Any]) -> bool:
            async with slots:
                return await self.fire(timer)

        return sum(await asyncio.gather(*(fire_one(timer) for timer in due)))

    async def fire(self, timer: dict[str, Any]) -> bool:
        """Hand one due timer to its kind; False when another replica fired it, its kind is
        unknown, or firing failed (the timer stays; the next sweep tries again)."""
        kind = self.kinds.get(timer.get("kind", ""))
        if kind is None:  # never read by fire_due; a caller handing one over is told so
            logger.warning("timer %s is of an unknown kind %r; left for a replica that knows it",
                           timer["_id"], timer.get("kind"))
            return False
        try:
            fired = await kind.fire(timer)
        except Exception:
            logger.warning("firing timer %s failed; the next sweep retries", timer["_id"],
                           exc_info=True)
            return False
        if fired:
            TIMERS_FIRED.labels(kind=timer["kind"]).inc()
        return fired

    async def sweep(self) -> None:
        """One round: fire what is due; now and then count the timers
        (``convene_timers_pending``) and run the housekeeping."""
        await self.fire_due()
        self._rounds += 1
        if self._rounds % COUNT_EVERY == 1:
            TIMERS_PENDING.set(await self.timers.pending())
        if self._rounds % self.housekeeping_every == 0:
            for task in self.housekeeping:
                await task()

    async def run(self, stopping: asyncio.Event) -> None:
        """The background loop (``ServiceRuntime(background=[scheduler.run])``)."""
        await every(self.interval_s, stopping, self.sweep, what="the timer sweep")
