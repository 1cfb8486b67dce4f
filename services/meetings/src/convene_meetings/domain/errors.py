"""Why the domain refuses a request: a machine-readable code, a message, details.

The HTTP layer maps :class:`RuleViolation` to 422 and :class:`MeetingNotFound` to 404;
event handlers that schedule meetings later (bookings) map them to their own outcomes.
"""

from __future__ import annotations

from typing import Any


class MeetingsError(Exception):
    """Base of every refusal the meetings domain raises."""

    def __init__(self, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


class RuleViolation(MeetingsError):
    """The request breaks a scheduling rule (start in the past, unknown attendee, ...)."""


class MeetingNotFound(MeetingsError):
    """No meeting with that id in the caller's account (another account's looks the same)."""

    def __init__(self, meeting_id: str) -> None:
        super().__init__("meeting_not_found", "No such meeting.", {"meeting_id": meeting_id})


class VersionConflict(MeetingsError):
    """Concurrent changes kept winning the meeting's next version (HTTP 409)."""

    def __init__(self, meeting_id: str) -> None:
        super().__init__("version_conflict",
                         "The meeting was changed concurrently; reload it and try again.",
                         {"meeting_id": meeting_id})


class NotAllowed(MeetingsError):
    """The caller may not do this to the meeting (HTTP 403), e.g. confirm another host's
    request without the team role."""
