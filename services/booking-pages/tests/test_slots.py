"""Free slots a visitor sees, and the same answer for one start at booking time: working hours
across daylight-saving changes, visitors in other zones, overrides, buffers, notice, horizon,
daily cap, busy time in any zone, and team pages."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest
from convene_booking_pages.domain.schedule import DateOverride, Schedule, WorkingInterval, parse_hhmm
from convene_booking_pages.domain.slots import (
    Interval,
    Slot,
    TeamSlot,
    free_slots,
    offered,
    owner_day,
    team_slots,
)

UTC = timezone.utc
ROME = ZoneInfo("Europe/Rome")
NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")
HAVANA = ZoneInfo("America/Havana")  # changes clocks at midnight
LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)  # "now" far enough back that notice never bites


def hours(*spans: str) -> tuple[WorkingInterval, ...]:
    """``hours("09:00-12:00", "14:00-17:00")``: one day's working intervals."""
    return tuple(WorkingInterval(*map(parse_hhmm, span.split("-"))) for span in spans)


def page(*spans: str, zone: str = "Europe/Rome", **settings: object) -> Schedule:
    """A page open the same hours every day; no notice and a year's horizon unless told."""
    settings = {"minimum_notice_minutes": 0, "maximum_days_ahead": 365, **settings}
    return Schedule(time_zone=zone, weekly=(hours(*spans),) * 7, **settings)  # type: ignore[arg-type]


def at(tz: tzinfo, day: date, hhmm: str = "00:00", fold: int = 0) -> datetime:
    return datetime.combine(day, time.fromisoformat(hhmm), tz).replace(fold=fold)


def local_day(day: date, tz: ZoneInfo = ROME) -> tuple[datetime, datetime]:
    """The window of one calendar day as people in ``tz`` live it."""
    return at(tz, day), at(tz, day + timedelta(days=1))


def slots_on(schedule: Schedule, day: date, duration: int = 30, *, tz: ZoneInfo = ROME,
             busy: list[Interval] | None = None, now: datetime = LONG_AGO,
             bookings_per_day: dict[date, int] | None = None) -> list[Slot]:
    window_start, window_end = local_day(day, tz)
    return free_slots(schedule, duration, busy=busy or [], window_start=window_start,
                      window_end=window_end, now=now, bookings_per_day=bookings_per_day or {})


def clock_times(slots: Sequence[Slot | TeamSlot], tz: ZoneInfo = ROME) -> list[str]:
    """What a visitor's clock in ``tz`` shows at each slot's start."""
    return [slot.start.astimezone(tz).strftime("%H:%M") for slot in slots]


def clock_times_with_offset(slots: Sequence[Slot], tz: ZoneInfo = ROME) -> list[str]:
    return [slot.start.astimezone(tz).strftime("%H:%M%z") for slot in slots]


APRIL_15 = date(2026, 4, 15)  # an ordinary Wednesday, Rome on summer time


# --- working hours become slots ---------------------------------------------------------

def test_slots_fill_the_working_hours_and_are_utc() -> None:
    slots = slots_on(page("09:00-12:00"), APRIL_15)
    assert clock_times(slots) == ["09:00", "09:30", "10:00", "10:30", "11:00", "11:30"]
    assert slots[0] == Slot(datetime(2026, 4, 15, 7, 0, tzinfo=UTC), datetime(2026, 4, 15, 7, 30, tzinfo=UTC))
    assert all(slot.start.tzinfo is UTC and slot.end.tzinfo is UTC for slot in slots)
    assert all(slot.end - slot.start == timedelta(minutes=30) for slot in slots)


def test_a_slot_must_end_by_the_end_of_working_hours() -> None:
    slots = slots_on(page("09:00-10:00", slot_interval_minutes=15), APRIL_15, duration=45)
    assert clock_times(slots) == ["09:00", "09:15"]
    assert slots[-1].end == at(ROME, APRIL_15, "10:00")


