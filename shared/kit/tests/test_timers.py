"""Durable timers: due ones read earliest first in bounded batches of the known kinds only,
fired through their kind with bounded concurrency, left in place when a kind fails, moved
by ``schedule``; the start-up hook runs once, the count and the housekeeping on cadence."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from convene_kit.testing import FakeCollection, FakeStore
from convene_kit.timers import Timers, TimerScheduler, timer_indexes
from prometheus_client import REGISTRY
from pymongo.errors import DuplicateKeyError

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def at(minutes: float) -> datetime:
    return NOW + timedelta(minutes=minutes)


def unique_kind() -> str:
    """A kind of this test only: the fired counter is process-wide."""
    return f"kind_{uuid.uuid4().hex[:8]}"


def timers_of(store: FakeStore | None = None) -> tuple[Timers, FakeCollection]:
    collection = (store or FakeStore()).collection("timers")
    return Timers(collection), collection  # type: ignore[arg-type]


class Deleting:
    """A kind that fires by deleting the timer (once across callers: the delete's winner)."""

    def __init__(self, timers: Timers, *, delay_s: float = 0.0,
                 fail: Callable[[dict[str, Any]], bool] = lambda timer: False) -> None:
        self.timers = timers
        self.delay_s = delay_s
        self.fail = fail
        self.fired: list[str] = []
        self.in_flight = self.most_in_flight = 0

    async def fire(self, timer: dict[str, Any]) -> bool:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay_s)
            if self.fail(timer):
                raise RuntimeError("provider down")
            if not await self.timers.delete(timer["_id"]):
                return False
            self.fired.append(timer["_id"])
            return True
        finally:
            self.in_flight -= 1


def fired_count(kind: str) -> float:
    return REGISTRY.get_sample_value("convene_timers_fired_total", {"kind": kind}) or 0.0


# --- the store -------------------------------------------------------------------------

async def test_due_reads_earliest_first_a_bounded_batch_of_what_is_due() -> None:
    timers, _ = timers_of()
    for name, minutes in [("c", -1), ("a", -30), ("later", 5), ("b", -10), ("d", 0)]:
        await timers.add({"_id": name, "kind": "poll", "due_at": at(minutes)})
    assert [t["_id"] for t in await timers.due(NOW, 3, ["poll"])] == ["a", "b", "c"]
    assert [t["_id"] for t in await timers.due(NOW, 100, ["poll"])] == ["a", "b", "c", "d"]
    assert await timers.pending() == 5


async def test_due_reads_only_the_kinds_asked_for() -> None:
    timers, _ = timers_of()
    await timers.add({"_id": "new", "kind": "from_the_future", "due_at": at(-60)})
    await timers.add({"_id": "old", "kind": "poll", "due_at": at(-1)})
    assert [t["_id"] for t in await timers.due(NOW, 1, ["poll"])] == ["old"]
    assert await timers.due(NOW, 10, []) == []


async def test_add_keeps_a_timer_planned_already_under_its_id() -> None:
    timers, collection = timers_of()
    assert await timers.add({"_id": "t", "kind": "poll", "due_at": at(5)})
    assert not await timers.add({"_id": "t", "kind": "poll", "due_at": at(50)})
    assert collection.docs["t"]["due_at"] == at(5)


async def test_schedule_plans_a_timer_then_moves_it_keeping_its_other_fields() -> None:
    timers, collection = timers_of()
    await timers.schedule("cal_1:poll", "poll", at(15), account_id="acc_1", calendar_id="cal_1")
    await timers.schedule("cal_1:poll", "poll", at(0))  # "sync this calendar now"
    assert collection.docs == {"cal_1:poll": {"_id": "cal_1:poll", "kind": "poll",
                                              "due_at": at(0), "account_id": "acc_1",
                                              "calendar_id": "cal_1"}}
    assert [t["_id"] for t in await timers.due(NOW, 10, ["poll"])] == ["cal_1:poll"]
    await timers.schedule("cal_1:poll", "poll", at(15), calendar_id="cal_1")  # polled: next
    assert await timers.due(NOW, 10, ["poll"]) == []
    with pytest.raises(ValueError):
        await timers.schedule("t", "poll", NOW, _id="other")


