"""The durable retry queue of temporarily failed emails, worked by every replica.

A transient SMTP failure (4xx, no connection, timeout) never holds up the consumer: the
:class:`~convene_notifications.service_layer.dispatch.Dispatcher` turns the mail-log entry into
``retrying`` with the exact bytes of the message, its envelope, ``attempts``, the last
``error`` and ``next_attempt_at`` (exponential backoff with jitter, capped), and the
consumer commits and moves on.

:class:`RetryWorker` (a ServiceRuntime background task of every replica) reads a bounded
batch of due entries every ``interval_s`` and, for each one, **leases the attempt**: a
unique insert of ``retry:<email id>:<attempts>#<window>`` in ``leases`` (the kit's
:meth:`~convene_kit.claims.Claims.lease`, its windows shifted to start when the attempt
falls due), so two replicas never make the same attempt. The
holder re-reads the entry (still ``retrying`` with the same ``attempts``, else someone
finished it) and tries once, only while at least ``send_margin_s`` of its lease is left, so
the outcome is written before anyone else may lease that attempt again. Outcomes:
``sent`` (+ the stored "sent" event), ``failed`` (5xx, or the last attempt failed;
``EmailDeliveryFailed``), or ``retrying`` again with ``attempts`` + 1.

The one at-least-once window: a crash after the server accepted the message and before
``sent`` was written; the attempt's lease then expires and the next holder sends it again,
with the same Message-ID (mail clients drop the duplicate).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from convene_kit.claims import Claims
from convene_kit.clock import Clock, as_utc, utc_now
from convene_kit.periodic import every
from convene_kit.store import IndexSpec
from prometheus_client import Gauge

from convene_notifications.domain.mail_log import MailState
from convene_notifications.service_layer.dispatch import Dispatcher, Outgoing
from convene_notifications.store import MailLog

logger = logging.getLogger(__name__)

LEASES = "leases"
LEASE_INDEXES: list[IndexSpec] = [
    IndexSpec(collection=LEASES, keys=[("claimed_at", 1)], name="claimed_at"),
]

RETRIES_PENDING = Gauge("convene_email_retries_pending",
                        "Emails waiting on the retry queue (state retrying), all accounts.")

_PRUNE_EVERY = 1000  # rounds between prunings of old leases
_GAUGE_EVERY = 10  # rounds between counts of the queue (a scan of the mail log)


def attempt_key(email_id: str, attempts: int) -> str:
    """The lease key of the next attempt of an email that failed ``attempts`` times."""
    return f"retry:{email_id}:{attempts}"


class RetryWorker:
    """Sends due retries; run by every replica, each attempt made by one of them."""

    def __init__(self, mail_log: MailLog, dispatcher: Dispatcher, leases: Claims, *,
                 interval_s: float = 1.0, batch_size: int = 50, lease_s: float = 300.0,
                 send_margin_s: float = 90.0,
                 clock: Clock = utc_now) -> None:
        self.mail_log = mail_log
        self.dispatcher = dispatcher
        self.leases = leases
        self.interval_s = interval_s
        self.batch_size = batch_size
        self.lease = timedelta(seconds=lease_s)
        self.send_margin = timedelta(seconds=min(send_margin_s, lease_s / 2))
        self.clock = clock
        self._rounds = 0

    async def retry_due(self) -> int:
        """Try every due retry of one bounded batch; returns how many this replica tried."""
        tried = 0
        for entry in await self.mail_log.due_retries(self.clock(), self.batch_size):
            if await self.retry(entry):
                tried += 1
        if self._rounds % _GAUGE_EVERY == 0:
            RETRIES_PENDING.set(await self.mail_log.retries_pending())
        self._rounds += 1
        if self._rounds % _PRUNE_EVERY == 0:
            await self.leases.prune(timedelta(days=1))
        return tried

    async def retry(self, listed: dict[str, Any]) -> bool:
        """Lease the entry's next attempt and make it; False when another replica holds it,
        finished it, or too little of the lease is left to be sure of writing the outcome."""
        account_id, email_id = listed["account_id"], listed["_id"]
        attempts = int(listed.get("attempts", 0))
        # The kit's lease windows are aligned to the epoch; shifting them by the attempt's
        # due time (stored, so every replica shifts alike) starts the first window when
        # the attempt falls due, so its holder has (nearly) the whole window to send.
        shift = timedelta(seconds=as_utc(listed["next_attempt_at"]).timestamp()
                          % self.lease.total_seconds())
        lease = await self.leases.lease(attempt_key(email_id, attempts), self.lease,
                                        now=self.clock() - shift)
        if lease is None:
            return False
        entry = await self.mail_log.get(account_id, email_id)
        if (entry is None or entry.get("state") != MailState.RETRYING
                or int(entry.get("attempts", 0)) != attempts):
            return False  # finished (or moved on) since it was listed
        if self.clock() + self.send_margin >= lease.expires_at + shift:
            return False  # the next window's holder makes this attempt
        await self.dispatcher.attempt(Outgoing.from_entry(entry, self.clock()),
                                      attempts_before=attempts)
        return True

    async def run(self, stopping: asyncio.Event) -> None:
        """The background loop (ServiceRuntime ``background``)."""
        await every(self.interval_s, stopping, self.retry_due, what="the email retry sweep")
