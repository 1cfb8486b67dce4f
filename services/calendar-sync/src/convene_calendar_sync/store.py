"""calendar-sync's MongoDB repository and the indexes created at start-up."""

from convene_kit.store import IndexSpec

INDEXES: list[IndexSpec] = []
