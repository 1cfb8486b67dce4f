"""Which language and time zone an email speaks for its recipient.

The recipient's own value wins; without one, the account's default (records'
``AccountSettingsChanged``, kept in notifications' read model and looked up by the caller);
without that, English and the meeting's own time zone (issue 8, R43). The account's
defaults are applied to a meeting event's attendees before anything is planned, so
invitations, updates, cancellations and the reminder timers all carry the same choice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from convene_schemas.events.meetings import Attendee, MeetingSnapshot

DEFAULT_LANGUAGE = "en"

M = TypeVar("M", bound=MeetingSnapshot)


@dataclass(frozen=True)
class AccountDefaults:
    """An account's default language and time zone (from its settings)."""

    language: str | None = None
    time_zone: str | None = None


def recipient_language(own: str | None, defaults: AccountDefaults | None) -> str:
    """The recipient's language, else the account's, else English."""
    return own or (defaults.language if defaults else None) or DEFAULT_LANGUAGE


def recipient_time_zone(own: str | None, defaults: AccountDefaults | None,
                        fallback: str) -> str:
    """The recipient's time zone, else the account's, else ``fallback`` (the meeting's)."""
    return own or (defaults.time_zone if defaults else None) or fallback


def _with_defaults(attendee: Attendee, defaults: AccountDefaults) -> Attendee:
    missing = {}
    if not attendee.language and defaults.language:
        missing["language"] = defaults.language
    if not attendee.time_zone and defaults.time_zone:
        missing["time_zone"] = defaults.time_zone
    return attendee.model_copy(update=missing) if missing else attendee


def with_account_defaults(meeting: M, defaults: AccountDefaults | None) -> M:
    """``meeting`` (of the same class) whose attendees (and removed attendees) without a
    language or time zone have the account's; the meeting itself as it is when the
    account's are unknown."""
    if defaults is None or not (defaults.language or defaults.time_zone):
        return meeting
    update = {"attendees": [_with_defaults(a, defaults) for a in meeting.attendees]}
    removed = getattr(meeting, "removed_attendees", None)
    if removed is not None:
        update["removed_attendees"] = [_with_defaults(a, defaults) for a in removed]
    return meeting.model_copy(update=update)
