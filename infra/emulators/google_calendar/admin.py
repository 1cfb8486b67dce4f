"""The test-facing admin API under /_admin/ (no auth: the emulator listens on 127.0.0.1 only).

It sets the world up (users, OAuth clients, calendars, sharing), acts as a person in Google
Calendar's own UI (event edits that are not the client's: they notify channels and appear in
incremental sync like any change), injects faults, moves the clock, and shows what clients
did (stored events, requests, channels, notifications). infra/emulators/google_calendar/client.py
wraps it for tests.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from infra.emulators.google_calendar import errors
from infra.emulators.google_calendar.api import json_body
from infra.emulators.google_calendar.events import EventWriter
from infra.emulators.google_calendar.push import PushChannels
from infra.emulators.google_calendar.state import (
    Consent,
    EmulatorState,
    Fault,
    OAuthClient,
)
from infra.emulators.google_calendar.times import utc_millis

AdminHandler = Callable[[Request], Awaitable[Any]]


class AdminApi:
    def __init__(self, state: EmulatorState, writer: EventWriter, push: PushChannels) -> None:
        self.state = state
        self.writer = writer
        self.push = push

    def routes(self) -> list[Route]:
        table: list[tuple[str, str, AdminHandler]] = [
            ("POST", "/reset", self.reset),
            ("GET", "/users", self.users),
            ("POST", "/users", self.add_user),
            ("POST", "/users/{email}/revoke", self.revoke_user),
            ("POST", "/clients", self.add_client),
            ("POST", "/calendars", self.add_calendar),
            ("GET", "/calendars/{calendarId}", self.get_calendar),
            ("DELETE", "/calendars/{calendarId}", self.remove_calendar),
            ("POST", "/calendars/{calendarId}/share", self.share),
            ("POST", "/calendars/{calendarId}/invalidate-sync-tokens", self.invalidate),
            ("GET", "/calendars/{calendarId}/events", self.stored_events),
            ("POST", "/calendars/{calendarId}/events", self.insert_event),
            ("PATCH", "/calendars/{calendarId}/events/{eventId}", self.patch_event),
            ("DELETE", "/calendars/{calendarId}/events/{eventId}", self.delete_event),
            ("GET", "/faults", self.faults),
            ("POST", "/faults", self.add_fault),
            ("DELETE", "/faults", self.clear_faults),
            ("POST", "/consent", self.consent),
            ("POST", "/grants", self.grant),
            ("GET", "/grants", self.list_grants),
            ("POST", "/access-tokens/expire", self.expire_access_tokens),
            ("GET", "/clock", self.clock),
            ("POST", "/clock", self.advance_clock),
            ("GET", "/config", self.config),
            ("POST", "/config", self.set_config),
            ("GET", "/channels", self.channels),
            ("GET", "/notifications", self.notifications),
            ("GET", "/requests", self.requests),
        ]
        return [Route("/_admin" + path, self._endpoint(handler), methods=[method])
                for method, path, handler in table]

    @staticmethod
    def _endpoint(handler: AdminHandler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                result = await handler(request)
            except errors.ApiError as exc:
                return JSONResponse(exc.body(), status_code=exc.code)
            except KeyError as exc:
                return JSONResponse({"error": f"not found: {exc.args[0]}"}, status_code=404)
            except (ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            if result is None:
                return Response(status_code=204)
            return JSONResponse(result)

        return endpoint

    def _calendar(self, request: Request):
        return self.state.calendars[request.path_params["calendarId"]]

    # --- the world -------------------------------------------------------------------------

    async def reset(self, request: Request) -> None:
        await self.push.close()
        self.state.reset()

    async def users(self, request: Request) -> dict:
        return {"items": [{"email": u.email, "name": u.name, "timeZone": u.time_zone,
                           "calendarIds": u.calendar_ids} for u in self.state.users.values()]}

    async def add_user(self, request: Request) -> dict:
        body = await json_body(request)
        user = self.state.add_user(body["email"], body.get("name", ""), body.get("timeZone", "UTC"))
        return {"email": user.email, "primaryCalendarId": user.email}

    async def add_client(self, request: Request) -> dict:
        body = await json_body(request)
        client = OAuthClient(body["clientId"], body["clientSecret"], list(body["redirectUris"]))
        self.state.clients[client.client_id] = client
        return {"clientId": client.client_id}

    async def add_calendar(self, request: Request) -> dict:
        body = await json_body(request)
        calendar = self.state.add_calendar(body["owner"], body["summary"], body.get("timeZone"),
                                           body.get("id"), body.get("description", ""))
        return {"id": calendar.id, "owner": calendar.owner, "summary": calendar.summary,
                "timeZone": calendar.time_zone}

    async def get_calendar(self, request: Request) -> dict:
        calendar = self._calendar(request)
        return {"id": calendar.id, "owner": calendar.owner, "summary": calendar.summary,
                "description": calendar.description, "timeZone": calendar.time_zone,
                "acl": dict(calendar.acl)}

    async def remove_calendar(self, request: Request) -> None:
        calendar = self.state.remove_calendar(request.path_params["calendarId"])
        self.push.gone(calendar)

    async def share(self, request: Request) -> None:
        body = await json_body(request)
        self.state.share_calendar(request.path_params["calendarId"], body["email"], body["role"])

    async def invalidate(self, request: Request) -> None:
        """Every sync token of the calendar answers 410 fullSyncRequired from now on."""
        self._calendar(request).sync_generation += 1

    # --- events as the owner edits them in Google Calendar ---------------------------------

    async def stored_events(self, request: Request) -> dict:
        """Everything stored: series, exceptions and deleted events, with their change number."""
        calendar = self._calendar(request)
        return {"items": [dict(s.resource, _changeNumber=s.seq) for s in calendar.events.values()]}

    async def insert_event(self, request: Request) -> dict:
        calendar = self._calendar(request)
        return self.writer.insert(calendar, await json_body(request), actor=calendar.owner,
                                  conference_version=int(
                                      request.query_params.get("conferenceDataVersion", 1)))

    async def patch_event(self, request: Request) -> dict:
        calendar = self._calendar(request)
        return self.writer.patch(calendar, request.path_params["eventId"],
                                 await json_body(request), actor=calendar.owner,
                                 conference_version=int(
                                     request.query_params.get("conferenceDataVersion", 1)))

    async def delete_event(self, request: Request) -> None:
        self.writer.delete(self._calendar(request), request.path_params["eventId"])

    # --- faults ----------------------------------------------------------------------------

    async def faults(self, request: Request) -> dict:
        return {"items": [f.as_dict() for f in self.state.faults.pending]}

    async def add_fault(self, request: Request) -> dict:
        body = await json_body(request)
        fault = Fault(operation=body["operation"], kind=str(body["kind"]),
                      remaining=int(body.get("count", 1)), status=body.get("status"),
                      reason=body.get("reason"), message=body.get("message"),
                      domain=body.get("domain", "global"))
        self.state.faults.add(fault)
        return fault.as_dict()

    async def clear_faults(self, request: Request) -> None:
        self.state.faults.pending.clear()

    # --- OAuth -----------------------------------------------------------------------------

    async def consent(self, request: Request) -> None:
        """How the emulated user answers the next consent screen."""
        body = await json_body(request)
        if body["email"] not in self.state.users:
            raise KeyError(body["email"])
        self.state.consents.append(Consent(body["email"], bool(body.get("approve", True)),
                                           body.get("scopes")))

    async def grant(self, request: Request) -> dict:
        """Tokens for a user without the browser dance (seeding, demos)."""
        body = await json_body(request)
        if body["email"] not in self.state.users or body["clientId"] not in self.state.clients:
            raise KeyError(body["email"] if body["email"] not in self.state.users
                           else body["clientId"])
        grant = self.state.issue_grant(body["email"], body["clientId"],
                                       frozenset(body["scopes"]), bool(body.get("offline", True)))
        access = self.state.issue_access_token(grant)
        return {"access_token": access.token, "refresh_token": grant.refresh_token,
                "expires_in": self.state.config.access_token_ttl, "token_type": "Bearer",
                "scope": " ".join(sorted(grant.scopes))}

    async def list_grants(self, request: Request) -> dict:
        """Every grant (of ``?email=`` only, if given) with its refresh token: what a test
        needs to check that no token issued to a client ever shows up where it must not."""
        email = request.query_params.get("email")
        return {"items": [{"id": g.id, "user": g.user, "clientId": g.client_id,
                           "scopes": sorted(g.scopes), "refreshToken": g.refresh_token,
                           "revoked": g.revoked}
                          for g in self.state.grants.values() if email in (None, g.user)]}

    async def revoke_user(self, request: Request) -> dict:
        """The user removes the app's access in their Google account."""
        body = await json_body(request)
        return {"revoked": self.state.revoke(request.path_params["email"], body.get("clientId"))}

    async def expire_access_tokens(self, request: Request) -> dict:
        body = await json_body(request)
        expired = 0
        for token in self.state.access_tokens.values():
            grant = self.state.grants.get(token.grant_id)
            if grant is not None and body.get("email") in (None, grant.user):
                token.expires_at = self.state.now() - timedelta(seconds=1)
                expired += 1
        return {"expired": expired}

    # --- clock and config ------------------------------------------------------------------

    async def clock(self, request: Request) -> dict:
        return {"now": utc_millis(self.state.now())}

    async def advance_clock(self, request: Request) -> dict:
        body = await json_body(request)
        return {"now": utc_millis(self.state.clock.advance(float(body["advanceSeconds"])))}

    async def config(self, request: Request) -> dict:
        return dataclasses.asdict(self.state.config)

    async def set_config(self, request: Request) -> dict:
        body = await json_body(request)
        known = {f.name for f in dataclasses.fields(self.state.config)}
        unknown = set(body) - known
        if unknown:
            raise ValueError(f"unknown settings {sorted(unknown)}; known: {sorted(known)}")
        for name, value in body.items():
            setattr(self.state.config, name, tuple(value) if isinstance(value, list) else value)
        return dataclasses.asdict(self.state.config)

    # --- what happened ---------------------------------------------------------------------

    async def channels(self, request: Request) -> dict:
        now = self.state.now()
        return {"items": [{"id": c.id, "resourceId": c.resource_id, "calendarId": c.calendar_id,
                           "user": c.user, "address": c.address,
                           "expiration": utc_millis(c.expiration),
                           "active": not c.stopped and c.expiration > now,
                           "stopped": c.stopped, "messageNumber": c.message_number}
                          for c in self.state.channels.values()]}

    async def notifications(self, request: Request) -> dict:
        return {"items": list(self.state.notifications)}

    async def requests(self, request: Request) -> dict:
        operation = request.query_params.get("operation")
        return {"items": [r for r in self.state.requests
                          if operation is None or r["operation"] == operation]}
