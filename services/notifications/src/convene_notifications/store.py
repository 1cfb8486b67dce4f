"""notifications' repositories of its emails: the mail log and the outbox of the email
events, and the indexes created at start-up.

The mail log has one document per email, ``_id`` = the email id (derived from the email's
idempotency key, see ``domain.planning``). Inserting it is the claim: a unique insert is
atomic on FerretDB and MongoDB alike. Every later write to one entry comes from whoever
holds the claim, one at a time, so the (non-atomic on FerretDB) updates never race.

The email events (``InvitationSent``, ``ReminderSent``, ``EmailDeliveryFailed``) live on a
small collection of their own (``mail_events``), never on the growing mail log, because the
relay scans outbox collections. Each event is one document with ``_id`` =
``<email id>:<outcome>``, inserted with the event in its ``outbox`` (the kit's
``insert_with_events``: an outcome is raised once, whatever is retried), published right
after the mail log is updated, and then deleted. A crash between the insert and the publish
leaves the document to the relay sweep, which publishes it (at least once, same event id).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from convene_kit.kafka import EventPublisher
from convene_kit.outbox import insert_with_events, outbox_entries, publish_and_clear
from convene_kit.store import AccountScopedCollection, IndexSpec, find_all
from convene_schemas.base import Event
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from convene_notifications.domain.mail_log import FailureReason, MailEntry, MailState

logger = logging.getLogger(__name__)

MAIL_LOG = "mail_log"
MAIL_EVENTS = "mail_events"

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

    async def claim(self, entry: MailEntry, now: datetime) -> dict[str, Any] | None:
        """Insert ``entry`` (state ``sending``). Returns None if this call claimed it, or the
        existing entry with the same ``_id`` if it was claimed before."""
        try:
            await self.entries.insert_one(entry.account_id, entry.document(now))
        except DuplicateKeyError:
            existing = await self.entries.find_one(entry.account_id, {"_id": entry.email_id})
            if existing is None:  # the id exists, but not in this account: never touch it
                raise
            return existing
        return None

    async def mark_sent(self, account_id: str, email_id: str, sent_at: datetime, *,
                        attempts: int) -> None:
        """The server accepted the email at its ``attempts``-th attempt (idempotent: the
        counts are set, not incremented, so a write repeated after a timeout is harmless)."""
        await self.entries.update_one(
            account_id, {"_id": email_id},
            {"$set": {"state": MailState.SENT.value, "sent_at": sent_at, "error": None,
                      "attempts": attempts}, "$unset": _RETRY_DONE})

    async def mark_failed(self, account_id: str, email_id: str, reason: FailureReason, *,
                          message: str, code: int | None = None,
                          failed_at: datetime, attempts: int) -> None:
        """The email will never be sent (final), after ``attempts`` attempts (0: nothing was
        handed to the server)."""
        await self.entries.update_one(
            account_id, {"_id": email_id},
            {"$set": {"state": MailState.FAILED.value, "failed_at": failed_at,
                      "error": {"reason": reason.value, "code": code, "message": message},
                      "attempts": attempts}, "$unset": _RETRY_DONE})

    async def schedule_retry(self, account_id: str, email_id: str, *, retry: dict[str, Any],
                             message: str, code: int | None, at: datetime,
                             next_attempt_at: datetime, attempts: int) -> None:
        """A try failed for a reason that will pass: the entry goes (or stays) on the retry
        queue, state ``retrying``, with the composed message in ``retry``
        (``service_layer.retry_worker``)."""
        await self.entries.update_one(
            account_id, {"_id": email_id},
            {"$set": {"state": MailState.RETRYING.value, "retry": retry,
                      "next_attempt_at": next_attempt_at, "last_attempt_at": at,
                      "error": {"reason": FailureReason.TEMPORARY.value, "code": code,
                                "message": message}, "attempts": attempts}})

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


class MailEvents:
    """Raises one event per email outcome and publishes it (outbox on ``mail_events``)."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]],
                 publisher: EventPublisher) -> None:
        self.collection = collection
        self.publisher = publisher

    async def record(self, account_id: str, outcome_id: str, event: Event,
                     now: datetime) -> dict[str, Any] | None:
        """Store ``event`` for publishing under ``outcome_id``; None if it was raised before
        (then it was published already or the relay will)."""
        return await insert_with_events(
            self.collection, {"_id": outcome_id, "account_id": account_id, "created_at": now},
            outbox_entries([event]))

    async def publish(self, document: dict[str, Any] | None) -> None:
        """Publish a recorded event and drop its document; on failure the relay retries."""
        if document is None:
            return
        try:
            await publish_and_clear(self.publisher, self.collection, document, delete=True)
        except Exception:  # the relay publishes what is left (at least once, same event id)
            logger.warning("publishing %s failed; the outbox relay will retry",
                           document["_id"], exc_info=True)
