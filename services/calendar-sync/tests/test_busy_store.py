"""The busy mirror over the kit's in-memory store: an event is kept in exactly the months it
touches, moves and deletions leave nothing behind, a full listing removes what it does not
list, reads are clipped to the range, a disconnect drops everything, and every write can be
applied twice."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timezone
from typing import Any

import pytest
from bson.codec_options import CodecOptions
from convene_calendar_sync.busy_store import BUSY, BUSY_INDEX, INDEXES, BusyMirror
from convene_calendar_sync.domain.busy import BusyEntry
from convene_calendar_sync.domain.calendar_events import BusyInterval, RemoteEvent, calendar_key
from convene_kit.testing import FakeStore
from convene_kit.testing import store as fake_store

UTC = timezone.utc
WINDOW = (datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 4, 1, tzinfo=UTC))


def at(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2030, month, day, hour, minute, tzinfo=UTC)


def event(provider_event_id: str, *occurrences: tuple[datetime, datetime],
          title: str = "Busy", deleted: bool = False) -> RemoteEvent:
    return RemoteEvent(provider_event_id=provider_event_id, deleted=deleted, title=title,
                       occurrences=tuple(BusyInterval(s, e) for s, e in occurrences))


class Calendar:
    """One calendar of one connection of a fresh account, and the mirror under test."""

    def __init__(self, store: FakeStore, connection_id: str | None = None,
                 calendar_id: str | None = None, account_id: str | None = None) -> None:
        self.store = store
        self.mirror = BusyMirror(store[BUSY], store[BUSY_INDEX])
        self.account_id = account_id or f"acc_{uuid.uuid4().hex[:8]}"
        self.connection_id = connection_id or f"con_{uuid.uuid4().hex[:8]}"
        self.calendar_id = calendar_id or f"https://dav.example.com/{uuid.uuid4().hex}/cal/"
        self.ids = (self.account_id, self.connection_id, self.calendar_id)

    async def put(self, remote: RemoteEvent) -> None:
        await self.mirror.put_event(*self.ids, remote)

    async def replace(self, *events: RemoteEvent, window=WINDOW) -> None:
        await self.mirror.replace_calendar(*self.ids, list(events), window)

    async def between(self, start: datetime, end: datetime) -> list[BusyEntry]:
        return await self.mirror.busy_between(*self.ids, start, end)

    async def quarter(self) -> list[BusyEntry]:
        return await self.between(*WINDOW)

    def months(self) -> dict[str, set[str]]:
        """Month -> provider event ids, as the month documents hold them."""
        return {d["month"]: {e["event_id"] for e in d["events"].values()}
                for d in self.store[BUSY].docs.values()
                if (d["account_id"], d["connection_id"], d["calendar_id"]) == self.ids}

    def index(self) -> dict[str, list[str]]:
        found = [d for d in self.store[BUSY_INDEX].docs.values()
                 if (d["account_id"], d["connection_id"], d["calendar_id"]) == self.ids]
        return found[0]["events"] if found else {}


def key(provider_event_id: str) -> str:
    return hashlib.sha1(provider_event_id.encode()).hexdigest()[:20]


def snapshot(store: FakeStore) -> dict[str, dict[Any, dict[str, Any]]]:
    return {name: fake_store.bson_copy({"docs": {str(k): v for k, v in c.docs.items()}})
            for name, c in store.collections.items()}


def recorded_writes(store: FakeStore) -> list[str]:
    """The names of the write calls made to the mirror's collections from now on."""
    writes: list[str] = []
    for collection in (store[BUSY], store[BUSY_INDEX]):
        for name in ("update_one", "replace_one", "delete_one", "delete_many", "insert_one"):
            real = getattr(collection, name)

            async def recorded(*args: Any, _real=real, _name=name, **kwargs: Any) -> Any:
                writes.append(_name)
                return await _real(*args, **kwargs)

            setattr(collection, name, recorded)
    return writes


@pytest.fixture
def store() -> FakeStore:
    return FakeStore(INDEXES)


@pytest.fixture
def cal(store: FakeStore) -> Calendar:
    return Calendar(store)


# --- layout -----------------------------------------------------------------------------

