"""Which emails a meeting event calls for, and the key that makes each one go out once.

Planning is a pure function of the event: ``plan_invitations(MeetingScheduled)`` returns
one :class:`PlannedEmail` per invited address; ``plan_changes`` does the same for a
MeetingUpdated / MeetingRescheduled (REQUEST to every invited attendee when an
attendee-visible field changed, CANCEL to each removed one) and ``plan_cancellations`` for
a MeetingCanceled (CANCEL to every invited attendee). Whether a REQUEST is an
``invitation`` (the recipient's first) or an ``update`` depends on what was sent before, so
it is settled at delivery by :func:`kind_for`, as is the rule that an older SEQUENCE than
one already sent to a recipient sends nothing (:func:`is_stale`).

The idempotency key of an email is (account, meeting, recipient address lower-cased, kind,
sequence). Its SHA-256 names the email (``email_id``, the mail log's ``_id``) and its
Message-ID, so a retried send carries the Message-ID of the first try and mail clients
can drop the duplicate.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from email.headerregistry import Address
from typing import Literal

from convene_schemas.events.meetings import (
    ATTENDEE_VISIBLE_FIELDS,
    Attendee,
    MeetingCanceled,
    MeetingChange,
    MeetingScheduled,
    MeetingSnapshot,
)

from convene_notifications.domain.addresses import parse_address

EmailKind = Literal["invitation", "update", "cancellation"]
"""What an email tells its recipient (reminders come later)."""

Method = Literal["REQUEST", "CANCEL"]
"""The iCalendar METHOD of the .ics an email carries (RFC 5546)."""


def email_key(account_id: str, meeting_id: str, recipient_email: str, kind: str,
              sequence: int) -> str:
    """The canonical idempotency key of one email (JSON, so no separator is ambiguous)."""
    return json.dumps([account_id, meeting_id, recipient_email.strip().lower(), kind, sequence],
                      separators=(",", ":"), ensure_ascii=False)


def email_id_for(key: str) -> str:
    """The id of the email with idempotency key ``key``: 32 hex digits of its SHA-256."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def message_id_for(email_id: str, domain: str) -> str:
    """The RFC 5322 Message-ID of an email, the same on every try: ``<email_id@domain>``."""
    return f"<{email_id}@{domain}>"


@dataclass(frozen=True)
class Recipient:
    """Who one email goes to, as the meeting event names them."""

    kind: Literal["contact", "user"]
    id: str
    email: str
    name: str = ""
    language: str | None = None
    time_zone: str | None = None

    @classmethod
    def of(cls, attendee: Attendee) -> Recipient:
        """The recipient of an invited attendee."""
        return cls(kind=attendee.kind, id=attendee.id, email=(attendee.email or "").strip(),
                   name=attendee.name, language=attendee.language,
                   time_zone=attendee.time_zone)

    @property
    def address(self) -> Address | None:
        """The parsed address with the display name, or None if it cannot be mailed."""
        return parse_address(self.email, self.name)


@dataclass(frozen=True)
class PlannedEmail:
    """One email a meeting event calls for."""

    account_id: str
    meeting_id: str
    kind: EmailKind
    method: Method
    sequence: int
    recipient: Recipient

    @property
    def key(self) -> str:
        """The idempotency key: never two emails with the same one."""
        return email_key(self.account_id, self.meeting_id, self.recipient.email, self.kind,
                         self.sequence)

    @property
    def email_id(self) -> str:
        """The email's id (the mail log's ``_id``)."""
        return email_id_for(self.key)

    def message_id(self, domain: str) -> str:
        """The Message-ID header, derived from the key."""
        return message_id_for(self.email_id, domain)


def invited_recipients(meeting: MeetingSnapshot) -> list[Recipient]:
    """Attendees who are sent invitations, one per address (the first attendee with an
    address wins when a contact and a user share it)."""
    seen: set[str] = set()
    recipients = []
    for attendee in meeting.attendees:
        if not attendee.invite or not attendee.email or not attendee.email.strip():
            continue
        folded = attendee.email.strip().lower()
        if folded not in seen:
            seen.add(folded)
            recipients.append(Recipient.of(attendee))
    return recipients


