"""Connections: connect Google (authorization code + PKCE) or CalDAV, list, change settings,
disconnect, resync (R22, R25, R26, R29–R33).

Service functions over :class:`~convene_calendar_sync.deps.Deps`; the API views call them.
Every change goes through the kit's versioned aggregates, so each publishes the contract's
connection events through the outbox.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from convene_kit.aggregates import KeyTaken
from convene_kit.auth import Principal
from convene_kit.egress import EgressRefused, check_url
from convene_schemas.base import Event
from prometheus_client import Gauge

from convene_calendar_sync import channels, outbound, sync_timers, task_sync
from convene_calendar_sync.adapters import credential_context
from convene_calendar_sync.deps import Deps
from convene_calendar_sync.domain import connection as rules
from convene_calendar_sync.domain.calendar_events import ProviderCalendar
from convene_calendar_sync.domain.connection import Connection, Provider
from convene_calendar_sync.domain.errors import (
    Conflict,
    NotAllowed,
    NotFound,
    ProviderDown,
    ProviderRefused,
)
from convene_calendar_sync.providers.base import (
    AccessDenied,
    CalendarAdapter,
    ProviderError,
    ProviderUnavailable,
)

logger = logging.getLogger(__name__)

CONNECTIONS_BY_STATE = Gauge("convene_calendar_connections",
                             "Calendar connections by provider and state, all accounts.",
                             ["provider", "state"])


async def require_permission(deps: Deps, principal: Principal) -> None:
    """R1/R22: only an active user with the personal-email-access permission connects."""
    user = await deps.users.get(principal.account_id, principal.user_id)
    if user is None or not user.get("active", False) or not user.get("personal_email_access"):
        raise NotAllowed("personal_email_access_required",
                         "Connecting a calendar needs the personal email access permission.")


# --- Google: authorization code + PKCE ------------------------------------------------------

async def start_google(deps: Deps, principal: Principal) -> str:
    """The URL the user's browser goes to. The ``state`` is unguessable, bound to the user,
    short-lived and usable once; only its hash is stored (ASVS V10)."""
    await require_permission(deps, principal)
    state = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)  # 86 characters: RFC 7636 allows 43-128
    now = deps.clock()
    sealed = deps.box.seal(verifier, context=_state_context(principal))
    await deps.oauth_states.put(state, {
        "account_id": principal.account_id, "user_id": principal.user_id,
        "verifier": dict(sealed), "created_at": now,
        "expires_at": now + timedelta(seconds=deps.settings.oauth_state_ttl_s)})
    return deps.adapters.google_authorization_url(state, verifier)


async def finish_google(deps: Deps, principal: Principal, *, state: str, code: str | None,
                        error: str | None) -> Connection:
    """The OAuth callback: the state must be this user's, unexpired and unused."""
    pending = await deps.oauth_states.take(state, deps.clock())
    if (pending is None or pending["account_id"] != principal.account_id
            or pending["user_id"] != principal.user_id):
        raise ProviderRefused("oauth_state_invalid",
                              "This authorization is unknown, expired, already used or "
                              "started by someone else; start connecting again.")
    if error or not code:
        raise ProviderRefused("oauth_denied", "Google did not grant access.",
                              {"error": (error or "no_code")[:100]})
    await require_permission(deps, principal)
    verifier = deps.box.open(pending["verifier"], context=_state_context(principal))
    try:
        grant = await deps.adapters.exchange_google_code(code, verifier)
    except ProviderUnavailable as exc:
        raise ProviderDown("provider_unavailable", "Google could not be reached; try again.") from exc
    except ProviderError as exc:
        raise ProviderRefused(exc.code, str(exc)) from exc
    adapter = deps.adapters.google_adapter(grant.refresh_token, grant.account_email)
    try:
        listed = await _calendars(adapter)
    finally:
        await adapter.close()
    return await _connect(deps, principal, provider="google", account_email=grant.account_email,
                          listed=listed, secret=grant.refresh_token, login=None,
                          server_url=None)


def _state_context(principal: Principal) -> str:
    return f"calendar-sync:oauth-state:{principal.account_id}:{principal.user_id}"


# --- CalDAV -----------------------------------------------------------------------------------

