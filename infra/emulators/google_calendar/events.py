"""Writing and reading single events: insert, get, patch, update, delete, with Google's rules for
ids, iCalUID, etags, sequence, recurring instances and their exceptions, and Meet conferences.

An exception of a recurring series (an instance that was changed or deleted) is stored under its
instance id with `recurringEventId` and `originalStartTime`; unmodified instances are computed.
"""

from __future__ import annotations

import base64
import copy
import re
from collections.abc import Callable
from typing import Any

from infra.emulators.google_calendar import errors, times
from infra.emulators.google_calendar.state import (
    Calendar,
    EmulatorState,
    StoredEvent,
    new_event_id,
    new_meet_code,
)

EVENT_ID = re.compile(r"[a-v0-9]{5,1024}")
INSTANCE_SUFFIX = re.compile(r"\d{8}(T\d{6}Z)?")
WRITABLE = ("summary", "description", "location", "colorId", "start", "end", "recurrence",
            "attendees", "extendedProperties", "transparency", "visibility", "reminders", "source",
            "guestsCanInviteOthers", "guestsCanModify", "guestsCanSeeOtherGuests",
            "anyoneCanAddSelf", "attachments", "status", "eventType", "endTimeUnspecified",
            "privateCopy", "locked", "focusTimeProperties", "outOfOfficeProperties",
            "workingLocationProperties")
# Changes that make a new revision in iCalendar terms (RFC 5545 SEQUENCE).
SIGNIFICANT = ("start", "end", "recurrence", "status")
MEET_ICON = ("https://fonts.gstatic.com/s/i/productlogos/meet_2020q4/v6/web-512dp/"
             "logo_meet_2020q4_color_2x_web_512dp.png")


def split_instance_id(event_id: str) -> tuple[str, str] | None:
    series_id, sep, suffix = event_id.rpartition("_")
    if sep and INSTANCE_SUFFIX.fullmatch(suffix):
        return series_id, suffix
    return None


def cancelled_view(resource: dict[str, Any]) -> dict[str, Any]:
    """How a deleted event is listed: Google only guarantees the id (exceptions keep the series
    id and the original start)."""
    view = {"kind": "calendar#event", "etag": resource["etag"], "id": resource["id"],
            "status": "cancelled"}
    for key in ("recurringEventId", "originalStartTime"):
        if key in resource:
            view[key] = resource[key]
    return view


def busy_view(resource: dict[str, Any]) -> dict[str, Any]:
    """What a freeBusyReader sees of an event (assumed: times and status, no details)."""
    keep = ("kind", "etag", "id", "status", "start", "end", "transparency", "recurringEventId",
            "originalStartTime", "recurrence")
    return {key: resource[key] for key in keep if key in resource}


