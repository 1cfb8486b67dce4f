"""Which emails a page owner gets (R44), and the key that makes each go out once.

* ``BookingRequested`` on an offline page (``page_offline``, R35): the owner hears who
  requested which time; nothing was added to a calendar. An online booking sends the owner
  nothing (the meeting lands in their calendar).
* ``BookingAttemptBlocked`` (R30, R36): the owner hears that someone could not book,
  because a calendar is inactive or pages are turned off.

The key of an owner email is (account, kind, booking or attempt id, owner user id); its
SHA-256 names the email (the mail log's ``_id``) and its Message-ID, as for invitations.
The kinds are the contract's (``convene_schemas.events.notifications.EmailKind``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from convene_schemas.events.booking_pages import BookingAttemptBlocked, BookingRequested

from convene_notifications.domain.planning import email_id_for, message_id_for

OwnerEmailKind = Literal["offline_booking_request", "booking_attempt_blocked"]

OwnerEvent = BookingRequested | BookingAttemptBlocked
"""A booking-pages event that may call for an owner email."""


@dataclass(frozen=True)
class OwnerEmail:
    """One email to a page's owner about one booking or blocked attempt."""

    account_id: str
    kind: OwnerEmailKind
    subject_id: str  # the booking id or the attempt id
    owner_user_id: str

    @property
    def key(self) -> str:
        """The idempotency key (JSON, so no separator is ambiguous)."""
        return json.dumps([self.account_id, self.kind, self.subject_id, self.owner_user_id],
                          separators=(",", ":"), ensure_ascii=False)

    @property
    def email_id(self) -> str:
        """The email's id (the mail log's ``_id``)."""
        return email_id_for(self.key)

    def message_id(self, domain: str) -> str:
        """The Message-ID header, derived from the key (the same on every try)."""
        return message_id_for(self.email_id, domain)


def owner_email_for(event: OwnerEvent) -> OwnerEmail | None:
    """The owner email ``event`` calls for; None for a booking on an online page."""
    if isinstance(event, BookingRequested):
        if not event.page_offline:
            return None
        return OwnerEmail(account_id=event.account_id, kind="offline_booking_request",
                          subject_id=event.booking_id, owner_user_id=event.owner_user_id)
    return OwnerEmail(account_id=event.account_id, kind="booking_attempt_blocked",
                      subject_id=event.attempt_id, owner_user_id=event.owner_user_id)


def requested_slot(event: OwnerEvent) -> tuple[datetime, datetime]:
    """The (start, end) the visitor asked for."""
    if isinstance(event, BookingRequested):
        return event.start, event.end
    return event.attempted_start, event.attempted_end


def duration_minutes(start: datetime, end: datetime) -> int:
    """The slot's length in whole minutes."""
    return int((end - start).total_seconds() // 60)