def test_the_slot_interval_can_differ_from_the_duration() -> None:
    hour_long_every_quarter = slots_on(page("09:00-11:00", slot_interval_minutes=15), APRIL_15, 60)
    assert clock_times(hour_long_every_quarter) == ["09:00", "09:15", "09:30", "09:45", "10:00"]
    short_every_hour = slots_on(page("09:00-11:00", slot_interval_minutes=60), APRIL_15, 30)
    assert clock_times(short_every_hour) == ["09:00", "10:00"]


def test_each_working_interval_of_a_day_gives_its_own_slots() -> None:
    slots = slots_on(page("09:00-10:00", "14:00-15:00", slot_interval_minutes=20), APRIL_15, 20)
    assert clock_times(slots) == ["09:00", "09:20", "09:40", "14:00", "14:20", "14:40"]


def test_hours_until_2400_run_to_the_next_midnight() -> None:
    slots = slots_on(page("22:00-24:00"), APRIL_15)
    assert clock_times(slots) == ["22:00", "22:30", "23:00", "23:30"]
    assert slots[-1].end == at(ROME, APRIL_15 + timedelta(days=1))


def test_a_window_keeps_starts_from_its_start_up_to_but_not_at_its_end() -> None:
    slots = free_slots(page("09:00-12:00"), 30, busy=[], now=LONG_AGO,
                       window_start=at(ROME, APRIL_15, "09:30"), window_end=at(ROME, APRIL_15, "10:30"))
    assert clock_times(slots) == ["09:30", "10:00"]


def test_an_empty_or_reversed_window_has_no_slots() -> None:
    start, end = local_day(APRIL_15)
    assert free_slots(page("09:00-12:00"), 30, busy=[], window_start=end, window_end=start,
                      now=LONG_AGO) == []
    assert free_slots(page("09:00-12:00"), 30, busy=[], window_start=start, window_end=start,
                      now=LONG_AGO) == []


# --- daylight-saving changes ------------------------------------------------------------

ROME_SPRING_FORWARD = date(2026, 3, 29)  # 02:00 -> 03:00
ROME_FALL_BACK = date(2026, 10, 25)  # 03:00 -> 02:00
NEW_YORK_SPRING_FORWARD = date(2026, 3, 8)  # 02:00 -> 03:00
NEW_YORK_FALL_BACK = date(2026, 11, 1)  # 02:00 -> 01:00


def test_hours_across_the_spring_forward_gap_lose_the_missing_hour_rome() -> None:
    schedule = page("01:00-04:00")
    assert len(slots_on(schedule, ROME_SPRING_FORWARD - timedelta(days=1))) == 6
    slots = slots_on(schedule, ROME_SPRING_FORWARD)
    assert clock_times_with_offset(slots) == ["01:00+0100", "01:30+0100", "03:00+0200", "03:30+0200"]


def test_hours_opening_inside_the_gap_open_when_clocks_resume() -> None:
    slots = slots_on(page("02:30-05:00"), ROME_SPRING_FORWARD)
    assert clock_times_with_offset(slots) == ["03:00+0200", "03:30+0200", "04:00+0200", "04:30+0200"]


def test_hours_entirely_inside_the_gap_offer_nothing() -> None:
    assert slots_on(page("02:00-02:55", slot_interval_minutes=5), ROME_SPRING_FORWARD, 5) == []


def test_hours_across_the_fall_back_overlap_get_the_repeated_hour_rome() -> None:
    schedule = page("01:00-04:00")
    slots = slots_on(schedule, ROME_FALL_BACK)
    assert len(slots) == 8  # four real hours
    assert clock_times_with_offset(slots) == [
        "01:00+0200", "01:30+0200", "02:00+0200", "02:30+0200",
        "02:00+0100", "02:30+0100", "03:00+0100", "03:30+0100",
    ]
    assert len(slots_on(schedule, ROME_FALL_BACK + timedelta(days=1))) == 6


