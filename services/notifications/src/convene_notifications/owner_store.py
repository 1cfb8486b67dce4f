"""Owner emails waiting for their owner: ``pending_owner_emails``.

A booking-pages event may name an owner records has not told us about yet (the two topics
are consumed independently). Its email is then kept here, ``_id`` = the email id (a unique
insert, so holding it twice keeps one), until the owner's ``UserUpserted`` arrives; the
document is deleted once the email is sent or failed for good.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from convene_kit.store import AccountScopedCollection, IndexSpec
from convene_schemas.base import event_class
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from convene_notifications.domain.owner_emails import OwnerEmail, OwnerEvent

PENDING_OWNER_EMAILS = "pending_owner_emails"

OWNER_INDEXES: list[IndexSpec] = [
    IndexSpec(collection=PENDING_OWNER_EMAILS, keys=[("account_id", 1), ("owner_user_id", 1)],
              name="account_owner"),
]

MAX_PENDING_PER_OWNER = 1000


class PendingOwnerEmails:
    """Owner emails held until the owner is known; every method is scoped to one account."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self.entries = AccountScopedCollection(collection)

    async def hold(self, planned: OwnerEmail, event: OwnerEvent, now: datetime) -> None:
        """Keep ``event`` until ``planned.owner_user_id`` is known (once per email)."""
        try:
            await self.entries.insert_one(planned.account_id, {
                "_id": planned.email_id, "owner_user_id": planned.owner_user_id,
                "kind": planned.kind, "event_type": event.EVENT_TYPE,
                "schema_version": event.SCHEMA_VERSION,
                "event": event.model_dump(mode="json"), "held_at": now})
        except DuplicateKeyError:
            pass  # held already (a redelivery)

    async def for_owner(self, account_id: str, owner_user_id: str) -> list[OwnerEvent]:
        """The events waiting for this owner, oldest first (bounded)."""
        held = await self.entries.find(account_id, {"owner_user_id": owner_user_id},
                                       sort=[("held_at", 1)], limit=MAX_PENDING_PER_OWNER)
        events = []
        for document in held:
            cls = event_class(document["event_type"], document["schema_version"])
            if cls is not None:
                events.append(cls.parse_data(document["event"]))
        return events  # type: ignore[return-value]

    async def release(self, account_id: str, email_id: str) -> None:
        """Forget a held email (it was sent or failed for good)."""
        await self.entries.delete_one(account_id, {"_id": email_id})
