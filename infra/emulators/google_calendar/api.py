"""The Calendar v3 HTTP surface under /calendar/v3/ (the paths of the packaged discovery document,
reached by googleapiclient with `client_options={"api_endpoint": BASE + "/calendar/v3/"}`).

Every call: Bearer token (401 authError if unknown, expired or revoked), the method's scopes
from the discovery document (403 insufficientPermissions), injected faults, then the operation.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from infra.emulators.google_calendar import errors
from infra.emulators.google_calendar.events import EventWriter, busy_view
from infra.emulators.google_calendar.oauth import OAuthServer
from infra.emulators.google_calendar.push import PushChannels
from infra.emulators.google_calendar.queries import EventQueries, ListQuery
from infra.emulators.google_calendar.state import Calendar, EmulatorState, role_at_least
from infra.emulators.google_calendar.times import utc_millis, zone

_READ_EVENTS = {"calendar", "calendar.app.created", "calendar.events", "calendar.events.freebusy",
                "calendar.events.owned", "calendar.events.owned.readonly",
                "calendar.events.public.readonly", "calendar.events.readonly", "calendar.readonly"}
_WRITE_EVENTS = {"calendar", "calendar.app.created", "calendar.events", "calendar.events.owned"}
_LIST_CALENDARS = {"calendar", "calendar.calendarlist", "calendar.calendarlist.readonly",
                   "calendar.readonly", "calendar.app.created"}
# Accepted scopes per method, from calendar.v3.json (revision 20261030).
SCOPES: dict[str, set[str]] = {
    "calendarList.list": _LIST_CALENDARS,
    "calendarList.get": _LIST_CALENDARS,
    "calendars.get": {"calendar", "calendar.app.created", "calendar.calendars",
                      "calendar.calendars.readonly", "calendar.readonly"},
    "calendars.insert": {"calendar", "calendar.app.created", "calendar.calendars"},
    "calendars.delete": {"calendar", "calendar.app.created", "calendar.calendars"},
    "events.list": _READ_EVENTS,
    "events.get": _READ_EVENTS,
    "events.instances": _READ_EVENTS,
    "events.watch": _READ_EVENTS,
    "events.insert": _WRITE_EVENTS,
    "events.patch": _WRITE_EVENTS,
    "events.update": _WRITE_EVENTS,
    "events.delete": _WRITE_EVENTS,
    "freebusy.query": {"calendar", "calendar.events.freebusy", "calendar.freebusy",
                       "calendar.readonly"},
    "channels.stop": _READ_EVENTS | _LIST_CALENDARS | {"calendar.settings",
                                                        "calendar.settings.readonly"},
}
SCOPE_PREFIX = "https://www.googleapis.com/auth/"
SEND_UPDATES = ("all", "externalOnly", "none")

Handler = Callable[[Request, str], Awaitable[Response]]


async def json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        raise errors.ApiError(400, "parseError", "Parse Error") from None
    if not isinstance(body, dict):
        raise errors.ApiError(400, "parseError", "Parse Error")
    return body


def _int_param(request: Request, name: str) -> int:
    try:
        return int(request.query_params.get(name) or 0)
    except ValueError:
        raise errors.invalid(f"Invalid value for: {name}", name) from None


class CalendarApi:
    def __init__(self, state: EmulatorState, oauth: OAuthServer, writer: EventWriter,
                 queries: EventQueries, push: PushChannels) -> None:
        self.state = state
        self.oauth = oauth
        self.writer = writer
        self.queries = queries
        self.push = push

    def routes(self) -> list[Route]:
        base = "/calendar/v3"
        events = base + "/calendars/{calendarId}/events"
        table: list[tuple[str, str, str, Handler]] = [
            ("GET", base + "/users/me/calendarList", "calendarList.list", self.calendar_list),
            ("GET", base + "/users/me/calendarList/{calendarId}", "calendarList.get",
             self.calendar_list_get),
            ("GET", base + "/calendars/{calendarId}", "calendars.get", self.calendars_get),
            ("POST", base + "/calendars", "calendars.insert", self.calendars_insert),
            ("DELETE", base + "/calendars/{calendarId}", "calendars.delete",
             self.calendars_delete),
            ("GET", events, "events.list", self.events_list),
            ("POST", events, "events.insert", self.events_insert),
            ("POST", events + "/watch", "events.watch", self.events_watch),
            ("GET", events + "/{eventId}/instances", "events.instances", self.events_instances),
            ("GET", events + "/{eventId}", "events.get", self.events_get),
            ("PATCH", events + "/{eventId}", "events.patch", self.events_patch),
            ("PUT", events + "/{eventId}", "events.update", self.events_update),
            ("DELETE", events + "/{eventId}", "events.delete", self.events_delete),
            ("POST", base + "/freeBusy", "freebusy.query", self.freebusy),
            ("POST", base + "/channels/stop", "channels.stop", self.channels_stop),
        ]
        return [Route(path, self._endpoint(operation, handler), methods=[method],
                      name=operation) for method, path, operation, handler in table]

    def _endpoint(self, operation: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            entry: dict[str, Any] = {
                "at": utc_millis(self.state.now()), "operation": operation,
                "method": request.method, "path": request.url.path,
                "query": {k: request.query_params.getlist(k) for k in request.query_params},
            }
            self.state.requests.append(entry)
            try:
                user, scopes = self.oauth.authenticate(request)
                entry["user"] = user
                if not {s.removeprefix(SCOPE_PREFIX) for s in scopes} & SCOPES[operation]:
                    raise errors.insufficient_scopes()
                fault = self.state.faults.take(
                    operation, exclude=("fullSyncRequired", "emptyPage", "invalid_grant"))
                if fault is not None:
                    raise fault.api_error()
                response = await handler(request, user)
            except errors.ApiError as exc:
                entry["reason"] = exc.reason
                response = JSONResponse(exc.body(), status_code=exc.code, headers=exc.headers)
            entry["status"] = response.status_code
            return response

        return endpoint

    def calendar(self, user: str, calendar_id: str, minimum: str = "freeBusyReader"
                 ) -> tuple[Calendar, str]:
        """The calendar as `user` sees it ("primary" is theirs) and their access role."""
        if calendar_id == "primary":
            calendar_id = user
        calendar = self.state.calendars.get(calendar_id)
        role = calendar.role_of(user) if calendar is not None else None
        if calendar is None or role is None:
            raise errors.not_found()
        if not role_at_least(role, minimum):
            raise errors.required_access_level("writer" if minimum in ("writer", "owner")
                                               else minimum)
        return calendar, role

    # --- calendars -------------------------------------------------------------------------

    def _list_entry(self, calendar: Calendar, user: str) -> dict[str, Any]:
        role = calendar.role_of(user) or "freeBusyReader"
        entry: dict[str, Any] = {
            "kind": "calendar#calendarListEntry", "etag": f'"{calendar.created_count}"',
            "id": calendar.id, "summary": calendar.summary, "timeZone": calendar.time_zone,
            "colorId": "14", "backgroundColor": "#9fe1e7", "foregroundColor": "#000000",
            "selected": True, "accessRole": role,
            "defaultReminders": [{"method": "popup", "minutes": 10}] if role == "owner" else [],
            "conferenceProperties": {"allowedConferenceSolutionTypes": ["hangoutsMeet"]},
        }
        if calendar.description:
            entry["description"] = calendar.description
        if calendar.id == user:
            entry["primary"] = True
        return entry

    async def calendar_list(self, request: Request, user: str) -> Response:
        params = request.query_params
        if params.get("syncToken"):
            raise errors.full_sync_required()  # calendarList incremental sync is not emulated
        minimum = params.get("minAccessRole") or "freeBusyReader"
        if minimum not in ("freeBusyReader", "reader", "writer", "owner"):
            raise errors.invalid(f"Invalid value for: minAccessRole: {minimum}", "minAccessRole")
        entries = [self._list_entry(self.state.calendars[cid], user)
                   for cid in self.state.users[user].calendar_ids
                   if role_at_least(self.state.calendars[cid].role_of(user), minimum)]
        size_text, token = params.get("maxResults") or "100", params.get("pageToken") or "0"
        if not size_text.isdigit() or not token.isdigit():
            raise errors.invalid("Invalid maxResults or pageToken value.")
        size, offset = min(max(int(size_text), 1), 250), int(token)
        answer: dict[str, Any] = {"kind": "calendar#calendarList", "etag": self.state.new_etag(),
                                  "items": entries[offset:offset + size]}
        if offset + size < len(entries):
            answer["nextPageToken"] = str(offset + size)
        return JSONResponse(answer)

    async def calendar_list_get(self, request: Request, user: str) -> Response:
        calendar, _ = self.calendar(user, request.path_params["calendarId"])
        return JSONResponse(self._list_entry(calendar, user))

    async def calendars_get(self, request: Request, user: str) -> Response:
        calendar, _ = self.calendar(user, request.path_params["calendarId"])
        return JSONResponse(self._calendar_resource(calendar))

    @staticmethod
    def _calendar_resource(calendar: Calendar) -> dict[str, Any]:
        resource: dict[str, Any] = {
            "kind": "calendar#calendar", "etag": f'"{calendar.created_count}"',
            "id": calendar.id, "summary": calendar.summary,
            "description": calendar.description, "timeZone": calendar.time_zone,
            "conferenceProperties": {"allowedConferenceSolutionTypes": ["hangoutsMeet"]}}
        if calendar.id != calendar.owner:  # "Set only for secondary calendars."
            resource["dataOwner"] = calendar.owner
        return resource

    async def calendars_insert(self, request: Request, user: str) -> Response:
        """A secondary calendar owned by the caller (the discovery doc: "The authenticated
        user for the request is made the data owner"), in their calendar list; the id is
        Google's (``…@group.calendar.google.com``), never the client's."""
        body = await json_body(request)
        summary = body.get("summary")
        if not isinstance(summary, str) or not summary.strip():
            raise errors.required("Missing title.", "summary")  # summary is required on insert
        time_zone = body.get("timeZone") or None
        if time_zone is not None:
            zone(str(time_zone))  # 400 invalid for an unknown zone
        calendar = self.state.add_calendar(user, summary, time_zone,
                                           description=str(body.get("description") or ""))
        return JSONResponse(self._calendar_resource(calendar))

    async def calendars_delete(self, request: Request, user: str) -> Response:
        """Only the owner deletes a secondary calendar; the primary cannot be deleted
        ("Use calendars.clear for clearing all events on primary calendars")."""
        calendar, _ = self.calendar(user, request.path_params["calendarId"], "owner")
        if calendar.id == calendar.owner:
            raise errors.bad_request("Cannot delete the primary calendar.")
        self.state.remove_calendar(calendar.id)
        self.push.gone(calendar)
        return Response(status_code=204)

    # --- events ----------------------------------------------------------------------------

    def _query(self, request: Request) -> ListQuery:
        params = request.query_params
        return ListQuery.parse(params.get, params.getlist)

    async def events_list(self, request: Request, user: str) -> Response:
        calendar, role = self.calendar(user, request.path_params["calendarId"])
        query = self._query(request)
        if query.sync_token and self.state.faults.take("events.list", kinds=("fullSyncRequired",)):
            raise errors.full_sync_required()
        empty = self.state.faults.take("events.list", kinds=("emptyPage",)) is not None
        return JSONResponse(self.queries.list_events(calendar, role, query, empty_page=empty))

    async def events_instances(self, request: Request, user: str) -> Response:
        calendar, role = self.calendar(user, request.path_params["calendarId"])
        return JSONResponse(self.queries.instances(
            calendar, role, request.path_params["eventId"], self._query(request),
            request.query_params.get("originalStart")))

    async def events_get(self, request: Request, user: str) -> Response:
        calendar, role = self.calendar(user, request.path_params["calendarId"])
        event = self.writer.lookup(calendar, request.path_params["eventId"])
        if request.headers.get("if-none-match") == event["etag"]:
            return Response(status_code=304)
        return JSONResponse(busy_view(event) if role == "freeBusyReader" else event)

    def _write_params(self, request: Request) -> int:
        send_updates = request.query_params.get("sendUpdates")
        if send_updates is not None and send_updates not in SEND_UPDATES:
            raise errors.invalid(f"Invalid value for: sendUpdates: {send_updates}", "sendUpdates")
        return _int_param(request, "conferenceDataVersion")

    async def events_insert(self, request: Request, user: str) -> Response:
        calendar, _ = self.calendar(user, request.path_params["calendarId"], "writer")
        version = self._write_params(request)
        event = self.writer.insert(calendar, await json_body(request), actor=user,
                                   conference_version=version)
        return JSONResponse(event)

    async def events_patch(self, request: Request, user: str) -> Response:
        calendar, _ = self.calendar(user, request.path_params["calendarId"], "writer")
        version = self._write_params(request)
        event = self.writer.patch(calendar, request.path_params["eventId"],
                                  await json_body(request), actor=user, conference_version=version,
                                  if_match=request.headers.get("if-match"))
        return JSONResponse(event)

    async def events_update(self, request: Request, user: str) -> Response:
        calendar, _ = self.calendar(user, request.path_params["calendarId"], "writer")
        version = self._write_params(request)
        event = self.writer.update(calendar, request.path_params["eventId"],
                                   await json_body(request), actor=user,
                                   conference_version=version,
                                   if_match=request.headers.get("if-match"))
        return JSONResponse(event)

    async def events_delete(self, request: Request, user: str) -> Response:
        calendar, _ = self.calendar(user, request.path_params["calendarId"], "writer")
        self._write_params(request)
        self.writer.delete(calendar, request.path_params["eventId"],
                           if_match=request.headers.get("if-match"))
        return Response(status_code=204)

    async def events_watch(self, request: Request, user: str) -> Response:
        calendar, _ = self.calendar(user, request.path_params["calendarId"])
        self._query(request)  # the list parameters are validated as for events.list
        resource_uri = (f"{str(request.base_url).rstrip('/')}/calendar/v3/calendars/"
                        f"{quote(calendar.id, safe='')}/events?alt=json")
        return JSONResponse(self.push.watch(calendar, user, await json_body(request),
                                            resource_uri))

    async def channels_stop(self, request: Request, user: str) -> Response:
        self.push.stop(user, await json_body(request))
        return Response(status_code=204)

    # --- free/busy -------------------------------------------------------------------------

    async def freebusy(self, request: Request, user: str) -> Response:
        def resolve(calendar_id: str) -> Calendar | None:
            # One emulated domain: every user's free/busy is visible to every other user.
            if calendar_id == "primary":
                calendar_id = user
            return self.state.calendars.get(calendar_id)

        return JSONResponse(self.queries.freebusy(await json_body(request), resolve))
