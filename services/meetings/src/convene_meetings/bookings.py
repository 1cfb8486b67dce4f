"""BookingRequested (booking-pages) -> a meeting of the page owner (R34); nothing is lost.

A booking whose owner meetings does not know yet (records' ``UserUpserted`` travels on
another topic and may come later) is *held* (``held_store``) and booked when the owner's
``UserUpserted`` is applied (:func:`release_held`). After holding, the read model is read
again: if the owner's ``UserUpserted`` was applied between the first read and the hold, its
look-up of held bookings may have missed this one, but then the re-read sees the owner and
the booking is made at once. Booking is idempotent (the meeting id comes from the booking
id), and a held booking is deleted only after its meeting was inserted, so any path may book
it, twice even, and a crash in between is repaired when the event is redelivered.
"""

from __future__ import annotations

import logging

from convene_kit.aggregates import KeyTaken
from convene_schemas.events.booking_pages import BookingRequested
from prometheus_client import Counter

from convene_meetings.deps import Deps
from convene_meetings.domain.booked import booking_refusal, meeting_from_booking
from convene_meetings.domain.meeting import Meeting

logger = logging.getLogger(__name__)

BOOKINGS_HELD = Counter("convene_bookings_held_total",
                        "Bookings held until meetings knows their owner.")
BOOKINGS_REFUSED = Counter("convene_bookings_refused_total",
                           "Bookings that made no meeting, by reason.", ["reason"])


async def take_booking(deps: Deps, booking: BookingRequested, event_id: str) -> Meeting | None:
    """BookingRequested: book it, or hold it while its owner is unknown here."""
    if not await owner_known(deps, booking):
        if await deps.held_bookings.hold(booking, event_id, deps.clock()):
            BOOKINGS_HELD.inc()
            logger.info("booking %s held: owner %s not known yet", booking.booking_id,
                        booking.owner_user_id)
        if not await owner_known(deps, booking):  # the UserUpserted may have come meanwhile
            return None
    return await book_and_release(deps, booking)


async def release_held(deps: Deps, account_id: str, user_id: str) -> int:
    """Book every booking held for this user (its UserUpserted was applied); the count."""
    held = await deps.held_bookings.of_owner(account_id, user_id)
    for booking in held:
        await book_and_release(deps, booking)
    return len(held)


async def owner_known(deps: Deps, booking: BookingRequested) -> bool:
    """True once the users read model has the booking's owner (active or not)."""
    directory = await deps.read_models.directory(booking.account_id, {booking.owner_user_id},
                                                 set())
    return booking.owner_user_id in directory.users


async def book_and_release(deps: Deps, booking: BookingRequested) -> Meeting | None:
    """Book a booking whose owner is known, then forget it if it was held."""
    meeting = await book(deps, booking)
    await deps.held_bookings.release(booking.account_id, booking.booking_id)
    return meeting


async def book(deps: Deps, booking: BookingRequested) -> Meeting | None:
    """Create the booked meeting once (its id comes from the booking); None if not made
    (refused, or made already)."""
    account_id = booking.account_id
    contact_ids = {booking.contact_id} if booking.contact_id else set()
    directory = await deps.read_models.directory(account_id, {booking.owner_user_id},
                                                 contact_ids)
    contact = directory.contacts.get(booking.contact_id or "")
    if contact is None:  # no contact_id, or records' ContactUpserted has not arrived yet
        matches = await deps.read_models.contacts_by_email(account_id, [booking.visitor.email])
        contact = matches[0] if matches else None
        if contact is not None:
            directory = await deps.read_models.directory(
                account_id, {booking.owner_user_id}, {contact.contact_id})
    refusal = booking_refusal(booking, directory)
    if refusal is not None:
        BOOKINGS_REFUSED.labels(reason=refusal).inc()
        logger.warning("booking %s of owner %s refused (%s): no meeting", booking.booking_id,
                       booking.owner_user_id, refusal)
        return None
    connections = await deps.calendars.of_user(account_id, booking.owner_user_id)
    built = meeting_from_booking(booking, directory=directory, contact=contact,
                                 connections=connections, now=deps.clock())
    if built is None:  # cannot happen: booking_refusal said it can be booked
        return None
    meeting, scheduled = built
    try:
        return await deps.aggregates.create(deps.meetings, meeting, [scheduled])
    except KeyTaken:
        return None  # this booking's meeting exists already (a redelivery)
