"""The owner's emails (R44) as messages: template context, rendered texts, MIME.

Templates ``offline_booking_request.*`` and ``booking_attempt_blocked.*`` in every
language folder, rendered like the invitations (Jinja2, HTML autoescaped, Babel dates) and
built by the same message builder (``domain.message.plain_email``: text + HTML, headers
only through the ``email`` library, names single-lined first). Times are shown in the
owner's time zone and language (the owner's own, else the account's, else English and
the page's zone). The details table is the invitations' macro: its "organizer" row names
the visitor. An offline request is Reply-To the visitor, so the owner can answer them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Any

from convene_schemas.events.booking_pages import BookingRequested

from convene_notifications.compose import Composing
from convene_notifications.domain.addresses import parse_address, single_line
from convene_notifications.domain.ics import location_text
from convene_notifications.domain.localization import (
    AccountDefaults,
    recipient_language,
    recipient_time_zone,
)
from convene_notifications.domain.message import EmailContent, plain_email
from convene_notifications.domain.owner_emails import (
    OwnerEmail,
    OwnerEvent,
    duration_minutes,
    requested_slot,
)
from convene_notifications.read_models import User
from convene_notifications.rendering import format_when


def _visitor(event: OwnerEvent) -> tuple[str, str]:
    """(name, address) of the visitor; the name is empty after a blocked attempt."""
    if isinstance(event, BookingRequested):
        return single_line(event.visitor.name), event.visitor.email
    return "", event.visitor_email or ""


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
        requested = isinstance(event, BookingRequested)
        return language, {
            "kind": planned.kind,
            "owner_name": single_line(owner.name),
            "slug": event.slug,
            "when": format_when(start, time_zone, language),
            "time_zone": time_zone,
            "duration_minutes": duration_minutes(start, end),
            "title": single_line(event.title) if requested else "",
            "location": location_text(event.location) if requested else "",
            "join_url": None,
            "visitor_name": visitor_name,
            "visitor_email": visitor_email,
            # the details macro's last row names whoever asked for the time
            "organizer_name": visitor_name,
            "organizer_email": visitor_email,
            "form_answers": ([{"label": single_line(a.label) or a.field, "value": a.value}
                              for a in event.form_answers] if requested else []),
            "reason": "" if requested else event.reason,
            "inactive_calendar_ids": [] if requested else list(event.inactive_calendar_ids),
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
