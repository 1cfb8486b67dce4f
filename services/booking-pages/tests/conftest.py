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
from convene_kit import devtokens
from convene_kit.auth import JwtVerifier
from convene_kit.testing import FakeStore, RecordingPublisher
from convene_schemas.base import Event
from convene_schemas.envelope import from_kafka_message, new_event_id, to_kafka_message
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

# The service's folder has a hyphen, so its tests are not a package: the support module is
# loaded by path once, here, and test modules import it as ``booking_pages_support``.
_spec = importlib.util.spec_from_file_location("booking_pages_support",
                                               Path(__file__).with_name("support.py"))
assert _spec is not None and _spec.loader is not None
support = importlib.util.module_from_spec(_spec)
sys.modules["booking_pages_support"] = support
_spec.loader.exec_module(support)
Clock = support.Clock
FakeAvailability = support.FakeAvailability
ACCOUNT = support.ACCOUNT
NOW = support.NOW


@pytest.fixture(scope="session")
def signing_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def mint(signing_key: ec.EllipticCurvePrivateKey) -> Callable[..., dict[str, str]]:
    pem = signing_key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())

    def headers(user_id: str, account_id: str = ACCOUNT,
                roles: tuple[str, ...] = ()) -> dict[str, str]:
        token = devtokens.mint_token(pem, account_id=account_id, user_id=user_id,
                                     roles=list(roles))
        return {"Authorization": f"Bearer {token}"}

    return headers


@dataclass
class Harness:
    service: BookingPages
    store: FakeStore
    publisher: RecordingPublisher
    availability: FakeAvailability
    clock: Clock

    async def deliver(self, event: Event) -> None:
        """Hand ``event`` to its handler as the consumer would (envelope and all)."""
        record = to_kafka_message(event, event_id=new_event_id())
        envelope = from_kafka_message(record.value, record.headers, record.key)
        await build_handlers(self.service.deps).handle(envelope)

    def events(self, kind: type[Event] | None = None) -> list[Any]:
        found = [envelope.event for envelope in self.publisher.events()]
        return [e for e in found if kind is None or isinstance(e, kind)]


def build_harness(signing_key: ec.EllipticCurvePrivateKey, **settings: Any) -> Harness:
    config = BookingPagesSettings(jwt_public_key_file=None, topic_prefix="",
                                  prefill_signing_key="k" * 32,  # type: ignore[arg-type]
                                  **settings)
    store = FakeStore()
    publisher = RecordingPublisher(config)
    public_pem = signing_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    verifier = JwtVerifier(public_pem, audience=config.jwt_audience, issuer=config.jwt_issuer)
    clock = Clock()
    availability = FakeAvailability()
    service = bootstrap(config, store=store, publisher=publisher,  # type: ignore[arg-type]
                        verifier=verifier, availability=availability,  # type: ignore[arg-type]
                        clock=clock)
    return Harness(service=service, store=store, publisher=publisher,
                   availability=availability, clock=clock)


@pytest.fixture
def harness(signing_key: ec.EllipticCurvePrivateKey) -> Harness:
    return build_harness(signing_key)


@pytest.fixture
def make_harness(signing_key: ec.EllipticCurvePrivateKey) -> Callable[..., Harness]:
    """A harness with other settings (rate limits, ...)."""
    return lambda **settings: build_harness(signing_key, **settings)


@pytest.fixture
async def client(harness: Harness) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=harness.service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://pages.convene.test") as c:
        yield c
