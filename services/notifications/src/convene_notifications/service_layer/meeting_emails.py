"""The emails of meeting events: invitations, updates and cancellations (R14, R21, R42).

For every :class:`~convene_notifications.domain.planning.PlannedEmail` an event calls for
(``domain.planning``), look at what the recipient got for this meeting before: an email
with a higher SEQUENCE makes this one stale (nothing sent); a REQUEST is an ``update`` if
they had a REQUEST of a lower SEQUENCE, else their ``invitation``. What is left becomes
one :class:`~convene_notifications.service_layer.email_jobs.EmailJob` for the email
pipeline (claim, compose with the .ics, dispatch), which raises ``InvitationSent`` once
the server accepted it and ``EmailDeliveryFailed`` when it never will be.

Only the consumer holding the meeting's partition writes a meeting's entries, one event
at a time, so reading the history and then claiming never races.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from email.message import EmailMessage

from convene_kit.clock import Clock, utc_now
from convene_schemas.events.meetings import (
    MeetingCanceled,
    MeetingChange,
    MeetingScheduled,
    MeetingSnapshot,
)
from convene_schemas.events.notifications import InvitationSent
from convene_schemas.events.notifications import Recipient as RecipientModel
from prometheus_client import Counter

from convene_notifications.composers import MeetingComposer
from convene_notifications.domain.join_link import as_if_link_settled
from convene_notifications.domain.mail_log import MailEntry
from convene_notifications.domain.planning import (
    PlannedEmail,
    is_stale,
    kind_for,
    plan_cancellations,
    plan_changes,
    plan_invitations,
    waits_for_join_link,
)
from convene_notifications.service_layer.email_jobs import EmailJob, EmailPipeline, SendResult
from convene_notifications.store import MailLog

logger = logging.getLogger(__name__)

EMAILS_STALE = Counter("convene_emails_stale_total",
                       "Emails not sent because the recipient already got a newer SEQUENCE.",
                       ["kind"])


def invitation_sent(planned: PlannedEmail, ical_uid: str, message_id: str, *,
                    at: datetime) -> InvitationSent:
    """The event of an invitation, update or cancellation the server accepted."""
    person = planned.recipient
    return InvitationSent(
        account_id=planned.account_id, version=0, occurred_at=at, email_id=planned.email_id,
        meeting_id=planned.meeting_id, ical_uid=ical_uid, kind=planned.kind,
        method=planned.method, sequence=planned.sequence,
        recipient=RecipientModel(kind=person.kind, id=person.id, email=person.email,
                                 time_zone=person.time_zone, language=person.language),
        message_id=message_id)


class MeetingEmails:
    """Sends the emails that meeting events call for."""

    def __init__(self, mail_log: MailLog, pipeline: EmailPipeline, composer: MeetingComposer,
                 *, clock: Clock = utc_now) -> None:
        self.mail_log = mail_log
        self.pipeline = pipeline
        self.composer = composer
        self.clock = clock

    async def send_invitations(self, meeting: MeetingScheduled) -> list[SendResult]:
        """Invite every invited attendee of a newly scheduled meeting (once each)."""
        return await self._deliver_all(plan_invitations(meeting), meeting)

    async def send_updates(self, change: MeetingChange) -> list[SendResult]:
        """An edit: updates to current attendees, cancellations to removed ones."""
        if waits_for_join_link(change):
            settled = as_if_link_settled(change)
            return await self._deliver_all(await self._already_invited(plan_changes(settled)),
                                           settled)
        return await self._deliver_all(plan_changes(change), change)

    async def send_cancellations(self, meeting: MeetingCanceled) -> list[SendResult]:
        """A canceled meeting: METHOD:CANCEL to every invited attendee."""
        if waits_for_join_link(meeting):
            settled = as_if_link_settled(meeting)
            return await self._deliver_all(
                await self._already_invited(plan_cancellations(settled)), settled)
        return await self._deliver_all(plan_cancellations(meeting), meeting)

    async def send_without_link(self, meeting: MeetingSnapshot) -> list[SendResult]:
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
                           meeting: MeetingSnapshot) -> list[SendResult]:
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

    def job(self, planned: PlannedEmail, meeting: MeetingSnapshot) -> EmailJob:
        """The email job of a settled planned email."""
        entry = MailEntry(
            email_id=planned.email_id, account_id=planned.account_id, kind=planned.kind,
            recipient=planned.recipient.email, recipient_kind=planned.recipient.kind,
            recipient_id=planned.recipient.id,
            message_id=planned.message_id(self.composer.message_id_domain),
            meeting_id=planned.meeting_id, ical_uid=meeting.ical_uid, method=planned.method,
            sequence=planned.sequence)

        def compose(message_id: str, now: datetime) -> EmailMessage:
            return self.composer.compose(planned, meeting, now=now, message_id=message_id)

        def sent(message_id: str, now: datetime) -> InvitationSent:
            return invitation_sent(planned, meeting.ical_uid, message_id, at=now)

        return EmailJob(entry=entry, address=planned.recipient.address, compose=compose,
                        sent_event=sent)

    async def deliver(self, planned: PlannedEmail,
                      meeting: MeetingSnapshot) -> SendResult | None:
        """Send ``planned`` unless it was sent or failed for good before; None when it is
        stale (the recipient has a newer SEQUENCE)."""
        settled = await self.settle(planned)
        if settled is None:
            EMAILS_STALE.labels(kind=planned.kind).inc()
            logger.info("%s of meeting %s (sequence %s) is older than what was sent; skipped",
                        planned.kind, planned.meeting_id, planned.sequence)
            return None
        return await self.pipeline.send(self.job(settled, meeting))
