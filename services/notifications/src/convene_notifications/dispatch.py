"""One attempt at handing a claimed email to the mail server, and its outcome written down.

Every kind of email (invitations, updates, cancellations, reminders) goes through
:meth:`Dispatcher.attempt` once it is claimed in the mail log and composed:

* accepted -> the "sent" event is raised (``mail_events`` outbox), the entry becomes
  ``sent``, the event is published;
* 5xx -> ``EmailDeliveryFailed`` (permanent) is raised, the entry becomes ``failed`` /
  ``rejected``; never retried;
* a transient failure (4xx, no connection, timeout) -> the entry becomes ``retrying`` with
  the exact bytes of the message, its envelope and the "sent" event to raise later, and
  ``next_attempt_at`` from :class:`~convene_notifications.domain.retries.RetryPolicy`; the
  caller moves on (the consumer commits: other mail never waits). After the last allowed
  attempt -> ``failed`` / ``temporary_failure`` and ``EmailDeliveryFailed`` with the last
  error.

The retry worker (retries.py) calls :meth:`Dispatcher.attempt` again with what the entry
kept, so the Message-ID, envelope sender and recipient never change between attempts.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from convene_kit.clock import utc_now
from convene_schemas.base import Event
from prometheus_client import Counter, Histogram
from pydantic import ValidationError

from convene_notifications.domain.mail_log import FailureReason, MailState
from convene_notifications.domain.retries import RetryPolicy
from convene_notifications.mail_events import (
    EmailRef,
    MailEvents,
    failure_event,
    restored_event,
    stored_event,
)
from convene_notifications.mailer import (
    DeliveryError,
    Mailer,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from convene_notifications.store import MailLog

logger = logging.getLogger(__name__)

EMAILS_SENT = Counter("convene_emails_sent_total", "Emails the mail server accepted.", ["kind"])
EMAILS_FAILED = Counter("convene_emails_failed_total",
                        "Email attempts that failed, by reason (temporary ones are retried).",
                        ["kind", "reason"])
SEND_SECONDS = Histogram("convene_email_send_seconds",
                         "How long handing one email to the SMTP server took (any outcome).",
                         ["kind"])
EMAIL_ATTEMPTS = Counter("convene_email_attempts_total",
                         "SMTP attempts by outcome: sent, rejected, retrying, gave_up.",
                         ["kind", "outcome"])


def build_event(build: Callable[[], Event | None], email_id: str) -> Event | None:
    """``build()``, or None when the event does not fit its schema (logged, not raised)."""
    try:
        return build()
    except ValidationError:
        logger.warning("the event of email %s does not fit its schema; not raised", email_id,
                       exc_info=True)
        return None


@dataclass(frozen=True)
class Outgoing:
    """A claimed, composed email: its exact bytes, its envelope and its "sent" event."""

    ref: EmailRef
    raw: bytes
    sender: str
    recipient: str
    sent_event: Event | None = None

    def retry_document(self) -> dict[str, Any]:
        """What the mail-log entry keeps while the email is on the retry queue."""
        return {"raw": self.raw, "sender": self.sender, "recipient": self.recipient,
                "kind": self.ref.kind, "recipient_email": self.ref.recipient_email,
                "meeting_id": self.ref.meeting_id, "sent_event": stored_event(self.sent_event)}

    @classmethod
    def from_entry(cls, entry: dict[str, Any], at: datetime) -> Outgoing:
        """The email a ``retrying`` entry keeps, its "sent" event dated ``at``."""
        retry = entry["retry"]
        ref = EmailRef(entry["account_id"], entry["_id"], retry["kind"],
                       retry["recipient_email"], retry.get("meeting_id"))
        return cls(ref=ref, raw=bytes(retry["raw"]), sender=retry["sender"],
                   recipient=retry["recipient"],
                   sent_event=restored_event(retry.get("sent_event"), at))


class Dispatcher:
    """Sends claimed emails and records what became of each attempt."""

    def __init__(self, mail_log: MailLog, mailer: Mailer, *, events: MailEvents | None = None,
                 policy: RetryPolicy | None = None,
                 clock: Callable[[], datetime] = utc_now,
                 draw: Callable[[], float] = random.random) -> None:
        self.mail_log = mail_log
        self.mailer = mailer
        self.events = events
        self.policy = policy or RetryPolicy()
        self.clock = clock
        self.draw = draw

    async def attempt(self, outgoing: Outgoing, *, attempts_before: int) -> MailState:
        """One attempt; returns the entry's state after it (``sent``, ``retrying`` or
        ``failed``). Only the holder of the entry's claim (or of the attempt's lease) calls
        this, so its writes to the entry never race."""
        ref, attempts = outgoing.ref, attempts_before + 1
        try:
            with SEND_SECONDS.labels(kind=ref.kind).time():
                await self.mailer.send(outgoing.raw, sender=outgoing.sender,
                                       recipients=[outgoing.recipient])
        except PermanentDeliveryError as exc:
            EMAIL_ATTEMPTS.labels(kind=ref.kind, outcome="rejected").inc()
            await self.fail(ref, FailureReason.REJECTED, exc, attempts=attempts)
            return MailState.FAILED
        except TransientDeliveryError as exc:
            EMAILS_FAILED.labels(kind=ref.kind, reason=FailureReason.TEMPORARY).inc()
            if self.policy.gives_up(attempts):
                EMAIL_ATTEMPTS.labels(kind=ref.kind, outcome="gave_up").inc()
                await self.fail(ref, FailureReason.TEMPORARY, exc, attempts=attempts)
                return MailState.FAILED
            EMAIL_ATTEMPTS.labels(kind=ref.kind, outcome="retrying").inc()
            now = self.clock()
            next_at = self.policy.next_attempt_at(now, attempts, self.draw())
            await self.mail_log.schedule_retry(
                ref.account_id, ref.email_id, retry=outgoing.retry_document(),
                message=exc.reason, code=exc.code, at=now, next_attempt_at=next_at)
            logger.info("email %s (%s) failed temporarily (%s, attempt %s); retrying at %s",
                        ref.email_id, ref.kind, exc.code, attempts, next_at.isoformat())
            return MailState.RETRYING
        EMAIL_ATTEMPTS.labels(kind=ref.kind, outcome="sent").inc()
        raised = await self._raise(ref, "sent", outgoing.sent_event)
        await self.mail_log.mark_sent(ref.account_id, ref.email_id, self.clock())
        await self._publish(raised)
        EMAILS_SENT.labels(kind=ref.kind).inc()
        logger.info("email %s (%s) sent after %s attempt(s)", ref.email_id, ref.kind, attempts)
        return MailState.SENT

    async def fail(self, ref: EmailRef, reason: FailureReason, error: DeliveryError | str, *,
                   attempts: int) -> None:
        """The email will never be delivered: raise ``EmailDeliveryFailed``, then mark the
        entry ``failed`` (``attempts`` 0: nothing was handed to the server)."""
        message = error if isinstance(error, str) else error.reason
        code = None if isinstance(error, str) else error.code
        enhanced = None if isinstance(error, str) else error.enhanced_status
        now = self.clock()
        event = build_event(lambda: failure_event(
            ref, reason=message, code=code, attempts=attempts, at=now,
            enhanced_status=enhanced), ref.email_id)
        raised = await self._raise(ref, "failed", event)
        await self.mail_log.mark_failed(ref.account_id, ref.email_id, reason, message=message,
                                        code=code, failed_at=now, attempted=attempts > 0)
        await self._publish(raised)
        EMAILS_FAILED.labels(kind=ref.kind, reason=reason).inc()
        logger.warning("email %s (%s) failed for good: %s %s", ref.email_id, ref.kind,
                       reason.value, code or "")

    async def _raise(self, ref: EmailRef, outcome: str,
                     event: Event | None) -> dict[str, Any] | None:
        """Record the outcome's event before the mail log does (a crash in between finds
        it raised already: ``<email id>:<outcome>`` is a unique insert)."""
        if self.events is None or event is None:
            return None
        return await self.events.record(ref.account_id, f"{ref.email_id}:{outcome}", event,
                                        self.clock())

    async def _publish(self, raised: dict[str, Any] | None) -> None:
        if self.events is not None:
            await self.events.publish(raised)


C = TypeVar("C")


class Sender(Generic[C]):
    """What every sender of emails (meeting emails, reminders, owner emails) holds: the mail
    log, the mailer, its composer, the mail events, the clock and the dispatcher that sends
    claimed emails through the retry queue."""

    def __init__(self, mail_log: MailLog, mailer: Mailer, composer: C, *,
                 events: MailEvents | None = None, dispatcher: Dispatcher | None = None,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.mail_log = mail_log
        self.mailer = mailer
        self.composer = composer
        self.events = events
        self.clock = clock
        self.dispatcher = dispatcher or Dispatcher(mail_log, mailer, events=events, clock=clock)
