"""The one place that builds calendar-sync: settings -> clients -> repositories -> broker -> app.

Tests replace one dependency with one keyword argument and keep the real wiring.
"""

from __future__ import annotations

from dataclasses import dataclass

from convene_kit.consumer import subscribe_events
from convene_kit.http import create_app
from convene_kit.kafka import build_broker
from convene_kit.runtime import ServiceRuntime
from convene_kit.store import MongoStore
from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from convene_calendar_sync.api import ROUTERS
from convene_calendar_sync.handlers import TOPICS, build_handlers
from convene_calendar_sync.settings import CalendarSyncSettings
from convene_calendar_sync.store import INDEXES


@dataclass
class CalendarSync:
    """The built service: what the process entry point and tests need."""

    settings: CalendarSyncSettings
    runtime: ServiceRuntime
    app: FastAPI


def bootstrap(
    settings: CalendarSyncSettings | None = None,
    *,
    broker: KafkaBroker | None = None,
    store: MongoStore | None = None,
) -> CalendarSync:
    settings = settings or CalendarSyncSettings()
    broker = broker or build_broker(settings)
    store = store or MongoStore.from_settings(settings, indexes=INDEXES)
    handlers = build_handlers()
    consumer = subscribe_events(broker, settings, TOPICS, handlers) if TOPICS else None
    runtime = ServiceRuntime(settings, broker=broker, store=store, consumer=consumer)
    app = create_app(settings, routers=ROUTERS, readiness_checks=runtime.readiness_checks(),
                     lifespan=runtime.lifespan, title="Convene calendar-sync")
    return CalendarSync(settings=settings, runtime=runtime, app=app)
