"""Value types that events of several services share.

Closed sets are ``Literal`` aliases (a producer passes the plain string even in strict mode;
the JSON Schema shows an ``enum``). Nested objects derive from :class:`ValueObject`, which
has the same configuration as :class:`~convene_schemas.base.Event`: frozen, unknown fields
refused when producing, ignored when a consumer parses with ``Event.parse_data``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, WithJsonSchema, model_validator

from convene_schemas.base import EntityId
from convene_schemas.text import MultilineText, StorableText

LanguageTag = Annotated[
    str,
    Field(
        pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$",
        max_length=35,
        examples=["en", "it", "pt-BR"],
    ),
]
"""A BCP 47 language tag (``en``, ``pt-BR``)."""

EmailAddress = Annotated[
    str,
    Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=320),
]
"""A syntactically valid email address (``local@domain.tld``)."""

RawEmail = Annotated[str, Field(max_length=320)]
"""An email property as a user typed it: it may be malformed (R3, R13)."""


def email_key(address: str) -> str:
    """The form two email addresses are compared by: surrounding space dropped, lower-cased.

    One rule for every service that matches people by address: records finds a booking
    visitor's contact by it, and meetings waits for that contact by it (R34), so the two
    can never disagree about whether a contact exists.
    """
    return address.strip().lower()


HttpsUrl = Annotated[str, Field(pattern=r"^https://\S+$", max_length=2048)]
"""An absolute ``https://`` URL, kept exactly as the producer wrote it."""

Money = Annotated[
    Decimal,
    Field(allow_inf_nan=False),
    WithJsonSchema({"type": "string", "pattern": r"^-?\d+(\.\d+)?$", "examples": ["1500.00"]}),
]
"""An exact decimal amount, serialized as a JSON string (``"1500.00"``), never a float."""

PersonName = Annotated[str, Field(max_length=200)]
"""A display name or name part; may be empty when unknown."""

RecordKind = Literal["contact", "company", "deal", "ticket", "task"]
"""The kinds of CRM record (R3, R7)."""

CalendarProvider = Literal["google", "microsoft365", "exchange", "caldav"]
"""The calendar providers a user can connect (R22)."""

VideoProvider = Literal["zoom", "google_meet", "microsoft_teams"]
"""The video conference providers a meeting location can name (R9)."""

ReminderUnit = Literal["weeks", "days", "hours", "minutes"]
"""The unit of a reminder offset (R10)."""

MAX_REMINDERS = 3
"""R10: up to three reminders per meeting (and as account defaults)."""


class ValueObject(StorableText):
    """Base of the nested objects in event bodies (same configuration and text rule as
    ``Event``)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class RecordRef(ValueObject):
    """A pointer to one CRM record."""

    kind: RecordKind = Field(description="The kind of record.")
    id: EntityId = Field(description="The record's id (unique within its kind).")


class ReminderOffset(ValueObject):
    """One reminder: "``amount`` ``unit`` before the meeting starts" (R10)."""

    amount: int = Field(ge=1, le=1000, description="How many units before the start.")
    unit: ReminderUnit = Field(description="The unit of ``amount``.")

    def minutes(self) -> int:
        """The offset in minutes (a week is 7 days, a day 24 hours)."""
        per_unit = {"weeks": 7 * 24 * 60, "days": 24 * 60, "hours": 60, "minutes": 1}
        return self.amount * per_unit[self.unit]


class Location(ValueObject):
    """Where a meeting takes place (R9).

    ``value`` holds the phone number, the address or the custom text. For a video
    conference ``video_provider`` names the provider; ``join_url`` is filled in once the
    link exists, and ``join_url_pending`` says that one is being generated (see the
    video-link contract in docs/events.md).
    """

    kind: Literal["phone", "in_person", "video", "custom"] = Field(
        description="phone: a number to call; in_person: an address; video: a video "
        "conference; custom: free text."
    )
    value: MultilineText | None = Field(
        default=None,
        max_length=2000,
        description="Phone number, address or custom text (may span lines); null for a "
        "video conference.",
    )
    video_provider: VideoProvider | None = Field(
        default=None, description="The video conference provider; set only when kind is video."
    )
    join_url: HttpsUrl | None = Field(
        default=None, description="The link attendees use to join; null until generated."
    )
    join_url_pending: bool = Field(
        default=False,
        description="True while calendar-sync is generating the join link; invitations "
        "wait for the MeetingUpdated that resolves it.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Location:
        if self.kind == "video":
            if self.video_provider is None:
                raise ValueError("a video location names its video_provider")
            if self.join_url is not None and self.join_url_pending:
                raise ValueError("join_url_pending must be false once join_url is set")
        else:
            if self.video_provider is not None or self.join_url is not None:
                raise ValueError("video_provider and join_url belong to video locations only")
            if self.join_url_pending:
                raise ValueError("only a video location can wait for a join link")
            if not self.value:
                raise ValueError(f"a {self.kind} location needs a value")
        return self
