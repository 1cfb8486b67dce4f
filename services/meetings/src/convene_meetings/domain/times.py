"""Turning what the user typed (a wall-clock time in a zone) into an instant, and back.

One time-zone source everywhere: the IANA database through :mod:`zoneinfo`, pinned by the
``tzdata`` package. Around daylight-saving changes a wall time can be missing (spring
forward: 02:30 on the night clocks jump from 02:00 to 03:00) or happen twice (fall back).
A missing time is refused, never silently moved; a repeated time means its first occurrence
(the one still on the earlier, summer offset), as calendar clients do. Start and end must lie
in the contract's supported range (``convene_schemas.base.SUPPORTED_FROM`` ..
``SUPPORTED_UNTIL``), so every consumer of the meeting's events can represent them.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from convene_schemas.base import (
    DATE_OUT_OF_RANGE,
    SUPPORTED_FROM,
    SUPPORTED_UNTIL,
    is_supported_time,
    out_of_range_reason,
)

from convene_meetings.domain.errors import RuleViolation


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name`` (callers validate the name first)."""
    return ZoneInfo(name)


def is_nonexistent(wall_time: datetime, tz: ZoneInfo) -> bool:
    """True if the naive ``wall_time`` never shows on clocks in ``tz`` (a DST gap)."""
    local = wall_time.replace(tzinfo=tz)
    round_trip = local.astimezone(timezone.utc).astimezone(tz).replace(tzinfo=None)
    return round_trip != wall_time


def ensure_supported(name: str, value: datetime) -> None:
    """Refuse a ``start`` or ``end`` outside the supported range (``date_out_of_range``)."""
    if not is_supported_time(value):
        raise RuleViolation(
            DATE_OUT_OF_RANGE,
            f"The meeting's {name}: {out_of_range_reason(value)}.",
            {name: value.isoformat(), "supported_from": SUPPORTED_FROM.isoformat(),
             "supported_until": SUPPORTED_UNTIL.isoformat()},
        )


def start_instant(start: datetime, time_zone: str) -> datetime:
    """The UTC instant of a meeting's start.

    ``start`` is either a naive wall time, read in ``time_zone``, or an aware instant (its
    own offset wins). Sub-second parts are dropped: the store keeps milliseconds, and a
    meeting's start is what people see on a clock. Raises :class:`RuleViolation`
    ``nonexistent_local_time`` for a wall time inside a DST gap and ``date_out_of_range``
    for a start outside the supported range (checked before any arithmetic, which could
    overflow near year 9999, and again on the instant).
    """
    start = start.replace(microsecond=0)
    ensure_supported("start", start)
    if start.tzinfo is not None and start.utcoffset() is not None:
        return start.astimezone(timezone.utc)
    tz = zone(time_zone)
    wall_time = start.replace(tzinfo=None)
    if is_nonexistent(wall_time, tz):
        raise RuleViolation(
            "nonexistent_local_time",
            f"{wall_time.isoformat()} does not exist in {time_zone} (clocks skip it).",
            {"start": wall_time.isoformat(), "time_zone": time_zone},
        )
    # fold=0 is the first of two occurrences when clocks go back.
    instant = wall_time.replace(tzinfo=tz, fold=0).astimezone(timezone.utc)
    ensure_supported("start", instant)  # a wall time at the edge, in a zone ahead of UTC
    return instant


def end_instant(start: datetime, duration_minutes: int) -> datetime:
    """The end of a meeting: start plus its duration (an instant, so DST cannot bend it).
    Raises :class:`RuleViolation` ``date_out_of_range`` past the supported range."""
    end = start + timedelta(minutes=duration_minutes)
    ensure_supported("end", end)
    return end


def ensure_not_past(start: datetime, now: datetime) -> None:
    """Refuse a start before ``now`` (``start_in_past``)."""
    if start < now:
        raise RuleViolation(
            "start_in_past",
            "The meeting would start in the past.",
            {"start": start.isoformat(), "now": now.isoformat()},
        )


def local_time(instant: datetime, time_zone: str) -> datetime:
    """``instant`` on the clocks of ``time_zone`` (aware, with that zone's offset)."""
    return instant.astimezone(zone(time_zone))
