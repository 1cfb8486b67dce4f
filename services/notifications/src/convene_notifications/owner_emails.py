"""Sending the page owner's emails (R44) at most once each.

``BookingRequested`` on an offline page and ``BookingAttemptBlocked`` call for one email
to the page's owner (``domain.owner_emails``), addressed from the users read model.

**An owner not known yet** (records' ``UserUpserted`` not consumed yet; the topics are
independent): the email is held in ``pending_owner_emails`` and the booking event is
committed, so one unknown owner never holds up the partition; the owner's
``UserUpserted`` sends it. After holding, the read model is read again: if the user
arrived meanwhile, the booking path sends (else the records path, which writes the user
before it reads what is held, finds the held email). Both paths may therefore try the same
email at once; the mail-log claim (unique insert) names its path (``claimed_by``) and a
path resends a ``sending`` entry only if it claimed it (its own retry), so exactly one
sends. A held email is released once it is ``sent`` or ``failed``.

Claim, send and record follow the invitations' rules (``delivery``): a 5xx or an address
that cannot be mailed -> ``failed`` + ``EmailDeliveryFailed`` (kind
``offline_booking_request`` / ``booking_attempt_blocked``); a temporary failure puts the
email on the retry queue (``dispatch`` / ``retries``: the consumer commits and moves on).
"""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import Counter

from convene_notifications.dispatch import Outgoing, Sender
from convene_notifications.domain.addresses import parse_address
from convene_notifications.domain.mail_log import FailureReason, MailState
from convene_notifications.domain.owner_emails import OwnerEmail, OwnerEvent, owner_email_for
from convene_notifications.mail_events import EmailRef, failure_event
from convene_notifications.mailer import Mailer
from convene_notifications.owner_compose import OwnerComposer
from convene_notifications.owner_store import PendingOwnerEmails
from convene_notifications.read_models import ReadModels, User
from convene_notifications.store import MailLog

logger = logging.getLogger(__name__)

OWNER_EMAILS_HELD = Counter("convene_owner_emails_held_total",
                            "Owner emails held until records tells us about the owner.")

BOOKING_PATH = "booking"
OWNER_KNOWN_PATH = "owner_known"


class OwnerEmails(Sender[OwnerComposer]):
    """Sends the owner's emails of booking-pages events, and those held for an owner."""

    def __init__(self, read_models: ReadModels, pending: PendingOwnerEmails, mail_log: MailLog,
                 mailer: Mailer, composer: OwnerComposer, **sending: Any) -> None:
        super().__init__(mail_log, mailer, composer, **sending)
        self.read_models = read_models
        self.pending = pending

    async def on_booking_event(self, event: OwnerEvent) -> MailState | None:
        """The owner email of a BookingRequested / BookingAttemptBlocked; None when there
        is none (online booking), it is held, or another path is sending it."""
        planned = owner_email_for(event)
        if planned is None:
            return None
        owner = await self.read_models.user(planned.account_id, planned.owner_user_id)
        if owner is None:
            await self.pending.hold(planned, event, self.clock())
            owner = await self.read_models.user(planned.account_id, planned.owner_user_id)
            if owner is None:
                OWNER_EMAILS_HELD.inc()
                logger.info("owner %s of %s is not known yet; email %s held",
                            planned.owner_user_id, planned.subject_id, planned.email_id)
                return None
        return await self.deliver(planned, event, owner, path=BOOKING_PATH)

    async def on_owner_known(self, account_id: str, user_id: str) -> None:
        """Send what was held for a user records just told us about."""
        owner = await self.read_models.user(account_id, user_id)
        if owner is None:
            return
        for event in await self.pending.for_owner(account_id, user_id):
            planned = owner_email_for(event)
            if planned is not None:
                await self.deliver(planned, event, owner, path=OWNER_KNOWN_PATH)

    async def deliver(self, planned: OwnerEmail, event: OwnerEvent, owner: User, *,
                      path: str) -> MailState | None:
        """Claim, send, record; the final state, or None when another path holds it."""
        now = self.clock()
        message_id = planned.message_id(self.composer.message_id_domain)
        entry = {"_id": planned.email_id, "account_id": planned.account_id, "meeting_id": None,
                 "kind": planned.kind, "method": None, "sequence": None,
                 "subject_id": planned.subject_id, "recipient": owner.email,
                 "recipient_kind": "user", "recipient_id": owner.user_id,
                 "message_id": message_id, "claimed_by": path, "created_at": now,
                 "sent_at": None, "error": None, "attempts": 0}
        existing = await self.mail_log.claim(planned.account_id, entry)
        if existing is not None:
            state = existing.get("state")
            if state != MailState.SENDING:
                await self.pending.release(planned.account_id, planned.email_id)
                return MailState(state)
            if existing.get("claimed_by") != path:
                return None  # the other path is sending it (and retries it if it must)
        state = await self._send(planned, event, owner, existing or entry)
        await self.pending.release(planned.account_id, planned.email_id)
        return state

    async def _send(self, planned: OwnerEmail, event: OwnerEvent, owner: User,
                    entry: dict[str, Any]) -> MailState:
        account_id, email_id = planned.account_id, planned.email_id
        address = parse_address(owner.email, owner.name)
        if address is None:
            await self._failed(planned, owner, FailureReason.INVALID_ADDRESS, attempts=1,
                               message="the owner's address cannot be mailed", code=None)
            return MailState.FAILED
        defaults = await self.read_models.account_defaults(account_id)
        message = self.composer.compose(planned, event, owner, defaults, recipient=address,
                                        message_id=entry["message_id"], now=self.clock())
        ref = EmailRef(account_id, email_id, planned.kind, owner.email)
        return await self.dispatcher.attempt(  # sent / failed (5xx) / retrying (4xx)
            Outgoing(ref=ref, raw=message.as_bytes(), sender=self.composer.sender.addr_spec,
                     recipient=address.addr_spec),
            attempts_before=int(entry.get("attempts", 0)))

    async def _failed(self, planned: OwnerEmail, owner: User, reason: FailureReason, *,
                      attempts: int, message: str, code: int | None,
                      enhanced_status: str | None = None) -> None:
        """Raise EmailDeliveryFailed, then record ``failed`` (as invitations do)."""
        raised = None
        event = failure_event(
            EmailRef(planned.account_id, planned.email_id, planned.kind, owner.email),
            reason=message, code=code, attempts=attempts, at=self.clock(),
            enhanced_status=enhanced_status)
        if self.events is not None and event is not None:
            raised = await self.events.record(planned.account_id, f"{planned.email_id}:failed",
                                              event, self.clock())
        await self.mail_log.mark_failed(planned.account_id, planned.email_id, reason,
                                        message=message, code=code, failed_at=self.clock(),
                                        attempted=reason is not FailureReason.INVALID_ADDRESS)
        if self.events is not None:
            await self.events.publish(raised)
        logger.warning("owner email %s not delivered: %s", planned.email_id, reason.value)
