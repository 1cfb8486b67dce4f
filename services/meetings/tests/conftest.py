"""Fixtures for meetings' unit and contract tests (no servers): the service built by its
real ``bootstrap`` with an in-memory store and a capturing publisher, tokens signed by a key
made here, and builders of records' events."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from convene_kit.testing import GatewayKeys
from convene_meetings.bootstrap import MeetingsService, bootstrap
from convene_meetings.handlers import build_handlers
from convene_meetings.settings import MeetingsSettings
from convene_schemas.base import Event
from convene_schemas.envelope import from_kafka_message, new_event_id, to_kafka_message
from convene_schemas.events.calendar_sync import Calendar, CalendarConnected
from convene_schemas.events.records import AccountSettingsChanged, ContactUpserted, UserUpserted

# Test modules are imported by path (--import-mode=importlib); the repository root is on
# sys.path (pytest's pythonpath), so the fakes are reached as a namespace package.
from services.meetings.tests.fakes import FakeCollection, FakeStore, RecordingPublisher

# ---------------------------------------------------------------------------------------
# Tokens, the service, a client

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="session")
def gateway() -> GatewayKeys:
    return GatewayKeys()


@pytest.fixture
def mint(gateway: GatewayKeys) -> Callable[..., dict[str, str]]:
    def headers(account_id: str, user_id: str, roles: tuple[str, ...] = ()) -> dict[str, str]:
        return gateway.headers(account_id=account_id, user_id=user_id, roles=roles)

    return headers


@dataclass
class Harness:
    service: MeetingsService
    store: FakeStore
    publisher: RecordingPublisher

    async def deliver(self, event: Event, event_id: str | None = None) -> None:
        """Hand ``event`` to its handler as the consumer would (envelope and all)."""
        record = to_kafka_message(event, event_id=event_id or new_event_id())
        envelope = from_kafka_message(record.value, record.headers, record.key)
        await build_handlers(self.service.deps).handle(envelope)

    def collection(self, name: str) -> FakeCollection:
        return self.store.collection(name)


@pytest.fixture
def harness(gateway: GatewayKeys) -> Harness:
    settings = MeetingsSettings(topic_prefix="", jwt_public_key_file=None)
    store = FakeStore()
    publisher = RecordingPublisher(settings)
    service = bootstrap(settings, store=store, publisher=publisher,  # type: ignore[arg-type]
                        verifier=gateway.verifier(), clock=lambda: NOW)
    return Harness(service=service, store=store, publisher=publisher)


@pytest.fixture
async def client(harness: Harness) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=harness.service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://meetings") as c:
        yield c


# ---------------------------------------------------------------------------------------
# records' events, as records would publish them


def user_upserted(account_id: str, user_id: str, version: int = 0, **fields: Any) -> UserUpserted:
    values: dict[str, Any] = {
        "email": f"{user_id}@acme.example", "name": f"User {user_id}",
        "time_zone": "Europe/Rome", "language": "it", "seat": "sales_professional",
        "personal_email_access": True, "active": True,
    }
    values.update(fields)
    return UserUpserted(account_id=account_id, version=version,
                        occurred_at=NOW - timedelta(days=1) + timedelta(seconds=version),
                        user_id=user_id, **values)


def contact_upserted(account_id: str, contact_id: str, version: int = 0,
                     **fields: Any) -> ContactUpserted:
    values: dict[str, Any] = {
        "email": f"{contact_id}@globex.example", "email_valid": True,
        "email_invalid_reason": None, "first_name": "Dana", "last_name": "Lee",
        "time_zone": "America/New_York", "language": "en",
    }
    values.update(fields)
    return ContactUpserted(account_id=account_id, version=version,
                           occurred_at=NOW - timedelta(days=1) + timedelta(seconds=version),
                           contact_id=contact_id, **values)


def account_settings(account_id: str, version: int = 0, **fields: Any) -> AccountSettingsChanged:
    values: dict[str, Any] = {
        "account_created_at": datetime(2024, 1, 1, tzinfo=timezone.utc), "is_sandbox": False,
        "hub_tier": "professional", "default_time_zone": "Europe/Rome",
        "default_language": "it", "reminders_enabled_by_default": False,
        "default_reminders": [], "custom_meeting_types_enabled": False,
    }
    values.update(fields)
    return AccountSettingsChanged(account_id=account_id, version=version,
                                  occurred_at=NOW - timedelta(days=1), **values)


def calendar_connected(account_id: str, user_id: str, version: int = 0,
                       connection_id: str | None = None, **fields: Any) -> CalendarConnected:
    """A CalendarConnected as calendar-sync would publish it (sync on by default)."""
    values: dict[str, Any] = {
        "provider": "google", "account_email": f"{user_id}@gmail.example",
        "calendars": [Calendar(calendar_id="primary", name="Work", primary=True,
                               access="owner", active=True)],
        "primary_calendar_id": "primary", "sync_enabled": True, "purpose": "all",
    }
    values.update(fields)
    return CalendarConnected(account_id=account_id, version=version,
                             occurred_at=NOW - timedelta(days=1) + timedelta(seconds=version),
                             connection_id=connection_id or new_id("conn"), user_id=user_id,
                             **values)


def new_id(prefix: str) -> str:
    """A random id per test, so tests never share state by accident."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


class Records:
    """Builders of records' events (test modules cannot import conftest under importlib)."""

    now = NOW
    user = staticmethod(user_upserted)
    contact = staticmethod(contact_upserted)
    settings = staticmethod(account_settings)
    calendar = staticmethod(calendar_connected)
    new_id = staticmethod(new_id)


@pytest.fixture
def records() -> type[Records]:
    return Records
