"""A booking page's scheduling rules: working hours, date overrides, and the settings that
shape which slots a visitor is offered (slot interval, buffers, notice, horizon, daily cap).

Working hours are wall-clock minutes from the owner's local midnight, so "09:00-17:00" stays
09:00-17:00 on both sides of a daylight-saving change. Turning them into instants is the job
of :mod:`convene_booking_pages.domain.slots`. Everything here is a value object; nothing
validates itself on construction, so the API layer can build a :class:`Schedule` and get every
refusal, with its machine-readable code and the offending field, from
:func:`validate_schedule`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MINUTES_PER_DAY = 24 * 60
DAYS_PER_WEEK = 7
MAX_DURATIONS = 10

_HHMM = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])|24:00")


class ScheduleInvalid(ValueError):
    """A schedule (or a time typed into one) breaks a rule.

    ``code`` is machine-readable (``hours_invalid``, ``time_zone_unknown``, ...), ``message``
    is for people, and ``field`` names the offending setting (``weekly.2``,
    ``overrides.2026-03-29``, ``slot_interval_minutes``) or is ``None``.
    """

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


@dataclass(frozen=True)
class WorkingInterval:
    """Working time on one day, ``[start_minute, end_minute)`` after local midnight.

    ``end_minute`` 1440 means the next local midnight.
    """

    start_minute: int
    end_minute: int


@dataclass(frozen=True)
class DateOverride:
    """One date's hours instead of its weekday's: empty is a day off."""

    day: date
    hours: tuple[WorkingInterval, ...]


@dataclass(frozen=True)
class Schedule:
    """When a page's owner can be booked, in the owner's ``time_zone`` (an IANA name).

    ``weekly`` holds seven days of hours, Monday first. Slots start every
    ``slot_interval_minutes``; buffers keep free time around the owner's busy time; a slot is
    offered no sooner than ``minimum_notice_minutes`` from now, no later than
    ``maximum_days_ahead`` owner-local days from today, and only while the day has fewer than
    ``maximum_per_day`` bookings (``None``: no cap).
    """

    time_zone: str
    weekly: tuple[tuple[WorkingInterval, ...], ...]
    overrides: tuple[DateOverride, ...] = ()
    slot_interval_minutes: int = 30
    buffer_before_minutes: int = 0
    buffer_after_minutes: int = 0
    minimum_notice_minutes: int = 240
    maximum_days_ahead: int = 60
    maximum_per_day: int | None = None

    def hours_on(self, day: date) -> tuple[WorkingInterval, ...]:
        """The working hours on the owner-local ``day``: its override's, else its weekday's."""
        override = self._override_hours.get(day)
        if override is not None:
            return override
        return self.weekly[day.weekday()]

    @cached_property
    def _override_hours(self) -> dict[date, tuple[WorkingInterval, ...]]:
        # Built once per schedule: a 60-day window asks for every day's hours.
        hours: dict[date, tuple[WorkingInterval, ...]] = {}
        for override in self.overrides:
            hours.setdefault(override.day, override.hours)  # a duplicate is refused by validation
        return hours


def parse_hhmm(text: str) -> int:
    """Minutes after midnight of a ``HH:MM`` wall time: ``"09:30"`` is 570, ``"24:00"`` 1440.

    Raises :class:`ScheduleInvalid` ``time_invalid`` for anything else (``"9:30"``,
    ``"24:30"``, ``"12:60"``).
    """
    if not isinstance(text, str) or not _HHMM.fullmatch(text):
        raise ScheduleInvalid("time_invalid", f"{text!r} is not a time of day as HH:MM (00:00 to 24:00).")
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def format_hhmm(minute: int) -> str:
    """The ``HH:MM`` form of minutes after midnight: 570 is ``"09:30"``, 1440 ``"24:00"``."""
    if not _is_int(minute) or not 0 <= minute <= MINUTES_PER_DAY:
        raise ScheduleInvalid("time_invalid", f"{minute!r} is not a minute of the day (0 to 1440).")
    return f"{minute // 60:02d}:{minute % 60:02d}"


def validate_schedule(schedule: Schedule, durations_minutes: Sequence[int]) -> None:
    """Refuse a schedule, with the meeting durations its page offers, that breaks a rule.

    Raises :class:`ScheduleInvalid` for the first problem found, checked in the order of the
    settings: ``time_zone_unknown``, ``weekly_invalid``, ``hours_invalid``,
    ``override_duplicate``, ``interval_invalid``, ``buffer_invalid``, ``notice_invalid``,
    ``days_ahead_invalid``, ``per_day_invalid``, ``duration_invalid``.
    """
    _check_time_zone(schedule.time_zone)
    _check_weekly(schedule.weekly)
    _check_overrides(schedule.overrides)
    _check_whole(schedule.slot_interval_minutes, 5, 240, "interval_invalid", "slot_interval_minutes",
                 step=5)
    _check_whole(schedule.buffer_before_minutes, 0, 240, "buffer_invalid", "buffer_before_minutes")
    _check_whole(schedule.buffer_after_minutes, 0, 240, "buffer_invalid", "buffer_after_minutes")
    _check_whole(schedule.minimum_notice_minutes, 0, 60 * 24 * 30, "notice_invalid",
                 "minimum_notice_minutes")
    _check_whole(schedule.maximum_days_ahead, 1, 365, "days_ahead_invalid", "maximum_days_ahead")
    if schedule.maximum_per_day is not None:
        _check_whole(schedule.maximum_per_day, 1, 100, "per_day_invalid", "maximum_per_day")
    _check_durations(durations_minutes)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_whole(value: int, low: int, high: int, code: str, field: str, *, step: int = 1) -> None:
    if not _is_int(value) or not low <= value <= high or value % step:
        multiple = f", a multiple of {step}" if step > 1 else ""
        raise ScheduleInvalid(code, f"{field} must be a whole number from {low} to {high}{multiple}.",
                              field)


def _check_time_zone(name: object) -> None:
    try:
        if not isinstance(name, str) or not name:
            raise ValueError(name)
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleInvalid("time_zone_unknown", f"{name!r} is not a known IANA time zone.",
                              "time_zone") from None


def _check_weekly(weekly: object) -> None:
    if not isinstance(weekly, Sequence) or len(weekly) != DAYS_PER_WEEK:
        raise ScheduleInvalid("weekly_invalid", "Weekly hours need exactly 7 days, Monday to Sunday.",
                              "weekly")
    for weekday, hours in enumerate(weekly):
        _check_hours(hours, f"weekly.{weekday}")


def _check_overrides(overrides: Sequence[DateOverride]) -> None:
    seen: set[date] = set()
    for override in overrides:
        field = f"overrides.{override.day.isoformat()}"
        if override.day in seen:
            raise ScheduleInvalid("override_duplicate",
                                  f"{override.day.isoformat()} has more than one override.", field)
        seen.add(override.day)
        _check_hours(override.hours, field)


def _check_hours(hours: object, field: str) -> None:
    """One day's intervals: in bounds, on the 5-minute grid, in order and not overlapping."""
    if not isinstance(hours, Sequence) or not all(isinstance(i, WorkingInterval) for i in hours):
        raise ScheduleInvalid("hours_invalid", "A day's hours must be a list of working intervals.", field)
    for interval in hours:
        start, end = interval.start_minute, interval.end_minute
        if not (_is_int(start) and _is_int(end) and 0 <= start < end <= MINUTES_PER_DAY):
            raise ScheduleInvalid("hours_invalid",
                                  f"Working hours {start!r}-{end!r} must start before they end, "
                                  "within 00:00 to 24:00.", field)
        if start % 5 or end % 5:
            raise ScheduleInvalid("hours_invalid",
                                  f"Working hours {format_hhmm(start)}-{format_hhmm(end)} must be "
                                  "on a 5-minute grid.", field)
    # Sort first, so two overlapping intervals are reported as such whatever their order.
    ordered = sorted(hours, key=lambda i: (i.start_minute, i.end_minute))
    for earlier, later in pairwise(ordered):
        if later.start_minute < earlier.end_minute:
            raise ScheduleInvalid(
                "hours_invalid",
                f"Working hours {format_hhmm(earlier.start_minute)}-{format_hhmm(earlier.end_minute)} "
                f"and {format_hhmm(later.start_minute)}-{format_hhmm(later.end_minute)} overlap.",
                field)
    if list(hours) != ordered:
        raise ScheduleInvalid("hours_invalid", "A day's working hours must be listed in time order.",
                              field)


def _check_durations(durations: Sequence[int]) -> None:
    values = list(durations)
    if not 1 <= len(values) <= MAX_DURATIONS:
        raise ScheduleInvalid("duration_invalid",
                              f"A page offers 1 to {MAX_DURATIONS} meeting durations.", "durations")
    for index, minutes in enumerate(values):
        if not _is_int(minutes) or not 5 <= minutes <= 720 or minutes % 5:
            raise ScheduleInvalid("duration_invalid",
                                  f"A duration of {minutes!r} minutes is not a multiple of 5 "
                                  "from 5 to 720.", f"durations.{index}")
    if len(set(values)) != len(values):
        raise ScheduleInvalid("duration_invalid", "Each meeting duration may be offered once.",
                              "durations")
