"""Why calendar-sync refuses a request: the kit's :class:`~convene_kit.refusals.Refusal`
with a machine-readable code, a message, details and, per class, the HTTP status (every app
built by the kit renders refusals); messages never hold a credential.
"""

from __future__ import annotations

from convene_kit.refusals import Refusal


class CalendarSyncError(Refusal):
    """Base of every refusal calendar-sync raises (422 unless a subclass says otherwise)."""


class RuleViolation(CalendarSyncError):
    """The request breaks a rule (a calendar the account does not list, ...): 422."""


class NotAllowed(CalendarSyncError):
    """The caller may not do this (no personal-email-access permission, R22): 403."""

    status = 403


class NotFound(CalendarSyncError):
    """No such connection in the caller's account (another account's looks the same): 404."""

    status = 404

    def __init__(self, connection_id: str) -> None:
        super().__init__("connection_not_found", "No such calendar connection.",
                         {"connection_id": connection_id})


class UserNotFound(CalendarSyncError):
    """No such user in the caller's account (another account's looks the same): 404."""

    status = 404

    def __init__(self, user_id: str) -> None:
        super().__init__("user_not_found", "No such user in the account.",
                         {"user_id": user_id})


class Conflict(CalendarSyncError):
    """The request conflicts with the current state (another active connection): 409."""

    status = 409


class ProviderRefused(CalendarSyncError):
    """The provider refused what the user gave (wrong password, not a CalDAV URL, a refused
    address): 400 with the adapter's code."""

    status = 400


class ProviderDown(CalendarSyncError):
    """The provider could not be reached now: 503, try again."""

    status = 503


class VersionConflict(CalendarSyncError):
    """Concurrent changes kept winning the connection's next version: 409."""

    status = 409

    def __init__(self, connection_id: str) -> None:
        super().__init__("version_conflict",
                         "The connection was changed concurrently; reload it and try again.",
                         {"connection_id": connection_id})