def test_a_repeated_time_closes_hours_at_its_second_occurrence() -> None:
    slots = slots_on(page("00:00-02:30"), ROME_FALL_BACK)
    assert len(slots) == 7  # 00:00 summer time to 02:30 winter time is 3.5 real hours
    assert slots[-1].end == at(ROME, ROME_FALL_BACK, "02:30", fold=1).astimezone(UTC)
    assert slots[-1].end == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)


def test_a_repeated_time_opens_hours_at_its_first_occurrence() -> None:
    slots = slots_on(page("02:30-03:00"), ROME_FALL_BACK)
    assert slots[0].start == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 summer time
    assert clock_times_with_offset(slots) == ["02:30+0200", "02:00+0100", "02:30+0100"]


def test_hours_across_the_spring_forward_gap_new_york() -> None:
    slots = slots_on(page("01:00-04:00", zone="America/New_York"), NEW_YORK_SPRING_FORWARD, tz=NEW_YORK)
    assert clock_times_with_offset(slots, NEW_YORK) == ["01:00-0500", "01:30-0500",
                                                        "03:00-0400", "03:30-0400"]


def test_hours_across_the_fall_back_overlap_new_york() -> None:
    slots = slots_on(page("00:00-03:00", zone="America/New_York"), NEW_YORK_FALL_BACK, tz=NEW_YORK)
    assert len(slots) == 8  # four real hours
    assert clock_times_with_offset(slots, NEW_YORK) == [
        "00:00-0400", "00:30-0400", "01:00-0400", "01:30-0400",
        "01:00-0500", "01:30-0500", "02:00-0500", "02:30-0500",
    ]
    from_the_repeated_hour = slots_on(page("01:00-04:00", zone="America/New_York"), NEW_YORK_FALL_BACK,
                                      tz=NEW_YORK)
    assert len(from_the_repeated_hour) == 8  # 01:00 daylight time to 04:00 standard time


def test_hours_until_midnight_run_into_a_repeated_midnight_havana() -> None:
    # Havana's clocks go back from 01:00 to 00:00 on 1 November: Saturday's hours "22:00-24:00"
    # close at the second midnight, so two of their slots start on Sunday's first midnight hour.
    schedule = page("22:00-24:00", zone="America/Havana")
    saturday = slots_on(schedule, date(2026, 10, 31), tz=HAVANA)
    assert clock_times_with_offset(saturday, HAVANA) == ["22:00-0400", "22:30-0400", "23:00-0400",
                                                         "23:30-0400"]
    sunday = slots_on(schedule, date(2026, 11, 1), tz=HAVANA)
    assert clock_times_with_offset(sunday, HAVANA) == ["00:00-0400", "00:30-0400", "22:00-0500",
                                                       "22:30-0500", "23:00-0500", "23:30-0500"]
    assert all(offered(schedule, 30, slot.start, busy=[], now=LONG_AGO) for slot in sunday)


def test_hours_opening_at_a_missing_midnight_open_when_clocks_resume_havana() -> None:
    # Havana's clocks jump from 00:00 to 01:00 on 8 March.
    slots = slots_on(page("00:00-02:00", zone="America/Havana"), date(2026, 3, 8), tz=HAVANA)
    assert clock_times_with_offset(slots, HAVANA) == ["01:00-0400", "01:30-0400"]


def test_nine_in_rome_is_five_hours_ahead_of_new_york_between_their_changes() -> None:
    schedule = page("09:00-10:00")
    # New York moves its clocks on 8 March, Rome only on 29 March: for three weeks the gap is 5 h.
    assert clock_times(slots_on(schedule, date(2026, 3, 5), tz=NEW_YORK), NEW_YORK) == ["03:00", "03:30"]
    for day in (date(2026, 3, 9), date(2026, 3, 16), date(2026, 3, 27)):
        slots = slots_on(schedule, day, tz=NEW_YORK)
        assert clock_times(slots, NEW_YORK) == ["04:00", "04:30"]
        assert clock_times(slots, ROME) == ["09:00", "09:30"]
    assert clock_times(slots_on(schedule, date(2026, 3, 30), tz=NEW_YORK), NEW_YORK) == ["03:00", "03:30"]


