"""Events of the booking-pages service (topic ``booking-pages.events.v1``).

A visitor's booking is a request: meetings turns it into a meeting (or refuses it).
Only what the visitor typed and the page's public settings appear here.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from convene_schemas.base import EntityId, Event, TimeZoneName, UtcInstant
from convene_schemas.events.common import (
    EmailAddress,
    LanguageTag,
    Location,
    PersonName,
    ValueObject,
)
from convene_schemas.text import MultilineText

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,199}$")]
"""A page's URL slug (lower-case letters, digits, dashes), unique across domains (R37)."""


class BookingPagesEvent(Event):
    """Base of every event the booking-pages service publishes."""

    SERVICE: ClassVar[str] = "booking-pages"
    TOPIC: ClassVar[str] = "booking-pages.events.v1"


class Visitor(ValueObject):
    """The person who booked on a public page."""

    name: PersonName = Field(min_length=1, description="The name the visitor entered.")
    email: EmailAddress = Field(description="The visitor's email address.")
    time_zone: TimeZoneName = Field(description="The visitor's IANA time zone.")
    language: LanguageTag | None = Field(default=None, description="The page's language.")


class FormAnswer(ValueObject):
    """One answer on the booking form (R39: may be prefilled)."""

    field: str = Field(min_length=1, max_length=100, description="The form field's key.")
    label: str = Field(max_length=500, description="The question as the visitor saw it.")
    value: MultilineText = Field(max_length=5000, description="The answer (may span lines).")


class BookingRequested(BookingPagesEvent):
    """A visitor booked a free time on a scheduling page (R34). On an offline page (no
    connected calendar, R35) it is a request the owner is told about."""

    EVENT_TYPE: ClassVar[str] = "com.convene.booking-pages.BookingRequested"
    AGGREGATE_ID_FIELD: ClassVar[str] = "booking_id"

    booking_id: EntityId = Field(description="The booking (the message key).")
    page_id: EntityId = Field(description="The scheduling page.")
    slug: Slug = Field(description="The page's URL slug.")
    owner_user_id: EntityId = Field(description="The page's owner: the meeting's host.")
    co_host_user_ids: list[EntityId] = Field(
        default_factory=list, max_length=50,
        description="Users who attend besides the host: the team of a page where every "
        "member must be free (team mode all), each free and reserved for this time; empty "
        "otherwise. Never the host; no id twice.",
    )
    visitor: Visitor = Field(description="Who booked.")
    contact_id: EntityId | None = Field(
        default=None, description="The existing contact the visitor matched, if any."
    )
    title: str = Field(min_length=1, max_length=500, description="The meeting title.")
    start: UtcInstant = Field(description="Booked start (UTC).")
    end: UtcInstant = Field(description="Booked end (UTC).")
    time_zone: TimeZoneName = Field(description="The page owner's IANA time zone.")
    location: Location | None = Field(default=None, description="The page's location.")
    page_offline: bool = Field(
        description="True when the owner has no connected calendar (R35): nothing is "
        "added to a calendar automatically and the owner is emailed."
    )
    form_answers: list[FormAnswer] = Field(
        default_factory=list, description="The form's answers, in form order."
    )

    @model_validator(mode="after")
    def _times(self) -> BookingRequested:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self

    @model_validator(mode="after")
    def _co_hosts(self) -> BookingRequested:
        if self.owner_user_id in self.co_host_user_ids:
            raise ValueError("the host (owner_user_id) is not also a co-host")
        if len(set(self.co_host_user_ids)) != len(self.co_host_user_ids):
            raise ValueError("co_host_user_ids names a user twice")
        return self


class BookingAttemptBlocked(BookingPagesEvent):
    """A visitor tried to book but could not; the owner gets an email (R30, R44)."""

    EVENT_TYPE: ClassVar[str] = "com.convene.booking-pages.BookingAttemptBlocked"
    AGGREGATE_ID_FIELD: ClassVar[str] = "attempt_id"

    attempt_id: EntityId = Field(description="This attempt's id (the message key).")
    page_id: EntityId = Field(description="The scheduling page.")
    slug: Slug = Field(description="The page's URL slug.")
    owner_user_id: EntityId = Field(description="The page's owner.")
    reason: Literal["calendar_access_lost", "pages_turned_off"] = Field(
        description="calendar_access_lost: a calendar of the owner is inactive (R30), or "
        "of a team member on a page where every member must be free; "
        "pages_turned_off: the account switched all pages off (R36)."
    )
    inactive_calendar_ids: list[str] = Field(
        default_factory=list, description="The calendars that are inactive: the owner's, or "
        "on a page where every team member must be free, a member's."
    )
    attempted_start: UtcInstant = Field(description="The slot the visitor chose (UTC).")
    attempted_end: UtcInstant = Field(description="The slot's end (UTC).")
    time_zone: TimeZoneName = Field(description="The visitor's IANA time zone.")
    visitor_email: EmailAddress | None = Field(
        default=None, description="The visitor's address, when entered before the block."
    )
    visitor_name: PersonName | None = Field(
        default=None, description="The visitor's name, when entered before the block."
    )
    page_title: str | None = Field(
        default=None, max_length=200, description="The page's title, so the owner's email "
        "can say where someone tried to book."
    )
