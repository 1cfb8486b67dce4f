"""Listing an account's meetings a page at a time (e.g. a host's requests that await a
calendar, R35): the filter, the order (start, then id) and the opaque cursor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from convene_kit.paging import InvalidCursor, cursor_time, decode_cursor, encode_cursor

from convene_meetings.domain.errors import RuleViolation

MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class MeetingFilter:
    """Which meetings to list; None means "any"."""

    host_user_id: str | None = None
    awaiting_calendar: bool | None = None  # True: open requests (not canceled) only


@dataclass(frozen=True)
class Position:
    """Where a page ended: the last meeting's start and id (the sort key)."""

    start: datetime
    meeting_id: str


def cursor_after(position: Position) -> str:
    """The opaque ``next_cursor`` for a page ending at ``position``."""
    return encode_cursor({"s": position.start.isoformat(), "i": position.meeting_id})


def position_of(cursor: str) -> Position:
    """The position a cursor names, or 422 ``invalid_cursor``."""
    try:
        data = decode_cursor(cursor, ["s", "i"])
        start = cursor_time(data["s"])
        if not isinstance(data["i"], str):
            raise InvalidCursor("not a position")
        return Position(start=start, meeting_id=data["i"])
    except (InvalidCursor, ValueError, TypeError) as exc:
        raise RuleViolation("invalid_cursor", "The cursor is not one this API gave.") from exc