def test_a_visitors_day_includes_the_owners_hours_of_the_next_or_previous_day() -> None:
    early_in_rome = page("05:00-06:00")
    # 05:00 in Rome on 16 April is 23:00 on 15 April in New York.
    new_york_15th = slots_on(early_in_rome, APRIL_15, tz=NEW_YORK)
    assert clock_times(new_york_15th, NEW_YORK) == ["23:00", "23:30"]
    assert {owner_day(early_in_rome, slot.start) for slot in new_york_15th} == {date(2026, 4, 16)}
    late_in_rome = page("20:00-21:00")
    # 20:00 in Rome on 15 April is 03:00 on 16 April in Tokyo.
    tokyo_16th = slots_on(late_in_rome, date(2026, 4, 16), tz=TOKYO)
    assert clock_times(tokyo_16th, TOKYO) == ["03:00", "03:30"]
    assert {owner_day(late_in_rome, slot.start) for slot in tokyo_16th} == {APRIL_15}


# --- overrides --------------------------------------------------------------------------

def test_an_override_can_make_a_day_off_without_touching_the_next_week() -> None:
    schedule = page("09:00-11:00", overrides=(DateOverride(APRIL_15, ()),))
    assert slots_on(schedule, APRIL_15) == []
    assert clock_times(slots_on(schedule, APRIL_15 + timedelta(days=7)))[0] == "09:00"


def test_an_override_replaces_the_days_hours() -> None:
    schedule = page("09:00-12:00", overrides=(DateOverride(APRIL_15, hours("14:00-15:00")),))
    assert clock_times(slots_on(schedule, APRIL_15)) == ["14:00", "14:30"]


def test_an_override_opens_a_day_that_is_normally_off() -> None:
    weekdays_only = Schedule(time_zone="Europe/Rome", weekly=(hours("09:00-17:00"),) * 5 + ((), ()),
                             minimum_notice_minutes=0, maximum_days_ahead=365,
                             overrides=(DateOverride(date(2026, 4, 19), hours("10:00-11:00")),))
    assert slots_on(weekdays_only, date(2026, 4, 18)) == []  # Saturday
    assert clock_times(slots_on(weekdays_only, date(2026, 4, 19))) == ["10:00", "10:30"]  # Sunday


# --- busy time and buffers --------------------------------------------------------------

def rome_busy(start: str, end: str, day: date = APRIL_15) -> Interval:
    return at(ROME, day, start), at(ROME, day, end)


def test_busy_time_hides_overlapping_slots_but_touching_is_free() -> None:
    slots = slots_on(page("09:00-13:00"), APRIL_15, busy=[rome_busy("10:00", "11:00")])
    assert clock_times(slots) == ["09:00", "09:30", "11:00", "11:30", "12:00", "12:30"]


def test_a_busy_period_partly_inside_a_slot_hides_it() -> None:
    slots = slots_on(page("09:00-11:00"), APRIL_15, busy=[rome_busy("09:50", "09:55")])
    assert clock_times(slots) == ["09:00", "10:00", "10:30"]


def test_buffer_after_keeps_time_free_before_the_next_busy_period() -> None:
    slots = slots_on(page("09:00-13:00", buffer_after_minutes=15), APRIL_15,
                     busy=[rome_busy("10:00", "11:00")])
    assert clock_times(slots) == ["09:00", "11:00", "11:30", "12:00", "12:30"]


def test_buffer_before_keeps_time_free_after_the_previous_busy_period() -> None:
    slots = slots_on(page("09:00-13:00", buffer_before_minutes=15), APRIL_15,
                     busy=[rome_busy("10:00", "11:00")])
    assert clock_times(slots) == ["09:00", "09:30", "11:30", "12:00", "12:30"]


