"""Integration tests run against the servers `make infra-up` started (see support/)."""

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from support import audit, load_infra_env
from support.calendar_sync import SyncAccount, disconnect_all
from support.calendars import connect_calendar
from support.services import Stack
from support.skeleton import Account, schedule

load_infra_env()
audit.install()  # every HTTP call of the run is observed for internal notes (R11)


HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The hook sees every item of the session: mark only this directory's.
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory):
    """The five services as processes, isolated by a topic prefix (started on first use)."""
    stack = Stack(tmp_path_factory.mktemp("stack"))
    leaked = None
    try:
        stack.start()
        yield stack
        # Notes written by any module, whichever ran after test_internal_notes.py, are
        # searched once more over everything the run produced (support/audit.py).
        leaked = asyncio.run(audit.leaks_of_the_run(stack))
    finally:
        stack.stop_all()
        stack.cleanup()
    assert leaked is None, f"internal notes or credentials leaked during the run: {leaked}"


@pytest.fixture(scope="session")
async def account(stack: Stack) -> Account:
    """An account with a host user (whose calendar is connected: R16) and a contact, created
    through records' API; one warm-up meeting proves meetings has every read model."""
    account = Account(stack)
    await connect_calendar(stack, account, account.host["id"])
    await schedule(stack, account, f"Warm-up-{account.id}", "warm-up")
    return account


@pytest.fixture
async def new_account(stack: Stack) -> AsyncIterator[Callable[[], SyncAccount]]:
    """calendar-sync's tests: accounts whose host may connect a calendar; their connections
    are disconnected when the test ends (so they stop polling the shared servers)."""
    made: list[SyncAccount] = []

    def make() -> SyncAccount:
        made.append(SyncAccount(stack))
        return made[-1]

    yield make
    for acc in made:
        await disconnect_all(stack, acc)
