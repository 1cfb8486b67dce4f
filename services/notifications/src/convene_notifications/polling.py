"""The loop of a background task (ServiceRuntime ``background``): one step every interval
until the service stops; a failing step is logged and tried again next time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)


async def every(interval_s: float, stopping: asyncio.Event,
                step: Callable[[], Awaitable[object]], *, what: str) -> None:
    """Run ``step`` every ``interval_s`` seconds until ``stopping`` is set."""
    while not stopping.is_set():
        try:
            await step()
        except Exception:
            logger.warning("%s failed; trying again in %ss", what, interval_s, exc_info=True)
        try:
            await asyncio.wait_for(stopping.wait(), timeout=interval_s)
        except asyncio.TimeoutError:
            pass
