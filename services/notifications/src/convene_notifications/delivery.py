"""Sending planned emails at most once each: claim, compose, send, record.

For every :class:`~convene_notifications.domain.planning.PlannedEmail`:

1. claim its mail-log entry (unique insert of ``_id`` = email id, state ``sending``);
   if it exists already and is ``sent`` or ``failed``, stop (never twice);
2. an address that cannot be mailed -> ``failed`` / ``invalid_address``, nothing sent;
3. compose and send, with the Message-ID derived from the key (the same on every try);
4. ``sent`` on success; ``failed`` / ``rejected`` on a 5xx; on a transient failure the
   entry stays ``sending`` and :class:`~convene_notifications.mailer.TransientDeliveryError`
   propagates, so the consumer retries the event without committing it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from convene_schemas.events.meetings import MeetingScheduled, MeetingSnapshot
from prometheus_client import Counter

from convene_notifications.compose import Composer
from convene_notifications.domain.mail_log import FailureReason, MailState, should_send
from convene_notifications.domain.planning import PlannedEmail, plan_invitations
from convene_notifications.mailer import Mailer, PermanentDeliveryError, TransientDeliveryError
from convene_notifications.store import MailLog

logger = logging.getLogger(__name__)

EMAILS_SENT = Counter("convene_emails_sent_total", "Emails the mail server accepted.", ["kind"])
EMAILS_FAILED = Counter("convene_emails_failed_total",
                        "Email attempts that failed, by reason (temporary ones are retried).",
                        ["kind", "reason"])


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class DeliveryResult:
    """What became of one planned email in this call."""

    email_id: str
    state: MailState
    sent_now: bool


class Deliveries:
    """Delivers the emails that meeting events call for."""

    def __init__(self, mail_log: MailLog, mailer: Mailer, composer: Composer, *,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.mail_log = mail_log
        self.mailer = mailer
        self.composer = composer
        self.clock = clock

    async def send_invitations(self, meeting: MeetingScheduled) -> list[DeliveryResult]:
        """Invite every invited attendee of a newly scheduled meeting (once each)."""
        return [await self.deliver(planned, meeting) for planned in plan_invitations(meeting)]

    def new_entry(self, planned: PlannedEmail, meeting: MeetingSnapshot,
                  now: datetime) -> dict[str, Any]:
        """The mail-log entry that claims ``planned``."""
        return {
            "_id": planned.email_id,
            "account_id": planned.account_id,
            "meeting_id": planned.meeting_id,
            "ical_uid": meeting.ical_uid,
            "kind": planned.kind,
            "method": planned.method,
            "sequence": planned.sequence,
            "recipient": planned.recipient.email,
            "recipient_kind": planned.recipient.kind,
            "recipient_id": planned.recipient.id,
            "message_id": planned.message_id(self.composer.message_id_domain),
            "created_at": now,
            "sent_at": None,
            "error": None,
            "attempts": 0,
        }

    async def deliver(self, planned: PlannedEmail, meeting: MeetingSnapshot) -> DeliveryResult:
        """Send ``planned`` unless it was sent or failed for good before."""
        account_id, email_id = planned.account_id, planned.email_id
        entry = self.new_entry(planned, meeting, self.clock())
        existing = await self.mail_log.claim(account_id, entry)
        if existing is not None and not should_send(existing.get("state")):
            logger.info("email %s of meeting %s is already %s; not sending it again",
                        email_id, planned.meeting_id, existing.get("state"))
            return DeliveryResult(email_id, MailState(existing["state"]), sent_now=False)
        message_id = (existing or entry)["message_id"]

        recipient = planned.recipient.address
        if recipient is None:
            await self.mail_log.mark_failed(
                account_id, email_id, FailureReason.INVALID_ADDRESS, attempted=False,
                message="the recipient's address cannot be mailed", failed_at=self.clock())
            EMAILS_FAILED.labels(kind=planned.kind, reason=FailureReason.INVALID_ADDRESS).inc()
            logger.warning("email %s of meeting %s not sent: invalid address",
                           email_id, planned.meeting_id)
            return DeliveryResult(email_id, MailState.FAILED, sent_now=False)

        message = self.composer.compose(planned, meeting, now=self.clock(), message_id=message_id)
        try:
            await self.mailer.send(message, sender=self.composer.sender.addr_spec,
                                   recipients=[recipient.addr_spec])
        except PermanentDeliveryError as exc:
            await self.mail_log.mark_failed(account_id, email_id, FailureReason.REJECTED,
                                            message=exc.reason, code=exc.code,
                                            failed_at=self.clock())
            EMAILS_FAILED.labels(kind=planned.kind, reason=FailureReason.REJECTED).inc()
            logger.warning("email %s of meeting %s rejected by the mail server (%s)",
                           email_id, planned.meeting_id, exc.code)
            return DeliveryResult(email_id, MailState.FAILED, sent_now=False)
        except TransientDeliveryError as exc:
            EMAILS_FAILED.labels(kind=planned.kind, reason=FailureReason.TEMPORARY).inc()
            await self._note_temporary_failure(planned, exc)
            raise
        await self.mail_log.mark_sent(account_id, email_id, self.clock())
        EMAILS_SENT.labels(kind=planned.kind).inc()
        logger.info("email %s (%s) of meeting %s sent", email_id, planned.kind,
                    planned.meeting_id)
        return DeliveryResult(email_id, MailState.SENT, sent_now=True)

    async def _note_temporary_failure(self, planned: PlannedEmail,
                                      exc: TransientDeliveryError) -> None:
        # Best effort, for operators: the retry must not depend on this write.
        try:
            await self.mail_log.note_temporary_failure(
                planned.account_id, planned.email_id, message=exc.reason, code=exc.code,
                at=self.clock())
        except Exception:
            logger.warning("could not record the temporary failure of email %s",
                           planned.email_id, exc_info=True)
