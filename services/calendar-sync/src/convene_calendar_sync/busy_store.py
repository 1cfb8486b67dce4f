"""The busy-time mirror: each connected calendar's busy intervals, kept per UTC month, so
availability is answered from a handful of reads by ``_id`` and no provider call.

Two collections (every document carries ``account_id``, ``connection_id``,
``calendar_id``):

* ``busy``: one document per (connection, calendar, month)::

      {_id: "<account_id>:<connection_id>:<calendar key>:<YYYY-MM>", month: "YYYY-MM",
       events: {<event key>: {event_id: <provider event id>, title: "...",
                              intervals: [{start, end}, ...]}}}

  ``calendar key`` = calendar_key(calendar_id), ``event key`` = sha1(provider_event_id)[:20]
  (provider ids hold dots and ``$``, which field names cannot). An interval is listed whole
  (aware UTC, millisecond precision) in every month it touches; readers of several months
  de-duplicate it (:func:`convene_calendar_sync.domain.busy.by_month`).
* ``busy_index``: one document per (connection, calendar), the months each event is in::

      {_id: "<account_id>:<connection_id>:<calendar key>",
       events: {<event key>: ["YYYY-MM", ...]}}

  So a change of one event reads this one document, ``$set``s the event in the months it
  now touches and ``$unset``s it from the months it left (deleting a month document that
  no event is in any more), with no scan. The index always lists *at least* the months an
  event is in: months an event enters are added to it before the month documents are
  written and the ones it left are removed after, so a crash in between leaves extra
  months (unset harmlessly by the next change), never an event the index lost. Its
  ``events.<key>`` is written only when the event's set of months changes.

Writes of one calendar must not run concurrently: FerretDB rewrites a whole document for
each update and loses one of two concurrent ``$set``s of different fields (README,
"FerretDB"); the sync's per-calendar lease serialises them. Every write is idempotent:
applying an event, or a whole listing, again leaves the same documents, so an older sync
page re-applied after a crash is harmless (the next pages bring the state up to date).

Reads: :meth:`BusyMirror.busy_between` reads the month documents of the range, one
``find_one`` by ``_id`` each (at most four for a 92-day range), which FerretDB serves from
its ``_id`` index (a ``$in`` would scan). Drops are ``delete_many`` on the indexed
``(account_id, connection_id, calendar_id)``: a disconnect is rare, the equality is served
by the index (PostgreSQL's GIN beside it), and it removes every document of the calendar or
connection whatever their months, with no horizon to guess.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from convene_kit.clock import as_utc
from convene_kit.store import MAX_FIND, IndexSpec, find_all, scoped_filter
from pymongo.asynchronous.collection import AsyncCollection

from convene_calendar_sync.domain.busy import BusyEntry, by_month, clip, months_touched
from convene_calendar_sync.domain.calendar_events import BusyInterval, RemoteEvent, calendar_key

BUSY = "busy"
BUSY_INDEX = "busy_index"

_CALENDAR_FIELDS = [("account_id", 1), ("connection_id", 1), ("calendar_id", 1)]

INDEXES: list[IndexSpec] = [
    # drop_calendar / drop_connection delete by these; replace_calendar narrows its one
    # read of the calendar's month documents with them.
    IndexSpec(collection=BUSY, keys=_CALENDAR_FIELDS, name="calendar"),
    IndexSpec(collection=BUSY_INDEX, keys=_CALENDAR_FIELDS, name="calendar"),
]


def event_key(provider_event_id: str) -> str:
    """An event's field name in a month document: sha1(provider_event_id)[:20]."""
    return hashlib.sha1(provider_event_id.encode()).hexdigest()[:20]


def _stored(moment: datetime) -> datetime:
    """What BSON keeps of a datetime (milliseconds), so a re-read compares equal."""
    utc = as_utc(moment)
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000)


@dataclass(frozen=True)
class _Calendar:
    account_id: str
    connection_id: str
    calendar_id: str

    @property
    def index_id(self) -> str:
        return f"{self.account_id}:{self.connection_id}:{calendar_key(self.calendar_id)}"

    def month_id(self, month: str) -> str:
        return f"{self.index_id}:{month}"

    def fields(self) -> dict[str, str]:
        return {"account_id": self.account_id, "connection_id": self.connection_id,
                "calendar_id": self.calendar_id}

    def by_id(self, _id: str) -> dict[str, Any]:
        return scoped_filter(self.account_id, {"_id": _id})


