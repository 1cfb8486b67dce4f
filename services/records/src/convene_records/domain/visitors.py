"""A visitor who books on a scheduling page becomes a contact of the account (R34).

The visitor is matched to a live contact of the account by email, case-insensitively
(:func:`~convene_records.domain.emails.email_key`); only when none matches is a contact made,
and never is an existing one changed (CRM data is the users'). The new contact's id is
derived from the account and the address (:func:`visitor_contact_id`), so two bookings of one
new visitor handled at once, or one booking redelivered, make one contact: the second insert
of the id fails. A derived id whose contact was deleted, or given another address, since is
not the visitor's any more: the next *generation* of the id is tried, so a visitor whose
contact was deleted becomes a contact again when they book again.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from convene_schemas.events.booking_pages import Visitor

from convene_records.domain.emails import email_key
from convene_records.domain.ids import CONTACT_ID_PREFIX
from convene_records.domain.people import Contact, new_contact


def visitor_contact_id(account_id: str, email: str, generation: int = 0) -> str:
    """The id a visitor's contact gets (``ct_<32 hex>``, the shape of a random one): the same
    for every booking of the address in the account, case-insensitively; ``generation``
    counts the earlier ones deleted or readdressed."""
    seed = f"booking-visitor:{account_id}:{email_key(email)}:{generation}"
    return CONTACT_ID_PREFIX + hashlib.sha256(seed.encode()).hexdigest()[:32]


def split_name(name: str) -> tuple[str, str]:
    """A name typed in one field as (first name, last name): the first word, then the rest
    ("Maria de la Cruz" -> "Maria", "de la Cruz"); one word is a first name only."""
    words = name.split()
    return (words[0], " ".join(words[1:])) if words else ("", "")


def is_visitors_contact(contact: Contact, email: str) -> bool:
    """True if ``contact`` is live and has the visitor's address (in any case)."""
    return (not contact.deleted and contact.email is not None
            and email_key(contact.email) == email_key(email))


def visitor_contact(contact_id: str, account_id: str, visitor: Visitor, *,
                    owner_user_id: str | None, now: datetime) -> Contact:
    """The contact a visitor becomes: the name split in two, the address (flagged like any
    contact's), the visitor's time zone and language; owned by the page's owner if given."""
    first_name, last_name = split_name(visitor.name)
    return new_contact(contact_id, account_id, email=visitor.email, first_name=first_name,
                       last_name=last_name, time_zone=visitor.time_zone,
                       language=visitor.language, owner_user_id=owner_user_id, now=now)
