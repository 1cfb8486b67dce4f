"""A scheduling page (R34): its slug, what visitors see, its scheduling rules and its form.

Pages are versioned aggregates (``convene_kit.aggregates``) without events of their own:
what other services learn of a page travels inside the bookings made on it. Stored as
documents, so no array holds an array (FerretDB 1.x): hours are lists of objects.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from convene_schemas.events.booking_pages import Slug
from convene_schemas.text import MultilineText, StorableText
from pydantic import Field

from convene_booking_pages.domain.errors import RuleViolation
from convene_booking_pages.domain.schedule import (
    DateOverride,
    Schedule,
    ScheduleInvalid,
    WorkingInterval,
    parse_hhmm,
    validate_schedule,
)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
LANGUAGES = ("en", "it", "fi")
RESERVED_FIELD_KEYS = frozenset({"name", "email"})

HourText = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$",
                                description="Wall-clock time, HH:MM (24:00 = midnight).")]


class Hours(StorableText):
    """One working interval of a day, in the page's time zone."""

    start: HourText
    end: HourText


class Override(StorableText):
    """One date with other hours than its weekday's; no hours = a day off."""

    day: date
    hours: list[Hours] = Field(default_factory=list, max_length=10)


class FormField(StorableText):
    """A question on the booking form besides name and email (always asked, required)."""

    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,49}$", description="The answer's key.")
    label: str = Field(min_length=1, max_length=500)
    kind: Literal["text", "textarea", "phone", "select", "checkbox"] = "text"
    required: bool = False
    options: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=50, description="The choices of a select.")


def _default_weekly() -> dict[str, list[Hours]]:
    nine_to_five = [Hours(start="09:00", end="17:00")]
    return {day: (list(nine_to_five) if day not in ("sat", "sun") else []) for day in WEEKDAYS}


class PageSettings(StorableText):
    """Everything the owner sets on a page."""

    slug: Slug
    title: str = Field(min_length=1, max_length=200)
    description: MultilineText = Field(default="", max_length=5000)
    durations: list[int] = Field(default_factory=lambda: [30], min_length=1, max_length=10,
                                 description="Meeting lengths offered, in minutes.")
    time_zone: str = Field(default="UTC", max_length=64, description="The hours' IANA zone.")
    weekly: dict[str, list[Hours]] = Field(default_factory=_default_weekly,
                                           description="Working hours per weekday, mon..sun.")
    overrides: list[Override] = Field(default_factory=list, max_length=366)
    slot_interval_minutes: int = 30
    buffer_before_minutes: int = 0
    buffer_after_minutes: int = 0
    minimum_notice_minutes: int = 240
    maximum_days_ahead: int = 60
    maximum_per_day: int | None = None
    form_fields: list[FormField] = Field(default_factory=list, max_length=30)
    language: Literal["en", "it", "fi"] = "en"
    team_user_ids: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=20,
        description="Other users who take bookings of this page (see team_mode).")
    team_mode: Literal["any", "all"] = Field(
        default="any", description="any: round robin, a slot is offered while any of the "
        "owner and the team is free and one of them hosts it; all: a slot is offered only "
        "while every one of them is free, the owner hosts and the team attends (needs a "
        "team member besides the owner).")
    hold_minutes: int = Field(default=10, ge=0, le=60, description="How long a slot the "
                              "visitor is filling the form for is held (0: no holds).")


class Page(PageSettings):
    """A page as stored: its settings, owner, version and state."""

    page_id: str
    account_id: str
    owner_user_id: str
    version: int = 0
    deleted: bool = False
    created_at: datetime
    updated_at: datetime

    def members(self) -> list[str]:
        """Who may host a booking of this page: the owner first, then the team."""
        return list(dict.fromkeys([self.owner_user_id, *self.team_user_ids]))

    def co_hosts(self) -> list[str]:
        """Who attends every booking besides its host: the team in ``all`` mode (the owner
        hosts), nobody in round robin."""
        return self.members()[1:] if self.team_mode == "all" else []

    def schedule(self) -> Schedule:
        return schedule_of(self)


def schedule_of(settings: PageSettings) -> Schedule:
    """The pure scheduling rules of a page's settings."""
    def intervals(hours: list[Hours]) -> tuple[WorkingInterval, ...]:
        return tuple(WorkingInterval(parse_hhmm(h.start), parse_hhmm(h.end)) for h in hours)

    return Schedule(
        time_zone=settings.time_zone,
        weekly=tuple(intervals(settings.weekly.get(day, [])) for day in WEEKDAYS),
        overrides=tuple(DateOverride(o.day, intervals(o.hours)) for o in settings.overrides),
        slot_interval_minutes=settings.slot_interval_minutes,
        buffer_before_minutes=settings.buffer_before_minutes,
        buffer_after_minutes=settings.buffer_after_minutes,
        minimum_notice_minutes=settings.minimum_notice_minutes,
        maximum_days_ahead=settings.maximum_days_ahead,
        maximum_per_day=settings.maximum_per_day,
    )


def check_settings(settings: PageSettings, owner_user_id: str) -> None:
    """Refuse settings no visitor could book with (:class:`RuleViolation`, with the code of
    the rule broken and the field)."""
    if settings.team_mode == "all" and not set(settings.team_user_ids) - {owner_user_id}:
        raise RuleViolation("team_mode_invalid", "A page where every member must be free "
                            "needs a team member besides the owner.",
                            {"field": "team_mode"})
    unknown_days = set(settings.weekly) - set(WEEKDAYS)
    if unknown_days:
        raise RuleViolation("weekly_invalid", "Working hours are keyed by mon..sun.",
                            {"field": "weekly", "unknown": sorted(unknown_days)})
    keys = [f.key for f in settings.form_fields]
    if len(set(keys)) != len(keys) or RESERVED_FIELD_KEYS & set(keys):
        raise RuleViolation("form_fields_invalid", "Form field keys must be unique and not "
                            "'name' or 'email' (always asked).", {"field": "form_fields"})
    for field in settings.form_fields:
        if (field.kind == "select") != bool(field.options):
            raise RuleViolation("form_fields_invalid", "A select needs options; only a "
                                "select has them.", {"field": f"form_fields.{field.key}"})
    try:
        validate_schedule(schedule_of(settings), settings.durations)
    except ScheduleInvalid as invalid:
        raise RuleViolation(invalid.code, invalid.message, {"field": invalid.field}) from None


def new_page(settings: PageSettings, *, page_id: str, account_id: str, owner_user_id: str,
             now: datetime) -> Page:
    """Version 0 of a page, its settings checked."""
    check_settings(settings, owner_user_id)
    return Page(**settings.model_dump(), page_id=page_id, account_id=account_id,
                owner_user_id=owner_user_id, created_at=now, updated_at=now)


def edited(page: Page, changes: dict[str, object], now: datetime) -> Page | None:
    """The page with ``changes`` (settings fields) applied, checked; None if nothing changes."""
    current = page.model_dump(include=set(PageSettings.model_fields))
    merged = PageSettings.model_validate({**current, **changes})
    if merged.model_dump() == current:
        return None
    check_settings(merged, page.owner_user_id)
    return Page.model_validate({**page.model_dump(), **merged.model_dump(),
                                "version": page.version + 1, "updated_at": now})


def deleted(page: Page, now: datetime) -> Page | None:
    """The page deleted (kept for the bookings made on it); None if it already is."""
    if page.deleted:
        return None
    return page.model_copy(update={"deleted": True, "version": page.version + 1,
                                   "updated_at": now})
