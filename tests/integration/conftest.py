"""Integration tests run against the servers `make infra-up` started (see support/)."""

import pytest

from support import load_infra_env
from support.services import Stack
from support.skeleton import Account

load_infra_env()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory):
    """The five services as processes, isolated by a topic prefix (started on first use)."""
    stack = Stack(tmp_path_factory.mktemp("stack"))
    try:
        stack.start()
        yield stack
    finally:
        stack.stop_all()
        stack.cleanup()


@pytest.fixture(scope="session")
def account(stack: Stack) -> Account:
    """An account with a host user and a contact, created through records' API."""
    return Account(stack)
