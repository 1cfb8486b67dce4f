"""The confirmation's "add to calendar" file: one VEVENT, published (METHOD:PUBLISH).

Built with the ``icalendar`` package only, never by assembling text (it folds lines and
escapes every value). Its UID is the one the meeting made of the booking carries
(``ical_uid_for(booked_meeting_id(...))``), so the invitation that follows updates this
event in the visitor's calendar instead of adding a second one. No ORGANIZER: the host's
address is not for the public page.
"""

from __future__ import annotations

from datetime import UTC, datetime

from convene_schemas.events.meetings import booked_meeting_id, ical_uid_for
from icalendar import Calendar, Event

from convene_booking_pages.domain.booking import Booking

PRODID = "-//Convene//Booking pages//EN"
MEDIA_TYPE = "text/calendar; charset=utf-8"


def booking_ics(booking: Booking, title: str, stamp: datetime) -> bytes:
    """The .ics of a booked (not a requested) booking; ``stamp`` is DTSTAMP."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", ical_uid_for(booked_meeting_id(booking.account_id, booking.booking_id)))
    event.add("dtstamp", stamp.astimezone(UTC))
    event.add("dtstart", booking.start.astimezone(UTC))
    event.add("dtend", booking.end.astimezone(UTC))
    event.add("summary", title)
    event.add("status", "CONFIRMED")
    event.add("transp", "OPAQUE")
    calendar.add_component(event)
    text: bytes = calendar.to_ical()
    return text
