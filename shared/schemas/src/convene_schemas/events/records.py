"""Events of the records service (topic ``records.events.v1``).

Records publishes *state*: each ``...Upserted`` event carries the whole current state of one
account setting block, user or record, so a consumer keeps a local read model by applying
the event with the highest ``version`` per id and can rebuild it by replaying the topic.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from convene_schemas.base import EntityId, Event, TimeZoneName, UtcInstant
from convene_schemas.events.common import (
    MAX_REMINDERS,
    EmailAddress,
    LanguageTag,
    Money,
    PersonName,
    RawEmail,
    RecordKind,
    RecordRef,
    ReminderOffset,
)

Seat = Literal[
    "none",
    "sales_professional",
    "sales_enterprise",
    "service_professional",
    "service_enterprise",
]
"""A user's seat (R1): none, or a paid Sales/Service seat at Professional or Enterprise tier."""

PAID_SEATS: frozenset[str] = frozenset(
    {"sales_professional", "sales_enterprise", "service_professional", "service_enterprise"}
)
"""The seats that allow scheduling on behalf (R17) and task sync (R33)."""

DEFAULT_MEETING_OUTCOMES: tuple[str, ...] = (
    "scheduled",
    "completed",
    "rescheduled",
    "no_show",
    "canceled",
)
"""The outcomes an account starts with (R19)."""

SettingName = Annotated[str, Field(min_length=1, max_length=100)]
"""The name of a meeting type or an outcome, as the account defines it."""


class RecordsEvent(Event):
    """Base of every event the records service publishes."""

    SERVICE: ClassVar[str] = "records"
    TOPIC: ClassVar[str] = "records.events.v1"


class AccountSettingsChanged(RecordsEvent):
    """The account's meeting-related settings, as they are after a change (full state)."""

    EVENT_TYPE: ClassVar[str] = "com.convene.records.AccountSettingsChanged"
    AGGREGATE_ID_FIELD: ClassVar[str] = "account_id"

    account_created_at: UtcInstant = Field(
        description="When the account was created. Accounts created before 2023-03-13 are "
        "legacy accounts that may keep two calendar connections (R25)."
    )
    is_sandbox: bool = Field(
        description="A sandbox account: meetings can only be booked with users of the same "
        "sandbox account (R2)."
    )
    hub_tier: Literal["free", "starter", "professional", "enterprise"] = Field(
        description="The account's subscription tier."
    )
    default_time_zone: TimeZoneName = Field(
        description="IANA time zone used when a user or contact has none."
    )
    default_language: LanguageTag = Field(
        description="Language used when a user or contact has none."
    )
    reminders_enabled_by_default: bool = Field(
        description="When on, a new meeting inherits default_reminders (R10)."
    )
    default_reminders: list[ReminderOffset] = Field(
        max_length=MAX_REMINDERS,
        description="The account's default reminders, at most three (R10).",
    )
    custom_meeting_types_enabled: bool = Field(
        description="When on, a meeting may name one of meeting_types (R8)."
    )
    meeting_types: list[SettingName] = Field(
        default_factory=list,
        max_length=100,
        description="The account's meeting types (R8); unique names.",
    )
    meeting_outcomes: list[SettingName] = Field(
        default_factory=lambda: list(DEFAULT_MEETING_OUTCOMES),
        min_length=1,
        max_length=100,
        description="The outcomes a host can record (R19); defaults to scheduled, "
        "completed, rescheduled, no_show, canceled.",
    )

    @model_validator(mode="after")
    def _unique_names(self) -> AccountSettingsChanged:
        for name in ("meeting_types", "meeting_outcomes"):
            values = getattr(self, name)
            if len(set(values)) != len(values) or any(not v.strip() for v in values):
                raise ValueError(f"{name} must be unique, non-blank names")
        return self


class UserUpserted(RecordsEvent):
    """A user of the account was created or changed (full state, R1)."""

    EVENT_TYPE: ClassVar[str] = "com.convene.records.UserUpserted"
    AGGREGATE_ID_FIELD: ClassVar[str] = "user_id"

    user_id: EntityId = Field(description="The user's id.")
    email: EmailAddress = Field(description="The user's CRM email address.")
    name: PersonName = Field(min_length=1, description="The user's display name.")
    time_zone: TimeZoneName = Field(description="The user's IANA time zone.")
    language: LanguageTag = Field(description="The user's preferred language.")
    seat: Seat = Field(
        description="none, or a paid seat: sales_/service_ x professional/enterprise (R1)."
    )
    personal_email_access: bool = Field(
        description="The permission needed to connect a calendar (R22)."
    )
    active: bool = Field(description="False once the user is deactivated.")


