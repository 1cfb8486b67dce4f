"""Busy time: month buckets, merging, and the availability view (owner sees titles, others
see only "busy"; an inactive counted calendar makes the user unbookable; ranges checked)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from convene_calendar_sync.domain.busy import (
    Availability,
    BusyBlock,
    BusyEntry,
    InvalidBusyRange,
    availability,
    by_month,
    check_range,
    merge,
    month_of,
    months_touched,
)
from convene_calendar_sync.domain.calendar_events import BusyInterval
from convene_calendar_sync.domain.errors import RuleViolation

UTC = timezone.utc
ROME = ZoneInfo("Europe/Rome")


def at(day: str, hour: int = 0, minute: int = 0, tz=UTC) -> datetime:
    year, month, dom = map(int, day.split("-"))
    return datetime(year, month, dom, hour, minute, tzinfo=tz)


def iv(start: datetime, end: datetime) -> BusyInterval:
    return BusyInterval(start, end)


# --- month buckets --------------------------------------------------------------------

def test_an_interval_inside_one_month_touches_that_month() -> None:
    assert months_touched([iv(at("2030-01-15", 9), at("2030-01-15", 10))]) == {"2030-01"}


def test_an_interval_spanning_months_touches_each_of_them() -> None:
    assert months_touched([iv(at("2030-11-20"), at("2031-02-03"))]) == {
        "2030-11", "2030-12", "2031-01", "2031-02"}


def test_an_interval_ending_at_the_first_instant_of_a_month_does_not_touch_it() -> None:
    assert months_touched([iv(at("2030-01-31", 22), at("2030-02-01"))]) == {"2030-01"}


def test_months_are_utc_months() -> None:
    # 00:30 on 1 February in Rome is still 31 January in UTC.
    local = at("2030-02-01", 0, 30, tz=ROME)
    assert month_of(local) == "2030-01"
    assert months_touched([iv(local, local + timedelta(hours=1))]) == {"2030-01", "2030-02"}


def test_empty_intervals_touch_nothing() -> None:
    assert months_touched([iv(at("2030-01-15", 9), at("2030-01-15", 9)),
                           iv(at("2030-01-15", 10), at("2030-01-15", 9))]) == set()


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        months_touched([iv(datetime(2030, 1, 1), datetime(2030, 1, 2))])


def test_by_month_lists_a_spanning_interval_whole_in_each_month_in_utc() -> None:
    spanning = iv(at("2030-01-31", 22, tz=ROME), at("2030-02-02", 10, tz=ROME))
    inside = iv(at("2030-01-10", 9), at("2030-01-10", 10))
    buckets = by_month([spanning, inside, inside])
    utc = iv(at("2030-01-31", 21), at("2030-02-02", 9))
    assert buckets == {"2030-01": [inside, utc], "2030-02": [utc]}
    assert all(i.start.tzinfo == UTC for i in buckets["2030-02"])


# --- merge ----------------------------------------------------------------------------

def test_merge_sorts_and_joins_overlapping_and_touching_intervals() -> None:
    merged = merge([
        iv(at("2030-01-15", 14), at("2030-01-15", 15)),
        iv(at("2030-01-15", 9), at("2030-01-15", 10)),
        iv(at("2030-01-15", 9, 30), at("2030-01-15", 11)),  # overlaps the 9:00
        iv(at("2030-01-15", 11), at("2030-01-15", 12)),  # touches it
        iv(at("2030-01-15", 9, 45), at("2030-01-15", 10)),  # inside
        iv(at("2030-01-15", 16), at("2030-01-15", 16)),  # empty
    ])
    assert merged == [iv(at("2030-01-15", 9), at("2030-01-15", 12)),
                      iv(at("2030-01-15", 14), at("2030-01-15", 15))]


def test_merge_compares_instants_across_zones() -> None:
    assert merge([iv(at("2030-01-15", 10, tz=ROME), at("2030-01-15", 11, tz=ROME)),
                  iv(at("2030-01-15", 10), at("2030-01-15", 11))]) == [
        iv(at("2030-01-15", 9), at("2030-01-15", 11))]


def test_merge_of_nothing_is_nothing() -> None:
    assert merge([]) == []


# --- range checks ---------------------------------------------------------------------

@pytest.mark.parametrize(("start", "end", "code"), [
    (at("2030-01-15"), at("2030-01-15"), "range_invalid"),
    (at("2030-01-16"), at("2030-01-15"), "range_invalid"),
    (datetime(2030, 1, 15), at("2030-01-16"), "range_invalid"),
    (at("2030-01-15"), datetime(2030, 1, 16), "range_invalid"),
    (at("2030-01-01"), at("2030-01-01") + timedelta(days=92, seconds=1), "range_too_long"),
])
def test_bad_ranges_are_refused_with_a_machine_code(start, end, code) -> None:
    with pytest.raises(InvalidBusyRange) as refused:
        check_range(start, end)
    assert refused.value.code == code
    assert isinstance(refused.value, RuleViolation)  # a 422 like every rule violation


def test_a_range_of_exactly_92_days_is_accepted_and_given_in_utc() -> None:
    start = at("2030-01-01", 1, tz=ROME)
    assert check_range(start, at("2030-04-03", 2, tz=ROME)) == (
        at("2030-01-01"), at("2030-04-03"))  # Rome moved to summer time in between


def test_the_length_of_a_range_is_elapsed_time_across_a_clock_change() -> None:
    # 92 days on Rome's wall clock, but the clocks went back an hour on 27 October.
    with pytest.raises(InvalidBusyRange) as refused:
        check_range(at("2030-10-01", tz=ROME), at("2031-01-01", tz=ROME))
    assert refused.value.code == "range_too_long"


def test_availability_checks_its_range() -> None:
    with pytest.raises(InvalidBusyRange) as refused:
        availability(at("2030-01-01"), at("2030-06-01"), {}, {}, viewer_is_owner=True)
    assert refused.value.code == "range_too_long"


# --- the availability view ------------------------------------------------------------

START, END = at("2030-01-15"), at("2030-01-16")
WORK = {
    "work": [BusyEntry(at("2030-01-15", 9), at("2030-01-15", 10), "Board meeting", "ev-1"),
             BusyEntry(at("2030-01-15", 14), at("2030-01-15", 15), "Dentist", "ev-2")],
    "home": [BusyEntry(at("2030-01-15", 9, 30), at("2030-01-15", 11), "School run", "ev-9")],
}


def view(busy=WORK, active=None, *, owner: bool) -> Availability:
    active = {"work": True, "home": True} if active is None else active
    return availability(START, END, busy, active, viewer_is_owner=owner)


def test_the_owner_sees_each_event_with_its_title_sorted() -> None:
    seen = view(owner=True)
    assert seen.busy == [
        BusyBlock(at("2030-01-15", 9), at("2030-01-15", 10), "Board meeting"),
        BusyBlock(at("2030-01-15", 9, 30), at("2030-01-15", 11), "School run"),
        BusyBlock(at("2030-01-15", 14), at("2030-01-15", 15), "Dentist"),
    ]
    assert seen.busy_merged == [iv(at("2030-01-15", 9), at("2030-01-15", 11)),
                                iv(at("2030-01-15", 14), at("2030-01-15", 15))]


def test_other_users_see_only_merged_busy_blocks_without_titles() -> None:
    seen = view(owner=False)
    assert seen.busy == [BusyBlock(at("2030-01-15", 9), at("2030-01-15", 11), None),
                         BusyBlock(at("2030-01-15", 14), at("2030-01-15", 15), None)]
    assert all(block.title is None for block in seen.busy)
    assert "Dentist" not in repr(seen)
    assert seen.busy_merged == [iv(b.start, b.end) for b in seen.busy]


def test_blocks_are_clipped_to_the_range() -> None:
    busy = {"work": [
        BusyEntry(at("2030-01-14", 22), at("2030-01-15", 2), "Overnight", "ev-1"),
        BusyEntry(at("2030-01-15", 23), at("2030-01-17"), "Trip", "ev-2"),
        BusyEntry(at("2030-01-14", 8), at("2030-01-14", 9), "Yesterday", "ev-3"),
        BusyEntry(at("2030-01-16"), at("2030-01-16", 1), "Tomorrow", "ev-4"),
    ]}
    seen = view(busy, {"work": True}, owner=True)
    assert seen.busy == [BusyBlock(START, at("2030-01-15", 2), "Overnight"),
                         BusyBlock(at("2030-01-15", 23), END, "Trip")]


def test_the_same_event_through_two_calendars_is_listed_once_for_the_owner() -> None:
    shared = BusyEntry(at("2030-01-15", 9), at("2030-01-15", 10), "Offsite", "ev-1")
    other = BusyEntry(at("2030-01-15", 9), at("2030-01-15", 10), "Offsite", "ev-2")
    seen = view({"work": [shared], "home": [shared, other]}, owner=True)
    assert seen.busy == [BusyBlock(shared.start, shared.end, "Offsite")] * 2  # ev-1, ev-2


def test_all_counted_calendars_active_means_bookable() -> None:
    seen = view(owner=False)
    assert (seen.bookable, seen.inactive_calendar_ids) == (True, [])


def test_an_inactive_counted_calendar_makes_the_user_unbookable_and_still_counts() -> None:
    seen = view(active={"work": True, "home": False}, owner=False)
    assert (seen.bookable, seen.inactive_calendar_ids) == (False, ["home"])
    assert seen.busy[0] == BusyBlock(at("2030-01-15", 9), at("2030-01-15", 11))


def test_an_inactive_calendar_without_busy_entries_still_blocks_booking() -> None:
    seen = view({}, {"work": True, "zz": False, "aa": False}, owner=True)
    assert (seen.bookable, seen.inactive_calendar_ids, seen.busy) == (False, ["aa", "zz"], [])


def test_calendars_not_counted_are_left_out() -> None:
    seen = view(active={"work": True}, owner=False)
    assert seen.busy_merged == [iv(at("2030-01-15", 9), at("2030-01-15", 10)),
                                iv(at("2030-01-15", 14), at("2030-01-15", 15))]


def test_the_view_is_in_utc_whatever_the_zone_asked_in() -> None:
    seen = availability(at("2030-01-15", 1, tz=ROME), at("2030-01-16", 1, tz=ROME), WORK,
                        {"work": True, "home": True}, viewer_is_owner=False)
    assert (seen.start, seen.end) == (START, END)
    assert all(b.start.tzinfo == UTC for b in seen.busy)
