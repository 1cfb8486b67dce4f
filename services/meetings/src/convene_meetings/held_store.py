"""The ``held_bookings`` collection: bookings waiting until meetings knows their owner, their
co-hosts and the visitor's contact.

records' ``UserUpserted`` and ``ContactUpserted`` travel on another topic than booking-pages'
``BookingRequested`` (and records makes the visitor's contact only when it sees the
booking), so a booking can arrive before either. It is kept here (``_id`` =
``"<account_id>:<booking_id>"``, a unique insert: a redelivery changes nothing) with its full
event, the owner's id, the co-hosts' ids (``co_host_user_ids``) and the visitor's address as
compared (``visitor_email_key``), and booked when the last thing it waits for is applied
(``bookings.release_for_user`` looks bookings up by owner or co-host,
``release_for_visitor`` by address). ``waiting_for`` says what it waited for when last
looked at (``owner``, ``co_hosts``, ``contact``), for whoever reads the collection; no
decision depends on it. A held booking is deleted by ``_id`` only after its meeting was
inserted.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from convene_kit.store import IndexSpec, find_all, scoped_filter
from convene_schemas.events.booking_pages import BookingRequested
from convene_schemas.events.common import email_key
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

HELD_BOOKINGS = "held_bookings"

HELD_INDEXES: list[IndexSpec] = [
    # The bookings held for one owner, looked up when the owner's UserUpserted is applied.
    IndexSpec(collection=HELD_BOOKINGS, keys=[("account_id", 1), ("owner_user_id", 1)],
              name="account_owner"),
    # The bookings held with one co-host (an array: a multikey index on MongoDB).
    IndexSpec(collection=HELD_BOOKINGS, keys=[("account_id", 1), ("co_host_user_ids", 1)],
              name="account_co_host"),
    # The bookings of one visitor's address, looked up when a ContactUpserted is applied.
    IndexSpec(collection=HELD_BOOKINGS, keys=[("account_id", 1), ("visitor_email_key", 1)],
              name="account_visitor_email"),
]


def held_key(account_id: str, booking_id: str) -> str:
    """The ``_id`` of a held booking: ``"<account_id>:<booking_id>"``."""
    return f"{account_id}:{booking_id}"


class HeldBookingRepository:
    """Bookings whose owner, co-hosts or visitor's contact meetings does not know yet."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self.collection = collection

    async def hold(self, booking: BookingRequested, event_id: str, waiting_for: Sequence[str],
                   received_at: datetime) -> bool:
        """Keep the booking until what it waits for is known; False if it is held already."""
        try:
            await self.collection.insert_one({
                "_id": held_key(booking.account_id, booking.booking_id),
                "account_id": booking.account_id, "booking_id": booking.booking_id,
                "owner_user_id": booking.owner_user_id,
                "co_host_user_ids": list(booking.co_host_user_ids),
                "visitor_email_key": email_key(booking.visitor.email),
                "waiting_for": list(waiting_for), "event_id": event_id,
                "event": booking.model_dump_json(), "received_at": received_at,
            })
        except DuplicateKeyError:
            return False
        return True

    async def still_waiting(self, booking: BookingRequested, waiting_for: Sequence[str]) -> None:
        """Note what a held booking waits for now (no-op if it is no longer held); also
        gives a booking held before ``visitor_email_key`` was kept that field."""
        await self.collection.update_one(
            scoped_filter(booking.account_id,
                          {"_id": held_key(booking.account_id, booking.booking_id)}),
            {"$set": {"waiting_for": list(waiting_for),
                      "visitor_email_key": email_key(booking.visitor.email)}})

    async def of_user(self, account_id: str, user_id: str) -> list[BookingRequested]:
        """The bookings held whose owner or a co-host is this user, oldest first."""
        return await self._held(account_id, {"$or": [{"owner_user_id": user_id},
                                                     {"co_host_user_ids": user_id}]})

    async def of_visitor(self, account_id: str, email: str) -> list[BookingRequested]:
        """The bookings held whose visitor has this address (in any case), oldest first."""
        return await self._held(account_id, {"visitor_email_key": email_key(email)})

    async def _held(self, account_id: str, query: dict[str, Any]) -> list[BookingRequested]:
        held = await find_all(self.collection, scoped_filter(account_id, query),
                              sort=[("received_at", 1), ("_id", 1)])
        return [BookingRequested.model_validate_json(d["event"]) for d in held]

    async def release(self, account_id: str, booking_id: str) -> None:
        """Forget a held booking (after its meeting was made or refused); no-op if none."""
        await self.collection.delete_one(
            scoped_filter(account_id, {"_id": held_key(account_id, booking_id)}))
