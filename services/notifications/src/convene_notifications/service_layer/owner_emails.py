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
sends. A held email is released once a path has handed it to the email pipeline.

Claim, compose and dispatch are every email's (``service_layer.email_jobs``): a 5xx or an
address that cannot be mailed -> ``failed`` + ``EmailDeliveryFailed`` (kind
``offline_booking_request`` / ``booking_attempt_blocked``); a temporary failure puts the
email on the retry queue (the consumer commits and moves on).
"""

from __future__ import annotations

import logging
from datetime import datetime
from email.message import EmailMessage

from convene_kit.clock import Clock, utc_now
from prometheus_client import Counter

from convene_notifications.composers import OwnerComposer
from convene_notifications.domain.addresses import parse_address
from convene_notifications.domain.localization import AccountDefaults
from convene_notifications.domain.mail_log import MailEntry, MailState
from convene_notifications.domain.owner_emails import OwnerEmail, OwnerEvent, owner_email_for
from convene_notifications.owner_store import PendingOwnerEmails
from convene_notifications.read_models import ReadModels, User
from convene_notifications.service_layer.email_jobs import EmailJob, EmailPipeline

logger = logging.getLogger(__name__)

OWNER_EMAILS_HELD = Counter("convene_owner_emails_held_total",
                            "Owner emails held until records tells us about the owner.")

BOOKING_PATH = "booking"
OWNER_KNOWN_PATH = "owner_known"


class OwnerEmails:
    """Sends the owner's emails of booking-pages events, and those held for an owner."""

    def __init__(self, read_models: ReadModels, pending: PendingOwnerEmails,
                 pipeline: EmailPipeline, composer: OwnerComposer, *,
                 clock: Clock = utc_now) -> None:
        self.read_models = read_models
        self.pending = pending
        self.pipeline = pipeline
        self.composer = composer
        self.clock = clock

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
        """Hand the email to the pipeline, claimed by ``path``; its state, or None when the
        other path holds it."""
        defaults = await self.read_models.account_defaults(planned.account_id)
        result = await self.pipeline.send(self.job(planned, event, owner, defaults, path=path))
        if result.elsewhere:
            return None  # the other path is sending it (and retries it if it must)
        await self.pending.release(planned.account_id, planned.email_id)
        return result.state

    def job(self, planned: OwnerEmail, event: OwnerEvent, owner: User,
            defaults: AccountDefaults | None, *, path: str) -> EmailJob:
        """The email job of one owner email, claimed by ``path``."""
        entry = MailEntry(
            email_id=planned.email_id, account_id=planned.account_id, kind=planned.kind,
            recipient=owner.email, recipient_kind="user", recipient_id=owner.user_id,
            message_id=planned.message_id(self.composer.message_id_domain),
            subject_id=planned.subject_id, claimed_by=path)
        address = parse_address(owner.email, owner.name)

        def compose(message_id: str, now: datetime) -> EmailMessage:
            assert address is not None  # the pipeline composes only for a mailable address
            return self.composer.compose(planned, event, owner, defaults, recipient=address,
                                         message_id=message_id, now=now)

        return EmailJob(entry=entry, address=address, compose=compose)
