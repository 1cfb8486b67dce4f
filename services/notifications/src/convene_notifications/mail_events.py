"""The events notifications publishes about its emails, through the kit's outbox.

The outbox lives on a small collection of its own (``mail_events``), never on the growing
mail log, because the relay scans outbox collections. Each event is one document with
``_id`` = ``<email id>:<outcome>``, inserted with the event in its ``outbox`` (a unique
insert: an outcome is raised once, whatever is retried), published right after the mail
log is updated, and then deleted. A crash between the insert and the publish leaves the
document to the relay sweep, which publishes it (at least once, with the same event id).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from convene_kit.kafka import EventPublisher
from convene_kit.outbox import insert_with_events, outbox_entries, publish_and_clear
from convene_schemas.base import Event, event_class
from convene_schemas.events.notifications import (
    EmailDeliveryFailed,
    InvitationSent,
    Recipient,
)
from pydantic import ValidationError
from pymongo.asynchronous.collection import AsyncCollection

from convene_notifications.domain.planning import PlannedEmail

logger = logging.getLogger(__name__)

MAIL_EVENTS = "mail_events"


def _recipient(planned: PlannedEmail) -> Recipient:
    person = planned.recipient
    return Recipient(kind=person.kind, id=person.id, email=person.email,
                     time_zone=person.time_zone, language=person.language)


def invitation_sent(planned: PlannedEmail, ical_uid: str, message_id: str, *,
                    at: datetime) -> InvitationSent:
    """The event of an invitation, update or cancellation the server accepted."""
    return InvitationSent(
        account_id=planned.account_id, version=0, occurred_at=at, email_id=planned.email_id,
        meeting_id=planned.meeting_id, ical_uid=ical_uid, kind=planned.kind,
        method=planned.method, sequence=planned.sequence, recipient=_recipient(planned),
        message_id=message_id)


@dataclass(frozen=True)
class EmailRef:
    """What the events about one email name: whose it is, which one, to whom."""

    account_id: str
    email_id: str
    kind: str
    recipient_email: str
    meeting_id: str | None = None

    @classmethod
    def of(cls, planned: PlannedEmail) -> EmailRef:
        return cls(planned.account_id, planned.email_id, planned.kind,
                   planned.recipient.email, planned.meeting_id)


def failure_event(ref: EmailRef, *, reason: str, code: int | None, attempts: int,
                  at: datetime, enhanced_status: str | None = None
                  ) -> EmailDeliveryFailed | None:
    """The event of an email that will never be delivered (5xx, an address that cannot be
    mailed, or the last retry failed); None when the address is too broken for the event's
    own schema."""
    try:
        return EmailDeliveryFailed(
            account_id=ref.account_id, version=0, occurred_at=at, email_id=ref.email_id,
            kind=ref.kind, recipient_email=ref.recipient_email,  # type: ignore[arg-type]
            meeting_id=ref.meeting_id,
            smtp_code=code if code is not None and 200 <= code <= 599 else None,
            enhanced_status=enhanced_status, permanent=True, attempts=max(1, attempts),
            reason=reason[:1000])
    except ValidationError:
        logger.warning("email %s failed, but its address cannot be named in an event",
                       ref.email_id)
        return None


def stored_event(event: Event | None) -> dict[str, Any] | None:
    """An event as the retry queue keeps it until the email goes out."""
    if event is None:
        return None
    return {"type": event.EVENT_TYPE, "schema_version": event.SCHEMA_VERSION,
            "data": event.model_dump(mode="json")}


def restored_event(stored: dict[str, Any] | None, at: datetime) -> Event | None:
    """The event :func:`stored_event` kept, as happening ``at``."""
    if not stored:
        return None
    cls = event_class(stored["type"], stored["schema_version"])
    if cls is None:
        logger.warning("a stored %s event is of an unknown type; not raised", stored["type"])
        return None
    return cls.parse_data({**stored["data"], "occurred_at": at.isoformat()})


class MailEvents:
    """Raises one event per email outcome and publishes it (outbox on ``mail_events``)."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]],
                 publisher: EventPublisher | None) -> None:
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
        if document is None or self.publisher is None:
            return
        try:
            await publish_and_clear(self.publisher, self.collection, document, delete=True)
        except Exception:  # the relay publishes what is left (at least once, same event id)
            logger.warning("publishing %s failed; the outbox relay will retry",
                           document["_id"], exc_info=True)
