"""Busy time: month buckets of the busy mirror, merging, and the availability view (pure).

Intervals are half-open, ``[start, end)``, in aware UTC; one that ends at midnight of the
first of a month does not touch that month. An empty interval (``end <= start``) is no busy
time and is dropped everywhere.

The availability view answers "when is this user busy" from the mirror alone (R29/R30): all
counted calendars merged, a user with an inactive counted calendar not bookable; the owner
sees the titles of their events, every other viewer only "busy" (R18).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import NamedTuple

from convene_calendar_sync.domain.calendar_events import BusyInterval
from convene_calendar_sync.domain.errors import RuleViolation

MAX_RANGE = timedelta(days=92)
"""The longest range one availability question may cover (a quarter)."""

_INSTANT = timedelta(microseconds=1)


class InvalidBusyRange(RuleViolation):
    """An availability range refused: ``range_invalid`` (no UTC offset, end not after
    start) or ``range_too_long`` (longer than :data:`MAX_RANGE`)."""


class BusyEntry(NamedTuple):
    """One busy interval of one provider event, as the mirror gives it back."""

    start: datetime
    end: datetime
    title: str
    provider_event_id: str


@dataclass(frozen=True)
class BusyBlock:
    """One busy block of the view; ``title`` is None for anyone but the owner."""

    start: datetime
    end: datetime
    title: str | None = None


@dataclass(frozen=True)
class Availability:
    """A user's busy time over ``[start, end)``.

    ``busy``: for the owner, one block per event occurrence with its title (overlapping
    blocks of different events listed separately, sorted); for anyone else, the merged
    blocks without titles. ``busy_merged``: the merged busy time without titles, for both.
    ``bookable`` is False while any counted calendar is inactive (its busy time is not
    known): ``inactive_calendar_ids`` says which.
    """

    start: datetime
    end: datetime
    busy: list[BusyBlock]
    busy_merged: list[BusyInterval]
    bookable: bool
    inactive_calendar_ids: list[str]


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"busy time needs aware datetimes, got {moment!r}")
    return moment.astimezone(timezone.utc)


def month_of(moment: datetime) -> str:
    """The UTC month of an aware instant, ``"YYYY-MM"``."""
    utc = _utc(moment)
    return f"{utc.year:04d}-{utc.month:02d}"


def _months_between(start: datetime, end: datetime) -> list[str]:
    """The months ``[start, end)`` touches, in order (none when it is empty)."""
    start, end = _utc(start), _utc(end)
    if end <= start:
        return []
    last = end - _INSTANT
    year, month = start.year, start.month
    months = []
    while (year, month) <= (last.year, last.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def months_touched(intervals: Iterable[BusyInterval]) -> set[str]:
    """Every UTC month (``"YYYY-MM"``) one of the intervals touches; an interval spanning
    months touches each of them."""
    return {m for i in intervals for m in _months_between(i.start, i.end)}


def by_month(intervals: Iterable[BusyInterval]) -> dict[str, list[BusyInterval]]:
    """The intervals (in UTC, sorted, without duplicates or empty ones) bucketed per month
    they touch. An interval spanning months is listed whole in each of them, not cut at the
    month boundary: a reader of several months de-duplicates it, and a reader of one month
    still sees its true start and end (cutting would turn one occurrence into two)."""
    buckets: dict[str, set[BusyInterval]] = {}
    for interval in intervals:
        utc = BusyInterval(_utc(interval.start), _utc(interval.end))
        for month in _months_between(utc.start, utc.end):
            buckets.setdefault(month, set()).add(utc)
    return {month: sorted(found, key=lambda i: (i.start, i.end))
            for month, found in sorted(buckets.items())}


def merge(intervals: Iterable[BusyInterval]) -> list[BusyInterval]:
    """The busy time of ``intervals`` as sorted, disjoint intervals in UTC: overlapping and
    touching ones (one ends where the next starts) merged, empty ones dropped."""
    ordered = sorted((BusyInterval(_utc(i.start), _utc(i.end)) for i in intervals),
                     key=lambda i: (i.start, i.end))
    merged: list[BusyInterval] = []
    for interval in ordered:
        if interval.end <= interval.start:
            continue
        if merged and interval.start <= merged[-1].end:
            if interval.end > merged[-1].end:
                merged[-1] = BusyInterval(merged[-1].start, interval.end)
        else:
            merged.append(interval)
    return merged


def check_range(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The range in UTC, or :class:`InvalidBusyRange` if either end has no UTC offset, the
    end is not after the start, or it is longer than :data:`MAX_RANGE`."""
    details = {"start": start.isoformat(), "end": end.isoformat()}
    if any(m.tzinfo is None or m.utcoffset() is None for m in (start, end)):
        raise InvalidBusyRange("range_invalid", "Both ends of the range need a UTC offset.",
                               details)
    start, end = _utc(start), _utc(end)  # elapsed time, not wall-clock time in one zone
    if end <= start:
        raise InvalidBusyRange("range_invalid", "The range must end after it starts.",
                               details)
    if end - start > MAX_RANGE:
        raise InvalidBusyRange("range_too_long",
                               f"A range covers at most {MAX_RANGE.days} days.",
                               {**details, "max_days": MAX_RANGE.days})
    return start, end


def clip(start: datetime, end: datetime, range_start: datetime,
         range_end: datetime) -> tuple[datetime, datetime] | None:
    """``[start, end)`` cut to ``[range_start, range_end)`` in UTC; None if nothing is left."""
    clipped = max(_utc(start), _utc(range_start)), min(_utc(end), _utc(range_end))
    return clipped if clipped[0] < clipped[1] else None


def availability(
    start: datetime,
    end: datetime,
    busy: Mapping[str, Iterable[BusyEntry]],
    calendars_active: Mapping[str, bool],
    *,
    viewer_is_owner: bool,
) -> Availability:
    """The user's availability over ``[start, end)`` (checked by :func:`check_range`).

    ``calendars_active`` names every counted calendar of the user and whether it is active
    (synced and reachable); ``busy`` holds each calendar's entries read from the mirror.
    Entries of calendars not counted are left out (a calendar the user stopped counting).
    An inactive calendar's entries still count (the last known busy time), but the user is
    not bookable until it is active again (R30). Blocks are clipped to the range.
    """
    start, end = check_range(start, end)
    blocks: list[BusyBlock] = []
    seen: set[tuple[datetime, datetime, str, str]] = set()
    for calendar_id, entries in busy.items():
        if calendar_id not in calendars_active:
            continue
        for entry in entries:
            clipped = clip(entry.start, entry.end, start, end)
            if clipped is None:
                continue
            key = (*clipped, entry.title, entry.provider_event_id)
            if key in seen:  # the same event seen through two calendars
                continue
            seen.add(key)
            blocks.append(BusyBlock(*clipped, title=entry.title))
    titled = sorted(blocks, key=lambda b: (b.start, b.end, b.title or ""))
    merged = merge(BusyInterval(b.start, b.end) for b in titled)
    inactive = sorted(c for c, active in calendars_active.items() if not active)
    shown = titled if viewer_is_owner else [BusyBlock(i.start, i.end) for i in merged]
    return Availability(start=start, end=end, busy=shown, busy_merged=merged,
                        bookable=not inactive, inactive_calendar_ids=inactive)
