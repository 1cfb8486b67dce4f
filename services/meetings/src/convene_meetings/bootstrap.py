"""The one place that builds meetings: settings -> clients -> repositories -> broker -> app.

Tests replace one dependency with one keyword argument and keep the real wiring.
"""

from __future__ import annotations

from dataclasses import dataclass

from convene_kit.aggregates import Aggregates
from convene_kit.auth import JwtVerifier
from convene_kit.clock import Clock, utc_now
from convene_kit.consumer import subscribe_events
from convene_kit.http import create_app
from convene_kit.idempotency import PROCESSED_EVENTS_COLLECTION, ProcessedEvents
from convene_kit.idempotent_requests import IDEMPOTENCY_KEYS_COLLECTION, IdempotencyKeys
from convene_kit.kafka import EventPublisher, build_broker
from convene_kit.outbox import Outbox
from convene_kit.relay import OutboxRelay
from convene_kit.revisions import RevisionLog, revision_indexes
from convene_kit.runtime import ServiceRuntime
from convene_kit.store import MongoStore
from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from convene_meetings.api import ROUTERS
from convene_meetings.deps import Deps
from convene_meetings.domain.errors import VersionConflict
from convene_meetings.handlers import TOPICS, build_handlers
from convene_meetings.held_store import HELD_BOOKINGS, HELD_INDEXES, HeldBookingRepository
from convene_meetings.settings import MeetingsSettings
from convene_meetings.store import (
    ACCOUNT_SETTINGS,
    CALENDAR_CONNECTIONS,
    CONTACTS,
    INDEXES,
    MEETINGS,
    REVISIONS,
    USERS,
    CalendarConnectionRepository,
    MeetingRepository,
    ReadModelRepository,
)


@dataclass
class MeetingsService:
    """The built service: what the process entry point and tests need."""

    settings: MeetingsSettings
    runtime: ServiceRuntime
    app: FastAPI
    deps: Deps


def bootstrap(
    settings: MeetingsSettings | None = None,
    *,
    broker: KafkaBroker | None = None,
    store: MongoStore | None = None,
    publisher: EventPublisher | None = None,
    verifier: JwtVerifier | None = None,
    clock: Clock | None = None,
) -> MeetingsService:
    """Build meetings; each keyword argument replaces one dependency (tests)."""
    settings = settings or MeetingsSettings()
    broker = broker or build_broker(settings)
    store = store or MongoStore.from_settings(settings)
    store.declare(*INDEXES, *HELD_INDEXES, *revision_indexes(REVISIONS),
                  *IdempotencyKeys.indexes(IDEMPOTENCY_KEYS_COLLECTION))
    publisher = publisher or EventPublisher(broker, settings)
    clock = clock or utc_now
    revisions = RevisionLog(store.collection(REVISIONS), clock=clock)
    idempotency_keys = IdempotencyKeys(store.collection(IDEMPOTENCY_KEYS_COLLECTION))
    deps = Deps(
        meetings=MeetingRepository(store.collection(MEETINGS)),
        read_models=ReadModelRepository(
            store.collection(USERS), store.collection(CONTACTS),
            store.collection(ACCOUNT_SETTINGS),
        ),
        calendars=CalendarConnectionRepository(store.collection(CALENDAR_CONNECTIONS)),
        held_bookings=HeldBookingRepository(store.collection(HELD_BOOKINGS)),
        aggregates=Aggregates(revisions, Outbox(publisher), clock=clock,
                              conflict=VersionConflict),
        idempotency_keys=idempotency_keys,
        clock=clock,
    )
    processed_events = ProcessedEvents(
        store.collection(PROCESSED_EVENTS_COLLECTION), settings.consumer_group,
        retention_s=settings.processed_event_retention_s,
    )
    consumer = subscribe_events(broker, settings, TOPICS, build_handlers(deps),
                                processed_events=processed_events)
    relay = OutboxRelay.from_settings(store, publisher, settings, collections=[MEETINGS, REVISIONS])
    runtime = ServiceRuntime(settings, broker=broker, store=store, consumer=consumer, relay=relay,
                             background=[revisions.run_pruning, idempotency_keys.run_pruning])
    app = create_app(settings, routers=ROUTERS, readiness_checks=runtime.readiness_checks(),
                     lifespan=runtime.lifespan, verifier=verifier, title="Convene meetings")
    app.state.deps = deps
    return MeetingsService(settings=settings, runtime=runtime, app=app, deps=deps)
