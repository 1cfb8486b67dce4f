"""Availability (R18, R29, R30): a user's busy time over a range, merged across every
counted calendar of their active connections, from the busy mirror only (no provider call
on the request path). The owner sees titles; other users of the account see "busy"."""

from __future__ import annotations

from datetime import datetime

from convene_kit.auth import Principal

from convene_calendar_sync.deps import Deps
from convene_calendar_sync.domain.busy import Availability, BusyEntry, availability, check_range
from convene_calendar_sync.domain.errors import UserNotFound


async def user_availability(deps: Deps, principal: Principal, user_id: str, start: datetime,
                            end: datetime) -> tuple[Availability, bool]:
    """The availability of ``user_id`` (of the caller's account) as the caller may see it,
    and whether the user has any active connection at all. A user the account does not
    have (records' users as read here) is a 404, like another account's."""
    if await deps.users.get(principal.account_id, user_id) is None:
        raise UserNotFound(user_id)
    return await availability_of(deps, principal.account_id, user_id, start, end,
                                 viewer_is_owner=principal.user_id == user_id)


async def availability_of(deps: Deps, account_id: str, user_id: str, start: datetime,
                          end: datetime, *, viewer_is_owner: bool
                          ) -> tuple[Availability, bool]:
    """The availability of ``user_id`` of ``account_id``: titles only for the owner."""
    start, end = check_range(start, end)
    connections = [c for c in await deps.connections.of_user(account_id, user_id) if c.active]
    busy: dict[str, list[BusyEntry]] = {}
    active: dict[str, bool] = {}
    for connection in connections:
        for calendar_id in connection.calendar_ids:
            key = f"{connection.connection_id}\x1f{calendar_id}"
            active[key] = calendar_id not in connection.inactive_calendar_ids
            busy[key] = await deps.busy.busy_between(account_id, connection.connection_id,
                                                     calendar_id, start, end)
    view = availability(start, end, busy, active, viewer_is_owner=viewer_is_owner)
    inactive = [key.split("\x1f", 1)[1] for key in view.inactive_calendar_ids]
    view = Availability(start=view.start, end=view.end, busy=view.busy,
                        busy_merged=view.busy_merged,
                        bookable=view.bookable and bool(connections),
                        inactive_calendar_ids=inactive)
    return view, bool(connections)
