"""Finding contacts by email or by name (R3), a page at a time.

Both searches are case-insensitive and run on stored keys: ``email_key`` (the address
lower-cased) matched exactly, ``name_key`` ("first last", lower-cased, single-spaced)
matched by prefix. Pages are ordered by (key, id); the cursor is the last (key, id) shown.
"""

from __future__ import annotations

from dataclasses import dataclass

from convene_kit import paging
from convene_kit.paging import InvalidCursor

from convene_records.domain.emails import email_key


def name_key(first_name: str, last_name: str) -> str:
    """The form names are searched by: "first last", lower-cased, single-spaced."""
    return " ".join(f"{first_name} {last_name}".lower().split())


def contact_email_key(email: str | None) -> str | None:
    """The searchable form of a contact's email property (None when it has none)."""
    return email_key(email) if email else None


def prefix_upper_bound(prefix: str) -> str:
    """The smallest string greater than every string starting with ``prefix``."""
    return prefix + "\U0010ffff"


@dataclass(frozen=True)
class SearchPosition:
    """Where a search page ended: the last entry's key and id."""

    key: str
    id: str


def encode_search_cursor(position: SearchPosition) -> str:
    """An opaque cursor for the page after ``position``."""
    return paging.encode_cursor({"k": position.key, "i": position.id})


def decode_search_cursor(cursor: str) -> SearchPosition:
    """The position a cursor stands for; :class:`InvalidCursor` for anything else."""
    data = paging.decode_cursor(cursor, ["k", "i"])
    key, record_id = data["k"], data["i"]
    if not isinstance(key, str) or not isinstance(record_id, str) or not record_id:
        raise InvalidCursor("The cursor is not valid.")
    return SearchPosition(key=key, id=record_id)