class ContactUpserted(RecordsEvent):
    """A contact was created or changed (full state, R3)."""

    EVENT_TYPE: ClassVar[str] = "com.convene.records.ContactUpserted"
    AGGREGATE_ID_FIELD: ClassVar[str] = "contact_id"

    contact_id: EntityId = Field(description="The contact's id.")
    email: RawEmail | None = Field(
        description="The email property as stored; may be missing or malformed (R3)."
    )
    email_valid: bool = Field(
        description="True when email holds a valid address, so the contact can be invited (R13)."
    )
    email_invalid_reason: Literal["missing", "malformed", "bounced"] | None = Field(
        default=None, description="Why email_valid is false; null when it is true."
    )
    first_name: PersonName = Field(default="", description="First name; may be empty.")
    last_name: PersonName = Field(default="", description="Last name; may be empty.")
    time_zone: TimeZoneName | None = Field(
        default=None, description="The contact's IANA time zone, when known."
    )
    language: LanguageTag | None = Field(
        default=None, description="The contact's preferred language, when known."
    )
    owner_user_id: EntityId | None = Field(
        default=None, description="The user who owns the contact."
    )

    @model_validator(mode="after")
    def _email_validity(self) -> ContactUpserted:
        if self.email_valid and (not self.email or self.email_invalid_reason is not None):
            raise ValueError("a valid email is present and has no email_invalid_reason")
        if not self.email_valid and self.email_invalid_reason is None:
            raise ValueError("email_invalid_reason is required when email_valid is false")
        return self


class CompanyUpserted(RecordsEvent):
    """A company was created or changed (full state)."""

    EVENT_TYPE: ClassVar[str] = "com.convene.records.CompanyUpserted"
    AGGREGATE_ID_FIELD: ClassVar[str] = "company_id"

    company_id: EntityId = Field(description="The company's id.")
    name: str = Field(max_length=500, description="The company's name.")
    domain: str | None = Field(
        default=None, max_length=253, description="The company's web domain, when known."
    )
    owner_user_id: EntityId | None = Field(
        default=None, description="The user who owns the company."
    )


class DealUpserted(RecordsEvent):
    """A deal was created or changed (full state)."""

    EVENT_TYPE: ClassVar[str] = "com.convene.records.DealUpserted"
    AGGREGATE_ID_FIELD: ClassVar[str] = "deal_id"

    deal_id: EntityId = Field(description="The deal's id.")
    name: str = Field(max_length=500, description="The deal's name.")
    stage: str = Field(max_length=200, description="The deal's pipeline stage.")
    amount: Money | None = Field(
        default=None,
        description="The deal's amount; a decimal serialized as a JSON string ('1500.00').",
    )
    currency: str | None = Field(
        default=None,
        pattern=r"^[A-Z]{3}$",
        description="ISO 4217 currency of amount; required when amount is set.",
    )
    close_at: UtcInstant | None = Field(default=None, description="Expected close time.")
    owner_user_id: EntityId | None = Field(default=None, description="The user who owns the deal.")

    @model_validator(mode="after")
    def _currency_with_amount(self) -> DealUpserted:
        if self.amount is not None and self.currency is None:
            raise ValueError("currency is required when amount is set")
        return self


class TicketUpserted(RecordsEvent):
    """A ticket was created or changed (full state)."""

    EVENT_TYPE: ClassVar[str] = "com.convene.records.TicketUpserted"
    AGGREGATE_ID_FIELD: ClassVar[str] = "ticket_id"

    ticket_id: EntityId = Field(description="The ticket's id.")
    subject: str = Field(max_length=500, description="The ticket's subject.")
    status: str = Field(max_length=200, description="The ticket's pipeline status.")
    priority: Literal["low", "medium", "high", "urgent"] | None = Field(
        default=None, description="The ticket's priority."
    )
    owner_user_id: EntityId | None = Field(
        default=None, description="The user who owns the ticket."
    )


class TaskUpserted(RecordsEvent):
    """A task (a to-do with a due time and an owner) was created or changed (R7, R33)."""

    EVENT_TYPE: ClassVar[str] = "com.convene.records.TaskUpserted"
    AGGREGATE_ID_FIELD: ClassVar[str] = "task_id"

    task_id: EntityId = Field(description="The task's id.")
    title: str = Field(min_length=1, max_length=500, description="The task's title.")
    owner_user_id: EntityId = Field(description="The user the task is assigned to.")
    due_at: UtcInstant | None = Field(
        default=None, description="When the task is due; null for no due time."
    )
    status: Literal["not_started", "in_progress", "waiting", "completed", "deferred"] = Field(
        description="The task's status."
    )
    associations: list[RecordRef] = Field(
        default_factory=list, description="The records the task is associated with."
    )


class AssociationChanged(RecordsEvent):
    """Two records were associated with each other, or the association was removed (R4).

    The association's id is the same for both directions, so its events stay in order.
    """

    EVENT_TYPE: ClassVar[str] = "com.convene.records.AssociationChanged"
    AGGREGATE_ID_FIELD: ClassVar[str] = "association_id"

    association_id: EntityId = Field(description="The association's id.")
    from_record: RecordRef = Field(description="One end of the association.")
    to_record: RecordRef = Field(description="The other end of the association.")
    associated: bool = Field(description="True when associated, false when removed.")
    label: str | None = Field(
        default=None, max_length=200, description="The association's label, e.g. 'Primary'."
    )


class RecordDeleted(RecordsEvent):
    """A record was deleted. A soft delete can be undone: an Upserted event with a higher
    version then brings the record back."""

    EVENT_TYPE: ClassVar[str] = "com.convene.records.RecordDeleted"
    AGGREGATE_ID_FIELD: ClassVar[str] = "record_id"

    record_kind: RecordKind = Field(description="The kind of the deleted record.")
    record_id: EntityId = Field(description="The deleted record's id.")
    permanent: bool = Field(
        default=False,
        description="False for a soft delete (restorable), true when purged for good.",
    )
