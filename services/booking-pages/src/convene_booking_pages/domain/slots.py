"""The slots a booking page offers, and the same check for one start when it is booked.

Working hours are wall times in the owner's zone; slots are instants. Around a daylight-saving
change a wall time can be missing (spring forward) or happen twice (fall back):

- a missing wall time moves forward to the first instant after the gap, so hours "02:30-05:00"
  on the night clocks jump from 02:00 to 03:00 open at 03:00;
- a repeated wall time is its first occurrence when hours open and its second when they close,
  so hours that span the repeated hour get all of it.

Slot starts then step through the working interval in absolute time, so a slot is always
``duration`` long in real minutes, even across a change. :func:`free_slots` lists every
offered slot in a window; :func:`offered` answers for one start, by the very same rules, so a
booking is accepted exactly when the slot was on offer.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from types import MappingProxyType
from typing import Literal
from zoneinfo import ZoneInfo

from convene_booking_pages.domain.schedule import Schedule

UTC = timezone.utc
ONE_DAY = timedelta(days=1)

Interval = tuple[datetime, datetime]
"""A busy period ``[start, end)``; both ends tz-aware, in any zone."""

NO_BOOKINGS: Mapping[date, int] = MappingProxyType({})
"""No bookings on any day (the default of ``bookings_per_day``; read-only on purpose)."""


@dataclass(frozen=True)
class Slot:
    """A bookable ``[start, end)``, both in UTC."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class TeamSlot:
    """A slot of a team page, with the members (sorted ids) who are free for it."""

    start: datetime
    end: datetime
    user_ids: tuple[str, ...]


def owner_day(schedule: Schedule, instant: datetime) -> date:
    """The owner's local date at ``instant`` (the key of ``bookings_per_day``)."""
    _require_aware(instant, "instant")
    return instant.astimezone(ZoneInfo(schedule.time_zone)).date()


def free_slots(schedule: Schedule, duration_minutes: int, *, busy: Sequence[Interval],
               window_start: datetime, window_end: datetime, now: datetime,
               bookings_per_day: Mapping[date, int] = NO_BOOKINGS) -> list[Slot]:
    """Every slot of ``duration_minutes`` the page offers with a start in
    ``[window_start, window_end)``, sorted by start, in UTC.

    A slot is offered if it fits in the owner's working hours, starts at least the minimum
    notice after ``now`` and no more than ``maximum_days_ahead`` owner-local days after
    today, its day is below ``maximum_per_day`` bookings (``bookings_per_day`` is keyed by
    :func:`owner_day`), and, with the buffers around it, it overlaps none of ``busy``.
    Raises :class:`ValueError` for a naive datetime.
    """
    window_start = _in_utc(window_start, "window_start")
    window_end = _in_utc(window_end, "window_end")
    rules = _OfferRules(schedule, duration_minutes, busy, now, bookings_per_day)
    if window_start >= window_end:
        return []
    # Days outside the window, before yesterday or past the horizon cannot offer anything.
    first_day = max(_shift(rules.local_date(window_start), -1), _shift(rules.today, -1))
    last_day = min(_shift(rules.local_date(window_end), 1), rules.last_day)
    starts = {start for start in rules.candidate_starts(first_day, last_day)
              if window_start <= start < window_end and rules.allow(start)}
    return [Slot(start, start + rules.duration) for start in sorted(starts)]


def offered(schedule: Schedule, duration_minutes: int, start: datetime, *,
            busy: Sequence[Interval], now: datetime,
            bookings_per_day: Mapping[date, int] = NO_BOOKINGS) -> bool:
    """True if :func:`free_slots` would offer a slot at ``start`` (any window holding it).

    Used again when a visitor books, against the busy time and bookings of that moment.
    Raises :class:`ValueError` for a naive datetime.
    """
    start = _in_utc(start, "start")
    rules = _OfferRules(schedule, duration_minutes, busy, now, bookings_per_day)
    day = rules.local_date(start)
    # A start comes from its own local day's hours, or from the day before's when they close at
    # a repeated midnight (Havana); free_slots looks one day further each side too.
    candidates = rules.candidate_starts(_shift(day, -1), _shift(day, 1))
    return any(candidate == start for candidate in candidates) and rules.allow(start)


def team_slots(per_member: Mapping[str, Sequence[Slot]], mode: Literal["any", "all"]) -> list[TeamSlot]:
    """Combine the members' free slots of a team page, sorted by start.

    ``"all"``: the slots every member has (a meeting with the whole team); ``"any"``: every
    slot some member has, with the members free for it (round robin picks one of them).
    """
    if mode not in ("any", "all"):
        raise ValueError(f"mode must be 'any' or 'all', not {mode!r}")
    free_members: dict[tuple[datetime, datetime], set[str]] = {}
    for user_id, slots in per_member.items():
        for slot in slots:
            key = (_in_utc(slot.start, "slot start"), _in_utc(slot.end, "slot end"))
            free_members.setdefault(key, set()).add(user_id)
    team = [TeamSlot(start, end, tuple(sorted(user_ids)))
            for (start, end), user_ids in free_members.items()
            if mode == "any" or len(user_ids) == len(per_member)]
    team.sort(key=lambda slot: (slot.start, slot.end))
    return team


