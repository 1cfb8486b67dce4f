"""Google Calendar's wire format for the adapter: a meeting as the event body Convene
writes, a calendarList entry as a :class:`ProviderCalendar`, an events.list item as the
:class:`RemoteEvent` a sync reads. Pure: no I/O.
"""

from __future__ import annotations

from datetime import date, datetime, time, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from convene_calendar_sync.domain.calendar_events import (
    BusyInterval,
    CalendarAccess,
    OutboundEvent,
    ProviderCalendar,
    RemoteEvent,
)
from convene_calendar_sync.domain.tasks import TaskEvent

MEETING_ID_PROPERTY = "conveneMeetingId"
SEQUENCE_PROPERTY = "conveneSequence"
TASK_ID_PROPERTY = "conveneTaskId"
TASK_CALENDAR_MARKER = "convene-tasks:"
"""In the description of a tasks sub-calendar, before its key: how a listing recognises it
(never offered as a calendar) and how a crash between making it and remembering it is
recovered (found, not made twice)."""
UTC = timezone.utc
ACCESS: dict[str, CalendarAccess] = {"owner": "owner", "writer": "writer", "reader": "reader",
                                     "freeBusyReader": "free_busy"}


def calendar_of(entry: dict[str, Any]) -> ProviderCalendar:
    return ProviderCalendar(calendar_id=entry["id"],
                            name=entry.get("summaryOverride") or entry.get("summary") or entry["id"],
                            primary=bool(entry.get("primary")),
                            access=ACCESS.get(entry.get("accessRole", ""), "free_busy"),
                            time_zone=entry.get("timeZone"))


def is_task_calendar(entry: dict[str, Any]) -> bool:
    return TASK_CALENDAR_MARKER in str(entry.get("description") or "")


def task_calendar_body(key: str, name: str) -> dict[str, Any]:
    return {"summary": name, "timeZone": "UTC",
            "description": f"Your CRM tasks, kept up to date by Convene; changes made here "
                           f"are overwritten. ({TASK_CALENDAR_MARKER}{key})"}


def task_body(event: TaskEvent) -> dict[str, Any]:
    """A task's event: a short UTC event at the due time, free once completed, marked as
    Convene's by a private extended property."""
    return {
        "status": "confirmed", "summary": event.title,
        "start": {"dateTime": rfc3339(event.start), "timeZone": "UTC"},
        "end": {"dateTime": rfc3339(event.end), "timeZone": "UTC"},
        "transparency": "transparent" if event.completed else "opaque",
        # no iCalUID: the event id is ours already (derived from the task), and Google asks
        # that only one of id and iCalUID be given at creation (events.insert)
        "extendedProperties": {"private": {TASK_ID_PROPERTY: event.task_id,
                                           SEQUENCE_PROPERTY: str(event.version)}},
    }


def event_body(event: OutboundEvent) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": "confirmed",
        "summary": event.title,
        "start": event_time(event.start, event.time_zone),
        "end": event_time(event.end, event.time_zone),
        "sequence": event.sequence,
        "guestsCanModify": False,
        "extendedProperties": {"private": {MEETING_ID_PROPERTY: event.meeting_id,
                                           SEQUENCE_PROPERTY: str(event.sequence)}},
    }
    if event.description:
        body["description"] = event.description
    if event.location:
        body["location"] = event.location
    organizer = event.organizer_email.lower()
    guests = [a for a in event.attendees if a.email.lower() != organizer]
    if guests:
        # Google makes the calendar's owner the organizer; listing them as an accepted guest is
        # how Google itself shows an event its owner created with guests.
        attendees = [{"email": event.organizer_email, "displayName": event.organizer_name,
                      "responseStatus": "accepted"}]
        attendees += [{"email": a.email, "displayName": a.name, "responseStatus": "needsAction"}
                      for a in guests]
        body["attendees"] = [{k: v for k, v in a.items() if v} for a in attendees]
    return body


def event_time(moment: datetime, time_zone: str) -> dict[str, str]:
    try:
        return {"dateTime": moment.astimezone(ZoneInfo(time_zone)).isoformat(),
                "timeZone": time_zone}
    except (ZoneInfoNotFoundError, ValueError):
        return {"dateTime": rfc3339(moment)}


def new_conference(event: OutboundEvent, event_id: str) -> dict[str, Any]:
    if not event.want_google_meet:
        return {}
    # The same requestId again is ignored by Google: a retried write makes one conference.
    return {"conferenceData": {"createRequest": {
        "requestId": f"{event_id}-{event.sequence}",
        "conferenceSolutionKey": {"type": "hangoutsMeet"}}}}


def join_url(resource: dict[str, Any]) -> str | None:
    if resource.get("hangoutLink"):
        return str(resource["hangoutLink"])
    for entry in (resource.get("conferenceData") or {}).get("entryPoints", []):
        if entry.get("entryPointType") == "video" and entry.get("uri"):
            return str(entry["uri"])
    return None  # none asked for, or Google still creating it (status "pending")


def remote_event(item: dict[str, Any], zone: ZoneInfo, window_start: datetime,
                  window_end: datetime) -> RemoteEvent:
    original = item.get("originalStartTime")
    ids = {"provider_event_id": item["id"], "series_event_id": item.get("recurringEventId"),
           "original_start": instant(original, zone) if original else None,
           "etag": item.get("etag")}
    if item.get("status") == "cancelled":
        return RemoteEvent(deleted=True, **ids)
    start, end = instant(item["start"], zone), instant(item["end"], zone)
    busy = item.get("transparency") != "transparent"
    attendees = item.get("attendees") or []
    declined = any(a.get("self") and a.get("responseStatus") == "declined" for a in attendees)
    occurrences: tuple[BusyInterval, ...] = ()
    if busy and not declined and start < window_end and end > window_start:
        occurrences = (BusyInterval(max(start, window_start), min(end, window_end)),)
    private = (item.get("extendedProperties") or {}).get("private") or {}
    return RemoteEvent(
        deleted=False, ical_uid=item.get("iCalUID"), title=item.get("summary") or "",
        description=item.get("description"), start=start, end=end,
        time_zone=item["start"].get("timeZone") or zone.key, all_day="date" in item["start"],
        busy=busy, organizer_email=((item.get("organizer") or {}).get("email") or "").lower() or None,
        attendee_emails=tuple(a["email"].lower() for a in attendees if a.get("email")),
        join_url=join_url(item), convene_meeting_id=private.get(MEETING_ID_PROPERTY),
        created_by_integration=written_by_an_app(item), occurrences=occurrences, **ids)


def written_by_an_app(item: dict[str, Any]) -> bool:
    """Convene's marker, or what only an API client can set: extended properties (private or
    shared; Google Calendar's UI has no way to add them), ``source`` or a ``locked`` copy."""
    properties = item.get("extendedProperties") or {}
    return bool(properties.get("private") or properties.get("shared") or item.get("source")
                or item.get("locked"))


def instant(value: dict[str, Any], zone: ZoneInfo) -> datetime:
    """An EventDateTime in UTC; an all-day date is midnight in the calendar's zone."""
    if value.get("dateTime"):
        moment = datetime.fromisoformat(value["dateTime"])
        if moment.tzinfo is None:  # Google sends offsets; a bare time is in its timeZone
            moment = moment.replace(tzinfo=zone_of(value["timeZone"]) if value.get("timeZone")
                                    else zone)
        return moment.astimezone(UTC)
    return datetime.combine(date.fromisoformat(value["date"]), time(), zone).astimezone(UTC)


def zone_of(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
