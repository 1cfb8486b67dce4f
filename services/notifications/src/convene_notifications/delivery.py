"""Sending planned emails at most once each: claim, compose, send, record.

For every :class:`~convene_notifications.domain.planning.PlannedEmail`:

0. look at what the recipient got for this meeting before: an email with a higher
   SEQUENCE makes this one stale (nothing sent); a REQUEST is an ``update`` if they had a
   REQUEST of a lower SEQUENCE, else their ``invitation``;
1. claim its mail-log entry (unique insert of ``_id`` = email id, state ``sending``);
   if it exists already and is ``sent`` or ``failed``, stop (never twice);
2. an address that cannot be mailed -> ``failed`` / ``invalid_address``, nothing sent;
3. compose and send, with the Message-ID derived from the key (the same on every try);
4. ``sent`` on success; ``failed`` / ``rejected`` on a 5xx; on a transient failure the
   entry stays ``sending`` and :class:`~convene_notifications.mailer.TransientDeliveryError`
   propagates, so the consumer retries the event without committing it.

``InvitationSent`` (accepted) and ``EmailDeliveryFailed`` (5xx or an address that cannot
be mailed) are raised through :class:`~convene_notifications.mail_events.MailEvents`.
Only the consumer holding the meeting's partition writes a meeting's entries, one event
at a time, so reading the history and then claiming never races.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from convene_schemas.events.meetings import (
    MeetingCanceled,
    MeetingChange,
    MeetingScheduled,
    MeetingSnapshot,
)
from prometheus_client import Counter
from pydantic import ValidationError

from convene_kit.claims import utc_now

from convene_notifications.compose import Composer
from convene_notifications.domain.mail_log import FailureReason, MailState, should_send
from convene_notifications.domain.planning import (
    PlannedEmail,
    is_stale,
    kind_for,
    plan_cancellations,
    plan_changes,
    plan_invitations,
)
from convene_notifications.mail_events import MailEvents, delivery_failed, invitation_sent
from convene_notifications.mailer import Mailer, PermanentDeliveryError, TransientDeliveryError
from convene_notifications.store import MailLog

logger = logging.getLogger(__name__)

EMAILS_SENT = Counter("convene_emails_sent_total", "Emails the mail server accepted.", ["kind"])
EMAILS_STALE = Counter("convene_emails_stale_total",
                       "Emails not sent because the recipient already got a newer SEQUENCE.",
                       ["kind"])
EMAILS_FAILED = Counter("convene_emails_failed_total",
                        "Email attempts that failed, by reason (temporary ones are retried).",
                        ["kind", "reason"])


@dataclass(frozen=True)
class DeliveryResult:
    """What became of one planned email in this call."""

    email_id: str
    state: MailState
    sent_now: bool


class Deliveries:
    """Delivers the emails that meeting events call for."""

    def __init__(self, mail_log: MailLog, mailer: Mailer, composer: Composer, *,
                 events: MailEvents | None = None,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.mail_log = mail_log
        self.mailer = mailer
        self.composer = composer
        self.events = events
        self.clock = clock

    async def send_invitations(self, meeting: MeetingScheduled) -> list[DeliveryResult]:
        """Invite every invited attendee of a newly scheduled meeting (once each)."""
        return await self._deliver_all(plan_invitations(meeting), meeting)

    async def send_updates(self, change: MeetingChange) -> list[DeliveryResult]:
        """An edit: updates to current attendees, cancellations to removed ones."""
        return await self._deliver_all(plan_changes(change), change)

    async def send_cancellations(self, meeting: MeetingCanceled) -> list[DeliveryResult]:
        """A canceled meeting: METHOD:CANCEL to every invited attendee."""
        return await self._deliver_all(plan_cancellations(meeting), meeting)

    async def _deliver_all(self, planned: list[PlannedEmail],
                           meeting: MeetingSnapshot) -> list[DeliveryResult]:
        results = [await self.deliver(email, meeting) for email in planned]
        return [result for result in results if result is not None]

    async def settle(self, planned: PlannedEmail) -> PlannedEmail | None:
        """``planned`` with its final kind, or None if a newer SEQUENCE was sent already."""
        history = await self.mail_log.for_recipient(planned.account_id, planned.meeting_id,
                                                    planned.recipient.email)
        if is_stale(planned, [entry["sequence"] for entry in history]):
            return None
        requests = [entry["sequence"] for entry in history if entry.get("method") == "REQUEST"]
        return replace(planned, kind=kind_for(planned, requests))

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

    async def deliver(self, planned: PlannedEmail,
                      meeting: MeetingSnapshot) -> DeliveryResult | None:
        """Send ``planned`` unless it was sent or failed for good before; None when it is
        stale (the recipient has a newer SEQUENCE)."""
        settled = await self.settle(planned)
        if settled is None:
            EMAILS_STALE.labels(kind=planned.kind).inc()
            logger.info("%s of meeting %s (sequence %s) is older than what was sent; skipped",
                        planned.kind, planned.meeting_id, planned.sequence)
            return None
        planned = settled
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
            message = "the recipient's address cannot be mailed"
            raised = await self._record(planned, lambda: delivery_failed(
                planned, reason=message, code=None, attempts=1, at=self.clock()), "failed")
            await self.mail_log.mark_failed(
                account_id, email_id, FailureReason.INVALID_ADDRESS, attempted=False,
                message=message, failed_at=self.clock())
            await self._publish(raised)
            EMAILS_FAILED.labels(kind=planned.kind, reason=FailureReason.INVALID_ADDRESS).inc()
            logger.warning("email %s of meeting %s not sent: invalid address",
                           email_id, planned.meeting_id)
            return DeliveryResult(email_id, MailState.FAILED, sent_now=False)

        message = self.composer.compose(planned, meeting, now=self.clock(), message_id=message_id)
        try:
            await self.mailer.send(message, sender=self.composer.sender.addr_spec,
                                   recipients=[recipient.addr_spec])
        except PermanentDeliveryError as exc:
            attempts = int((existing or {}).get("attempts", 0)) + 1
            rejection = exc  # bound for the callback (a lambda must not close over `exc`)
            raised = await self._record(planned, lambda: delivery_failed(
                planned, reason=rejection.reason, code=rejection.code, attempts=attempts,
                enhanced_status=rejection.enhanced_status, at=self.clock()), "failed")
            await self.mail_log.mark_failed(account_id, email_id, FailureReason.REJECTED,
                                            message=exc.reason, code=exc.code,
                                            failed_at=self.clock())
            await self._publish(raised)
            EMAILS_FAILED.labels(kind=planned.kind, reason=FailureReason.REJECTED).inc()
            logger.warning("email %s of meeting %s rejected by the mail server (%s)",
                           email_id, planned.meeting_id, exc.code)
            return DeliveryResult(email_id, MailState.FAILED, sent_now=False)
        except TransientDeliveryError as exc:
            EMAILS_FAILED.labels(kind=planned.kind, reason=FailureReason.TEMPORARY).inc()
            await self._note_temporary_failure(planned, exc)
            raise
        raised = await self._record(planned, lambda: invitation_sent(
            planned, meeting.ical_uid, message_id, at=self.clock()), "sent")
        await self.mail_log.mark_sent(account_id, email_id, self.clock())
        await self._publish(raised)
        EMAILS_SENT.labels(kind=planned.kind).inc()
        logger.info("email %s (%s) of meeting %s sent", email_id, planned.kind,
                    planned.meeting_id)
        return DeliveryResult(email_id, MailState.SENT, sent_now=True)

    async def _record(self, planned: PlannedEmail, build: Callable[[], Any],
                      outcome: str) -> dict[str, Any] | None:
        """Raise the event of an outcome before the mail log records it (so a crash in
        between retries the email and finds the event raised already)."""
        if self.events is None:
            return None
        try:
            event = build()
        except ValidationError:
            logger.warning("the event of email %s does not fit its schema; not raised",
                           planned.email_id, exc_info=True)
            return None
        if event is None:
            return None
        return await self.events.record(planned.account_id, f"{planned.email_id}:{outcome}",
                                        event, self.clock())

    async def _publish(self, raised: dict[str, Any] | None) -> None:
        if self.events is not None:
            await self.events.publish(raised)

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
