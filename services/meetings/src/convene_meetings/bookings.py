"""BookingRequested (booking-pages) -> a meeting of the page owner (R34); nothing is lost.

A booking becomes a meeting once meetings knows what records announces on another topic
and so may come later: the page's owner and the booking's co-hosts (``UserUpserted``) and
a contact of the visitor (``ContactUpserted``: records makes one for every visitor it has
no contact of). Until then the booking is *held* (``held_store``), and booked when the last
of them is applied (:func:`release_for_user`, :func:`release_for_visitor`: each books the
held bookings that wait for nothing else any more). After holding, the read models are read
again: if what it waited for was applied between the first read and the hold, that
release's look-up of held bookings may have missed this one, but then the re-read sees it
and the booking is made at once. (Each release writes its read model before looking up held
bookings, and the hold precedes the re-read, so at least one of the two sees the other.)
Booking is idempotent (the meeting id comes from the booking id), and a held booking is
deleted only after its meeting was inserted, so any path may book it, twice even, and a
crash in between is repaired when the event is redelivered.

The visitor's contact is the one ``contact_id`` names, else the account's contact with the
visitor's address, case-insensitively; of several, the lowest contact id (the order
``contacts_by_email`` returns), the same one on every path and redelivery.
"""

from __future__ import annotations

import logging

from convene_kit.aggregates import KeyTaken
from convene_schemas.events.booking_pages import BookingRequested
from prometheus_client import Counter

from convene_meetings.deps import Deps
from convene_meetings.domain.booked import (
    booking_refusal,
    booking_users,
    co_hosts_attending,
    meeting_from_booking,
    waiting_for,
)
from convene_meetings.domain.directory import ContactProfile, Directory
from convene_meetings.domain.meeting import Meeting

logger = logging.getLogger(__name__)

BOOKINGS_HELD = Counter("convene_bookings_held_total",
                        "Bookings held until meetings knows their owner, co-hosts and the "
                        "visitor's contact.")
BOOKINGS_REFUSED = Counter("convene_bookings_refused_total",
                           "Bookings that made no meeting, by reason.", ["reason"])


async def take_booking(deps: Deps, booking: BookingRequested, event_id: str) -> Meeting | None:
    """BookingRequested: book it, or hold it while its owner, a co-host or the visitor's
    contact is unknown here."""
    waiting = await what_it_waits_for(deps, booking)
    if waiting:
        if await deps.held_bookings.hold(booking, event_id, waiting, deps.clock()):
            BOOKINGS_HELD.inc()
            logger.info("booking %s held: waiting for its %s", booking.booking_id,
                        " and ".join(waiting))
        still = await what_it_waits_for(deps, booking)  # applied meanwhile?
        if still:
            if still != waiting:
                await deps.held_bookings.still_waiting(booking, still)
            return None
    return await book_and_release(deps, booking)


async def release_for_user(deps: Deps, account_id: str, user_id: str) -> int:
    """Book the bookings held whose owner or a co-host is this user and that wait for
    nothing else (its UserUpserted was applied); how many were booked (or refused)."""
    return await release(deps, await deps.held_bookings.of_user(account_id, user_id))


async def release_for_visitor(deps: Deps, account_id: str, email: str) -> int:
    """Book the bookings held whose visitor has this address and that wait for nothing else
    (a ContactUpserted with it was applied); how many were booked (or refused)."""
    return await release(deps, await deps.held_bookings.of_visitor(account_id, email))


async def release(deps: Deps, held: list[BookingRequested]) -> int:
    """Book each of these held bookings that waits for nothing any more; note what the
    others wait for now."""
    released = 0
    for booking in held:
        waiting = await what_it_waits_for(deps, booking)
        if waiting:
            await deps.held_bookings.still_waiting(booking, waiting)
            continue
        await book_and_release(deps, booking)
        released += 1
    return released


async def what_it_waits_for(deps: Deps, booking: BookingRequested) -> list[str]:
    """``owner``, ``co_hosts`` and/or ``contact`` while the read models lack them; empty
    when the booking can be booked or refused
    (:func:`~convene_meetings.domain.booked.waiting_for`)."""
    directory = await deps.read_models.directory(booking.account_id, booking_users(booking),
                                                 named_contact(booking))
    contact = await visitors_contact(deps, booking, directory)
    return waiting_for(booking, directory, visitor_known=contact is not None)


def named_contact(booking: BookingRequested) -> set[str]:
    """The contact id the booking names, if any."""
    return {booking.contact_id} if booking.contact_id else set()


async def visitors_contact(deps: Deps, booking: BookingRequested,
                           directory: Directory) -> ContactProfile | None:
    """The contact ``contact_id`` names if known here, else the account's contact with the
    visitor's address (the lowest id of several); None if neither."""
    contact = directory.contacts.get(booking.contact_id or "")
    if contact is None:  # no contact_id, or records' ContactUpserted has not arrived yet
        matches = await deps.read_models.contacts_by_email(booking.account_id,
                                                           [booking.visitor.email])
        contact = matches[0] if matches else None
    return contact


async def book_and_release(deps: Deps, booking: BookingRequested) -> Meeting | None:
    """Book a booking that waits for nothing, then forget it if it was held."""
    meeting = await book(deps, booking)
    await deps.held_bookings.release(booking.account_id, booking.booking_id)
    return meeting


async def book(deps: Deps, booking: BookingRequested) -> Meeting | None:
    """Create the booked meeting once (its id comes from the booking); None if not made
    (refused, or made already). A visitor's contact deleted since the booking stopped
    waiting leaves the meeting without it, rather than waiting for a contact that may never
    come again."""
    account_id = booking.account_id
    directory = await deps.read_models.directory(account_id, booking_users(booking),
                                                 named_contact(booking))
    contact = await visitors_contact(deps, booking, directory)
    if contact is not None and contact.contact_id not in directory.contacts:
        directory = await deps.read_models.directory(
            account_id, booking_users(booking), {contact.contact_id})
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
        made: Meeting = await deps.aggregates.create(deps.meetings, meeting, [scheduled])
    except KeyTaken:
        return None  # this booking's meeting exists already (a redelivery)
    left_out = set(booking.co_host_user_ids) - set(co_hosts_attending(booking, directory))
    if left_out:
        logger.warning("booking %s: co-hosts %s are deactivated, their meeting is made "
                       "without them", booking.booking_id, sorted(left_out))
    return made