async def connect_caldav(deps: Deps, principal: Principal, *, url: str, username: str,
                         password: str) -> Connection:
    """Connect a CalDAV account, verified now: a wrong password or a URL that is not a
    CalDAV server is a clear 400; a refused address too (SSRF)."""
    await require_permission(deps, principal)
    try:
        await check_url(url, deps.adapters.policy, resolver=deps.adapters.resolver)
    except EgressRefused as exc:
        raise ProviderRefused("url_refused", "This address cannot be used for a calendar "
                              "server.", {"reason": exc.reason_code}) from exc
    adapter = deps.adapters.caldav(url, username, password)
    try:
        listed = await _calendars(adapter, verify=True)
        account_email = await adapter.account_email()
    finally:
        await adapter.close()
    return await _connect(deps, principal, provider="caldav", account_email=account_email,
                          listed=listed, secret=password, login=username, server_url=url)


async def _calendars(adapter: CalendarAdapter, *, verify: bool = False) -> list[ProviderCalendar]:
    try:
        verifier = getattr(adapter, "verify", None)
        if verify and verifier is not None:
            return list(await verifier())
        return list(await adapter.list_calendars())
    except AccessDenied as exc:
        raise ProviderRefused("credentials_refused",
                              "The calendar server refused these credentials.") from exc
    except ProviderUnavailable as exc:
        raise ProviderDown("provider_unavailable",
                           "The calendar server could not be reached; try again.") from exc
    except ProviderError as exc:
        raise ProviderRefused(exc.code, str(exc)) from exc


async def _connect(deps: Deps, principal: Principal, *, provider: Provider, account_email: str,
                   listed: Sequence[ProviderCalendar], secret: str, login: str | None,
                   server_url: str | None) -> Connection:
    account_id, user_id = principal.account_id, principal.user_id
    connection_id = rules.connection_id_for(account_id, user_id, provider, account_email)
    now = deps.clock()
    await _claim_slot(deps, account_id, user_id, connection_id, now)
    sealed = deps.box.seal(secret, context=credential_context(account_id, connection_id))
    await deps.credentials.put(account_id, connection_id, kind=(
        "refresh_token" if provider == "google" else "password"), login=login, sealed=sealed,
        now=now)
    existing = await deps.aggregates.load(deps.connections, account_id, connection_id)
    if existing is None:
        connection, events = rules.new_connection(
            account_id=account_id, user_id=user_id, provider=provider,
            account_email=account_email, listed=listed, now=now, server_url=server_url)
        try:
            connection = await deps.aggregates.create(deps.connections, connection, events)
        except KeyTaken:  # a concurrent connect of the same account won: follow it
            connection = await _reconnect(deps, account_id, connection_id, listed, server_url)
    else:
        connection = await _reconnect(deps, account_id, connection_id, listed, server_url)
    await sync_timers.start(deps, connection)
    if existing is not None and existing.active:  # new credentials: what waited is written
        await outbound.replay_awaiting_access(deps, connection)
    if connection.task_sync_enabled:  # new credentials: tasks that failed are written now
        await task_sync.schedule_connection(deps, connection)
    logger.info("user %s connected %s calendar %s", user_id, provider, connection_id)
    return connection


async def _reconnect(deps: Deps, account_id: str, connection_id: str,
                     listed: Sequence[ProviderCalendar], server_url: str | None) -> Connection:
    async def rule(current: Connection, now: datetime) -> tuple[Connection, list[Event]]:
        return rules.reconnect(current, listed=listed, now=now, server_url=server_url)

    return await deps.aggregates.change(deps.connections, account_id, connection_id, rule,
                                        missing=NotFound(connection_id))


async def _claim_slot(deps: Deps, account_id: str, user_id: str, connection_id: str,
                      now: datetime) -> None:
    """R25: one active connection per user (legacy dual connections are kept as they are,
    but once one is gone only one is allowed). A slot whose connection is no longer active
    (a crash mid-disconnect) is freed and claimed again."""
    for _ in range(3):
        holder = await deps.slots.claim(account_id, user_id, connection_id, now)
        if holder == connection_id:
            return
        other = await deps.aggregates.load(deps.connections, account_id, holder)
        if other is not None and other.active:
            raise Conflict("already_connected",
                           "You already have a connected calendar; disconnect it first.",
                           {"connection_id": holder})
        await deps.slots.release(account_id, user_id, holder)
    raise Conflict("already_connected", "Another connection is being made; try again.")


