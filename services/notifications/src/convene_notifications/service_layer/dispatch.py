"""One attempt at handing a claimed email to the mail server, and its outcome written down.

Every kind of email (invitations, updates, cancellations, reminders, the owner's emails)
goes through :meth:`Dispatcher.attempt` once the email pipeline (``email_jobs``) claimed it
in the mail log and composed it:

* accepted -> the "sent" event is raised (the ``mail_events`` outbox, ``store.MailEvents``),
  the entry becomes ``sent``, the event is published;
* 5xx -> ``EmailDeliveryFailed`` (permanent) is raised, the entry becomes ``failed`` /
  ``rejected``; never retried;
* a transient failure (4xx, no connection, timeout) -> the entry becomes ``retrying`` with
  the exact bytes of the message, its envelope and the "sent" event to raise later, and
  ``next_attempt_at`` from :class:`~convene_notifications.domain.retry_policy.RetryPolicy`; the
  caller moves on (the consumer commits: other mail never waits). After the last allowed
  attempt -> ``failed`` / ``temporary_failure`` and ``EmailDeliveryFailed`` with the last
  error.

The retry worker (``retry_worker``) calls :meth:`Dispatcher.attempt` again with what the
entry kept, so the Message-ID, envelope sender and recipient never change between attempts.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from convene_kit.clock import Clock, utc_now
from convene_kit.store import until_written
from convene_schemas.base import Event, event_class
from convene_schemas.events.notifications import EmailDeliveryFailed
from prometheus_client import Counter, Histogram
from pydantic import ValidationError

from convene_notifications.domain.mail_log import FailureReason, MailState
from convene_notifications.domain.retry_policy import RetryPolicy
from convene_notifications.mailer import (
    DeliveryError,
    Mailer,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from convene_notifications.store import MailEvents, MailLog

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
class EmailRef:
    """What the events about one email name: whose it is, which one, to whom."""

    account_id: str
    email_id: str
    kind: str
    recipient_email: str
    meeting_id: str | None = None


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

    def __init__(self, mail_log: MailLog, mailer: Mailer, events: MailEvents, *,
                 policy: RetryPolicy, clock: Clock = utc_now,
                 draw: Callable[[], float] = random.random) -> None:
        self.mail_log = mail_log
        self.mailer = mailer
        self.events = events
        self.policy = policy
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
                message=exc.reason, code=exc.code, at=now, next_attempt_at=next_at,
                attempts=attempts)
            logger.info("email %s (%s) failed temporarily (%s, attempt %s); retrying at %s",
                        ref.email_id, ref.kind, exc.code, attempts, next_at.isoformat())
            return MailState.RETRYING
        EMAIL_ATTEMPTS.labels(kind=ref.kind, outcome="sent").inc()
        # The server has the email: its outcome must be written, or a retry of the whole
        # step would send it again. A store that does not answer in time is waited for.
        sent_at = self.clock()
        raised = await until_written(lambda: self._raise(ref, "sent", outgoing.sent_event),
                                     what=f"the sent event of email {ref.email_id}")
        await until_written(lambda: self.mail_log.mark_sent(ref.account_id, ref.email_id,
                                                            sent_at, attempts=attempts),
                            what=f"email {ref.email_id} as sent")
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
                                        code=code, failed_at=now, attempts=attempts)
        await self._publish(raised)
        EMAILS_FAILED.labels(kind=ref.kind, reason=reason).inc()
        logger.warning("email %s (%s) failed for good: %s %s", ref.email_id, ref.kind,
                       reason.value, code or "")

    async def _raise(self, ref: EmailRef, outcome: str,
                     event: Event | None) -> dict[str, Any] | None:
        """Record the outcome's event before the mail log does (a crash in between finds
        it raised already: ``<email id>:<outcome>`` is a unique insert)."""
        if event is None:
            return None
        return await self.events.record(ref.account_id, f"{ref.email_id}:{outcome}", event,
                                        self.clock())

    async def _publish(self, raised: dict[str, Any] | None) -> None:
        await self.events.publish(raised)