class EventWriter:
    """The event operations on one emulator; `on_change(calendar)` runs after every change."""

    def __init__(self, state: EmulatorState, on_change: Callable[[Calendar], None]) -> None:
        self.state = state
        self.on_change = on_change

    # --- reading ---------------------------------------------------------------------------

    def lookup(self, calendar: Calendar, event_id: str) -> dict[str, Any]:
        """The event or instance as events.get returns it (deleted ones included)."""
        stored = calendar.events.get(event_id)
        if stored is not None:
            return copy.deepcopy(stored.resource)
        found = self._virtual_instance(calendar, event_id)
        if found is None:
            raise errors.not_found()
        return found

    def _virtual_instance(self, calendar: Calendar, event_id: str) -> dict[str, Any] | None:
        parts = split_instance_id(event_id)
        if parts is None:
            return None
        series = calendar.events.get(parts[0])
        if series is None or not series.resource.get("recurrence"):
            return None
        occurrence = times.Series(series.resource, times.zone(calendar.time_zone)).find(parts[1])
        if occurrence is None:
            return None
        return times.instance_resource(series.resource, occurrence)

    # --- writing ---------------------------------------------------------------------------

    def insert(self, calendar: Calendar, body: dict[str, Any], *, actor: str,
               conference_version: int = 0) -> dict[str, Any]:
        event_id = body.get("id")
        if event_id is not None:
            if not isinstance(event_id, str) or not EVENT_ID.fullmatch(event_id):
                raise errors.invalid("Invalid resource id value.", "id")
            if event_id in calendar.events:
                raise errors.duplicate()
        else:
            event_id = new_event_id()
        ical_uid = body.get("iCalUID") or f"{event_id}@google.com"
        if any(stored.resource.get("iCalUID") == ical_uid
               and stored.resource.get("status") != "cancelled"
               and "recurringEventId" not in stored.resource
               for stored in calendar.events.values()):
            raise errors.duplicate()
        fields = {key: copy.deepcopy(body[key]) for key in WRITABLE if key in body}
        resource = self._build(calendar, event_id, fields, previous=None, actor=actor,
                               requested_sequence=body.get("sequence"))
        resource["iCalUID"] = ical_uid
        self._conference(resource, body, conference_version, previous=None, replace=True)
        self._store(calendar, resource)
        return copy.deepcopy(resource)

    def patch(self, calendar: Calendar, event_id: str, body: dict[str, Any], *, actor: str,
              conference_version: int = 0, if_match: str | None = None) -> dict[str, Any]:
        previous = self._current_for_write(calendar, event_id, if_match)
        fields = {key: copy.deepcopy(previous[key]) for key in WRITABLE if key in previous}
        for key in WRITABLE:
            if key not in body:
                continue
            if body[key] is None:
                fields.pop(key, None)
            elif key == "extendedProperties" and isinstance(body[key], dict):
                fields[key] = _merge_properties(fields.get(key) or {}, body[key])
            else:
                fields[key] = copy.deepcopy(body[key])
        return self._rewrite(calendar, event_id, previous, fields, body, actor,
                             conference_version, replace=False)

    def update(self, calendar: Calendar, event_id: str, body: dict[str, Any], *, actor: str,
               conference_version: int = 0, if_match: str | None = None) -> dict[str, Any]:
        previous = self._current_for_write(calendar, event_id, if_match)
        fields = {key: copy.deepcopy(body[key]) for key in WRITABLE if key in body}
        return self._rewrite(calendar, event_id, previous, fields, body, actor,
                             conference_version, replace=True)

    def delete(self, calendar: Calendar, event_id: str, *, if_match: str | None = None) -> None:
        previous = self._current_for_write(calendar, event_id, if_match)
        if previous.get("status") == "cancelled":
            raise errors.deleted()
        self._cancel(calendar, previous, notify=False)
        if previous.get("recurrence"):  # the whole series goes, its exceptions with it
            for stored in list(calendar.events.values()):
                if (stored.resource.get("recurringEventId") == event_id
                        and stored.resource.get("status") != "cancelled"):
                    self._cancel(calendar, stored.resource, notify=False)
        self.on_change(calendar)

    def _cancel(self, calendar: Calendar, previous: dict[str, Any], notify: bool = True) -> None:
        resource = copy.deepcopy(previous)
        resource["status"] = "cancelled"
        resource["etag"] = self.state.new_etag()
        resource["updated"] = times.utc_millis(self.state.now())
        resource["sequence"] = previous.get("sequence", 0) + 1
        self._store(calendar, resource, notify=notify)

    def _current_for_write(self, calendar: Calendar, event_id: str,
                           if_match: str | None) -> dict[str, Any]:
        current = self.lookup(calendar, event_id)
        if if_match and if_match != "*" and if_match != current.get("etag"):
            raise errors.condition_not_met()
        return current

    def _rewrite(self, calendar: Calendar, event_id: str, previous: dict[str, Any],
                 fields: dict[str, Any], body: dict[str, Any], actor: str,
                 conference_version: int, replace: bool) -> dict[str, Any]:
        resource = self._build(calendar, event_id, fields, previous=previous, actor=actor,
                               requested_sequence=body.get("sequence"))
        self._conference(resource, body, conference_version, previous=previous, replace=replace)
        self._store(calendar, resource)
        return copy.deepcopy(resource)

    def _build(self, calendar: Calendar, event_id: str, fields: dict[str, Any],
               previous: dict[str, Any] | None, actor: str,
               requested_sequence: Any) -> dict[str, Any]:
        tz = times.zone(calendar.time_zone)
        if previous is not None and "recurringEventId" in previous:
            fields.pop("recurrence", None)  # an instance cannot become a series of its own
        times.validate_times(fields, tz)
        now = times.utc_millis(self.state.now())
        owner = self.state.users[calendar.owner]
        resource: dict[str, Any] = {
            "kind": "calendar#event",
            "etag": self.state.new_etag(),
            "id": event_id,
            "status": fields.pop("status", None) or "confirmed",
            "htmlLink": "https://www.google.com/calendar/event?eid=" + base64.urlsafe_b64encode(
                f"{event_id} {calendar.id}".encode()).decode().rstrip("="),
            "created": previous["created"] if previous else now,
            "updated": now,
            "creator": previous["creator"] if previous else _person(actor, calendar.owner),
            # A secondary calendar organizes its own events under its id, the primary the user.
            "organizer": {"email": calendar.id, "displayName": calendar.summary, "self": True}
            if calendar.id != calendar.owner else {"email": owner.email, "self": True},
        }
        if resource["status"] not in ("confirmed", "tentative", "cancelled"):
            raise errors.invalid("Invalid value for: status", "status")
        resource.update(fields)
        if "attendees" in resource:
            resource["attendees"] = [_attendee(a, calendar.owner, resource["organizer"]["email"])
                                     for a in resource["attendees"]]
        resource.setdefault("reminders", {"useDefault": True})
        resource.setdefault("eventType", "default")
        if previous is not None:
            for key in ("iCalUID", "recurringEventId", "originalStartTime", "conferenceData",
                        "hangoutLink"):
                if key in previous:
                    resource[key] = previous[key]
        resource["sequence"] = _sequence(previous, resource, requested_sequence)
        return resource

    def _conference(self, resource: dict[str, Any], body: dict[str, Any], version: int,
                    previous: dict[str, Any] | None, replace: bool) -> None:
        """conferenceData as the API treats it: ignored unless conferenceDataVersion=1; a
        createRequest makes a Meet conference, once per requestId."""
        if version < 1 or ("conferenceData" not in body and not replace):
            return
        requested = body.get("conferenceData")
        resource.pop("conferenceData", None)
        resource.pop("hangoutLink", None)
        if not requested:
            return
        create = requested.get("createRequest")
        if create is None:  # a copy of an existing conference: kept as given
            if not requested.get("conferenceSolution") or not requested.get("entryPoints"):
                raise errors.invalid("Invalid conference data.", "conferenceData")
            resource["conferenceData"] = copy.deepcopy(requested)
            video = [e for e in requested["entryPoints"] if e.get("entryPointType") == "video"]
            if video and requested["conferenceSolution"].get("key", {}).get("type") == "hangoutsMeet":
                resource["hangoutLink"] = video[0].get("uri")
            return
        request_id = create.get("requestId")
        if not request_id:
            raise errors.required("Missing conference create request id.",
                                  "conferenceData.createRequest.requestId")
        existing = (previous or {}).get("conferenceData")
        if existing and existing.get("createRequest", {}).get("requestId") == request_id:
            resource["conferenceData"] = existing  # the same request again is ignored
            if previous and "hangoutLink" in previous:
                resource["hangoutLink"] = previous["hangoutLink"]
            return
        kind = create.get("conferenceSolutionKey", {}).get("type")
        if kind != "hangoutsMeet":
            raise errors.invalid("Invalid conference type value.", "conferenceData")
        code = new_meet_code()
        link = f"https://meet.google.com/{code}"
        resource["conferenceData"] = {
            "createRequest": {"requestId": request_id,
                              "conferenceSolutionKey": {"type": "hangoutsMeet"},
                              "status": {"statusCode": "success"}},
            "entryPoints": [{"entryPointType": "video", "uri": link,
                             "label": f"meet.google.com/{code}"}],
            "conferenceSolution": {"key": {"type": "hangoutsMeet"}, "name": "Google Meet",
                                   "iconUri": MEET_ICON},
            "conferenceId": code,
        }
        resource["hangoutLink"] = link

    def _store(self, calendar: Calendar, resource: dict[str, Any], notify: bool = True) -> None:
        existing = calendar.events.get(resource["id"])
        if existing is None:
            calendar.created_count += 1
            order = calendar.created_count
        else:
            order = existing.order
        calendar.events[resource["id"]] = StoredEvent(resource=resource,
                                                      seq=calendar.next_change(), order=order)
        if notify:
            self.on_change(calendar)


