"""Reminders (R10, R43): timers from meeting events, a scheduler that fires them exactly
once across replicas, and the sender of the reminder email.

1. **Timers** (:class:`ReminderPlanner`, called by the meeting consumer): each meeting
   event records the meeting's newest version and replaces its timers
   (:func:`~convene_notifications.domain.reminders.plan_timers`); a cancellation drops them.
   A meeting waiting for its video link also gets a join-link fallback timer (fired by
   :class:`~convene_notifications.join_link.JoinLinkFallback`, see ``domain.join_link``).
2. **Firing** (:class:`ReminderScheduler`, a background task of every replica): every
   ``interval_s`` it reads a bounded batch of due timers; for each it INSERTS the fire claim
   ``fired:<timer id>`` carrying the ``ReminderDue`` events (one per recipient) in its
   outbox. The unique insert is atomic on FerretDB, so exactly one replica wins; the events
   are in the same write, so a crash before publishing loses nothing (the outbox relay
   sweeps ``reminder_fires``). The winner publishes them and deletes the timer. A timer
   fired later than due (e.g. the service was down) is counted in
   ``convene_reminder_lateness_seconds``.
3. **Sending** (:class:`ReminderSender`, on our own ``ReminderDue``): judged by the
   meeting's CURRENT state, not the timer's version (``domain.reminders.wanted_recipient``):
   nothing when it is canceled, moved, the offset or the recipient is gone; else the email
   is claimed in the mail log (``_id`` from the key (account, meeting, address,
   ``reminder:<reminder id>``, start epoch seconds), so a duplicate ReminderDue or the same
   reminder due under two versions never sends twice) and sent with the current details
   in the recipient's language and time zone (the contact's, else the meeting's), through
   the same
   :class:`~convene_notifications.dispatch.Dispatcher` as invitations: ``ReminderSent``
   when accepted, ``EmailDeliveryFailed`` on a 5xx, the retry queue on a 4xx.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from convene_kit.clock import utc_now
from convene_kit.kafka import EventPublisher
from convene_kit.outbox import Outbox, outbox_entries
from convene_kit.periodic import every
from convene_schemas.events.common import ReminderOffset
from convene_schemas.events.meetings import MeetingCanceled, MeetingSnapshot
from convene_schemas.events.notifications import Recipient as RecipientModel
from convene_schemas.events.notifications import ReminderDue, ReminderSent, reminder_id_for
from prometheus_client import Counter, Gauge, Histogram

from convene_notifications.compose import Composer
from convene_notifications.dispatch import Outgoing, Sender, build_event
from convene_notifications.domain.addresses import parse_address, single_line
from convene_notifications.domain.ics import location_text, organizer_of
from convene_notifications.domain.join_link import (
    JOIN_LINK_FALLBACK,
    fallback_timer_id,
    plan_fallback,
)
from convene_notifications.domain.mail_log import FailureReason, MailState, should_send
from convene_notifications.domain.message import EmailContent, plain_email
from convene_notifications.domain.planning import (
    PlannedEmail,
    Recipient,
    email_id_for,
    email_key,
    message_id_for,
    waits_for_join_link,
)
from convene_notifications.domain.reminders import (
    fire_claim_id,
    plan_timers,
    wanted_recipient,
)
from convene_notifications.domain.text import html_to_text
from convene_notifications.join_link import JoinLinkFallback
from convene_notifications.mail_events import EmailRef
from convene_notifications.mailer import Mailer
from convene_notifications.reminder_store import FireClaims, MeetingVersions, ReminderTimers
from convene_notifications.rendering import format_when
from convene_notifications.store import MailLog

logger = logging.getLogger(__name__)

REMINDERS_FIRED = Counter("convene_reminders_fired_total", "Reminder timers fired.")
TIMERS_PENDING = Gauge("convene_reminder_timers_pending",
                       "Timers waiting to fire (reminders and join-link fallbacks), all accounts.")
_COUNT_EVERY = 20  # sweeps between counts of the timers
REMINDERS_STALE = Counter("convene_reminders_stale_total",
                          "Due reminders not sent: meeting canceled or changed since.")
REMINDER_LATENESS = Histogram("convene_reminder_lateness_seconds",
                              "How late a reminder timer fired after its due time.",
                              buckets=(0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 86400))


class ReminderPlanner:
    """Keeps each meeting's timers in step with its newest version."""

    def __init__(self, timers: ReminderTimers, versions: MeetingVersions, *,
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
        first = previous is None
        await self.timers.replace(meeting.meeting_id, meeting.version, plan_timers(meeting),
                                  first=first)
        fallback = plan_fallback(meeting, self.join_link_wait_s)
        if fallback is not None:
            await self.timers.add_fallback(fallback)
        elif not first and not waits_for_join_link(meeting):  # the link came
            await self.timers.delete(fallback_timer_id(meeting.meeting_id))


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
            offset=timer["offset"], due_at=_utc(timer["due_at"]),
            meeting_start=_utc(timer["meeting_start"])))
    return events


