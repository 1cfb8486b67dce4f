"""Shared fixtures of the convene-schemas unit tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from convene_schemas.registry import Registry, load_registry

REPO_ROOT = Path(__file__).resolve().parents[3]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes seconds (builds a wheel, runs node)")


@pytest.fixture(scope="session")
def registry() -> Registry:
    return load_registry()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT
