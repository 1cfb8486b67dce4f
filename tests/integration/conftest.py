"""Integration tests run against the servers `make infra-up` started (see support/)."""

import pytest

from support import load_infra_env

load_infra_env()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.integration)
