"""BookingRequested (booking-pages) -> the visitor is a contact of the account (R34).

meetings holds a booking until it knows a contact with the visitor's address, and puts that
contact on the meeting (attendee and association), so the invitation reaches the visitor
and the meeting shows on the contact's timeline. Making sure that contact exists is this
module's one job (the rules: ``domain/visitors.py``). Idempotent by construction: a live
contact with the address means nothing to do, and a new one's id is derived from the
account and the address, so a redelivery or a concurrent booking of the same new visitor
hits the same id (:class:`~convene_kit.aggregates.KeyTaken`) and makes no second contact.
"""

from __future__ import annotations

import logging

from convene_kit.aggregates import KeyTaken
from convene_schemas.events.booking_pages import BookingRequested

from convene_records.domain.emails import email_key
from convene_records.domain.people import Contact, contact_upserted
from convene_records.domain.visitors import (
    is_visitors_contact,
    visitor_contact,
    visitor_contact_id,
)
from convene_records.service_layer.deps import RecordsDeps

logger = logging.getLogger(__name__)


async def make_visitor_a_contact(deps: RecordsDeps, booking: BookingRequested) -> Contact | None:
    """The account's live contact with the visitor's address (the lowest id if several),
    or a new one, published as ``ContactUpserted``; None (logged) when records has no such
    account, which a real booking cannot have (its owner is a user records made)."""
    account_id, email = booking.account_id, booking.visitor.email
    if await deps.aggregates.load(deps.accounts, account_id, account_id) is None:
        logger.warning("booking %s: account %s is not open here; no contact made",
                       booking.booking_id, account_id)
        return None
    matches = await deps.contacts.search(account_id, field="email_key", low=email_key(email),
                                         high=None, limit=1, after=None, exact=True)
    if matches:
        return matches[0][1]
    owner = await deps.users.get(account_id, booking.owner_user_id)
    owner_user_id = owner.id if owner is not None and owner.active else None
    generation = 0
    while True:
        contact_id = visitor_contact_id(account_id, email, generation)
        existing = await deps.aggregates.load(deps.contacts, account_id, contact_id)
        if existing is None:
            contact = visitor_contact(contact_id, account_id, booking.visitor,
                                      owner_user_id=owner_user_id, now=deps.clock())
            try:
                return await deps.aggregates.create(deps.contacts, contact,
                                                    [contact_upserted(contact)])
            except KeyTaken:
                continue  # made meanwhile by the same visitor's other booking: read it
        if is_visitors_contact(existing, email):
            return existing
        # Deleted, or given another address, since it was made: never changed back here.
        generation += 1
