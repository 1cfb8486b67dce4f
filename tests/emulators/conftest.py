"""The Google Calendar emulator in-process on a free 127.0.0.1 port (one per module, a fresh
world per test), driven by the official client libraries (tests/emulators/google_support.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from infra.emulators.google_calendar.app import EmulatorThread
from infra.emulators.google_calendar.client import EmulatorAdmin
from infra.emulators.google_calendar.state import EmulatorConfig
from tests.emulators.google_support import (
    ALICE,
    BOB,
    PushReceiver,
    calendar_service,
    credentials_for,
    fresh_world,
)


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorThread]:
    with EmulatorThread(config=EmulatorConfig(push_retry_delays=(0.05, 0.1, 0.2))) as running:
        yield running


@pytest.fixture
def admin(emulator: EmulatorThread) -> Iterator[EmulatorAdmin]:
    """A fresh world per test: one OAuth client, Alice (Europe/Rome) and Bob (UTC)."""
    client = fresh_world(emulator)
    yield client
    client.close()


@pytest.fixture
def alice(emulator: EmulatorThread, admin: EmulatorAdmin) -> Any:
    """Alice's Calendar API service, as calendar-sync will build it."""
    return calendar_service(emulator, credentials_for(emulator, admin, ALICE))


@pytest.fixture
def bob(emulator: EmulatorThread, admin: EmulatorAdmin) -> Any:
    return calendar_service(emulator, credentials_for(emulator, admin, BOB))


@pytest.fixture
def receiver() -> Iterator[PushReceiver]:
    running = PushReceiver()
    yield running
    running.close()
