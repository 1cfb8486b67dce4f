"""The one place that builds calendar-sync: settings -> clients -> repositories -> broker -> app.

Tests replace one dependency with one keyword argument and keep the real wiring.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from convene_kit.aggregates import Aggregates
from convene_kit.auth import JwtVerifier
from convene_kit.claims import Claims
from convene_kit.clock import Clock, utc_now
from convene_kit.consumer import subscribe_events
from convene_kit.http import create_app
from convene_kit.idempotency import PROCESSED_EVENTS_COLLECTION, ProcessedEvents
from convene_kit.kafka import EventPublisher, build_broker
from convene_kit.outbox import Outbox
from convene_kit.read_models import VersionedReadModel
from convene_kit.relay import OutboxRelay
from convene_kit.revisions import RevisionLog, revision_indexes
from convene_kit.runtime import ServiceRuntime
from convene_kit.secret_box import SecretBox, generate_key
from convene_kit.service_tokens import ServiceTokens
from convene_kit.store import MongoStore
from convene_kit.timers import Timers, TimerScheduler, timer_indexes
from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from convene_calendar_sync import connections, task_sync
from convene_calendar_sync.adapters import AdapterFactory
from convene_calendar_sync.api import ROUTERS
from convene_calendar_sync.busy_store import BUSY, BUSY_INDEX, BusyMirror
from convene_calendar_sync.busy_store import INDEXES as BUSY_INDEXES
from convene_calendar_sync.deps import Deps
from convene_calendar_sync.domain.errors import VersionConflict
from convene_calendar_sync.handlers import TOPICS, build_handlers
from convene_calendar_sync.inbound import CalendarPolling
from convene_calendar_sync.outbound import OUTBOUND_RETRY, OutboundRetry
from convene_calendar_sync.settings import (
    CalendarSyncSettings,
    allow_plain_http_oauth_to_loopback,
)
from convene_calendar_sync.store import (
    CHANNELS,
    CONNECTIONS,
    CONTACTS,
    CREDENTIALS,
    INDEXES,
    LEASES,
    LINK_EVENTS,
    MEETING_LINKS,
    OAUTH_STATES,
    REVISIONS,
    SYNC_STATE,
    SYNCED_EVENTS,
    TASK_EVENTS,
    TASKS,
    TIMERS,
    USER_CONNECTIONS,
    USERS,
    Channels,
    ConnectionRepository,
    CredentialStore,
    MeetingLinks,
    OAuthStates,
    SyncedEventRepository,
    SyncStates,
    TaskLinks,
    UserSlots,
)
from convene_calendar_sync.sync_timers import CALENDAR_SYNC

logger = logging.getLogger(__name__)

HOUSEKEEPING_EVERY = 60
"""Timer sweeps between housekeeping rounds (pruning, counting connections): a minute at
the default sweep interval."""


@dataclass
class CalendarSync:
    """The built service: what the process entry point and tests need."""

    settings: CalendarSyncSettings
    runtime: ServiceRuntime
    app: FastAPI
    deps: Deps
    scheduler: TimerScheduler


def keyring(settings: CalendarSyncSettings) -> SecretBox:
    """The operator's keyring; without one, a key for this process only (logged loudly:
    credentials stored now cannot be opened after a restart)."""
    if settings.credentials_encryption_key.get_secret_value().strip():
        return SecretBox.from_setting(settings.credentials_encryption_key)
    logger.warning("CONVENE_CREDENTIALS_ENCRYPTION_KEY is not set: credentials are sealed "
                   "with a key that lives only in this process; set a keyring to keep "
                   "connections working across restarts")
    return SecretBox.from_setting(f"ephemeral:{generate_key()}")


def bootstrap(
    settings: CalendarSyncSettings | None = None,
    *,
    broker: KafkaBroker | None = None,
    store: MongoStore | None = None,
    publisher: EventPublisher | None = None,
    verifier: JwtVerifier | None = None,
    adapters: AdapterFactory | None = None,
    clock: Clock | None = None,
) -> CalendarSync:
    """Build calendar-sync; each keyword argument replaces one dependency (tests)."""
    settings = settings or CalendarSyncSettings()
    allow_plain_http_oauth_to_loopback(settings.google_auth_uri, settings.google_token_uri,
                                       settings.google_revoke_uri)
    broker = broker or build_broker(settings)
    store = store or MongoStore.from_settings(settings)
    store.declare(*INDEXES, *BUSY_INDEXES, *revision_indexes(REVISIONS),
                  *timer_indexes(TIMERS))
    publisher = publisher or EventPublisher(broker, settings)
    clock = clock or utc_now
    box = keyring(settings)
    revisions = RevisionLog(store.collection(REVISIONS), clock=clock)
    timers = Timers(store.collection(TIMERS))
    deps = Deps(
        settings=settings,
        connections=ConnectionRepository(store.collection(CONNECTIONS)),
        synced_events=SyncedEventRepository(store.collection(SYNCED_EVENTS)),
        aggregates=Aggregates(revisions, Outbox(publisher), clock=clock,
                              conflict=VersionConflict),
        credentials=CredentialStore(store.collection(CREDENTIALS)),
        slots=UserSlots(store.collection(USER_CONNECTIONS)),
        oauth_states=OAuthStates(store.collection(OAUTH_STATES)),
        links=MeetingLinks(store.collection(MEETING_LINKS), store.collection(LINK_EVENTS)),
        sync_states=SyncStates(store.collection(SYNC_STATE)),
        channels=Channels(store.collection(CHANNELS)),
        busy=BusyMirror(store.collection(BUSY), store.collection(BUSY_INDEX)),
        users=VersionedReadModel(store.collection(USERS)),
        contacts=VersionedReadModel(store.collection(CONTACTS)),
        tasks=VersionedReadModel(store.collection(TASKS)),
        task_links=TaskLinks(store.collection(TASK_EVENTS)),
        timers=timers,
        leases=Claims(store.collection(LEASES), owner=settings.replica_id),
        box=box,
        adapters=adapters or AdapterFactory(settings, box),
        clock=clock,
    )
    scheduler = TimerScheduler(
        timers, {CALENDAR_SYNC: CalendarPolling(deps),
                 OUTBOUND_RETRY: OutboundRetry(deps, task_sync.RETRIES)},
        interval_s=settings.timer_interval_s, clock=clock,
        housekeeping=[lambda: deps.oauth_states.prune(clock()), _prune_leases(deps),
                      lambda: connections.count_connections(deps)],
        housekeeping_every=HOUSEKEEPING_EVERY)
    processed_events = ProcessedEvents(
        store.collection(PROCESSED_EVENTS_COLLECTION), settings.consumer_group,
        retention_s=settings.processed_event_retention_s,
    )
    consumer = subscribe_events(broker, settings, TOPICS, build_handlers(deps),
                                processed_events=processed_events)
    relay = OutboxRelay.from_settings(store, publisher, settings,
                                      collections=[CONNECTIONS, SYNCED_EVENTS, REVISIONS,
                                                   LINK_EVENTS])
    runtime = ServiceRuntime(settings, broker=broker, store=store, consumer=consumer,
                             relay=relay, background=[revisions.run_pruning, scheduler.run])
    app = create_app(settings, routers=ROUTERS, readiness_checks=runtime.readiness_checks(),
                     lifespan=runtime.lifespan, verifier=verifier,
                     title="Convene calendar-sync")
    app.state.deps = deps
    app.state.service_tokens = ServiceTokens.from_setting(settings.internal_api_tokens)
    return CalendarSync(settings=settings, runtime=runtime, app=app, deps=deps,
                        scheduler=scheduler)


def _prune_leases(deps: Deps) -> Callable[[], Awaitable[int]]:
    async def prune() -> int:
        return await deps.leases.prune(timedelta(days=1))

    return prune