def test_buffers_that_just_touch_busy_time_leave_the_slot_free() -> None:
    slots = slots_on(page("09:00-13:00", buffer_before_minutes=30, buffer_after_minutes=30), APRIL_15,
                     busy=[rome_busy("10:00", "11:00")])
    assert clock_times(slots) == ["09:00", "11:30", "12:00", "12:30"]


def test_busy_time_in_any_zone_counts_as_the_same_instants() -> None:
    schedule = page("09:00-13:00")
    # 10:00-11:00 in Rome is 04:00-05:00 in New York, 08:00-09:00 UTC and 13:30-14:30 in India.
    new_york = (at(NEW_YORK, APRIL_15, "04:00"), at(NEW_YORK, APRIL_15, "05:00"))
    india = timezone(timedelta(hours=5, minutes=30))
    in_india = (datetime(2026, 4, 15, 13, 30, tzinfo=india), datetime(2026, 4, 15, 14, 30, tzinfo=india))
    in_utc = (datetime(2026, 4, 15, 8, tzinfo=UTC), datetime(2026, 4, 15, 9, tzinfo=UTC))
    expected = ["09:00", "09:30", "11:00", "11:30", "12:00", "12:30"]
    for busy in (new_york, in_india, in_utc):
        assert clock_times(slots_on(schedule, APRIL_15, busy=[busy])) == expected


def test_busy_periods_in_any_order_and_overlapping_each_other_all_count() -> None:
    busy = [rome_busy("12:00", "12:30"), rome_busy("09:30", "10:15"), rome_busy("09:45", "10:00"),
            rome_busy("09:00", "09:40"), rome_busy("11:00", "11:00")]  # the last one is empty
    slots = slots_on(page("09:00-13:00"), APRIL_15, busy=busy)
    assert clock_times(slots) == ["10:30", "11:00", "11:30", "12:30"]


# --- notice, horizon, daily cap ---------------------------------------------------------

def test_minimum_notice_hides_slots_starting_too_soon() -> None:
    schedule = page("09:00-12:00", minimum_notice_minutes=60)
    now = at(ROME, APRIL_15, "09:10")
    assert clock_times(slots_on(schedule, APRIL_15, now=now)) == ["10:30", "11:00", "11:30"]
    exactly_on_time = at(ROME, APRIL_15, "09:00")
    assert clock_times(slots_on(schedule, APRIL_15, now=exactly_on_time))[0] == "10:00"


def test_slots_in_the_past_are_never_offered() -> None:
    schedule = page("09:00-12:00")
    assert clock_times(slots_on(schedule, APRIL_15, now=at(ROME, APRIL_15, "10:15"))) == ["10:30", "11:00",
                                                                                        "11:30"]
    assert slots_on(schedule, APRIL_15, now=at(ROME, APRIL_15 + timedelta(days=1))) == []


def test_maximum_days_ahead_counts_the_owners_days() -> None:
    schedule = page("09:00-10:00", maximum_days_ahead=2)
    now = at(ROME, date(2026, 4, 1), "09:15")
    start, _ = local_day(date(2026, 3, 30))
    _, end = local_day(date(2026, 4, 10))
    slots = free_slots(schedule, 30, busy=[], window_start=start, window_end=end, now=now)
    assert {owner_day(schedule, slot.start) for slot in slots} == {
        date(2026, 4, 1), date(2026, 4, 2), date(2026, 4, 3)}
    # Late on the owner's 1 April is already 2 April in Tokyo; the owner's calendar decides.
    late = at(ROME, date(2026, 4, 1), "23:30")
    slots = free_slots(schedule, 30, busy=[], window_start=start, window_end=end, now=late)
    assert max(owner_day(schedule, slot.start) for slot in slots) == date(2026, 4, 3)


