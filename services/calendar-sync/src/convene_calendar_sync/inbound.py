"""Calendars into Convene (R18, R26, R27, R29, R30): one calendar synced at a time.

The timer kind ``calendar_sync`` fires per counted calendar; a lease makes one replica sync
it. A sync reads pages of changes from the stored cursor (none: a full listing) and, per
page:

1. keeps the busy mirror (every counted calendar, whatever the sync switch says);
2. with calendar sync on, publishes CalendarEventChanged for events with a CRM contact of
   the account among their attendees, and follows events it published before (their
   changes and deletion) through the :class:`SyncedEvent` aggregates, whose events go
   through the outbox;
3. only then stores the cursor. A crash at any point repeats work, never skips it; a full
   listing's intermediate cursors are not stored (the listing restarts), so "what the
   listing did not show is gone" is never judged on half a listing.

A dropped cursor (Google 410, CalDAV invalid sync-token) starts a full listing that loses
nothing and duplicates nothing: published events with the same content are not published
again, and meetings derives one meeting id per calendar event. Access errors mark the
calendars inactive (R30); a provider that is down is retried at the next poll.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from convene_kit.aggregates import KeyTaken
from convene_kit.clock import as_utc
from convene_kit.store import MAX_FIND, find_all
from prometheus_client import Counter, Histogram
from pydantic import ValidationError

from convene_calendar_sync import access, channels, outbound
from convene_calendar_sync.deps import Deps
from convene_calendar_sync.domain.calendar_events import RemoteEvent
from convene_calendar_sync.domain.connection import Connection
from convene_calendar_sync.domain.errors import NotFound
from convene_calendar_sync.domain.synced import (
    SyncedEvent,
    calendar_event_id_for,
    changed_event,
    contact_attendees,
    fingerprint,
)
from convene_calendar_sync.providers.base import (
    AccessDenied,
    CalendarAdapter,
    CalendarGone,
    CursorExpired,
    ProviderUnavailable,
)
from convene_calendar_sync.sync_timers import CALENDAR_SYNC

logger = logging.getLogger(__name__)

SYNCS = Counter("convene_calendar_syncs_total", "Calendar syncs by provider and outcome.",
                ["provider", "outcome"])
SYNC_LAG = Histogram("convene_calendar_sync_lag_seconds",
                     "Time since a calendar's previous successful sync, at each success.",
                     ["provider"], buckets=(1, 5, 15, 60, 300, 900, 3600, 21600, 86400))
MAX_PAGES = 200  # one firing reads at most this many pages; the rest comes next firing


class CalendarPolling:
    """The durable timer kind ``calendar_sync``: sync one calendar, then plan the next."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def fire(self, timer: dict[str, Any]) -> bool:
        deps = self.deps
        lease = await deps.leases.lease(f"lease:{timer['_id']}",
                                        timedelta(seconds=deps.settings.sync_lease_s),
                                        now=deps.clock())
        if lease is None:
            return False
        try:
            return await self._sync(timer)
        finally:  # the next sync (a push, a poll) need not wait for the window to end
            await deps.leases.release_claim(lease.claim_id)

    async def _sync(self, timer: dict[str, Any]) -> bool:
        deps = self.deps
        connection = await deps.aggregates.load(deps.connections, timer["account_id"],
                                                timer["connection_id"])
        calendar_id = timer["calendar_id"]
        if (connection is None or not connection.active
                or calendar_id not in connection.calendar_ids):
            await deps.timers.delete(timer["_id"])
            return True
        outcome = await sync_calendar(deps, connection, calendar_id)
        # a provider that is down is tried again soon; lost access waits for the next poll
        # (or a reconnect, which plans the sync at once) rather than hammering the provider
        delay = (deps.settings.sync_retry_s if outcome == "unavailable"
                 else deps.settings.sync_interval_s)
        await deps.timers.schedule(timer["_id"], CALENDAR_SYNC,
                                   deps.clock() + timedelta(seconds=delay),
                                   account_id=connection.account_id,
                                   connection_id=connection.connection_id,
                                   calendar_id=calendar_id)
        return True


