"""The ``held_bookings`` collection: bookings waiting until meetings knows their owner.

records' ``UserUpserted`` travels on another topic than booking-pages' ``BookingRequested``,
so a booking can arrive before its owner. It is kept here (``_id`` =
``"<account_id>:<booking_id>"``, a unique insert: a redelivery changes nothing) with its full
event, and booked when the owner's ``UserUpserted`` is applied (``bookings.release_held``).
A held booking is deleted by ``_id`` only after its meeting was inserted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from convene_kit.store import IndexSpec, find_all, scoped_filter
from convene_schemas.events.booking_pages import BookingRequested
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

HELD_BOOKINGS = "held_bookings"

HELD_INDEXES: list[IndexSpec] = [
    # The bookings held for one owner, looked up when the owner's UserUpserted is applied.
    IndexSpec(collection=HELD_BOOKINGS, keys=[("account_id", 1), ("owner_user_id", 1)],
              name="account_owner"),
]


def held_key(account_id: str, booking_id: str) -> str:
    """The ``_id`` of a held booking: ``"<account_id>:<booking_id>"``."""
    return f"{account_id}:{booking_id}"


class HeldBookingRepository:
    """Bookings whose owner meetings does not know yet."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self.collection = collection

    async def hold(self, booking: BookingRequested, event_id: str, received_at: datetime) -> bool:
        """Keep the booking until its owner is known; False if it is held already."""
        try:
            await self.collection.insert_one({
                "_id": held_key(booking.account_id, booking.booking_id),
                "account_id": booking.account_id, "booking_id": booking.booking_id,
                "owner_user_id": booking.owner_user_id, "event_id": event_id,
                "event": booking.model_dump_json(), "received_at": received_at,
            })
        except DuplicateKeyError:
            return False
        return True

    async def of_owner(self, account_id: str, owner_user_id: str) -> list[BookingRequested]:
        """The bookings held for this owner, oldest first."""
        held = await find_all(self.collection,
                              scoped_filter(account_id, {"owner_user_id": owner_user_id}),
                              sort=[("received_at", 1), ("_id", 1)])
        return [BookingRequested.model_validate_json(d["event"]) for d in held]

    async def release(self, account_id: str, booking_id: str) -> None:
        """Forget a held booking (after its meeting was made or refused); no-op if none."""
        await self.collection.delete_one(
            scoped_filter(account_id, {"_id": held_key(account_id, booking_id)}))
