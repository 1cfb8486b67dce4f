"""What the service functions, views and handlers are given: repositories, the versioned
aggregates (revision log and outbox), calendar-sync's availability, the rate limiters, the
prefill key and the clock. Built once by :func:`convene_booking_pages.bootstrap.bootstrap`."""

from __future__ import annotations

from dataclasses import dataclass, field

from convene_kit.aggregates import Aggregates
from convene_kit.clock import Clock, utc_now
from convene_kit.rate_limit import RateLimiter
from convene_kit.read_models import VersionedReadModel

from convene_booking_pages.availability import AvailabilityClient
from convene_booking_pages.settings import BookingPagesSettings
from convene_booking_pages.store import (
    AccountRepository,
    AttemptRepository,
    BookingRepository,
    PageRepository,
    Reservations,
    UniqueNames,
)


@dataclass
class Limits:
    """The anonymous endpoints' rate limiters (per replica)."""

    per_client: RateLimiter
    per_page: RateLimiter
    bookings_per_client: RateLimiter


@dataclass
class Deps:
    settings: BookingPagesSettings
    pages: PageRepository
    accounts: AccountRepository
    bookings: BookingRepository
    attempts: AttemptRepository
    aggregates: Aggregates
    slugs: UniqueNames
    domains: UniqueNames
    reservations: Reservations
    users: VersionedReadModel
    availability: AvailabilityClient
    limits: Limits
    prefill_key: bytes
    clock: Clock = field(default=utc_now)
