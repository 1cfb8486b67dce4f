"""Provider calls, counted and timed by provider, operation and outcome: every adapter the
factory builds is wrapped, so no adapter has to remember it."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import Histogram

from convene_calendar_sync.providers.base import ProviderError

PROVIDER_CALLS = Histogram(
    "convene_provider_call_seconds",
    "Calls to calendar providers by provider, operation and outcome (ok or the error code).",
    ["provider", "operation", "outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))

OPERATIONS = frozenset({"verify", "account_email", "list_calendars", "upsert_event",
                        "delete_event", "changes", "watch", "stop_channel",
                        "ensure_task_calendar", "delete_calendar", "upsert_task_event",
                        "delete_task_event"})


class MeteredAdapter:
    """An adapter whose provider calls are measured (others pass through)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.provider = inner.provider

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if name not in OPERATIONS:
            return attribute
        return _metered(self.provider, name, attribute)

    async def close(self) -> None:
        await self._inner.close()


def _metered(provider: str, operation: str,
             call: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    async def measured(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        outcome = "ok"
        try:
            return await call(*args, **kwargs)
        except ProviderError as exc:
            outcome = exc.code
            raise
        except Exception:
            outcome = "unexpected"
            raise
        finally:
            PROVIDER_CALLS.labels(provider=provider, operation=operation,
                                  outcome=outcome).observe(time.perf_counter() - started)

    return measured
