"""Durable timers with kinds: one scheduler, run by every replica, firing each due timer
through the handler of its ``kind``.

Every ``interval_s`` the scheduler reads a bounded batch of due timers (``timer_store``,
earliest first), shuffles it (so replicas rarely race for the same timer) and hands each
to its kind's :class:`TimerKind`, up to :data:`FIRING_CONCURRENCY` at a time. A kind makes
its firing happen once across replicas by itself (a reminder by a fire claim carrying its
events, the join-link fallback by a lease) and deletes the timer once fired. A handler
that raises leaves the timer for the next sweep. Only timers of the kinds this replica
knows are read, so a kind added by a newer version (planned during a rolling deploy) is
left to the replicas that know it and never fills this one's batch. On its first sweep a
replica gives a kind to timers stored before timers had kinds (``Timers.adopt_unkinded``).

Kinds today: ``reminder`` (``service_layer.reminders.ReminderFiring``) and
``join_link_fallback`` (``service_layer.join_link.JoinLinkFallback``).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

from convene_kit.clock import Clock, utc_now
from convene_kit.periodic import every
from prometheus_client import Counter, Gauge

from convene_notifications.timer_store import Timers

logger = logging.getLogger(__name__)

TIMERS_PENDING = Gauge("convene_timers_pending",
                       "Durable timers waiting to fire (every kind), all accounts.")
TIMERS_FIRED = Counter("convene_timers_fired_total",
                       "Durable timers fired by this replica, by kind.", ["kind"])

FIRING_CONCURRENCY = 16
"""Timers one replica fires at once."""

_COUNT_EVERY = 20  # sweeps between counts of the timers


class TimerKind(Protocol):
    """What fires the timers of one kind."""

    async def fire(self, timer: dict[str, Any]) -> bool:
        """Fire ``timer`` once across replicas and delete it; True when this replica did."""
        ...


class TimerScheduler:
    """Fires due timers of every kind; run by every replica, each timer fired once."""

    def __init__(self, timers: Timers, kinds: Mapping[str, TimerKind], *,
                 interval_s: float = 0.5, batch_size: int = 100,
                 housekeeping: Sequence[Callable[[], Awaitable[None]]] = (),
                 housekeeping_every: int = 1000, clock: Clock = utc_now) -> None:
        self.timers = timers
        self.kinds = dict(kinds)
        self.interval_s = interval_s
        self.batch_size = batch_size
        self.housekeeping = list(housekeeping)
        self.housekeeping_every = housekeeping_every
        self.clock = clock
        self._rounds = 0
        self._adopted = False

    async def fire_due(self) -> int:
        """Fire every due timer of one bounded batch; returns how many this replica fired."""
        if not self._adopted:
            adopted = await self.timers.adopt_unkinded()
            if adopted:
                logger.info("%s timer(s) stored without a kind were given theirs", adopted)
            self._adopted = True
        due = await self.timers.due(self.clock(), self.batch_size, self.kinds)
        random.shuffle(due)
        slots = asyncio.Semaphore(FIRING_CONCURRENCY)

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
        """One round: fire what is due; now and then count the timers and run the kinds'
        housekeeping (e.g. pruning old fire claims)."""
        await self.fire_due()
        self._rounds += 1
        if self._rounds % _COUNT_EVERY == 1:
            TIMERS_PENDING.set(await self.timers.pending())
        if self._rounds % self.housekeeping_every == 0:
            for task in self.housekeeping:
                await task()

    async def run(self, stopping: asyncio.Event) -> None:
        """The background loop (ServiceRuntime ``background``)."""
        await every(self.interval_s, stopping, self.sweep, what="the timer sweep")
