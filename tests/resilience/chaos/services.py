"""The suite's services: the integration tests' :class:`Stack` (one process per service, the
only instance) under an :class:`infra.supervise.Supervisor`, and probes of /readyz."""

from __future__ import annotations

import asyncio
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from support.services import PACKAGES, Stack

from infra.supervise import Supervisor

# Test settings on top of Stack's: notifications retries mail after 1 s (doubling to 5 s)
# so an SMTP outage of 60 s costs no 10-minute back-off at the end of a bounded run.
EXTRA = {"notifications": {"CONVENE_MAIL_RETRY_BASE_S": "1", "CONVENE_MAIL_RETRY_CAP_S": "5",
                           "CONVENE_MAIL_RETRY_MAX_ATTEMPTS": "1000"}}


class StackChild:
    """One service of the stack as the supervisor sees it (whatever process now serves it)."""

    def __init__(self, stack: Stack, name: str) -> None:
        self.stack, self.name = stack, name

    def start(self) -> None:
        self.stack.services[self.name].start()

    def poll(self) -> int | None:
        process = self.stack.services[self.name].process
        return None if process is None else process.poll()

    def pid(self) -> int | None:
        process = self.stack.services[self.name].process
        return None if process is None else process.pid


@dataclass
class Supervised:
    stack: Stack
    supervisor: Supervisor = field(init=False)

    def __post_init__(self) -> None:
        self.supervisor = Supervisor({name: StackChild(self.stack, name) for name in PACKAGES},
                                     initial_backoff_s=0.2, max_restarts=10)

    def pids(self) -> dict[str, int | None]:
        return {name: StackChild(self.stack, name).pid() for name in PACKAGES}

    @contextmanager
    def paused(self, name: str):
        """Stop or restart ``name`` on purpose without the supervisor starting it too."""
        self.supervisor.pause(name)
        try:
            yield
        finally:
            self.supervisor.resume(name)

    def restart(self, name: str, extra: dict[str, str] | None = None,
                module: str | None = None) -> None:
        with self.paused(name):
            self.stack.restart(name, extra={**EXTRA.get(name, {}), **(extra or {})},
                               module=module)


@dataclass
class Probe:
    """One /readyz answer (or why there was none) and how long it took."""

    service: str
    status: int | None
    checks: dict[str, Any]
    took_s: float


async def readyz(stack: Stack, name: str, timeout: float = 15.0) -> Probe:
    started = time.monotonic()
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.get(f"{stack.url(name)}/readyz")
        body = response.json()
        checks = body.get("checks") or body.get("error", {}).get("details", {}).get("checks", {})
        return Probe(name, response.status_code, checks, time.monotonic() - started)
    except (httpx.HTTPError, ValueError) as exc:
        return Probe(name, None, {"error": type(exc).__name__}, time.monotonic() - started)


async def wait_ready(stack: Stack, names: list[str], timeout: float) -> dict[str, float]:
    """Seconds until each service answered /readyz 200 (bounded; fails with its last answer)."""
    started = time.monotonic()
    ready: dict[str, float] = {}
    last: dict[str, Probe] = {}
    while len(ready) < len(names):
        for name in names:
            if name in ready:
                continue
            probe = await readyz(stack, name, timeout=5)
            last[name] = probe
            if probe.status == 200:
                ready[name] = round(time.monotonic() - started, 1)
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not ready after {timeout:.0f}s: "
                                 f"{ {n: (p.status, p.checks) for n, p in last.items() if n not in ready} }")
        await asyncio.sleep(0.5)
    return ready
