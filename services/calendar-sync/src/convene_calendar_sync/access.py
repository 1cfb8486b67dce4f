"""Access lost and restored (R30): the connection's calendars marked inactive, so the user
is not bookable, until a sync succeeds again or the user reconnects."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from convene_calendar_sync.deps import Deps
from convene_calendar_sync.domain import connection as rules
from convene_calendar_sync.domain.connection import Connection
from convene_calendar_sync.domain.errors import NotFound

logger = logging.getLogger(__name__)


async def lost(deps: Deps, connection: Connection, calendar_ids: Iterable[str],
               reason: str) -> Connection:
    """Mark ``calendar_ids`` inactive (CalendarAccessLost once, not on every retry).
    ``connection`` is the one the failing call used: if the user gave new credentials since
    (a reconnect while the call was under way), the failure is stale and changes nothing."""
    wanted = list(calendar_ids)

    async def rule(current: Connection, now: datetime) -> rules.Change | None:
        return rules.lose_access(current, calendar_ids=wanted, reason=reason,  # type: ignore[arg-type]
                                 now=now, credentials_at=connection.credentials_at)

    logger.warning("access to %s calendar(s) of %s lost: %s", len(wanted),
                   connection.connection_id, reason)
    return await deps.aggregates.change(deps.connections, connection.account_id,
                                        connection.connection_id, rule,
                                        missing=NotFound(connection.connection_id))


async def restored(deps: Deps, connection: Connection, calendar_ids: Iterable[str]) -> Connection:
    """Mark ``calendar_ids`` active again (CalendarAccessRestored)."""
    wanted = list(calendar_ids)

    async def rule(current: Connection, now: datetime) -> rules.Change | None:
        return rules.restore_access(current, calendar_ids=wanted, now=now)

    return await deps.aggregates.change(deps.connections, connection.account_id,
                                        connection.connection_id, rule,
                                        missing=NotFound(connection.connection_id))
