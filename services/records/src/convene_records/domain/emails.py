"""Email addresses: a contact's may be missing or malformed (R3), a user's must be valid (R1).

Validation is syntax only (``email-validator`` with ``check_deliverability=False``): no DNS
lookups on the request path. A contact's address is never a reason to refuse the contact:
it is kept as typed and flagged, so meetings can tell who gets no invitation (R13).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from convene_schemas.events.common import email_key as shared_email_key
from email_validator import EmailNotValidError, validate_email

InvalidReason = Literal["missing", "malformed", "bounced"]


@dataclass(frozen=True)
class EmailCheck:
    """What a contact's email property holds: the address as kept and whether it is usable."""

    email: str | None
    valid: bool
    invalid_reason: InvalidReason | None
    explanation: str = ""


def syntax_error(address: str) -> str | None:
    """Why ``address`` is not a valid email address, or None when it is."""
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        return str(exc)
    return None


def check_contact_email(raw: str | None) -> EmailCheck:
    """Flag a contact's email property: missing, malformed or valid.

    Surrounding whitespace is dropped (it is never part of an address); otherwise the value
    is kept exactly as given, valid or not.
    """
    address = (raw or "").strip()
    if not address:
        return EmailCheck(email=None, valid=False, invalid_reason="missing",
                          explanation="The contact has no email address.")
    problem = syntax_error(address)
    if problem is not None:
        return EmailCheck(email=address, valid=False, invalid_reason="malformed",
                          explanation=problem)
    return EmailCheck(email=address, valid=True, invalid_reason=None)


def email_key(address: str) -> str:
    """The case-insensitive form two addresses are compared by (one user per key, R1; a
    booking visitor's contact, R34): the contract's rule, which meetings uses too."""
    return shared_email_key(address)