class _OfferRules:
    """The rules of one request (schedule, duration, now, busy time, bookings), prepared once:
    busy time merged and sorted so each check is a binary search."""

    def __init__(self, schedule: Schedule, duration_minutes: int, busy: Sequence[Interval],
                 now: datetime, bookings_per_day: Mapping[date, int]) -> None:
        now = _in_utc(now, "now")
        if isinstance(duration_minutes, bool) or not isinstance(duration_minutes, int) \
                or duration_minutes <= 0:
            raise ValueError(f"duration_minutes must be a positive whole number, not {duration_minutes!r}")
        if schedule.slot_interval_minutes <= 0:
            raise ValueError("the schedule's slot interval must be positive (validate it first)")
        self.schedule = schedule
        self.zone = ZoneInfo(schedule.time_zone)
        self.duration = timedelta(minutes=duration_minutes)
        self.step = timedelta(minutes=schedule.slot_interval_minutes)
        self.before = timedelta(minutes=schedule.buffer_before_minutes)
        self.after = timedelta(minutes=schedule.buffer_after_minutes)
        self.earliest = now + timedelta(minutes=schedule.minimum_notice_minutes)
        self.today = self.local_date(now)
        self.last_day = _shift(self.today, schedule.maximum_days_ahead)
        self.bookings_per_day = bookings_per_day
        self.busy_starts, self.busy_ends = _merged(busy)

    def local_date(self, instant: datetime) -> date:
        return instant.astimezone(self.zone).date()

    def candidate_starts(self, first_day: date, last_day: date) -> Iterator[datetime]:
        """Slot starts in the working hours of the owner-local days ``first_day..last_day``."""
        day = first_day
        while day <= last_day:
            for hours in self.schedule.hours_on(day):
                opens = _instant(day, hours.start_minute, self.zone, opening=True)
                closes = _instant(day, hours.end_minute, self.zone, opening=False)
                start = opens
                while start + self.duration <= closes:
                    yield start
                    start += self.step
            if day == date.max:
                break
            day += ONE_DAY

    def allow(self, start: datetime) -> bool:
        """Notice, horizon, daily cap and busy time, for a start that fits the working hours."""
        if start < self.earliest:
            return False
        day = self.local_date(start)
        if day > self.last_day:
            return False
        cap = self.schedule.maximum_per_day
        if cap is not None and self.bookings_per_day.get(day, 0) >= cap:
            return False
        return not self._busy_during(start - self.before, start + self.duration + self.after)

    def _busy_during(self, start: datetime, end: datetime) -> bool:
        # The first busy period that ends after ``start`` is the only one that can overlap.
        index = bisect_right(self.busy_ends, start)
        return index < len(self.busy_starts) and self.busy_starts[index] < end


def _merged(busy: Sequence[Interval]) -> tuple[list[datetime], list[datetime]]:
    """Busy time as disjoint periods in UTC, sorted: their starts and their ends."""
    periods = []
    for start, end in busy:
        start, end = _in_utc(start, "busy start"), _in_utc(end, "busy end")
        if start < end:  # an empty period hides nothing
            periods.append((start, end))
    periods.sort()
    starts: list[datetime] = []
    ends: list[datetime] = []
    for start, end in periods:
        if ends and start <= ends[-1]:
            ends[-1] = max(ends[-1], end)
        else:
            starts.append(start)
            ends.append(end)
    return starts, ends


def _instant(day: date, minute: int, zone: ZoneInfo, *, opening: bool) -> datetime:
    """The UTC instant of ``minute`` after local midnight of ``day`` (1440: the next midnight).

    A repeated wall time is its first occurrence when hours open, its second when they close;
    a missing one moves forward to the end of the gap.
    """
    wall = datetime.combine(day, time()) + timedelta(minutes=minute)
    instant = wall.replace(tzinfo=zone, fold=0 if opening else 1).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == wall:
        return instant
    # In a gap, fold=0 reads the wall time with the offset before the change and fold=1 with
    # the one after: the change itself lies between the two readings.
    readings = sorted(wall.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1))
    return _next_offset_change(readings[0], readings[1], zone)


def _next_offset_change(before: datetime, after: datetime, zone: ZoneInfo) -> datetime:
    """The first instant in ``(before, after]`` whose UTC offset differs from ``before``'s."""
    offset = before.astimezone(zone).utcoffset()
    seconds = int((after - before).total_seconds())
    while seconds > 1:
        half = seconds // 2
        middle = before + timedelta(seconds=half)
        if middle.astimezone(zone).utcoffset() == offset:
            before, seconds = middle, seconds - half
        else:
            after, seconds = middle, half
    return after


def _shift(day: date, days: int) -> date:
    """``day`` moved by ``days``, held at the calendar's ends instead of overflowing."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max if days > 0 else date.min


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")


def _in_utc(value: datetime, name: str) -> datetime:
    """An aware ``value`` in UTC. Compared across zones, a datetime in a repeated or missing
    hour never equals anything (PEP 495), so every instant is compared in UTC."""
    _require_aware(value, name)
    return value.astimezone(UTC)