def _offset_minutes(timer: dict[str, Any]) -> int:
    return ReminderOffset.model_validate(timer["offset"]).minutes()


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


FIRING_CONCURRENCY = 16
"""Timers one replica fires at once (each is a claim, a publish and two small writes)."""


class ReminderScheduler:
    """Fires due timers; run by every replica, each timer fires once."""

    def __init__(self, timers: ReminderTimers, claims: FireClaims, claims_collection: Any,
                 publisher: EventPublisher, *, interval_s: float = 0.5, batch_size: int = 100,
                 fallback: JoinLinkFallback | None = None,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.timers = timers
        self.claims = claims
        self.claims_collection = claims_collection
        self.outbox = Outbox(publisher)
        self.interval_s = interval_s
        self.batch_size = batch_size
        self.clock = clock
        self._rounds = 0
        self.fallback = fallback

    async def fire_due(self) -> int:
        """Fire every due timer of one bounded batch, up to :data:`FIRING_CONCURRENCY` at a
        time; returns how many this replica fired. Each replica works through the batch in
        its own random order, so replicas rarely race for the same timer (the claim decides
        when they do)."""
        due = await self.timers.due(self.clock(), self.batch_size)
        random.shuffle(due)
        slots = asyncio.Semaphore(FIRING_CONCURRENCY)

        async def fire_one(timer: dict[str, Any]) -> bool:
            async with slots:
                try:
                    return await self.fire(timer)
                except Exception:  # the timer stays; the next sweep fires it
                    logger.warning("firing timer %s failed", timer["_id"], exc_info=True)
                    return False

        return sum(await asyncio.gather(*(fire_one(timer) for timer in due)))

    async def fire(self, timer: dict[str, Any]) -> bool:
        """Claim one timer (with its events), publish them, delete the timer. A join-link
        fallback timer goes to :class:`~convene_notifications.join_link.JoinLinkFallback`."""
        if timer.get("purpose") == JOIN_LINK_FALLBACK:
            if self.fallback is None:
                await self.timers.delete(timer["_id"])
                return False
            return await self.fallback.fire(timer)
        now = self.clock()
        claim = await self.claims.claim(
            {"_id": fire_claim_id(timer["_id"]), "claimed_at": now,
             "account_id": timer["account_id"], "meeting_id": timer["meeting_id"]},
            outbox_entries(reminder_events(timer, now)))
        if claim is None:
            await self.timers.delete(timer["_id"])  # fired by another replica
            return False
        REMINDERS_FIRED.inc()
        REMINDER_LATENESS.observe(max(0.0, (now - _utc(timer["due_at"])).total_seconds()))
        try:
            await self.outbox.publish_pending(self.claims_collection, claim)
        except Exception:
            logger.warning("publishing reminder %s failed; the relay will", timer["_id"],
                           exc_info=True)
        await self.timers.delete(timer["_id"])
        return True

    async def sweep(self) -> None:
        """One round: fire what is due; now and then count the timers and prune old fire
        claims."""
        await self.fire_due()
        self._rounds += 1
        if self._rounds % _COUNT_EVERY == 1:
            TIMERS_PENDING.set(await self.timers.pending())
        if self._rounds % 1000 == 0:
            await self.claims.prune(self.clock(), timedelta(days=1))

    async def run(self, stopping: asyncio.Event) -> None:
        """The background loop (ServiceRuntime ``background``)."""
        await every(self.interval_s, stopping, self.sweep, what="the reminder sweep")


class ReminderSender(Sender[Composer]):
    """Sends the reminder email of a ``ReminderDue``, at most once."""

    def __init__(self, versions: MeetingVersions, mail_log: MailLog, mailer: Mailer,
                 composer: Composer, **sending: Any) -> None:
        super().__init__(mail_log, mailer, composer, **sending)
        self.versions = versions

    async def wanted(self, due: ReminderDue) -> tuple[MeetingSnapshot, Recipient] | None:
        """The meeting as of the newest version seen and the reminder's recipient in it, or
        None when the reminder is no longer wanted (``domain.reminders.wanted_recipient``)."""
        record = await self.versions.get(due.meeting_id)
        if record is None or record.get("account_id") != due.account_id:
            return None
        meeting = MeetingSnapshot.parse_data(record["snapshot"])
        assert isinstance(meeting, MeetingSnapshot)
        recipient = wanted_recipient(due, meeting, canceled=record["canceled"])
        return None if recipient is None else (meeting, recipient)

    async def send(self, due: ReminderDue) -> bool:
        """True when the email was sent by this call."""
        wanted = await self.wanted(due)
        if wanted is None:
            REMINDERS_STALE.inc()
            logger.info("reminder %s (version %s) is no longer wanted; not sent",
                        due.reminder_id, due.meeting_version)
            return False
        meeting, recipient = wanted
        key = email_key(due.account_id, due.meeting_id, recipient.email,
                        f"reminder:{due.reminder_id}", int(due.meeting_start.timestamp()))
        planned = PlannedEmail(account_id=due.account_id, meeting_id=due.meeting_id,
                               kind="reminder", method="REQUEST",  # type: ignore[arg-type]
                               sequence=meeting.version, recipient=recipient)
        email_id = email_id_for(key)
        message_id = message_id_for(email_id, self.composer.message_id_domain)
        now = self.clock()
        entry = {"_id": email_id, "account_id": due.account_id, "meeting_id": due.meeting_id,
                 "ical_uid": meeting.ical_uid, "kind": "reminder", "method": None,
                 "sequence": meeting.version, "recipient": recipient.email,
                 "recipient_kind": recipient.kind, "recipient_id": recipient.id,
                 "reminder_id": due.reminder_id, "message_id": message_id, "created_at": now,
                 "sent_at": None, "error": None, "attempts": 0}
        existing = await self.mail_log.claim(due.account_id, entry)
        if existing is not None and not should_send(existing.get("state")):
            return False
        address = recipient.address
        ref = EmailRef(due.account_id, email_id, "reminder", recipient.email, due.meeting_id)
        if address is None:
            await self.dispatcher.fail(ref, FailureReason.INVALID_ADDRESS,
                                       "the address cannot be mailed", attempts=0)
            return False
        message = plain_email(sender=self.composer.sender, recipient=address,
                              reply_to=parse_address(meeting.host_email or "", meeting.host_name),
                              content=self.content(planned, meeting), message_id=message_id,
                              date=now)
        sent_event = build_event(lambda: ReminderSent(
            account_id=due.account_id, version=0, occurred_at=self.clock(), email_id=email_id,
            reminder_id=due.reminder_id, meeting_id=due.meeting_id,
            meeting_version=meeting.version, recipient=RecipientModel(
                kind=recipient.kind, id=recipient.id, email=recipient.email,
                time_zone=recipient.time_zone, language=recipient.language),
            due_at=due.due_at,
            message_id=message_id), email_id)
        state = await self.dispatcher.attempt(
            Outgoing(ref=ref, raw=message.as_bytes(), sender=self.composer.sender.addr_spec,
                     recipient=address.addr_spec, sent_event=sent_event),
            attempts_before=int((existing or {}).get("attempts", 0)))
        logger.info("reminder %s of meeting %s: %s", due.reminder_id, due.meeting_id, state)
        return state is MailState.SENT

    def content(self, planned: PlannedEmail, meeting: MeetingSnapshot) -> EmailContent:
        """Subject and bodies in the recipient's language and time zone."""
        templates = self.composer.templates
        language = templates.language_of("reminder", planned.recipient.language)
        time_zone = planned.recipient.time_zone or meeting.time_zone
        organizer = organizer_of(meeting, self.composer.sender)
        context: dict[str, Any] = {
            "title": single_line(meeting.title),
            "when": format_when(meeting.start, time_zone, language),
            "time_zone": time_zone,
            "duration_minutes": meeting.duration_minutes,
            "location": location_text(meeting.location),
            "join_url": meeting.location.join_url if meeting.location else None,
            "description": (html_to_text(meeting.attendee_description)
                            if meeting.reminders_include_description else ""),
            "organizer_name": organizer.display_name,
            "organizer_email": organizer.addr_spec,
            "recipient_name": single_line(planned.recipient.name),
        }
        return EmailContent(
            subject=templates.render("reminder", language, "subject.txt", context),
            text=templates.render("reminder", language, "txt", context),
            html=templates.render("reminder", language, "html", context))
