"""The security suite runs against the five services as real processes (tests/integration's
Stack) on the running infrastructure; `make test` runs its fast profile, `make
test-security` the full one (CONVENE_SECURITY_PROFILE=full). Each check adds its figures to
security_support.FIGURES, written to .convene/artifacts/security.json and printed at the
end of the session."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from security_support import FIGURES, PROFILE
from security_support.stack import SecurityStack
from support import audit, load_infra_env
from support.calendars import connect_calendar
from support.skeleton import Account, schedule

load_infra_env()
audit.install()  # every httpx call is observed: passwords sent, answers kept (support/audit.py)

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Needs the infrastructure like tests/integration: the same marker, so `-m integration`
    # (make test-integration-run) selects these too.
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.integration)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not FIGURES.checks:
        return
    path = FIGURES.write()
    terminalreporter.section(f"security figures ({PROFILE} profile, {path})")
    for line in FIGURES.lines():
        terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory):
    """The five services, calendar-sync with the operator's default egress policy (no
    private, loopback or link-local URLs: CONVENE_ALLOW_PRIVATE_URLS=false), unlike the
    integration stack, which opens loopback for Radicale. Every credential the stack holds
    is remembered by the audit, which the last check and this fixture's end search for."""
    stack = SecurityStack(tmp_path_factory.mktemp("security-stack"))
    leaked = None
    try:
        stack.start(extra={"calendar-sync": SecurityStack.NO_PRIVATE_URLS})
        stack.remember_credentials()
        yield stack
        leaked = asyncio.run(audit.leaks_of_the_run(stack))
    finally:
        stack.stop_all()
        stack.cleanup()
    assert leaked is None, f"internal notes or credentials leaked during the run: {leaked}"


@pytest.fixture(scope="session")
async def account(stack: SecurityStack) -> Account:
    """An account with a host (calendar connected, R16) and a contact; one warm-up meeting
    proves meetings has every read model."""
    account = Account(stack)
    await connect_calendar(stack, account, account.host["id"])
    await schedule(stack, account, f"Warm-up-{account.id}", "security warm-up note")
    return account
