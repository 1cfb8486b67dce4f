"""Why booking-pages refuses a request: the kit's :class:`~convene_kit.refusals.Refusal` with
a machine-readable code, a human message, details and, per class, the HTTP status (every app
built by the kit renders refusals). Messages shown to a public visitor never name the owner's
other meetings or another account's pages.
"""

from __future__ import annotations

from convene_kit.refusals import Refusal


class BookingPagesError(Refusal):
    """Base of every refusal booking-pages raises."""


class RuleViolation(BookingPagesError):
    """The request breaks a page rule (an unknown duration, a required answer missing): 422."""


class NotAllowed(BookingPagesError):
    """The caller may not do this (another user's page, account settings without admin): 403."""

    status = 403


class NotFound(BookingPagesError):
    """No such page (another account's, a deleted one and an unknown slug look the same): 404."""

    status = 404


class Conflict(BookingPagesError):
    """The request conflicts with the current state (a slug or domain taken, a slot taken,
    booking blocked): 409."""

    status = 409


class Unavailable(BookingPagesError):
    """A service this request needs did not answer (calendar-sync's availability): 503."""

    status = 503
    default_headers = {"Retry-After": "2"}


class VersionConflict(BookingPagesError):
    """Concurrent changes kept winning the aggregate's next version: 409."""

    status = 409

    def __init__(self, aggregate_id: str) -> None:
        super().__init__("version_conflict",
                         "It was changed concurrently; reload it and try again.",
                         {"id": aggregate_id})
