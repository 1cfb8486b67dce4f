"""The request and response bodies of records' HTTP API (Create / Read models).

Create models refuse unknown fields, so a misspelt field is a 422, not a silent default, and
take only storable text (the kit's ``RequestModel``: one line, no control characters).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from convene_kit.boundary import RequestModel
from convene_schemas.base import TimeZoneName
from convene_schemas.events.common import LanguageTag, ReminderOffset
from convene_schemas.events.records import Seat, SettingName
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from convene_records.domain.accounts import Account
from convene_records.domain.people import Contact, User
from convene_records.domain.timeline import TimelineEntry

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
NamePart = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
EmailInput = Annotated[str, Field(max_length=320)]


class CreateModel(RequestModel):
    """Base of request bodies: unknown fields are refused; every string is one line of
    storable text."""

    model_config = ConfigDict(extra="forbid")


class AccountCreate(CreateModel):
    """POST /account: opens the caller's account."""

    name: Name
    sandbox: bool = False
    default_time_zone: TimeZoneName = "UTC"
    default_language: LanguageTag = "en"


class AccountRead(BaseModel):
    """The account as the API shows it."""

    id: str
    name: str
    sandbox: bool
    default_time_zone: str
    default_language: str
    created_at: datetime

    @classmethod
    def of(cls, account: Account) -> AccountRead:
        return cls(id=account.id, name=account.name, sandbox=account.sandbox,
                   default_time_zone=account.default_time_zone,
                   default_language=account.default_language, created_at=account.created_at)


class UserCreate(CreateModel):
    """POST /users: adds a user to the caller's account (R1)."""

    email: EmailInput
    name: Name
    time_zone: TimeZoneName
    language: LanguageTag
    seat: Seat = "none"
    personal_email_access: bool = False


class UserRead(BaseModel):
    """A user as the API shows it."""

    id: str
    email: str
    name: str
    time_zone: str
    language: str
    seat: Seat
    personal_email_access: bool
    active: bool

    @classmethod
    def of(cls, user: User) -> UserRead:
        return cls(id=user.id, email=user.email, name=user.name, time_zone=user.time_zone,
                   language=user.language, seat=user.seat,
                   personal_email_access=user.personal_email_access, active=user.active)


class ContactCreate(CreateModel):
    """POST /contacts: every field is optional; a bad email is flagged, not refused (R3)."""

    email: EmailInput | None = None
    first_name: NamePart | None = None
    last_name: NamePart | None = None
    time_zone: TimeZoneName | None = None
    language: LanguageTag | None = None


class ContactRead(BaseModel):
    """A contact as the API shows it, with whether its email can receive invitations (R13)."""

    id: str
    email: str | None
    email_valid: bool
    email_invalid_reason: Literal["missing", "malformed", "bounced"] | None
    first_name: str
    last_name: str
    time_zone: str | None
    language: str | None

    @classmethod
    def of(cls, contact: Contact) -> ContactRead:
        return cls(id=contact.id, email=contact.email, email_valid=contact.email_valid,
                   email_invalid_reason=contact.email_invalid_reason,
                   first_name=contact.first_name, last_name=contact.last_name,
                   time_zone=contact.time_zone, language=contact.language)


class UserUpdate(CreateModel):
    """PATCH /users/{id}: only the fields sent change; ``active: false`` deactivates."""

    email: EmailInput | None = None
    name: Name | None = None
    time_zone: TimeZoneName | None = None
    language: LanguageTag | None = None
    seat: Seat | None = None
    personal_email_access: bool | None = None
    active: bool | None = None


class ContactUpdate(CreateModel):
    """PATCH /contacts/{id}: only the fields sent change; null clears email, time zone,
    language or owner (a cleared email is flagged ``missing``)."""

    email: EmailInput | None = None
    first_name: NamePart | None = None
    last_name: NamePart | None = None
    time_zone: TimeZoneName | None = None
    language: LanguageTag | None = None
    owner_user_id: Annotated[str | None, Field(min_length=1, max_length=200)] = None


class ContactPageRead(BaseModel):
    """One page of a contact search; pass ``next_cursor`` back as ``cursor`` for the next."""

    items: list[ContactRead]
    next_cursor: str | None


class TimelineEntryRead(BaseModel):
    """A meeting engagement on a record's timeline (R5, R6)."""

    meeting_id: str
    title: str
    start: datetime
    end: datetime
    time_zone: str
    status: Literal["scheduled", "canceled"]
    outcome: str
    created_by_user_id: str = Field(description="The organizer who scheduled the meeting.")
    assigned_to_user_id: str = Field(description="The host the meeting is for.")
    version: int
    updated_at: datetime

    @classmethod
    def of(cls, entry: TimelineEntry) -> TimelineEntryRead:
        return cls(meeting_id=entry.meeting_id, title=entry.title, start=entry.start,
                   end=entry.end, time_zone=entry.time_zone, status=entry.status,
                   outcome=entry.outcome, created_by_user_id=entry.created_by_user_id,
                   assigned_to_user_id=entry.assigned_to_user_id, version=entry.version,
                   updated_at=entry.updated_at)


class TimelinePageRead(BaseModel):
    """One page of a timeline; pass ``next_cursor`` back as ``cursor`` for the next."""

    items: list[TimelineEntryRead]
    next_cursor: str | None


class AccountSettingsUpdate(CreateModel):
    """PATCH /account/settings: only the fields sent change (R2, R8, R10, R19)."""

    name: Name | None = None
    sandbox: bool | None = None
    default_time_zone: TimeZoneName | None = None
    default_language: LanguageTag | None = None
    hub_tier: Literal["free", "starter", "professional", "enterprise"] | None = None
    reminders_enabled_by_default: bool | None = None
    default_reminders: list[ReminderOffset] | None = Field(default=None, max_length=3)
    custom_meeting_types_enabled: bool | None = None
    meeting_types: list[SettingName] | None = Field(default=None, max_length=100)
    meeting_outcomes: list[SettingName] | None = Field(default=None, min_length=1,
                                                       max_length=100)


class AccountSettingsRead(AccountRead):
    """The account with every meeting setting, as AccountSettingsChanged carries them."""

    hub_tier: str
    reminders_enabled_by_default: bool
    default_reminders: list[ReminderOffset]
    custom_meeting_types_enabled: bool
    meeting_types: list[str]
    meeting_outcomes: list[str]
    version: int

    @classmethod
    def of(cls, account: Account) -> AccountSettingsRead:
        return cls(id=account.id, name=account.name, sandbox=account.sandbox,
                   default_time_zone=account.default_time_zone,
                   default_language=account.default_language, created_at=account.created_at,
                   hub_tier=account.hub_tier,
                   reminders_enabled_by_default=account.reminders_enabled_by_default,
                   default_reminders=list(account.default_reminders),
                   custom_meeting_types_enabled=account.custom_meeting_types_enabled,
                   meeting_types=list(account.meeting_types),
                   meeting_outcomes=list(account.meeting_outcomes), version=account.version)
