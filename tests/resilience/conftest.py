"""The resilience suite (make test-resilience): crashes, outages, network faults, poison,
provider throttling and revocation.

It runs its OWN infrastructure instance (.convene/resilience/, ports 29xxx:
chaos/instance.py), started here and stopped at the end whatever happens, because it stops
and starts servers; the default instance other runs share is never touched. The five
services run once each (no replica) under a supervisor that restarts a killed one.

CONVENE_RESILIENCE_PROFILE=fast|full (default fast) sizes every load;
CONVENE_RESILIENCE_MEETINGS overrides the crash run's meeting count (the issue's figure is
2,000: ``CONVENE_RESILIENCE_MEETINGS=2000``); CONVENE_RESILIENCE_SEED (default 17) fixes the
random kill moments. Figures of each scenario are printed at the end and written to
.convene/artifacts/resilience.json (and resilience-<profile>.json).
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the chaos package (and its entry modules, for children)

from chaos.instance import Instance  # noqa: E402

from infra.config import REPO_ROOT  # noqa: E402


@dataclass(frozen=True)
class Profile:
    name: str
    crash_meetings: int
    crash_rate: float
    reminder_every: int
    outage_meetings: int
    kafka_outage_s: float
    store_outage_s: float
    smtp_outage_s: float
    network_meetings: int
    network_phase_s: float
    poison_meetings: int
    provider_meetings: int  # posted through a Google throttling storm and a revoked grant
    provider_inbound: int  # events made in Google meanwhile
    storm_s: float
    revoked_s: float
    drain_cap_s: float


PROFILES = {
    "fast": Profile("fast", crash_meetings=200, crash_rate=10, reminder_every=5,
                    outage_meetings=20, kafka_outage_s=10, store_outage_s=10, smtp_outage_s=15,
                    network_meetings=24, network_phase_s=6, poison_meetings=4,
                    provider_meetings=30, provider_inbound=6, storm_s=12, revoked_s=6,
                    drain_cap_s=180),
    "full": Profile("full", crash_meetings=2000, crash_rate=15, reminder_every=10,
                    outage_meetings=100, kafka_outage_s=30, store_outage_s=30, smtp_outage_s=60,
                    network_meetings=100, network_phase_s=20, poison_meetings=20,
                    provider_meetings=300, provider_inbound=40, storm_s=60, revoked_s=30,
                    drain_cap_s=1200),
}
"""``drain_cap_s`` bounds the wait for what a run is owed, and is reached only when something
is missing. The full crash run's bound is calendar-sync's Google writes: about 2 a second on
2 busy cores (a new client and token refresh per write), so 2,000 meetings posted at 15/s
leave a backlog of several minutes after the last POST (600 s was not enough on 2026-12-04:
155 events still queued, none failed)."""


def _profile() -> Profile:
    name = os.environ.get("CONVENE_RESILIENCE_PROFILE", "fast")
    if name not in PROFILES:
        raise pytest.UsageError(f"CONVENE_RESILIENCE_PROFILE must be one of {sorted(PROFILES)}")
    profile = PROFILES[name]
    meetings = os.environ.get("CONVENE_RESILIENCE_MEETINGS")
    if meetings:
        if not meetings.isdigit() or int(meetings) < len(("records", "meetings", "notifications",
                                                          "calendar-sync", "booking-pages")):
            raise pytest.UsageError("CONVENE_RESILIENCE_MEETINGS must be a whole number >= 5 "
                                    "(one kill per service falls inside the run)")
        profile = dataclasses.replace(profile, crash_meetings=int(meetings))
    return profile


FIGURES: dict[str, Any] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def profile() -> Profile:
    return _profile()


@pytest.fixture(scope="session")
def rng() -> random.Random:
    return random.Random(int(os.environ.get("CONVENE_RESILIENCE_SEED", "17")))


@pytest.fixture(scope="session")
def figures() -> dict[str, Any]:
    return FIGURES


@pytest.fixture(scope="session")
def instance():
    """The suite's own servers: cleaned, started, and stopped at the end (even on failure)."""
    inst = Instance()
    started = time.monotonic()
    try:
        inst.up()
        FIGURES["_instance"] = {"home": str(inst.home), "up_s": round(time.monotonic() - started, 1),
                                "endpoints": inst.endpoints()}
        yield inst
    finally:
        inst.down()


@pytest.fixture(scope="session")
def supervised(instance, tmp_path_factory):
    """The five services, once each, supervised; stopped, and their topics and databases
    removed, at the end."""
    from chaos.services import EXTRA, Supervised
    from support.services import Stack

    stack = Stack(tmp_path_factory.mktemp("resilience-stack"), prefix=f"res{os.getpid()}.")
    sup = Supervised(stack)
    try:
        stack.start(extra=EXTRA)
        sup.supervisor.start()
        yield sup
    finally:
        sup.supervisor.stop()
        stack.stop_all()
        try:
            stack.cleanup()
        except Exception as exc:  # noqa: BLE001 - the instance is deleted next run anyway
            print(f"resilience: cleanup of the stack failed: {exc!r}")


@pytest.fixture(scope="session")
def stack(supervised):
    return supervised.stack


@pytest.fixture(scope="session")
def google(instance):
    """The admin API of the instance's Google emulator, with the stack's OAuth client."""
    from support import endpoint
    from support.services import GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET, GOOGLE_REDIRECT_URI

    from infra.emulators.google_calendar.client import EmulatorAdmin

    admin = EmulatorAdmin(endpoint("CONVENE_GOOGLE_URL"))
    admin.add_client(GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET, [GOOGLE_REDIRECT_URI])
    yield admin
    admin.close()


@pytest.fixture(scope="session")
async def connected_host(stack, google):
    """An account whose host's calendar is a Google account of the emulator, connected
    through the authorization code flow (R16, R22): calendar-sync writes every meeting to it.
    A warm-up meeting proves meetings has its read models."""
    from chaos.providers import connect_host
    from support.skeleton import Account, schedule

    account = Account(stack)
    calendar = await connect_host(stack, account, google)
    await schedule(stack, account, f"Warm-up-{account.id}", "warm-up")
    return account, calendar


@pytest.fixture(scope="session")
def account(connected_host):
    return connected_host[0]


@pytest.fixture(scope="session")
def host_calendar(connected_host):
    """The host's Google calendar (chaos.providers.HostCalendar)."""
    return connected_host[1]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    scenarios = {k: v for k, v in FIGURES.items() if not k.startswith("_")}
    if not scenarios:
        return
    payload = {"profile": _profile().name, "seed": int(os.environ.get("CONVENE_RESILIENCE_SEED", "17")),
               "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "exit_status": int(exitstatus), "machine": {"cores": os.cpu_count(),
                                                           "load_average": os.getloadavg()},
               "scenarios": scenarios, **{k: v for k, v in FIGURES.items() if k.startswith("_")}}
    artifacts = REPO_ROOT / ".convene" / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    text = json.dumps(payload, indent=2, default=str) + "\n"
    (artifacts / "resilience.json").write_text(text)
    (artifacts / f"resilience-{payload['profile']}.json").write_text(text)


def pytest_terminal_summary(terminalreporter, exitstatus: int) -> None:  # noqa: ARG001
    scenarios = {k: v for k, v in FIGURES.items() if not k.startswith("_")}
    if not scenarios:
        return
    write = terminalreporter.write_line
    terminalreporter.section(f"resilience figures ({_profile().name} profile)")
    for name, fig in scenarios.items():
        write(f"{name}: {json.dumps(fig, default=str)}")
    write(f"written to {REPO_ROOT / '.convene' / 'artifacts' / 'resilience.json'}")
