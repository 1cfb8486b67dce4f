"""The one place that builds records: settings -> store -> repositories -> broker -> app.

Tests replace one dependency with one keyword argument and keep the real wiring.
"""

from __future__ import annotations

from dataclasses import dataclass

from convene_kit.aggregates import Aggregates
from convene_kit.auth import JwtVerifier
from convene_kit.clock import Clock, utc_now
from convene_kit.consumer import subscribe_events
from convene_kit.http import create_app
from convene_kit.kafka import EventPublisher, build_broker
from convene_kit.outbox import Outbox
from convene_kit.relay import OutboxRelay
from convene_kit.revisions import RevisionLog
from convene_kit.runtime import ServiceRuntime
from convene_kit.store import MongoStore
from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from convene_records import crm_store
from convene_records import store as records_store
from convene_records.api import ROUTERS
from convene_records.handlers import TOPICS, build_handlers
from convene_records.service_layer.deps import RecordsDeps, concurrent_change
from convene_records.settings import RecordsSettings


@dataclass
class Records:
    """The built service: what the process entry point and tests need."""

    settings: RecordsSettings
    runtime: ServiceRuntime
    app: FastAPI
    deps: RecordsDeps


def build_deps(store: MongoStore, publisher: EventPublisher, *,
               clock: Clock = utc_now) -> RecordsDeps:
    """The repositories over the service's collections, and the aggregates publishing
    through ``publisher``."""
    revisions = RevisionLog(store.collection(records_store.REVISIONS), clock=clock)
    return RecordsDeps(
        accounts=records_store.AccountRepository(store.collection(records_store.ACCOUNTS)),
        users=records_store.UserRepository(store.collection(records_store.USERS)),
        contacts=records_store.ContactRepository(store.collection(records_store.CONTACTS)),
        timelines=records_store.TimelineRepository(
            store.collection(records_store.TIMELINE),
            store.collection(records_store.TIMELINE_MEETINGS)),
        crm={kind: crm_store.CrmRepository(kind, store.collection(name))  # type: ignore[arg-type]
             for kind, name in crm_store.CRM_COLLECTIONS.items()},
        associations=crm_store.AssociationRepository(store.collection(crm_store.ASSOCIATIONS)),
        meeting_facts=crm_store.MeetingFactRepository(store.collection(crm_store.MEETING_FACTS)),
        aggregates=Aggregates(revisions, Outbox(publisher), clock=clock,
                              conflict=concurrent_change),
        clock=clock,
    )


INDEXES = records_store.INDEXES + crm_store.CRM_INDEXES
"""Every index records declares."""
OUTBOX_COLLECTIONS = records_store.OUTBOX_COLLECTIONS + crm_store.CRM_OUTBOX_COLLECTIONS
"""Every collection whose documents carry an outbox."""


def bootstrap(
    settings: RecordsSettings | None = None,
    *,
    broker: KafkaBroker | None = None,
    store: MongoStore | None = None,
    publisher: EventPublisher | None = None,
    verifier: JwtVerifier | None = None,
    clock: Clock | None = None,
) -> Records:
    """Build records. ``verifier`` defaults to CONVENE_JWT_PUBLIC_KEY_FILE's key; ``clock``
    to :func:`convene_kit.clock.utc_now`."""
    settings = settings or RecordsSettings()
    broker = broker or build_broker(settings)
    store = store or MongoStore.from_settings(settings, indexes=INDEXES)
    publisher = publisher or EventPublisher(broker, settings)
    deps = build_deps(store, publisher, clock=clock or utc_now)
    # No processed-event records: the meeting handler's writes are version-guarded and keyed
    # by record and meeting, and the booking handler matches by address or derives the new
    # contact's id from it (both idempotent by construction), which saves a lookup and an
    # insert on every event.
    consumer = subscribe_events(broker, settings, TOPICS, build_handlers(deps))
    relay = OutboxRelay.from_settings(store, publisher, settings, collections=OUTBOX_COLLECTIONS)
    runtime = ServiceRuntime(settings, broker=broker, store=store, consumer=consumer, relay=relay,
                             background=[deps.aggregates.revisions.run_pruning])
    app = create_app(settings, routers=ROUTERS, readiness_checks=runtime.readiness_checks(),
                     lifespan=runtime.lifespan, verifier=verifier, title="Convene records")
    app.state.records_deps = deps
    return Records(settings=settings, runtime=runtime, app=app, deps=deps)