async def test_a_month_document_holds_the_event_under_a_hashed_key(cal: Calendar) -> None:
    provider_id = "abc.def$ghi@google.com"  # dots and $ cannot be field names
    await cal.put(event(provider_id, (at(1, 15, 9), at(1, 15, 10)), title="Board meeting"))

    [doc] = cal.store[BUSY].docs.values()
    cal_key = calendar_key(cal.calendar_id)
    assert doc["_id"] == f"{cal.account_id}:{cal.connection_id}:{cal_key}:2030-01"
    assert (doc["account_id"], doc["connection_id"], doc["calendar_id"], doc["month"]) == (
        *cal.ids, "2030-01")
    assert doc["events"] == {key(provider_id): {
        "event_id": provider_id, "title": "Board meeting",
        "intervals": [{"start": at(1, 15, 9), "end": at(1, 15, 10)}]}}
    assert cal.index() == {key(provider_id): ["2030-01"]}


async def test_an_event_spanning_months_is_in_each_month_and_read_once(cal: Calendar) -> None:
    await cal.put(event("trip", (at(1, 30, 12), at(2, 2, 12)), title="Trip"))
    assert cal.months() == {"2030-01": {"trip"}, "2030-02": {"trip"}}
    assert await cal.quarter() == [BusyEntry(at(1, 30, 12), at(2, 2, 12), "Trip", "trip")]


# --- put / update / delete ----------------------------------------------------------------

async def test_moving_an_event_to_another_month_removes_it_from_the_old_one(
        cal: Calendar) -> None:
    await cal.put(event("ev-1", (at(1, 15, 9), at(1, 15, 10))))
    await cal.put(event("ev-1", (at(3, 2, 9), at(3, 2, 10))))

    assert await cal.between(at(1, 1), at(2, 1)) == []
    assert await cal.quarter() == [BusyEntry(at(3, 2, 9), at(3, 2, 10), "Busy", "ev-1")]
    assert cal.months() == {"2030-03": {"ev-1"}}  # January's document, now empty, is gone
    assert cal.index() == {key("ev-1"): ["2030-03"]}


async def test_moving_one_event_keeps_the_others_of_its_old_month(cal: Calendar) -> None:
    await cal.put(event("ev-1", (at(1, 15, 9), at(1, 15, 10))))
    await cal.put(event("ev-2", (at(1, 20, 9), at(1, 20, 10)), title="Stays"))
    await cal.put(event("ev-1", (at(2, 15, 9), at(2, 15, 10)), title="Moved"))

    assert cal.months() == {"2030-01": {"ev-2"}, "2030-02": {"ev-1"}}
    assert await cal.quarter() == [
        BusyEntry(at(1, 20, 9), at(1, 20, 10), "Stays", "ev-2"),
        BusyEntry(at(2, 15, 9), at(2, 15, 10), "Moved", "ev-1"),
    ]


async def test_a_series_shrinking_out_of_a_month_leaves_it(cal: Calendar) -> None:
    weekly = [(at(m, d, 9), at(m, d, 10)) for m, d in [(1, 28), (2, 4), (2, 11), (3, 4)]]
    await cal.put(event("series", *weekly, title="Weekly"))
    assert set(cal.months()) == {"2030-01", "2030-02", "2030-03"}

    await cal.put(event("series", *weekly[1:3], title="Weekly (renamed)"))
    assert cal.months() == {"2030-02": {"series"}}
    assert [(e.start, e.title) for e in await cal.quarter()] == [
        (at(2, 4, 9), "Weekly (renamed)"), (at(2, 11, 9), "Weekly (renamed)")]


@pytest.mark.parametrize("gone", [
    event("ev-1", deleted=True),
    event("ev-1"),  # no occurrences: now transparent, declined or cancelled
])
async def test_a_deleted_or_free_event_is_removed(cal: Calendar, gone: RemoteEvent) -> None:
    await cal.put(event("ev-1", (at(1, 31, 23), at(2, 1, 1))))
    await cal.put(event("ev-2", (at(2, 3, 9), at(2, 3, 10))))
    await cal.put(gone)

    assert [e.provider_event_id for e in await cal.quarter()] == ["ev-2"]
    assert cal.months() == {"2030-02": {"ev-2"}}
    assert cal.index() == {key("ev-2"): ["2030-02"]}


async def test_remove_event_removes_it_and_ignores_an_unknown_one(cal: Calendar) -> None:
    await cal.put(event("ev-1", (at(1, 15, 9), at(1, 15, 10))))
    await cal.mirror.remove_event(*cal.ids, "ev-1")
    await cal.mirror.remove_event(*cal.ids, "never-seen")
    assert await cal.quarter() == []
    assert cal.months() == {}


# --- idempotency and crashes --------------------------------------------------------------

