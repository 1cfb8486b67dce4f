"""Searching contacts by email or by name, and other records by name, with cursor paging
(R3)."""

from __future__ import annotations

from dataclasses import dataclass

from convene_kit.http import ApiError

from convene_records.domain.emails import email_key
from convene_records.domain.crm import CrmKind, CrmRecord
from convene_records.domain.people import Contact
from convene_records.domain.search import (
    SearchPosition,
    decode_search_cursor,
    encode_search_cursor,
    name_key,
    prefix_upper_bound,
)
from convene_records.domain.timeline import InvalidCursor
from convene_records.service_layer.deps import RecordsDeps


@dataclass(frozen=True)
class ContactPage:
    """One page of found contacts and the cursor of the next (None on the last page)."""

    items: list[Contact]
    next_cursor: str | None


async def search_contacts(deps: RecordsDeps, account_id: str, *, email: str | None,
                          name: str | None, limit: int, cursor: str | None) -> ContactPage:
    """Contacts whose email is ``email`` (case-insensitive) or whose "first last" name
    starts with ``name`` (case-insensitive). 422 ``invalid_search`` unless exactly one is
    given and non-blank; 400 ``invalid_cursor``."""
    if (email is None) == (name is None):
        raise ApiError(422, "invalid_search", "Search by exactly one of email or name.")
    if email is not None:
        field, low, high = "email_key", email_key(email), None
    else:
        field, low = "name_key", name_key(name or "", "")
        high = prefix_upper_bound(low)
    if not low:
        raise ApiError(422, "invalid_search", "The search text is blank.")
    try:
        after = decode_search_cursor(cursor) if cursor else None
    except InvalidCursor as exc:
        raise ApiError(400, "invalid_cursor", str(exc)) from exc
    found = await deps.contacts.search(account_id, field=field, low=low, high=high,
                                       limit=limit + 1, after=after)
    page = found[:limit]
    next_cursor = None
    if len(found) > limit:
        key, last = page[-1]
        next_cursor = encode_search_cursor(SearchPosition(key=key, id=last.id))
    return ContactPage(items=[contact for _, contact in page], next_cursor=next_cursor)


@dataclass(frozen=True)
class RecordPage:
    """One page of found companies, deals, tickets or tasks, and the next cursor."""

    items: list[CrmRecord]
    next_cursor: str | None


async def search_records(deps: RecordsDeps, account_id: str, kind: CrmKind, *, name: str,
                         limit: int, cursor: str | None) -> RecordPage:
    """Records of ``kind`` whose name (a ticket's subject, a task's title) starts with
    ``name``, case-insensitively, ordered by name then id. 422 ``invalid_search`` for a
    blank name; 400 ``invalid_cursor``."""
    low = name_key(name, "")
    if not low:
        raise ApiError(422, "invalid_search", "The search text is blank.")
    try:
        after = decode_search_cursor(cursor) if cursor else None
    except InvalidCursor as exc:
        raise ApiError(400, "invalid_cursor", str(exc)) from exc
    found = await deps.crm[kind].search(account_id, low=low, high=prefix_upper_bound(low),
                                        limit=limit + 1, after=after)
    page = found[:limit]
    next_cursor = None
    if len(found) > limit:
        key, last = page[-1]
        next_cursor = encode_search_cursor(SearchPosition(key=key, id=last.id))
    return RecordPage(items=[record for _, record in page], next_cursor=next_cursor)
