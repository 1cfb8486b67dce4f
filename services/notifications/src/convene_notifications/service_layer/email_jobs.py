"""The one way an email goes out, whatever its kind: claim -> compose -> dispatch.

Invitations, updates and cancellations (``meeting_emails``), reminders (``reminders``) and
the page owner's emails (``owner_emails``) are planners: each decides which emails an
event calls for and hands every one to :meth:`EmailPipeline.send` as an :class:`EmailJob`
(its mail-log entry, the address, how to compose it, the event to raise once it is sent).
The pipeline then, for every kind alike:

1. claims the email: inserts its mail-log entry (``domain.mail_log.MailEntry``, a unique
   insert); an entry that exists already is sent again only by the path that claimed it,
   and only while it is ``sending`` (``domain.mail_log.should_send``), so never twice;
2. an address that cannot be mailed -> ``failed`` / ``invalid_address``, attempts 0 and
   ``EmailDeliveryFailed``, nothing composed or sent (the one failure rule);
3. composes the message with the Message-ID derived from the email id (the same on every
   try) and hands it to the :class:`~convene_notifications.service_layer.dispatch.Dispatcher`:
   ``sent`` (+ the job's event), ``failed`` / ``rejected`` on a 5xx, ``retrying`` (the
   durable retry queue, ``retry_worker``) on a transient failure.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage

from convene_kit.clock import Clock, utc_now
from convene_schemas.base import Event

from convene_notifications.domain.mail_log import FailureReason, MailEntry, MailState, should_send
from convene_notifications.service_layer.dispatch import (
    Dispatcher,
    EmailRef,
    Outgoing,
    build_event,
)
from convene_notifications.store import MailLog

logger = logging.getLogger(__name__)

Compose = Callable[[str, datetime], EmailMessage]
"""Builds the message from its Message-ID and the time of sending."""

SentEvent = Callable[[str, datetime], Event]
"""Builds the event raised once the server accepted the message (Message-ID, time)."""


@dataclass(frozen=True)
class EmailJob:
    """One email a planner wants sent at most once."""

    entry: MailEntry
    address: Address | None  # None: the recipient's address cannot be mailed
    compose: Compose
    sent_event: SentEvent | None = None

    @property
    def ref(self) -> EmailRef:
        """What the email's events name."""
        entry = self.entry
        return EmailRef(entry.account_id, entry.email_id, entry.kind, entry.recipient,
                        entry.meeting_id)


@dataclass(frozen=True)
class SendResult:
    """What became of one job in this call. ``elsewhere``: another path claimed the email
    and is sending it (it also retries it if it must)."""

    email_id: str
    state: MailState
    sent_now: bool
    elsewhere: bool = False


class EmailPipeline:
    """Claims, composes and dispatches the emails every planner hands it."""

    def __init__(self, mail_log: MailLog, dispatcher: Dispatcher, *,
                 envelope_sender: str, clock: Clock = utc_now) -> None:
        self.mail_log = mail_log
        self.dispatcher = dispatcher
        self.envelope_sender = envelope_sender
        self.clock = clock

    async def send(self, job: EmailJob) -> SendResult:
        """Send ``job``'s email unless it was sent or failed for good before, or another
        path holds its claim."""
        entry = job.entry
        existing = await self.mail_log.claim(entry, self.clock())
        if not should_send(existing, entry.claimed_by):
            assert existing is not None
            state = MailState(existing["state"])
            elsewhere = state is MailState.SENDING
            logger.info("email %s (%s) is already %s%s; not sending it", entry.email_id,
                        entry.kind, state.value, " by another path" if elsewhere else "")
            return SendResult(entry.email_id, state, sent_now=False, elsewhere=elsewhere)
        message_id = existing["message_id"] if existing else entry.message_id
        ref = job.ref
        if job.address is None:
            await self.dispatcher.fail(ref, FailureReason.INVALID_ADDRESS,
                                       "the recipient's address cannot be mailed", attempts=0)
            return SendResult(entry.email_id, MailState.FAILED, sent_now=False)
        now = self.clock()
        message = job.compose(message_id, now)
        build = job.sent_event
        sent_event = None if build is None else build_event(lambda: build(message_id, now),
                                                            entry.email_id)
        outgoing = Outgoing(ref=ref, raw=message.as_bytes(), sender=self.envelope_sender,
                            recipient=job.address.addr_spec, sent_event=sent_event)
        state = await self.dispatcher.attempt(
            outgoing, attempts_before=int((existing or {}).get("attempts", 0)))
        return SendResult(entry.email_id, state, sent_now=state is MailState.SENT)