def _person(email: str, owner: str) -> dict[str, Any]:
    return {"email": email, "self": True} if email == owner else {"email": email}


def _merge_properties(current: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Patch semantics for extendedProperties: each map merged key by key, null removes."""
    merged = copy.deepcopy(current)
    for scope, values in patch.items():
        if values is None:
            merged.pop(scope, None)
            continue
        target = merged.setdefault(scope, {})
        for key, value in values.items():
            if value is None:
                target.pop(key, None)
            else:
                target[key] = value
    return merged


def _attendee(attendee: Any, owner: str, organizer: str) -> dict[str, Any]:
    if not isinstance(attendee, dict) or not attendee.get("email"):
        raise errors.required("Missing attendee email.", "attendees")
    result = dict(attendee)
    result.setdefault("responseStatus", "needsAction")
    if result["email"].lower() == owner.lower():
        result["self"] = True
    if result["email"].lower() == organizer.lower():
        result["organizer"] = True
    return result


def _sequence(previous: dict[str, Any] | None, resource: dict[str, Any], requested: Any) -> int:
    current = previous.get("sequence", 0) if previous else 0
    if requested is not None:
        if not isinstance(requested, int) or requested < current:
            raise errors.invalid("Invalid sequence value. The specified sequence number is below "
                                 "the current sequence number of the resource.", "sequence")
        if requested > current:
            return requested
    if previous is not None and any(previous.get(k) != resource.get(k) for k in SIGNIFICANT):
        return current + 1
    return current
