"""Fixtures for booking-pages' unit tests (no servers): the service built by its real
``bootstrap`` with an in-memory store, a recording publisher, calendar-sync's availability
stood in for, and tokens signed by a key made here."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from convene_booking_pages.bootstrap import BookingPages, bootstrap
from convene_booking_pages.handlers import build_handlers
from convene_booking_pages.settings import BookingPagesSettings
from convene_kit.testing import FakeStore, GatewayKeys, ManualClock, RecordingPublisher
from convene_schemas.base import Event
from convene_schemas.envelope import from_kafka_message, new_event_id, to_kafka_message

# The service's folder has a hyphen, so its tests are not a package: the support module is
# loaded by path once, here, and test modules import it as ``booking_pages_support``.
_spec = importlib.util.spec_from_file_location("booking_pages_support",
                                               Path(__file__).with_name("support.py"))
assert _spec is not None and _spec.loader is not None
support = importlib.util.module_from_spec(_spec)
sys.modules["booking_pages_support"] = support
_spec.loader.exec_module(support)
FakeAvailability = support.FakeAvailability
ACCOUNT = support.ACCOUNT
NOW = support.NOW


@pytest.fixture(scope="session")
def gateway() -> GatewayKeys:
    return GatewayKeys()


@pytest.fixture
def mint(gateway: GatewayKeys) -> Callable[..., dict[str, str]]:
    def headers(user_id: str, account_id: str = ACCOUNT,
                roles: tuple[str, ...] = ()) -> dict[str, str]:
        return gateway.headers(account_id=account_id, user_id=user_id, roles=roles)

    return headers


@dataclass
class Harness:
    service: BookingPages
    store: FakeStore
    publisher: RecordingPublisher
    availability: FakeAvailability
    clock: ManualClock

    async def deliver(self, event: Event) -> None:
        """Hand ``event`` to its handler as the consumer would (envelope and all)."""
        record = to_kafka_message(event, event_id=new_event_id())
        envelope = from_kafka_message(record.value, record.headers, record.key)
        await build_handlers(self.service.deps).handle(envelope)

    def events(self, kind: type[Event] | None = None) -> list[Any]:
        found = [envelope.event for envelope in self.publisher.events()]
        return [e for e in found if kind is None or isinstance(e, kind)]


def build_harness(gateway: GatewayKeys, **settings: Any) -> Harness:
    config = BookingPagesSettings(jwt_public_key_file=None, topic_prefix="",
                                  prefill_signing_key="k" * 32,  # type: ignore[arg-type]
                                  **settings)
    store = FakeStore()
    publisher = RecordingPublisher(config)
    clock = ManualClock(NOW)
    availability = FakeAvailability()
    service = bootstrap(config, store=store, publisher=publisher,  # type: ignore[arg-type]
                        verifier=gateway.verifier(), availability=availability,  # type: ignore[arg-type]
                        clock=clock)
    return Harness(service=service, store=store, publisher=publisher,
                   availability=availability, clock=clock)


@pytest.fixture
def harness(gateway: GatewayKeys) -> Harness:
    return build_harness(gateway)


@pytest.fixture
def make_harness(gateway: GatewayKeys) -> Callable[..., Harness]:
    """A harness with other settings (rate limits, ...)."""
    return lambda **settings: build_harness(gateway, **settings)


@pytest.fixture
async def client(harness: Harness) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=harness.service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://pages.convene.test") as c:
        yield c
