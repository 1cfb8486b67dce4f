"""Fixtures for records' unit tests: the real wiring (``bootstrap``) over an in-memory store,
a recording publisher and a JWT verifier whose key pair is generated here."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from convene_kit import devtokens
from convene_kit.auth import JwtVerifier
from convene_records.bootstrap import INDEXES, Records, bootstrap
from convene_records.settings import RecordsSettings
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from services.records.tests.fakes import FakeStore, RecordingPublisher

Headers = dict[str, str]


@pytest.fixture(scope="session")
def gateway_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


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
            gateway_key: ec.EllipticCurvePrivateKey) -> Records:
    public_pem = gateway_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    verifier = JwtVerifier(public_pem, audience="convene", issuer="convene-gateway")
    return bootstrap(settings, store=store, publisher=publisher, verifier=verifier)  # type: ignore[arg-type]


@pytest.fixture
def client(service: Records) -> TestClient:
    """HTTP client of the app; the lifespan (Kafka, relay) is not started."""
    return TestClient(service.app)


@pytest.fixture
def auth(gateway_key: ec.EllipticCurvePrivateKey) -> Callable[..., Headers]:
    """``auth(account_id)``: headers with a gateway token for a user of that account."""
    private_pem = gateway_key.private_bytes(serialization.Encoding.PEM,
                                            serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption())

    def headers(account_id: str, user_id: str = "usr_admin",
                roles: tuple[str, ...] = ()) -> Headers:
        token = devtokens.mint_token(private_pem, account_id=account_id, user_id=user_id,
                                     roles=roles)
        return {"Authorization": f"Bearer {token}"}

    return headers


@pytest.fixture
def account(client: TestClient, auth: Callable[..., Headers]) -> Headers:
    """An open account (random id); returns its admin's headers (only an admin adds users)."""
    headers = auth(f"acc_{uuid.uuid4().hex[:12]}", roles=("admin",))
    response = client.post("/account", json={"name": "Acme"}, headers=headers)
    assert response.status_code == 201, response.text
    return headers
