"""notifications' MongoDB repository (the mail log) and the indexes created at start-up.

The mail log has one document per email, ``_id`` = the email id (derived from the email's
idempotency key, see ``domain.planning``). Inserting it is the claim: a unique insert is
atomic on FerretDB and MongoDB alike. Every later write to one entry comes from whoever
holds the claim, one at a time, so the (non-atomic on FerretDB) updates never race.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from convene_kit.store import AccountScopedCollection, IndexSpec
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from convene_notifications.domain.mail_log import FailureReason, MailState

MAIL_LOG = "mail_log"
PROCESSED_EVENTS = "processed_events"

INDEXES: list[IndexSpec] = [
    IndexSpec(collection=MAIL_LOG, keys=[("account_id", 1), ("meeting_id", 1)],
              name="account_meeting"),
]

MAX_LISTED = 1000


class MailLog:
    """Outgoing emails and their states; every method is scoped to one account."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self.entries = AccountScopedCollection(collection)

    async def claim(self, account_id: str, entry: dict[str, Any]) -> dict[str, Any] | None:
        """Insert ``entry`` (state ``sending``). Returns None if this call claimed it, or the
        existing entry with the same ``_id`` if it was claimed before."""
        try:
            await self.entries.insert_one(account_id, {**entry, "state": MailState.SENDING.value})
        except DuplicateKeyError:
            existing = await self.entries.find_one(account_id, {"_id": entry["_id"]})
            if existing is None:  # the id exists, but not in this account: never touch it
                raise
            return existing
        return None

    async def mark_sent(self, account_id: str, email_id: str, sent_at: datetime) -> None:
        """The server accepted the email."""
        await self.entries.update_one(
            account_id, {"_id": email_id},
            {"$set": {"state": MailState.SENT.value, "sent_at": sent_at, "error": None},
             "$inc": {"attempts": 1}})

    async def mark_failed(self, account_id: str, email_id: str, reason: FailureReason, *,
                          message: str, code: int | None = None,
                          failed_at: datetime, attempted: bool = True) -> None:
        """The email will never be sent (final)."""
        await self.entries.update_one(
            account_id, {"_id": email_id},
            {"$set": {"state": MailState.FAILED.value, "failed_at": failed_at,
                      "error": {"reason": reason.value, "code": code, "message": message}},
             "$inc": {"attempts": 1 if attempted else 0}})

    async def note_temporary_failure(self, account_id: str, email_id: str, *, message: str,
                                     code: int | None, at: datetime) -> None:
        """A try failed for a reason that will pass; the entry stays ``sending``."""
        await self.entries.update_one(
            account_id, {"_id": email_id},
            {"$set": {"error": {"reason": FailureReason.TEMPORARY.value, "code": code,
                                "message": message}, "last_attempt_at": at},
             "$inc": {"attempts": 1}})

    async def for_recipient(self, account_id: str, meeting_id: str,
                            recipient_email: str) -> list[dict[str, Any]]:
        """The emails of one meeting to one address (compared case-insensitively)."""
        folded = recipient_email.strip().lower()
        return [entry for entry in await self.for_meeting(account_id, meeting_id)
                if str(entry.get("recipient", "")).strip().lower() == folded]

    async def for_meeting(self, account_id: str, meeting_id: str) -> list[dict[str, Any]]:
        """The emails of one meeting, oldest first (bounded)."""
        return await self.entries.find(account_id, {"meeting_id": meeting_id},
                                       sort=[("created_at", 1), ("recipient", 1)], limit=MAX_LISTED)
