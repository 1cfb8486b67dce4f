"""Turning what the user typed (a wall-clock time in a zone) into an instant, and back.

One time-zone source everywhere: the IANA database through :mod:`zoneinfo`, pinned by the
``tzdata`` package. Around daylight-saving changes a wall time can be missing (spring
forward: 02:30 on the night clocks jump from 02:00 to 03:00) or happen twice (fall back).
A missing time is refused, never silently moved; a repeated time means its first occurrence
(the one still on the earlier, summer offset), as calendar clients do.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from convene_meetings.domain.errors import RuleViolation


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name`` (callers validate the name first)."""
    return ZoneInfo(name)


def is_nonexistent(wall_time: datetime, tz: ZoneInfo) -> bool:
    """True if the naive ``wall_time`` never shows on clocks in ``tz`` (a DST gap)."""
    local = wall_time.replace(tzinfo=tz)
    round_trip = local.astimezone(timezone.utc).astimezone(tz).replace(tzinfo=None)
    return round_trip != wall_time


def start_instant(start: datetime, time_zone: str) -> datetime:
    """The UTC instant of a meeting's start.

    ``start`` is either a naive wall time, read in ``time_zone``, or an aware instant (its
    own offset wins). Sub-second parts are dropped: the store keeps milliseconds, and a
    meeting's start is what people see on a clock. Raises :class:`RuleViolation`
    ``nonexistent_local_time`` for a wall time inside a DST gap.
    """
    start = start.replace(microsecond=0)
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
    return wall_time.replace(tzinfo=tz, fold=0).astimezone(timezone.utc)


def end_instant(start: datetime, duration_minutes: int) -> datetime:
    """The end of a meeting: start plus its duration (an instant, so DST cannot bend it)."""
    return start + timedelta(minutes=duration_minutes)


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
