"""What meetings knows about the account's people, from records' events (read models).

These are the domain's views of the read-model documents: the repository builds them, the
scheduling rules read them. Nothing here fetches anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from convene_schemas.events.common import ReminderOffset


@dataclass(frozen=True)
class UserProfile:
    """A user of the account (host, organizer or attendee)."""

    user_id: str
    email: str
    name: str
    time_zone: str
    language: str
    seat: str = "none"
    active: bool = True


@dataclass(frozen=True)
class ContactProfile:
    """A CRM contact; its email may be missing or invalid (R3, R13)."""

    contact_id: str
    email: str | None
    email_valid: bool
    email_invalid_reason: str | None = None
    first_name: str = ""
    last_name: str = ""
    time_zone: str | None = None
    language: str | None = None

    @property
    def name(self) -> str:
        """The display name: first and last name, either may be empty."""
        return " ".join(part for part in (self.first_name, self.last_name) if part)


@dataclass(frozen=True)
class AccountDefaults:
    """The account settings scheduling uses (R10 default reminders, fallback zone/language)."""

    default_time_zone: str = "UTC"
    default_language: str = "en"
    reminders_enabled_by_default: bool = False
    default_reminders: Sequence[ReminderOffset] = ()
    is_sandbox: bool = False
    custom_meeting_types_enabled: bool = False
    meeting_types: Sequence[str] = ()
    meeting_outcomes: Sequence[str] = (
        "scheduled", "completed", "rescheduled", "no_show", "canceled",
    )


@dataclass(frozen=True)
class Directory:
    """The users and contacts a request names, as the read models know them.

    A user or contact absent from these mappings is unknown in the caller's account
    (never created, deleted, or of another account: they look the same).
    """

    users: Mapping[str, UserProfile] = field(default_factory=dict)
    contacts: Mapping[str, ContactProfile] = field(default_factory=dict)
    account: AccountDefaults | None = None  # None until AccountSettingsChanged arrives

    def active_user(self, user_id: str) -> UserProfile | None:
        """The user if known and active; a deactivated user cannot take part in new meetings."""
        user = self.users.get(user_id)
        return user if user is not None and user.active else None
