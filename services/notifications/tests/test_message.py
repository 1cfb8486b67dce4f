"""The whole invitation email, as a mail client parses it."""

from __future__ import annotations

import email
from email import policy
from email.message import EmailMessage

from convene_notifications.composers import MeetingComposer
from convene_notifications.domain.planning import plan_invitations
from convene_notifications.rendering import Templates
from icalendar import Calendar
from notifications_testing import NOW, SENDER, contact, meeting, unchecked

EXPECTED_HEADERS = {"from", "to", "reply-to", "subject", "date", "message-id", "mime-version",
                    "content-type"}


def compose(event) -> list[EmailMessage]:
    composer = MeetingComposer(templates=Templates(), sender=SENDER)
    return [composer.compose(p, event, now=NOW,
                             message_id=p.message_id(composer.message_id_domain))
            for p in plan_invitations(event)]


def parsed(message: EmailMessage) -> EmailMessage:
    return email.message_from_bytes(message.as_bytes(), policy=policy.default)


def test_invitation_is_mixed_with_three_alternatives_and_the_ics_attached() -> None:
    event = meeting()
    [message] = compose(event)
    received = parsed(message)

    assert received.get_content_type() == "multipart/mixed"
    alternative, attachment = received.get_payload()
    assert alternative.get_content_type() == "multipart/alternative"
    plain, html, calendar = alternative.get_payload()
    assert [plain.get_content_type(), html.get_content_type(), calendar.get_content_type()] == [
        "text/plain", "text/html", "text/calendar"]
    assert calendar.get_param("method") == "REQUEST"
    assert calendar.get_content_charset() == "utf-8"
    assert attachment.get_content_type() == "application/ics"
    assert attachment.get_filename() == "invite.ics"
    assert attachment.get_content_disposition() == "attachment"
    inline = Calendar.from_ical(calendar.get_content())
    attached = Calendar.from_ical(attachment.get_content())
    assert inline.to_ical() == attached.to_ical()
    assert str(inline.walk("VEVENT")[0]["UID"]) == event.ical_uid


def test_headers_name_sender_host_and_attendee() -> None:
    event = meeting(attendees=[contact("dana.lee@globex.example", name="Dana Lee")])
    [message] = compose(event)
    received = parsed(message)
    [planned] = plan_invitations(event)

    assert {k.lower() for k in received.keys()} == EXPECTED_HEADERS
    assert received["From"].addresses[0] == SENDER
    assert str(received["To"]) == "Dana Lee <dana.lee@globex.example>"
    assert str(received["Reply-To"]) == "Marco Rossi <marco.rossi@convene.example>"
    assert received["Message-ID"] == f"<{planned.email_id}@convene.test>"
    assert received["Date"].datetime == NOW
    # The contact is in New York: 14:00Z is 10:00 there.
    assert received["Subject"] == (
        "Invitation: Quarterly review @ Tue, Mar 10, 2026 10:00 AM (America/New_York)")


def test_bodies_show_both_time_zones_and_the_description() -> None:
    [message] = compose(meeting(attendee_description="<p>Bring the <b>Q1</b> deck</p>"))
    plain = parsed(message).get_body(("plain",)).get_content()
    html = parsed(message).get_body(("html",)).get_content()

    for body in (plain, html):
        assert "Tue, Mar 10, 2026 10:00 AM (America/New_York)" in body
        assert "Tue, Mar 10, 2026 3:00 PM (Europe/Rome)" in body
    assert "Bring the Q1 deck" in plain
    assert "<p>Bring the Q1 deck</p>" in html


def test_line_breaks_in_title_or_names_add_no_header() -> None:
    # The contract refuses line breaks and NUL in one-line fields; text that slips through
    # anyway (built without validation here) still adds no header.
    dana = unchecked(contact("dana@globex.example"), name="Dana\r\nCc: other@example.com\x00")
    event = unchecked(meeting(), title="Review\r\nBcc: victim@example.com",
                      host_name="Marco\nX-Injected: 1", attendees=[dana])
    [message] = compose(event)
    received = parsed(message)

    assert {k.lower() for k in received.keys()} == EXPECTED_HEADERS
    assert received["Subject"].startswith("Invitation: Review Bcc: victim@example.com @ ")
    assert [a.addr_spec for a in received["To"].addresses] == ["dana@globex.example"]
    assert received["To"].addresses[0].display_name == "Dana Cc: other@example.com"
    assert received["Reply-To"].addresses[0].display_name == "Marco X-Injected: 1"
    for part in list(received.walk())[1:]:
        assert {k.lower() for k in part.keys()} <= {
            "content-type", "content-transfer-encoding", "content-disposition"}


def test_user_text_is_escaped_in_the_html_body() -> None:
    [message] = compose(meeting(title="<script>alert(1)</script>",
                                attendees=[contact(name='Dana "<img src=x>"')]))
    html = parsed(message).get_body(("html",)).get_content()
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_non_ascii_names_and_titles_survive_the_round_trip() -> None:
    [message] = compose(meeting(title="Café meeting ✓",
                                attendees=[contact("zoe@example.fi", name="Zoë Äkäslompolo")]))
    received = parsed(message)
    assert received["To"].addresses[0].display_name == "Zoë Äkäslompolo"
    assert received["Subject"].startswith("Invitation: Café meeting ✓ @ ")
    calendar = Calendar.from_ical(received.get_body(("calendar",)).get_content())
    assert str(calendar.walk("VEVENT")[0]["SUMMARY"]) == "Café meeting ✓"


def test_the_message_is_plain_ascii_with_crlf_lines() -> None:
    [message] = compose(meeting(title="Café ✓", attendees=[contact(name="Zoë")],
                                attendee_description="<p>Grüße</p>"))
    raw = message.as_bytes()
    assert raw.isascii()  # no 8BITMIME/SMTPUTF8 needed from the server
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998


def test_a_subject_of_about_one_line_parses_without_a_leading_space() -> None:
    # CPython folds values of ~70-77 characters right after "Subject:"; see MAIL_POLICY.
    for title in ("Demo with Dana", "Quarterly review", "Q"):
        [message] = compose(meeting(title=title))
        subject = parsed(message)["Subject"]
        assert subject.startswith(f"Invitation: {title} @ "), subject
