"""events.list (full and incremental sync, paging), events.instances and freebusy.query, with the
semantics of the discovery document (providers.md §2.1, §2.5):

* nextPageToken on every page but the last, nextSyncToken only on the last; a sync token
  remembers the calendar's change number when the listing began, so nothing that changes while
  a client pages is lost;
* with a syncToken: every change since, deleted events as `status: cancelled` whatever
  showDeleted says, and 400 with the parameters that cannot be combined with it; an unknown or
  invalidated token answers 410 fullSyncRequired;
* singleEvents=false lists series with their exceptions (cancelled exceptions included even
  without showDeleted); singleEvents=true lists instances and never the series;
* timeMin bounds an event's end, timeMax its start, both exclusive.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from infra.emulators.google_calendar import errors, times
from infra.emulators.google_calendar.events import busy_view, cancelled_view
from infra.emulators.google_calendar.state import (
    Calendar,
    EmulatorState,
    PageCursor,
    StoredEvent,
    SyncCursor,
)

NOT_WITH_SYNC_TOKEN = ("iCalUID", "orderBy", "privateExtendedProperty", "q",
                       "sharedExtendedProperty", "timeMin", "timeMax", "updatedMin")


def _flag(value: str | None, default: bool = False) -> bool:
    if value is None:
        return default
    if value.lower() not in ("true", "false"):
        raise errors.invalid(f"Invalid boolean value: {value}")
    return value.lower() == "true"


def _properties(values: list[str], name: str) -> list[tuple[str, str]]:
    pairs = []
    for value in values:
        key, sep, wanted = value.partition("=")
        if not sep:
            raise errors.invalid(f"Invalid {name} value: {value}", name)
        pairs.append((key, wanted))
    return pairs


@dataclass
class ListQuery:
    max_results: int = 250
    page_token: str | None = None
    sync_token: str | None = None
    show_deleted: bool = False
    single_events: bool = False
    time_min: datetime | None = None
    time_max: datetime | None = None
    updated_min: datetime | None = None
    order_by: str | None = None
    q: str | None = None
    ical_uid: str | None = None
    private: list[tuple[str, str]] = field(default_factory=list)
    shared: list[tuple[str, str]] = field(default_factory=list)
    event_types: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, get: Callable[[str], str | None], get_all: Callable[[str], list[str]]) -> ListQuery:
        if get("syncToken"):
            clashing = [name for name in NOT_WITH_SYNC_TOKEN if get(name) is not None]
            if clashing:
                raise errors.invalid(f"The syncToken parameter cannot be combined with "
                                     f"{', '.join(clashing)}.", clashing[0])
        try:
            max_results = int(get("maxResults") or 250)
        except ValueError:
            raise errors.invalid("Invalid maxResults value.", "maxResults") from None
        if max_results < 1:
            raise errors.invalid("Invalid maxResults value.", "maxResults")
        query = cls(
            max_results=min(max_results, 2500),
            page_token=get("pageToken"),
            sync_token=get("syncToken"),
            show_deleted=_flag(get("showDeleted")),
            single_events=_flag(get("singleEvents")),
            time_min=times.parse_rfc3339(v, "timeMin") if (v := get("timeMin")) else None,
            time_max=times.parse_rfc3339(v, "timeMax") if (v := get("timeMax")) else None,
            updated_min=times.parse_rfc3339(v, "updatedMin") if (v := get("updatedMin")) else None,
            order_by=get("orderBy"),
            q=get("q"),
            ical_uid=get("iCalUID"),
            private=_properties(get_all("privateExtendedProperty"), "privateExtendedProperty"),
            shared=_properties(get_all("sharedExtendedProperty"), "sharedExtendedProperty"),
            event_types=get_all("eventTypes"),
        )
        if query.time_min and query.time_max and query.time_max <= query.time_min:
            raise errors.time_range_empty()
        if query.order_by not in (None, "startTime", "updated"):
            raise errors.invalid(f"Invalid value for: orderBy: {query.order_by}", "orderBy")
        if query.order_by == "startTime" and not query.single_events:
            raise errors.invalid("The requested ordering is not available for the particular "
                                 "query.", "orderBy")
        return query


class EventQueries:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    # --- events.list -----------------------------------------------------------------------

    def list_events(self, calendar: Calendar, role: str, query: ListQuery,
             empty_page: bool = False) -> dict[str, Any]:
        if query.page_token:
            # Page tokens stay valid after use: a retried page must not fail.
            page_cursor = self.state.page_tokens.get(query.page_token)
            if page_cursor is None or page_cursor.calendar_id != calendar.id:
                raise errors.invalid("Invalid page token.", "pageToken")
            items, sync = page_cursor.remaining, page_cursor.sync_cursor
        else:
            sync = SyncCursor(calendar.id, calendar.change_seq, calendar.sync_generation)
            if query.sync_token:
                cursor = self.state.sync_tokens.get(query.sync_token)
                if (cursor is None or cursor.calendar_id != calendar.id
                        or cursor.generation != calendar.sync_generation):
                    raise errors.full_sync_required()
                items = self._changes(calendar, role, query, since=cursor.seq)
            else:
                items = self._full(calendar, role, query)
        answer = self._collection(calendar, role)
        page, rest = ([], items) if empty_page and items else (items[:query.max_results],
                                                                 items[query.max_results:])
        answer["items"] = page
        if rest:
            token = secrets.token_urlsafe(24)
            self.state.page_tokens[token] = PageCursor(calendar.id, rest, sync)
            answer["nextPageToken"] = token
        else:
            token = "CP" + secrets.token_urlsafe(24)
            self.state.sync_tokens[token] = sync
            answer["nextSyncToken"] = token
        return answer

    def _collection(self, calendar: Calendar, role: str) -> dict[str, Any]:
        updated = max((s.resource["updated"] for s in calendar.events.values()),
                      default=times.utc_millis(self.state.now()))
        answer: dict[str, Any] = {
            "kind": "calendar#events", "etag": self.state.new_etag(),
            "summary": calendar.summary, "description": calendar.description,
            "updated": updated, "timeZone": calendar.time_zone, "accessRole": role,
            "defaultReminders": [{"method": "popup", "minutes": 10}] if role == "owner" else [],
        }
        return answer

    def _full(self, calendar: Calendar, role: str, query: ListQuery) -> list[dict[str, Any]]:
        tz = times.zone(calendar.time_zone)
        found: list[tuple[tuple, dict[str, Any]]] = []
        for stored in calendar.events.values():
            for resource in self._listed(calendar, stored, query, tz):
                if not _matches(resource, query):
                    continue
                start = _start_or_none(resource, tz)
                if query.order_by == "updated":
                    key: tuple = (resource["updated"], stored.order)
                elif query.order_by == "startTime" or query.single_events:
                    key = (start is None, start or datetime.min.replace(tzinfo=times.UTC),
                           stored.order)
                else:
                    key = (stored.order, start or datetime.min.replace(tzinfo=times.UTC))
                found.append((key, resource))
        found.sort(key=lambda pair: pair[0])
        return [_present(resource, role) for _, resource in found]

    def _listed(self, calendar: Calendar, stored: StoredEvent, query: ListQuery,
                tz: ZoneInfo) -> Iterator[dict[str, Any]]:
        """What one stored event contributes to a full listing."""
        resource = stored.resource
        cancelled = resource.get("status") == "cancelled"
        deleted_shown = query.show_deleted or query.updated_min is not None
        series_id = resource.get("recurringEventId")
        if series_id is not None:  # an exception of a series
            series = calendar.events.get(series_id)
            if series is None or series.resource.get("status") == "cancelled":
                if not deleted_shown:
                    return
            if cancelled:
                if deleted_shown or not query.single_events:
                    yield resource
            elif _overlaps(resource, tz, query):
                yield resource
            return
        if resource.get("recurrence"):
            if query.single_events:
                if not cancelled:
                    yield from self._instances(calendar, resource, query.time_min,
                                               query.time_max)
                return
            if cancelled and not deleted_shown:
                return
            if _series_overlaps(resource, tz, query):
                yield resource
            return
        if cancelled and not deleted_shown:
            return
        if _overlaps(resource, tz, query):
            yield resource

    def _instances(self, calendar: Calendar, series: dict[str, Any], time_min: datetime | None,
                   time_max: datetime | None) -> Iterator[dict[str, Any]]:
        """The unmodified instances of a series (exceptions are stored events of their own)."""
        expansion = times.Series(series, times.zone(calendar.time_zone))
        for occurrence in expansion.occurrences(time_min, time_max,
                                                limit=self.state.config.max_instances):
            instance_id = f"{series['id']}_{occurrence.suffix}"
            if instance_id not in calendar.events:
                yield times.instance_resource(series, occurrence)

    def _changes(self, calendar: Calendar, role: str, query: ListQuery,
                 since: int) -> list[dict[str, Any]]:
        changed = sorted((s for s in calendar.events.values() if s.seq > since),
                         key=lambda s: s.seq)
        items: list[dict[str, Any]] = []
        for stored in changed:
            resource = stored.resource
            if query.single_events and resource.get("recurrence"):
                instances = self._instances(calendar, resource, None, None)
                if resource.get("status") == "cancelled":
                    instances = (dict(i, status="cancelled") for i in instances)
                items.extend(i for i in instances if _type_matches(i, query))
            elif _type_matches(resource, query):
                items.append(resource)
        return [_present(resource, role) for resource in items]

    # --- events.instances ------------------------------------------------------------------

    def instances(self, calendar: Calendar, role: str, series_id: str, query: ListQuery,
                  original_start: str | None) -> dict[str, Any]:
        stored = calendar.events.get(series_id)
        if stored is None:
            raise errors.not_found()
        series = stored.resource
        if not series.get("recurrence"):
            raise errors.bad_request("The event is not a recurring event.")
        if query.page_token:
            cursor = self.state.page_tokens.get(query.page_token)
            if cursor is None or cursor.calendar_id != calendar.id:
                raise errors.invalid("Invalid page token.", "pageToken")
            items = cursor.remaining
        else:
            tz = times.zone(calendar.time_zone)
            found = list(self._instances(calendar, series, query.time_min, query.time_max))
            for other in calendar.events.values():
                resource = other.resource
                if resource.get("recurringEventId") != series_id:
                    continue
                if resource.get("status") == "cancelled":
                    if query.show_deleted:
                        found.append(resource)
                elif _overlaps(resource, tz, query):
                    found.append(resource)
            if original_start:
                found = [r for r in found if _same_original(r, original_start, tz)]
            found.sort(key=lambda r: times.point(r["originalStartTime"], tz, "start"))
            items = [_present(r, role) for r in found]
        answer = self._collection(calendar, role)
        answer["items"] = items[:query.max_results]
        if len(items) > query.max_results:
            token = secrets.token_urlsafe(24)
            self.state.page_tokens[token] = PageCursor(
                calendar.id, items[query.max_results:],
                SyncCursor(calendar.id, calendar.change_seq, calendar.sync_generation))
            answer["nextPageToken"] = token
        return answer

    # --- freebusy.query --------------------------------------------------------------------

    def freebusy(self, body: dict[str, Any], resolve: Callable[[str], Calendar | None]
                 ) -> dict[str, Any]:
        if not body.get("timeMin"):
            raise errors.required("Missing timeMin parameter.", "timeMin")
        if not body.get("timeMax"):
            raise errors.required("Missing timeMax parameter.", "timeMax")
        time_min = times.parse_rfc3339(body["timeMin"], "timeMin")
        time_max = times.parse_rfc3339(body["timeMax"], "timeMax")
        if time_max <= time_min:
            raise errors.time_range_empty()
        calendars: dict[str, Any] = {}
        for item in body.get("items") or []:
            calendar_id = item.get("id", "")
            calendar = resolve(calendar_id)
            if calendar is None:
                calendars[calendar_id] = {"errors": [{"domain": "global", "reason": "notFound"}],
                                          "busy": []}
                continue
            busy = [{"start": times.utc_seconds(start), "end": times.utc_seconds(end)}
                    for start, end in self.busy(calendar, time_min, time_max)]
            calendars[calendar_id] = {"busy": busy}
        return {"kind": "calendar#freeBusy", "timeMin": times.utc_millis(time_min),
                "timeMax": times.utc_millis(time_max), "calendars": calendars}

    def busy(self, calendar: Calendar, time_min: datetime,
             time_max: datetime) -> list[tuple[datetime, datetime]]:
        """Merged busy intervals within [time_min, time_max): opaque, not cancelled, not
        declined by the calendar's owner; series expanded with their exceptions."""
        tz = times.zone(calendar.time_zone)
        window = ListQuery(single_events=True, time_min=time_min, time_max=time_max)
        intervals = []
        for stored in calendar.events.values():
            for resource in self._listed(calendar, stored, window, tz):
                if resource.get("status") == "cancelled" or resource.get("transparency") == "transparent":
                    continue
                if any(a.get("self") and a.get("responseStatus") == "declined"
                       for a in resource.get("attendees", [])):
                    continue
                start, end = times.span(resource, tz)
                intervals.append((max(start, time_min), min(end, time_max)))
        merged: list[tuple[datetime, datetime]] = []
        for start, end in sorted(intervals):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            elif end > start:
                merged.append((start, end))
        return merged


