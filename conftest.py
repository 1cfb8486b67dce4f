"""The three kinds of tests (README, "Tests"), told apart by marker:

- ``integration``: ``tests/integration/`` (its conftest marks them), real servers;
- ``contract``: the event contract and the services' Kafka wiring (FastStream's
  ``TestKafkaBroker``, the registry, the AsyncAPI document, the JSON Schemas), marked in
  their module (``pytestmark = pytest.mark.contract``) or on the test;
- ``unit``: every other test under ``shared/``, ``services/`` and ``examples/``, marked here.

So ``-m unit``, ``-m contract`` and ``-m integration`` each select one kind.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
UNIT_TREES = (ROOT / "shared", ROOT / "services", ROOT / "examples")


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("contract") or item.get_closest_marker("integration"):
            continue
        if any(item.path.is_relative_to(tree) for tree in UNIT_TREES):
            item.add_marker(pytest.mark.unit)