async def sync_calendar(deps: Deps, connection: Connection, calendar_id: str) -> str:
    """Sync one calendar from its stored cursor; the outcome: ``ok`` (up to date),
    ``access_denied``, ``calendar_gone`` or ``unavailable``."""
    outcome = "ok"
    adapter: CalendarAdapter | None = None
    try:
        adapter = deps.adapters.for_connection(connection, await deps.credentials.get(
            connection.account_id, connection.connection_id))
        await _sync(deps, connection, calendar_id, adapter)
        if calendar_id in connection.inactive_calendar_ids:
            restored = await access.restored(deps, connection, [calendar_id])
            await outbound.replay_awaiting_access(deps, restored)  # what waited is written
        await channels.ensure(deps, connection, calendar_id, adapter)
    except AccessDenied as exc:
        outcome = "access_denied"
        await access.lost(deps, connection, connection.calendar_ids, exc.reason)
    except CalendarGone:
        outcome = "calendar_gone"
        await access.lost(deps, connection, [calendar_id], "calendar_removed")
    except ProviderUnavailable:
        outcome = "unavailable"
        logger.info("calendar %s of %s unavailable; retrying later", calendar_id,
                    connection.connection_id)
    finally:
        SYNCS.labels(provider=connection.provider, outcome=outcome).inc()
        if adapter is not None:
            await adapter.close()
    return outcome


async def _sync(deps: Deps, connection: Connection, calendar_id: str,
                adapter: CalendarAdapter) -> None:
    state = await deps.sync_states.get(connection.connection_id, calendar_id) or {}
    cursor: str | None = state.get("cursor")
    now = deps.clock()
    window = (now - timedelta(days=deps.settings.sync_window_past_days),
              now + timedelta(days=deps.settings.sync_window_future_days))
    listed: list[RemoteEvent] = []  # a full listing's events, judged when it is complete
    restarted = False
    for _ in range(MAX_PAGES):
        try:
            page = await adapter.changes(calendar_id, cursor, window_start=window[0],
                                         window_end=window[1])
        except CursorExpired:
            if restarted:
                raise ProviderUnavailable("the provider dropped a fresh cursor") from None
            logger.info("sync cursor of %s dropped by the provider: full listing", calendar_id)
            restarted, cursor, listed = True, None, []
            continue
        await _publish(deps, connection, calendar_id, page.events)
        if page.full:
            listed.extend(page.events)
            if page.done:
                await deps.busy.replace_calendar(connection.account_id,
                                                 connection.connection_id, calendar_id,
                                                 listed, window)
                await _gone(deps, connection, calendar_id, listed, window[0])
        else:
            for event in page.events:
                await deps.busy.put_event(connection.account_id, connection.connection_id,
                                          calendar_id, event)
        cursor = page.cursor
        if page.done or not page.full:
            await deps.sync_states.save(connection.account_id, connection.connection_id,
                                        calendar_id, cursor=cursor, synced_at=deps.clock(),
                                        provider=connection.provider)
        if page.done:
            previous = state.get("synced_at")
            if previous is not None:
                SYNC_LAG.labels(provider=connection.provider).observe(
                    (deps.clock() - as_utc(previous)).total_seconds())
            return


async def _publish(deps: Deps, connection: Connection, calendar_id: str,
                   events: Sequence[RemoteEvent]) -> None:
    """CalendarEventChanged for the page's events that have CRM contacts or were published
    before (R26); calendar sync off: nothing (R26)."""
    if not connection.sync_enabled or not events:
        return
    user = await deps.users.get(connection.account_id, connection.user_id) or {}
    own = [user.get("email", ""), connection.account_email]
    for event in events:
        await _publish_one(deps, connection, calendar_id, event, own)