class RacedFirstInsert(FakeCollection):
    """An upsert that loses the race to insert a new timer, as FerretDB's read-modify-write
    does: another writer inserts it between the read and the insert, whose key then clashes."""

    async def update_one(self, query: Any, update: Any, upsert: bool = False) -> Any:
        if upsert and query["_id"] not in self.docs:
            await self.insert_one({"_id": query["_id"], "kind": "poll", "due_at": at(30)})
            raise DuplicateKeyError("E11000 duplicate key error timers index: _id_")
        return await super().update_one(query, update, upsert=upsert)


async def test_two_first_schedules_of_one_timer_leave_one_timer_the_last_plan() -> None:
    collection = RacedFirstInsert("timers", FakeStore())
    timers = Timers(collection)  # type: ignore[arg-type]
    await timers.schedule("cal_1:poll", "poll", at(0), calendar_id="cal_1")
    assert collection.docs == {"cal_1:poll": {"_id": "cal_1:poll", "kind": "poll",
                                              "due_at": at(0), "calendar_id": "cal_1"}}


async def test_delete_and_delete_where() -> None:
    timers, collection = timers_of()
    for i, calendar in enumerate(["cal_1", "cal_1", "cal_2"]):
        await timers.add({"_id": f"t{i}", "kind": "poll", "due_at": at(i),
                          "calendar_id": calendar})
    assert await timers.delete("t2") and not await timers.delete("t2")
    assert await timers.delete_where({"calendar_id": "cal_1"}) == 2
    assert collection.docs == {} and await timers.pending() == 0


def test_timer_indexes_index_the_due_time() -> None:
    (index,) = timer_indexes("calendar_timers")
    assert (index.collection, list(index.keys), index.name) == (
        "calendar_timers", [("due_at", 1)], "due_at")


# --- the scheduler ---------------------------------------------------------------------

async def test_the_scheduler_fires_due_timers_of_known_kinds_once_and_counts_them() -> None:
    timers, collection = timers_of()
    kind = unique_kind()
    firing = Deleting(timers)
    for i in range(5):  # planned by a newer version, due first: never fill the batch
        await timers.add({"_id": f"future{i}", "kind": "from_the_future", "due_at": at(-60)})
    for i in range(3):
        await timers.add({"_id": f"t{i}", "kind": kind, "due_at": at(-i)})
    await timers.add({"_id": "later", "kind": kind, "due_at": at(1)})
    scheduler = TimerScheduler(timers, {kind: firing}, batch_size=2, clock=lambda: NOW)
    assert await scheduler.fire_due() == 2
    assert sorted(firing.fired) == ["t1", "t2"]  # the earliest two
    assert await scheduler.fire_due() == 1 and await scheduler.fire_due() == 0
    assert fired_count(kind) == 3
    assert sorted(collection.docs) == ["future0", "future1", "future2", "future3", "future4",
                                       "later"]


async def test_two_replicas_fire_each_timer_once() -> None:
    timers, collection = timers_of()
    kind = unique_kind()
    for i in range(20):
        await timers.add({"_id": f"t{i}", "kind": kind, "due_at": at(-1)})
    replicas = [TimerScheduler(timers, {kind: Deleting(timers, delay_s=0.001)},
                               clock=lambda: NOW) for _ in range(2)]
    fired = await asyncio.gather(*(r.fire_due() for r in replicas))
    assert sum(fired) == 20 and collection.docs == {}


async def test_a_kind_that_raises_leaves_its_timer_for_the_next_sweep() -> None:
    timers, collection = timers_of()
    kind = unique_kind()
    down = True
    firing = Deleting(timers, fail=lambda timer: down and timer["_id"] == "flaky")
    await timers.add({"_id": "flaky", "kind": kind, "due_at": at(-2)})
    await timers.add({"_id": "fine", "kind": kind, "due_at": at(-1)})
    scheduler = TimerScheduler(timers, {kind: firing}, clock=lambda: NOW)
    assert await scheduler.fire_due() == 1  # the failure does not stop the others
    assert list(collection.docs) == ["flaky"]
    down = False
    assert await scheduler.fire_due() == 1 and collection.docs == {}
    assert fired_count(kind) == 2


