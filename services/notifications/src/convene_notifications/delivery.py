"""Sending planned emails at most once each: claim, compose, send, record.

For every :class:`~convene_notifications.domain.planning.PlannedEmail`:

0. look at what the recipient got for this meeting before: an email with a higher
   SEQUENCE makes this one stale (nothing sent); a REQUEST is an ``update`` if they had a
   REQUEST of a lower SEQUENCE, else their ``invitation``;
1. claim its mail-log entry (unique insert of ``_id`` = email id, state ``sending``);
   if it exists already and is ``sent`` or ``failed``, stop (never twice);
2. an address that cannot be mailed -> ``failed`` / ``invalid_address``, nothing sent;
3. compose and send, with the Message-ID derived from the key (the same on every try);
4. hand it to :class:`~convene_notifications.dispatch.Dispatcher`: ``sent`` on success,
   ``failed`` / ``rejected`` on a 5xx, ``retrying`` (the durable retry queue, worked by
   retries.py) on a transient failure, so the consumer commits and other mail never waits.

``InvitationSent`` (accepted) and ``EmailDeliveryFailed`` (5xx, an address that cannot be
mailed, or the last retry failed) are raised through
:class:`~convene_notifications.mail_events.MailEvents`.
Only the consumer holding the meeting's partition writes a meeting's entries, one event
at a time, so reading the history and then claiming never races.
"""

from __future__ import annotations

import logging
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

from convene_notifications.compose import Composer
from convene_notifications.dispatch import Outgoing, Sender, build_event
from convene_notifications.domain.join_link import as_if_link_settled
from convene_notifications.domain.mail_log import FailureReason, MailState, should_send
from convene_notifications.domain.planning import (
    PlannedEmail,
    is_stale,
    kind_for,
    plan_cancellations,
    plan_changes,
    plan_invitations,
    waits_for_join_link,
)
from convene_notifications.mail_events import EmailRef, invitation_sent

logger = logging.getLogger(__name__)

EMAILS_STALE = Counter("convene_emails_stale_total",
                       "Emails not sent because the recipient already got a newer SEQUENCE.",
                       ["kind"])


@dataclass(frozen=True)
class DeliveryResult:
    """What became of one planned email in this call."""

    email_id: str
    state: MailState
    sent_now: bool


class Deliveries(Sender[Composer]):
    """Delivers the emails that meeting events call for."""

    async def send_invitations(self, meeting: MeetingScheduled) -> list[DeliveryResult]:
        """Invite every invited attendee of a newly scheduled meeting (once each)."""
        return await self._deliver_all(plan_invitations(meeting), meeting)

    async def send_updates(self, change: MeetingChange) -> list[DeliveryResult]:
        """An edit: updates to current attendees, cancellations to removed ones."""
        if waits_for_join_link(change):
            settled = as_if_link_settled(change)
            return await self._deliver_all(await self._already_invited(plan_changes(settled)),
                                           settled)
        return await self._deliver_all(plan_changes(change), change)

    async def send_cancellations(self, meeting: MeetingCanceled) -> list[DeliveryResult]:
        """A canceled meeting: METHOD:CANCEL to every invited attendee."""
        if waits_for_join_link(meeting):
            settled = as_if_link_settled(meeting)
            return await self._deliver_all(
                await self._already_invited(plan_cancellations(settled)), settled)
        return await self._deliver_all(plan_cancellations(meeting), meeting)

    async def send_without_link(self, meeting: MeetingSnapshot) -> list[DeliveryResult]:
        """The join-link fallback: the invitations of a meeting still waiting for its link
        (``domain.join_link``); a recipient who has one already gets nothing."""
        settled = as_if_link_settled(meeting)
        return await self._deliver_all(plan_invitations(settled), settled)  # type: ignore[arg-type]

    async def _already_invited(self, planned: list[PlannedEmail]) -> list[PlannedEmail]:
        """While the join link is pending, only recipients who got a REQUEST (the
        invitation without the link) hear of later changes."""
        kept = []
        for email in planned:
            history = await self.mail_log.for_recipient(email.account_id, email.meeting_id,
                                                        email.recipient.email)
            if any(entry.get("method") == "REQUEST" for entry in history):
                kept.append(email)
        return kept

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
        ref = EmailRef.of(planned)
        if recipient is None:
            await self.dispatcher.fail(ref, FailureReason.INVALID_ADDRESS,
                                       "the recipient's address cannot be mailed", attempts=0)
            return DeliveryResult(email_id, MailState.FAILED, sent_now=False)
        message = self.composer.compose(planned, meeting, now=self.clock(), message_id=message_id)
        sent_event = build_event(lambda: invitation_sent(
            planned, meeting.ical_uid, message_id, at=self.clock()), email_id)
        outgoing = Outgoing(ref=ref, raw=message.as_bytes(),
                            sender=self.composer.sender.addr_spec,
                            recipient=recipient.addr_spec, sent_event=sent_event)
        state = await self.dispatcher.attempt(
            outgoing, attempts_before=int((existing or {}).get("attempts", 0)))
        return DeliveryResult(email_id, state, sent_now=state is MailState.SENT)
