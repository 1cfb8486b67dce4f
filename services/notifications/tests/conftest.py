"""Fixtures of notifications' unit and contract tests: the service built by its real wiring
(``bootstrap``) over the kit's in-memory store and recording publisher, a recording mail
server and a clock fixed at NOW until a test moves it (``notifications_testing.build``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from convene_notifications.bootstrap import Notifications  # noqa: E402
from notifications_testing import (  # noqa: E402
    FakeMailer,
    FakeStore,
    ManualClock,
    RecordingPublisher,
    build,
    settings_for,
)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def mailer() -> FakeMailer:
    """The service's mail server; a test scripts failures with ``mailer.failures``."""
    return FakeMailer()


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher(settings_for())


@pytest.fixture
def service(store: FakeStore, mailer: FakeMailer, publisher: RecordingPublisher,
            clock: ManualClock) -> Notifications:
    return build(store=store, mailer=mailer, publisher=publisher, clock=clock)
