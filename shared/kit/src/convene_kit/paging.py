"""Opaque cursors for keyset paging, shared by every list endpoint.

A page ends at a position (the sort key of its last item, e.g. a start time and an id); the
cursor is that position as compact JSON in URL-safe base64 without padding. It is opaque to
clients and checked on the way back: anything that is not a position this API could have
given raises :class:`InvalidCursor`, which each service turns into its 4xx answer. Pure
standard library, so domain modules may use it.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from typing import Any


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
    if not isinstance(data, dict) or set(data) != set(fields):
        raise InvalidCursor("The cursor is not one this API gave.")
    return data
