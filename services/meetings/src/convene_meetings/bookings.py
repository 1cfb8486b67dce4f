"""BookingRequested (booking-pages) -> a meeting of the page owner (R34)."""

from __future__ import annotations

import logging

from convene_kit.outbox import outbox_entries
from convene_schemas.events.booking_pages import BookingRequested
from pymongo.errors import DuplicateKeyError

from convene_meetings.deps import Deps
from convene_meetings.domain.booked import meeting_from_booking
from convene_meetings.domain.meeting import Meeting
from convene_meetings.service import publish_now

logger = logging.getLogger(__name__)


async def book(deps: Deps, booking: BookingRequested) -> Meeting | None:
    """Create the booked meeting once (its id comes from the booking); None if not made."""
    account_id = booking.account_id
    contact_ids = {booking.contact_id} if booking.contact_id else set()
    directory = await deps.read_models.directory(account_id, {booking.owner_user_id},
                                                 contact_ids)
    contact = directory.contacts.get(booking.contact_id or "")
    if contact is None:
        matches = await deps.read_models.contacts_by_email(account_id, [booking.visitor.email])
        contact = matches[0] if matches else None
        if contact is not None:
            directory = await deps.read_models.directory(
                account_id, {booking.owner_user_id}, {contact.contact_id})
    connections = await deps.calendars.of_user(account_id, booking.owner_user_id)
    built = meeting_from_booking(booking, directory=directory, contact=contact,
                                 connections=connections, now=deps.clock())
    if built is None:
        logger.warning("booking %s: owner %s is not an active user; no meeting",
                       booking.booking_id, booking.owner_user_id)
        return None
    meeting, scheduled = built
    try:
        document = await deps.meetings.add(meeting, outbox_entries([scheduled]))
    except DuplicateKeyError:
        return None  # this booking's meeting exists already (a redelivery)
    await publish_now(deps, deps.meetings.collection, document)
    return meeting
