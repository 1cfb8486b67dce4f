"""Integration tests run against the servers `make infra-up` started (see support/)."""

import pytest
from support import audit, load_infra_env
from support.calendars import connect_calendar
from support.services import Stack
from support.skeleton import Account, schedule

load_infra_env()
audit.install()  # every HTTP call of the run is observed for internal notes (R11)


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
async def account(stack: Stack) -> Account:
    """An account with a host user (whose calendar is connected: R16) and a contact, created
    through records' API; one warm-up meeting proves meetings has every read model."""
    account = Account(stack)
    await connect_calendar(stack, account, account.host["id"])
    await schedule(stack, account, f"Warm-up-{account.id}", "warm-up")
    return account