def test_maximum_per_day_closes_a_day_that_has_enough_bookings() -> None:
    schedule = page("09:00-10:00", maximum_per_day=2)
    start, _ = local_day(date(2026, 4, 13))
    _, end = local_day(date(2026, 4, 15))
    bookings = {date(2026, 4, 13): 2, date(2026, 4, 14): 1, date(2026, 4, 15): 5}
    slots = free_slots(schedule, 30, busy=[], window_start=start, window_end=end, now=LONG_AGO,
                       bookings_per_day=bookings)
    assert {owner_day(schedule, slot.start) for slot in slots} == {date(2026, 4, 14)}
    uncapped = free_slots(page("09:00-10:00"), 30, busy=[], window_start=start, window_end=end,
                          now=LONG_AGO, bookings_per_day=bookings)
    assert len(uncapped) == 6


def test_the_daily_cap_counts_the_owners_date_not_utcs() -> None:
    schedule = page("00:00-01:00", maximum_per_day=1)
    # 00:30 in Rome on 16 April is still 15 April in UTC.
    slots = slots_on(schedule, date(2026, 4, 16), bookings_per_day={APRIL_15: 1})
    assert clock_times(slots) == ["00:00", "00:30"]
    assert slots_on(schedule, date(2026, 4, 16), bookings_per_day={date(2026, 4, 16): 1}) == []


def test_owner_day_is_the_date_on_the_owners_calendar() -> None:
    schedule = page("09:00-10:00")
    assert owner_day(schedule, datetime(2026, 4, 15, 22, 30, tzinfo=UTC)) == date(2026, 4, 16)
    assert owner_day(page("09:00-10:00", zone="America/New_York"),
                     datetime(2026, 4, 16, 2, 30, tzinfo=UTC)) == APRIL_15


# --- output -----------------------------------------------------------------------------

def test_hours_that_overlap_in_real_time_give_each_slot_once_in_order() -> None:
    # On the fall-back night 02:30 closes the first interval late (winter time) and opens the
    # second early (summer time), so the two share real time.
    schedule = page("01:00-02:30", "02:30-04:00")
    slots = slots_on(schedule, ROME_FALL_BACK)
    starts = [slot.start for slot in slots]
    assert starts == sorted(set(starts))
    assert len(slots) == 8
    assert slots == slots_on(page("01:00-04:00"), ROME_FALL_BACK)


def test_sixty_days_with_two_hundred_busy_periods_leave_no_slot_touching_a_buffer() -> None:
    # The bisect over sorted busy time must agree with a plain scan of every period (speed
    # is measured in bench/, never here).
    schedule = page("08:00-20:00", slot_interval_minutes=15, buffer_before_minutes=10,
                    buffer_after_minutes=10, maximum_days_ahead=90)
    now = at(ROME, date(2026, 3, 1))
    busy = [(now + timedelta(hours=7 * n + 9), now + timedelta(hours=7 * n + 10)) for n in range(200)]
    slots = free_slots(schedule, 45, busy=busy, window_start=now,
                       window_end=now + timedelta(days=60), now=now)
    assert len(slots) > 1500
    pad = timedelta(minutes=10)
    for slot in slots:
        assert not any(slot.start - pad < end and start < slot.end + pad for start, end in busy)


def test_naive_datetimes_are_refused() -> None:
    schedule = page("09:00-10:00")
    naive = datetime(2026, 4, 15, 9)
    aware = at(ROME, APRIL_15)
    with pytest.raises(ValueError):
        free_slots(schedule, 30, busy=[], window_start=naive, window_end=aware, now=aware)
    with pytest.raises(ValueError):
        free_slots(schedule, 30, busy=[], window_start=aware, window_end=naive, now=aware)
    with pytest.raises(ValueError):
        free_slots(schedule, 30, busy=[], window_start=aware, window_end=aware, now=naive)
    with pytest.raises(ValueError):
        free_slots(schedule, 30, busy=[(naive, aware)], window_start=aware, window_end=aware, now=aware)
    with pytest.raises(ValueError):
        offered(schedule, 30, naive, busy=[], now=aware)
    with pytest.raises(ValueError):
        owner_day(schedule, naive)


