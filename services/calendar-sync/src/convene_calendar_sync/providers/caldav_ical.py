"""iCalendar for the CalDAV adapter: a meeting as the VEVENT Convene writes
(:func:`to_ical`) and a stored resource as the :class:`RemoteEvent` a sync reads
(:func:`remote_event`), with ``icalendar`` and ``recurring_ical_events`` (series expanded
with their exceptions). Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar
import recurring_ical_events

from convene_calendar_sync.domain.calendar_events import (
    BusyInterval,
    OutboundEvent,
    RemoteEvent,
)
from convene_calendar_sync.domain.tasks import TaskEvent

MEETING_MARKER = "X-CONVENE-MEETING-ID"
SEQUENCE_MARKER = "X-CONVENE-SEQUENCE"
TASK_MARKER = "X-CONVENE-TASK-ID"
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def resource_name(ical_uid: str) -> str:
    """The event resource's file name for a UID: the UID itself when it is a safe file
    name, else its safe characters plus a hash of the whole UID, so the name is stable and
    two UIDs that differ only in unsafe characters still get different names."""
    if _SAFE_NAME.fullmatch(ical_uid) and not ical_uid.endswith("."):
        return ical_uid
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", ical_uid)[:64].strip("._-") or "event"
    return f"{safe}-{hashlib.sha256(ical_uid.encode()).hexdigest()[:16]}"


def zone_name_of(vtimezone_text: Any) -> str | None:
    """The IANA name of a ``calendar-timezone`` property (a VCALENDAR with a VTIMEZONE)."""
    if not vtimezone_text:
        return None
    try:
        found = icalendar.Calendar.from_ical(str(vtimezone_text)).walk("VTIMEZONE")
    except ValueError:
        return None
    return _iana(str(found[0].get("TZID"))) if found else None


def _iana(name: str | None) -> str | None:
    if not name:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


def _address(email: str, name: str, **params: str) -> icalendar.vCalAddress:
    address = icalendar.vCalAddress(f"mailto:{email}")
    if name:
        address.params["CN"] = name
    address.params.update(params)
    return address


def to_ical(event: OutboundEvent) -> bytes:
    """The meeting as a VCALENDAR with one VEVENT, in the meeting's time zone when it is
    an IANA zone (with its VTIMEZONE), else in UTC. Nothing in it asks for scheduling."""
    zone = ZoneInfo(event.time_zone) if _iana(event.time_zone) else UTC
    vevent = icalendar.Event()
    vevent.add("uid", event.ical_uid)
    vevent.add("sequence", event.sequence)
    vevent.add("dtstamp", datetime.now(UTC))
    vevent.add("dtstart", event.start.astimezone(zone))
    vevent.add("dtend", event.end.astimezone(zone))
    vevent.add("summary", event.title)
    if event.description:
        vevent.add("description", event.description)
    if event.location:
        vevent.add("location", event.location)
    no_scheduling = {"SCHEDULE-AGENT": "CLIENT"}
    vevent.add("organizer", _address(event.organizer_email, event.organizer_name,
                                     **no_scheduling))
    for attendee in event.attendees:
        vevent.add("attendee", _address(attendee.email, attendee.name, ROLE="REQ-PARTICIPANT",
                                        PARTSTAT="NEEDS-ACTION", RSVP="FALSE", **no_scheduling))
    vevent.add(MEETING_MARKER, event.meeting_id)
    vevent.add(SEQUENCE_MARKER, str(event.sequence))
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//Convene//calendar-sync//EN")
    calendar.add("version", "2.0")
    calendar.add_component(vevent)
    if zone is not UTC:
        calendar.add_missing_timezones()
    return calendar.to_ical()


def task_to_ical(event: TaskEvent) -> bytes:
    """A task as a VCALENDAR with one VEVENT in UTC: no organizer or attendees, so
    nothing can ask for scheduling; free (TRANSPARENT) once completed."""
    vevent = icalendar.Event()
    vevent.add("uid", event.uid)
    vevent.add("sequence", event.version)
    vevent.add("dtstamp", datetime.now(UTC))
    vevent.add("dtstart", event.start.astimezone(UTC))
    vevent.add("dtend", event.end.astimezone(UTC))
    vevent.add("summary", event.title)
    vevent.add("transp", "TRANSPARENT" if event.completed else "OPAQUE")
    vevent.add(TASK_MARKER, event.task_id)
    vevent.add(SEQUENCE_MARKER, str(event.version))
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//Convene//calendar-sync//EN")
    calendar.add("version", "2.0")
    calendar.add_component(vevent)
    return calendar.to_ical()


def _utc(value: date | datetime, zone: tzinfo) -> datetime:
    """A DATE-TIME or DATE as UTC; floating times and dates are in ``zone``."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=zone)).astimezone(UTC)
    return datetime.combine(value, time(), tzinfo=zone).astimezone(UTC)