@dataclass(frozen=True)
class _Listed:
    """One event as it is to be stored: its entry per month it touches."""

    key: str
    months: dict[str, dict[str, Any]]

    @classmethod
    def of(cls, event: RemoteEvent) -> _Listed:
        buckets = {} if event.deleted else by_month(event.occurrences)
        return cls(event_key(event.provider_event_id), {
            month: {"event_id": event.provider_event_id, "title": event.title,
                    "intervals": [{"start": _stored(i.start), "end": _stored(i.end)}
                                  for i in intervals]}
            for month, intervals in buckets.items()})


def _entries(document: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """A month document's events with aware datetimes (comparable to :class:`_Listed`)."""
    return {key: {"event_id": entry["event_id"], "title": entry["title"],
                  "intervals": [{"start": as_utc(i["start"]), "end": as_utc(i["end"])}
                                for i in entry["intervals"]]}
            for key, entry in ((document or {}).get("events") or {}).items()}


class BusyMirror:
    """The repository of the busy mirror (see the module docstring for its layout)."""

    def __init__(self, busy: AsyncCollection[dict[str, Any]],
                 busy_index: AsyncCollection[dict[str, Any]]) -> None:
        self.busy = busy
        self.busy_index = busy_index

    async def put_event(self, account_id: str, connection_id: str, calendar_id: str,
                        event: RemoteEvent) -> None:
        """Make the event's busy time exactly its ``occurrences``; a deleted event or one
        with none (transparent, declined, cancelled) is removed."""
        await self._apply(_Calendar(account_id, connection_id, calendar_id),
                          _Listed.of(event))

    async def remove_event(self, account_id: str, connection_id: str, calendar_id: str,
                           provider_event_id: str) -> None:
        """Remove the event's busy time (no-op if the mirror does not have it)."""
        await self._apply(_Calendar(account_id, connection_id, calendar_id),
                          _Listed(event_key(provider_event_id), {}))

    async def _apply(self, calendar: _Calendar, listed: _Listed) -> None:
        index = await self.busy_index.find_one(calendar.by_id(calendar.index_id))
        months_of: dict[str, list[str]] = dict((index or {}).get("events") or {})
        old, new = set(months_of.pop(listed.key, ())), set(listed.months)
        field = f"events.{listed.key}"
        if new - old:  # the index first learns every month the event may be in
            await self.busy_index.update_one(
                calendar.by_id(calendar.index_id),
                {"$set": {**calendar.fields(), field: sorted(old | new)}}, upsert=True)
        for month in sorted(new):
            await self.busy.update_one(
                calendar.by_id(calendar.month_id(month)),
                {"$set": {**calendar.fields(), "month": month, field: listed.months[month]}},
                upsert=True)
        in_use = {m for months in months_of.values() for m in months}
        for month in sorted(old - new):
            if month in in_use:
                await self.busy.update_one(calendar.by_id(calendar.month_id(month)),
                                           {"$unset": {field: ""}})
            else:  # no other event in that month
                await self.busy.delete_one(calendar.by_id(calendar.month_id(month)))
        if new == old:
            return
        update = {"$set": {field: sorted(new)}} if new else {"$unset": {field: ""}}
        await self.busy_index.update_one(calendar.by_id(calendar.index_id), update)

    async def replace_calendar(self, account_id: str, connection_id: str, calendar_id: str,
                               events: Iterable[RemoteEvent],
                               window: tuple[datetime, datetime]) -> None:
        """Make the calendar's busy time exactly a full listing: ``events`` (all pages of
        it) were read for ``window``; every event not listed (or listed as deleted) is
        removed, wherever its months are.

        Reads the index and, in one find, the calendar's month documents the index or the
        window names (so an event the index does not know, left by a write that raced,
        goes too); writes only the month documents whose content changes, each once."""
        calendar = _Calendar(account_id, connection_id, calendar_id)
        latest = {e.key: e for e in map(_Listed.of, events)}  # a later listing wins
        wanted: dict[str, dict[str, dict[str, Any]]] = {}  # month -> event key -> entry
        for listed in latest.values():
            for month, entry in listed.months.items():
                wanted.setdefault(month, {})[listed.key] = entry
        new_months_of = {key: sorted(e.months) for key, e in latest.items() if e.months}
        index = await self.busy_index.find_one(calendar.by_id(calendar.index_id))
        old_months_of: dict[str, list[str]] = dict((index or {}).get("events") or {})
        months = (months_touched([BusyInterval(*window)]) | set(wanted)
                  | {m for in_months in old_months_of.values() for m in in_months})
        stored = await self._months(calendar, sorted(months))

        union = {key: sorted(set(old_months_of.get(key, ())) | set(new_months_of.get(key, ())))
                 for key in old_months_of.keys() | new_months_of.keys()}
        if union != old_months_of:
            await self._put_index(calendar, union)
        for month in sorted(months):
            want, have = wanted.get(month, {}), stored.get(month)
            if not want:
                if have is not None:
                    await self.busy.delete_one(calendar.by_id(calendar.month_id(month)))
            elif want != _entries(have):
                await self.busy.replace_one(
                    calendar.by_id(calendar.month_id(month)),
                    {"_id": calendar.month_id(month), **calendar.fields(), "month": month,
                     "events": want}, upsert=True)
        if new_months_of != union:
            await self._put_index(calendar, new_months_of)

    async def _put_index(self, calendar: _Calendar, months_of: Mapping[str, list[str]]) -> None:
        await self.busy_index.replace_one(
            calendar.by_id(calendar.index_id),
            {"_id": calendar.index_id, **calendar.fields(), "events": dict(months_of)},
            upsert=True)

    async def _months(self, calendar: _Calendar, months: list[str]) -> dict[str, dict[str, Any]]:
        """The calendar's stored month documents among ``months``, by month."""
        found: list[dict[str, Any]] = []
        for at in range(0, len(months), MAX_FIND):
            ids = [calendar.month_id(m) for m in months[at:at + MAX_FIND]]
            found += await find_all(self.busy, scoped_filter(calendar.account_id, {
                "connection_id": calendar.connection_id, "calendar_id": calendar.calendar_id,
                "_id": {"$in": ids}}), limit=len(ids))
        return {d["month"]: d for d in found}

    async def drop_calendar(self, account_id: str, connection_id: str,
                            calendar_id: str) -> None:
        """Forget the calendar's busy time (it is no longer counted or synced)."""
        query = scoped_filter(account_id, {"connection_id": connection_id,
                                           "calendar_id": calendar_id})
        await self.busy.delete_many(query)
        await self.busy_index.delete_many(query)

    async def drop_connection(self, account_id: str, connection_id: str) -> None:
        """Forget the busy time of every calendar of the connection (a disconnect)."""
        query = scoped_filter(account_id, {"connection_id": connection_id})
        await self.busy.delete_many(query)
        await self.busy_index.delete_many(query)

    async def busy_between(self, account_id: str, connection_id: str, calendar_id: str,
                           start: datetime, end: datetime) -> list[BusyEntry]:
        """The calendar's busy entries overlapping ``[start, end)`` (aware), clipped to it
        and sorted; one ``find_one`` by ``_id`` per month of the range."""
        calendar = _Calendar(account_id, connection_id, calendar_id)
        months = sorted(months_touched([BusyInterval(start, end)]))
        documents = await asyncio.gather(*(
            self.busy.find_one(calendar.by_id(calendar.month_id(m))) for m in months))
        entries: set[BusyEntry] = set()
        for document in documents:
            for entry in _entries(document).values():
                for interval in entry["intervals"]:
                    busy_start, busy_end = interval["start"], interval["end"]
                    clipped = clip(busy_start, busy_end, start, end)
                    if clipped is not None:
                        entries.add(BusyEntry(*clipped, entry["title"], entry["event_id"]))
        return sorted(entries, key=lambda e: (e.start, e.end, e.provider_event_id))
