"""The one place that builds notifications: settings -> clients -> repositories -> broker -> app.

Tests replace one dependency with one keyword argument and keep the real wiring.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from convene_kit.auth import JwtVerifier
from convene_kit.consumer import subscribe_events
from convene_kit.http import create_app
from convene_kit.idempotency import ProcessedEvents
from convene_kit.kafka import EventPublisher, build_broker
from convene_kit.runtime import ServiceRuntime
from convene_kit.store import MongoStore
from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from convene_notifications.api import ROUTERS
from convene_notifications.compose import Composer
from convene_notifications.delivery import Deliveries, utc_now
from convene_notifications.handlers import TOPICS, build_handlers
from convene_notifications.mail_events import MAIL_EVENTS, MailEvents
from convene_notifications.mailer import Mailer, SmtpMailer
from convene_notifications.rendering import Templates
from convene_notifications.settings import NotificationsSettings
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
from convene_notifications.store import INDEXES, MAIL_LOG, PROCESSED_EVENTS, MailLog


@dataclass
class Notifications:
    """The built service: what the process entry point and tests need."""

    settings: NotificationsSettings
    runtime: ServiceRuntime
    app: FastAPI
    mail_log: MailLog
    mailer: Mailer
    deliveries: Deliveries
    scheduler: ReminderScheduler
    reminder_sender: ReminderSender


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
    store = store or MongoStore.from_settings(settings, indexes=[*INDEXES, *REMINDER_INDEXES])
    mailer = mailer or SmtpMailer.from_settings(settings)
    mail_log = MailLog(store.collection(MAIL_LOG))
    composer = Composer(templates=Templates(), sender=settings.sender)
    publisher = publisher or EventPublisher(broker, settings)
    events = MailEvents(store.collection(MAIL_EVENTS), publisher)
    deliveries = Deliveries(mail_log, mailer, composer, events=events, clock=clock)
    processed_events = ProcessedEvents(store.collection(PROCESSED_EVENTS),
                                       settings.consumer_group,
                                       retention_s=settings.processed_event_retention_s)
    timers = ReminderTimers(store.collection(REMINDER_TIMERS))
    versions = MeetingVersions(store.collection(REMINDER_MEETINGS))
    planner = ReminderPlanner(timers, versions)
    sender = ReminderSender(versions, mail_log, mailer, composer, events=events, clock=clock)
    scheduler = ReminderScheduler(timers, FireClaims(store.collection(REMINDER_FIRES)),
                                  store.collection(REMINDER_FIRES), publisher,
                                  interval_s=settings.reminder_poll_interval_s,
                                  batch_size=settings.reminder_batch_size, clock=clock)
    consumer = subscribe_events(broker, settings, TOPICS,
                                build_handlers(deliveries, planner, sender),
                                processed_events=processed_events)
    runtime = ServiceRuntime(settings, broker=broker, store=store, consumer=consumer,
                             outbox_collections=[MAIL_EVENTS, REMINDER_FIRES],
                             background=[scheduler.run])
    app = create_app(settings, routers=ROUTERS, readiness_checks=runtime.readiness_checks(),
                     lifespan=runtime.lifespan, verifier=verifier, title="Convene notifications")
    app.state.mail_log = mail_log
    return Notifications(settings=settings, runtime=runtime, app=app, mail_log=mail_log,
                         mailer=mailer, deliveries=deliveries,
                         scheduler=scheduler, reminder_sender=sender)
