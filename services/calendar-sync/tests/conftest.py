"""Fixtures for calendar-sync's unit tests (no servers): the service built by its real
``bootstrap`` with an in-memory store, a recording publisher and an in-memory provider
behind the real adapter factory; tokens signed by a key made here."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from convene_calendar_sync.bootstrap import CalendarSync, bootstrap
from convene_calendar_sync.handlers import build_handlers
from convene_calendar_sync.settings import CalendarSyncSettings
from convene_kit.secret_box import generate_key
from convene_kit.testing import (
    FakeCollection,
    FakeStore,
    GatewayKeys,
    ManualClock,
    RecordingPublisher,
)
from convene_schemas.base import Event
from convene_schemas.envelope import from_kafka_message, new_event_id, to_kafka_message

# The service's folder has a hyphen, so its tests are not a package: the support module is
# loaded by path once, here, and test modules import it as ``calendar_sync_support``.
_spec = importlib.util.spec_from_file_location("calendar_sync_support",
                                               Path(__file__).with_name("support.py"))
assert _spec is not None and _spec.loader is not None
support = importlib.util.module_from_spec(_spec)
sys.modules["calendar_sync_support"] = support
_spec.loader.exec_module(support)
FakeAdapters = support.FakeAdapters
NOW = support.NOW
ACCOUNT = support.ACCOUNT

KEYRING = f"k1:{generate_key()}"
BOOKING_PAGES_TOKEN = support.BOOKING_PAGES_TOKEN


@pytest.fixture(scope="session")
def gateway() -> GatewayKeys:
    return GatewayKeys()


@pytest.fixture
def mint(gateway: GatewayKeys) -> Callable[..., dict[str, str]]:
    def headers(user_id: str, account_id: str = ACCOUNT) -> dict[str, str]:
        return gateway.headers(account_id=account_id, user_id=user_id)

    return headers


@dataclass
class Harness:
    service: CalendarSync
    store: FakeStore
    publisher: RecordingPublisher
    adapters: FakeAdapters
    clock: ManualClock

    async def deliver(self, event: Event) -> None:
        """Hand ``event`` to its handler as the consumer would (envelope and all)."""
        record = to_kafka_message(event, event_id=new_event_id())
        envelope = from_kafka_message(record.value, record.headers, record.key)
        await build_handlers(self.service.deps).handle(envelope)

    async def fire_timers(self) -> int:
        return await self.service.scheduler.fire_due()

    def collection(self, name: str) -> FakeCollection:
        return self.store.collection(name)

    def events(self, kind: type[Event] | None = None) -> list[Any]:
        found = [envelope.event for envelope in self.publisher.events()]
        return [e for e in found if kind is None or isinstance(e, kind)]


@pytest.fixture
def harness(gateway: GatewayKeys) -> Harness:
    settings = CalendarSyncSettings(topic_prefix="", jwt_public_key_file=None,
                                    credentials_encryption_key=KEYRING,  # type: ignore[arg-type]
                                    internal_api_tokens=f"booking-pages:{BOOKING_PAGES_TOKEN}")  # type: ignore[arg-type]
    store = FakeStore()
    publisher = RecordingPublisher(settings)
    clock = ManualClock(NOW)
    from convene_calendar_sync.bootstrap import keyring

    adapters = FakeAdapters(settings, keyring(settings))
    service = bootstrap(settings, store=store, publisher=publisher,  # type: ignore[arg-type]
                        verifier=gateway.verifier(), adapters=adapters, clock=clock)
    return Harness(service=service, store=store, publisher=publisher, adapters=adapters,
                   clock=clock)


@pytest.fixture
async def client(harness: Harness) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=harness.service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://calendar-sync") as c:
        yield c


