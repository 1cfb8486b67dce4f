"""Background loops: one step every interval until the service stops.

Every periodic task of a service (the outbox relay's sweep, pruning, timers, the mail retry
queue) runs through :func:`every`, handed to ``ServiceRuntime(background=...)``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)


async def every(interval_s: float, stopping: asyncio.Event,
                step: Callable[[], Awaitable[object]], *, what: str) -> None:
    """Run ``step`` now and then every ``interval_s`` seconds until ``stopping`` is set.

    A failing step is logged and tried again next interval (a store outage must not end the
    loop); cancellation ends it at once.
    """
    while not stopping.is_set():
        try:
            await step()
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.warning("%s failed; trying again in %ss", what, interval_s, exc_info=True)
        await sleep_until_stopping(interval_s, stopping)


async def sleep_until_stopping(seconds: float, stopping: asyncio.Event) -> bool:
    """Wait ``seconds``, or less if ``stopping`` is set meanwhile; True if it was."""
    try:
        await asyncio.wait_for(stopping.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True
