"""Why the domain refuses a request: the kit's :class:`~convene_kit.refusals.Refusal` with a
machine-readable code, a message, details and, per class, the HTTP status (422 for a broken
rule, 404, 403, 409; every app built by the kit renders refusals). Event handlers that
schedule meetings later (bookings) map them to their own outcomes.
"""

from __future__ import annotations

from convene_kit.refusals import Refusal


class MeetingsError(Refusal):
    """Base of every refusal the meetings domain raises."""


class RuleViolation(MeetingsError):
    """The request breaks a scheduling rule (start in the past, unknown attendee, ...)."""


class MeetingNotFound(MeetingsError):
    """No meeting with that id in the caller's account (another account's looks the same)."""

    status = 404

    def __init__(self, meeting_id: str) -> None:
        super().__init__("meeting_not_found", "No such meeting.", {"meeting_id": meeting_id})


class VersionConflict(MeetingsError):
    """Concurrent changes kept winning the meeting's next version (HTTP 409)."""

    status = 409

    def __init__(self, meeting_id: str) -> None:
        super().__init__("version_conflict",
                         "The meeting was changed concurrently; reload it and try again.",
                         {"meeting_id": meeting_id})


class NotAllowed(MeetingsError):
    """The caller may not do this to the meeting (HTTP 403), e.g. confirm another host's
    request without the team role."""

    status = 403
