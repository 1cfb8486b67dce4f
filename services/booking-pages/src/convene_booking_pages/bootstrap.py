"""The one place that builds booking-pages: settings -> clients -> repositories -> broker -> app.

Tests replace one dependency with one keyword argument and keep the real wiring.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass

from convene_kit.aggregates import Aggregates
from convene_kit.auth import JwtVerifier
from convene_kit.clock import Clock, utc_now
from convene_kit.consumer import subscribe_events
from convene_kit.http import create_app
from convene_kit.kafka import EventPublisher, build_broker
from convene_kit.outbox import Outbox
from convene_kit.periodic import every
from convene_kit.rate_limit import Rate, RateLimiter
from convene_kit.read_models import VersionedReadModel
from convene_kit.relay import OutboxRelay
from convene_kit.revisions import RevisionLog, revision_indexes
from convene_kit.runtime import ServiceRuntime
from convene_kit.store import MongoStore
from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from convene_booking_pages import public
from convene_booking_pages.api import ROUTERS
from convene_booking_pages.api.web import router as page_router
from convene_booking_pages.availability import AvailabilityClient
from convene_booking_pages.deps import Deps, Limits
from convene_booking_pages.domain.errors import VersionConflict
from convene_booking_pages.handlers import TOPICS, build_handlers
from convene_booking_pages.settings import BookingPagesSettings
from convene_booking_pages.store import (
    ACCOUNTS,
    ATTEMPTS,
    BOOKINGS,
    DOMAINS,
    INDEXES,
    PAGES,
    RESERVATIONS,
    REVISIONS,
    SLUGS,
    USERS,
    AccountRepository,
    AttemptRepository,
    BookingRepository,
    PageRepository,
    Reservations,
    UniqueNames,
)

logger = logging.getLogger(__name__)


@dataclass
class BookingPages:
    """The built service: what the process entry point and tests need."""

    settings: BookingPagesSettings
    runtime: ServiceRuntime
    app: FastAPI
    deps: Deps


def prefill_key(settings: BookingPagesSettings) -> bytes:
    """The operator's prefill signing key; without one, a key for this process only."""
    key = settings.prefill_signing_key.get_secret_value()
    if key:
        return key.encode()
    logger.warning("CONVENE_PREFILL_SIGNING_KEY is not set: prefill links are signed with a "
                   "key that lives only in this process and stop working after a restart")
    return secrets.token_bytes(32)


def limits(settings: BookingPagesSettings) -> Limits:
    return Limits(
        per_client=RateLimiter(Rate.parse(settings.public_rate_per_client), name="client"),
        per_page=RateLimiter(Rate.parse(settings.public_rate_per_page), name="page"),
        bookings_per_client=RateLimiter(Rate.parse(settings.booking_rate_per_client),
                                        name="bookings"))


def bootstrap(
    settings: BookingPagesSettings | None = None,
    *,
    broker: KafkaBroker | None = None,
    store: MongoStore | None = None,
    publisher: EventPublisher | None = None,
    verifier: JwtVerifier | None = None,
    availability: AvailabilityClient | None = None,
    clock: Clock | None = None,
) -> BookingPages:
    """Build booking-pages; each keyword argument replaces one dependency (tests)."""
    settings = settings or BookingPagesSettings()
    broker = broker or build_broker(settings)
    store = store or MongoStore.from_settings(settings)
    store.declare(*INDEXES, *revision_indexes(REVISIONS))
    publisher = publisher or EventPublisher(broker, settings)
    clock = clock or utc_now
    revisions = RevisionLog(store.collection(REVISIONS), clock=clock)
    availability = availability or AvailabilityClient(settings)
    deps = Deps(
        settings=settings,
        pages=PageRepository(store.collection(PAGES)),
        accounts=AccountRepository(store.collection(ACCOUNTS)),
        bookings=BookingRepository(store.collection(BOOKINGS)),
        attempts=AttemptRepository(store.collection(ATTEMPTS)),
        aggregates=Aggregates(revisions, Outbox(publisher), clock=clock,
                              conflict=VersionConflict),
        slugs=UniqueNames(store.collection(SLUGS)),
        domains=UniqueNames(store.collection(DOMAINS)),
        reservations=Reservations(store.collection(RESERVATIONS)),
        users=VersionedReadModel(store.collection(USERS)),
        availability=availability,
        limits=limits(settings),
        prefill_key=prefill_key(settings),
        clock=clock,
    )
    consumer = subscribe_events(broker, settings, TOPICS, build_handlers(deps))
    relay = OutboxRelay.from_settings(store, publisher, settings,
                                      collections=[BOOKINGS, ATTEMPTS, REVISIONS])

    async def sweep_reservations(stopping: asyncio.Event) -> None:
        await every(settings.housekeeping_interval_s, stopping, lambda: public.sweep(deps),
                    what="sweeping reservations")

    runtime = ServiceRuntime(settings, broker=broker, store=store, consumer=consumer,
                             relay=relay, background=[revisions.run_pruning,
                                                      sweep_reservations])
    # The HTML page last: its /{prefix}/{slug} must not shadow a path of the API.
    app = create_app(settings, routers=[*ROUTERS, page_router],
                     readiness_checks=runtime.readiness_checks(),
                     lifespan=runtime.lifespan, verifier=verifier,
                     title="Convene booking-pages")
    app.state.deps = deps
    return BookingPages(settings=settings, runtime=runtime, app=app, deps=deps)
