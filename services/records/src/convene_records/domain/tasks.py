"""Tasks by due time (R7): the query, its bounds and its cursor.

A task's due time is kept as a real UTC datetime beside its JSON properties, with a sort key
``due_order`` that puts tasks without a due time after every real one (:data:`NO_DUE`).
Listings are ordered by (due time, id); a due bound leaves tasks without one out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from convene_kit import paging
from convene_schemas.base import is_supported_time, out_of_range_reason

from convene_records.domain.crm import CrmRecord
from convene_records.domain.timeline import InvalidCursor

NO_DUE = datetime(9999, 12, 31, tzinfo=timezone.utc)
"""The sort key of a task without a due time: after every real one."""


class InvalidDueBound(ValueError):
    """A due bound that is not an ISO 8601 time with an offset, or an empty range."""


class DueBoundOutOfRange(InvalidDueBound):
    """A due bound outside the supported range (``date_out_of_range``)."""


@dataclass(frozen=True)
class DueQuery:
    """Which tasks to list: any combination of owner, due range ``[due_after, due_before)``
    and status."""

    owner_user_id: str | None = None
    due_after: datetime | None = None
    due_before: datetime | None = None
    status: str | None = None


@dataclass(frozen=True)
class DuePosition:
    """Where a page of tasks ended: the last task's due sort key and id."""

    due: datetime
    id: str


def task_due_at(record: CrmRecord) -> datetime | None:
    """The task's due time in UTC, or None if it has none."""
    value = record.properties.get("due_at")
    if not isinstance(value, str):
        return None
    return datetime.fromisoformat(value).astimezone(timezone.utc)


def parse_due_bound(name: str, value: str | None) -> datetime | None:
    """A due bound as given in a query (``2031-01-15T09:00:00Z``); :class:`InvalidDueBound`
    for anything but an ISO 8601 time with an offset, :class:`DueBoundOutOfRange` for one
    outside the supported range."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise InvalidDueBound(f"{name} is not an ISO 8601 date-time: {value!r}") from exc
    if parsed.tzinfo is None:
        raise InvalidDueBound(f"{name} needs an offset (e.g. Z or +02:00): {value!r}")
    if not is_supported_time(parsed):  # before any arithmetic, which overflows near 9999
        raise DueBoundOutOfRange(f"{name}: {out_of_range_reason(parsed)}.")
    return parsed.astimezone(timezone.utc)


def due_query(owner_user_id: str | None, due_after: str | None, due_before: str | None,
              status: str | None) -> DueQuery:
    """The query the parameters describe; :class:`InvalidDueBound` for a malformed bound
    or ``due_after`` not before ``due_before``."""
    after = parse_due_bound("due_after", due_after)
    before = parse_due_bound("due_before", due_before)
    if after is not None and before is not None and after >= before:
        raise InvalidDueBound("due_after must be before due_before.")
    return DueQuery(owner_user_id=owner_user_id, due_after=after, due_before=before,
                    status=status)


def encode_due_cursor(position: DuePosition) -> str:
    """An opaque cursor for the page after ``position``."""
    return paging.encode_cursor(
        {"d": position.due.astimezone(timezone.utc).isoformat(), "i": position.id})


def decode_due_cursor(cursor: str) -> DuePosition:
    """The position a cursor stands for; :class:`InvalidCursor` for anything else."""
    data = paging.decode_cursor(cursor, ["d", "i"])
    due, task_id = paging.cursor_time(data["d"]), data["i"]
    if not isinstance(task_id, str) or not task_id:
        raise InvalidCursor("The cursor is not valid.")
    return DuePosition(due=due, id=task_id)
