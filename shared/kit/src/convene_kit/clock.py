"""The one clock of every service: aware UTC, milliseconds (what BSON keeps).

Services and kit objects take a ``clock: Clock`` argument (defaulting to :func:`utc_now`)
instead of calling ``datetime.now``, so a test sets the time with one argument.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

Clock = Callable[[], datetime]
"""A function answering the current time, timezone-aware UTC."""


def utc_now() -> datetime:
    """Now, timezone-aware UTC, truncated to milliseconds (BSON's precision), so a time
    written and read back compares equal."""
    now = datetime.now(timezone.utc)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def as_utc(moment: datetime) -> datetime:
    """A time as aware UTC. The kit's store reads times aware; one without a zone (read by
    a client without ``tz_aware``) is UTC, as BSON keeps every time."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)
