"""Which calendars are synced when: one durable timer per counted calendar (kind
``calendar_sync``, the kit's timers), due at the next poll; a push notification or a
resync makes it due now."""

from __future__ import annotations

from datetime import timedelta

from convene_calendar_sync.deps import Deps
from convene_calendar_sync.domain.connection import Connection
from convene_calendar_sync.store import calendar_key

CALENDAR_SYNC = "calendar_sync"


def sync_timer_id(connection_id: str, calendar_id: str) -> str:
    return f"sync:{connection_id}:{calendar_key(calendar_id)}"


async def start(deps: Deps, connection: Connection, *, now: bool = True,
                delay_s: float = 0.0) -> None:
    """Sync every counted calendar of ``connection`` (now, or after ``delay_s``); forget
    the timers, cursors and busy data of calendars no longer counted."""
    due = deps.clock() + timedelta(seconds=0.0 if now else delay_s)
    counted = set(connection.calendar_ids) if connection.active else set()
    for calendar_id in sorted(counted):
        await deps.timers.schedule(sync_timer_id(connection.connection_id, calendar_id),
                                   CALENDAR_SYNC, due, account_id=connection.account_id,
                                   connection_id=connection.connection_id,
                                   calendar_id=calendar_id)
    dropped = [c.calendar_id for c in connection.listed if c.calendar_id not in counted]
    for calendar_id in dropped:
        await deps.timers.delete(sync_timer_id(connection.connection_id, calendar_id))
        await deps.busy.drop_calendar(connection.account_id, connection.connection_id,
                                      calendar_id)
        await deps.sync_states.drop_calendar(connection.connection_id, calendar_id)


async def sync_now(deps: Deps, connection_id: str, calendar_id: str, account_id: str) -> None:
    """A push notification: the calendar changed, sync it now."""
    await deps.timers.schedule(sync_timer_id(connection_id, calendar_id), CALENDAR_SYNC,
                               deps.clock(), account_id=account_id,
                               connection_id=connection_id, calendar_id=calendar_id)


async def stop(deps: Deps, connection: Connection) -> None:
    """No more syncs of ``connection`` (disconnected)."""
    await deps.timers.delete_where({"kind": CALENDAR_SYNC,
                                    "connection_id": connection.connection_id})