async def test_applying_the_same_event_twice_changes_nothing(cal: Calendar) -> None:
    moved = event("ev-1", (at(1, 31, 22), at(2, 1, 2)), (at(3, 5, 9), at(3, 5, 10)))
    await cal.put(moved)
    once = snapshot(cal.store)
    await cal.put(moved)
    assert snapshot(cal.store) == once


async def test_an_older_page_re_applied_after_a_crash_converges(cal: Calendar) -> None:
    v1 = event("ev-1", (at(1, 15, 9), at(1, 15, 10)), title="v1")
    v2 = event("ev-1", (at(2, 15, 9), at(2, 15, 10)), title="v2")
    await cal.put(v1)
    await cal.put(v2)
    after_v2 = snapshot(cal.store)
    # The cursor was not stored before the crash: the sync reads both pages again.
    await cal.put(v1)
    await cal.put(v2)
    assert snapshot(cal.store) == after_v2


async def test_a_crash_between_the_index_and_the_months_leaves_nothing_behind(
        cal: Calendar) -> None:
    await cal.put(event("ev-1", (at(1, 15, 9), at(1, 15, 10))))
    cal.store[BUSY].fail_with = ConnectionError("store went away")
    with pytest.raises(ConnectionError):
        await cal.put(event("ev-1", (at(3, 2, 9), at(3, 2, 10))))
    assert cal.index() == {key("ev-1"): ["2030-01", "2030-03"]}  # knows both months

    cal.store[BUSY].fail_with = None
    await cal.mirror.remove_event(*cal.ids, "ev-1")  # the retry brings a deletion
    assert cal.months() == {}
    assert cal.index() == {}


# --- full listing -------------------------------------------------------------------------

async def test_a_full_listing_removes_every_event_it_does_not_list(cal: Calendar) -> None:
    await cal.put(event("kept", (at(1, 10, 9), at(1, 10, 10)), title="Old title"))
    await cal.put(event("gone", (at(1, 10, 11), at(1, 10, 12))))
    await cal.put(event("gone-too", (at(2, 27, 9), at(3, 2, 10))))
    await cal.put(event("before-window", (datetime(2029, 11, 5, 9, tzinfo=UTC),
                                          datetime(2029, 11, 5, 10, tzinfo=UTC))))

    await cal.replace(event("kept", (at(1, 10, 9), at(1, 10, 10)), title="New title"),
                      event("new", (at(3, 20, 9), at(3, 20, 10))),
                      event("deleted", deleted=True))

    assert await cal.quarter() == [
        BusyEntry(at(1, 10, 9), at(1, 10, 10), "New title", "kept"),
        BusyEntry(at(3, 20, 9), at(3, 20, 10), "Busy", "new"),
    ]
    assert cal.months() == {"2030-01": {"kept"}, "2030-03": {"new"}}
    assert cal.index() == {key("kept"): ["2030-01"], key("new"): ["2030-03"]}


async def test_a_full_listing_removes_an_event_the_index_lost(cal: Calendar) -> None:
    await cal.put(event("kept", (at(2, 10, 9), at(2, 10, 10))))
    [doc] = cal.store[BUSY].docs.values()  # as left by writes that raced
    doc["events"]["0" * 20] = {"event_id": "orphan", "title": "x",
                               "intervals": [{"start": at(2, 11, 9), "end": at(2, 11, 10)}]}

    await cal.replace(event("kept", (at(2, 10, 9), at(2, 10, 10))))
    assert cal.months() == {"2030-02": {"kept"}}


async def test_the_same_listing_twice_writes_nothing_the_second_time(cal: Calendar) -> None:
    listing = [event(f"ev-{n}", (at(1 + n % 3, 1 + n, 9), at(1 + n % 3, 1 + n, 10)))
               for n in range(6)]
    await cal.put(event("stale", (at(1, 5, 9), at(1, 5, 10))))
    await cal.replace(*listing)
    once = snapshot(cal.store)

    writes = recorded_writes(cal.store)
    await cal.replace(*listing)
    assert snapshot(cal.store) == once
    assert writes == []


async def test_a_full_listing_of_nothing_empties_the_calendar(cal: Calendar) -> None:
    await cal.put(event("ev-1", (at(1, 15, 9), at(1, 15, 10))))
    await cal.replace()
    assert await cal.quarter() == []
    assert cal.months() == {}
    assert cal.index() == {}


