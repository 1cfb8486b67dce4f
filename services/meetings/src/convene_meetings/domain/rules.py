"""Scheduling rules that depend on the account and its users: on-behalf seats (R17), sandbox
accounts (R2), meeting types (R8) and reminder timing (R10). Pure functions raising
:class:`RuleViolation`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from convene_schemas.events.common import ReminderOffset

from convene_meetings.domain.directory import Directory, UserProfile
from convene_meetings.domain.errors import RuleViolation

PAID_SEATS: frozenset[str] = frozenset({
    "sales_professional", "sales_enterprise", "service_professional", "service_enterprise",
})
"""Seats that may schedule on behalf of others and be scheduled for (R17)."""


def ensure_on_behalf_allowed(organizer: UserProfile | None, host: UserProfile) -> None:
    """R17: organizer and host both hold a paid Professional/Enterprise seat of the account.

    ``organizer`` is None when the organizer is not an active user of the account.
    """
    if organizer is None or organizer.seat not in PAID_SEATS:
        raise RuleViolation(
            "organizer_seat_required",
            "Scheduling on behalf of another user needs a paid Professional or Enterprise "
            "seat.", {"user_id": organizer.user_id if organizer else None},
        )
    if host.seat not in PAID_SEATS:
        raise RuleViolation(
            "host_seat_required",
            "Meetings can be scheduled on behalf of a user with a paid Professional or "
            "Enterprise seat only.", {"user_id": host.user_id},
        )


def ensure_sandbox_attendees(attendees: Sequence[tuple[str, str]], directory: Directory) -> None:
    """R2: in a sandbox account every attendee is a user of that sandbox (no contacts)."""
    if directory.account is None or not directory.account.is_sandbox:
        return
    outsiders = [i for kind, i in attendees if kind != "user" or directory.active_user(i) is None]
    if outsiders:
        raise RuleViolation(
            "sandbox_attendee_not_user",
            "In a sandbox account meetings can only be booked with users of that sandbox.",
            {"ids": outsiders},
        )


def ensure_meeting_type(meeting_type: str | None, directory: Directory) -> None:
    """R8: a meeting type only when the account enabled custom types, and one of its list."""
    if meeting_type is None:
        return
    account = directory.account
    if account is None or not account.custom_meeting_types_enabled:
        raise RuleViolation("meeting_types_disabled",
                            "This account does not use custom meeting types.")
    if meeting_type not in account.meeting_types:
        raise RuleViolation("unknown_meeting_type", "Not one of the account's meeting types.",
                            {"allowed": list(account.meeting_types)})


def ensure_reminders_fire_in_time(
    reminders: Sequence[ReminderOffset], start: datetime, now: datetime
) -> None:
    """R10: every reminder fires after now and before the start."""
    late = [r for r in reminders if r.minutes() <= 0]
    past = [r for r in reminders if start - timedelta(minutes=r.minutes()) < now]
    if late or past:
        raise RuleViolation(
            "reminder_in_past" if past else "reminder_after_start",
            "Every reminder must fire after now and before the meeting starts.",
            {"reminders": [r.model_dump(mode="json") for r in (past or late)]},
        )


def ensure_outcome(outcome: str, directory: Directory) -> None:
    """R19: the outcome is one of the account's outcomes."""
    allowed = directory.account.meeting_outcomes if directory.account else DEFAULT_OUTCOMES
    if outcome not in allowed:
        raise RuleViolation("unknown_outcome", "Not one of the account's meeting outcomes.",
                            {"allowed": list(allowed)})


DEFAULT_OUTCOMES = ("scheduled", "completed", "rescheduled", "no_show", "canceled")
