"""The mail log's entries: one per outgoing email, its states, and the one rule that says
whether a delivery of it must (still) send.

An email is claimed by inserting its mail-log entry in state ``sending`` (a unique insert:
the one atomic write on FerretDB). A later delivery of the same email finds the entry:

* ``sent`` or ``failed``: nothing more to do (never twice; permanent failures are final);
* ``sending``: a crash came between claim and send (or before the outcome was written), so
  the email is sent again, with the same Message-ID, by whoever claimed it: an entry names
  the path that claimed it (``claimed_by``; the page owner's emails can be claimed by two
  paths at once), and another path leaves it to them;
* ``retrying``: a transient failure put it on the retry queue (the composed message is in
  the entry); only the retry worker sends it from now on.

Every kind of email (invitations, updates, cancellations, reminders, the owner's emails) is
one :class:`MailEntry`, written by one function, so every kind is recorded alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class MailState(StrEnum):
    """Where an outgoing email stands."""

    SENDING = "sending"
    RETRYING = "retrying"
    SENT = "sent"
    FAILED = "failed"


FINAL_STATES = frozenset({MailState.SENT, MailState.FAILED})


class FailureReason(StrEnum):
    """Why an email was not delivered (the mail log's ``error.reason``)."""

    INVALID_ADDRESS = "invalid_address"  # final: the address cannot be mailed
    REJECTED = "rejected"  # final: the server answered 5xx
    TEMPORARY = "temporary_failure"  # retried (final after the last attempt): no answer, 4xx


@dataclass(frozen=True)
class MailEntry:
    """What the mail log records of one email when it is claimed (never its subject or
    body). ``meeting_id``, ``ical_uid``, ``method`` and ``sequence`` name the meeting
    email's place in the meeting's history (None for the owner's emails); ``reminder_id``
    and ``subject_id`` name what a reminder or an owner email is about."""

    email_id: str
    account_id: str
    kind: str
    recipient: str  # the address as the event gave it
    recipient_kind: str  # contact or user
    recipient_id: str
    message_id: str
    meeting_id: str | None = None
    ical_uid: str | None = None
    method: str | None = None
    sequence: int | None = None
    reminder_id: str | None = None
    subject_id: str | None = None
    claimed_by: str | None = None

    def document(self, now: datetime) -> dict[str, Any]:
        """The entry as claimed (state ``sending``, nothing attempted yet)."""
        document: dict[str, Any] = {
            "_id": self.email_id, "account_id": self.account_id,
            "meeting_id": self.meeting_id, "ical_uid": self.ical_uid, "kind": self.kind,
            "method": self.method, "sequence": self.sequence, "recipient": self.recipient,
            "recipient_kind": self.recipient_kind, "recipient_id": self.recipient_id,
            "message_id": self.message_id, "created_at": now, "sent_at": None,
            "error": None, "attempts": 0, "state": MailState.SENDING.value,
        }
        for optional in ("reminder_id", "subject_id", "claimed_by"):
            value = getattr(self, optional)
            if value is not None:
                document[optional] = value
        return document


def should_send(existing: Mapping[str, Any] | None, claimed_by: str | None = None) -> bool:
    """True if an email must (still) be sent by the path ``claimed_by``: it was just claimed
    (``existing`` is None), or this path claimed it and a previous try stopped between
    claim and send (``sending``)."""
    if existing is None:
        return True
    return (existing.get("state") == MailState.SENDING
            and existing.get("claimed_by") == claimed_by)
