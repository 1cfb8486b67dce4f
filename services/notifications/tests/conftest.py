"""Fixtures of the notifications unit tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from notifications_testing import FakeMailer, FakeStore  # noqa: E402


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def mailer() -> FakeMailer:
    return FakeMailer()