def waits_for_join_link(meeting: MeetingSnapshot) -> bool:
    """True while the video link is being generated: the first invitation goes out with the
    MeetingUpdated that brings it (the video-link contract in docs/events.md)."""
    return meeting.location is not None and meeting.location.join_url_pending


def plan_invitations(meeting: MeetingScheduled) -> list[PlannedEmail]:
    """The invitation emails (METHOD:REQUEST, SEQUENCE = version) of a scheduled meeting:
    none when invitations are off or the join link is pending, else one per invited
    address."""
    if not meeting.send_invitations or waits_for_join_link(meeting):
        return []
    return [
        PlannedEmail(account_id=meeting.account_id, meeting_id=meeting.meeting_id,
                     kind="invitation", method="REQUEST", sequence=meeting.version,
                     recipient=recipient)
        for recipient in invited_recipients(meeting)
    ]


def attendee_visible_change(change: MeetingChange) -> bool:
    """True when the edit touched a field attendees see (R21): only then do they hear of it."""
    return bool(ATTENDEE_VISIBLE_FIELDS & set(change.changed_fields))


def _planned(meeting: MeetingSnapshot, kind: EmailKind, method: Method,
             recipient: Recipient) -> PlannedEmail:
    return PlannedEmail(account_id=meeting.account_id, meeting_id=meeting.meeting_id,
                        kind=kind, method=method, sequence=meeting.version,
                        recipient=recipient)


def plan_changes(change: MeetingChange) -> list[PlannedEmail]:
    """The emails an edit (MeetingUpdated / MeetingRescheduled) calls for.

    Nothing when invitations are off, while the join link is still pending, or when no
    attendee-visible field changed. Otherwise a REQUEST (SEQUENCE = version) to every
    invited attendee (kind ``update``; :func:`kind_for` makes it an ``invitation`` for a
    recipient who never got one), and a CANCEL to every removed attendee who was invited
    and whose address is not still invited.
    """
    if not change.send_invitations or waits_for_join_link(change):
        return []
    if not attendee_visible_change(change):
        return []
    current = invited_recipients(change)
    planned = [_planned(change, "update", "REQUEST", r) for r in current]
    still_invited = {r.email.lower() for r in current}
    removed: set[str] = set()
    for attendee in change.removed_attendees:
        if not attendee.invite or not attendee.email or not attendee.email.strip():
            continue
        folded = attendee.email.strip().lower()
        if folded in still_invited or folded in removed:
            continue
        removed.add(folded)
        planned.append(_planned(change, "cancellation", "CANCEL", Recipient.of(attendee)))
    return planned


def plan_cancellations(meeting: MeetingCanceled) -> list[PlannedEmail]:
    """METHOD:CANCEL (SEQUENCE = version, STATUS:CANCELLED) to every invited attendee of a
    canceled meeting; nothing when invitations are off or none was ever sent (the join link
    was still pending)."""
    if not meeting.send_invitations or waits_for_join_link(meeting):
        return []
    return [_planned(meeting, "cancellation", "CANCEL", r) for r in invited_recipients(meeting)]


def is_stale(planned: PlannedEmail, sent_sequences: list[int]) -> bool:
    """True when the recipient already has an email of this meeting with a higher SEQUENCE:
    an older change arriving late sends nothing."""
    return any(sequence > planned.sequence for sequence in sent_sequences)


def kind_for(planned: PlannedEmail, earlier_requests: list[int]) -> EmailKind:
    """``update`` for a REQUEST to a recipient who got a REQUEST of a lower SEQUENCE before,
    ``invitation`` for their first one (e.g. the invitation held back for the join link).
    ``earlier_requests`` are the SEQUENCEs of the REQUESTs already logged for them."""
    if planned.method != "REQUEST":
        return planned.kind
    if any(sequence < planned.sequence for sequence in earlier_requests):
        return "update"
    return "invitation"
