"""Reminders (R10, R43): timers from meeting events, their firing exactly once across
replicas, and the reminder email.

1. **Timers** (:class:`ReminderPlanner`, called by the meeting consumer): each meeting
   event records the meeting's newest version (``read_models.MeetingVersions``) and
   replaces its ``reminder`` timers (:func:`~convene_notifications.domain.reminders.plan_timers`);
   a cancellation drops every timer of the meeting. A meeting waiting for its video link
   also gets a ``join_link_fallback`` timer (``service_layer.join_link``).
2. **Firing** (:class:`ReminderFiring`, the ``reminder`` kind of the durable timers'
   scheduler, ``convene_kit.timers``): INSERTS the fire claim ``fired:<timer id>``
   carrying the ``ReminderDue`` events (one per recipient) in its outbox. The unique insert
   is atomic on FerretDB, so exactly one replica wins; the events are in the same write, so
   a crash before publishing loses nothing (the outbox relay sweeps ``reminder_fires``).
   The winner publishes them and deletes the timer. A timer fired later than due (e.g. the
   service was down) is counted in ``convene_reminder_lateness_seconds``.
3. **The email** (:class:`ReminderEmails`, on our own ``ReminderDue``): judged by the
   meeting's CURRENT state, not the timer's version (``domain.reminders.wanted_recipient``):
   nothing when it is canceled, moved, the offset or the recipient is gone; else one
   :class:`~convene_notifications.service_layer.email_jobs.EmailJob` for the email
   pipeline, ``_id`` from the key (account, meeting, address, ``reminder:<reminder id>``,
   start epoch seconds), so a duplicate ReminderDue or the same reminder due under two
   versions never sends twice, composed with the current details in the recipient's
   language and time zone (the contact's, else the meeting's); ``ReminderSent`` once
   accepted.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from convene_kit.clock import Clock, as_utc, utc_now
from convene_kit.kafka import EventPublisher
from convene_kit.outbox import Outbox, outbox_entries
from convene_kit.timers import Timers
from convene_schemas.events.common import ReminderOffset
from convene_schemas.events.meetings import MeetingCanceled, MeetingSnapshot
from convene_schemas.events.notifications import Recipient as RecipientModel
from convene_schemas.events.notifications import ReminderDue, ReminderSent, reminder_id_for
from prometheus_client import Counter, Histogram

from convene_notifications.composers import ReminderComposer
from convene_notifications.domain.join_link import fallback_timer_id, plan_fallback
from convene_notifications.domain.mail_log import MailEntry
from convene_notifications.domain.planning import (
    Recipient,
    email_id_for,
    email_key,
    message_id_for,
    waits_for_join_link,
)
from convene_notifications.domain.reminders import (
    REMINDER,
    PlannedTimer,
    fire_claim_id,
    plan_timers,
    wanted_recipient,
)
from convene_notifications.read_models import MeetingVersions
from convene_notifications.service_layer.email_jobs import EmailJob, EmailPipeline, SendResult
from convene_notifications.service_layer.join_link import fallback_document
from convene_notifications.timer_store import FireClaims, MeetingTimers

logger = logging.getLogger(__name__)

REMINDERS_FIRED = Counter("convene_reminders_fired_total", "Reminder timers fired.")
REMINDERS_STALE = Counter("convene_reminders_stale_total",
                          "Due reminders not sent: meeting canceled or changed since.")
REMINDER_LATENESS = Histogram("convene_reminder_lateness_seconds",
                              "How late a reminder timer fired after its due time.",
                              buckets=(0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 86400))


class ReminderPlanner:
    """Keeps each meeting's timers in step with its newest version."""

    def __init__(self, timers: MeetingTimers, versions: MeetingVersions, *,
                 join_link_wait_s: float = 600.0) -> None:
        self.timers = timers
        self.versions = versions
        self.join_link_wait_s = join_link_wait_s

    async def on_meeting(self, meeting: MeetingSnapshot) -> None:
        canceled = isinstance(meeting, MeetingCanceled)
        kept, previous = await self.versions.record(meeting, canceled=canceled)
        if not kept:
            return  # an older event arriving late changes nothing
        if canceled:
            await self.timers.drop(meeting.meeting_id)  # the join-link fallback too
            return
        # A meeting seen for the first time has no timers to drop (two store writes saved
        # on every new meeting); a redelivery finds its own version kept and drops as usual.
        # A timer of an older version that was due before this version happened stays: this
        # version plans nothing for a due time already past, and dropping that timer before
        # it fired (the service down at the due time, or behind) would lose the reminder.
        first = previous is None
        await self.timers.replace(meeting.meeting_id, REMINDER, meeting.version,
                                  [timer_document(timer) for timer in plan_timers(meeting)],
                                  first=first, keep_due_by=meeting.occurred_at)
        fallback = plan_fallback(meeting, self.join_link_wait_s)
        if fallback is not None:
            await self.timers.add(fallback_document(fallback))
        elif not first and not waits_for_join_link(meeting):  # the link came
            await self.timers.delete(fallback_timer_id(meeting.meeting_id))


def timer_document(timer: PlannedTimer) -> dict[str, Any]:
    """The stored form of a planned reminder timer."""
    return {
        "_id": timer.timer_id, "kind": REMINDER, "account_id": timer.account_id,
        "meeting_id": timer.meeting_id, "meeting_version": timer.meeting_version,
        "due_at": timer.due_at, "meeting_start": timer.meeting_start,
        "offset": timer.offset.model_dump(mode="json"),
        "recipients": [{"kind": r.kind, "id": r.id, "email": r.email, "name": r.name,
                        "language": r.language, "time_zone": r.time_zone}
                       for r in timer.recipients],
    }


