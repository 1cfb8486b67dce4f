"""The iCalendar object an invitation carries (RFC 5545, iTIP RFC 5546, iMIP RFC 6047).

Built with the ``icalendar`` package only, never by assembling text: it folds lines,
escapes TEXT values and RFC 6868-escapes parameters such as CN, so no user input can start
a property or a component of its own.

One meeting has one UID everywhere (``ical_uid``) and SEQUENCE is the meeting's version,
so a later update or cancellation replaces the event in the attendee's calendar.
Start and end are written as local times of the meeting's time zone with a TZID and a
matching VTIMEZONE (UTC itself is written as ``...Z`` times, which needs no VTIMEZONE).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import date, datetime
from email.headerregistry import Address
from zoneinfo import ZoneInfo

from convene_schemas.events.common import Location
from convene_schemas.events.meetings import MeetingSnapshot
from icalendar import Calendar, Event, vCalAddress

from convene_notifications.domain.addresses import parse_address, single_line
from convene_notifications.domain.planning import Method, Recipient
from convene_notifications.domain.text import html_to_text

PRODID = "-//Convene//Meetings//EN"

_VIDEO_PROVIDERS = {"zoom": "Zoom", "google_meet": "Google Meet",
                    "microsoft_teams": "Microsoft Teams"}


def organizer_of(meeting: MeetingSnapshot, fallback: Address) -> Address:
    """The ORGANIZER: the host, or the configured sender when the host has no usable email."""
    return parse_address(meeting.host_email or "", meeting.host_name) or fallback


def location_text(location: Location | None) -> str:
    """What LOCATION shows: the number, address or text, or for a video meeting its join
    link (the provider's name while there is none)."""
    if location is None:
        return ""
    if location.kind == "video":
        return location.join_url or _VIDEO_PROVIDERS.get(location.video_provider or "", "")
    text = location.value or ""
    return "".join(ch for ch in text if ch == "\n" or unicodedata.category(ch) != "Cc").strip()


def _cal_address(address: Address, **params: str) -> vCalAddress:
    value = vCalAddress(f"mailto:{address.addr_spec}")
    if address.display_name:
        value.params["CN"] = address.display_name
    for name, param in params.items():
        value.params[name.replace("_", "-").upper()] = param
    return value


def _vtimezone_range(start: datetime, end: datetime) -> tuple[date, date]:
    # The whole years the meeting touches: every transition around it is defined, and the
    # VTIMEZONE stays small (~1 KB) instead of spanning 1970-2038.
    return date(start.year, 1, 1), date(end.year + 1, 1, 1)


def meeting_calendar(
    meeting: MeetingSnapshot,
    *,
    method: Method,
    organizer: Address,
    attendees: Sequence[Recipient],
    stamp: datetime,
) -> Calendar:
    """The VCALENDAR with one VEVENT for ``meeting``.

    ``attendees`` are the invited recipients (one ATTENDEE each, asked to reply);
    ``stamp`` is DTSTAMP, the moment the object is created (UTC).
    """
    zone = ZoneInfo(meeting.time_zone)
    start, end = meeting.start.astimezone(zone), meeting.end.astimezone(zone)

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)

    event = Event()
    event.add("uid", meeting.ical_uid)
    event.add("sequence", meeting.version)
    event.add("dtstamp", stamp.astimezone(ZoneInfo("UTC")))
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("summary", single_line(meeting.title))
    description = html_to_text(meeting.attendee_description)
    if description:
        event.add("description", description)
    location = location_text(meeting.location)
    if location:
        event.add("location", location)
    event.add("organizer", _cal_address(organizer))
    for recipient in attendees:
        address = recipient.address
        if address is not None:
            event.add("attendee", _cal_address(
                address, cutype="INDIVIDUAL", role="REQ-PARTICIPANT",
                partstat="NEEDS-ACTION", rsvp="TRUE"))
    event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    event.add("transp", "OPAQUE")
    calendar.add_component(event)
    calendar.add_missing_timezones(*_vtimezone_range(start, end))
    return calendar


def to_ics(calendar: Calendar) -> bytes:
    """The calendar's text (CRLF lines, folded at 75 octets, UTF-8)."""
    return calendar.to_ical()
