"""booking-pages's MongoDB repositories and the indexes created at start-up.

Concurrency follows FerretDB 1.x's limits (README): everything two requests may race for is
decided by a unique ``_id`` insert — a slug (``slugs``), a custom domain (``domains``), a
reservation cell of a host's time (``reservations``), a blocked attempt — never by a
conditional update.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from convene_kit.aggregates import ModelRepository, VersionedRepository
from convene_kit.store import MAX_FIND, IndexSpec, find_all, scoped_filter
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from convene_booking_pages.domain.account import AccountSettings
from convene_booking_pages.domain.booking import Booking, cell_id, cells
from convene_booking_pages.domain.page import Page

PAGES = "pages"
ACCOUNTS = "account_settings"
BOOKINGS = "bookings"
ATTEMPTS = "blocked_attempts"
REVISIONS = "revisions"
SLUGS = "slugs"
DOMAINS = "domains"
RESERVATIONS = "reservations"
USERS = "users"

INDEXES: list[IndexSpec] = [
    IndexSpec(collection=PAGES, keys=[("account_id", 1), ("owner_user_id", 1), ("_id", 1)],
              name="pages_of_owner"),
    IndexSpec(collection=BOOKINGS, keys=[("account_id", 1), ("host_user_id", 1), ("start", 1)],
              name="bookings_of_host"),
    IndexSpec(collection=BOOKINGS,
              keys=[("account_id", 1), ("co_host_user_ids", 1), ("start", 1)],
              name="bookings_of_co_host"),
    IndexSpec(collection=RESERVATIONS, keys=[("account_id", 1), ("user_id", 1), ("at", 1)],
              name="cells_of_user"),
    IndexSpec(collection=RESERVATIONS, keys=[("reservation_id", 1)], name="cells_of_reservation"),
    IndexSpec(collection=RESERVATIONS, keys=[("until", 1)], name="cells_until"),
]


class PageRepository(ModelRepository[Page]):
    model = Page
    id_field = "page_id"

    async def of_account(self, account_id: str, owner_user_id: str | None = None,
                         limit: int = 200) -> list[Page]:
        query: dict[str, Any] = {"deleted": False}
        if owner_user_id is not None:
            query["owner_user_id"] = owner_user_id
        found = await self._scoped.find(account_id, query, sort=[("_id", 1)], limit=limit)
        return [self.from_document(d) for d in found]


class AccountRepository(ModelRepository[AccountSettings]):
    model = AccountSettings
    id_field = "account_id"


class BookingRepository(ModelRepository[Booking]):
    model = Booking
    id_field = "booking_id"

    async def of_host_between(self, account_id: str, host_user_id: str, start: datetime,
                              end: datetime) -> list[Booking]:
        """The standing bookings starting in ``[start, end)`` that the user hosts or
        co-hosts (team mode ``all``)."""
        found = await self._scoped.find(account_id, {
            "$or": [{"host_user_id": host_user_id}, {"co_host_user_ids": host_user_id}],
            "state": "booked", "start": {"$gte": start, "$lt": end}},
            sort=[("start", 1)], limit=MAX_FIND)
        return [self.from_document(d) for d in found]

    async def count_of_page(self, account_id: str, page_id: str, host_user_id: str) -> int:
        return await self._scoped.count(account_id, {"page_id": page_id,
                                                     "host_user_id": host_user_id})


class AttemptRepository(VersionedRepository[Any]):
    """Blocked attempts: one document per attempt id, holding its event in its outbox."""

    def document(self, aggregate: Any) -> dict[str, Any]:
        return {"_id": aggregate.attempt_id, "account_id": aggregate.account_id, "version": 0,
                "page_id": aggregate.page_id, "reason": aggregate.reason,
                "occurred_at": aggregate.occurred_at}

    def from_document(self, document: Mapping[str, Any]) -> Any:
        return document


class UniqueNames:
    """Names unique across every account (slugs, R37; custom domains): ``_id`` = the name,
    with the account and the holder (a page id, an account id). A name whose holder no
    longer uses it (a crash between claim and use, a page deleted) is taken back by
    :meth:`release` or by the next claim after :meth:`holder` says it is stale."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self.collection = collection

    async def claim(self, name: str, account_id: str, holder_id: str, now: datetime) -> bool:
        """True if ``name`` is now held by ``holder_id`` (already held by it counts)."""
        try:
            await self.collection.insert_one({"_id": name, "account_id": account_id,
                                              "holder_id": holder_id, "claimed_at": now})
        except DuplicateKeyError:
            held = await self.holder(name)
            return held is not None and held["holder_id"] == holder_id
        return True

    async def holder(self, name: str) -> dict[str, Any] | None:
        return await self.collection.find_one({"_id": name})

    async def release(self, name: str, holder_id: str) -> None:
        await self.collection.delete_one({"_id": name, "holder_id": holder_id})