def reminder_events(timer: dict[str, Any], now: datetime) -> list[ReminderDue]:
    """The ``ReminderDue`` of each recipient of a fired timer."""
    events = []
    for person in timer["recipients"]:
        minutes = _offset_minutes(timer)
        events.append(ReminderDue(
            account_id=timer["account_id"], version=0, occurred_at=now,
            reminder_id=reminder_id_for(timer["meeting_id"], person["kind"], person["id"],
                                        minutes),
            meeting_id=timer["meeting_id"], meeting_version=timer["meeting_version"],
            recipient=RecipientModel(kind=person["kind"], id=person["id"],
                                     email=person["email"], time_zone=person["time_zone"],
                                     language=person["language"]),
            offset=timer["offset"], due_at=as_utc(timer["due_at"]),
            meeting_start=as_utc(timer["meeting_start"])))
    return events


def _offset_minutes(timer: dict[str, Any]) -> int:
    return ReminderOffset.model_validate(timer["offset"]).minutes()


class ReminderFiring:
    """The ``reminder`` timer kind: publishes the ``ReminderDue`` of each recipient, once
    across replicas."""

    def __init__(self, timers: Timers, claims: FireClaims, publisher: EventPublisher, *,
                 collection: Any, clock: Clock = utc_now) -> None:
        self.timers = timers
        self.claims = claims
        self.collection = collection  # ``reminder_fires``, for publishing a claim's outbox
        self.outbox = Outbox(publisher)
        self.clock = clock

    async def fire(self, timer: dict[str, Any]) -> bool:
        """Claim the timer with its events, publish them, delete the timer."""
        now = self.clock()
        claim = await self.claims.claim(
            {"_id": fire_claim_id(timer["_id"]), "claimed_at": now,
             "account_id": timer["account_id"], "meeting_id": timer["meeting_id"]},
            outbox_entries(reminder_events(timer, now)))
        if claim is None:
            await self.timers.delete(timer["_id"])  # fired by another replica
            return False
        REMINDERS_FIRED.inc()
        REMINDER_LATENESS.observe(max(0.0, (now - as_utc(timer["due_at"])).total_seconds()))
        try:
            await self.outbox.publish_pending(self.collection, claim)
        except Exception:
            logger.warning("publishing reminder %s failed; the relay will", timer["_id"],
                           exc_info=True)
        await self.timers.delete(timer["_id"])
        return True

    async def prune(self) -> None:
        """Drop fire claims a day old whose events are published (scheduler housekeeping)."""
        await self.claims.prune(self.clock(), timedelta(days=1))


class ReminderEmails:
    """Sends the reminder email of a ``ReminderDue``, at most once."""

    def __init__(self, versions: MeetingVersions, pipeline: EmailPipeline,
                 composer: ReminderComposer, *, clock: Clock = utc_now) -> None:
        self.versions = versions
        self.pipeline = pipeline
        self.composer = composer
        self.clock = clock

    async def wanted(self, due: ReminderDue) -> tuple[MeetingSnapshot, Recipient] | None:
        """The meeting as of the newest version seen and the reminder's recipient in it, or
        None when the reminder is no longer wanted (``domain.reminders.wanted_recipient``)."""
        meeting, canceled = await self.versions.current(due.account_id, due.meeting_id)
        recipient = wanted_recipient(due, meeting, canceled=canceled)
        return None if meeting is None or recipient is None else (meeting, recipient)

    async def send(self, due: ReminderDue) -> SendResult | None:
        """The reminder's email; None when it is no longer wanted."""
        wanted = await self.wanted(due)
        if wanted is None:
            REMINDERS_STALE.inc()
            logger.info("reminder %s (version %s) is no longer wanted; not sent",
                        due.reminder_id, due.meeting_version)
            return None
        result = await self.pipeline.send(self.job(due, *wanted))
        logger.info("reminder %s of meeting %s: %s", due.reminder_id, due.meeting_id,
                    result.state.value)
        return result

    def job(self, due: ReminderDue, meeting: MeetingSnapshot, recipient: Recipient) -> EmailJob:
        """The email job of a wanted reminder."""
        email_id = email_id_for(email_key(due.account_id, due.meeting_id, recipient.email,
                                          f"reminder:{due.reminder_id}",
                                          int(due.meeting_start.timestamp())))
        entry = MailEntry(
            email_id=email_id, account_id=due.account_id, kind="reminder",
            recipient=recipient.email, recipient_kind=recipient.kind,
            recipient_id=recipient.id,
            message_id=message_id_for(email_id, self.composer.message_id_domain),
            meeting_id=due.meeting_id, ical_uid=meeting.ical_uid, sequence=meeting.version,
            reminder_id=due.reminder_id)
        address = recipient.address

        def compose(message_id: str, now: datetime) -> EmailMessage:
            assert address is not None  # the pipeline composes only for a mailable address
            return self.composer.compose(recipient, meeting, address=address,
                                         message_id=message_id, now=now)

        def sent(message_id: str, now: datetime) -> ReminderSent:
            return ReminderSent(
                account_id=due.account_id, version=0, occurred_at=now, email_id=email_id,
                reminder_id=due.reminder_id, meeting_id=due.meeting_id,
                meeting_version=meeting.version, recipient=RecipientModel(
                    kind=recipient.kind, id=recipient.id, email=recipient.email,
                    time_zone=recipient.time_zone, language=recipient.language),
                due_at=due.due_at, message_id=message_id)

        return EmailJob(entry=entry, address=address, compose=compose, sent_event=sent)
