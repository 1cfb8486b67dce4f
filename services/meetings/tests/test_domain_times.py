"""Wall time + zone -> UTC, across daylight-saving changes in several zones."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from convene_meetings.domain.errors import RuleViolation
from convene_meetings.domain.times import end_instant, ensure_not_past, local_time, start_instant

UTC = timezone.utc


@pytest.mark.parametrize(
    ("wall", "zone", "expected"),
    [
        (datetime(2026, 1, 15, 9, 30), "Europe/Rome", datetime(2026, 1, 15, 8, 30, tzinfo=UTC)),
        (datetime(2026, 7, 15, 9, 30), "Europe/Rome", datetime(2026, 7, 15, 7, 30, tzinfo=UTC)),
        (datetime(2026, 7, 15, 9, 30), "America/New_York",
         datetime(2026, 7, 15, 13, 30, tzinfo=UTC)),
        (datetime(2026, 7, 15, 9, 30), "Australia/Sydney",
         datetime(2026, 7, 14, 23, 30, tzinfo=UTC)),
        (datetime(2026, 7, 15, 9, 30), "Asia/Kolkata", datetime(2026, 7, 15, 4, 0, tzinfo=UTC)),
    ],
)
def test_wall_time_is_read_in_the_meeting_zone(wall, zone, expected) -> None:
    assert start_instant(wall, zone) == expected


def test_same_wall_time_either_side_of_the_spring_change_has_different_offsets() -> None:
    # Europe/Rome moves from +01:00 to +02:00 on 2026-03-29 at 02:00.
    before = start_instant(datetime(2026, 3, 28, 10, 0), "Europe/Rome")
    after = start_instant(datetime(2026, 3, 29, 10, 0), "Europe/Rome")
    assert before == datetime(2026, 3, 28, 9, 0, tzinfo=UTC)
    assert after == datetime(2026, 3, 29, 8, 0, tzinfo=UTC)
    assert after - before == timedelta(hours=23)  # that Sunday is one hour short


@pytest.mark.parametrize(
    ("wall", "zone"),
    [
        (datetime(2026, 3, 29, 2, 30), "Europe/Rome"),
        (datetime(2026, 3, 8, 2, 15), "America/New_York"),
        (datetime(2026, 10, 4, 2, 45), "Australia/Sydney"),
    ],
)
def test_a_wall_time_skipped_by_the_clocks_is_refused(wall, zone) -> None:
    with pytest.raises(RuleViolation) as refused:
        start_instant(wall, zone)
    assert refused.value.code == "nonexistent_local_time"
    assert refused.value.details == {"start": wall.isoformat(), "time_zone": zone}


@pytest.mark.parametrize(
    ("wall", "zone", "first_occurrence"),
    [
        (datetime(2026, 10, 25, 2, 30), "Europe/Rome", datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
        (datetime(2026, 11, 1, 1, 30), "America/New_York",
         datetime(2026, 11, 1, 5, 30, tzinfo=UTC)),
        (datetime(2026, 4, 5, 2, 30), "Australia/Sydney",
         datetime(2026, 4, 4, 15, 30, tzinfo=UTC)),
    ],
)
def test_a_repeated_wall_time_means_its_first_occurrence(wall, zone, first_occurrence) -> None:
    assert start_instant(wall, zone) == first_occurrence


def test_an_aware_start_is_taken_as_the_instant_it_names() -> None:
    aware = datetime(2026, 3, 29, 2, 30, tzinfo=timezone(timedelta(hours=5)))
    # Its own offset wins, even though 02:30 does not exist in Rome that night.
    assert start_instant(aware, "Europe/Rome") == datetime(2026, 3, 28, 21, 30, tzinfo=UTC)


def test_sub_second_parts_are_dropped() -> None:
    start = start_instant(datetime(2026, 1, 15, 9, 30, 5, 123456), "UTC")
    assert start == datetime(2026, 1, 15, 9, 30, 5, tzinfo=UTC)


def test_end_is_start_plus_duration_even_across_the_change() -> None:
    start = start_instant(datetime(2026, 3, 29, 1, 30), "Europe/Rome")  # 00:30Z, +01:00
    end = end_instant(start, 60)
    assert end == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert local_time(end, "Europe/Rome").replace(tzinfo=None) == datetime(2026, 3, 29, 3, 30)


def test_a_start_in_the_past_is_refused() -> None:
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    ensure_not_past(now, now)  # starting right now is fine
    with pytest.raises(RuleViolation) as refused:
        ensure_not_past(now - timedelta(minutes=1), now)
    assert refused.value.code == "start_in_past"
