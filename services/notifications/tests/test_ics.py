"""The invitation's iCalendar object parses back with everything a calendar client needs."""

from __future__ import annotations

from datetime import datetime, timezone
from email.headerregistry import Address

from convene_notifications.domain.ics import PRODID, meeting_calendar, organizer_of, to_ics
from convene_notifications.domain.planning import invited_recipients
from convene_schemas.events.common import Location
from icalendar import Calendar
from notifications_testing import NOW, contact, meeting, unchecked

SENDER = Address("Convene", "meetings", "convene.test")


def ics_of(event, **kwargs) -> Calendar:
    calendar = meeting_calendar(
        event, method=kwargs.pop("method", "REQUEST"),
        organizer=organizer_of(event, SENDER), attendees=invited_recipients(event),
        stamp=NOW, **kwargs)
    return Calendar.from_ical(to_ics(calendar))


def only_event(calendar: Calendar):
    [event] = calendar.walk("VEVENT")
    return event


def test_request_has_method_uid_sequence_and_local_times_with_tzid() -> None:
    event = meeting(version=2)
    calendar = ics_of(event)
    vevent = only_event(calendar)

    assert str(calendar["METHOD"]) == "REQUEST"
    assert str(calendar["PRODID"]) == PRODID
    assert str(calendar["VERSION"]) == "2.0"
    assert str(vevent["UID"]) == event.ical_uid
    assert int(vevent["SEQUENCE"]) == 2
    assert vevent["DTSTART"].params["TZID"] == "Europe/Rome"
    assert vevent["DTEND"].params["TZID"] == "Europe/Rome"
    assert vevent.decoded("DTSTART") == event.start  # 14:00Z is 15:00 in Rome
    assert vevent.decoded("DTSTART").replace(tzinfo=None) == datetime(2026, 3, 10, 15, 0)
    assert vevent.decoded("DTEND") == event.end
    assert vevent.decoded("DTSTAMP") == NOW
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/Rome"]
    assert str(vevent["STATUS"]) == "CONFIRMED" and str(vevent["TRANSP"]) == "OPAQUE"


def test_times_across_a_dst_change_keep_their_instants() -> None:
    # New York springs forward on 2026-03-08 at 02:00: a meeting from 01:30 to 03:30 local
    # lasts one hour.
    start = datetime(2026, 3, 8, 6, 30, tzinfo=timezone.utc)
    event = meeting(start=start, duration_minutes=60, time_zone="America/New_York")
    vevent = only_event(ics_of(event))

    assert vevent.decoded("DTSTART").replace(tzinfo=None) == datetime(2026, 3, 8, 1, 30)
    assert vevent.decoded("DTEND").replace(tzinfo=None) == datetime(2026, 3, 8, 3, 30)
    utc = timezone.utc  # (same-zone subtraction in Python is wall-clock time)
    assert vevent.decoded("DTSTART").astimezone(utc) == event.start
    assert vevent.decoded("DTEND").astimezone(utc) == event.end  # one hour later


def test_organizer_is_the_host_and_each_invited_attendee_is_asked_to_reply() -> None:
    event = meeting(attendees=[contact("dana@globex.example", name="Dana Lee"),
                               contact("nobody", invite=False)])
    vevent = only_event(ics_of(event))

    organizer = vevent["ORGANIZER"]
    assert str(organizer) == "mailto:marco.rossi@convene.example"
    assert organizer.params["CN"] == "Marco Rossi"
    attendees = vevent["ATTENDEE"]
    attendees = attendees if isinstance(attendees, list) else [attendees]
    assert [str(a) for a in attendees] == ["mailto:dana@globex.example"]
    params = attendees[0].params
    assert (params["CN"], params["RSVP"], params["PARTSTAT"], params["ROLE"], params["CUTYPE"]) == (
        "Dana Lee", "TRUE", "NEEDS-ACTION", "REQ-PARTICIPANT", "INDIVIDUAL")


def test_without_a_host_email_the_sender_organizes() -> None:
    vevent = only_event(ics_of(meeting(host_email=None)))
    assert str(vevent["ORGANIZER"]) == "mailto:meetings@convene.test"


def test_description_is_the_attendee_description_as_plain_text_only() -> None:
    event = meeting(attendee_description='<p>Agenda</p><ul><li><b>Q1</b> numbers</li></ul>'
                                         '<p><a href="https://docs.example/q1">deck</a></p>')
    description = str(only_event(ics_of(event))["DESCRIPTION"])
    assert description == "Agenda\n\n- Q1 numbers\n\ndeck (https://docs.example/q1)"


def test_location_shows_the_place_or_the_join_link() -> None:
    in_person = meeting(location=Location(kind="in_person", value="Via Roma 1, Milano"))
    video = meeting(location=Location(kind="video", video_provider="zoom",
                                      join_url="https://zoom.example/j/42"))
    assert str(only_event(ics_of(in_person))["LOCATION"]) == "Via Roma 1, Milano"
    assert str(only_event(ics_of(video))["LOCATION"]) == "https://zoom.example/j/42"
    assert "LOCATION" not in only_event(ics_of(meeting()))


def test_line_breaks_in_title_or_names_add_no_property() -> None:
    # The contract refuses line breaks in one-line fields; one that slips through anyway
    # (built without validation here) still adds no iCalendar property.
    dana = unchecked(contact("dana@globex.example"), name="Dana\r\nX-EVIL:1")
    event = unchecked(meeting(), title="Review\r\nATTENDEE:mailto:evil@example.com",
                      host_name="Marco\nEND:VEVENT", attendees=[dana])
    calendar = ics_of(event)
    vevent = only_event(calendar)

    assert len(calendar.walk("VEVENT")) == 1
    assert "X-EVIL" not in vevent
    attendees = vevent["ATTENDEE"]
    assert not isinstance(attendees, list) and str(attendees) == "mailto:dana@globex.example"
    assert str(vevent["SUMMARY"]) == "Review ATTENDEE:mailto:evil@example.com"
    assert vevent["ORGANIZER"].params["CN"] == "Marco END:VEVENT"


def test_a_utc_meeting_is_written_in_utc() -> None:
    vevent = only_event(ics_of(meeting(time_zone="UTC")))
    assert vevent.decoded("DTSTART") == datetime(2026, 3, 10, 14, 0, tzinfo=timezone.utc)
    assert "TZID" not in vevent["DTSTART"].params