# --- listing, settings, disconnect, resync ------------------------------------------------------

async def list_connections(deps: Deps, principal: Principal) -> list[Connection]:
    return await deps.connections.of_user(principal.account_id, principal.user_id)


async def get_connection(deps: Deps, principal: Principal, connection_id: str) -> Connection:
    connection = await deps.aggregates.load(deps.connections, principal.account_id,
                                            connection_id)
    if connection is None or connection.user_id != principal.user_id:
        raise NotFound(connection_id)
    return connection


async def update_settings(deps: Deps, principal: Principal, connection_id: str,
                          **values: Any) -> Connection:
    """New calendars, primary calendar, calendar sync or task sync (R26, R29, R31, R33)."""
    await get_connection(deps, principal, connection_id)

    async def rule(current: Connection, now: datetime) -> rules.Change | None:
        return rules.change_settings(current, now=now, **values)

    connection = await deps.aggregates.change(deps.connections, principal.account_id,
                                              connection_id, rule,
                                              missing=NotFound(connection_id))
    await sync_timers.start(deps, connection)
    if {"task_sync_enabled", "sync_enabled"} & values.keys():  # R33: tasks calendar follows
        await task_sync.schedule_connection(deps, connection)
    return connection


async def disconnect(deps: Deps, principal: Principal, connection_id: str) -> Connection:
    """R32: sync and availability stop, push channels are stopped, the Google token
    revoked, the credential and the busy data dropped. Connecting again later works."""
    current = await get_connection(deps, principal, connection_id)

    async def rule(current: Connection, now: datetime) -> rules.Change | None:
        return rules.disconnect(current, now=now)

    connection = await deps.aggregates.change(deps.connections, principal.account_id,
                                              connection_id, rule,
                                              missing=NotFound(connection_id))
    await sync_timers.stop(deps, current)
    credential = await deps.credentials.get(principal.account_id, connection_id)
    adapter: CalendarAdapter | None = None
    if credential is not None:
        try:
            adapter = deps.adapters.for_connection(current, credential)
        except AccessDenied:  # a credential that no longer opens: nothing to call with
            adapter = None
    try:
        # the tasks calendar goes first, while the credentials still work (R33)
        await task_sync.drop_on_disconnect(deps, current, adapter)
        if adapter is not None and current.provider == "google":
            await channels.stop_all(deps, current, adapter)
    finally:
        if adapter is not None:
            await adapter.close()
    if credential is not None and current.provider == "google":
        token = deps.box.open(credential["sealed"], context=credential_context(
            principal.account_id, connection_id))
        await deps.adapters.revoke_google(token)
    await deps.credentials.delete(principal.account_id, connection_id)
    await deps.links.forget_awaiting(connection_id)
    await deps.busy.drop_connection(principal.account_id, connection_id)
    await deps.sync_states.drop(connection_id)
    await deps.slots.release(principal.account_id, principal.user_id, connection_id)
    return connection


async def resync(deps: Deps, principal: Principal, connection_id: str) -> Connection:
    """Forget the sync cursors and sync every calendar of the connection now (a full
    listing: nothing lost, nothing duplicated)."""
    connection = await get_connection(deps, principal, connection_id)
    if not connection.active:
        raise Conflict("connection_disconnected", "The connection is disconnected.")
    for calendar_id in connection.calendar_ids:
        await deps.sync_states.save(connection.account_id, connection_id, calendar_id,
                                    cursor=None)
    await sync_timers.start(deps, connection, now=True)
    return connection


async def count_connections(deps: Deps) -> None:
    """Refresh :data:`CONNECTIONS_BY_STATE` (housekeeping: a few counts on an index)."""
    collection = deps.connections.collection
    for provider in ("google", "caldav"):
        active = await collection.count_documents({"provider": provider, "status": "active"})
        lost = await collection.count_documents({"provider": provider, "status": "active",
                                                 "inactive_calendar_ids.0": {"$exists": True}})
        gone = await collection.count_documents({"provider": provider,
                                                 "status": "disconnected"})
        CONNECTIONS_BY_STATE.labels(provider=provider, state="active").set(active - lost)
        CONNECTIONS_BY_STATE.labels(provider=provider, state="access_lost").set(lost)
        CONNECTIONS_BY_STATE.labels(provider=provider, state="disconnected").set(gone)
