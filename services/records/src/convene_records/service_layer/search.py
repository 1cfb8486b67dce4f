"""Finding and listing contacts, companies, deals, tickets and tasks a page at a time (R3,
R7).

Without a search term a kind is *listed*: its live records ordered by name key ("first
last" for contacts; name, subject or title otherwise), then id, on the same index as the
name search. Tasks can also be listed by owner, due range and status, ordered by due time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from convene_kit.http import ApiError
from convene_schemas.base import DATE_OUT_OF_RANGE

from convene_records.domain.crm import CrmKind, CrmRecord
from convene_records.domain.emails import email_key
from convene_records.domain.people import Contact
from convene_records.domain.search import (
    SearchPosition,
    decode_search_cursor,
    encode_search_cursor,
    name_key,
    prefix_upper_bound,
)
from convene_records.domain.tasks import (
    DueBoundOutOfRange,
    DuePosition,
    InvalidDueBound,
    decode_due_cursor,
    due_query,
    encode_due_cursor,
)
from convene_records.domain.timeline import InvalidCursor
from convene_records.service_layer.deps import RecordsDeps

T = TypeVar("T", Contact, CrmRecord)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of records and the cursor of the next one (None on the last page)."""

    items: list[T]
    next_cursor: str | None


ContactPage = Page[Contact]
RecordPage = Page[CrmRecord]


def _position(cursor: str | None) -> SearchPosition | None:
    try:
        return decode_search_cursor(cursor) if cursor else None
    except InvalidCursor as exc:
        raise ApiError(400, "invalid_cursor", str(exc)) from exc


def _page(found: list[tuple[str, T]], limit: int) -> Page[T]:
    """The first ``limit`` of ``limit + 1`` found (key, record) pairs, and the next cursor."""
    page = found[:limit]
    next_cursor = None
    if len(found) > limit:
        key, last = page[-1]
        next_cursor = encode_search_cursor(SearchPosition(key=key, id=last.id))
    return Page(items=[record for _, record in page], next_cursor=next_cursor)


async def search_contacts(deps: RecordsDeps, account_id: str, *, email: str | None,
                          name: str | None, limit: int, cursor: str | None) -> ContactPage:
    """Contacts whose email is ``email`` (case-insensitive), whose "first last" name starts
    with ``name`` (case-insensitive), or, with neither, every live contact by name then id.
    422 ``invalid_search`` for both or a blank one; 400 ``invalid_cursor``."""
    if email is not None and name is not None:
        raise ApiError(422, "invalid_search", "Search by email or by name, not both.")
    if email is not None:
        field, low, high, exact = "email_key", email_key(email), None, True
    elif name is not None:
        field, low, exact = "name_key", name_key(name, ""), False
        high = prefix_upper_bound(low)
    else:
        field, low, high, exact = "name_key", "", None, False
    if not low and (email is not None or name is not None):
        raise ApiError(422, "invalid_search", "The search text is blank.")
    found = await deps.contacts.search(account_id, field=field, low=low, high=high,
                                       limit=limit + 1, after=_position(cursor), exact=exact)
    return _page(found, limit)


async def search_records(deps: RecordsDeps, account_id: str, kind: CrmKind, *,
                         name: str | None, limit: int, cursor: str | None) -> RecordPage:
    """Records of ``kind`` whose name (a ticket's subject, a task's title) starts with
    ``name``, case-insensitively, or with no ``name`` every live one; by name then id.
    422 ``invalid_search`` for a blank name; 400 ``invalid_cursor``."""
    low = name_key(name or "", "")
    if name is not None and not low:
        raise ApiError(422, "invalid_search", "The search text is blank.")
    found = await deps.crm[kind].search(account_id, low=low,
                                        high=prefix_upper_bound(low) if low else None,
                                        limit=limit + 1, after=_position(cursor))
    return _page(found, limit)


async def tasks_due(deps: RecordsDeps, account_id: str, *, owner_user_id: str | None,
                    due_after: str | None, due_before: str | None, status: str | None,
                    limit: int, cursor: str | None) -> RecordPage:
    """Live tasks of an owner, due in ``[due_after, due_before)``, of a status (any
    combination), ordered by due time then id; a due bound leaves tasks without a due time
    out, otherwise they come last. 422 ``invalid_due_bound`` / ``date_out_of_range``; 400
    ``invalid_cursor``."""
    try:
        query = due_query(owner_user_id, due_after, due_before, status)
    except DueBoundOutOfRange as exc:
        raise ApiError(422, DATE_OUT_OF_RANGE, str(exc)) from exc
    except InvalidDueBound as exc:
        raise ApiError(422, "invalid_due_bound", str(exc)) from exc
    try:
        after = decode_due_cursor(cursor) if cursor else None
    except InvalidCursor as exc:
        raise ApiError(400, "invalid_cursor", str(exc)) from exc
    found = await deps.crm["task"].tasks_due(account_id, query, limit=limit + 1, after=after)
    page = found[:limit]
    next_cursor = None
    if len(found) > limit:
        due, last = page[-1]
        next_cursor = encode_due_cursor(DuePosition(due=due, id=last.id))
    return RecordPage(items=[task for _, task in page], next_cursor=next_cursor)


async def find_tasks(deps: RecordsDeps, account_id: str, *, name: str | None,
                     owner_user_id: str | None, due_after: str | None, due_before: str | None,
                     status: str | None, limit: int, cursor: str | None) -> RecordPage:
    """Tasks by title (``name``, or every live one) when no owner, due bound or status is
    given, else by those (:func:`tasks_due`). 422 ``invalid_search`` for both kinds."""
    if all(v is None for v in (owner_user_id, due_after, due_before, status)):
        return await search_records(deps, account_id, "task", name=name, limit=limit,
                                    cursor=cursor)
    if name is not None:
        raise ApiError(422, "invalid_search",
                       "Search tasks by title, or by owner, due time and status.")
    return await tasks_due(deps, account_id, owner_user_id=owner_user_id, due_after=due_after,
                           due_before=due_before, status=status, limit=limit, cursor=cursor)
