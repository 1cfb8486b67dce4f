"""Running Convene's services for a benchmark.

The integration tests' :class:`~support.services.Stack` does the isolation (a topic prefix,
databases, a JWT key pair, free ports per run). Here it learns two things: to run the
services of another checkout (a baseline revision's worktree, with that worktree's own
interpreter), to run a second replica of a service, and to run every service on its own
defaults (those `make run` and the chart use) rather than the tests' fast timers: a sweep
every half second and two-second store timeouts make the tests quick, but they are load and
behaviour no deployment has. The scheduling benchmarks also share the seeding: an account
with a host whose calendar is connected (R16) and a contact.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import REPO_ROOT, SinkWatcher, git_revision

sys.path.insert(0, str(REPO_ROOT / "tests" / "integration"))

from support import endpoint, load_infra_env  # noqa: E402
from support.calendars import connect_calendar  # noqa: E402
from support.services import PACKAGES, ServiceProcess, Stack, free_port  # noqa: E402
from support.skeleton import Account, auth, schedule  # noqa: E402

__all__ = ["Account", "BenchStack", "Target", "auth", "close", "current_target", "endpoint",
           "load_infra_env", "seeded_account", "sink_watcher", "stack_for"]


@dataclass(frozen=True)
class Target:
    """Which code the services run: a checkout and the interpreter of its environment."""

    label: str
    python: str
    checkout: Path
    revision: str


def current_target() -> Target:
    """The working tree as it is (uncommitted changes included)."""
    return Target("current", sys.executable, REPO_ROOT, git_revision())


@dataclass
class TargetProcess(ServiceProcess):
    """A service process of ``target``'s checkout, run with that checkout's interpreter."""

    target: Target | None = None

    def start(self) -> None:
        assert self.target is not None
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [self.target.python, "-m", PACKAGES[self.name]], env=self.env,
                cwd=self.target.checkout, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)


TEST_TIMINGS = ("CONVENE_OUTBOX_GRACE_S", "CONVENE_OUTBOX_SWEEP_INTERVAL_S",
                "CONVENE_OUTBOX_LEASE_S", "CONVENE_CONSUMER_RETRY_INITIAL_S",
                "CONVENE_CONSUMER_RETRY_MAX_S", "CONVENE_MONGO_TIMEOUT_S",
                "CONVENE_SYNC_INTERVAL_S", "CONVENE_SYNC_RETRY_S", "CONVENE_TIMER_INTERVAL_S",
                "CONVENE_SYNC_LEASE_S")
"""What the integration tests' stack shortens so tests run quickly; a benchmark leaves each to
the service's default."""


@dataclass
class BenchStack(Stack):
    """A :class:`Stack` whose services run ``target``'s code."""

    target: Target = field(default_factory=current_target)

    def __post_init__(self) -> None:
        super().__post_init__()  # keys and topics from this checkout's registry
        if self.target.checkout != REPO_ROOT:  # and the baseline's topics, if it has others
            subprocess.run([self.target.python, "-m", "convene_schemas.topics", "ensure",
                            "--bootstrap", endpoint("CONVENE_KAFKA_BOOTSTRAP"),
                            "--prefix", self.prefix], cwd=self.target.checkout,
                           check=True, capture_output=True)

    def env_for(self, service: str, port: int, extra: dict[str, str] | None = None
                ) -> dict[str, str]:
        env = super().env_for(service, port)
        for name in TEST_TIMINGS:
            env.pop(name, None)
        return {**env, **(extra or {})}

    def start(self, *names: str, extra: dict[str, dict[str, str]] | None = None) -> None:
        for name in names or tuple(PACKAGES):
            if name in self.services:
                self.services[name].stop()
            port = self.services[name].port if name in self.services else free_port()
            self.services[name] = TargetProcess(
                name, port, self.env_for(name, port, (extra or {}).get(name)),
                self.workdir / f"{name}.log", target=self.target)
            self.services[name].start()
        for name in names or tuple(PACKAGES):
            self.services[name].wait_ready()

    def add_replica(self, name: str, key: str, extra: dict[str, str] | None = None) -> str:
        """Start one more process of service ``name`` (same settings, its own port), kept
        under ``key`` so :meth:`stop_all` stops it too; returns its URL."""
        port = free_port()
        replica = TargetProcess(name, port, self.env_for(name, port, extra),
                                self.workdir / f"{key}.log", target=self.target)
        self.services[key] = replica
        replica.start()
        replica.wait_ready()
        return replica.url


def stack_for(target: Target, benchmark: str) -> BenchStack:
    """A new isolated stack (no service started yet); its logs go to a temporary folder
    that is kept for inspection."""
    workdir = Path(tempfile.mkdtemp(prefix=f"convene-bench-{benchmark}-"))
    return BenchStack(workdir, prefix=f"bench{uuid.uuid4().hex[:8]}.", target=target)


def sink_watcher() -> SinkWatcher:
    """A reader of the SMTP sink's folder, from now on."""
    return SinkWatcher(Path(endpoint("CONVENE_MAIL_SINK_DIR")))


async def close(stack: Stack) -> None:
    """Stop the stack's services, drop its databases and delete its topics."""
    await asyncio.to_thread(stack.stop_all)
    await asyncio.to_thread(stack.cleanup)  # it runs its own event loop


async def seeded_account(stack: BenchStack) -> Account:
    """An account with a host (calendar connected, as ``make run`` publishes it in
    calendar-sync's place) and a contact, made through records' API; one warm-up meeting
    proves meetings has every read model and notifications sends."""
    account = Account(stack)
    await connect_calendar(stack, account, account.host["id"])
    await schedule(stack, account, f"Warm-up-{account.id}", "warm-up")
    return account
