"""A page's scheduling rules: typed times, each day's hours (overrides win), and every
refusal of a schedule with its code and the setting it names."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from convene_booking_pages.domain.schedule import (
    DateOverride,
    Schedule,
    ScheduleInvalid,
    WorkingInterval,
    format_hhmm,
    parse_hhmm,
    validate_schedule,
)


def hours(*spans: str) -> tuple[WorkingInterval, ...]:
    """``hours("09:00-12:00", "14:00-17:00")``: one day's working intervals."""
    return tuple(WorkingInterval(*map(parse_hhmm, span.split("-"))) for span in spans)


NINE_TO_FIVE = hours("09:00-17:00")
WORKWEEK = (NINE_TO_FIVE,) * 5 + ((), ())
ROME_PAGE = Schedule(time_zone="Europe/Rome", weekly=WORKWEEK)


def refusal(schedule: Schedule, durations: list[int] | None = None) -> ScheduleInvalid:
    with pytest.raises(ScheduleInvalid) as caught:
        validate_schedule(schedule, [30] if durations is None else durations)
    return caught.value


# --- typed times ------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "minute"), [("00:00", 0), ("09:30", 570), ("23:55", 1435),
                                              ("24:00", 1440)])
def test_a_typed_time_is_minutes_after_midnight(text: str, minute: int) -> None:
    assert parse_hhmm(text) == minute
    assert format_hhmm(minute) == text


@pytest.mark.parametrize("text", ["9:30", "24:30", "25:00", "12:60", "", "ab:cd", "09:30:00",
                                  " 09:30", "０９:３０"])
def test_a_time_that_is_not_hh_mm_is_refused(text: str) -> None:
    with pytest.raises(ScheduleInvalid) as caught:
        parse_hhmm(text)
    assert caught.value.code == "time_invalid"
    assert caught.value.field is None


@pytest.mark.parametrize("minute", [-5, 1445])
def test_a_minute_outside_the_day_cannot_be_shown(minute: int) -> None:
    with pytest.raises(ScheduleInvalid) as caught:
        format_hhmm(minute)
    assert caught.value.code == "time_invalid"


# --- a day's hours ----------------------------------------------------------------------

def test_a_day_without_override_has_its_weekdays_hours() -> None:
    assert ROME_PAGE.hours_on(date(2026, 3, 30)) == NINE_TO_FIVE  # a Monday
    assert ROME_PAGE.hours_on(date(2026, 3, 29)) == ()  # a Sunday


def test_an_override_replaces_the_weekdays_hours_or_makes_a_day_off() -> None:
    schedule = replace(ROME_PAGE, overrides=(
        DateOverride(date(2026, 3, 30), ()),
        DateOverride(date(2026, 3, 31), hours("14:00-15:00")),
        DateOverride(date(2026, 3, 29), hours("10:00-12:00")),
    ))
    assert schedule.hours_on(date(2026, 3, 30)) == ()
    assert schedule.hours_on(date(2026, 3, 31)) == hours("14:00-15:00")
    assert schedule.hours_on(date(2026, 3, 29)) == hours("10:00-12:00")
    assert schedule.hours_on(date(2026, 4, 6)) == NINE_TO_FIVE  # the next Monday is untouched


# --- a valid schedule -------------------------------------------------------------------

def test_a_schedule_at_every_limit_is_accepted() -> None:
    schedule = Schedule(
        time_zone="America/New_York",
        weekly=(hours("00:00-08:00", "08:00-12:00", "13:05-24:00"),) + ((),) * 6,
        overrides=(DateOverride(date(2026, 3, 8), ()), DateOverride(date(2026, 3, 9), hours("01:00-04:00"))),
        slot_interval_minutes=240,
        buffer_before_minutes=240,
        buffer_after_minutes=0,
        minimum_notice_minutes=60 * 24 * 30,
        maximum_days_ahead=365,
        maximum_per_day=100,
    )
    validate_schedule(schedule, [5, 10, 15, 20, 25, 30, 45, 60, 90, 720])
    validate_schedule(replace(schedule, slot_interval_minutes=5, maximum_days_ahead=1,
                              maximum_per_day=1, minimum_notice_minutes=0), [720])


# --- refusals, one per code -------------------------------------------------------------

@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "", "europe/rome", "../etc/passwd", "CEST"])
def test_an_unknown_time_zone_is_refused(name: str) -> None:
    error = refusal(replace(ROME_PAGE, time_zone=name))
    assert (error.code, error.field) == ("time_zone_unknown", "time_zone")


