"""The one place that builds notifications: settings -> clients -> repositories -> broker -> app.

Tests replace one dependency with one keyword argument and keep the real wiring.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from convene_kit.auth import JwtVerifier
from convene_kit.claims import Claims
from convene_kit.clock import utc_now
from convene_kit.consumer import subscribe_events
from convene_kit.http import create_app
from convene_kit.kafka import EventPublisher, build_broker
from convene_kit.runtime import ServiceRuntime
from convene_kit.store import MongoStore
from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from convene_notifications.api import ROUTERS
from convene_notifications.compose import Composer
from convene_notifications.delivery import Deliveries
from convene_notifications.dispatch import Dispatcher
from convene_notifications.domain.retries import RetryPolicy
from convene_notifications.handlers import TOPICS, build_handlers
from convene_notifications.join_link import JoinLinkFallback
from convene_notifications.mail_events import MAIL_EVENTS, MailEvents
from convene_notifications.mailer import Mailer, SmtpMailer
from convene_notifications.owner_compose import OwnerComposer
from convene_notifications.owner_emails import OwnerEmails
from convene_notifications.owner_store import (
    OWNER_INDEXES,
    PENDING_OWNER_EMAILS,
    PendingOwnerEmails,
)
from convene_notifications.read_models import ACCOUNT_SETTINGS, USERS, ReadModels
from convene_notifications.reminder_store import (
    REMINDER_FIRES,
    REMINDER_INDEXES,
    REMINDER_MEETINGS,
    REMINDER_TIMERS,
    FireClaims,
    MeetingVersions,
    ReminderTimers,
)
from convene_notifications.reminders import ReminderPlanner, ReminderScheduler, ReminderSender
from convene_notifications.rendering import Templates
from convene_notifications.retries import LEASE_INDEXES, LEASES, RetryWorker
from convene_notifications.settings import NotificationsSettings
from convene_notifications.store import INDEXES, MAIL_LOG, MailLog


@dataclass
class Notifications:
    """The built service: what the process entry point and tests need."""

    settings: NotificationsSettings
    runtime: ServiceRuntime
    app: FastAPI
    mail_log: MailLog
    mailer: Mailer
    deliveries: Deliveries
    read_models: ReadModels
    owner_emails: OwnerEmails
    scheduler: ReminderScheduler
    reminder_sender: ReminderSender
    retries: RetryWorker


def bootstrap(
    settings: NotificationsSettings | None = None,
    *,
    broker: KafkaBroker | None = None,
    store: MongoStore | None = None,
    mailer: Mailer | None = None,
    publisher: EventPublisher | None = None,
    verifier: JwtVerifier | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> Notifications:
    settings = settings or NotificationsSettings()
    broker = broker or build_broker(settings)
    store = store or MongoStore.from_settings(settings, indexes=[*INDEXES, *REMINDER_INDEXES, *LEASE_INDEXES,
                                                                 *OWNER_INDEXES])
    mailer = mailer or SmtpMailer.from_settings(settings)
    mail_log = MailLog(store.collection(MAIL_LOG))
    composer = Composer(templates=Templates(), sender=settings.sender)
    publisher = publisher or EventPublisher(broker, settings)
    events = MailEvents(store.collection(MAIL_EVENTS), publisher)
    dispatcher = Dispatcher(mail_log, mailer, events=events, clock=clock, policy=RetryPolicy(
        base_s=settings.mail_retry_base_s, cap_s=settings.mail_retry_cap_s,
        max_attempts=settings.mail_retry_max_attempts))
    leases = Claims(store.collection(LEASES))
    retries = RetryWorker(mail_log, dispatcher, leases,
                          interval_s=settings.mail_retry_poll_interval_s,
                          batch_size=settings.mail_retry_batch_size,
                          lease_s=settings.mail_retry_lease_s,
                          send_margin_s=3 * settings.smtp_timeout_s, clock=clock)
    deliveries = Deliveries(mail_log, mailer, composer, events=events, dispatcher=dispatcher,
                            clock=clock)
    timers = ReminderTimers(store.collection(REMINDER_TIMERS))
    versions = MeetingVersions(store.collection(REMINDER_MEETINGS))
    planner = ReminderPlanner(timers, versions, join_link_wait_s=settings.join_link_wait_s)
    sender = ReminderSender(versions, mail_log, mailer, composer, events=events,
                            dispatcher=dispatcher, clock=clock)
    scheduler = ReminderScheduler(timers, FireClaims(store.collection(REMINDER_FIRES)),
                                  store.collection(REMINDER_FIRES), publisher,
                                  interval_s=settings.reminder_poll_interval_s,
                                  batch_size=settings.reminder_batch_size, clock=clock,
                                  fallback=JoinLinkFallback(versions, deliveries, timers, leases,
                                                            lease_s=settings.mail_retry_lease_s,
                                                            clock=clock))
    read_models = ReadModels(store.collection(USERS), store.collection(ACCOUNT_SETTINGS))
    pending = PendingOwnerEmails(store.collection(PENDING_OWNER_EMAILS))
    owner_emails = OwnerEmails(read_models, pending, mail_log, mailer,
                               OwnerComposer(templates=composer.templates, sender=settings.sender),
                               events=events, dispatcher=dispatcher, clock=clock)
    consumer = subscribe_events(broker, settings, TOPICS,
                                build_handlers(deliveries, planner, sender,
                                               read_models=read_models,
                                               owner_emails=owner_emails))
    # No processed-event records: every handler is idempotent by its own keys (an email's
    # mail-log claim, a timer's id per meeting version, read models by version), which
    # saves a lookup and an insert on every event (tests deliver every event twice).
    runtime = ServiceRuntime(settings, broker=broker, store=store, consumer=consumer,
                             outbox_collections=[MAIL_EVENTS, REMINDER_FIRES],
                             background=[scheduler.run, retries.run,
                                         *([mailer.run] if isinstance(mailer, SmtpMailer) else [])])
    app = create_app(settings, routers=ROUTERS, readiness_checks=runtime.readiness_checks(),
                     lifespan=runtime.lifespan, verifier=verifier, title="Convene notifications")
    app.state.mail_log = mail_log
    return Notifications(settings=settings, runtime=runtime, app=app, mail_log=mail_log,
                         mailer=mailer, deliveries=deliveries, read_models=read_models,
                         owner_emails=owner_emails,
                         scheduler=scheduler, reminder_sender=sender, retries=retries)
