"""/connections: connect Google or CalDAV, list, change settings, disconnect, resync.
Thin views over :mod:`convene_calendar_sync.connections`."""

from __future__ import annotations

from typing import Annotated

from convene_kit.auth import CurrentPrincipal
from convene_kit.openapi import error_responses
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from convene_calendar_sync import connections as service
from convene_calendar_sync.api.models import (
    CalDavConnect,
    ConnectionList,
    ConnectionRead,
    ConnectionSettings,
    GoogleStart,
)
from convene_calendar_sync.deps import Deps

router = APIRouter(prefix="/connections", tags=["connections"])


def _deps(request: Request) -> Deps:
    return request.app.state.deps


SyncDeps = Annotated[Deps, Depends(_deps)]
PERMISSION = "403 personal_email_access_required: the user lacks the permission (R22)."


@router.post("/google", response_model=GoogleStart, summary="Start connecting Google Calendar",
             responses=error_responses({403: PERMISSION}))
async def start_google(principal: CurrentPrincipal, deps: SyncDeps) -> GoogleStart:
    return GoogleStart(authorization_url=await service.start_google(deps, principal))


@router.get("/google/callback", response_model=ConnectionRead, status_code=201,
            summary="Google's OAuth redirect (through the gateway, with the user's token)",
            responses=error_responses({
                400: "oauth_state_invalid (unknown, expired, replayed or another user's "
                     "state), oauth_denied, oauth_exchange_failed, ...",
                403: PERMISSION, 409: "already_connected",
                503: "provider_unavailable"}))
async def google_callback(principal: CurrentPrincipal, deps: SyncDeps,
                          state: Annotated[str, Query(min_length=10, max_length=200)],
                          code: Annotated[str | None, Query(max_length=2000)] = None,
                          error: Annotated[str | None, Query(max_length=200)] = None
                          ) -> JSONResponse:
    connection = await service.finish_google(deps, principal, state=state, code=code,
                                             error=error)
    return _created(connection)


@router.post("/caldav", response_model=ConnectionRead, status_code=201,
             summary="Connect a CalDAV account (verified now)",
             responses=error_responses({
                 400: "credentials_refused, not_caldav, url_refused (a private, loopback or "
                      "metadata address), no_writable_calendar",
                 403: PERMISSION, 409: "already_connected", 503: "provider_unavailable"}))
async def connect_caldav(body: CalDavConnect, principal: CurrentPrincipal,
                         deps: SyncDeps) -> JSONResponse:
    connection = await service.connect_caldav(deps, principal, url=body.url,
                                              username=body.username,
                                              password=body.password.get_secret_value())
    return _created(connection)


@router.get("", response_model=ConnectionList, summary="The caller's connections")
async def list_connections(principal: CurrentPrincipal, deps: SyncDeps) -> ConnectionList:
    found = await service.list_connections(deps, principal)
    return ConnectionList(connections=[ConnectionRead.of(c) for c in found])


@router.get("/{connection_id}", response_model=ConnectionRead, summary="One connection",
            responses=error_responses({404: "connection_not_found"}))
async def get_connection(connection_id: str, principal: CurrentPrincipal,
                         deps: SyncDeps) -> ConnectionRead:
    return ConnectionRead.of(await service.get_connection(deps, principal, connection_id))


@router.patch("/{connection_id}", response_model=ConnectionRead, summary="Change settings",
              responses=error_responses({
                  404: "connection_not_found", 409: "version_conflict",
                  422: "calendar_not_listed, calendar_details_hidden (R31), "
                       "primary_not_writable, connection_disconnected"}))
async def update_settings(connection_id: str, body: ConnectionSettings,
                          principal: CurrentPrincipal, deps: SyncDeps) -> ConnectionRead:
    connection = await service.update_settings(
        deps, principal, connection_id, calendar_ids=body.calendar_ids,
        primary_calendar_id=body.primary_calendar_id, sync_enabled=body.sync_enabled,
        task_sync_enabled=body.task_sync_enabled)
    return ConnectionRead.of(connection)


@router.delete("/{connection_id}", response_model=ConnectionRead, summary="Disconnect (R32)",
               responses=error_responses({404: "connection_not_found"}))
async def disconnect(connection_id: str, principal: CurrentPrincipal,
                     deps: SyncDeps) -> ConnectionRead:
    return ConnectionRead.of(await service.disconnect(deps, principal, connection_id))


@router.post("/{connection_id}/resync", response_model=ConnectionRead, status_code=202,
             summary="Sync every calendar again from scratch",
             responses=error_responses({404: "connection_not_found",
                                        409: "connection_disconnected"}))
async def resync(connection_id: str, principal: CurrentPrincipal,
                 deps: SyncDeps) -> ConnectionRead:
    return ConnectionRead.of(await service.resync(deps, principal, connection_id))


def _created(connection: object) -> JSONResponse:
    assert hasattr(connection, "connection_id")
    read = ConnectionRead.of(connection)  # type: ignore[arg-type]
    return JSONResponse(read.model_dump(mode="json"), status_code=201,
                        headers={"Location": f"/connections/{read.connection_id}"})
