"""notifications' MongoDB repository (the mail log) and the indexes created at start-up.

The mail log has one document per email, ``_id`` = the email id (derived from the email's
idempotency key, see ``domain.planning``). Inserting it is the claim: a unique insert is
atomic on FerretDB and MongoDB alike. Every later write to one entry comes from whoever
holds the claim, one at a time, so the (non-atomic on FerretDB) updates never race.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from convene_kit.store import AccountScopedCollection, IndexSpec, find_all
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from convene_notifications.domain.mail_log import FailureReason, MailState

MAIL_LOG = "mail_log"

INDEXES: list[IndexSpec] = [
    IndexSpec(collection=MAIL_LOG, keys=[("account_id", 1), ("meeting_id", 1)],
              name="account_meeting"),
    IndexSpec(collection=MAIL_LOG, keys=[("next_attempt_at", 1)], name="next_attempt_at"),
]

_RETRY_DONE = {"retry": "", "next_attempt_at": ""}  # dropped once an entry is final

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
             "$inc": {"attempts": 1}, "$unset": _RETRY_DONE})

    async def mark_failed(self, account_id: str, email_id: str, reason: FailureReason, *,
                          message: str, code: int | None = None,
                          failed_at: datetime, attempted: bool = True) -> None:
        """The email will never be sent (final)."""
        await self.entries.update_one(
            account_id, {"_id": email_id},
            {"$set": {"state": MailState.FAILED.value, "failed_at": failed_at,
                      "error": {"reason": reason.value, "code": code, "message": message}},
             "$inc": {"attempts": 1 if attempted else 0}, "$unset": _RETRY_DONE})

    async def schedule_retry(self, account_id: str, email_id: str, *, retry: dict[str, Any],
                             message: str, code: int | None, at: datetime,
                             next_attempt_at: datetime) -> None:
        """A try failed for a reason that will pass: the entry goes (or stays) on the retry
        queue, state ``retrying``, with the composed message in ``retry`` (see retries.py)."""
        await self.entries.update_one(
            account_id, {"_id": email_id},
            {"$set": {"state": MailState.RETRYING.value, "retry": retry,
                      "next_attempt_at": next_attempt_at, "last_attempt_at": at,
                      "error": {"reason": FailureReason.TEMPORARY.value, "code": code,
                                "message": message}},
             "$inc": {"attempts": 1}})

    async def get(self, account_id: str, email_id: str) -> dict[str, Any] | None:
        """One entry by its email id."""
        return await self.entries.find_one(account_id, {"_id": email_id})

    async def due_retries(self, now: datetime, limit: int) -> list[dict[str, Any]]:
        """Entries of every account whose next attempt is due, earliest first (bounded;
        the retry worker's only cross-account read)."""
        return await find_all(
            self.entries.collection,
            {"state": MailState.RETRYING.value, "next_attempt_at": {"$lte": now}},
            sort=[("next_attempt_at", 1)], limit=limit)

    async def retries_pending(self) -> int:
        """How many emails wait on the retry queue (all accounts)."""
        return await self.entries.collection.count_documents(
            {"state": MailState.RETRYING.value})

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