async def test_a_later_listing_of_the_same_event_wins(cal: Calendar) -> None:
    await cal.replace(event("ev-1", (at(1, 15, 9), at(1, 15, 10)), title="first"),
                      event("ev-1", (at(2, 15, 9), at(2, 15, 10)), title="second"))
    assert [(e.start, e.title) for e in await cal.quarter()] == [(at(2, 15, 9), "second")]
    assert cal.months() == {"2030-02": {"ev-1"}}


# --- reading ------------------------------------------------------------------------------

async def test_busy_between_spans_months_and_clips_to_the_range(cal: Calendar) -> None:
    await cal.put(event("long", (at(1, 20), at(3, 10)), title="Sabbatical"))
    await cal.put(event("feb", (at(2, 27, 23), at(3, 1, 1)), title="Overnight"))
    await cal.put(event("before", (at(1, 30, 9), at(1, 30, 10))))
    await cal.put(event("after", (at(3, 1, 1), at(3, 1, 2))))

    found = await cal.between(at(1, 31, 12), at(3, 1))
    assert found == [
        BusyEntry(at(1, 31, 12), at(3, 1), "Sabbatical", "long"),
        BusyEntry(at(2, 27, 23), at(3, 1), "Overnight", "feb"),
    ]
    assert all(e.start.tzinfo is not None and e.end.tzinfo is not None for e in found)


async def test_busy_between_an_empty_range_or_another_calendar_is_empty(
        cal: Calendar, store: FakeStore) -> None:
    await cal.put(event("ev-1", (at(1, 15, 9), at(1, 15, 10))))
    assert await cal.between(at(1, 15, 10), at(1, 15, 10)) == []
    other_account = Calendar(store, cal.connection_id, cal.calendar_id)
    assert await other_account.quarter() == []
    other_calendar = Calendar(store, cal.connection_id, account_id=cal.account_id)
    assert await other_calendar.quarter() == []


async def test_busy_between_refuses_naive_datetimes(cal: Calendar) -> None:
    with pytest.raises(ValueError):
        await cal.between(datetime(2030, 1, 1), datetime(2030, 2, 1))


async def test_stored_naive_datetimes_are_read_as_utc(
        cal: Calendar, monkeypatch: pytest.MonkeyPatch) -> None:
    await cal.put(event("ev-1", (at(1, 15, 9), at(1, 15, 10))))
    # A client without tz_aware gives naive UTC datetimes back.
    monkeypatch.setattr(fake_store, "_CODEC", CodecOptions(tz_aware=False))
    assert await cal.quarter() == [BusyEntry(at(1, 15, 9), at(1, 15, 10), "Busy", "ev-1")]
    writes = recorded_writes(cal.store)
    await cal.replace(event("ev-1", (at(1, 15, 9), at(1, 15, 10))))
    assert writes == []  # what was read compares equal to the listing


# --- dropping -----------------------------------------------------------------------------

async def test_drop_connection_forgets_every_calendar_of_it_and_nothing_else(
        store: FakeStore) -> None:
    work = Calendar(store)
    home = Calendar(store, work.connection_id, account_id=work.account_id)
    other = Calendar(store, account_id=work.account_id)
    for calendar in (work, home, other):
        await calendar.put(event("ev-1", (at(1, 15, 9), at(2, 15, 10))))

    await work.mirror.drop_connection(work.account_id, work.connection_id)
    assert await work.quarter() == [] and await home.quarter() == []
    assert work.months() == {} and home.months() == {}
    assert work.index() == {} and home.index() == {}
    assert [e.provider_event_id for e in await other.quarter()] == ["ev-1"]
    assert {d["connection_id"] for c in (BUSY, BUSY_INDEX)
            for d in store[c].docs.values()} == {other.connection_id}


async def test_drop_calendar_forgets_that_calendar_only(store: FakeStore) -> None:
    work = Calendar(store)
    home = Calendar(store, work.connection_id, account_id=work.account_id)
    await work.put(event("ev-1", (at(1, 15, 9), at(1, 15, 10))))
    await home.put(event("ev-1", (at(1, 15, 9), at(1, 15, 10))))

    await work.mirror.drop_calendar(*work.ids)
    await work.mirror.drop_calendar(*work.ids)  # again: nothing left to drop
    assert (work.months(), work.index()) == ({}, {})
    assert home.months() == {"2030-01": {"ev-1"}}

    await work.put(event("ev-2", (at(1, 16, 9), at(1, 16, 10))))  # counted again later
    assert [e.provider_event_id for e in await work.quarter()] == ["ev-2"]
