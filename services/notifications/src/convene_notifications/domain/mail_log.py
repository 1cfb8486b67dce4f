"""The states of an outgoing email in the mail log, and what a retry does with each.

An email is claimed by inserting its mail-log entry in state ``sending`` (a unique insert:
the one atomic write on FerretDB). A later delivery of the same event finds the entry:

* ``sent`` or ``failed``: nothing more to do (never twice; permanent failures are final);
* ``sending``: a crash came between claim and send (or before the outcome was written),
  so the email is sent again, with the same Message-ID;
* ``retrying``: a transient failure put it on the retry queue (the composed message is in
  the entry); only the retry worker sends it from now on.
"""

from __future__ import annotations

from enum import StrEnum


class MailState(StrEnum):
    """Where an outgoing email stands."""

    SENDING = "sending"
    RETRYING = "retrying"
    SENT = "sent"
    FAILED = "failed"


class FailureReason(StrEnum):
    """Why an email was not delivered (the mail log's ``error.reason``)."""

    INVALID_ADDRESS = "invalid_address"  # final: the address cannot be mailed
    REJECTED = "rejected"  # final: the server answered 5xx
    TEMPORARY = "temporary_failure"  # retried (final after the last attempt): no answer, 4xx


def should_send(existing_state: str | None) -> bool:
    """True if an email must (still) be sent: it was just claimed (``None``) or a previous
    try stopped between claim and send (``sending``)."""
    return existing_state is None or existing_state == MailState.SENDING
