"""The three composers: a planned email turned into the message to send.

The pure pieces live in ``domain`` (the .ics, the MIME structure); the composers add the
templates (``rendering``), in the recipient's language and time zone:

* :class:`MeetingComposer`: invitations, updates and cancellations, with the .ics; they
  share one set of templates per language (``invitation.*``), which word the email after
  its ``kind``;
* :class:`ReminderComposer`: the reminder email (``reminder.*``), text and HTML;
* :class:`OwnerComposer`: the page owner's emails (R44; ``offline_booking_request.*`` and
  ``booking_attempt_blocked.*``), in the owner's time zone and language (the owner's own,
  else the account's, else English and the page's zone). The details table is the
  invitations' macro: its "organizer" row names the visitor. An offline request is
  Reply-To the visitor, so the owner can answer them.

Each is called by the email pipeline (``service_layer.email_jobs``) once the email is
claimed, with the Message-ID derived from its id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Any

from convene_schemas.events.booking_pages import BookingRequested
from convene_schemas.events.meetings import MeetingSnapshot

from convene_notifications.domain.addresses import parse_address, single_line
from convene_notifications.domain.ics import (
    location_text,
    meeting_calendar,
    organizer_of,
    to_ics,
)
from convene_notifications.domain.localization import (
    AccountDefaults,
    recipient_language,
    recipient_time_zone,
)
from convene_notifications.domain.message import EmailContent, calendar_email, plain_email
from convene_notifications.domain.owner_emails import (
    OwnerEmail,
    OwnerEvent,
    duration_minutes,
    requested_slot,
)
from convene_notifications.domain.planning import PlannedEmail, Recipient, invited_recipients
from convene_notifications.domain.text import html_to_text
from convene_notifications.read_models import User
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
class MeetingComposer(Composing):
    """Builds an invitation, update or cancellation of a meeting."""

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
                now: datetime, message_id: str) -> EmailMessage:
        """The complete message for ``planned`` (its recipient address must parse)."""
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
            message_id=message_id,
            date=now,
        )


@dataclass(frozen=True)
class ReminderComposer(Composing):
    """Builds the reminder email of a meeting to one recipient."""

    def content(self, recipient: Recipient, meeting: MeetingSnapshot) -> EmailContent:
        """Subject and bodies in the recipient's language and time zone."""
        language = self.templates.language_of("reminder", recipient.language)
        time_zone = recipient.time_zone or meeting.time_zone
        organizer = organizer_of(meeting, self.sender)
        context: dict[str, Any] = {
            "title": single_line(meeting.title),
            "when": format_when(meeting.start, time_zone, language),
            "time_zone": time_zone,
            "duration_minutes": meeting.duration_minutes,
            "location": location_text(meeting.location),
            "join_url": meeting.location.join_url if meeting.location else None,
            "description": (html_to_text(meeting.attendee_description)
                            if meeting.reminders_include_description else ""),
            "organizer_name": organizer.display_name,
            "organizer_email": organizer.addr_spec,
            "recipient_name": single_line(recipient.name),
        }
        render = self.templates.render
        return EmailContent(subject=render("reminder", language, "subject.txt", context),
                            text=render("reminder", language, "txt", context),
                            html=render("reminder", language, "html", context))

    def compose(self, recipient: Recipient, meeting: MeetingSnapshot, *, address: Address,
                message_id: str, now: datetime) -> EmailMessage:
        """The complete message to ``address`` (the recipient's parsed address), Reply-To
        the host."""
        return plain_email(sender=self.sender, recipient=address,
                           reply_to=parse_address(meeting.host_email or "", meeting.host_name),
                           content=self.content(recipient, meeting), message_id=message_id,
                           date=now)


def _visitor(event: OwnerEvent) -> tuple[str, str]:
    """(name, address) of the visitor; either may be empty after a blocked attempt."""
    if isinstance(event, BookingRequested):
        return single_line(event.visitor.name), event.visitor.email
    return single_line(event.visitor_name or ""), event.visitor_email or ""


@dataclass(frozen=True)
class OwnerComposer(Composing):
    """Builds the email a page owner gets about a booking or a blocked attempt."""

    def context(self, planned: OwnerEmail, event: OwnerEvent, owner: User,
                defaults: AccountDefaults | None) -> tuple[str, dict[str, Any]]:
        """(template language, context) of the email in the owner's language and zone."""
        language = self.templates.language_of(
            planned.kind, recipient_language(owner.language, defaults))
        page_zone = event.time_zone if isinstance(event, BookingRequested) else "UTC"
        time_zone = recipient_time_zone(owner.time_zone, defaults, page_zone)
        start, end = requested_slot(event)
        visitor_name, visitor_email = _visitor(event)
        if isinstance(event, BookingRequested):
            specific: dict[str, Any] = {
                "page_title": "", "title": single_line(event.title),
                "location": location_text(event.location),
                "form_answers": [{"label": single_line(a.label) or a.field, "value": a.value}
                                 for a in event.form_answers],
                "reason": "", "inactive_calendar_ids": []}
        else:
            specific = {
                "page_title": single_line(event.page_title or ""), "title": "",
                "location": "", "form_answers": [], "reason": event.reason,
                "inactive_calendar_ids": list(event.inactive_calendar_ids)}
        return language, {
            "kind": planned.kind,
            "owner_name": single_line(owner.name),
            "slug": event.slug,
            "when": format_when(start, time_zone, language),
            "time_zone": time_zone,
            "duration_minutes": duration_minutes(start, end),
            "join_url": None,
            "visitor_name": visitor_name,
            "visitor_email": visitor_email,
            # the details macro's last row names whoever asked for the time
            "organizer_name": visitor_name,
            "organizer_email": visitor_email,
            **specific,
        }

    def content(self, planned: OwnerEmail, event: OwnerEvent, owner: User,
                defaults: AccountDefaults | None) -> EmailContent:
        """Subject and bodies in the owner's language and time zone."""
        language, context = self.context(planned, event, owner, defaults)
        render = self.templates.render
        return EmailContent(subject=render(planned.kind, language, "subject.txt", context),
                            text=render(planned.kind, language, "txt", context),
                            html=render(planned.kind, language, "html", context))

    def compose(self, planned: OwnerEmail, event: OwnerEvent, owner: User,
                defaults: AccountDefaults | None, *, recipient: Address, message_id: str,
                now: datetime) -> EmailMessage:
        """The complete message to ``recipient`` (the owner's parsed address)."""
        visitor_name, visitor_email = _visitor(event)
        return plain_email(sender=self.sender, recipient=recipient,
                           reply_to=parse_address(visitor_email, visitor_name),
                           content=self.content(planned, event, owner, defaults),
                           message_id=message_id, date=now)
