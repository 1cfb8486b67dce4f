"""Helpers for the integration tests: endpoints of the running infrastructure, random names,
bounded polls."""

from __future__ import annotations

import asyncio
import inspect
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

REPO_ROOT = Path(__file__).resolve().parents[3]
T = TypeVar("T")


def load_infra_env() -> dict[str, str]:
    """Read .convene/infra.env (written by `make infra-up`) into os.environ, without
    overriding variables already set."""
    home = Path(os.environ.get("CONVENE_HOME", REPO_ROOT / ".convene"))
    env_file = home / "infra.env"
    values: dict[str, str] = {}
    if env_file.exists():
        for line in env_file.read_text().splitlines():
            if line and not line.startswith("#") and "=" in line:
                key, _, value = line.partition("=")
                values[key] = value
                os.environ.setdefault(key, value)
    return values


def endpoint(name: str) -> str:
    """An endpoint variable of the infrastructure; fails clearly when infra is not up."""
    load_infra_env()
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set: start the infrastructure with `make infra-up`")
    return value


def unique(prefix: str) -> str:
    """A name no other test run uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def wait_for(
    probe: Callable[[], Awaitable[T | None] | T | None],
    what: str,
    timeout: float = 20.0,
    interval: float = 0.1,
) -> T:
    """Poll a probe (plain or async) until it returns something truthy; fail with `what` on
    time-out."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(interval)
