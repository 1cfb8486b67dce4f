"""Turning a planned email into the message to send: .ics + rendered texts + MIME.

The pure pieces live in ``domain`` (the .ics, the MIME structure); this module adds the
templates. Invitations, updates and cancellations share one set of templates per language
(``invitation.*``), which word the email after its ``kind``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Any

from convene_schemas.events.meetings import MeetingSnapshot

from convene_notifications.domain.addresses import parse_address, single_line
from convene_notifications.domain.ics import (
    location_text,
    meeting_calendar,
    organizer_of,
    to_ics,
)
from convene_notifications.domain.message import EmailContent, calendar_email
from convene_notifications.domain.planning import PlannedEmail, Recipient, invited_recipients
from convene_notifications.domain.text import html_to_text
from convene_notifications.rendering import Templates, format_when


def calendar_attendees(planned: PlannedEmail, meeting: MeetingSnapshot) -> list[Recipient]:
    """The ATTENDEEs of the .ics: every invited attendee; a CANCEL to an attendee removed
    from the meeting names just them (RFC 5546 3.2.5), so only their copy is canceled."""
    invited = invited_recipients(meeting)
    folded = planned.recipient.email.strip().lower()
    if planned.method == "CANCEL" and all(r.email.strip().lower() != folded for r in invited):
        return [planned.recipient]
    return invited


@dataclass(frozen=True)
class Composing:
    """What every composer holds: the templates and the From mailbox."""

    templates: Templates
    sender: Address

    @property
    def message_id_domain(self) -> str:
        """Message-IDs are named after the sender's domain (RFC 5322 3.6.4)."""
        return self.sender.domain


@dataclass(frozen=True)
class Composer(Composing):
    """Builds the email for a planned email of a meeting."""

    def content(self, planned: PlannedEmail, meeting: MeetingSnapshot) -> EmailContent:
        """Subject and bodies in the recipient's language and time zone."""
        recipient = planned.recipient
        language = self.templates.language_of(planned.kind, recipient.language)
        time_zone = recipient.time_zone or meeting.time_zone
        join_url = meeting.location.join_url if meeting.location else None
        organizer = organizer_of(meeting, self.sender)
        context: dict[str, Any] = {
            "kind": planned.kind,
            "title": single_line(meeting.title),
            "when": format_when(meeting.start, time_zone, language),
            "time_zone": time_zone,
            "meeting_when": (format_when(meeting.start, meeting.time_zone, language)
                             if time_zone != meeting.time_zone else None),
            "meeting_time_zone": meeting.time_zone,
            "duration_minutes": meeting.duration_minutes,
            "location": location_text(meeting.location),
            "join_url": join_url,
            "description": html_to_text(meeting.attendee_description),
            "organizer_name": organizer.display_name,
            "organizer_email": organizer.addr_spec,
            "recipient_name": single_line(recipient.name),
        }
        render = self.templates.render
        return EmailContent(
            subject=render(planned.kind, language, "subject.txt", context),
            text=render(planned.kind, language, "txt", context),
            html=render(planned.kind, language, "html", context),
        )

    def compose(self, planned: PlannedEmail, meeting: MeetingSnapshot, *,
                now: datetime, message_id: str | None = None) -> EmailMessage:
        """The complete message for ``planned`` (its recipient address must parse);
        ``message_id`` defaults to the one derived from the email's key."""
        recipient = planned.recipient.address
        if recipient is None:
            raise ValueError("the recipient's address cannot be mailed")
        organizer = organizer_of(meeting, self.sender)
        calendar = meeting_calendar(meeting, method=planned.method, organizer=organizer,
                                    attendees=calendar_attendees(planned, meeting), stamp=now)
        host = parse_address(meeting.host_email or "", meeting.host_name)
        return calendar_email(
            sender=self.sender,
            recipient=recipient,
            reply_to=host,
            content=self.content(planned, meeting),
            ics=to_ics(calendar),
            method=planned.method,
            message_id=message_id or planned.message_id(self.message_id_domain),
            date=now,
        )