def _present(resource: dict[str, Any], role: str) -> dict[str, Any]:
    if resource.get("status") == "cancelled":
        return cancelled_view(resource)
    if role == "freeBusyReader":
        return busy_view(resource)
    return resource


def _start_or_none(resource: dict[str, Any], tz: ZoneInfo) -> datetime | None:
    try:
        return times.point(resource["start"], tz, "start")
    except (KeyError, errors.ApiError):
        return None


def _overlaps(resource: dict[str, Any], tz: ZoneInfo, query: ListQuery) -> bool:
    if query.time_min is None and query.time_max is None:
        return True
    start, end = times.span(resource, tz)
    return ((query.time_min is None or end > query.time_min)
            and (query.time_max is None or start < query.time_max))


def _series_overlaps(series: dict[str, Any], tz: ZoneInfo, query: ListQuery) -> bool:
    if query.time_min is None and query.time_max is None:
        return True
    expansion = times.Series(series, tz)
    first = next(expansion.occurrences(limit=1), None)
    if first is None:
        return False
    last_end = expansion.last_end()
    return ((query.time_max is None or first.start_utc() < query.time_max)
            and (query.time_min is None or last_end is None or last_end > query.time_min))


def _same_original(resource: dict[str, Any], original_start: str, tz: ZoneInfo) -> bool:
    wanted = times.parse_rfc3339(original_start, "originalStart")
    return times.point(resource["originalStartTime"], tz, "start") == wanted


def _type_matches(resource: dict[str, Any], query: ListQuery) -> bool:
    return not query.event_types or resource.get("eventType", "default") in query.event_types


def _matches(resource: dict[str, Any], query: ListQuery) -> bool:
    if not _type_matches(resource, query):
        return False
    if query.ical_uid is not None and resource.get("iCalUID") != query.ical_uid:
        return False
    if query.updated_min is not None and resource["updated"] < times.utc_millis(query.updated_min):
        return False
    properties = resource.get("extendedProperties") or {}
    for scope, wanted in (("private", query.private), ("shared", query.shared)):
        values = properties.get(scope) or {}
        if any(values.get(key) != value for key, value in wanted):
            return False
    if query.q:
        haystack = " ".join([resource.get("summary", ""), resource.get("description", ""),
                             resource.get("location", "")]
                            + [f"{a.get('email', '')} {a.get('displayName', '')}"
                               for a in resource.get("attendees", [])]).lower()
        if not all(word in haystack for word in query.q.lower().split()):
            return False
    return True