# --- offered: the same rules for one start ----------------------------------------------

def test_a_start_is_offered_until_a_booking_makes_it_busy() -> None:
    schedule = page("09:00-12:00", buffer_after_minutes=15)
    start = at(ROME, APRIL_15, "10:00")
    assert offered(schedule, 30, start, busy=[], now=LONG_AGO)
    assert not offered(schedule, 30, start, busy=[rome_busy("10:30", "11:30")], now=LONG_AGO)
    assert offered(schedule, 30, start, busy=[rome_busy("10:45", "11:30")], now=LONG_AGO)
    assert offered(schedule, 30, start.astimezone(NEW_YORK), busy=[], now=LONG_AGO)


def test_a_start_in_the_repeated_hour_is_offered_both_times_it_happens() -> None:
    schedule = page("01:00-04:00")
    first, second = (at(ROME, ROME_FALL_BACK, "02:30", fold=fold) for fold in (0, 1))
    assert offered(schedule, 30, first, busy=[], now=LONG_AGO)
    assert offered(schedule, 30, second, busy=[], now=LONG_AGO)
    assert not offered(schedule, 30, second, busy=[(first, first + timedelta(hours=1, minutes=1))],
                       now=LONG_AGO)


def test_a_start_off_the_slot_grid_or_outside_hours_is_not_offered() -> None:
    schedule = page("09:00-12:00")
    assert not offered(schedule, 30, at(ROME, APRIL_15, "09:10"), busy=[], now=LONG_AGO)
    assert not offered(schedule, 30, at(ROME, APRIL_15, "11:45"), busy=[], now=LONG_AGO)
    assert not offered(schedule, 60, at(ROME, APRIL_15, "11:30"), busy=[], now=LONG_AGO)
    assert not offered(schedule, 30, at(ROME, APRIL_15, "09:00") + timedelta(seconds=1), busy=[],
                       now=LONG_AGO)


def test_the_caps_and_notice_apply_at_booking_time_too() -> None:
    schedule = page("09:00-12:00", maximum_per_day=3, minimum_notice_minutes=120, maximum_days_ahead=5)
    start = at(ROME, APRIL_15, "11:00")
    now = at(ROME, APRIL_15, "08:00")
    assert offered(schedule, 30, start, busy=[], now=now, bookings_per_day={APRIL_15: 2})
    assert not offered(schedule, 30, start, busy=[], now=now, bookings_per_day={APRIL_15: 3})
    assert not offered(schedule, 30, start, busy=[], now=at(ROME, APRIL_15, "09:01"))
    assert not offered(schedule, 30, start + timedelta(days=6), busy=[], now=now)
    assert offered(schedule, 30, start + timedelta(days=5), busy=[], now=now)


# Each week's fifth day is a change of clocks in Rome, or in New York and Havana.
@pytest.mark.parametrize("week_of", [date(2026, 3, 25), date(2026, 10, 21), date(2026, 3, 4),
                                     date(2026, 10, 28)])