class Reservations:
    """Reservation cells of hosts' time (``domain.booking``): one document per host and
    five minutes, ``until`` None for a booking's cells, a time for a hold's or for cells
    whose booking is still being written. A booking of a team page in mode ``all`` has the
    cells of every member under its one reservation id."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self.collection = collection

    async def reserve(self, account_id: str, user_id: str, start: datetime, end: datetime,
                      reservation_id: str, until: datetime | None, now: datetime
                      ) -> list[str]:
        """Insert every cell of ``[start, end)`` for the user; the ids of the cells another
        reservation holds ([] = reserved). Cells this call inserted before meeting a taken
        one are deleted again, so a refused reservation holds nothing."""
        times = cells(start, end)
        ids = [cell_id(account_id, user_id, at) for at in times]
        documents = [{"_id": i, "account_id": account_id, "user_id": user_id, "at": at,
                      "reservation_id": reservation_id, "until": until, "reserved_at": now}
                     for i, at in zip(ids, times, strict=True)]
        try:
            await self.collection.insert_many(documents, ordered=True)
        except BulkWriteError as exc:
            inserted = exc.details.get("nInserted", 0)
            taken = [e["op"]["_id"] if "op" in e else ids[e["index"]]
                     for e in exc.details.get("writeErrors", []) if e.get("code") == 11000]
            if not taken:
                raise
            await self.collection.delete_many({"_id": {"$in": ids[:inserted]},
                                               "reservation_id": reservation_id})
            return taken
        return []

    async def holders(self, cell_ids: Sequence[str]) -> list[dict[str, Any]]:
        return await find_all(self.collection, {"_id": {"$in": list(cell_ids)}})

    async def drop_stale(self, cell: Mapping[str, Any]) -> bool:
        """Delete the cells of an abandoned reservation, as they were read: a reservation
        confirmed meanwhile (``until`` cleared) keeps them."""
        result = await self.collection.delete_many({"reservation_id": cell["reservation_id"],
                                                    "until": cell["until"]})
        return result.deleted_count > 0

    async def confirm(self, reservation_id: str) -> int:
        """The reservation's booking is stored: its cells hold for good. How many."""
        result = await self.collection.update_many({"reservation_id": reservation_id},
                                                   {"$set": {"until": None}})
        return result.matched_count

    async def release(self, reservation_id: str) -> int:
        result = await self.collection.delete_many({"reservation_id": reservation_id})
        return result.deleted_count

    async def of_user_between(self, account_id: str, user_id: str, start: datetime,
                              end: datetime) -> list[dict[str, Any]]:
        return await find_all(self.collection, scoped_filter(account_id, {
            "user_id": user_id, "at": {"$gte": start, "$lt": end}}), sort=[("at", 1)])

    async def of_reservation(self, reservation_id: str) -> list[dict[str, Any]]:
        return await find_all(self.collection, {"reservation_id": reservation_id})

    async def expired(self, before: datetime, limit: int = 500) -> list[dict[str, Any]]:
        return await find_all(self.collection, {"until": {"$ne": None, "$lt": before}},
                              limit=limit)

    async def prune_past(self, before: datetime) -> int:
        result = await self.collection.delete_many({"at": {"$lt": before}})
        return result.deleted_count