async def test_a_timer_of_an_unknown_kind_handed_over_is_not_fired() -> None:
    timers, collection = timers_of()
    await timers.add({"_id": "x", "kind": "from_the_future", "due_at": at(-1)})
    scheduler = TimerScheduler(timers, {}, clock=lambda: NOW)
    assert not await scheduler.fire(collection.docs["x"])
    assert list(collection.docs) == ["x"]


@pytest.mark.parametrize("concurrency", [1, 3])
async def test_firing_concurrency_is_bounded(concurrency: int) -> None:
    timers, collection = timers_of()
    kind = unique_kind()
    firing = Deleting(timers, delay_s=0.002)
    for i in range(12):
        await timers.add({"_id": f"t{i}", "kind": kind, "due_at": at(-1)})
    scheduler = TimerScheduler(timers, {kind: firing}, firing_concurrency=concurrency,
                               clock=lambda: NOW)
    assert await scheduler.fire_due() == 12
    assert firing.most_in_flight == concurrency and collection.docs == {}


async def test_a_moved_timer_fires_at_its_new_time() -> None:
    timers, _ = timers_of()
    kind = unique_kind()
    firing = Deleting(timers)
    scheduler = TimerScheduler(timers, {kind: firing}, clock=lambda: NOW)
    await timers.schedule("cal_1:poll", kind, at(15))
    assert await scheduler.fire_due() == 0
    await timers.schedule("cal_1:poll", kind, NOW)  # sync now
    assert await scheduler.fire_due() == 1 and firing.fired == ["cal_1:poll"]


async def test_the_first_sweep_hook_runs_once_before_the_first_batch() -> None:
    timers, _ = timers_of()
    kind = unique_kind()
    calls: list[int] = []
    outage = [True]

    async def give_kinds() -> int:  # e.g. timers stored before timers had kinds
        calls.append(1)
        if outage[0]:
            raise ConnectionError("store down")
        await timers.add({"_id": "old", "kind": kind, "due_at": at(-1)})
        return 1

    scheduler = TimerScheduler(timers, {kind: Deleting(timers)}, on_first_sweep=give_kinds,
                               clock=lambda: NOW)
    with pytest.raises(ConnectionError):
        await scheduler.fire_due()  # the loop logs it and sweeps again
    outage[0] = False
    assert await scheduler.fire_due() == 1  # what the hook changed fires in the same sweep
    await scheduler.sweep()
    await scheduler.fire_due()
    assert len(calls) == 2


async def test_housekeeping_and_the_pending_count_run_on_their_cadence() -> None:
    timers, collection = timers_of()
    prunes: list[int] = []

    async def prune() -> None:
        prunes.append(1)

    def pending() -> float | None:
        return REGISTRY.get_sample_value("convene_timers_pending")

    scheduler = TimerScheduler(timers, {}, housekeeping=[prune], housekeeping_every=3,
                               clock=lambda: NOW)
    await timers.add({"_id": "a", "kind": "poll", "due_at": at(5)})
    pruned_at, counted = [], []
    for sweep in range(1, 22):
        before = len(prunes)
        await scheduler.sweep()
        if len(prunes) > before:
            pruned_at.append(sweep)
        counted.append(pending())
        await timers.add({"_id": f"t{sweep}", "kind": "poll", "due_at": at(5)})
    assert pruned_at == [3, 6, 9, 12, 15, 18, 21]
    assert counted == [1] * 20 + [21]  # counted by the first sweep, then by the 21st
    assert len(collection.docs) == 22


async def test_run_sweeps_until_stopping() -> None:
    timers, collection = timers_of()
    kind = unique_kind()
    await timers.add({"_id": "t", "kind": kind, "due_at": at(-1)})
    scheduler = TimerScheduler(timers, {kind: Deleting(timers)}, interval_s=0.01,
                               clock=lambda: NOW)
    stopping = asyncio.Event()
    loop = asyncio.create_task(scheduler.run(stopping))
    for _ in range(200):
        if not collection.docs:
            break
        await asyncio.sleep(0.01)
    stopping.set()
    await asyncio.wait_for(loop, timeout=1)
    assert collection.docs == {}, "the running scheduler did not fire the due timer"