@pytest.mark.parametrize("zone", ["Europe/Rome", "America/New_York", "America/Havana"])
def test_offered_agrees_with_free_slots_at_every_five_minutes_of_a_week(week_of: date, zone: str) -> None:
    tz = ZoneInfo(zone)
    fifth_day = week_of + timedelta(days=4)
    schedule = Schedule(
        time_zone=zone,
        weekly=(hours("00:00-02:30", "02:30-04:00", "09:00-12:00", "13:05-17:40"),) * 5
        + (hours("01:00-04:00", "22:00-24:00"), hours("00:00-01:00", "01:30-03:00", "23:00-24:00")),
        overrides=(DateOverride(week_of + timedelta(days=1), ()),
                   DateOverride(week_of + timedelta(days=2), hours("02:00-03:30", "14:00-15:00"))),
        slot_interval_minutes=25,
        buffer_before_minutes=10,
        buffer_after_minutes=5,
        minimum_notice_minutes=90,
        maximum_days_ahead=6,
        maximum_per_day=4,
    )
    now = at(tz, week_of, "01:20")
    fourth_day, sixth_day = week_of + timedelta(days=3), week_of + timedelta(days=5)
    busy = [(at(tz, fifth_day, "03:10"), at(tz, fifth_day, "03:40")),
            (at(NEW_YORK, fourth_day, "05:00"), at(NEW_YORK, fourth_day, "06:00")),
            (at(UTC, sixth_day, "10:00"), at(UTC, sixth_day, "12:00"))]
    bookings = {week_of + timedelta(days=3): 4, week_of + timedelta(days=6): 1}
    window_start, window_end = at(tz, week_of), at(tz, week_of + timedelta(days=8))
    free = free_slots(schedule, 40, busy=busy, window_start=window_start, window_end=window_end, now=now,
                      bookings_per_day=bookings)
    free_starts = {slot.start for slot in free}
    assert len(free_starts) > 30  # the comparison below means something
    start = window_start.astimezone(UTC)
    disagreements = []
    while start < window_end:
        is_offered = offered(schedule, 40, start, busy=busy, now=now, bookings_per_day=bookings)
        if is_offered != (start in free_starts):
            disagreements.append(start.astimezone(tz).isoformat())
        start += timedelta(minutes=5)
    assert disagreements == []


# --- team pages -------------------------------------------------------------------------

def slot_at(hhmm: str, minutes: int = 30) -> Slot:
    start = at(ROME, APRIL_15, hhmm).astimezone(UTC)
    return Slot(start, start + timedelta(minutes=minutes))


def test_a_whole_team_meeting_needs_every_member_free() -> None:
    per_member = {"bea": [slot_at("09:30"), slot_at("10:00"), slot_at("10:30")],
                  "ada": [slot_at("09:00"), slot_at("09:30"), slot_at("10:00")]}
    assert team_slots(per_member, "all") == [
        TeamSlot(slot_at("09:30").start, slot_at("09:30").end, ("ada", "bea")),
        TeamSlot(slot_at("10:00").start, slot_at("10:00").end, ("ada", "bea")),
    ]
    assert team_slots({**per_member, "cy": []}, "all") == []
    assert team_slots({}, "all") == []


def test_a_round_robin_page_offers_any_members_slot_with_who_is_free() -> None:
    per_member = {"bea": [slot_at("10:30"), slot_at("09:30")],
                  "ada": [slot_at("10:00"), slot_at("09:00"), slot_at("09:30")]}
    team = team_slots(per_member, "any")
    assert [(slot.start.astimezone(ROME).strftime("%H:%M"), slot.user_ids) for slot in team] == [
        ("09:00", ("ada",)), ("09:30", ("ada", "bea")), ("10:00", ("ada",)), ("10:30", ("bea",))]
    assert all(slot.start.tzinfo is UTC for slot in team)


def test_team_slots_from_each_members_free_slots() -> None:
    schedule = page("09:00-11:00")
    ada = slots_on(schedule, APRIL_15, busy=[rome_busy("09:00", "10:00")])
    bea = slots_on(schedule, APRIL_15, busy=[rome_busy("10:30", "11:00")])
    assert clock_times(team_slots({"ada": ada, "bea": bea}, "all")) == ["10:00"]
    assert len(team_slots({"ada": ada, "bea": bea}, "any")) == 4


def test_an_unknown_team_mode_is_refused() -> None:
    with pytest.raises(ValueError):
        team_slots({"ada": [slot_at("09:00")]}, "some")  # type: ignore[arg-type]
