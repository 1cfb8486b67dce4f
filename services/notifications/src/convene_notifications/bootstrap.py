"""The one place that builds notifications: settings -> clients -> repositories -> broker -> app.

Tests replace one dependency with one keyword argument and keep the real wiring.
"""

from __future__ import annotations

from dataclasses import dataclass

from convene_kit.auth import JwtVerifier
from convene_kit.claims import Claims
from convene_kit.clock import Clock, utc_now
from convene_kit.consumer import subscribe_events
from convene_kit.http import create_app
from convene_kit.kafka import EventPublisher, build_broker
from convene_kit.relay import OutboxRelay
from convene_kit.runtime import ServiceRuntime
from convene_kit.store import MongoStore
from convene_kit.timers import TimerScheduler
from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from convene_notifications.api import ROUTERS
from convene_notifications.composers import MeetingComposer, OwnerComposer, ReminderComposer
from convene_notifications.domain.join_link import JOIN_LINK_FALLBACK
from convene_notifications.domain.reminders import REMINDER
from convene_notifications.domain.retry_policy import RetryPolicy
from convene_notifications.handlers import TOPICS, build_handlers
from convene_notifications.mailer import Mailer, SmtpMailer
from convene_notifications.owner_store import (
    OWNER_INDEXES,
    PENDING_OWNER_EMAILS,
    PendingOwnerEmails,
)
from convene_notifications.read_models import (
    ACCOUNT_SETTINGS,
    REMINDER_MEETINGS,
    USERS,
    MeetingVersions,
    ReadModels,
)
from convene_notifications.rendering import Templates
from convene_notifications.service_layer.deps import Deps
from convene_notifications.service_layer.dispatch import Dispatcher
from convene_notifications.service_layer.email_jobs import EmailPipeline
from convene_notifications.service_layer.join_link import JoinLinkFallback
from convene_notifications.service_layer.meeting_emails import MeetingEmails
from convene_notifications.service_layer.owner_emails import OwnerEmails
from convene_notifications.service_layer.reminders import (
    ReminderEmails,
    ReminderFiring,
    ReminderPlanner,
)
from convene_notifications.service_layer.retry_worker import LEASE_INDEXES, LEASES, RetryWorker
from convene_notifications.settings import NotificationsSettings
from convene_notifications.store import INDEXES, MAIL_EVENTS, MAIL_LOG, MailEvents, MailLog
from convene_notifications.timer_store import (
    REMINDER_FIRES,
    REMINDER_TIMERS,
    TIMER_INDEXES,
    FireClaims,
    MeetingTimers,
)


@dataclass
class Notifications:
    """The built service: what the process entry point and tests need."""

    settings: NotificationsSettings
    runtime: ServiceRuntime
    app: FastAPI
    mail_log: MailLog
    mailer: Mailer
    deps: Deps
    scheduler: TimerScheduler
    retries: RetryWorker


def bootstrap(
    settings: NotificationsSettings | None = None,
    *,
    broker: KafkaBroker | None = None,
    store: MongoStore | None = None,
    mailer: Mailer | None = None,
    publisher: EventPublisher | None = None,
    verifier: JwtVerifier | None = None,
    clock: Clock = utc_now,
) -> Notifications:
    """Build notifications; each keyword argument replaces one dependency (tests)."""
    settings = settings or NotificationsSettings()
    broker = broker or build_broker(settings)
    store = store or MongoStore.from_settings(settings)
    store.declare(*INDEXES, *TIMER_INDEXES, *LEASE_INDEXES, *OWNER_INDEXES)
    mailer = mailer or SmtpMailer.from_settings(settings)
    publisher = publisher or EventPublisher(broker, settings)

    # the one email pipeline: claim -> compose -> dispatch, retried from the mail log
    mail_log = MailLog(store.collection(MAIL_LOG))
    leases = Claims(store.collection(LEASES))
    dispatcher = Dispatcher(mail_log, mailer, MailEvents(store.collection(MAIL_EVENTS), publisher),
                            clock=clock, policy=RetryPolicy(
                                base_s=settings.mail_retry_base_s, cap_s=settings.mail_retry_cap_s,
                                max_attempts=settings.mail_retry_max_attempts))
    pipeline = EmailPipeline(mail_log, dispatcher, envelope_sender=settings.sender.addr_spec,
                             clock=clock)
    retries = RetryWorker(mail_log, dispatcher, leases,
                          interval_s=settings.mail_retry_poll_interval_s,
                          batch_size=settings.mail_retry_batch_size,
                          lease_s=settings.mail_retry_lease_s,
                          send_margin_s=3 * settings.smtp_timeout_s, clock=clock)

    # the planners over it, with their composers
    templates = Templates()
    read_models = ReadModels(store.collection(USERS), store.collection(ACCOUNT_SETTINGS))
    versions = MeetingVersions(store.collection(REMINDER_MEETINGS))
    timers = MeetingTimers(store.collection(REMINDER_TIMERS))
    meeting_emails = MeetingEmails(mail_log, pipeline,
                                   MeetingComposer(templates=templates, sender=settings.sender),
                                   clock=clock)
    deps = Deps(
        meeting_emails=meeting_emails,
        reminder_planner=ReminderPlanner(timers, versions,
                                         join_link_wait_s=settings.join_link_wait_s),
        reminder_emails=ReminderEmails(
            versions, pipeline, ReminderComposer(templates=templates, sender=settings.sender),
            clock=clock),
        read_models=read_models,
        owner_emails=OwnerEmails(
            read_models, PendingOwnerEmails(store.collection(PENDING_OWNER_EMAILS)), pipeline,
            OwnerComposer(templates=templates, sender=settings.sender), clock=clock),
    )

    # the durable timers, by kind
    firing = ReminderFiring(timers, FireClaims(store.collection(REMINDER_FIRES)), publisher,
                            collection=store.collection(REMINDER_FIRES), clock=clock)
    scheduler = TimerScheduler(
        timers,
        {REMINDER: firing,
         JOIN_LINK_FALLBACK: JoinLinkFallback(versions, meeting_emails, timers, leases,
                                              lease_s=settings.mail_retry_lease_s, clock=clock)},
        interval_s=settings.reminder_poll_interval_s, batch_size=settings.reminder_batch_size,
        housekeeping=[firing.prune], on_first_sweep=timers.adopt_unkinded, clock=clock)

    # No processed-event records: every handler is idempotent by its own keys (an email's
    # mail-log claim, a timer's id per meeting version, read models by version), which
    # saves a lookup and an insert on every event (tests deliver every event twice).
    consumer = subscribe_events(broker, settings, TOPICS, build_handlers(deps))
    runtime = ServiceRuntime(settings, broker=broker, store=store, consumer=consumer,
                             relay=OutboxRelay.from_settings(
                                 store, publisher, settings,
                                 collections=[MAIL_EVENTS, REMINDER_FIRES]),
                             background=[scheduler.run, retries.run,
                                         *([mailer.run] if isinstance(mailer, SmtpMailer) else [])])
    app = create_app(settings, routers=ROUTERS, readiness_checks=runtime.readiness_checks(),
                     lifespan=runtime.lifespan, verifier=verifier, title="Convene notifications")
    app.state.mail_log = mail_log
    return Notifications(settings=settings, runtime=runtime, app=app, mail_log=mail_log,
                         mailer=mailer, deps=deps, scheduler=scheduler, retries=retries)
