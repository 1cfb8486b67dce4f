"""The version rule every aggregate and projection of records follows.

A record's version starts at :data:`FIRST_VERSION` and grows by one on every change; its
events carry the version after the change, so a consumer keeps the highest one per id. A
projection of another service's aggregate (a meeting on a timeline) applies an event only if
its version is newer than the one it holds: a duplicate or an older event changes nothing.
"""

from __future__ import annotations

FIRST_VERSION = 1
"""The version of a record when it is created (the catalogue's examples start at 1)."""


def next_version(current: int) -> int:
    """The version after one more change."""
    return current + 1


def is_newer(incoming: int, stored: int | None) -> bool:
    """True if an event at version ``incoming`` should replace what is stored at ``stored``.

    Nothing stored (None) means any version is new; an equal version is a duplicate.
    """
    return stored is None or incoming > stored
