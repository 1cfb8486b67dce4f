"""Google push channels (events.watch): one per synced calendar, renewed before it expires,
stopped on disconnect. A notification only makes the calendar's sync due now; the change
itself is read by the sync (incremental, from the cursor), so a lost or repeated
notification loses or duplicates nothing, and the poll is the safety net.

Each channel has its own random token; only its SHA-256 is stored, and every notification
must present the token (compared in constant time) and the resource id Google gave.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import uuid
from datetime import timedelta
from typing import Any

from convene_kit.clock import as_utc
from prometheus_client import Gauge

from convene_calendar_sync import sync_timers
from convene_calendar_sync.deps import Deps
from convene_calendar_sync.domain.connection import Connection
from convene_calendar_sync.providers.base import CalendarAdapter, ProviderError
from convene_calendar_sync.store import calendar_key

logger = logging.getLogger(__name__)

CHANNELS_EXPIRING = Gauge("convene_calendar_channels_expiring",
                          "Push channels found within their renewal margin at the last sync.")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def ensure(deps: Deps, connection: Connection, calendar_id: str,
                 adapter: CalendarAdapter) -> None:
    """Make sure ``calendar_id`` has a live channel (Google, when a push address is set)."""
    settings = deps.settings
    watch = getattr(adapter, "watch", None)
    if connection.provider != "google" or not settings.google_push_address or watch is None:
        return
    now = deps.clock()
    key = calendar_key(calendar_id)
    current = [c for c in await deps.channels.of_connection(connection.connection_id)
               if c["calendar_key"] == key]
    margin = timedelta(seconds=settings.google_channel_renew_before_s)
    if any(as_utc(c["expires_at"]) > now + margin for c in current):
        return
    CHANNELS_EXPIRING.set(len(current))
    channel_id = uuid.uuid4().hex
    token = secrets.token_urlsafe(32)
    try:
        resource_id, expires_at = await watch(calendar_id, channel_id,
                                              settings.google_push_address, token,
                                              settings.google_channel_ttl_s)
    except ProviderError as exc:
        logger.warning("could not open a push channel for a calendar of %s: %s",
                       connection.connection_id, exc.code)
        return
    await deps.channels.put({"_id": channel_id, "account_id": connection.account_id,
                             "connection_id": connection.connection_id,
                             "calendar_id": calendar_id, "calendar_key": key,
                             "resource_id": resource_id, "token_hash": _hash(token),
                             "expires_at": expires_at, "created_at": now})
    for old in current:
        await _stop(deps, adapter, old)


async def stop_all(deps: Deps, connection: Connection, adapter: CalendarAdapter | None) -> None:
    """Stop every channel of ``connection`` (disconnect)."""
    for channel in await deps.channels.of_connection(connection.connection_id):
        await _stop(deps, adapter, channel)


async def _stop(deps: Deps, adapter: CalendarAdapter | None, channel: dict[str, Any]) -> None:
    stop = getattr(adapter, "stop_channel", None)
    if stop is not None:
        try:
            await stop(channel["_id"], channel["resource_id"])
        except ProviderError as exc:  # it expires by itself; notifications for it are refused
            logger.info("stopping channel %s failed (%s)", channel["_id"], exc.code)
    await deps.channels.delete(channel["_id"])


async def notified(deps: Deps, *, channel_id: str, token: str, resource_id: str,
                   state: str) -> bool:
    """A push notification; True when it is genuine (its channel, token and resource)."""
    channel = await deps.channels.get(channel_id)
    if channel is None or not hmac.compare_digest(channel["token_hash"], _hash(token)):
        return False
    if resource_id and resource_id != channel["resource_id"]:
        return False
    if state != "sync":  # "sync" only announces the channel; "exists"/"not_exists" mean news
        await sync_timers.sync_now(deps, channel["connection_id"], channel["calendar_id"],
                                   channel["account_id"])
    return True
