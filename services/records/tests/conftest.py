"""Fixtures for records' unit tests: the real wiring (``bootstrap``) over an in-memory store,
a recording publisher and a JWT verifier whose key pair is generated here."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from convene_kit.testing import GatewayKeys
from convene_records.bootstrap import INDEXES, Records, bootstrap
from convene_records.settings import RecordsSettings
from fastapi.testclient import TestClient

from services.records.tests.fakes import FakeStore, RecordingPublisher

Headers = dict[str, str]


@pytest.fixture(scope="session")
def gateway() -> GatewayKeys:
    return GatewayKeys()


@pytest.fixture
def settings() -> RecordsSettings:
    return RecordsSettings(topic_prefix="unit.", consumer_retry_initial_s=0.001,
                           consumer_retry_max_s=0.002)


@pytest.fixture
def store() -> FakeStore:
    return FakeStore(INDEXES)


@pytest.fixture
def publisher(settings: RecordsSettings) -> RecordingPublisher:
    return RecordingPublisher(settings)


@pytest.fixture
def service(settings: RecordsSettings, store: FakeStore, publisher: RecordingPublisher,
            gateway: GatewayKeys) -> Records:
    return bootstrap(settings, store=store, publisher=publisher,  # type: ignore[arg-type]
                     verifier=gateway.verifier())


@pytest.fixture
def client(service: Records) -> TestClient:
    """HTTP client of the app; the lifespan (Kafka, relay) is not started."""
    return TestClient(service.app)


@pytest.fixture
def auth(gateway: GatewayKeys) -> Callable[..., Headers]:
    """``auth(account_id)``: headers with a gateway token for a user of that account."""
    def headers(account_id: str, user_id: str = "usr_admin",
                roles: tuple[str, ...] = ()) -> Headers:
        return gateway.headers(account_id=account_id, user_id=user_id, roles=roles)

    return headers


@pytest.fixture
def account(client: TestClient, auth: Callable[..., Headers]) -> Headers:
    """An open account (random id); returns its admin's headers (only an admin adds users)."""
    headers = auth(f"acc_{uuid.uuid4().hex[:12]}", roles=("admin",))
    response = client.post("/account", json={"name": "Acme"}, headers=headers)
    assert response.status_code == 201, response.text
    return headers