def _emails(values: Any) -> list[str]:
    """The ``mailto:`` addresses of an ORGANIZER/ATTENDEE value (or list), lowercased."""
    return [str(value)[7:].strip().lower() for value in _listed(values)
            if str(value).lower().startswith("mailto:")]


def _blocks_time(component: icalendar.Component, own_addresses: set[str]) -> bool:
    """Busy: not transparent, not cancelled, not declined by the account itself."""
    if str(component.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
        return False
    if str(component.get("STATUS", "")).upper() == "CANCELLED":
        return False
    return not any(
        str(attendee.params.get("PARTSTAT", "")).upper() == "DECLINED"
        and set(_emails(attendee)) & own_addresses
        for attendee in _listed(component.get("ATTENDEE")))


def remote_event(href: str, ics: str, *, etag: str | None, zone: tzinfo,
                 own_addresses: set[str], window: tuple[datetime, datetime]
                 ) -> RemoteEvent | None:
    """One calendar resource as a :class:`RemoteEvent` (None: not an event, e.g. a task).

    The master (else the first VEVENT) gives the fields; ``occurrences`` are the busy
    intervals overlapping ``window``, expanded with EXDATEs and RECURRENCE-ID overrides.
    """
    calendar = icalendar.Calendar.from_ical(ics)
    vevents = calendar.walk("VEVENT")
    if not vevents:
        return None
    master = cast(icalendar.Event,
                  next((v for v in vevents if "RECURRENCE-ID" not in v), vevents[0]))
    start, end = master.start, master.end
    window_start, window_end = window
    # Dates and floating times are placed in ``zone`` only now: widen the library's
    # query by a day each side, then filter on the exact UTC intervals.
    occurrences = []
    for occurrence in recurring_ical_events.of(calendar).between(
            window_start - timedelta(days=1), window_end + timedelta(days=1)):
        if not _blocks_time(occurrence, own_addresses):
            continue
        interval = BusyInterval(_utc(occurrence.start, zone), _utc(occurrence.end, zone))
        if interval.start < window_end and interval.end > window_start \
                and interval.end > interval.start:
            occurrences.append(interval)
    dtstart = master.get("DTSTART")
    rrule = master.get("RRULE")
    marker = master.get(MEETING_MARKER)
    conferences = [str(c) for c in _listed(master.get("CONFERENCE"))
                   if str(c).startswith("https://")]
    return RemoteEvent(
        provider_event_id=href, deleted=False, ical_uid=str(master.get("UID", "")) or None,
        title=str(master.get("SUMMARY", "")),
        description=str(master["DESCRIPTION"]) if "DESCRIPTION" in master else None,
        start=_utc(start, zone), end=_utc(end, zone),
        time_zone=_iana(dtstart.params.get("TZID")) if dtstart is not None else None,
        all_day=not isinstance(start, datetime),
        busy=str(master.get("TRANSP", "OPAQUE")).upper() != "TRANSPARENT"
        and str(master.get("STATUS", "")).upper() != "CANCELLED",
        organizer_email=next(iter(_emails(master.get("ORGANIZER"))), None),
        attendee_emails=tuple(_emails(master.get("ATTENDEE"))),
        join_url=conferences[0] if conferences else None,
        convene_meeting_id=str(marker) if marker else None,
        created_by_integration=marker is not None,
        rrule=rrule.to_ical().decode() if rrule is not None and not isinstance(rrule, list)
        else None,
        occurrences=tuple(sorted(occurrences, key=lambda i: (i.start, i.end))),
        etag=etag)


def _listed(value: Any) -> Iterable[Any]:
    return value if isinstance(value, list) else [value] if value is not None else []
