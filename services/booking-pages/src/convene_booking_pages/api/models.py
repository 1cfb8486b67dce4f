"""Request and response models of booking-pages' API. Public answers carry nothing but the
page's public settings and free times: no owner email, no other booking, no busy detail."""

from __future__ import annotations

from datetime import date, datetime
from types import NoneType
from typing import Annotated, Literal, get_args

from convene_kit.boundary import RequestModel
from convene_schemas.base import TimeZoneName
from convene_schemas.events.booking_pages import Slug
from convene_schemas.events.common import EmailAddress, PersonName
from convene_schemas.text import MultilineText
from pydantic import BaseModel, Field, model_validator

from convene_booking_pages.domain.account import AccountSettingsFields, DomainName
from convene_booking_pages.domain.page import FormField, Hours, Override, PageSettings


def refuse_nulls_the_setting_cannot_hold(update: BaseModel, settings: type[BaseModel]) -> None:
    """In a PATCH, null means "no value" only for a setting that may have none (a page's
    maximum_per_day, the account's custom_domain); for any other it is a 422, not a 500
    when the merged settings are validated."""
    for name in update.model_fields_set:
        if getattr(update, name) is None and NoneType not in get_args(
                settings.model_fields[name].annotation):
            raise ValueError(f"{name} may not be null (omit it to leave it unchanged)")


class PageCreate(PageSettings, RequestModel):
    """POST /pages: a new page (no connected calendar needed, R24)."""


class PageUpdate(RequestModel):
    """PATCH /pages/{id}: any settings (omitted: unchanged)."""

    slug: Slug | None = None
    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    durations: list[int] | None = Field(default=None, min_length=1, max_length=10)
    time_zone: str | None = Field(default=None, max_length=64)
    weekly: dict[str, list[Hours]] | None = None
    overrides: list[Override] | None = Field(default=None, max_length=366)
    slot_interval_minutes: int | None = None
    buffer_before_minutes: int | None = None
    buffer_after_minutes: int | None = None
    minimum_notice_minutes: int | None = None
    maximum_days_ahead: int | None = None
    maximum_per_day: int | None = None
    form_fields: list[FormField] | None = Field(default=None, max_length=30)
    language: Literal["en", "it", "fi"] | None = None
    team_user_ids: list[str] | None = Field(default=None, max_length=20)
    team_mode: Literal["any", "all"] | None = Field(
        default=None, description="any: round robin; all: every member must be free.")
    hold_minutes: int | None = Field(default=None, ge=0, le=60)

    @model_validator(mode="after")
    def _nulls(self) -> PageUpdate:
        refuse_nulls_the_setting_cannot_hold(self, PageSettings)
        return self


class PageRead(PageSettings):
    page_id: str
    owner_user_id: str
    version: int
    created_at: datetime
    updated_at: datetime
    url: str = Field(description="Where visitors book (the custom domain's when connected).")


class PageList(BaseModel):
    pages: list[PageRead]


class PageLinks(BaseModel):
    url: str
    embed_url: str = Field(description="The page's embeddable view (chat widgets, R40).")
    iframe: str = Field(description="An <iframe> snippet of the embed view.")
    script: str = Field(description="A <script> snippet that places a link to the page.")


class PrefillCreate(RequestModel):
    """POST /pages/{id}/prefill-links: a link that opens the form filled for one visitor."""

    name: PersonName | None = None
    email: EmailAddress | None = None
    answers: dict[Annotated[str, Field(max_length=50)],
                  Annotated[str, Field(max_length=2000)]] = Field(default_factory=dict,
                                                                  max_length=30)


class PrefillLink(BaseModel):
    url: str
    expires_at: datetime


class AccountSettingsUpdate(RequestModel):
    """PATCH /account/booking-settings (admin): any of the settings (omitted: unchanged;
    custom_domain null disconnects the domain)."""

    url_prefix: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")
    default_page_id: str | None = Field(default=None, max_length=200)
    pages_enabled: bool | None = None
    custom_domain: DomainName | None = None
    hide_custom_domain_from_search: bool | None = None

    @model_validator(mode="after")
    def _nulls(self) -> AccountSettingsUpdate:
        refuse_nulls_the_setting_cannot_hold(self, AccountSettingsFields)
        return self


class AccountSettingsRead(AccountSettingsFields):
    version: int
    default_page_url: str | None = None


class PublicField(BaseModel):
    key: str
    label: str
    kind: str
    required: bool
    options: list[str]


class Prefill(BaseModel):
    name: str | None = None
    email: str | None = None
    answers: dict[str, str] = Field(default_factory=dict)


class PublicPageRead(BaseModel):
    slug: str
    title: str
    description: str
    host_name: str | None
    durations: list[int]
    time_zone: str = Field(description="The page's (host's) time zone.")
    language: str
    form_fields: list[PublicField] = Field(description="Besides name and email, always asked.")
    hold_minutes: int
    status: Literal["available", "offline", "unavailable"] = Field(
        description="offline: no connected calendar; visitors request a time (R35). "
        "unavailable: pages turned off or no active host (R36).")
    unavailable_reason: str | None = None
    prefill: Prefill | None = Field(default=None, description="From a valid prefill token.")


class SlotRead(BaseModel):
    start: datetime = Field(description="In the visitor's time zone.")
    end: datetime


class DaySlots(BaseModel):
    day: date
    slots: list[SlotRead]


class SlotsRead(BaseModel):
    time_zone: str
    duration_minutes: int
    days: list[DaySlots]


class HoldCreate(RequestModel):
    start: datetime = Field(description="With an offset.")
    duration_minutes: int = Field(ge=5, le=720)


class HoldRead(BaseModel):
    hold_id: str
    expires_at: datetime


class BookingCreate(RequestModel):
    """POST /public/pages/{slug}/bookings."""

    start: datetime = Field(description="With an offset.")
    duration_minutes: int = Field(ge=5, le=720)
    name: PersonName = Field(min_length=1)
    email: EmailAddress
    time_zone: TimeZoneName = Field(description="The visitor's IANA time zone.")
    # A textarea's answer may span lines, as the BookingRequested event allows;
    # check_request keeps the other kinds' answers on one line.
    answers: dict[Annotated[str, Field(max_length=50)],
                  Annotated[MultilineText, Field(max_length=5000)]] = Field(
        default_factory=dict, max_length=30)
    hold_id: str | None = Field(default=None, max_length=100)


class BookingRead(BaseModel):
    booking_id: str
    status: Literal["booked", "requested"] = Field(
        description="requested: an offline page's request the host confirms (R35).")
    start: datetime
    end: datetime
    time_zone: str
    title: str