async def _publish_one(deps: Deps, connection: Connection, calendar_id: str,
                       event: RemoteEvent, own: Sequence[str]) -> None:
    calendar_event_id = calendar_event_id_for(connection.connection_id, calendar_id,
                                              event.provider_event_id)
    existing = await deps.aggregates.load(deps.synced_events, connection.account_id,
                                          calendar_event_id)
    if existing is None:
        if event.deleted or not await _has_contacts(deps, connection, event, own):
            return  # never published: only the busy mirror knows it
        now = deps.clock()
        try:
            published = changed_event(connection, calendar_id, event, change="created",
                                      version=0, now=now)
        except ValidationError as exc:  # provider data the contract cannot carry
            logger.warning("event %s of a calendar of %s not published: %s",
                           event.provider_event_id[:80], connection.connection_id,
                           exc.errors()[0].get("msg", "invalid"))
            return
        synced = SyncedEvent(calendar_event_id=calendar_event_id,
                             account_id=connection.account_id,
                             connection_id=connection.connection_id, user_id=connection.user_id,
                             calendar_id=calendar_id, provider_event_id=event.provider_event_id,
                             fingerprint=fingerprint(published), end=event.end,
                             updated_at=now)
        try:
            await deps.aggregates.create(deps.synced_events, synced, [published])
            return
        except KeyTaken:
            pass  # published concurrently (another replica's sync): follow it as a change

    async def rule(current: SyncedEvent, now: datetime) -> tuple[SyncedEvent, list[Any]] | None:
        if event.deleted:
            if current.deleted:
                return None
            change = "deleted"
        else:
            change = "created" if current.deleted else "updated"
        try:
            published = changed_event(connection, calendar_id, event, change=change,
                                      version=current.version + 1, now=now)
        except ValidationError:  # provider data the contract cannot carry: keep the last
            logger.warning("a change of event %s not published: invalid for the contract",
                           current.calendar_event_id)
            return None
        new_print = fingerprint(published)
        if new_print == current.fingerprint:
            return None  # a full resync listing the same event: nothing new
        new = current.model_copy(update={"fingerprint": new_print, "deleted": event.deleted,
                                         "end": event.end or current.end,
                                         "version": current.version + 1, "updated_at": now})
        return new, [published]

    await deps.aggregates.change(deps.synced_events, connection.account_id, calendar_event_id,
                                 rule, missing=NotFound(calendar_event_id))


async def _has_contacts(deps: Deps, connection: Connection, event: RemoteEvent,
                        own: Sequence[str]) -> bool:
    addresses = {a.lower() for a in event.attendee_emails}
    if event.organizer_email:
        addresses.add(event.organizer_email.lower())
    addresses -= {o.lower() for o in own if o}
    contacts: set[str] = set()
    for address in sorted(addresses)[:100]:
        found = await deps.contacts.collection.find_one(
            {"account_id": connection.account_id, "email_lower": address, "deleted": False})
        if found is not None:
            contacts.add(address)
    return bool(contact_attendees(event, contacts, own))


async def _gone(deps: Deps, connection: Connection, calendar_id: str,
                listed: Iterable[RemoteEvent], window_start: datetime) -> None:
    """After a complete full listing: published events it did not show were deleted while
    the cursor was lost; publish their deletion. A full listing covers the sync window
    only (Google's starts at ``timeMin``), so events that ended before it are not judged."""
    if not connection.sync_enabled:
        return
    shown = {e.provider_event_id for e in listed if not e.deleted}
    query = {"account_id": connection.account_id, "connection_id": connection.connection_id,
             "calendar_id": calendar_id, "deleted": False}
    after = ""
    while True:  # keyset pages by _id: a calendar may have followed many events
        found = await find_all(deps.synced_events.collection, {**query, "_id": {"$gt": after}},
                               sort=[("_id", 1)], limit=MAX_FIND)
        for document in found:
            ended = document.get("end")
            if ended is not None and as_utc(ended) < window_start:
                continue
            if document["provider_event_id"] not in shown:
                await _publish_one(deps, connection, calendar_id,
                                   RemoteEvent(provider_event_id=document["provider_event_id"],
                                               deleted=True), [])
        if len(found) < MAX_FIND:
            return
        after = found[-1]["_id"]

