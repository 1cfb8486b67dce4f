"""Opaque cursors for keyset paging, shared by every list endpoint.

A page ends at a position (the sort key of its last item, e.g. a start time and an id); the
cursor is that position as compact JSON in URL-safe base64 without padding. It is opaque to
clients and checked on the way back: anything that is not a position this API could have
given raises :class:`InvalidCursor`, which each service turns into its 4xx answer; that
includes text the store cannot hold (a forged cursor is client input like any other) and a
time outside the contract's range (:func:`cursor_time`). No I/O, so domain modules may use it.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from convene_schemas.base import is_supported_time
from convene_schemas.text import first_disallowed


class InvalidCursor(ValueError):
    """The cursor was not given by this API (or names another position's fields)."""


def encode_cursor(position: Mapping[str, Any]) -> str:
    """The cursor of ``position`` (JSON-serialisable values: strings, numbers, null)."""
    raw = json.dumps(dict(position), separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, fields: Sequence[str]) -> dict[str, Any]:
    """The position ``cursor`` stands for; it must hold exactly ``fields``."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, TypeError) as exc:
        raise InvalidCursor("The cursor is not one this API gave.") from exc
    if not isinstance(data, dict) or set(data) != set(fields) or first_disallowed(data):
        raise InvalidCursor("The cursor is not one this API gave.")
    return data


def cursor_time(value: Any) -> datetime:
    """A time a cursor holds (ISO 8601 with an offset, in the supported range), or
    :class:`InvalidCursor`."""
    try:
        parsed = datetime.fromisoformat(value)
    except (ValueError, TypeError) as exc:
        raise InvalidCursor("The cursor is not one this API gave.") from exc
    if parsed.utcoffset() is None or not is_supported_time(parsed):
        raise InvalidCursor("The cursor is not one this API gave.")
    return parsed