@pytest.mark.parametrize("days", [6, 8, 0])
def test_weekly_hours_need_seven_days(days: int) -> None:
    error = refusal(replace(ROME_PAGE, weekly=(NINE_TO_FIVE,) * days))
    assert (error.code, error.field) == ("weekly_invalid", "weekly")


@pytest.mark.parametrize(("wednesday", "says"), [
    ((WorkingInterval(-5, 60),), "within 00:00 to 24:00"),
    ((WorkingInterval(1380, 1445),), "within 00:00 to 24:00"),
    ((WorkingInterval(600, 600),), "start before they end"),
    ((WorkingInterval(720, 600),), "start before they end"),
    ((WorkingInterval(543, 600),), "5-minute grid"),
    ((WorkingInterval(540, 602),), "5-minute grid"),
    (hours("09:00-12:00", "11:30-13:00"), "overlap"),
    (hours("14:00-17:00", "09:00-15:00"), "overlap"),  # unsorted *and* overlapping
    (hours("09:00-12:00", "10:00-11:00"), "overlap"),  # one inside the other
    (hours("14:00-17:00", "09:00-12:00"), "time order"),
])
def test_bad_working_hours_are_refused_naming_the_weekday(
        wednesday: tuple[WorkingInterval, ...], says: str) -> None:
    weekly = WORKWEEK[:2] + (wednesday,) + WORKWEEK[3:]
    error = refusal(replace(ROME_PAGE, weekly=weekly))
    assert (error.code, error.field) == ("hours_invalid", "weekly.2")
    assert says in error.message


def test_working_hours_that_touch_do_not_overlap() -> None:
    validate_schedule(replace(ROME_PAGE, weekly=(hours("09:00-12:00", "12:00-13:00"),) * 7), [30])


def test_bad_hours_in_an_override_name_its_date() -> None:
    schedule = replace(ROME_PAGE, overrides=(DateOverride(date(2026, 3, 29),
                                                          hours("10:00-12:00", "11:00-13:00")),))
    error = refusal(schedule)
    assert (error.code, error.field) == ("hours_invalid", "overrides.2026-03-29")


def test_two_overrides_for_one_date_are_refused() -> None:
    schedule = replace(ROME_PAGE, overrides=(
        DateOverride(date(2026, 3, 29), ()),
        DateOverride(date(2026, 3, 30), ()),
        DateOverride(date(2026, 3, 29), hours("10:00-12:00")),
    ))
    error = refusal(schedule)
    assert (error.code, error.field) == ("override_duplicate", "overrides.2026-03-29")


@pytest.mark.parametrize(("setting", "value", "code"), [
    ("slot_interval_minutes", 0, "interval_invalid"),
    ("slot_interval_minutes", 7, "interval_invalid"),
    ("slot_interval_minutes", 245, "interval_invalid"),
    ("slot_interval_minutes", 30.0, "interval_invalid"),
    ("buffer_before_minutes", -5, "buffer_invalid"),
    ("buffer_before_minutes", 241, "buffer_invalid"),
    ("buffer_after_minutes", 241, "buffer_invalid"),
    ("buffer_after_minutes", True, "buffer_invalid"),
    ("minimum_notice_minutes", -1, "notice_invalid"),
    ("minimum_notice_minutes", 60 * 24 * 30 + 1, "notice_invalid"),
    ("maximum_days_ahead", 0, "days_ahead_invalid"),
    ("maximum_days_ahead", 366, "days_ahead_invalid"),
    ("maximum_per_day", 0, "per_day_invalid"),
    ("maximum_per_day", 101, "per_day_invalid"),
])
def test_a_setting_out_of_range_is_refused_by_name(setting: str, value: Any, code: str) -> None:
    error = refusal(replace(ROME_PAGE, **{setting: value}))
    assert (error.code, error.field) == (code, setting)
    assert isinstance(error, ValueError) and str(error) == error.message


@pytest.mark.parametrize(("durations", "field"), [
    ([], "durations"),
    ([5 * n for n in range(1, 12)], "durations"),  # eleven
    ([30, 60, 30], "durations"),
    ([30, 3], "durations.1"),
    ([725], "durations.0"),
    ([0], "durations.0"),
    ([30, 47], "durations.1"),
])
def test_meeting_durations_are_checked(durations: list[int], field: str) -> None:
    error = refusal(ROME_PAGE, durations)
    assert (error.code, error.field) == ("duration_invalid", field)
